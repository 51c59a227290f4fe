"""Regression cases the fuzz campaign (tests/quality/fuzz_returns.py) found, each reduced to a small file.

Every person is synthetic (NHS numbers in the 999 test range, invented names and postcodes).
"""

from __future__ import annotations

import csv
import datetime as dt
from pathlib import Path

import pytest

from ascld.quality import validate_return
from ascld.quality.sample import sample_rows, write_rows

SUBMISSION = dt.date(2025, 10, 20)


def _clean(tmp_path: Path, n: int = 2, seed: int = 11) -> tuple[bytes, list[bytes]]:
    data = write_rows(tmp_path / "clean.csv", sample_rows(n, seed=seed)).read_bytes()
    lines = data.split(b"\r\n")
    return lines[0], [line for line in lines[1:] if line]


@pytest.fixture
def default_csv_limit():
    """Python's csv module as a fresh process has it (values up to 128 KiB): the first check of a process."""
    before = csv.field_size_limit()
    csv.field_size_limit(131072)
    yield
    csv.field_size_limit(before)


def test_a_wide_row_with_a_long_value_after_the_first_mib_is_counted_in_a_fresh_process(tmp_path, default_csv_limit):
    # Fuzz seed 1240. The byte scan counts the values of a line at every 16 KiB; with the csv module's default
    # limit a value over 128 KiB made it skip the line, in the first call of a process only (the header read
    # raised the limit afterwards): the CLI said "more values", the library's later calls "110 values".
    header, (row, *_) = _clean(tmp_path)
    cells = row.split(b",")
    wide = b",".join([cells[0], b"a" * 200_000, *cells[2:], *[b"x"] * 60])
    path = tmp_path / "r.csv"
    path.write_bytes(header + b"\r\n" + (row + b"\r\n") * (1_100_000 // len(row)) + wide + b"\r\n")
    result = validate_return(path, submission_date=SUBMISSION)
    assert result.exit_code == 2
    first = result.problems[0]
    assert (first.check_id, first.row) == ("T009", 2 + 1_100_000 // len(row)), str(first)
    assert "110 values" in first.message, first.message


def test_identifier_shaped_values_in_shown_fields_are_not_shown(tmp_path):
    # Fuzz seeds 17 and 1251: columns swapped on a row put a date of birth into Planned units per week and a
    # postcode into Event Start Date, and the messages quoted them. Values of shown fields that look like an NHS
    # number, a postcode, or a date outside a date field are given as "the value (N/A - PID)"; others still show.
    rows = sample_rows(5, seed=11)
    moved = {
        (0, "Planned_units_per_week"): rows[0]["Date_of_Birth"],
        (1, "Gender"): rows[1]["Postcode"],
        (2, "Event_Start_Date"): rows[2]["NHS_Number"][:3]
        + " "
        + rows[2]["NHS_Number"][3:6]
        + " "
        + rows[2]["NHS_Number"][6:],
        (3, "Unit_Cost"): "1950-07-03",
    }
    for (i, column), value in moved.items():
        rows[i][column] = value
    rows[4]["Unit_Cost"] = "1.234.56"  # not a date: still shown
    rows[4]["Event_End_Date"] = "1/7/2025"  # a date in a date field: still shown
    path = write_rows(tmp_path / "swapped.csv", rows)
    result = validate_return(path, submission_date=SUBMISSION)
    written = result.write_outputs(tmp_path / "out")
    outputs = "\n".join(str(p) for p in result.problems) + "".join(p.read_text("utf-8") for p in written.values())
    for value in moved.values():
        assert value not in outputs, value
    flagged = {(p.row, p.field) for p in result.problems if "the value (N/A - PID)" in p.message}
    assert {(i + 2, column) for i, column in moved} <= flagged, sorted(flagged)
    assert '"1.234.56"' in outputs and '"1/7/2025"' in outputs


@pytest.mark.parametrize("where", ["header", "every_row"])
def test_a_header_ended_by_a_carriage_return_alone_is_named_as_mixed_line_endings(tmp_path, where):
    # Fuzz (line endings): a header line ended by CR alone, before rows ended CR LF (or rows ended CR alone with
    # one line feed inside a quoted value), was refused as "the header row cannot be read as CSV" (T007), which
    # sends the user to the column names; the file's line endings are what to fix.
    header, rows = _clean(tmp_path, n=3)
    if where == "header":
        data = header + b"\r" + b"\r\n".join(rows) + b"\r\n"
    else:
        cells = rows[0].split(b",")
        cells[9] = b'"Ma\nle"'
        data = b"\r".join([header, b",".join(cells), *rows[1:]]) + b"\r"
    path = tmp_path / "r.csv"
    path.write_bytes(data)
    result = validate_return(path, submission_date=SUBMISSION)
    assert result.exit_code == 2
    assert [p.check_id for p in result.problems] == ["T017"], [str(p) for p in result.problems]
    assert "line endings" in result.problems[0].message


def _unterminated_quote_file(tmp_path: Path) -> Path:
    """Fuzz seed 100010, reduced: blank quoted values, one row ended by LF alone among rows ended CR LF, and a
    quoted tab and line break. DuckDB's parallel reader gave up on the whole file with "CSV Error on Line: 2
    ... Value with unterminated quote found", quoting the line: the validator raised it (the CLI printed
    "Unexpected error" and the line's values)."""
    header, _ = _clean(tmp_path)
    blank = b",".join([b'""'] * 50)
    data = header + b"\r\n" + blank + b"\n" + blank + b",\r\n" + b",".join([b'""'] * 49) + b',"\t\r\n",\r\n'
    path = tmp_path / "r.csv"
    path.write_bytes(data)
    return path


def test_a_read_duckdb_gives_up_on_is_refused_as_mixed_line_endings(tmp_path):
    result = validate_return(_unterminated_quote_file(tmp_path), submission_date=SUBMISSION)
    assert result.exit_code == 2
    assert [p.check_id for p in result.problems] == ["T017"], [str(p) for p in result.problems]


def test_the_cli_refuses_it_in_one_line_without_the_line_read(tmp_path):
    from click.testing import CliRunner

    from ascld.cli import cli

    out = CliRunner().invoke(cli, ["validate", str(_unterminated_quote_file(tmp_path))])
    assert out.exit_code == 2, out.output
    assert out.output.startswith("r.csv cannot be checked: the file mixes line endings"), out.output
    assert "Unexpected error" not in out.output and "Original Line" not in out.output


def test_a_csv_error_of_duckdb_is_a_refusal_at_its_line_never_quoting_it(tmp_path):
    # Where the line endings are not mixed, DuckDB's "CSV Error on Line: N" is T010 at row N; the line it
    # quotes (here a made-up NHS number and name) is never passed on.
    from ascld.returns.reader import TransportError, open_return

    header, rows = _clean(tmp_path)
    path = tmp_path / "r.csv"
    path.write_bytes(b"\r\n".join([header, *rows]) + b"\r\n")

    def run(sql: str) -> None:
        raise RuntimeError("CSV Error on Line: 3\nOriginal Line: 9990001234,Quentin\nValue with unterminated quote")

    with open_return(path) as ret, pytest.raises(TransportError) as caught:
        ret.execute_read(None, lambda parallel: "SELECT 1", run=run)
    (problem,) = caught.value.problems
    assert (problem.check_id, problem.row) == ("T010", 3), str(problem)
    assert "9990001234" not in str(problem) and "Quentin" not in str(problem)


def test_a_header_running_into_a_data_row_is_one_problem_showing_no_value(tmp_path):
    # Fuzz seed 5166, reduced: the end of the header and the start of the first data row deleted, so line 1 is
    # 30 column names, then the rest of a person's row. Each of those cells was listed as a wrong column name,
    # quoted: the first name and last name among them.
    rows = sample_rows(2, seed=11)
    data = write_rows(tmp_path / "clean.csv", rows).read_bytes()
    header, first = data.split(b"\r\n")[:2]
    cut = header.index(b",Request: Route of Access")
    joined = header[:cut] + b"," + first.split(b",", 2)[2]  # the row from its third value on
    path = tmp_path / "r.csv"
    path.write_bytes(joined + b"\r\n" + b"\r\n".join(data.split(b"\r\n")[2:]))
    result = validate_return(path, submission_date=SUBMISSION)
    assert result.exit_code == 2
    assert [(p.check_id, p.row) for p in result.problems] == [("T007", 1)], [str(p) for p in result.problems]
    assert "from column 31 on" in result.problems[0].message, result.problems[0].message
    shown = str(result.problems[0])
    for column in ("First_Name", "Last_Name", "NHS_Number", "Postcode", "Date_of_Birth", "Gender"):
        assert rows[0][column] not in shown, column


def test_a_previous_return_duckdb_cannot_split_is_a_q007_warning_not_a_refusal_of_the_return(tmp_path):
    # Found while extending the fuzz campaign to --previous: a previous return with mixed line endings raised T017 out
    # of validate_return (its byte checks and header passed; DuckDB then gave up on its rows), so the CLI
    # refused the current, clean return with exit code 2 and reported none of its checks.
    header, rows = _clean(tmp_path, n=4)
    current = tmp_path / "current.csv"
    current.write_bytes(b"\r\n".join([header, *rows]) + b"\r\n")
    cells = rows[1].split(b",")
    cells[9] = b"Ma\nle"
    previous = tmp_path / "previous.csv"
    previous.write_bytes(b"\r\n".join([header, rows[0], b",".join(cells), *rows[2:]]) + b"\r\n")
    result = validate_return(current, previous=previous, submission_date=SUBMISSION)
    clean = validate_return(current, submission_date=SUBMISSION)
    assert result.usable and result.exit_code == clean.exit_code
    (q007,) = [p for p in result.problems if p.check_id == "Q007"]
    assert "mixes line endings" in q007.message, q007.message
