"""Turn SALT final tables into the shared tidy measure layout (`ascld.measures.output.MEASURE_COLUMNS`).

SALT tables are counts cross-classified by several dimensions. One row of the layout is one cell:
`breakdown` names the dimensions joined by `" | "` (e.g. `Primary support reason | Service type |
Delivery mechanism`), `group` gives their values in the same order (a NULL value is written
`(null)`; the blank delivery mechanism stays an empty string). Tables also have total rows. Council
rows carry `la_code`; national rows have `la_code` NULL and `la_name` `England` and are the sum of
the council rows, except where the method counts distinct people across councils (LTS003).
"""

from __future__ import annotations

from collections.abc import Sequence

import ibis
import ibis.expr.types as ir

from ascld.measures.output import MEASURE_COLUMNS
from ascld.measures.salt import reference
from ascld.measures.salt.common import SaltContext

SEPARATOR = " | "
NULL_LABEL = "(null)"
TOTAL = "Total"
NATIONAL_NAME = "England"

LONG_SCHEMA = ibis.schema(
    {
        "measure": "string",
        "la_code": "string",
        "breakdown": "string",
        "group": "string",
        "numerator": "int64",
        "denominator": "int64",
    }
)


def _label(value: ir.Value) -> ir.StringValue:
    return value.cast("string").fill_null(NULL_LABEL)


def cells(
    rows: ir.Table,
    *,
    measure: str,
    breakdown: str,
    dims: Sequence[str] = (),
    distinct: str | None = None,
    national: bool = False,
) -> ir.Table:
    """Count `rows` per council (or nationally) and per combination of `dims`.

    Args:
        rows: a final table with `LA_Code` and the `dims` columns.
        measure: measure id.
        breakdown: the breakdown label (`Total` when `dims` is empty).
        dims: columns whose values form the group, in order.
        distinct: count distinct values of this expression column instead of rows (`count(distinct ID)`).
        national: count across councils (la_code NULL) instead of per council.

    Returns:
        A table in `LONG_SCHEMA` (denominator NULL).
    """
    if dims:
        labels = [_label(rows[d]) for d in dims]
        group = labels[0]
        for label in labels[1:]:
            group = group + SEPARATOR + label
    else:
        group = ibis.literal(TOTAL)
    # A council row must never look national: a NULL council code (mandatory in CLD) is written `(null)`.
    council = rows.LA_Code.cast("string").fill_null(NULL_LABEL)
    keyed = rows.mutate(__group=group, __la=ibis.null("string") if national else council)
    numerator = keyed[distinct].nunique() if distinct else keyed.count()
    counted = keyed.group_by(["__la", "__group"]).aggregate(numerator=numerator.cast("int64"))
    return counted.select(
        measure=ibis.literal(measure),
        la_code=counted["__la"],
        breakdown=ibis.literal(breakdown),
        group=counted["__group"],
        numerator=counted.numerator,
        denominator=ibis.null("int64"),
    )


def national_sum(council: ir.Table) -> ir.Table:
    """National rows as the sum of council rows (SALT national figures add up council returns)."""
    summed = council.group_by(["measure", "breakdown", "group"]).aggregate(
        numerator=council.numerator.sum().cast("int64"), denominator=council.denominator.sum().cast("int64")
    )
    return summed.select(
        "measure",
        la_code=ibis.null("string"),
        breakdown=summed.breakdown,
        group=summed.group,
        numerator=summed.numerator,
        denominator=summed.denominator,
    )


def union(tables: Sequence[ir.Table]) -> ir.Table:
    typed = [t.select(*[t[c].cast(LONG_SCHEMA[c]) for c in LONG_SCHEMA.names]) for t in tables]
    return ibis.union(*typed) if len(typed) > 1 else typed[0]


def finish(long: ir.Table, ctx: SaltContext, la_names: ir.Table) -> ir.Table:
    """Add the descriptive columns and order the columns as `MEASURE_COLUMNS`.

    `value` is the count itself for count rows, and for a numerator/denominator row 100 x num / den rounded to
    one decimal place half away from zero, computed in whole numbers (`(2000 num + den) // (2 den)` tenths) so
    no engine's floating point or decimal division can move a .x5 tie. `disclosure_flag` is empty until
    `ascld.release.apply_disclosure_control` runs.
    """
    period = ctx.period
    names = la_names.select(__code="LA_Code", __name="la_name")
    joined = long.left_join(names, long.la_code == names["__code"])
    snapshot = joined.measure.isin(
        [row["measure"] for row in reference.read_table("measures") if row["period"] == "snapshot"]
    )
    tenths = (joined.numerator * 2000 + joined.denominator) // (joined.denominator * 2)
    value = ibis.cases(
        (joined.denominator.isnull(), joined.numerator.cast("float64")),
        (joined.denominator > 0, tenths.cast("float64") / 10.0),
        else_=ibis.null("float64"),
    )
    descriptions = {row["measure"]: row["description"] for row in reference.read_table("measures")}
    out = joined.select(
        measure=joined.measure,
        description=joined.measure.substitute(descriptions, else_=ibis.null("string")),
        reporting_period=ibis.ifelse(snapshot, period.snapshot_label, period.label),
        period_start=ibis.ifelse(snapshot, ibis.date(period.end), ibis.date(period.start)),
        period_end=ibis.date(period.end),
        la_code=joined.la_code,
        la_name=ibis.ifelse(joined.la_code.isnull(), NATIONAL_NAME, joined["__name"]),
        breakdown=joined.breakdown,
        group=joined.group,
        numerator=joined.numerator,
        denominator=joined.denominator,
        value=value,
        disclosure_flag=ibis.literal(""),
    )
    return out.select(*MEASURE_COLUMNS)


def la_names(raw: ir.Table) -> ir.Table:
    """One name per council code (the greatest submitted `LA_Name`)."""
    named = raw.filter(raw.LA_Code.notnull())
    return named.group_by(LA_Code=named.LA_Code.cast("string")).aggregate(la_name=named.LA_Name.max())
