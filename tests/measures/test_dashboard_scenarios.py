"""Part D of the worked scenarios (methodology/scenarios.md D-1, D-2, D-3) on the dashboard code.

Expected values are copied from scenarios.md, not computed by ascld.
"""

from __future__ import annotations

import datetime as dt
import itertools

import ibis
import pytest

from ascld.measures.dashboard import (
    build_costs_fact,
    build_event_fact,
    build_master_table,
    build_services_fact,
    costs_quarter,
    main_table_from_records,
    waiting_time_events,
    waiting_time_links,
    waiting_time_medians,
)

D = dt.date.fromisoformat
PERSON = "Der_NHS_LA_Combined_Person_ID"


def _table(rows):
    return ibis.memtable(main_table_from_records(rows))


# ---------------------------------------------------------------------------------------------------------
# D-1 Long-term service flag on requests


def _d1_rows(with_residential: bool):
    refs = itertools.count(1)
    rows = [
        {
            "LA_Code": "318",
            "Event_Type": "Service",
            "Service_Type_Cleaned": "Long term support: Community",
            "Service_Type_Grouped": "Long term support",
            "Event_Start_Date": D("2024-05-01"),
            "Der_Event_End_Date": D("2024-09-30"),
            PERSON: "P1",
            "Der_Unique_Event_Ref": f"318_{next(refs)}",
        }
    ]
    if with_residential:
        rows.append(
            {
                "LA_Code": "318",
                "Event_Type": "Service",
                "Service_Type_Cleaned": "Long term support: Residential care",
                "Service_Type_Grouped": "Long term support",
                "Event_Start_Date": D("2024-10-01"),
                "Der_Event_End_Date": None,
                PERSON: "P1",
                "Der_Unique_Event_Ref": f"318_{next(refs)}",
            }
        )
    for start in ("2024-04-20", "2024-06-01", "2024-09-30", "2024-10-01"):
        rows.append(
            {
                "LA_Code": "318",
                "Event_Type": "Request",
                "Client_Type_Cleaned": "Service user",
                "Event_Start_Date": D(start),
                "Der_Event_End_Date": D(start),
                PERSON: "P1",
                "Der_Unique_Event_Ref": f"318_{next(refs)}",
            }
        )
    return rows


def _flags(rows):
    master = build_master_table(_table(rows))
    fact = build_event_fact(master, build_services_fact(master), "requests").execute()
    return {r.Event_Start_Date.date().isoformat(): r.LTS_Flag for r in fact.itertuples()}


def test_d1_lts_flag_community_service():
    assert _flags(_d1_rows(with_residential=False)) == {
        "2024-04-20": "No",
        "2024-06-01": "Yes",
        "2024-09-30": "Yes",
        "2024-10-01": "No",
    }


def test_d1_lts_flag_open_residential_service_from_the_request_day():
    assert _flags(_d1_rows(with_residential=True))["2024-10-01"] == "Yes"


# ---------------------------------------------------------------------------------------------------------
# D-2 Costs (latest quarter 2026-01-01...2026-03-31)

D2 = [
    # service, frequency, unit cost, planned units, start, end
    ("K1", "Hourly", 20.00, 10, "2025-11-01", None),
    ("K2", "Weekly", 500, 3, "2026-02-01", "2026-02-28"),
    ("K3", "Fortnightly", -300, None, "2025-12-01", "2026-01-14"),
    ("K4", "One-off", 250, None, "2026-03-10", "2026-03-10"),
    ("K5", "Hourly", 15, 0, "2026-01-05", None),
    ("K6", "Daily", None, 2, "2026-01-05", None),
    ("K7", "Weekly", 100, 1, "2025-09-01", "2025-12-31"),
    ("K8", None, 40, 5, "2026-03-04", None),
]
#: service -> (cost per week, weeks, total); None = NULL. Excluded services are absent.
D2_EXPECTED = {
    "K1": (200, 90 / 7, 2571.43),
    "K2": (500, 4, 2000),
    "K3": (150, 2, 300),
    "K4": (None, None, 250),
    "K8": (200, 4, 800),
}


@pytest.fixture(scope="module")
def d2_costs():
    rows = []
    for n, (service, freq, cost, units, start, end) in enumerate(D2, start=1):
        rows.append(
            {
                "LA_Code": "318",
                "Event_Type": "Service",
                "Service_Type_Cleaned": "Long term support: Community",
                "Service_Type_Grouped": "Long term support",
                "Service_Component_Cleaned": service,  # carries the service's name through to the costs fact
                "Cost_Frequency_Unit_Type_Cleaned": freq,
                "Unit_Cost": cost,
                "Planned_Units_Per_Week": units,
                "Event_Start_Date": D(start),
                "Der_Event_End_Date": D(end) if end else None,
                PERSON: f"P{n}",
                "Der_Unique_Event_Ref": f"318_{n}",
            }
        )
    master = build_master_table(_table(rows), canonicalise=False)
    services = build_services_fact(master)
    assert costs_quarter(D("2026-03-31")) == (D("2026-01-01"), D("2026-03-31"))
    costs = build_costs_fact(services, (D("2026-01-01"), D("2026-03-31"))).execute()
    return {r.Service_Component: r for r in costs.itertuples()}


def test_d2_costs_keep_exactly_the_included_services(d2_costs):
    assert sorted(d2_costs) == sorted(D2_EXPECTED)


@pytest.mark.parametrize("service", sorted(D2_EXPECTED))
def test_d2_costs_per_service(d2_costs, service):
    per_week, weeks, total = D2_EXPECTED[service]
    row = d2_costs[service]
    for got, want in ((row.Cost_Per_Week, per_week), (row.Weeks_of_Service, weeks)):
        if want is None:
            assert got is None or got != got  # NULL (NaN in pandas)
        else:
            assert got == pytest.approx(want, abs=1e-4)
    # "≈ 2571.43": SQL divides with 6 decimal places, so allow a small tolerance.
    assert row.Total_Cost_Period == pytest.approx(total, abs=0.01)


# ---------------------------------------------------------------------------------------------------------
# D-3 Waiting times

_ids = itertools.count(1)
PROGRESS_ASSESSMENT = "Progress to assessment, review or reassessment"
PROGRESS_SERVICES = "Progress to support planning or services"


def event(person, kind, start, end=None, **fields):
    """One joined-table row of person `person` (LA 318, aged >= 25, band 65 and above)."""
    row = {
        "LA_Code": "318",
        "LA_Name": "Council 318",
        PERSON: person,
        "Event_Type": kind,
        "Event_Start_Date": D(start),
        "Der_Event_End_Date": D(end) if end else None,
        "Client_Type_Cleaned": "Service user",
        "Der_Age_Event_Start_Date": 80,
        "Der_Working_Age_Band": "65 and above",
        "Der_Conversation": 0,
        "Der_Unique_Record_ID": next(_ids),
        "ImportDate": dt.datetime(2025, 1, 10, 9),
    }
    if kind == "Request":
        row.update(Event_Outcome_Cleaned=PROGRESS_ASSESSMENT, Event_Outcome_Grouped=PROGRESS_ASSESSMENT)
    elif kind == "Assessment":
        row.update(
            Assessment_Type_Cleaned="Long term assessment",
            Event_Outcome_Cleaned=PROGRESS_SERVICES,
            Event_Outcome_Grouped=PROGRESS_SERVICES,
        )
    elif kind == "Service":
        row.update(Service_Type_Cleaned="Long term support: Community")
    row.update(fields)
    return row


def d3_rows():
    return [
        event("W", "Request", "2024-05-01", "2024-05-03"),
        event("W", "Assessment", "2024-05-20", "2024-06-10"),
        event("W", "Service", "2024-06-15"),
        event(
            "V",
            "Request",
            "2024-07-01",
            "2024-07-02",
            Event_Outcome_Cleaned=PROGRESS_SERVICES,
            Event_Outcome_Grouped=PROGRESS_SERVICES,
            Der_Conversation=1,
        ),
        event("V", "Service", "2024-07-10", Service_Type_Cleaned="Short term support: ST-Max"),
        event("T", "Request", "2024-08-01"),
        event(
            "T",
            "Assessment",
            "2024-08-05",
            Event_Outcome_Cleaned="NFA: Support declined",
            Event_Outcome_Grouped="NFA",
        ),
        event("T", "Service", "2024-09-01", Service_Type_Cleaned="Short term support: Ongoing low level"),
        event("Qr", "Request", "2024-10-01"),
        event("Qr", "Request", "2024-10-03"),
        event("Qr", "Assessment", "2024-10-10"),
        event("Qr", "Service", "2024-10-20"),
        event("U", "Service", "2023-05-01", "2024-01-15"),
        event("U", "Request", "2024-06-01"),
    ]


@pytest.fixture(scope="module")
def d3():
    links = waiting_time_links(waiting_time_events(_table(d3_rows())))
    return links.execute(), waiting_time_medians(links).execute()


def _link(links, person, order=1):
    found = links[(links[PERSON] == person) & (links.Request_Order == order)]
    assert len(found) == 1, (person, order)
    return found.iloc[0]


def _number(x):
    return None if x is None or x != x else int(x)


def _date(x):
    return None if x is None or x != x else x.date().isoformat()


def test_d3_w_response_is_the_assessment_and_service_follows(d3):
    w = _link(d3[0], "W")
    assert (_number(w.Wait_First_Response), _number(w.Wait_First_Service)) == (19, 45)
    assert w.Response_Event_Type == "Assessment"


def test_d3_v_conversation_request_is_its_own_response(d3):
    v = _link(d3[0], "V")
    assert (_number(v.Wait_First_Response), _number(v.Wait_First_Service)) == (0, 9)
    assert v.Response_Event_Type == "Request"


def test_d3_t_assessment_block_without_progress_has_no_service(d3):
    t = _link(d3[0], "T")
    assert (_number(t.Wait_First_Response), _number(t.Wait_First_Service)) == (4, None)


def test_d3_qr_second_overlapping_request_is_excluded(d3):
    links = d3[0]
    first, second = _link(links, "Qr", 1), _link(links, "Qr", 2)
    assert (_number(first.Wait_First_Response), _number(first.Wait_First_Service)) == (9, 19)
    assert _number(second.Overlap_Excluded) == 1
    assert (_number(second.Wait_First_Response), _number(second.Wait_First_Service)) == (None, None)


def test_d3_u_existing_client_request_is_dropped(d3):
    assert (d3[0][PERSON] == "U").sum() == 0


def test_d3_la_medians_band_65_and_above(d3):
    medians = d3[1]
    got = {
        (r.Metric, _date(r.Period_Start)): (r.Median_Waiting_Time, r.Number_Of_Waiting_Times_Identified)
        for r in medians.itertuples()
        if r.Age_Band == "65 and above" and r.LA_Code == "318"
    }
    assert got == {
        ("WT1", "2024-04-01"): (19, 1),
        ("WT1", "2024-07-01"): (2.0, 2),
        ("WT1", "2024-10-01"): (9, 1),
        ("WT2", "2024-04-01"): (45, 1),
        ("WT2", "2024-07-01"): (9, 1),
        ("WT2", "2024-10-01"): (19, 1),
    }
    assert set(medians.Age_Band) == {"65 and above"}
