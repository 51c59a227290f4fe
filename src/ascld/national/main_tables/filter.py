"""Step C: correct end dates for deaths and keep the events in each row's own reference period
(main-tables.md §4).

Predicates are written in SQL's three-valued logic: a NULL in a comparison makes it unknown and the row is not
kept, exactly as `WHERE` does on SQL Server.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from ascld.methodology import MainTablesMethod
from ascld.national.main_tables.sql import like_ci, not_like_ci


def corrected_end_date(t: ir.Table) -> ir.DateValue:
    """§4.1 Der_Event_End_Date: death inside a closed event, or after the start of an open one, ends it."""
    dod, start, end = t.Date_of_Death, t.Event_Start_Date, t.Event_End_Date
    return ibis.cases(
        (dod.between(start, end), dod),
        ((dod > start) & end.isnull(), dod),
        else_=end,
    )


def is_service(t: ir.Table, method: MainTablesMethod) -> ir.BooleanValue:
    """Event_Type LIKE '%service%' (case-insensitive; NULL is unknown)."""
    return like_ci(t.Event_Type, method.event_type_patterns["service"])


def is_not_service(t: ir.Table, method: MainTablesMethod) -> ir.BooleanValue:
    """Event_Type NOT LIKE '%service%' (a NULL event type is neither a service nor a non-service)."""
    return not_like_ci(t.Event_Type, method.event_type_patterns["service"])


def _conditions(t: ir.Table, method: MainTablesMethod) -> dict[str, ir.BooleanValue]:
    """The tests of §4.2-4.3 on a table that already has Der_Event_End_Date."""
    rs, re_ = t.Ref_Period_Start_Date, t.Ref_Period_End_Date
    end, start, dod = t.Der_Event_End_Date, t.Event_Start_Date, t.Date_of_Death
    service = is_service(t, method)
    return {
        "non_service": is_not_service(t, method) & (rs <= end) & (end <= re_) & (start <= re_),
        "service": service & (start <= re_) & ((end >= rs) | end.isnull()),
        "death": dod.isnull() | ((dod >= rs) & (dod >= start)),
    }


def with_corrected_end(rows: ir.Table) -> ir.Table:
    """Rename Event_End_Date to Event_End_Date_Raw and add Der_Event_End_Date (§4.1)."""
    return rows.mutate(Der_Event_End_Date=corrected_end_date(rows)).rename(
        Event_End_Date_Raw="Event_End_Date"
    )


def filter_events_in_period(rows: ir.Table, method: MainTablesMethod) -> ir.Table:
    """FilterToEventsInPeriod: keep each row whose event falls in its own file's reference period (§4).

    Args:
        rows: the loaded submission rows with Ref_Period_Start_Date / Ref_Period_End_Date.
        method: the main-tables reference tables.
    """
    t = with_corrected_end(rows)
    c = _conditions(t, method)
    return t.filter((c["non_service"] | c["service"]) & c["death"])


DROP_REASONS = (
    ("no_event_type", "no event type (e.g. carers known by association): neither branch applies"),
    ("no_start_date", "no event start date"),
    ("non_service_open", "request, assessment or review with no end date"),
    ("ends_outside_period", "request, assessment or review not ending in the reference period"),
    ("starts_after_period", "event starts after the reference period"),
    ("service_ended_before", "service ended before the reference period"),
    ("death", "person died before the reference period, or the event starts after the death"),
)


def drop_reasons(rows: ir.Table, method: MainTablesMethod) -> ir.Table:
    """Counts of rows the period filter removes, by the first reason that applies (for the run summary).

    Returns:
        Columns reason, rows; kept rows are not counted.
    """
    t = with_corrected_end(rows)
    c = _conditions(t, method)
    kept = ((c["non_service"] | c["service"]) & c["death"]).fill_null(False)
    service, non_service = is_service(t, method), is_not_service(t, method)
    end, start = t.Der_Event_End_Date, t.Event_Start_Date
    reason = ibis.cases(
        (kept, ibis.null("string")),
        (t.Event_Type.isnull(), "no_event_type"),
        (start.isnull(), "no_start_date"),
        (non_service & end.isnull(), "non_service_open"),
        (start > t.Ref_Period_End_Date, "starts_after_period"),
        (
            non_service & ((end < t.Ref_Period_Start_Date) | (end > t.Ref_Period_End_Date)),
            "ends_outside_period",
        ),
        (service & (end < t.Ref_Period_Start_Date), "service_ended_before"),
        else_="death",
    )
    labelled = t.select(reason=reason)
    return labelled.filter(labelled.reason.notnull()).group_by("reason").aggregate(rows=lambda x: x.count())
