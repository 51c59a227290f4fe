"""Two edges of the transport checks: negative numbers written '-.5' or '-5.', and an LA code with white
space other than spaces around it."""

from __future__ import annotations

import datetime as dt

from ascld.quality import validate_return
from ascld.quality.sample import sample_rows, write_rows

SUBMITTED = dt.date(2025, 10, 20)


def _service_rows(n: int) -> list[dict[str, str]]:
    rows = [r for r in sample_rows(200, seed=8) if r["Event_Type"] == "Service" and r["Unit_Cost"]]
    assert len(rows) >= n
    return rows[:n]


def test_negative_numbers_without_a_leading_or_trailing_digit_are_numbers_not_formulas(tmp_path):
    rows = _service_rows(3)
    rows[0]["Unit_Cost"], rows[1]["Unit_Cost"] = "-.5", "-5."
    result = validate_return(write_rows(tmp_path / "r.csv", rows), submission_date=SUBMITTED)
    failed = sorted((p.row, p.field, p.check_id) for p in result.problems if p.severity == "error")
    assert result.exit_code == 1 and failed == [(2, "Unit_Cost", "C012"), (3, "Unit_Cost", "C012")]


def test_a_minus_before_text_is_still_a_formula(tmp_path):
    rows = _service_rows(2)
    rows[0]["Unit_Cost"] = "-.5a"
    result = validate_return(write_rows(tmp_path / "r.csv", rows), submission_date=SUBMITTED)
    assert result.exit_code == 2 and [p.check_id for p in result.problems if p.severity == "error"] == ["T012"]


def test_white_space_around_the_la_code_is_not_another_council(tmp_path):
    rows = sample_rows(6, seed=9)
    rows[1]["LA_Code"] += "\t"
    rows[2]["LA_Code"] = "\xa0" + rows[2]["LA_Code"]
    result = validate_return(write_rows(tmp_path / "r.csv", rows), submission_date=SUBMITTED)
    assert "T013" not in {p.check_id for p in result.problems} and result.exit_code != 2
    assert result.summary["la_code"] == rows[0]["LA_Code"]


def test_loading_a_return_reads_white_space_around_the_la_code_as_one_council(tmp_path):
    import duckdb

    from ascld.returns.reader import open_return

    rows = sample_rows(4, seed=9)
    rows[1]["LA_Code"] += "\t"
    with open_return(write_rows(tmp_path / "r.csv", rows)) as ret:
        assert ret.to_duckdb(duckdb.connect(), "t") == 4  # no T013


def test_trim_ws_sql_is_python_strip():
    import duckdb
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from ascld.quality.sqlgen import WHITESPACE, trim_ws_sql

    con = duckdb.connect()
    edges = ["", "x", " x", "x ", "\tx", "x\t", "\xa0x", "x\u3000", "\x1cx", "x\x1f", "\x7f", "é ", " é", "ab", "a b"]

    def check(values: list[str]) -> None:
        con.execute("CREATE OR REPLACE TABLE t (i INTEGER, v VARCHAR)")
        con.executemany("INSERT INTO t VALUES (?, ?)", list(enumerate(values)))
        got = [r[0] for r in con.execute(f"SELECT {trim_ws_sql('v')} FROM t ORDER BY i").fetchall()]
        assert got == [v.strip() for v in values]

    check(edges + [c + "901" + c for c in WHITESPACE])
    assert con.execute(f"SELECT {trim_ws_sql('NULL::VARCHAR')}").fetchone()[0] is None

    text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=6)

    @settings(max_examples=200, deadline=None)
    @given(st.lists(text, max_size=5), text)
    def prop(middle, pad):
        check([pad + "".join(middle) + pad])

    prop()


def test_a_second_council_or_period_is_refused_naming_the_first_row_that_differs(tmp_path):
    """T013/T014 name the row (as a spreadsheet shows it) where a second LA code or stated period first
    appears, so a council can find it in a file of many thousand rows; a blank LA code there is not another."""
    rows = sample_rows(8, seed=9)
    rows[2]["LA_Code"] = ""
    rows[5]["LA_Code"] = "902" if rows[0]["LA_Code"] != "902" else "903"
    rows[6]["Reporting_Period_End_Date"] = "31/12/2025"
    result = validate_return(write_rows(tmp_path / "r.csv", rows), submission_date=SUBMITTED)
    found = {p.check_id: (p.row, p.field) for p in result.problems}
    assert result.exit_code == 2
    assert found["T013"] == (7, "LA_Code") and found["T014"] == (8, "Reporting_Period_End_Date")


def test_loading_a_return_with_two_councils_names_the_row(tmp_path):
    import duckdb
    import pytest

    from ascld.returns.reader import TransportError, open_return

    rows = sample_rows(5, seed=9)
    rows[3]["LA_Code"] = "902" if rows[0]["LA_Code"] != "902" else "903"
    with open_return(write_rows(tmp_path / "r.csv", rows)) as ret, pytest.raises(TransportError) as err:
        ret.to_duckdb(duckdb.connect(), "t")
    assert [(p.check_id, p.row) for p in err.value.problems] == [("T013", 5)]
