"""SALT building blocks (salt.md §1): ages, person ID, latest versions and submission, islands, semantics."""

from __future__ import annotations

from datetime import date, datetime

import ibis
import pyarrow as pa
import pytest
from salt_fixtures import PE, PERIOD, frame, row

from ascld.engine import connect
from ascld.errors import UsageError
from ascld.measures.salt import SaltPeriod, prepare_input
from ascld.measures.salt.common import (
    age_at,
    assign_person_id,
    eq_ci,
    in_ci,
    islands,
    latest_single_submission,
    latest_versions,
    like_ci,
    months_before,
    request_key,
)


@pytest.fixture(scope="module")
def con():
    return connect("duckdb")


def values(con, expr) -> list:
    return list(con.execute(expr))


# ------------------------------------------------------------------------------------------------------------
# §1.3 ages; DATEADD
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("dob", "at", "age"),
    [
        (date(2000, 3, 1), date(2018, 3, 1), 17),  # main-tables.md §0: 6574 / 365.25 = 17.998
        (date(2000, 3, 1), date(2018, 3, 2), 18),  # 6575 / 365.25 = 18.001
        (date(1958, 12, 1), date(2023, 12, 1), 64),  # 23741 / 365.25 = 64.999: not yet 65+
        (date(1958, 11, 1), date(2023, 12, 1), 65),  # 23771 / 365.25 = 65.08
        (date(2024, 1, 1), date(2023, 12, 31), -1),  # FLOOR of a negative number
    ],
)
def test_age_is_floor_of_days_over_365_25(con, dob, at, age):
    t = ibis.memtable(pa.table({"dob": pa.array([dob], pa.date32())}))
    assert values(con, t.select(a=age_at(t.dob, at)).a) == [age]


@pytest.mark.parametrize(
    ("d", "months", "expected"),
    [
        (date(2023, 12, 31), 12, date(2022, 12, 31)),
        (date(2024, 2, 29), 12, date(2023, 2, 28)),
        (date(2024, 3, 31), 1, date(2024, 2, 29)),
    ],
)
def test_months_before_clamps_to_month_end(d, months, expected):
    assert months_before(d, months) == expected


# ------------------------------------------------------------------------------------------------------------
# SQL Server text semantics
# ------------------------------------------------------------------------------------------------------------


def test_equality_is_case_insensitive_and_ignores_trailing_spaces_only(con):
    t = ibis.memtable(
        pa.table({"s": ["Service User", "SERVICE USER  ", " Service User", "Service User\t", None]})
    )
    assert values(con, t.select(x=eq_ci(t.s, "service user")).x) == [True, True, False, False, None]


def test_not_in_is_unknown_on_null(con):
    t = ibis.memtable(pa.table({"s": pa.array(["Request", None], pa.string())}))
    assert values(con, t.select(x=~in_ci(t.s, ["Service"])).x) == [True, None]


def test_like_without_wildcard_keeps_trailing_spaces_significant(con):
    t = ibis.memtable(pa.table({"s": ["request", "Request "]}))
    assert values(con, t.select(x=like_ci(t.s, "Request")).x) == [True, False]


def test_known_values_get_one_spelling_unknown_values_are_kept(con):
    rows = [
        row("A", "request", "2023-06-01", Event_Outcome="nfa - deceased  ", Client_Type="SERVICE USER"),
        row("B", "Request", "2023-06-01", Event_Outcome="Local outcome"),
    ]
    t = prepare_input(frame(rows))
    out = con.execute(t.select("Event_Type", "Event_Outcome", "Client_Type"))
    assert out.Event_Type.tolist() == ["Request", "Request"]
    assert out.Event_Outcome.tolist() == ["NFA - Deceased", "Local outcome"]
    assert out.Client_Type.tolist() == ["Service User", "Service User"]


def test_missing_input_columns_are_all_listed():
    with pytest.raises(UsageError, match=r"`Accommodation_Status`, .*`Event_Type`, .*`LA_Code`, "):
        prepare_input(pa.table({"ImportDate": [datetime(2024, 1, 1)]}).append_column("x", pa.array([1])))


def test_period_defaults_follow_the_q3_code():
    assert PERIOD.event_window_close == date(2024, 2, 1)
    assert PERIOD.submission_window_close == date(2024, 3, 1)
    assert PERIOD.year_start == date(2023, 4, 1)
    full_year = SaltPeriod.for_period(date(2023, 4, 1), date(2024, 3, 31))
    assert (full_year.event_window_close, full_year.year_start) == (date(2024, 5, 1), date(2023, 4, 1))


# ------------------------------------------------------------------------------------------------------------
# §1.2 person identifier
# ------------------------------------------------------------------------------------------------------------


def test_person_id_follows_the_worked_example(con):
    rows = [
        row(
            "x", "Request", "2023-06-01", Der_NHS_Number_Traced_Pseudo="123", LA_Person_Unique_Identifier=None
        ),
        row(
            "x",
            "Request",
            "2023-06-02",
            Der_NHS_Number_Traced_Pseudo="123",
            LA_Person_Unique_Identifier="456",
        ),
        row(
            "x", "Request", "2023-06-03", Der_NHS_Number_Traced_Pseudo=None, LA_Person_Unique_Identifier="456"
        ),
        row(
            "x", "Request", "2023-06-04", Der_NHS_Number_Traced_Pseudo=None, LA_Person_Unique_Identifier="789"
        ),
        row(
            "x", "Request", "2023-06-05", Der_NHS_Number_Traced_Pseudo=None, LA_Person_Unique_Identifier=None
        ),
    ]
    out = con.execute(assign_person_id(prepare_input(frame(rows))).order_by("Event_Start_Date"))
    assert out.ID.tolist() == ["123", "123", "789"]


def test_la_identifier_linked_in_another_council_is_not_used(con):
    rows = [
        row(
            "x",
            "Request",
            "2023-06-01",
            la="101",
            Der_NHS_Number_Traced_Pseudo="N1",
            LA_Person_Unique_Identifier="L9",
        ),
        row(
            "x",
            "Request",
            "2023-06-02",
            la="202",
            Der_NHS_Number_Traced_Pseudo=None,
            LA_Person_Unique_Identifier="L9",
        ),
    ]
    out = con.execute(assign_person_id(prepare_input(frame(rows))))
    assert out.LA_Code.tolist() == ["101"]


def test_la_identifier_is_linked_case_insensitively_and_ids_group_so(con):
    # salt.md §1.2 with main-tables.md §0: the code's join on the LA identifier and its GROUP BYs on ID use a
    # case-insensitive collation that ignores trailing spaces.
    rows = [
        row("x", "Request", "2023-06-01", Der_NHS_Number_Traced_Pseudo="N1", LA_Person_Unique_Identifier="L-AB"),
        row("x", "Request", "2023-06-02", Der_NHS_Number_Traced_Pseudo=None, LA_Person_Unique_Identifier="l-ab "),
        row("x", "Request", "2023-06-03", Der_NHS_Number_Traced_Pseudo="n2 ", LA_Person_Unique_Identifier=None),
        row("x", "Request", "2023-06-04", Der_NHS_Number_Traced_Pseudo="N2", LA_Person_Unique_Identifier=None),
    ]
    out = con.execute(assign_person_id(prepare_input(frame(rows))).order_by("Event_Start_Date"))
    assert out.ID.tolist() == ["N1", "N2", "N2"]


# ------------------------------------------------------------------------------------------------------------
# §1.4 latest version of each event
# ------------------------------------------------------------------------------------------------------------


def test_latest_version_replaces_an_old_open_version(con):
    rows = [
        row(
            "A",
            "Request",
            "2023-06-01",
            None,
            ImportDate=datetime(2023, 7, 1),
            Request_Route_of_Access="Prison",
        ),
        row(
            "A",
            "Request",
            "2023-06-01",
            "2023-06-05",
            ImportDate=datetime(2023, 10, 1),
            Request_Route_of_Access="prison",
        ),  # same key: the route is compared case-insensitively
        row(
            "A",
            "Request",
            "2023-06-01",
            "2023-06-09",
            ImportDate=datetime(2024, 2, 1, 9, 0),
            Request_Route_of_Access="Prison",
        ),  # after W (midnight on 2024-02-01): ignored
    ]
    t = assign_person_id(prepare_input(frame(rows)))
    out = con.execute(latest_versions(t, request_key, PERIOD.event_window_close))
    assert out.Event_End_Date.astype(str).tolist() == ["2023-06-05"]


def test_latest_version_keeps_every_row_of_the_key_in_the_latest_file(con):
    same_file = datetime(2023, 10, 1)
    rows = [
        row("A", "Request", "2023-06-01", "2023-06-05", ImportDate=same_file, Event_Outcome="NFA - Deceased"),
        row("A", "Request", "2023-06-01", "2023-06-06", ImportDate=same_file, Event_Outcome="NFA- Other"),
        row("A", "Request", "2023-06-01", "2023-06-07", ImportDate=datetime(2023, 9, 1)),
    ]
    t = assign_person_id(prepare_input(frame(rows)))
    out = con.execute(latest_versions(t, request_key, PERIOD.event_window_close))
    assert sorted(out.Event_End_Date.astype(str)) == ["2023-06-05", "2023-06-06"]


# ------------------------------------------------------------------------------------------------------------
# §1.5 latest single submission
# ------------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("imports", "chosen"),
    [
        # date(ImportDate) <= 2024-03-01 includes a file imported at 10:00 that day; 2024-03-02 is too late.
        (
            [datetime(2024, 1, 10), datetime(2024, 3, 1, 10, 0), datetime(2024, 3, 2)],
            datetime(2024, 3, 1, 10, 0),
        ),
        # ImportDate > PE means after midnight at the start of 2023-12-31.
        ([datetime(2023, 12, 30, 23, 0), datetime(2023, 12, 31, 9, 0)], datetime(2023, 12, 31, 9, 0)),
        ([datetime(2023, 12, 30, 23, 0)], None),
    ],
)
def test_latest_single_submission_window(con, imports, chosen):
    rows = [row("A", "Service", "2023-06-01", ImportDate=when) for when in imports]
    out = con.execute(latest_single_submission(prepare_input(frame(rows)), PERIOD))
    assert out.ImportDate.tolist() == ([] if chosen is None else [chosen])


def test_latest_single_submission_needs_the_stated_period_to_cover_the_year(con):
    rows = [
        row("A", "Service", "2023-06-01", ImportDate=datetime(2024, 1, 10)),
        row(
            "A",
            "Service",
            "2023-06-01",
            ImportDate=datetime(2024, 2, 10),
            Reporting_Period_Start_Date="2023-04-02",
        ),
        row(
            "A",
            "Service",
            "2023-06-01",
            ImportDate=datetime(2024, 2, 20),
            Reporting_Period_End_Date="2023-12-30",
        ),
    ]
    out = con.execute(latest_single_submission(prepare_input(frame(rows)), PERIOD))
    assert out.ImportDate.tolist() == [datetime(2024, 1, 10)]


def test_latest_single_submission_matches_council_names_case_insensitively(con):
    rows = [
        row("A", "Service", "2023-06-01", ImportDate=datetime(2024, 1, 10), LA_Name="Council X"),
        row("A", "Service", "2023-06-02", ImportDate=datetime(2024, 2, 10), LA_Name="COUNCIL X"),
    ]
    out = con.execute(latest_single_submission(prepare_input(frame(rows)), PERIOD))
    assert out.ImportDate.tolist() == [datetime(2024, 2, 10)]


def test_latest_single_submission_matches_council_codes_case_insensitively(con):
    # main-tables.md §7.1 partitions by (LA_Name, LA_Code), compared under the case-insensitive collation of
    # §0 (trailing spaces ignored): the later file wins although its code is spelt differently ...
    name = {"LA_Name": "Council X"}
    rows = [
        row("A", "Service", "2023-06-01", ImportDate=datetime(2024, 1, 10), la="e06000001", **name),
        row("A", "Service", "2023-06-02", ImportDate=datetime(2024, 2, 10), la="E06000001 ", **name),
    ]
    out = con.execute(latest_single_submission(prepare_input(frame(rows)), PERIOD))
    assert out.ImportDate.tolist() == [datetime(2024, 2, 10)]
    # ... and one file whose rows spell the code two ways is one file: MIN start / MAX end over all its rows.
    imported = {"ImportDate": datetime(2024, 1, 10), **name}
    START, END = "Reporting_Period_Start_Date", "Reporting_Period_End_Date"
    rows = [
        row("A", "Service", "2023-06-01", la="318", **imported, **{START: date(2023, 4, 1), END: date(2023, 6, 30)}),
        row("B", "Service", "2023-08-01", la="318 ", **imported, **{START: date(2023, 7, 1), END: PE}),
    ]
    out = con.execute(latest_single_submission(prepare_input(frame(rows)), PERIOD))
    assert len(out) == 2


# ------------------------------------------------------------------------------------------------------------
# §1.6 islands and gaps
# ------------------------------------------------------------------------------------------------------------


def _islands(con, spans, gap=4, la=None):
    data = {
        "LA_Code": la or ["318"] * len(spans),
        "ID": ["P"] * len(spans),
        "o": [f"outcome {i}" for i in range(len(spans))],
        "s": pa.array([date.fromisoformat(a) for a, _ in spans], pa.date32()),
        "e": pa.array([date.fromisoformat(b) for _, b in spans], pa.date32()),
    }
    t = ibis.memtable(pa.table(data))
    out = con.execute(islands(t, gap=gap, start="s", end="e", count_name="n", start_name="first"))
    return sorted((r.LA_Code, str(r.s.date()), int(r.n), str(r.first.date())) for r in out.itertuples())


def test_island_uses_the_previous_row_not_a_running_maximum(con):
    # salt.md §1.6: C's previous row is B (ends 01-06), so C starts a new island although A covers it.
    spans = [("2023-01-01", "2023-03-31"), ("2023-01-05", "2023-01-06"), ("2023-03-01", "2023-03-02")]
    assert _islands(con, spans) == [
        ("318", "2023-01-01", 1, "2023-01-01"),
        ("318", "2023-01-05", 1, "2023-01-01"),
        ("318", "2023-03-01", 2, "2023-03-01"),
    ]


@pytest.mark.parametrize(("gap", "joined"), [(4, True), (3, False)])
def test_island_gap_is_inclusive(con, gap, joined):
    # The second row starts 4 days after the first ends: previous end >= start - gap.
    out = _islands(con, [("2023-10-02", "2023-10-03"), ("2023-10-07", "2023-10-09")], gap=gap)
    assert (out[1][2] == 1) is joined


def test_rows_with_identical_dates_share_an_island(con):
    # Two rows with the same dates but different outcomes: one island number for both (RANGE frame).
    spans = [("2023-05-01", "2023-05-03"), ("2023-05-01", "2023-05-03"), ("2023-06-01", "2023-06-02")]
    assert [n for _, _, n, _ in _islands(con, spans)] == [1, 1, 2]


def test_island_number_is_joined_back_without_the_council(con):
    # The same person ID with identical dates in two councils picks up both councils' island numbers.
    spans = [("2023-01-01", "2023-01-02"), ("2023-05-01", "2023-05-02"), ("2023-05-01", "2023-05-02")]
    out = _islands(con, spans, la=["101", "101", "202"])
    assert out == [
        ("101", "2023-01-01", 1, "2023-01-01"),
        ("101", "2023-05-01", 1, "2023-01-01"),
        ("101", "2023-05-01", 2, "2023-05-01"),
        ("202", "2023-05-01", 1, "2023-05-01"),
        ("202", "2023-05-01", 2, "2023-05-01"),
    ]


def test_one_spelling_by_query_and_in_emitted_sql_agree():
    """main-tables.md §0: values that differ only in case or trailing spaces are one value. Run here, the input's
    spellings are found by one query of its distinct values; in emitted SQL by a join. Both give each value the
    least spelling of its key, and leave single spellings and NULLs alone."""
    from ascld.measures.salt.common import _one_spelling_sql, _one_spellings

    values = ["Local outcome", "local outcome ", "LOCAL OUTCOME", None, "Other", "Ünïcode", "ünïcode"]
    t = ibis.memtable({"n": list(range(len(values))), "Event_Outcome": values})
    by_query = t.mutate(Event_Outcome=t.Event_Outcome.substitute(_one_spellings(t, ["Event_Outcome"])["Event_Outcome"]))
    by_sql = _one_spelling_sql(t, "Event_Outcome")
    got = [sorted(x.to_pyarrow().to_pylist(), key=lambda r: r["n"]) for x in (by_query, by_sql)]
    assert got[0] == got[1]
    assert [r["Event_Outcome"] for r in got[0]] == [
        "LOCAL OUTCOME", "LOCAL OUTCOME", "LOCAL OUTCOME", None, "Other", "Ünïcode", "Ünïcode"
    ]
