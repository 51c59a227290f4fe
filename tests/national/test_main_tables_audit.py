"""Exactness audit of the main tables against the letter of main-tables.md.

Each test names the section it follows; expected values are worked by hand from that text.
"""

from __future__ import annotations

import pytest

from ascld.national.main_tables import BuildParams, main_table_expr, read_store
from conftest import D, T, covering_rows, submission, write_store

YEAR = BuildParams("single", D(2024, 4, 1), D(2025, 3, 31), D(2025, 5, 5))


def steps(duck, tmp_path, records, params=YEAR):
    """Every pipeline step as a lazy expression over a store written from `records`."""
    raw = read_store(duck, write_store(tmp_path / "store", records), "duckdb")
    return main_table_expr(raw, params)


def rows_of(duck, expr):
    return duck.to_pyarrow(expr.order_by("Der_Unique_Record_ID")).to_pylist()


# ---- empty strings are values, not NULLs (§0 NULL semantics; §2, §4, §5.2, §5.3)


def test_empty_event_type_counts_as_a_type_in_the_derived_period(duck, tmp_path):
    # §2 steps 3-5: types_M is COUNT(DISTINCT Event_Type); '' is a value (only NULL is not counted).
    # 2025-02: 50 rows of Request / Assessment / '' -> 3 types; 2025-03: 50 rows of the four types -> 4 types.
    # N = 100 (>= 100), each month 50 % (>= 2 %), T = 4, so a month needs >= 3 types: both months are included
    # and the derived period is 2025-02-01..2025-03-31 (with '' not counted, February would have 2 types and
    # the period would start 2025-03-01).
    rows = [
        {
            "Event_Type": ("Request", "Assessment", "")[i % 3],
            "Event_Start_Date": D(2025, 2, 1),
            "Event_End_Date": D(2025, 2, 10),
            "LA_Person_Unique_Identifier": f"A{i}",
        }
        for i in range(50)
    ] + [
        {
            "Event_Type": ("Request", "Assessment", "Service", "Review")[i % 4],
            "Event_Start_Date": D(2025, 3, 1),
            "Event_End_Date": D(2025, 3, 10),
            "LA_Person_Unique_Identifier": f"B{i}",
        }
        for i in range(50)
    ]
    records = submission(rows, imported=T(2025, 5, 1, 9), file_id="F1")
    rp = duck.to_pyarrow(steps(duck, tmp_path, records)["reporting_periods"]).to_pylist()[0]
    assert (rp["Max_Event_Types"], rp["Der_Reporting_Period_Start_Date"], rp["Der_Reporting_Period_End_Date"]) == (
        4,
        D(2025, 2, 1),
        D(2025, 3, 31),
    )


def test_empty_event_type_takes_the_non_service_branch(duck, tmp_path):
    # §4 step 2: '' NOT LIKE '%service%' is true, so an empty event type is a non-service event: kept when it
    # ends in the period, dropped when it has no end date (as the carers known by association are).
    rows = [
        {
            "Event_Type": "",
            "Event_Start_Date": D(2024, 5, 1),
            "Event_End_Date": D(2024, 5, 2),
            "LA_Person_Unique_Identifier": "closed",
        },
        {"Event_Type": "", "Event_Start_Date": D(2024, 5, 1), "LA_Person_Unique_Identifier": "open"},
        {
            "Event_Type": None,
            "Event_Start_Date": D(2024, 5, 1),
            "Event_End_Date": D(2024, 5, 2),
            "LA_Person_Unique_Identifier": "null type",
        },
    ]
    records = submission(covering_rows(D(2024, 4, 1), D(2025, 3, 31)) + rows, imported=T(2025, 4, 20, 9), file_id="F1")
    kept = rows_of(duck, steps(duck, tmp_path, records)["events_in_period"])
    assert [r["LA_Person_Unique_Identifier"] for r in kept if r["Event_Start_Date"] == D(2024, 5, 1)] == ["closed"]


def test_empty_identifiers_are_not_missing(duck, tmp_path):
    # §5.2: only NULL counts as missing. An empty LA identifier gives LA_Code + '_' + '' = '318_' and the row is
    # kept; an empty traced NHS number is "not NULL", so it is the combined ID.
    base = {"Event_Type": "Request", "Event_Start_Date": D(2024, 6, 1), "Event_End_Date": D(2024, 6, 3)}
    rows = [
        dict(base, LA_Person_Unique_Identifier="", Der_Unique_Record_ID=901),
        dict(base, Der_NHS_Number_Traced_Pseudo="", Der_NHS_Number_Pseudo="N1", Der_Unique_Record_ID=902),
        dict(base, Der_Unique_Record_ID=903),  # all three NULL: dropped
    ]
    records = submission(covering_rows(D(2024, 4, 1), D(2025, 3, 31)) + rows, imported=T(2025, 4, 20, 9), file_id="F1")
    out = rows_of(duck, steps(duck, tmp_path, records)["person_ids"])
    got = {
        r["Der_Unique_Record_ID"]: r["Der_NHS_LA_Combined_Person_ID"] for r in out if r["Der_Unique_Record_ID"] > 900
    }
    assert got == {901: "318_", 902: ""}


def test_empty_and_null_raw_components_are_different_events(duck, tmp_path):
    # §5.3: tuples are grouped with NULL = NULL; '' is a value, different from NULL, and equal to '  ' (SQL
    # Server's = ignores trailing spaces). Requests differing only in Request_Route_of_Access NULL / '' / '  '
    # give two references: {NULL} and {'', '  '}.
    base = {
        "Der_NHS_Number_Traced_Pseudo": "Q",
        "Event_Type": "Request",
        "Event_Start_Date": D(2024, 6, 1),
        "Event_End_Date": D(2024, 6, 3),
    }
    rows = [
        dict(base, Request_Route_of_Access=None, Der_Unique_Record_ID=901),
        dict(base, Request_Route_of_Access="", Der_Unique_Record_ID=902),
        dict(base, Request_Route_of_Access="  ", Der_Unique_Record_ID=903),
    ]
    records = submission(covering_rows(D(2024, 4, 1), D(2025, 3, 31)) + rows, imported=T(2025, 4, 20, 9), file_id="F1")
    out = rows_of(duck, steps(duck, tmp_path, records)["event_refs"])
    ref = {r["Der_Unique_Record_ID"]: r["Der_Unique_Event_Ref"] for r in out if r["Der_Unique_Record_ID"] > 900}
    assert ref[902] == ref[903] != ref[901]
    # §6.2: the two events stay two rows of the table (the later load of the '' pair wins its tie).
    table = rows_of(duck, steps(duck, tmp_path, records)["main_table"])
    assert sorted(r["Der_Unique_Record_ID"] for r in table if r["Der_NHS_LA_Combined_Person_ID"] == "Q") == [901, 903]


# ---- the as-of date (§0 datetime vs date, §3.1)


def test_as_of_equal_to_the_period_end_chooses_a_file_imported_that_day(duck, tmp_path):
    # §3.1 with §0: ImportDate > E compares with midnight at the start of E, and CONVERT(date, ImportDate) <= A.
    # With A = E, a file imported at 09:00 on E satisfies both. (On the derived basis such a file cannot cover
    # a period ending on a month end, since its eligible events end before the import month, so the stated
    # basis shows it: stated 2024-04-01..2025-03-31 covers the period.)
    records = submission(
        covering_rows(D(2024, 4, 1), D(2025, 3, 31)),
        imported=T(2025, 3, 31, 9),
        file_id="F1",
        start=D(2024, 4, 1),
        end=D(2025, 3, 31),
    )
    params = BuildParams("single", D(2024, 4, 1), D(2025, 3, 31), D(2025, 3, 31), basis="stated")
    sel = duck.to_pyarrow(steps(duck, tmp_path, records, params)["selected_submissions"]).to_pylist()
    assert [(r["ImportDate"], r["Ref_Period_Start_Date"], r["Ref_Period_End_Date"]) for r in sel] == [
        (T(2025, 3, 31, 9), D(2024, 4, 1), D(2025, 3, 31))
    ]


def test_as_of_before_the_period_end_is_refused():
    # No file can be imported after midnight at the start of E and on or before an earlier date A.
    with pytest.raises(ValueError, match="as-of"):
        BuildParams("single", D(2024, 4, 1), D(2025, 3, 31), D(2025, 3, 30)).check()
