"""SALT LTS004: accommodation and employment of working-age clients with a learning disability (§10)."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from ascld.measures.salt import long_term, reference, tidy
from ascld.measures.salt.common import (
    SaltContext,
    age_at,
    alive_on,
    assign_person_id,
    birth_known,
    eq_ci,
    fold,
    fold_literal,
    in_ci,
    map_ci,
    prefixed,
    proxy_dob,
    sql_trim,
)

MEASURE = "SALT LTS004"


def cohort(ctx: SaltContext) -> ir.Table:
    """Step 1: long-term services of service users with a learning disability PSR, aged 18-64 at PE; ID."""
    p = ctx.period
    t = long_term.latest_submission(ctx)
    t = t.filter(
        eq_ci(t.Event_Type, reference.value("service")),
        in_ci(t.Service_Type, reference.values("long_term_service_types")),
        eq_ci(t.Client_Type, reference.value("service_user")),
        eq_ci(t.Primary_Support_Reason, reference.value("learning_disability")),
        t.Event_Start_Date <= ibis.date(p.end),
        (t.Event_End_Date >= ibis.date(p.start)) | t.Event_End_Date.isnull(),
        alive_on(t, p.start),
        birth_known(t),
    )
    t = t.mutate(Der_Age_EndDate=age_at(proxy_dob(t), p.end))
    low, high = reference.parameter_int("age_band_min"), reference.parameter_int("age_band_max")
    t = t.filter(t.Der_Age_EndDate.between(low, high))
    return ctx.stage(assign_person_id(t))


def _groups(list_name: str) -> dict[str, int]:
    return {
        r["value"]: int(r["group"]) for r in reference.read_table("lts004_groups") if r["list"] == list_name
    }


def status_table(
    ctx: SaltContext, t: ir.Table, *, column: str, list_name: str, unknown: str
) -> tuple[ir.Table, ir.Table]:
    """Steps 2.1-2.3 for one status column: the final (LA, Gender, Status, ID) table and invalid/NULL rows.

    A row is valid when its trimmed status is in the list (case-insensitively); the status is then written in
    the list's spelling. Per person (across councils) rows on the latest start date; per (LA, ID, date) the
    highest known flag; more than one status left for (LA, ID, gender, date) -> `Unknown`, unless the gender is
    NULL (the code's join on gender then fails and every status is kept).
    """
    groups = _groups(list_name)
    spelled = map_ci(sql_trim(t[column]), {v: v for v in groups})
    known = ibis.cases((eq_ci(t[column], unknown) | t[column].isnull(), 0), else_=1)
    rows = t.mutate(Status=spelled, __known=known)
    valid = rows.filter(rows.Status.notnull())
    invalid = rows.filter(rows.Status.isnull())

    valid = valid.mutate(__latest=valid.Event_Start_Date.max().over(group_by="ID"))
    latest = valid.filter(valid.Event_Start_Date == valid["__latest"])
    latest = latest.mutate(
        __max_known=latest["__known"].max().over(group_by=["LA_Code", "ID", "Event_Start_Date"])
    )
    staging = (
        latest.filter(latest["__known"] == latest["__max_known"])
        .select("LA_Code", "Gender", "Status", "ID", "Event_Start_Date", "__max_known")
        .distinct()
    )
    staging = staging.mutate(
        __n=staging.ID.count().over(group_by=["LA_Code", "ID", "Gender", "Event_Start_Date", "__max_known"])
    )
    # The code overwrites a conflict by joining the staging table to its duplicates on (LA, ID, Gender, date,
    # known flag): a NULL gender never matches in that join (main-tables.md §0), so such a person keeps every
    # status.
    conflict = (staging["__n"] > 1) & staging.Gender.notnull()
    final = staging.select(
        "LA_Code",
        "Gender",
        Status=ibis.cases((conflict, reference.value("lts004_conflict")), else_=staging.Status),
        ID=staging.ID,
    ).distinct()
    return ctx.stage(final), ctx.stage(invalid)


def invalid_cells(invalid: ir.Table, final: ir.Table, *, breakdown: str) -> ir.Table:
    """People with only invalid/NULL statuses (their ID is in no council's final table), by LA and gender."""
    ids = prefixed(final, ["ID"], "__f_")
    left = invalid.anti_join(ids, ids["__f_ID"] == invalid.ID)
    left = left.mutate(Status=ibis.literal(reference.value("lts004_invalid_or_null")))
    return tidy.cells(left, measure=MEASURE, breakdown=breakdown, dims=["Gender", "Status"], distinct="ID")


def build(ctx: SaltContext) -> ir.Table:
    """Table 1 (employment), Tables 2a/2b (settled / unsettled accommodation) by gender, with invalid/NULL."""
    t = cohort(ctx)
    employment, employment_invalid = status_table(
        ctx,
        t,
        column="Employment_Status",
        list_name="employment_status",
        unknown=reference.value("employment_unknown"),
    )
    accommodation, accommodation_invalid = status_table(
        ctx,
        t,
        column="Accommodation_Status",
        list_name="accommodation_status",
        unknown=reference.value("accommodation_unknown"),
    )
    groups = _groups("accommodation_status")
    settled = [fold_literal(v) for v, g in groups.items() if g == 1]
    unsettled = [fold_literal(v) for v, g in groups.items() if g == 0]
    parts = [
        tidy.cells(
            employment,
            measure=MEASURE,
            breakdown="Gender | Employment status",
            dims=["Gender", "Status"],
            distinct="ID",
        ),
        invalid_cells(employment_invalid, employment, breakdown="Gender | Employment status"),
        tidy.cells(
            accommodation.filter(fold(accommodation.Status).isin(settled)),
            measure=MEASURE,
            breakdown="Gender | Settled accommodation status",
            dims=["Gender", "Status"],
            distinct="ID",
        ),
        tidy.cells(
            accommodation.filter(fold(accommodation.Status).isin(unsettled)),
            measure=MEASURE,
            breakdown="Gender | Unsettled accommodation status",
            dims=["Gender", "Status"],
            distinct="ID",
        ),
        invalid_cells(accommodation_invalid, accommodation, breakdown="Gender | Accommodation status"),
    ]
    council = tidy.union(parts)
    return tidy.union([council, tidy.national_sum(council)])
