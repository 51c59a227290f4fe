"""Edge rules of the dashboard tables and waiting times: SQL Server semantics (case-insensitive comparisons,
NULLs), boundaries, ties and even counts in medians, the calendar, DQ values and disclosure of the medians.

Expected values are worked out by hand from dashboard.md and main-tables.md §0.
"""

from __future__ import annotations

import datetime as dt
import itertools

import ibis
import pyarrow as pa
import pytest
from test_dashboard_scenarios import PERSON, PROGRESS_SERVICES, D, event

from ascld.measures.dashboard import (
    build_age_bands,
    build_calendar,
    build_costs_fact,
    build_dq_values,
    build_event_fact,
    build_master_table,
    build_services_fact,
    control_waiting_time_rows,
    main_table_from_records,
    waiting_time_events,
    waiting_time_links,
    waiting_time_medians,
    waiting_time_rows,
)

_refs = itertools.count(1000)


def _table(rows):
    return ibis.memtable(main_table_from_records(rows))


def _row(kind, start, end=None, person="P1", la="318", **fields):
    row = {
        "LA_Code": la,
        "LA_Name": f"Council {la}",
        "Event_Type": kind,
        "Event_Start_Date": D(start) if start else None,
        "Der_Event_End_Date": D(end) if end else None,
        PERSON: person,
        "Der_Unique_Event_Ref": f"{la}_{next(_refs)}",
        "Der_Unique_Record_ID": next(_refs),
    }
    row.update(fields)
    return row


def _lts(start, end=None, grouped="Long term support", **fields):
    return _row(
        "Service",
        start,
        end,
        Service_Type_Cleaned="Long term support: Community",
        Service_Type_Grouped=grouped,
        **fields,
    )


def _requests_fact(rows):
    master = build_master_table(_table(rows))
    return build_event_fact(master, build_services_fact(master), "requests").execute()


# ---------------------------------------------------------------------------------------------------------
# LTS flag (dashboard.md §3)


@pytest.mark.parametrize("grouped", ["Long Term Support", "LONG TERM SUPPORT", "long term support "])
def test_lts_flag_matches_grouped_service_type_case_insensitively(grouped):
    fact = _requests_fact([_lts("2024-05-01", "2024-09-30", grouped=grouped), _row("Request", "2024-06-01")])
    assert fact.LTS_Flag.tolist() == ["Yes"]


def test_lts_flag_matches_event_type_case_insensitively():
    rows = [{**_lts("2024-05-01"), "Event_Type": "SERVICE"}, _row("request", "2024-06-01")]
    for canonicalise in (True, False):  # with the raw spelling kept, the comparisons must still ignore case
        master = build_master_table(_table(rows), canonicalise=canonicalise)
        fact = build_event_fact(master, build_services_fact(master), "requests").execute()
        assert fact.LTS_Flag.tolist() == ["Yes"]


def test_lts_flag_ignores_short_term_services():
    short = _row(
        "Service",
        "2024-05-01",
        Service_Type_Cleaned="Short term support: ST-Max",
        Service_Type_Grouped="Short term support",
    )
    assert _requests_fact([short, _row("Request", "2024-06-01")]).LTS_Flag.tolist() == ["No"]


def test_lts_flag_open_service_counts_from_its_start_day():
    fact = _requests_fact([_lts("2024-05-01"), _row("Request", "2024-04-30"), _row("Request", "2024-05-01")])
    got = {r.Event_Start_Date.date().isoformat(): r.LTS_Flag for r in fact.itertuples()}
    assert got == {"2024-04-30": "No", "2024-05-01": "Yes"}


def test_lts_flag_no_for_other_person_other_council_and_null_start():
    rows = [
        _lts("2024-01-01", person="P2"),
        _lts("2024-01-01", la="999"),
        _row("Request", "2024-06-01"),
        _row("Request", None),
    ]
    assert sorted(_requests_fact(rows).LTS_Flag.tolist()) == ["No", "No"]


def test_event_with_several_services_is_one_row_preferring_yes():
    rows = [_lts("2023-01-01", "2023-12-31"), _lts("2024-05-01"), _lts("2022-01-01", "2022-02-01")]
    rows.append(_row("Request", "2024-06-01"))
    fact = _requests_fact(rows)
    assert fact.LTS_Flag.tolist() == ["Yes"] and fact.Event_Count.tolist() == [1]


def test_events_with_null_references_are_grouped_together():
    rows = [_row("Request", "2024-06-01", Der_Unique_Event_Ref=None), _row("Request", "2024-07-01")]
    rows.append(_row("Request", "2024-08-01", Der_Unique_Event_Ref=None))
    fact = _requests_fact(rows)
    # Two NULL references are one event (ISNULL(ref, '')): one of them is kept, and the referenced request.
    assert int(fact.Event_Count.sum()) == 2


def test_event_references_differing_in_case_or_trailing_space_are_one_event():
    # §3 step 4 partitions on Der_Unique_Event_Ref; under the case-insensitive collation (main-tables.md §0)
    # `ev7`, `EV7` and `ev7 ` are the same reference, so one row is kept, the one with LTS_Flag 'Yes'.
    rows = [
        _lts("2024-05-01"),
        _row("Request", "2024-04-01", Der_Unique_Event_Ref="ev7"),
        _row("Request", "2024-06-01", Der_Unique_Event_Ref="EV7"),
        _row("Request", "2024-07-01", Der_Unique_Event_Ref="ev7 "),
    ]
    fact = _requests_fact(rows)
    assert fact.Event_Count.tolist() == [1] and fact.LTS_Flag.tolist() == ["Yes"]


def test_identical_fact_rows_are_counted():
    fact = _requests_fact([_row("Request", "2024-06-01"), _row("Request", "2024-06-01")])
    assert fact.Event_Count.tolist() == [2]


def test_master_table_aliases_take_cleaned_values_in_spec_spelling():
    rows = [_row("Request", "2024-06-01", Gender_Cleaned="male", Event_Outcome_Cleaned="nfa: other")]
    master = build_master_table(_table(rows)).execute()
    assert master.Gender.tolist() == ["Male"]
    assert master.Event_Outcome.tolist() == ["NFA: Other"]
    assert master.Event_End_Date.tolist() == master.Der_Event_End_Date.tolist()


# ---------------------------------------------------------------------------------------------------------
# Costs (dashboard.md §4)

QUARTER = (D("2026-01-01"), D("2026-03-31"))


def _costs(*services):
    rows = []
    for n, (freq, cost, units, start, end) in enumerate(services):
        rows.append(
            _lts(
                start,
                end,
                Service_Component_Cleaned=f"S{n}",
                Cost_Frequency_Unit_Type_Cleaned=freq,
                Unit_Cost=cost,
                Planned_Units_Per_Week=units,
            )
        )
    master = build_master_table(_table(rows), canonicalise=False)
    costs = build_costs_fact(build_services_fact(master), QUARTER).execute()
    return {r.Service_Component: r for r in costs.itertuples()}


@pytest.mark.parametrize(
    ("frequency", "per_week"),
    [
        ("WEEKLY", 100.0),
        ("monthly", 100 * 12 / 52),
        ("Quarterly", 100 * 4 / 52),
        ("annually", 100 / 52),
        ("4-Weekly", 25.0),
        ("Per session", 300.0),  # not a frequency prefix: the planned units (3) are used
        ("No charge to client", 300.0),
    ],
)
def test_cost_frequency_prefix_is_case_insensitive(frequency, per_week):
    got = _costs((frequency, 100, 3, "2026-01-01", "2026-01-07"))["S0"]
    assert got.Cost_Per_Week == pytest.approx(per_week, rel=1e-6)
    assert got.Weeks_of_Service == pytest.approx(1.0)


def test_cost_one_off_matched_case_insensitively_with_no_units():
    got = _costs(("ONE-OFF", -75.5, None, "2026-02-01", "2026-02-01"))["S0"]
    assert got.Total_Cost_Period == pytest.approx(75.5)
    assert got.Cost_Per_Week != got.Cost_Per_Week  # NULL


def test_cost_exclusions_null_and_zero():
    got = _costs(
        (None, 40, None, "2026-01-01", None),  # NULL frequency and NULL units: no units
        ("Weekly", 0, 1, "2026-01-01", None),  # zero cost
        ("Hourly", 10, -0.0, "2026-01-01", None),  # zero units
        ("Hourly", 10, -2, "2026-01-01", None),  # negative units: ABS
    )
    assert sorted(got) == ["S3"]
    assert got["S3"].Cost_Per_Week == pytest.approx(20)


def test_cost_quarter_boundaries_are_inclusive():
    got = _costs(
        ("Weekly", 70, 1, "2025-10-01", "2026-01-01"),  # ends on QS: 1 day
        ("Weekly", 70, 1, "2026-03-31", None),  # starts on QE: 1 day
        ("Weekly", 70, 1, "2026-04-01", None),  # starts after QE: out
        ("Weekly", 70, 1, "2025-10-01", "2025-12-31"),  # ends before QS: out
    )
    assert sorted(got) == ["S0", "S1"]
    for key in ("S0", "S1"):
        assert got[key].Weeks_of_Service == pytest.approx(1 / 7)
        assert got[key].Total_Cost_Period == pytest.approx(10)


# ---------------------------------------------------------------------------------------------------------
# Waiting times (dashboard.md §7)


def _links(rows):
    return waiting_time_links(waiting_time_events(_table(rows))).execute()


def _waits(rows, person):
    found = _links(rows)
    found = found[found[PERSON] == person].sort_values("Request_Order")

    def n(x):
        return None if x != x or x is None else int(x)

    return [(n(r.Wait_First_Response), n(r.Wait_First_Service)) for r in found.itertuples()]


def test_wt_values_compared_case_insensitively():
    rows = [
        event(
            "C",
            "REQUEST",
            "2024-05-01",
            Client_Type_Cleaned="Service User",  # the Release 1 spelling
            Event_Outcome_Grouped="progress to assessment, review or reassessment",
        ),
        event(
            "C",
            "Long term ASSESSMENT",
            "2024-05-11",
            Assessment_Type_Cleaned="LONG TERM ASSESSMENT",
            Event_Outcome_Cleaned="progress to support planning or services",
        ),
        event("C", "service", "2024-05-21", Service_Type_Cleaned="long term support: community"),
    ]
    assert _waits(rows, "C") == [(10, 20)]


def test_wt_event_type_patterns_in_the_source_order():
    # CASE tests '%service%' before '%request%': a "service request" is a service, so there is no request.
    rows = [event("C", "Service request", "2024-05-01"), event("C", "Assessment", "2024-05-11")]
    assert _waits(rows, "C") == []


@pytest.mark.parametrize("grouped", [None, "NFA", "nfa", "Admitted to hospital", "ADMITTED TO HOSPITAL"])
def test_wt_request_with_null_nfa_or_hospital_outcome_is_not_valid(grouped):
    rows = [
        event("N", "Request", "2024-05-01", Event_Outcome_Grouped=grouped),
        event("N", "Assessment", "2024-05-11"),
    ]
    assert _waits(rows, "N") == []


def test_wt_other_assessment_and_service_types_are_not_selected():
    rows = [
        event("O", "Request", "2024-05-01"),
        event("O", "Assessment", "2024-05-05", Assessment_Type_Cleaned="Financial assessment"),
        event("O", "Service", "2024-05-06", Service_Type_Cleaned="Unpaid carer support: Direct to unpaid carer"),
        event("O", "Assessment", "2024-05-11"),
    ]
    assert _waits(rows, "O") == [(10, None)]


@pytest.mark.parametrize(
    ("service_type", "end", "existing"),
    [
        ("Long term support: Residential care", "2023-06-01", True),  # exactly 12 months before
        ("Long term support: Residential care", "2023-05-31", False),
        ("Long term support: Nursing care", None, True),  # open
        ("Short term support: ST-Max", "2024-03-01", True),  # exactly 3 months before
        ("Short term support: ST-Max", "2024-02-29", False),
        ("Short term support: Other short term", None, True),
        ("Short term support: Ongoing low level", None, False),
    ],
)
def test_wt_new_clients_only(service_type, end, existing):
    rows = [
        event("E", "Service", "2023-01-01", end, Service_Type_Cleaned=service_type),
        event("E", "Request", "2024-06-01"),
    ]
    requests = _links(rows)
    assert (len(requests) == 0) is existing


def test_wt_new_client_lookback_is_calendar_months_clamped():
    # 2024-02-29 - 12 months = 2023-02-28 (DATEADD clamps), so a service ending then makes the person existing.
    rows = [
        event("L", "Service", "2022-01-01", "2023-02-28", Service_Type_Cleaned="Long term support: Community"),
        event("L", "Request", "2024-02-29"),
    ]
    assert len(_links(rows)) == 0


def test_wt_service_starting_on_the_request_day_does_not_make_an_existing_client():
    rows = [event("S", "Service", "2024-06-01"), event("S", "Request", "2024-06-01")]
    # Same day: the request comes first in the event order, and the service is its first response.
    assert _waits(rows, "S") == [(0, 0)]


def test_wt_request_under_25_or_before_april_2023_or_not_service_user_is_not_selected():
    rows = [
        event("Y", "Request", "2024-05-01", Der_Age_Event_Start_Date=24),
        event("B", "Request", "2023-03-31"),
        event("K", "Request", "2024-05-01", Client_Type_Cleaned="Carer"),
        event("Z", "Request", "2024-05-01", Der_Age_Event_Start_Date=None),
    ]
    rows += [event(p, "Assessment", "2024-05-10") for p in ("Y", "B", "K", "Z")]
    assert len(_links(rows)) == 0


def test_wt_band_18_to_64_is_reported_as_25_to_64():
    rows = [
        event("M", "Request", "2024-05-01", Der_Working_Age_Band="18 to 64", Der_Age_Event_Start_Date=40),
        event("M", "Assessment", "2024-05-04", Der_Working_Age_Band="18 to 64", Der_Age_Event_Start_Date=40),
    ]
    links = waiting_time_links(waiting_time_events(_table(rows)))
    medians = waiting_time_medians(links).execute()
    assert medians.Age_Band.tolist() == ["25 to 64"]


def test_wt_request_and_assessment_on_the_same_day_request_first():
    # The assessment has the later record id, so only the type priority puts the request first.
    rows = [event("R", "Request", "2024-05-01"), event("R", "Assessment", "2024-05-01")]
    assert _waits(rows, "R") == [(0, None)]


def test_wt_conversation_override_only_before_july_2025():
    def rows(start, later):
        return [
            event(
                "X",
                "Request",
                start,
                Der_Conversation=1,
                Event_Outcome_Cleaned=PROGRESS_SERVICES,
                Event_Outcome_Grouped=PROGRESS_SERVICES,
            ),
            event("X", "Assessment", later),
        ]

    assert _waits(rows("2025-06-30", "2025-07-10"), "X") == [(0, None)]
    assert _waits(rows("2025-07-01", "2025-07-10"), "X") == [(9, None)]


def test_wt_conversation_override_needs_a_progress_outcome():
    rows = [
        event("X", "Request", "2024-06-01", Der_Conversation=1, Event_Outcome_Cleaned="Admitted to hospital"),
        event("X", "Assessment", "2024-06-11"),
    ]
    assert _waits(rows, "X") == [(10, None)]


def test_wt_overlap_previous_request_rule():
    # R1 is a conversation (own response) linked to the service (4); R2's response is the assessment (3), whose
    # block does not progress (no service): only rule (a) applies, since R1's latest linked event 4 > 2.
    rows = [
        event(
            "A",
            "Request",
            "2024-05-01",
            Der_Conversation=1,
            Event_Outcome_Cleaned=PROGRESS_SERVICES,
            Event_Outcome_Grouped=PROGRESS_SERVICES,
        ),
        event("A", "Request", "2024-05-02"),
        event("A", "Assessment", "2024-05-05", Event_Outcome_Cleaned="NFA: Other", Event_Outcome_Grouped="NFA"),
        event("A", "Service", "2024-05-10"),
    ]
    links = _links(rows).sort_values("Request_Order")
    assert links.Overlap_Excluded.tolist() == [0, 1]
    assert links.Wait_First_Service.iloc[0] == 9


def test_wt_overlap_earlier_response_rule():
    # R1 -> assessment (4); R2 is a conversation (own response, excluded by rule (a)); R3's previous request
    # (R2) ends at 2 < 3 but R3's response (4) is not after R1's (4): excluded by rule (b).
    rows = [
        event("Q", "Request", "2024-05-01"),
        event(
            "Q",
            "Request",
            "2024-05-02",
            Der_Conversation=1,
            Event_Outcome_Cleaned=PROGRESS_SERVICES,
            Event_Outcome_Grouped=PROGRESS_SERVICES,
        ),
        event("Q", "Request", "2024-05-03"),
        event("Q", "Assessment", "2024-05-10"),
    ]
    links = _links(rows).sort_values("Request_Order")
    assert links.Overlap_Excluded.tolist() == [0, 1, 1]


def test_wt_overlap_earlier_service_rule():
    # R1 -> A1 (progresses) -> service 6; R2 -> A2 (no progress, no service), excluded by (a); R3 -> service 6,
    # previous request ends at 4 < 5, response 6 > earlier responses (2, 4), but service 6 <= R1's: rule (c).
    rows = [
        event("G", "Request", "2024-05-01"),
        event("G", "Assessment", "2024-05-02"),
        event("G", "Request", "2024-05-03"),
        event("G", "Assessment", "2024-05-04", Event_Outcome_Cleaned="NFA: Other", Event_Outcome_Grouped="NFA"),
        event("G", "Request", "2024-05-05"),
        event("G", "Service", "2024-05-06"),
    ]
    links = _links(rows).sort_values("Request_Order")
    assert links.Overlap_Excluded.tolist() == [0, 1, 1]
    assert links.Wait_First_Service.iloc[0] == 5


def test_wt_service_before_the_assessment_becomes_the_first_response():
    rows = [
        event("F", "Request", "2024-05-01"),
        event("F", "Service", "2024-05-03"),
        event("F", "Assessment", "2024-05-08"),
    ]
    links = _links(rows)
    assert links.Response_Event_Type.tolist() == ["Service"]
    assert _waits(rows, "F") == [(2, 2)]


# ---------------------------------------------------------------------------------------------------------
# Medians (PERCENTILE_CONT(0.5))


def _medians(waits, period_start="2024-07-01", band="65 and above", all_periods=False):
    start = D(period_start)
    links = pa.table(
        {
            "LA_Code": ["318"] * len(waits),
            "LA_Name": ["Council 318"] * len(waits),
            "Response_Start_Date": pa.array([start] * len(waits), pa.date32()),
            "Response_Band": [band] * len(waits),
            "Wait_First_Response": pa.array(waits, pa.int64()),
            "Service_Start_Date": pa.array([None] * len(waits), pa.date32()),
            "Service_Band": pa.array([None] * len(waits), pa.string()),
            "Wait_First_Service": pa.array([None] * len(waits), pa.int64()),
        }
    )
    out = waiting_time_medians(ibis.memtable(links), all_periods=all_periods).execute()
    return [(r.Median_Waiting_Time, r.Number_Of_Waiting_Times_Identified) for r in out.itertuples()]


@pytest.mark.parametrize(
    ("waits", "expected"),
    [
        ([3, 1, 2], (2.0, 3)),  # odd: the middle value
        ([4, 1, 3, 2], (2.5, 4)),  # even: the mean of the two middle values (linear interpolation)
        ([10, 0], (5.0, 2)),
        ([5, 9, 5, 5], (5.0, 4)),  # ties
        ([7, 7, 1, 1], (4.0, 4)),  # ties either side of the middle
        ([1, None, 100, None], (50.5, 2)),  # NULL waits are not counted
        ([0], (0.0, 1)),
        ([None, 6, None, 2, None], (4.0, 2)),
    ],
)
def test_median_is_percentile_cont(waits, expected):
    assert _medians(waits) == [expected]


def test_median_group_with_only_null_waits_has_no_row():
    assert _medians([None, None]) == []


def test_median_reports_only_two_bands_and_periods_from_april_2024():
    assert _medians([1, 2], band="Under 18") == []
    assert _medians([1, 2], band="Unknown") == []
    assert _medians([1, 2], period_start="2024-01-01") == []
    assert _medians([1, 2], period_start="2024-01-01", all_periods=True) == [(1.5, 2)]


def test_median_period_is_the_response_quarter():
    rows = [event("P", "Request", "2024-06-20"), event("P", "Assessment", "2024-07-02")]
    links = waiting_time_links(waiting_time_events(_table(rows)))
    got = waiting_time_medians(links).execute()
    assert [(r.Period_Start.date().isoformat(), r.Period_End.date().isoformat()) for r in got.itertuples()] == [
        ("2024-07-01", "2024-09-30")
    ]


def test_median_rows_disclosure_control():
    medians = pa.table(
        {
            "LA_Code": ["318", "318"],
            "LA_Name": ["Council 318", "Council 318"],
            "Metric": ["WT1", "WT2"],
            "Period_Start": pa.array([D("2024-07-01")] * 2, pa.date32()),
            "Period_End": pa.array([D("2024-09-30")] * 2, pa.date32()),
            "Age_Band": ["65 and above", "25 to 64"],
            "Median_Waiting_Time": [12.5, 40.0],
            "Number_Of_Waiting_Times_Identified": [12, 3],
        }
    )
    rows = waiting_time_rows(medians)
    assert rows[0]["measure"] == "Dashboard WT1" and rows[0]["reporting_period"] == "1 Jul 24 - 30 Sep 24"
    shown = control_waiting_time_rows(rows)
    assert [(r["numerator"], r["value"], r["disclosure_flag"]) for r in shown] == [
        (10, 12.5, "rounded"),  # the count is rounded to 5; the median stays as it is
        ("*", "*", "suppressed"),  # 3 waits: count and median suppressed
    ]


# ---------------------------------------------------------------------------------------------------------
# Calendar and other dimensions (dashboard.md §5)


@pytest.fixture(scope="module")
def calendar_2025():
    table = build_calendar((D("2025-04-01"), D("2026-03-31")), D("2026-05-19"))
    return {r["Calendar_Date"]: r for r in table.to_pylist()}


def test_calendar_partial_weeks_have_no_week_end(calendar_2025):
    # 2025-04-01 is a Tuesday: its Sunday is 6 April (day 1-6), a partial first week.
    assert [calendar_2025[D(f"2025-04-0{d}")]["Last_Day_of_Week"] for d in range(1, 7)] == [None] * 6
    assert calendar_2025[D("2025-04-07")]["Last_Day_of_Week"] == D("2025-04-13")
    assert calendar_2025[D("2026-03-29")]["Last_Day_of_Week"] == D("2026-03-29")  # a Sunday
    # 2026-03-31 is a Tuesday: its week ends after the period.
    assert calendar_2025[D("2026-03-30")]["Last_Day_of_Week"] is None
    assert calendar_2025[D("2026-03-31")]["Last_Day_of_Week"] is None


def test_calendar_first_week_full_when_the_month_starts_on_monday():
    table = build_calendar((D("2024-04-01"), D("2025-03-31")), D("2025-05-01"))  # 2024-04-01 is a Monday
    first = table.to_pylist()[0]
    assert first["Last_Day_of_Week"] == D("2024-04-07")


def test_calendar_labels(calendar_2025):
    day = calendar_2025[D("2026-01-15")]
    assert (day["Quarter_Name"], day["Quarter_Name_Year"]) == ("Q4", "25-26_Q4")
    assert day["Last_Day_of_Quarter"] == D("2026-03-31") and day["Last_Day_of_Month"] == D("2026-01-31")
    assert (day["Month_Name"], day["Month_Num"], day["Year"]) == ("January", 1, 2026)
    assert day["Current_Reporting_Period"] == "Apr 25 - Mar 26"
    assert day["Costs_Reporting_period"] == "Jan 26 - Mar 26"
    assert day["Waiting_Times_Period_Covered"] == "Apr 25 - Mar 26"
    assert day["ASCOF_Period_Covered"] == "Apr 23 - Apr 24"
    assert day["Refresh_Date"] == D("2026-05-19")
    assert calendar_2025[D("2025-05-01")]["Quarter_Name_Year"] == "25-26_Q1"
    assert len(calendar_2025) == 365


def test_calendar_waiting_times_period_shifted_for_the_first_cld_quarter():
    table = build_calendar((D("2023-04-01"), D("2024-03-31")), D("2024-05-01"))
    assert table.column("Waiting_Times_Period_Covered")[0].as_py() == "Jul 23 - Mar 24"


def test_age_band_dimension_sort_order():
    rows = [_row("Request", "2024-06-01", Der_Age_Band=b) for b in ("Unknown", "18 to 24", "95 and above")]
    got = build_age_bands(build_master_table(_table(rows))).execute()
    assert list(zip(got.Der_Age_Band, got.Sort_Order, strict=True)) == [
        ("95 and above", 1),
        ("18 to 24", 7),
        ("Unknown", 9),
    ]


# ---------------------------------------------------------------------------------------------------------
# DQ values (dashboard.md §6)


def test_dq_values_labels_pid_values_and_england_copy():
    rows = [
        _row("Request", "2024-06-01", Der_Unique_Record_ID=1, Gender_Cleaned="Female"),
        _row("Request", "2024-06-02", Der_Unique_Record_ID=2, Gender_Cleaned="Female", la="319"),
        _row("Request", "2024-06-03", Der_Unique_Record_ID=3, Gender_Cleaned="Male"),
    ]
    master = build_master_table(_table(rows))
    dq = ibis.memtable(
        pa.table(
            {
                "Der_Unique_Record_ID": pa.array([1, 2, 3, 4], pa.int64()),
                "cond_Gender": pa.array([2, 2, 1, 2], pa.int16()),
                "chk_Gender": pa.array([1, 5, -3, -7], pa.int16()),
                "cond_NHS_Number": pa.array([2, 2, -1, 0], pa.int16()),
                "chk_NHS_Number": pa.array([-1, -7, -8, None], pa.int16()),
            }
        )
    )
    out = build_dq_values(master, dq).execute()
    got = {
        (r.LA_Code, r.DataField, r.FieldStatus, r.FieldValidity, r.Value): r.Count
        for r in out.where(out.notna(), None).itertuples()
    }
    assert got == {
        ("318", "Gender", "Mandatory", "Passed: Valid", "Female"): 1,
        ("319", "Gender", "Mandatory", "Passed: Valid", "Female"): 1,
        ("318", "Gender", "Applicable but not mandatory", "Failed: Invalid", "Male"): 1,
        ("318", "NHS_Number", "Mandatory", "Failed: Blank (Mandatory)", "N/A - PID"): 1,
        ("319", "NHS_Number", "Mandatory", "Failed: Release 1", "N/A - PID"): 1,
        ("318", "NHS_Number", "Undetermined", None, "N/A - PID"): 1,
        ("99999", "Gender", "Mandatory", "Passed: Valid", None): 2,
        ("99999", "Gender", "Applicable but not mandatory", "Failed: Invalid", None): 1,
        ("99999", "NHS_Number", "Mandatory", "Failed: Blank (Mandatory)", None): 1,
        ("99999", "NHS_Number", "Mandatory", "Failed: Release 1", None): 1,
        ("99999", "NHS_Number", "Undetermined", None, None): 1,
    }
    assert set(out.Module) == {"Person details"}
    assert set(out[out.LA_Code == "99999"].LA_Name) == {"England"}


@pytest.mark.parametrize(
    ("kind", "codes", "labels"),
    [
        (
            "validity",
            [9, 1, 0, -1, -2, -6, -7, -8, None],
            [
                "Passed: Valid",
                "Passed: Valid",
                "Passed: Blank (Not Mandatory)",
                "Failed: Blank (Mandatory)",
                "Failed: Invalid",
                "Failed: Invalid",
                "Failed: Release 1",
                None,
                None,
            ],
        ),
        (
            "status",
            [2, 1, 0, -1, 3, None],
            ["Mandatory", "Applicable but not mandatory", "Not applicable", "Undetermined", None, None],
        ),
    ],
)
def test_dq_code_labels(kind, codes, labels):
    from ascld.measures.dashboard.dq import _label

    t = ibis.memtable(pa.table({"code": pa.array(codes, pa.int16())}))
    got = t.select(label=_label(t.code, kind)).to_pyarrow().column("label").to_pylist()
    assert got == labels


def test_calendar_dates_are_consecutive(calendar_2025):
    days = sorted(calendar_2025)
    assert all(b - a == dt.timedelta(days=1) for a, b in itertools.pairwise(days))


# ---------------------------------------------------------------------------------------------------------
# Input column names (check_columns matches them case-insensitively; the builders must then find them)


def test_compute_dashboard_accepts_column_names_in_any_case():
    from test_dashboard_scenarios import d3_rows

    from ascld.measures.dashboard import compute_dashboard

    def recased(table):
        names = {"Event_Type": "event_type", "Planned_Units_Per_Week": "Planned_units_per_week"}
        return table.rename_columns([names.get(c, c) for c in table.column_names])

    hourly = _lts("2026-01-01", Cost_Frequency_Unit_Type_Cleaned="Hourly", Unit_Cost=10.0, Planned_Units_Per_Week=2.0)
    single = main_table_from_records([hourly])
    joined = main_table_from_records(d3_rows())
    got = compute_dashboard(recased(single), recased(joined), period=("2025-04-01", "2026-03-31"))
    assert got.tables["costs"].column("Cost_Per_Week").to_pylist() == [20.0]
    assert got.tables["waiting_medians"].num_rows == 6


def test_compute_dashboard_compares_person_ids_as_the_collation_does():
    """A request of `318_AB` and a long-term service of `318_ab ` are one person under SQL Server's
    case-insensitive collation (main-tables.md §0), so the request has a long-term service at its start."""
    from ascld.measures.dashboard import compute_dashboard

    rows = [_lts("2025-05-01", person="318_ab "), _row("Request", "2025-06-01", person="318_AB")]
    got = compute_dashboard(main_table_from_records(rows), None, period=("2025-04-01", "2026-03-31"))
    assert got.tables["requests"].column("LTS_Flag").to_pylist() == ["Yes"]
