"""Waiting times: days from a request to its first response and to its first service, with LA-level medians
(dashboard.md §7), as Ibis expressions over the **joined** main table.

Steps (each a function, so a test can look at any of them):

1. `waiting_time_events`: event types from `Event_Type` (LIKE patterns), the selected assessments and
   services, new clients' valid requests, and the person's numbered event set (§7.1 steps 1-6);
2. `waiting_time_links`: progress flags and assessment blocks (§7.2), each request's next assessment and
   service, the conversation override, a service as first response, part-2 suppression, overlapping requests
   and the two waits (§7.3);
3. `waiting_time_medians`: per council x statistical quarter x band, the continuous median
   (`PERCENTILE_CONT(0.5)`: the middle value, or the mean of the two middle values) and the count (§7.4).

A person is (`LA_Code`, `Der_NHS_LA_Combined_Person_ID`): the method works within one council.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from ascld.measures.ascof.common import ci_eq, ci_in, ci_like, ci_not_in, days_between, fold
from ascld.measures.dashboard import reference as ref
from ascld.measures.dashboard.collation import group_by_collation

PERSON = "Der_NHS_LA_Combined_Person_ID"
KEYS = ["LA_Code", PERSON]
REQUEST, ASSESSMENT, SERVICE = "Request", "Assessment", "Service"

#: columns of the event set (one row per selected event)
EVENT_SET_COLUMNS = (
    "LA_Code",
    "LA_Name",
    PERSON,
    "Der_Unique_Record_ID",
    "ImportDate",
    "Event_Type_Cleaned",
    "Event_Start_Date",
    "Modified_Working_Age_Band",
    "Assessment_Type_Cleaned",
    "Service_Type_Cleaned",
    "Event_Outcome_Cleaned",
    "Der_Conversation",
)


def _event_type_cleaned(event_type: ir.StringValue) -> ir.StringValue:
    """CASE WHEN Event_Type LIKE '%service%' THEN 'Service' ... (§7.1 step 1, in the source's order)."""
    return ibis.cases(
        *[(ci_like(event_type, r["pattern"]), ibis.literal(r["event_type"])) for r in ref.wt_event_types()],
        else_=ibis.null("string"),
    )


def _modified_band(band: ir.StringValue) -> ir.StringValue:
    return ibis.cases(
        (ci_eq(band, ref.parameter("wt_band_from")), ibis.literal(ref.parameter("wt_band_to"))), else_=band
    )


def selected_events(joined: ir.Table) -> ir.Table:
    """The joined table with `Event_Type_Cleaned` and `Modified_Working_Age_Band` (§7.1 steps 1 and 3)."""
    return joined.mutate(
        Event_Type_Cleaned=_event_type_cleaned(joined.Event_Type),
        Modified_Working_Age_Band=_modified_band(joined.Der_Working_Age_Band),
    )


def new_client_requests(events: ir.Table) -> ir.Table:
    """Requests of new clients, before the valid-outcome test (§7.1 steps 3-4).

    A request is dropped when the person (same council) has a selected service that started before it and is
    long term and ended no earlier than 12 calendar months before the request (or is open), or is ST-Max /
    other short term and ended no earlier than 3 months before (or is open).
    """
    requests = events.filter(
        events.Event_Type_Cleaned == REQUEST,
        ci_eq(events.Client_Type_Cleaned, ref.parameter("wt_request_client_type")),
        events.Event_Start_Date >= ibis.literal(ref.parameter_date("wt_start_date")),
        events.Der_Age_Event_Start_Date >= ref.parameter_int("wt_min_age"),
    )
    services = _selected_services(events)
    s = services.select(
        __s_la=services.LA_Code,
        __s_person=services[PERSON],
        __s_start=services.Event_Start_Date,
        __s_end=services.Der_Event_End_Date,
        __s_type=services.Service_Type_Cleaned,
    )
    r_start = requests.Event_Start_Date
    long_back = r_start - ibis.interval(months=ref.parameter_int("wt_long_term_lookback_months"))
    short_back = r_start - ibis.interval(months=ref.parameter_int("wt_short_term_lookback_months"))
    existing = (
        ci_in(s.__s_type, ref.values("wt_long_term_services")) & ((s.__s_end >= long_back) | s.__s_end.isnull())
    ) | (
        ci_in(s.__s_type, ref.values("wt_short_term_existing_services"))
        & ((s.__s_end >= short_back) | s.__s_end.isnull())
    )
    return requests.anti_join(
        s,
        [
            requests.LA_Code == s.__s_la,
            requests[PERSON] == s.__s_person,
            s.__s_start < r_start,
            existing,
        ],
    )


def _selected_assessments(events: ir.Table) -> ir.Table:
    return events.filter(
        events.Event_Type_Cleaned == ASSESSMENT,
        ci_in(events.Assessment_Type_Cleaned, ref.values("wt_assessment_types")),
    )


def _selected_services(events: ir.Table) -> ir.Table:
    types = [*ref.values("wt_long_term_services"), *ref.values("wt_short_term_services")]
    return events.filter(events.Event_Type_Cleaned == SERVICE, ci_in(events.Service_Type_Cleaned, types))


def waiting_time_events(joined: ir.Table) -> ir.Table:
    """The numbered event set of every person (§7.1 steps 1-6), before people without a request are dropped.

    Returns:
        `EVENT_SET_COLUMNS` plus `person_valid_event_order` (1, 2, ... per person, by start date, type
        priority Request-Assessment-Service, ImportDate descending, Der_Unique_Record_ID descending).
    """
    events = selected_events(joined)
    requests = new_client_requests(events)
    valid = requests.filter(
        ci_not_in(requests.Event_Outcome_Grouped, ref.values("wt_invalid_request_outcomes_grouped"))
    )
    min_age = ref.parameter_int("wt_min_age")
    others = [_selected_assessments(events), _selected_services(events)]
    parts = [valid] + [t.filter(t.Der_Age_Event_Start_Date >= min_age) for t in others]
    cols = list(EVENT_SET_COLUMNS)
    union = ibis.union(*[p.select(*cols) for p in parts], distinct=False)
    priority = ibis.cases(
        *[(union.Event_Type_Cleaned == kind, p) for kind, p in ref.wt_type_priority().items()], else_=None
    )
    union = union.mutate(__priority=priority)
    window = ibis.window(
        group_by=KEYS,
        order_by=[
            ibis.asc(union.Event_Start_Date, nulls_first=True),
            union.__priority,
            ibis.desc(union.ImportDate, nulls_first=False),
            ibis.desc(union.Der_Unique_Record_ID, nulls_first=False),
        ],
    )
    return union.mutate(person_valid_event_order=ibis.row_number().over(window) + 1).drop("__priority")


def _flag(condition: ir.BooleanValue) -> ir.IntegerValue:
    return ibis.cases((condition, 1), else_=0)


def waiting_time_links(event_set: ir.Table) -> ir.Table:
    """One row per request of the event set, linked to its first response and first service (§7.2-§7.3).

    Returns:
        Columns LA_Code, LA_Name, person, request order and start, `Response_Order`, `Response_Start_Date`,
        `Response_Band`, `Response_Event_Type`, `Response_Assessment_Type`, `Service_Order`,
        `Service_Start_Date`, `Service_Band`, `Service_Type`, `Overlap_Excluded` (1/0), and the waits in
        days `Wait_First_Response` and `Wait_First_Service` (NULL when excluded or not found).
    """
    order = "person_valid_event_order"
    e = event_set
    # §7.1 step 7: people with no valid request in the set are dropped.
    e = e.mutate(__has_request=(e.Event_Type_Cleaned == REQUEST).cast("int32").max().over(group_by=KEYS))
    e = e.filter(e.__has_request == 1).drop("__has_request")
    is_assessment = e.Event_Type_Cleaned == ASSESSMENT
    e = e.mutate(
        Assessment_Progress=_flag(
            is_assessment & ci_in(e.Event_Outcome_Cleaned, ref.values("wt_assessment_progress_outcomes"))
        ),
        Request_Progress=_flag(
            (e.Event_Type_Cleaned == REQUEST)
            & ci_in(e.Event_Outcome_Cleaned, ref.values("wt_request_progress_outcomes"))
        ),
    )
    # Block id = running count of non-assessment events up to the row: consecutive assessments share one.
    running = ibis.window(group_by=KEYS, order_by=e[order], rows=(None, 0))
    e = e.mutate(Assessment_Block=_flag(~is_assessment).sum().over(running))
    e = e.mutate(
        Block_Progress=e.Assessment_Progress.max().over(group_by=[*KEYS, "Assessment_Block"]),
    )
    following = ibis.window(group_by=KEYS, order_by=e[order], rows=(1, None))
    e = e.mutate(
        __next_assessment=ibis.cases((e.Event_Type_Cleaned == ASSESSMENT, e[order]), else_=None).min().over(following),
        __next_service=ibis.cases((e.Event_Type_Cleaned == SERVICE, e[order]), else_=None).min().over(following),
    )
    lookup = e.select(
        __l_la=e.LA_Code,
        __l_person=e[PERSON],
        __l_order=e[order],
        __l_start=e.Event_Start_Date,
        __l_band=e.Modified_Working_Age_Band,
        __l_block_progress=e.Block_Progress,
        __l_assessment_type=e.Assessment_Type_Cleaned,
        __l_service_type=e.Service_Type_Cleaned,
    )
    r = e.filter(e.Event_Type_Cleaned == REQUEST)
    na = lookup.rename(lambda c: c.replace("__l_", "__na_"))
    ns = lookup.rename(lambda c: c.replace("__l_", "__ns_"))
    r = r.left_join(na, [r.LA_Code == na.__na_la, r[PERSON] == na.__na_person, r.__next_assessment == na.__na_order])
    r = r.left_join(ns, [r.LA_Code == ns.__ns_la, r[PERSON] == ns.__ns_person, r.__next_service == ns.__ns_order])
    start = r.Event_Start_Date
    # §7.3 step 2: in the Release 1 period a conversation with a progress outcome is its own first response.
    conversation = (
        ((start < r.__na_start) | r.__next_assessment.isnull())
        & (r.Der_Conversation == 1)
        & (r.Request_Progress == 1)
        & (start < ibis.literal(ref.parameter_date("wt_conversation_before")))
    )
    r = r.mutate(
        __resp_order=ibis.cases((conversation, r[order]), else_=r.__next_assessment),
        __resp_start=ibis.cases((conversation, start), else_=r.__na_start),
        __resp_band=ibis.cases((conversation, r.Modified_Working_Age_Band), else_=r.__na_band),
        __resp_type=ibis.cases(
            (conversation, ibis.literal(REQUEST)),
            (r.__next_assessment.notnull(), ibis.literal(ASSESSMENT)),
            else_=ibis.null("string"),
        ),
        __resp_assessment_type=ibis.cases((conversation, ibis.null("string")), else_=r.__na_assessment_type),
        __resp_block_progress=ibis.cases((conversation, ibis.null("int64")), else_=r.__na_block_progress.cast("int64")),
    )
    # §7.3 step 3: a service that comes before the response (or where there is none) is the first response.
    service_first = (r.__resp_order > r.__next_service) | (r.__resp_order.isnull() & r.__next_service.notnull())
    r = r.mutate(
        Response_Order=ibis.cases((service_first, r.__next_service), else_=r.__resp_order),
        Response_Start_Date=ibis.cases((service_first, r.__ns_start), else_=r.__resp_start),
        Response_Band=ibis.cases((service_first, r.__ns_band), else_=r.__resp_band),
        Response_Event_Type=ibis.cases((service_first, ibis.literal(SERVICE)), else_=r.__resp_type),
        Response_Assessment_Type=ibis.cases((service_first, ibis.null("string")), else_=r.__resp_assessment_type),
        __resp_block_progress=ibis.cases((service_first, ibis.null("int64")), else_=r.__resp_block_progress),
    )
    # §7.3 step 4: an assessment block that does not progress to a service ends the request's part 2.
    no_service = (r.Response_Event_Type == ASSESSMENT) & (r.__resp_block_progress == 0)
    r = r.mutate(
        Service_Order=ibis.cases((no_service, ibis.null("int64")), else_=r.__next_service),
        Service_Start_Date=ibis.cases((no_service, ibis.null("date")), else_=r.__ns_start),
        Service_Band=ibis.cases((no_service, ibis.null("string")), else_=r.__ns_band),
        Service_Type=ibis.cases((no_service, ibis.null("string")), else_=r.__ns_service_type),
    )
    # §7.3 step 5: overlapping requests.
    latest_linked = ibis.cases(
        (r.Response_Order.isnull(), r.Service_Order),
        (r.Service_Order.isnull(), r.Response_Order),
        (r.Response_Order >= r.Service_Order, r.Response_Order),
        else_=r.Service_Order,
    )
    by_request = ibis.window(group_by=KEYS, order_by=r[order])
    earlier = ibis.window(group_by=KEYS, order_by=r[order], rows=(None, -1))
    r = r.mutate(__latest_linked=latest_linked)
    r = r.mutate(
        __previous_latest=r.__latest_linked.lag().over(by_request),
        __earlier_response=ibis.coalesce(r.Response_Order.max().over(earlier), 0),
        __earlier_service=ibis.coalesce(r.Service_Order.max().over(earlier), 0),
    )
    overlap = (
        ibis.coalesce(r.__previous_latest > r[order], False)
        | ibis.coalesce(r.Response_Order <= r.__earlier_response, False)
        | ibis.coalesce(r.Service_Order <= r.__earlier_service, False)
    )
    r = r.mutate(Overlap_Excluded=_flag(overlap))
    kept = r.Overlap_Excluded == 0
    r = r.mutate(
        Wait_First_Response=ibis.cases((kept, days_between(start, r.Response_Start_Date)), else_=None),
        Wait_First_Service=ibis.cases((kept, days_between(start, r.Service_Start_Date)), else_=None),
    )
    return r.select(
        "LA_Code",
        "LA_Name",
        PERSON,
        "Der_Unique_Record_ID",
        Request_Order=r[order],
        Request_Start_Date=start,
        Request_Band=r.Modified_Working_Age_Band,
        Response_Order=r.Response_Order,
        Response_Start_Date=r.Response_Start_Date,
        Response_Band=r.Response_Band,
        Response_Event_Type=r.Response_Event_Type,
        Response_Assessment_Type=r.Response_Assessment_Type,
        Service_Order=r.Service_Order,
        Service_Start_Date=r.Service_Start_Date,
        Service_Band=r.Service_Band,
        Service_Type=r.Service_Type,
        Overlap_Excluded=r.Overlap_Excluded,
        Wait_First_Response=r.Wait_First_Response,
        Wait_First_Service=r.Wait_First_Service,
    )


def quarter_start(d: ir.DateValue) -> ir.DateValue:
    """First day of the calendar quarter of `d` (the statistical period, §7.4)."""
    return ibis.date(d.year(), ((d.month() - 1) // 3) * 3 + 1, 1)


def waiting_time_medians(links: ir.Table, *, all_periods: bool = False) -> ir.Table:
    """LA-level medians of both metrics (§7.4).

    Args:
        links: `waiting_time_links`.
        all_periods: keep statistical periods before `wt_output_from` (the dashboard shows only those from
            2024-04-01).

    Returns:
        One row per LA x metric x statistical period x band: LA_Code, LA_Name, `Metric` (measure id `WT1` or
        `WT2`), `Period_Start`, `Period_End` (EOMONTH(start, +2)), `Age_Band`, `Median_Waiting_Time` (the
        continuous median) and `Number_Of_Waiting_Times_Identified`.
    """
    parts = []
    for measure in ref.read_table("measures"):
        part = measure["part"]
        start = links.Response_Start_Date if part == "1" else links.Service_Start_Date
        band = links.Response_Band if part == "1" else links.Service_Band
        wait = links.Wait_First_Response if part == "1" else links.Wait_First_Service
        parts.append(
            links.select(
                "LA_Code",
                "LA_Name",
                Metric=ibis.literal(measure["id"]),
                Period_Start=quarter_start(start),
                Age_Band=band,
                Wait=wait.cast("int64"),
            )
        )
    w = ibis.union(*parts, distinct=False)
    w = w.filter(w.Wait.notnull(), ci_in(w.Age_Band, ref.values("wt_reported_bands")))
    if not all_periods:
        w = w.filter(w.Period_Start >= ibis.literal(ref.parameter_date("wt_output_from")))
    # Bands that compare equal under the collation ('65 and above', '65 AND ABOVE ') are one group, shown under
    # the smallest of their spellings.
    w = w.mutate(__band=fold(w.Age_Band))
    group = ["LA_Code", "Metric", "Period_Start", "__band"]
    # PERCENTILE_CONT(0.5) without engine percentile functions: sort each group, keep the middle value (odd
    # count) or the two middle values (even count), and average them. Ties need no care: equal values.
    w = w.mutate(
        __rank=ibis.row_number().over(group_by=group, order_by=w.Wait),
        __n=w.Wait.count().over(group_by=group),
        Age_Band=w.Age_Band.min().over(group_by=group),
    )
    middle = w.filter((w.__rank == (w.__n - 1) // 2) | (w.__rank == w.__n // 2))
    out = middle.group_by([*group, "Age_Band"]).aggregate(
        LA_Name=middle.LA_Name.max(),
        Median_Waiting_Time=middle.Wait.cast("float64").mean(),
        Number_Of_Waiting_Times_Identified=middle.__n.max(),
    )
    end = out.Period_Start + ibis.interval(months=ref.parameter_int("wt_quarter_end_months") + 1)
    out = out.mutate(Period_End=(end - ibis.interval(days=1)))
    return out.select(
        "LA_Code",
        "LA_Name",
        "Metric",
        "Period_Start",
        "Period_End",
        "Age_Band",
        "Median_Waiting_Time",
        "Number_Of_Waiting_Times_Identified",
    ).order_by(["LA_Code", "Metric", "Period_Start", "Age_Band"])


def waiting_time_context(event_set: ir.Table) -> ir.Table:
    """Context counts: every event of the event set (before people without a request are dropped) by council,
    band, start quarter (from `wt_start_date`), event type and assessment or service type (§7.4).
    """
    e = event_set.filter(event_set.Event_Start_Date >= ibis.literal(ref.parameter_date("wt_start_date")))
    detail = ibis.coalesce(e.Assessment_Type_Cleaned, e.Service_Type_Cleaned)
    e = e.mutate(
        Period_Start=quarter_start(e.Event_Start_Date),
        Event_Detail=ibis.cases((e.Event_Type_Cleaned == REQUEST, ibis.null("string")), else_=detail),
    )
    keys = ["LA_Code", "Modified_Working_Age_Band", "Period_Start", "Event_Type_Cleaned", "Event_Detail"]
    return group_by_collation(e, keys, Event_Count=lambda t: t.count()).order_by(
        ["LA_Code", "Period_Start", "Event_Type_Cleaned", "Event_Detail", "Modified_Working_Age_Band"]
    )
