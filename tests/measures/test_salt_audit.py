"""Rules of salt.md that the audit found without a test of their own (see docs/measures-salt.md, Audit).

One council per case; every expected value is worked out by hand from salt.md (reasoning in the comments).
Period: PS 2023-04-01, PE 2023-12-31, W 2024-02-01 (salt_fixtures).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta

from salt_fixtures import PERIOD, cells, frame, request, row, service

from ascld.measures.salt import compute_salt

LT_COMMUNITY = "Long Term Support: Community"
LT_RESIDENTIAL = "Long Term Support: Residential Care"
ST_MAX = "Short Term Support: ST-Max"
OLL = "Short Term Support: Ongoing Low Level"
MH = "Mental Health Support"
AFTER_W = datetime(2024, 3, 1, 9, 0)


def run(rows, *measures):
    return compute_salt(frame(rows), period=PERIOD, engine="duckdb", measures=list(measures))


def test_sts001_assessments_ignore_the_event_window_and_services_do_not():
    # salt.md §1.4: requests and services imported after W are dropped; assessments and reviews are all kept.
    # W01: the only onward event is an assessment imported after W: still the sequel (NFA with code 1, type 3).
    # W02: the only onward event is a service imported after W: dropped, so no onward events (type 1,
    # 'Progress to Assessment' maps to Unable_To_Classify).
    rows = [
        request("w1", "2023-06-01", "2023-06-05", "Progress to Assessment", la="W01"),
        row(
            "w1",
            "Assessment",
            "2023-06-07",
            "2023-06-20",
            la="W01",
            Event_Outcome="NFA - Support declined",
            ImportDate=AFTER_W,
        ),
        request("w2", "2023-06-01", "2023-06-05", "Progress to Assessment", la="W02"),
        service("w2", OLL, "2023-06-07", "2023-06-20", la="W02", ImportDate=AFTER_W),
    ]
    result = run(rows, "SALT STS001")
    assert {la: cells(result, "SALT STS001", "Sequel", la) for la in ("W01", "W02")} == {
        "W01": {"No Services Provided - other reason": 1},
        "W02": {"No_Chronology_Unable_To_Classify": 1},
    }


def test_outcome_hierarchy_gives_99_to_the_spellings_it_does_not_list():
    # salt.md §1.8: the tie-break table spells `NFA - 100% NHS-funded care`, so the Release 1 value
    # `NFA - 100% NHS funded care` is unmatched (99) and `NFA- Other` (19) wins the tie on the latest end date.
    # No onward events -> type 1 with the STS001 mapping of `NFA- Other`.
    rows = [
        request("h1", "2023-06-01", "2023-06-05", "NFA - 100% NHS funded care", la="X01"),
        request("h1", "2023-06-02", "2023-06-05", "NFA- Other", la="X01"),
    ]
    result = run(rows, "SALT STS001")
    assert cells(result, "SALT STS001", "Record type | Final outcome | Sequel", "X01") == {
        "1 | No_Chronology_NFA- Other | No_Chronology_No Services Provided - other reason": 1
    }


def test_sts001_null_outcome_defeats_the_new_client_removal():
    # salt.md §2 step 4: the removal join also matches the outcome; a NULL outcome never matches, so a request
    # starting inside an open long-term service is kept as "new". It has no onward events (the service started
    # before it) and a NULL cluster outcome: type 1, 'No_Chronology_' + NULL, mapped Unable_To_Classify.
    rows = [
        service("n1", LT_COMMUNITY, "2023-01-01", la="Y01"),
        request("n1", "2023-06-01", "2023-06-05", None, la="Y01"),
        # Y02: the same with an outcome: not a new client, no row.
        service("n2", LT_COMMUNITY, "2023-01-01", la="Y02"),
        request("n2", "2023-06-01", "2023-06-05", "Progress to Assessment", la="Y02"),
    ]
    result = run(rows, "SALT STS001")
    assert cells(result, "SALT STS001", "Record type | Final outcome | Sequel", "Y01") == {
        "1 | (null) | No_Chronology_Unable_To_Classify": 1
    }
    assert cells(result, "SALT STS001", "Total", "Y02") == {}


def test_ascof_2a_release_1_rounds_once_half_away_from_zero():
    # salt.md §3 (ASCOF 2A Release 1): 9 ST-Max clusters followed by ongoing low-level support (numerator and
    # denominator) and 7 by residential care (denominator only): 100 x 9 / 16 = 56.25 -> 56.3.
    rows = []
    for n in range(16):
        person = f"r{n}"
        first = date(2023, 5, 1) + timedelta(days=10 * n)
        rows += [
            request(
                person,
                (first - timedelta(days=6)).isoformat(),
                (first - timedelta(days=2)).isoformat(),
                "Progress to Reablement/ST-Max",
                la="Z01",
            ),
            service(
                person,
                ST_MAX,
                first.isoformat(),
                (first + timedelta(days=5)).isoformat(),
                la="Z01",
                Event_Outcome="Service ended as planned",
            ),
            service(
                person,
                OLL if n < 9 else LT_RESIDENTIAL,
                (first + timedelta(days=7)).isoformat(),
                (first + timedelta(days=30)).isoformat(),
                la="Z01",
            ),
        ]
    result = run(rows, "ASCOF 2A (Release 1)")
    council = result[result.la_code == "Z01"].iloc[0]
    assert (council.numerator, council.denominator, council.value) == (9, 16, 56.3)


def test_lts001a_under_18_is_in_neither_table():
    # salt.md §5: Table 1a is 18-64 and Table 1b is 65+; a 17-year-old is in neither.
    rows = [service("y", LT_COMMUNITY, "2023-05-01", la="Q01", age=17, Primary_Support_Reason=MH)]
    result = run(rows, "SALT LTS001a")
    assert result[result.la_code == "Q01"].empty
