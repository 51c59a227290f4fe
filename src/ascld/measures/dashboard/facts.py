"""The dashboard's master table and fact tables (dashboard.md §1-§4), as Ibis expressions.

All read the **single-submissions** main table of the latest rolling 12 months (main-tables.md §6.5). String
comparisons follow SQL Server's case-insensitive collation (main-tables.md §0): `ci_eq`, `ci_in` and
`ci_like` from the ASCOF framework, so `Service_Type_Grouped = 'Long Term Support'` matches `Long term
support` and a NULL never matches.

These tables are person level (pseudonymised `Der_NHS_LA_Combined_Person_ID`): internal outputs, never
released as they are (docs/measures-dashboard.md).
"""

from __future__ import annotations

import datetime as dt

import ibis
import ibis.expr.types as ir

from ascld.measures.ascof.common import add_months, canonical, ci_eq, ci_like, days_between, fold
from ascld.measures.dashboard import reference as ref
from ascld.measures.dashboard.collation import group_by_collation
from ascld.spec import load_spec

PERSON = "Der_NHS_LA_Combined_Person_ID"
EVENT_REF = "Der_Unique_Event_Ref"
#: fact table name -> the Event_Type of its rows (dashboard.md §3)
EVENT_FACTS = {"requests": "Request", "assessments": "Assessment", "reviews": "Review"}


def _column(table: ir.Table, name: str) -> ir.Column:
    """A column by name, matched case-insensitively (SQL Server identifiers are case-insensitive)."""
    if name in table.columns:
        return table[name]
    by_fold = {c.casefold(): c for c in table.columns}
    return table[by_fold[name.casefold()]]


def build_master_table(single: ir.Table, *, canonicalise: bool = True) -> ir.Table:
    """`LA_PBI_Master_Table`: every column of the single table plus the plain-name aliases (dashboard.md §1).

    Args:
        single: the single-submissions main table (main-tables.md §6.3 columns).
        canonicalise: write the aliased cleaned values (and `Event_Type`) in the specification's spelling when
            they match it case-insensitively, so that grouping and DISTINCT treat `Male` and `male` as one
            value, as SQL Server's case-insensitive collation does. Other values pass through unchanged.

    Returns:
        The master table: the single table's columns, then one column per alias of
        `dashboard_master_aliases.csv`.
    """
    spec = load_spec()
    derived = list(spec.derived_values)

    def tidy(col: ir.Value, list_name: str) -> ir.Value:
        if not canonicalise or list_name not in spec.lists:
            return col
        return canonical(col, [*spec.lists[list_name].r2_values, *derived])

    existing = {c.casefold() for c in single.columns}
    aliases = {}
    for alias, source in ref.master_aliases().items():
        if alias.casefold() in existing:
            continue  # the single table already has a column of that name; keep it
        aliases[alias] = tidy(_column(single, source), alias.lower())
    out = single.mutate(**aliases)
    if canonicalise and "Event_Type" in out.columns:
        out = out.mutate(Event_Type=tidy(out.Event_Type, "event_type"))
    return out


def build_services_fact(master: ir.Table) -> ir.Table:
    """`LA_PBI_Services_Fact`: the master table's service rows, selected columns, no aggregation (§2)."""
    rows = master.filter(ci_eq(master.Event_Type, ref.parameter("service_event_type")))
    return rows.select(*ref.fact_columns("services"))


def lts_flagged_events(master: ir.Table, services_fact: ir.Table, event_type: str) -> ir.Table:
    """The master-table events of one type with `LTS_Flag`, one row per `Der_Unique_Event_Ref` (§3 steps 1-4).

    `LTS_Flag` is `Yes` when a long-term service of the same council and person was open at the event start:
    service start <= event start <= service end, or service start <= event start with no service end.
    """
    yes, no = ref.parameter("lts_flag_yes"), ref.parameter("lts_flag_no")
    events = master.filter(ci_eq(master.Event_Type, event_type))
    events = events.mutate(__ascld_row=ibis.row_number())
    lts = services_fact.filter(ci_eq(services_fact.Service_Type_Grouped, ref.parameter("long_term_grouped")))
    lts = lts.select(
        __lts_la=lts.LA_Code, __lts_person=lts[PERSON], __lts_start=lts.Event_Start_Date, __lts_end=lts.Event_End_Date
    )
    joined = events.left_join(lts, [events.LA_Code == lts.__lts_la, events[PERSON] == lts.__lts_person])
    start = joined.Event_Start_Date
    open_at_start = (joined.__lts_start <= start) & ((start <= joined.__lts_end) | joined.__lts_end.isnull())
    joined = joined.mutate(__lts_yes=ibis.cases((open_at_start, 1), else_=0))
    # PARTITION BY under the case-insensitive collation (main-tables.md §0): `ev1` and `EV1 ` are one event.
    key = ibis.coalesce(fold(joined[EVENT_REF]), ibis.literal(ref.parameter("null_event_ref_key")))
    # ROW_NUMBER() OVER (PARTITION BY ISNULL(ref, '') ORDER BY LTS_Flag DESC): 'Yes' first. Ties are arbitrary
    # in the source; the row's position in the master table breaks them here so a rerun gives the same rows.
    window = ibis.window(group_by=key, order_by=[ibis.desc(joined.__lts_yes), joined.__ascld_row])
    joined = joined.mutate(__rank=ibis.row_number().over(window))
    kept = joined.filter(joined.__rank == 0)
    kept = kept.mutate(LTS_Flag=ibis.cases((kept.__lts_yes == 1, yes), else_=no))
    return kept.drop("__ascld_row", "__lts_la", "__lts_person", "__lts_start", "__lts_end", "__lts_yes", "__rank")


def build_event_fact(master: ir.Table, services_fact: ir.Table, fact: str) -> ir.Table:
    """`LA_PBI_Requests_Fact`, `LA_PBI_Assessments_Fact` or `LA_PBI_Reviews_Fact` (dashboard.md §3).

    Args:
        master: the master table.
        services_fact: the services fact (its long-term rows set `LTS_Flag`).
        fact: `requests`, `assessments` or `reviews`.

    Returns:
        The fact's columns (`dashboard_fact_columns.csv`) and `Event_Count` = COUNT(*) grouped by all of them
        (NULLs group together; text compared case-insensitively, as SQL Server's collation does).
    """
    flagged = lts_flagged_events(master, services_fact, EVENT_FACTS[fact])
    columns = ref.fact_columns(fact)
    return group_by_collation(flagged, list(columns), Event_Count=lambda t: t.count())


def costs_quarter(period_end: dt.date) -> tuple[dt.date, dt.date]:
    """(QS, QE): the last `costs_quarter_months` months of a 12-month period ending on `period_end`.

    Examples:
        >>> costs_quarter(dt.date(2026, 3, 31))
        (datetime.date(2026, 1, 1), datetime.date(2026, 3, 31))
    """
    months = ref.parameter_int("costs_quarter_months")
    first = add_months(dt.date(period_end.year, period_end.month, 1), -(months - 1))
    return first, period_end


def build_costs_fact(services_fact: ir.Table, quarter: tuple[dt.date, dt.date]) -> ir.Table:
    """`LA_PBI_Costs_Fact`: the cost of each service in the latest quarter (dashboard.md §4).

    Args:
        services_fact: the services fact.
        quarter: (QS, QE), e.g. `costs_quarter(period_end)`.

    Returns:
        The costs columns of `dashboard_fact_columns.csv`: `Cost_Per_Week` = |unit cost| x units per week,
        `Weeks_of_Service` = days of the service inside [QS, QE] / 7.0 (an open end counts as QE),
        `Total_Cost_Period` = their product; for one-off costs the first two are NULL and the total is the
        unit cost.
    """
    qs, qe = (ibis.literal(d) for d in quarter)
    s = services_fact.filter(
        (services_fact.Event_End_Date >= qs) | services_fact.Event_End_Date.isnull(),
        services_fact.Event_Start_Date <= qe,
    )
    freq = s.Cost_Frequency_Unit_Type
    unit_cost_abs = s.Unit_Cost.cast("float64").abs()
    # The frequency is trusted over the planned units where they conflict; a NULL frequency fails every LIKE
    # and falls through to the planned units.
    units = ibis.cases(
        *[(ci_like(freq, f"{prefix}%"), ibis.literal(value)) for prefix, value in ref.cost_frequencies()],
        else_=s.Planned_Units_Per_Week.cast("float64").abs(),
    )
    one_off = ibis.coalesce(ci_eq(freq, ref.parameter("one_off_frequency")), False)
    s = s.mutate(Unit_Cost_Abs=unit_cost_abs, Planned_Units_Per_Week_Abs=units, __one_off=one_off)
    s = s.filter(
        s.Unit_Cost_Abs.notnull(),
        s.Unit_Cost_Abs != 0,
        s.__one_off | (s.Planned_Units_Per_Week_Abs.notnull() & (s.Planned_Units_Per_Week_Abs != 0)),
    )
    start, end = s.Event_Start_Date, s.Event_End_Date
    from_day = ibis.cases((start >= qs, start), else_=qs)
    to_day = ibis.cases((end <= qe, end), else_=qe)  # NULL (open) and later ends count as QE
    weeks = (days_between(from_day, to_day) + 1).cast("float64") / ref.parameter_float("days_per_week")
    per_week = s.Unit_Cost_Abs * s.Planned_Units_Per_Week_Abs
    s = s.mutate(
        Cost_Per_Week=ibis.cases((s.__one_off, ibis.null("float64")), else_=per_week),
        Weeks_of_Service=ibis.cases((s.__one_off, ibis.null("float64")), else_=weeks),
        Total_Cost_Period=ibis.cases((s.__one_off, s.Unit_Cost_Abs), else_=per_week * weeks),
    )
    return s.select(*ref.fact_columns("costs"))
