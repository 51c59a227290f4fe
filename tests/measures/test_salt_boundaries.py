"""Inclusive and exclusive ends of every SALT date window and age band (salt.md §1.3, §1.7, §2-§9).

One council per case; the expected values are worked out by hand from salt.md (the reasoning is in the comment
above each case). Period: PS 2023-04-01, PE 2023-12-31 (salt_fixtures).
"""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from salt_fixtures import PERIOD, cells, frame, request, row, service

from ascld.measures.salt import compute_salt

LT_COMMUNITY = "Long Term Support: Community"
LT_RESIDENTIAL = "Long Term Support: Residential Care"
ST_MAX = "Short Term Support: ST-Max"
OLL = "Short Term Support: Ongoing Low Level"
PLANNING = "Progress to Support Planning / Services"
DECEASED = "NFA - Deceased"
INFO = "NFA - Information & Advice / Signposting only"
MH = "Mental Health Support"


def run(rows, *measures):
    return compute_salt(frame(rows), period=PERIOD, engine="duckdb", measures=list(measures))


# ------------------------------------------------------------------------------------------------------------
# STS001: the request cluster end in [PS, PE] (§2 step 3) and the 3-day sequel chain gap (§1.7 step 4)
# ------------------------------------------------------------------------------------------------------------


def sts001_rows():
    r = []
    # J01 ends on PS and J03 on PE (BETWEEN is inclusive): counted, no onward events -> type 1. J02 ends the day
    # before PS: not counted.
    r += [request("j1", "2023-03-25", "2023-04-01", DECEASED, la="J01")]
    r += [request("j2", "2023-03-25", "2023-03-31", DECEASED, la="J02")]
    r += [request("j3", "2023-12-28", "2023-12-31", DECEASED, la="J03")]
    # F01: the service starts 3 days after the assessment ends (DATEDIFF = 3, not > 3): Flag 1, the chain holds
    # and the service is the sequel. F02: 4 days: Flag 0 breaks the chain at the service; only the assessment
    # (no usable outcome) is kept and the request outcome has code 2 -> 'No Service Found'.
    for la, service_start in (("F01", "2023-06-13"), ("F02", "2023-06-14")):
        r += [
            request(la, "2023-06-01", "2023-06-05", "Progress to Assessment", la=la),
            row(la, "Assessment", "2023-06-07", "2023-06-10", la=la, Event_Outcome=PLANNING),
            service(la, OLL, service_start, "2023-07-31", la=la),
        ]
    # F03: the first onward event starts exactly 28 days after the request (not > 28): in scope. F04: 29 days
    # and closed: out of scope -> type 5.
    for la, start in (("F03", "2023-07-03"), ("F04", "2023-07-04")):
        r += [
            request(la, "2023-06-01", "2023-06-05", DECEASED, la=la),
            row(la, "Assessment", start, "2023-07-10", la=la, Event_Outcome="NFA - Support declined"),
        ]
    return r


STS001_CASES = {
    "J01": {"No_Chronology_No Services Provided - Deceased": 1},
    "J02": {},
    "J03": {"No_Chronology_No Services Provided - Deceased": 1},
    "F01": {OLL: 1},
    "F02": {"No Service Found": 1},
    "F03": {"No Services Provided - other reason": 1},
    "F04": {"No_Chronology_No Services Provided - Deceased": 1},
}


@pytest.fixture(scope="module")
def sts001():
    return run(sts001_rows(), "SALT STS001")


@pytest.mark.parametrize(("la", "expected"), STS001_CASES.items(), ids=list(STS001_CASES))
def test_sts001_window_and_chain_boundaries(sts001, la, expected):
    assert cells(sts001, "SALT STS001", "Sequel", la_code=la) == expected


# ------------------------------------------------------------------------------------------------------------
# STS002a: 3 days to the first onward event (§1.7, §3 step 5); STS002b: clusters ending on PE (§4 step 2)
# ------------------------------------------------------------------------------------------------------------


def st_max_journey(person, la, st_max_start, st_max_end, outcome, later=()):
    """A request that STS001 resolves to ST-Max (it ends 2 days before the ST-Max), the ST-Max, later rows."""
    first = date.fromisoformat(st_max_start)
    rows = [
        request(
            person,
            (first - timedelta(days=6)).isoformat(),
            (first - timedelta(days=2)).isoformat(),
            "Progress to Reablement/ST-Max",
            la=la,
        ),
        service(person, ST_MAX, st_max_start, st_max_end, la=la, Event_Outcome=outcome),
    ]
    return rows + list(later)


def test_sts002a_first_onward_event_boundary():
    rows = []
    # G01: residential care (closed) starts 3 days after the ST-Max ends: in scope -> type 2, long-term support.
    # G02: 4 days (> 3, Rn = 1, closed): out of scope -> type 5; the ST-Max outcome has no STS002a mapping.
    for la, start in (("G01", "2023-07-03"), ("G02", "2023-07-04")):
        rows += st_max_journey(
            la, la, "2023-06-10", "2023-06-30", PLANNING, [service(la, LT_RESIDENTIAL, start, "2023-07-31", la=la)]
        )
    result = run(rows, "SALT STS002a")
    assert {la: cells(result, "SALT STS002a", "Sequel", la_code=la) for la in ("G01", "G02")} == {
        "G01": {"Long Term Support (any setting)": 1},
        "G02": {"No_Chronology_Unable_To_Classify": 1},
    }


def test_sts002b_cluster_ending_on_pe_counts_and_before_ps_does_not():
    rows = []
    # N01: an ST-Max ending on PE inside an open community service: counted. N02: ending the day before PS.
    for la, start, end in (("N01", "2023-12-20", "2023-12-31"), ("N02", "2023-03-20", "2023-03-31")):
        rows += [
            service(la, LT_COMMUNITY, "2023-01-01", la=la),
            service(la, ST_MAX, start, end, la=la, Event_Outcome="Service ended as planned"),
        ]
    result = run(rows, "SALT STS002b")
    assert {la: cells(result, "SALT STS002b", "Total", la_code=la) for la in ("N01", "N02")} == {
        "N01": {"Total": 1},
        "N02": {},
    }


# ------------------------------------------------------------------------------------------------------------
# LTS001a (in year), LTS001b and LTS001c (snapshot at PE)
# ------------------------------------------------------------------------------------------------------------


def test_lts001a_in_year_window_ends():
    # Event_Start_Date <= PE, Event_End_Date >= PS, Date_of_Death >= PS: each end is inclusive.
    cases = {
        "I01": ({"end": "2023-04-01"}, {"18-64": 1}),
        "I02": ({"end": "2023-03-31"}, {}),
        "I03": ({"start": "2023-12-31"}, {"18-64": 1}),
        "I04": ({"start": "2024-01-01"}, {}),
        "I05": ({"Date_of_Death": "2023-04-01"}, {"18-64": 1}),
        "I06": ({"Date_of_Death": "2023-03-31"}, {}),
    }
    rows = []
    for la, (change, _) in cases.items():
        fields = dict(change)
        start, end = fields.pop("start", "2023-01-01"), fields.pop("end", None)
        rows.append(service(la, LT_COMMUNITY, start, end, la=la, Primary_Support_Reason=MH, **fields))
    result = run(rows, "SALT LTS001a")
    assert {la: cells(result, "SALT LTS001a", "Age band", la_code=la) for la in cases} == {
        la: expected for la, (_, expected) in cases.items()
    }


def test_lts001b_snapshot_ends():
    # Open at PE: Event_End_Date >= PE and Date_of_Death >= PE, both inclusive.
    cases = {
        "H01": ({"end": "2023-12-31"}, {"18-64": 1}),
        "H02": ({"end": "2023-12-30"}, {}),
        "H03": ({"Date_of_Death": "2023-12-31"}, {"18-64": 1}),
        "H04": ({"Date_of_Death": "2023-12-30"}, {}),
    }
    rows = []
    for la, (change, _) in cases.items():
        fields = dict(change)
        end = fields.pop("end", None)
        rows.append(service(la, LT_COMMUNITY, "2023-01-01", end, la=la, Primary_Support_Reason=MH, **fields))
    result = run(rows, "SALT LTS001b")
    assert {la: cells(result, "SALT LTS001b", "Age band", la_code=la) for la in cases} == {
        la: expected for la, (_, expected) in cases.items()
    }


def test_lts001c_chain_start_and_open_row_ends():
    # Chain_Start_Date < PE - 12 months (2022-12-31, exclusive) and Proxy_End_Date >= PE (inclusive).
    cases = {
        "K01": (("2022-12-30", None), {"18-64": 1}),
        "K02": (("2022-06-01", "2023-12-31"), {"18-64": 1}),
        "K03": (("2022-06-01", "2023-12-30"), {}),
    }
    rows = [
        service(la, LT_COMMUNITY, start, end, la=la, Primary_Support_Reason=MH)
        for la, ((start, end), _) in cases.items()
    ]
    result = run(rows, "SALT LTS001c")
    assert {la: cells(result, "SALT LTS001c", "Age band", la_code=la) for la in cases} == {
        la: expected for la, (_, expected) in cases.items()
    }


# ------------------------------------------------------------------------------------------------------------
# LTS003 carer age bands (§9 step 4)
# ------------------------------------------------------------------------------------------------------------


def test_lts003_age_band_ends():
    # Ages at PE (born in January of PE.year - age, so 365.25-day age = age): < 18, 18-25, 26-64, 65-84, > 84.
    expected = {
        17: "Carer aged under 18",
        18: "Carer aged 18-25",
        25: "Carer aged 18-25",
        26: "Carer aged 26-64",
        64: "Carer aged 26-64",
        65: "Carer aged 65-84",
        84: "Carer aged 65-84",
        85: "Carer aged 85+",
    }
    rows = [
        row(
            f"c{age}",
            "Request",
            "2023-05-01",
            "2023-05-02",
            la=f"A{age}",
            age=age,
            Event_Outcome=INFO,
            Client_Type="Carer",
        )
        for age in expected
    ]
    result = run(rows, "SALT LTS003")
    support = "Information, Advice and Other Universal Services / Signposting"
    found = {age: cells(result, "SALT LTS003", "Age band | Support provided", f"A{age}") for age in expected}
    assert found == {age: {f"{band} | {support}": 1} for age, band in expected.items()}
