"""Step E: one record per unique event (`GetUniqueEvents`, main-tables.md §6)."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from ascld.methodology import MainTablesMethod
from ascld.national.main_tables.filter import is_service
from ascld.national.main_tables.sql import ci, null_of

COST_TYPE = "decimal(18, 2)"


def rounded_2dp(value: ir.NumericValue, places: int = 2) -> ir.DecimalValue:
    """CONVERT(NUMERIC(18,2), x): the submitted value rounded once, half away from zero (main-tables.md §6).

    A double is rounded as its shortest decimal text (the value the council submitted, which the store holds
    as the nearest double): text to DECIMAL rounds half away from zero on DuckDB and Spark, so 150.005
    (stored as 150.00499...) gives 150.01 and 10.0049999 gives 10.00 (a DECIMAL(38,6) step first would round
    it twice, to 10.01).

    A value NUMERIC(18,2) cannot hold (10^16 or more either side of zero, which SQL Server's conversion fails
    on, failing the whole build) is NULL, as an unreadable cost is: one council's mistyped cost must not stop
    every council's table (ascld's choice; the summary counts such rows, `cost_overflow`).
    """
    target = f"decimal(18, {places})"
    source = value.round(places) if value.type().is_decimal() else value.cast("string")
    converted = source.cast(target)
    return ibis.cases((fits_cost(value, places), converted), else_=ibis.null(target))


def fits_cost(value: ir.NumericValue, places: int = 2) -> ir.BooleanValue:
    """NUMERIC(18, places) can hold the value rounded to `places` decimals (NULL when the value is NULL)."""
    limit = 10 ** (18 - places)
    if value.type().is_decimal():
        return value.round(places).abs() < limit
    return value.abs() < float(limit)


def _partition(t: ir.Table, mode: str, method: MainTablesMethod) -> list[ir.Value]:
    service = is_service(t, method)
    places = method.param("dedup.cost_decimal_places")
    keys: list[ir.Value] = []
    for pk in method.partition_keys(mode):
        col = t[pk.column]
        if pk.key == "text":
            key: ir.Value = ci(col)
        elif pk.key == "text_blank":
            key = ci(col.fill_null(""))  # ISNULL(x, ''): NULL and '' are one key
        else:
            key = rounded_2dp(col, places)
        if pk.services_only:
            key = ibis.cases((service, key), else_=null_of(key))
        keys.append(key)
    return keys


def _order_values(t: ir.Table, mode: str, method: MainTablesMethod) -> list[ir.Value]:
    """Sort-key values of §6.1 with NULL replacements; directions (and SQL Server's NULL order: first
    ascending, last descending) are applied by the caller."""
    values = []
    for sk in method.sort_keys(mode):
        col = t[sk.column]
        if sk.null_as:
            col = col.fill_null(ibis.literal(method.param(sk.null_as), type=col.type()))
        values.append(col)
    return values


def deduplicate(t: ir.Table, mode: str, method: MainTablesMethod) -> ir.Table:
    """Keep the first row of each unique event by the national sort order, and the output columns (§6).

    Args:
        t: the derived rows (after cropping and ages).
        mode: "single" (services also split by delivery mechanism and costs; costs kept) or "joined".
        method: the main-tables reference tables.

    Returns:
        The main table with the columns of §6.3 for the mode, in order.
    """
    places = method.param("dedup.cost_decimal_places")
    # The window runs on a narrow projection and the kept record IDs are joined back (Der_Unique_Record_ID is
    # unique by the store contract): sorting full-width rows is several times slower.
    partition = {f"_p{n}": key for n, key in enumerate(_partition(t, mode, method))}
    order = {f"_o{n}": key for n, key in enumerate(_order_values(t, mode, method))}
    narrow = t.select(_rid=t.Der_Unique_Record_ID, **partition, **order)
    directions = [k.direction for k in method.sort_keys(mode)]
    sort = [
        ibis.desc(narrow[n], nulls_first=False) if d == "desc" else ibis.asc(narrow[n], nulls_first=True)
        for n, d in zip(order, directions, strict=True)
    ]
    ranked = narrow.select(
        "_rid", _rn=ibis.row_number().over(group_by=[narrow[p] for p in partition], order_by=sort)
    )
    first = ranked.filter(ranked._rn == 0).select("_rid")
    kept = t.join(first, t.Der_Unique_Record_ID == first._rid)
    kept = kept.mutate(
        Unit_Cost=rounded_2dp(kept.Unit_Cost, places),
        Planned_Units_Per_Week=rounded_2dp(kept.Planned_units_per_week, places),
    )
    return kept.select(*method.output_columns[mode])
