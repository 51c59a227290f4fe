"""Shared steps of LTS001a, LTS001b and LTS001c (salt.md §5-§7): one setting and one category per person."""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from ascld.measures.salt import reference, tidy
from ascld.measures.salt.common import (
    SaltContext,
    age_at,
    birth_known,
    eq_ci,
    fold,
    fold_literal,
    in_ci,
    latest_single_submission,
    map_ci,
    proxy_dob,
    sql_trim,
)

BLANK = ""


def long_term_rows(ctx: SaltContext) -> ir.Table:
    """Long-term services of service users with a known birth month and year, from the latest submission."""
    t = latest_submission(ctx)
    t = t.filter(
        in_ci(t.Service_Type, reference.values("long_term_service_types")),
        eq_ci(t.Client_Type, reference.value("service_user")),
        t.Event_Start_Date <= ibis.date(ctx.period.end),
        birth_known(t),
    )
    return t.mutate(Der_Age_EndDate=age_at(proxy_dob(t), ctx.period.end))


def latest_submission(ctx: SaltContext) -> ir.Table:
    """The latest single submission rows (salt.md §1.5), staged once for every snapshot/in-year table."""
    return ctx.memo("latest_submission", lambda: ctx.stage(latest_single_submission(ctx.raw, ctx.period)))


def known_flag(col: ir.StringValue, unknown: str) -> ir.IntegerValue:
    """0 if the value is `unknown` or NULL, else 1 (used to prefer known values)."""
    return ibis.cases((eq_ci(col, unknown) | col.isnull(), 0), else_=1)


def _trim_key(col: ir.StringValue) -> ir.StringValue:
    # `trim(a) = trim(b)` under a case-insensitive collation.
    return fold(sql_trim(col))


def setting_and_hierarchy(t: ir.Table) -> ir.Table:
    """Blank the delivery mechanism unless (service type, mechanism) is in the setting table (trimmed) and the
    service is community or prison; then attach the setting hierarchy (salt.md §5 step 2).

    A kept mechanism is written in the setting table's spelling.
    """
    table = reference.read_table("setting_hierarchy")
    pairs = {
        (fold_literal(r["service_type"].strip(" ")), fold_literal(r["delivery_mechanism"].strip(" "))): r
        for r in table
    }
    type_key, mech_key = _trim_key(t.Service_Type), _trim_key(t.Delivery_Mechanism)
    kept_mech = ibis.cases(
        *(
            ((type_key == st) & (mech_key == dm), ibis.literal(r["delivery_mechanism"]))
            for (st, dm), r in pairs.items()
            if dm
        ),
        else_=ibis.null("string"),
    )
    mechanism = ibis.cases(
        (kept_mech.notnull() & in_ci(t.Service_Type, reference.values("community_prison")), kept_mech),
        else_=ibis.literal(BLANK),
    )
    blanked = t.mutate(Delivery_Mechanism=mechanism)
    type_key, mech_key = _trim_key(blanked.Service_Type), _trim_key(blanked.Delivery_Mechanism)
    hierarchy = ibis.cases(
        *(((type_key == st) & (mech_key == dm), int(r["hierarchy"])) for (st, dm), r in pairs.items()),
        else_=ibis.null("int64"),
    )
    return blanked.mutate(Hierarchy=hierarchy.cast("int64"))


def one_per_person(
    rows: ir.Table,
    *,
    category: str,
    known: str,
    valid: Sequence[str] | None,
    conflict: str,
) -> ir.Table:
    """The LTS001 de-duplication (salt.md §5 step 3), per (LA, ID):

    1. rows with the lowest setting hierarchy; 2. of those, the highest known flag; 3. of those, the latest
    start date; 4. the category checked against `valid` (else `Invalid/NULL`; `valid=None` keeps the raw
    value); 5. more than one category left for (LA, ID, service type, mechanism) -> `conflict`.

    Returns:
        Distinct (LA_Code, Category, Service_Type, Delivery_Mechanism, ID).
    """
    person = ["LA_Code", "ID"]
    r = rows.mutate(__min=rows.Hierarchy.min().over(group_by=person))
    r = r.filter(r.Hierarchy == r["__min"])
    r = r.mutate(__max_known=r[known].max().over(group_by=person))
    r = r.filter(r[known] == r["__max_known"])
    r = r.mutate(__max_date=r.Event_Start_Date.max().over(group_by=person))
    r = r.filter(r.Event_Start_Date == r["__max_date"])
    if valid is None:
        checked = r[category]
    else:
        checked = map_ci(r[category], {v: v for v in valid}, else_=reference.value("invalid_or_null"))
    staging = r.select("LA_Code", "Service_Type", "Delivery_Mechanism", Category=checked, ID=r.ID).distinct()
    setting = ["LA_Code", "Service_Type", "Delivery_Mechanism", "ID"]
    staging = staging.mutate(__n=staging.ID.count().over(group_by=setting))
    final = staging.select(
        "LA_Code",
        Category=ibis.cases((staging["__n"] > 1, ibis.literal(conflict)), else_=staging.Category),
        Service_Type=staging.Service_Type,
        Delivery_Mechanism=staging.Delivery_Mechanism,
        ID=staging.ID,
    )
    return final.distinct()


def age_tables(
    ctx: SaltContext,
    cohort: ir.Table,
    *,
    measure: str,
    category: str,
    valid: Sequence[str] | None,
    conflict: str,
    label: str,
) -> list[ir.Table]:
    """Tables 1a (18-64) and 1b (65+) by category, service type and mechanism, plus their totals."""
    low, high = reference.parameter_int("age_band_min"), reference.parameter_int("age_band_max")
    out = []
    for band, rows in (
        (f"{low}-{high}", cohort.filter(cohort.Der_Age_EndDate.between(low, high))),
        (f"{high + 1}+", cohort.filter(cohort.Der_Age_EndDate > high)),
    ):
        final = ctx.stage(
            one_per_person(rows, category=category, known="__known", valid=valid, conflict=conflict)
        )
        final = final.mutate(Age_Band=ibis.literal(band))
        out.append(tidy.cells(final, measure=measure, breakdown="Age band", dims=["Age_Band"], distinct="ID"))
        out.append(
            tidy.cells(
                final,
                measure=measure,
                breakdown=f"Age band | {label} | Service type | Delivery mechanism",
                dims=["Age_Band", "Category", "Service_Type", "Delivery_Mechanism"],
                distinct="ID",
            )
        )
    return out
