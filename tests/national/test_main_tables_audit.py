"""Exactness audit of the main tables against the letter of main-tables.md.

Each test names the section it follows; expected values are worked by hand from that text.
"""

from __future__ import annotations

import ibis
import pyarrow as pa
import pytest

from ascld.methodology import load_main_tables_method
from ascld.national.main_tables import BuildParams, main_table_expr, read_store
from ascld.national.main_tables.derive import add_ages, crop_services
from ascld.national.main_tables.pipeline import make_context
from ascld.national.main_tables.sql import end_of_month
from conftest import SERVICE, D, T, covering_rows, submission, write_store

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


# ---- boundaries the text implies (worked by hand; these pin the current, correct behaviour)


def period_of(duck, tmp_path, rows, imported):
    records = submission(rows, imported=imported, file_id="F1")
    rp = duck.to_pyarrow(steps(duck, tmp_path, records)["reporting_periods"]).to_pylist()[0]
    return rp["n_Eligible_Events"], rp["Der_Reporting_Period_Start_Date"], rp["Der_Reporting_Period_End_Date"]


def ending(day, n, types=("Request", "Assessment", "Service", "Review")):
    return [
        {
            "Event_Type": types[i % len(types)],
            "Event_Start_Date": day,
            "Event_End_Date": day,
            "LA_Person_Unique_Identifier": f"{day}{i}",
        }
        for i in range(n)
    ]


@pytest.mark.parametrize(
    ("may_rows", "expected"),
    [
        # §2 step 5: N = 1 + 98 = 99 < 100, so every month with an eligible row is included (April: 1 row).
        (98, (99, D(2024, 4, 1), D(2024, 5, 31))),
        # N = 1 + 99 = 100 >= 100: April has 100 * 1 / 100 = 1 % < 2 % and is excluded.
        (99, (100, D(2024, 5, 1), D(2024, 5, 31))),
    ],
)
def test_hundred_event_threshold(duck, tmp_path, may_rows, expected):
    rows = ending(D(2024, 4, 30), 1, ("Request",)) + ending(D(2024, 5, 31), may_rows)
    # §2 step 2: imported in June, so the last eligible end date is 2024-05-31; June rows are ignored.
    rows += ending(D(2024, 6, 1), 50)
    assert period_of(duck, tmp_path, rows, T(2024, 6, 1, 0, 0, 1)) == expected


def test_death_on_the_reference_period_start_is_kept(duck, tmp_path):
    # §4 step 3: Date_of_Death >= RS (2024-04-01) keeps the row; a death the day before removes it. Both are
    # open services started 2024-01-01, so §4 step 1 ends them at the death (death > start, no end date).
    base = {"Event_Type": "Service", "Event_Start_Date": D(2024, 1, 1)}
    rows = [
        dict(base, Date_of_Death=D(2024, 4, 1), LA_Person_Unique_Identifier="on"),
        dict(base, Date_of_Death=D(2024, 3, 31), LA_Person_Unique_Identifier="before"),
    ]
    records = submission(covering_rows(D(2024, 4, 1), D(2025, 3, 31)) + rows, imported=T(2025, 4, 20, 9), file_id="F1")
    kept = rows_of(duck, steps(duck, tmp_path, records)["events_in_period"])
    got = [
        (r["LA_Person_Unique_Identifier"], r["Der_Event_End_Date"])
        for r in kept
        if r["Event_Start_Date"] == D(2024, 1, 1)
    ]
    assert got == [("on", D(2024, 4, 1))]


@pytest.mark.parametrize(
    ("end", "age"),
    [
        # §5.5: proxy DOB 2000-02-01. 2018-01-31 is 6574 days (18 * 365 + 5 leap days - 1): 6574 / 365.25 =
        # 17.998 -> 17. 2018-02-01 is 6575 days: 18.001 -> 18.
        (D(2018, 1, 31), 17),
        (D(2018, 2, 1), 18),
    ],
)
def test_age_floor_across_leap_years(duck, tmp_path, end, age):
    table = ibis.memtable(
        pa.table(
            {
                "Event_Type": ["Assessment"],
                "Der_Event_End_Date": pa.array([end], pa.date32()),
                "Ref_Period_End_Date": pa.array([D(2018, 3, 31)], pa.date32()),
                "Der_Birth_Year": pa.array([2000], pa.int32()),
                "Der_Birth_Month": pa.array([2], pa.int32()),
            }
        )
    )
    row = duck.to_pyarrow(add_ages(table, load_main_tables_method())).to_pylist()[0]
    assert (row["Der_Latest_Age"], row["Der_Age_Band"]) == (age, "Under 18" if age < 18 else "18 to 24")


def test_cropping_looks_only_at_the_next_reference_period(duck):
    # §5.4: periods P1 = Q1, P2 = Q2, P3 = Q3..Q4 of 2024 for one LA.
    p1, p2, p3 = (D(2024, 1, 1), D(2024, 3, 31)), (D(2024, 4, 1), D(2024, 6, 30)), (D(2024, 7, 1), D(2024, 12, 31))
    rows = [
        ("A", p1, None),  # open in P1, event A only in P3 (not the next period) -> cropped to 2024-03-31
        ("A", p3, None),
        ("B", p1, D(2024, 5, 1)),  # ends after P1, event B in P2 (starts 2024-04-01) -> unchanged
        ("B", p2, D(2024, 5, 1)),
        ("C", p2, None),  # open in P2, not in P3 -> cropped to 2024-06-30
        ("D", p3, None),  # the last period is never cropped
        ("E", p1, D(2024, 3, 31)),  # ends inside its period: not a candidate
    ]
    table = ibis.memtable(
        pa.table(
            {
                "LA_Name_Key": ["x"] * len(rows),
                "Der_Unique_Event_Ref": [r[0] for r in rows],
                "Ref_Period_Start_Date": pa.array([r[1][0] for r in rows], pa.date32()),
                "Ref_Period_End_Date": pa.array([r[1][1] for r in rows], pa.date32()),
                "Der_Event_End_Date": pa.array([r[2] for r in rows], pa.date32()),
            }
        )
    )
    out = duck.to_pyarrow(crop_services(table)).to_pylist()
    got = sorted((r["Der_Unique_Event_Ref"], r["Ref_Period_Start_Date"], r["Der_Event_End_Date"]) for r in out)
    assert got == sorted(
        [
            ("A", D(2024, 1, 1), D(2024, 3, 31)),
            ("A", D(2024, 7, 1), None),
            ("B", D(2024, 1, 1), D(2024, 5, 1)),
            ("B", D(2024, 4, 1), D(2024, 5, 1)),
            ("C", D(2024, 4, 1), D(2024, 6, 30)),
            ("D", D(2024, 7, 1), None),
            ("E", D(2024, 1, 1), D(2024, 3, 31)),
        ],
        key=lambda r: (r[0], r[1], r[2] or D(9999, 1, 1)),
    )


# ---- NUMERIC(18,2) conversion of costs (§6, §6.2)


@pytest.mark.parametrize(
    ("cost", "units", "expected"),
    [
        # §6: the submitted value rounded once to 2 decimals, half away from zero: 10.0049999 -> 10.00 (third
        # decimal 4), never 10.005 -> 10.01 by rounding twice; 1.0049999 units -> 1.00.
        (10.0049999, 1.0049999, ("10.00", "1.00")),
        (150.005, 2.675, ("150.01", "2.68")),  # exact halves round up (the double's text, not its binary value)
        (-0.005, 0.125, ("-0.01", "0.13")),  # half away from zero below zero as well
    ],
)
def test_costs_round_once_to_two_places(duck, tmp_path, cost, units, expected):
    rows = [dict(SERVICE, Unit_Cost=cost, Planned_units_per_week=units, Der_Unique_Record_ID=901)]
    records = submission(covering_rows(D(2024, 4, 1), D(2025, 3, 31)) + rows, imported=T(2025, 4, 20, 9), file_id="F1")
    out = rows_of(duck, steps(duck, tmp_path, records)["main_table"])
    q = [r for r in out if r["Der_NHS_LA_Combined_Person_ID"] == "Q"]
    assert [(str(r["Unit_Cost"]), str(r["Planned_Units_Per_Week"])) for r in q] == [expected]


def test_cost_keys_compare_the_rounded_values(duck, tmp_path):
    # §6.2: 10.0049999 and 10.00 are one key (both 10.00), so one row is kept: the later load (§6.1 key 5).
    rows = [dict(SERVICE, Unit_Cost=c, Der_Unique_Record_ID=901 + i) for i, c in enumerate((10.0049999, 10.0))]
    records = submission(covering_rows(D(2024, 4, 1), D(2025, 3, 31)) + rows, imported=T(2025, 4, 20, 9), file_id="F1")
    out = rows_of(duck, steps(duck, tmp_path, records)["main_table"])
    q = [r for r in out if r["Der_NHS_LA_Combined_Person_ID"] == "Q"]
    assert [(r["Der_Unique_Record_ID"], str(r["Unit_Cost"])) for r in q] == [(902, "10.00")]


# ---- a file chosen for two non-adjacent quarters (§3.3, §5.4, §6.1)


def test_file_chosen_for_non_adjacent_quarters(build):
    # §3.3: file A (derived 2024-04-01..2024-12-31, imported 2025-01-20) and file B (derived
    # 2024-07-01..2024-09-30, imported 2025-02-01); joined period 2024-04-01..2024-12-31, as of 2025-03-01.
    # Q1 Apr-Jun: only A covers it -> A. Q2 Jul-Sep: A and B -> B (later import). Q3 Oct-Dec: only A -> A.
    # Collapsed: A = MIN/MAX = 2024-04-01..2024-12-31 (spanning Q2), B = 2024-07-01..2024-09-30.
    service = {
        "Der_NHS_Number_Traced_Pseudo": "S",
        "Client_Type": "Service user",
        "Event_Type": "Service",
        "Event_Start_Date": D(2024, 5, 1),
        "Service_Type": "Long term support: Community",
        "Service_Component": "Home support or domiciliary care",
        "Der_Birth_Year": 1950,
        "Der_Birth_Month": 1,
    }
    records = submission(
        covering_rows(D(2024, 4, 1), D(2024, 12, 31), person="A") + [service], imported=T(2025, 1, 20), file_id="A"
    ) + submission(
        covering_rows(D(2024, 7, 1), D(2024, 9, 30), person="B") + [service], imported=T(2025, 2, 1), file_id="B"
    )
    rows, result = build(records, "joined", D(2024, 4, 1), D(2024, 12, 31), D(2025, 3, 1))
    assert sorted(
        (s["ImportFileId"], s["Ref_Period_Start_Date"], s["Ref_Period_End_Date"]) for s in result.selected
    ) == [
        ("A", "2024-04-01", "2024-12-31"),
        ("B", "2024-07-01", "2024-09-30"),
    ]
    # §5.4: the LA's last reference period is the one with the greatest start (B, 2024-07-01), so A's period is
    # "prior": its open service is not found in a period starting 2025-01-01 and is cropped to 2024-12-31; B's
    # copy stays open. §6.1: the later Ref_Period_End_Date (A's 2024-12-31) wins. §5.5: age at the cropped end,
    # 1950-01-01 -> 2024-12-31 = 27393 days, / 365.25 = 74.99 -> 74.
    s = [r for r in rows if r["Der_NHS_LA_Combined_Person_ID"] == "S"]
    assert [(r["ImportFileId"], r["Der_Event_End_Date"], r["Der_Latest_Age"]) for r in s] == [
        ("A", D(2024, 12, 31), 74)
    ]


@pytest.mark.parametrize(
    ("month", "eomonth"),
    [(D(2024, 2, 1), D(2024, 2, 29)), (D(2100, 2, 1), D(2100, 2, 28)), (D(2000, 2, 1), D(2000, 2, 29))],
)
def test_derived_period_end_is_eomonth_in_leap_years(duck, month, eomonth):
    # §2 step 6 / §0: EOMONTH of the latest included month (2100 is not a leap year; 2000 is).
    assert duck.to_pyarrow(end_of_month(ibis.literal(month, type="date"))).as_py() == eomonth


# ---- NULL submission keys group together (§0 NULL in grouping; §1, §2, §3.4)


def test_file_with_no_la_code_keeps_its_derived_period_and_rows(duck, tmp_path):
    # §2 groups each submission by (LA_Code, LA_Name, ImportDate) and GROUP BY treats NULLs as equal (§0), so a
    # file with a NULL LA_Code is one submission with a derived period (here 2024-04-01..2025-03-31, 12 rows <
    # 100, every month included); §3.1 partitions by LA_Name and §3.4 loads its rows by (LA_Name, ImportDate).
    records = submission(covering_rows(D(2024, 4, 1), D(2025, 3, 31)), imported=T(2025, 4, 20, 9), file_id="F")
    for r in records:
        r["LA_Code"] = None
    s = steps(duck, tmp_path, records)
    periods = duck.to_pyarrow(s["reporting_periods"]).to_pylist()
    got = [(p["LA_Code"], p["Der_Reporting_Period_Start_Date"], p["Der_Reporting_Period_End_Date"]) for p in periods]
    assert got == [(None, D(2024, 4, 1), D(2025, 3, 31))]
    assert duck.execute(s["events_in_period"].count()) == 12


def test_joined_as_of_inside_the_period_chooses_files_for_the_quarters_it_can(build):
    # §3.3 calls GetSubmissions per quarter with the same as-of date A; §3.1: a quarter with no qualifying file
    # is a warning only. Period 2024-04-01..2025-09-30 as of 2025-08-12 (before E): files F1 (derived
    # 2024-04..2025-03, imported 2025-04-20) and F2 (2024-07..2025-06, imported 2025-07-18). Quarters:
    # Apr-Jun 24 -> F1 (F2 starts too late); Jul-Sep 24, Oct-Dec 24, Jan-Mar 25 -> F2 (latest);
    # Apr-Jun 25 -> F2; Jul-Sep 25 -> none (F2 ends 2025-06-30; nothing imported after 2025-09-30 by A).
    records = []
    for fid, imported, first, last in (
        ("F1", T(2025, 4, 20, 9), D(2024, 4, 1), D(2025, 3, 31)),
        ("F2", T(2025, 7, 18, 10), D(2024, 7, 1), D(2025, 6, 30)),
    ):
        records += submission(covering_rows(first, last, person=fid), imported=imported, file_id=fid)
    _, result = build(records, "joined", D(2024, 4, 1), D(2025, 9, 30), D(2025, 8, 12))
    assert [(s["ImportFileId"], s["Ref_Period_Start_Date"], s["Ref_Period_End_Date"]) for s in result.selected] == [
        ("F1", "2024-04-01", "2024-06-30"),
        ("F2", "2024-07-01", "2025-06-30"),
    ]
    assert result.warnings == ["no qualifying file for 2025-07-01..2025-09-30: X"]


def test_joined_as_of_before_the_first_quarter_ends_is_refused():
    # No quarter can get a file: nothing imported after its end is on or before A.
    params = BuildParams("joined", D(2024, 4, 1), D(2025, 3, 31), D(2024, 6, 29))
    with pytest.raises(ValueError, match="as-of"):
        make_context(params)


def test_eligible_event_count_is_reported_when_no_month_is_included(duck, tmp_path):
    # §2 step 4: N is the number of eligible rows of the file. 60 months (2020-01..2024-12) of 2 Request rows
    # each: N = 120 >= 100, every month 100 * 2 / 120 = 1.67 % < 2 %, so no month is included and both
    # derived dates are NULL (step 6), but N = 120 and T = 1 still describe the file.
    rows = []
    for year in range(2020, 2025):
        rows += [r for month in range(1, 13) for r in ending(D(year, month, 15), 2, ("Request",))]
    assert period_of(duck, tmp_path, rows, T(2025, 5, 1, 9)) == (120, None, None)
