"""Rows after empty lines are reported as a spreadsheet shows them (issue 4: every problem carries "the row as
a spreadsheet shows it"; a spreadsheet shows an empty line as an empty row, DuckDB's reader skips it)."""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import json

import duckdb
import pytest

from ascld.quality import validate_return
from ascld.quality.sample import sample_rows, write_rows
from ascld.returns.reader import TransportError, open_return

SUBMITTED = dt.date(2025, 10, 20)
BAD_ETHNICITY = "Z"  # not a value of the ethnicity list (C002): an error in a field whose value is shown


def _rows(n: int = 8) -> list[dict[str, str]]:
    return sample_rows(n, seed=9)


def _with_empty_lines(
    tmp_path, rows, *, empty_after: dict[int, int], eol: bytes = b"\r\n", gz: bool = False, name: str = "r.csv"
):
    """Write `rows`, then put `empty_after[k]` empty lines after physical line k (1 = the header)."""
    plain = write_rows(tmp_path / "plain.csv", rows)
    lines = plain.read_bytes().split(b"\r\n")
    assert lines[-1] == b""
    out: list[bytes] = []
    for number, line in enumerate(lines[:-1], start=1):
        out.append(line)
        out += [b""] * empty_after.get(number, 0)
    data = eol.join(out) + eol
    path = tmp_path / (name + (".gz" if gz else ""))
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    return path


def _found(result, check_id: str) -> list[tuple[int | None, str]]:
    return [(p.row, p.field) for p in result.problems if p.check_id == check_id]


@pytest.mark.parametrize("eol", [b"\r\n", b"\n"], ids=["crlf", "lf"])
@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzip"])
@pytest.mark.parametrize("text", ["", "Caf\xe9 visit", "\u20ac5 top-up"], ids=["ascii", "latin1", "cp1252-c1"])
def test_a_field_error_after_empty_lines_is_reported_at_the_spreadsheet_row(tmp_path, eol, gz, text):
    rows = _rows()
    if text:
        rows[0]["Event_Description"] = text  # a non-ASCII byte: read as Latin-1, or transcoded (the euro sign)
    rows[5]["Ethnicity"] = BAD_ETHNICITY  # data row 6: line 7 of the file as written
    # One empty line after line 3 and two after line 5: line 7 is row 10 in a spreadsheet.
    path = _with_empty_lines(tmp_path, rows, empty_after={3: 1, 5: 2}, eol=eol, gz=gz)
    result = validate_return(path, submission_date=SUBMITTED)
    assert result.exit_code == 1
    assert _found(result, "C002") == [(10, "Ethnicity")]
    assert _found(result, "T016") == [(4, "")]
    assert "3 empty lines" in next(p.message for p in result.problems if p.check_id == "T016")
    # Every output carries the same row: the JSON summary and problems.csv.
    out = result.write_outputs(tmp_path / "out")
    summary = json.loads(out["summary.json"].read_text(encoding="utf-8"))
    assert [(p["row"], p["field"]) for p in summary["problems"] if p["check_id"] == "C002"] == [(10, "Ethnicity")]
    with out["problems.csv"].open(encoding="utf-8-sig", newline="") as fh:
        listed = [(r["row"], r["field"]) for r in csv.DictReader(fh) if r["check_id"] == "C002"]
    assert listed == [("10", "Ethnicity")]
    html = out["report.html"].read_text(encoding="utf-8")
    assert '<td class="num">10</td><td>Ethnicity</td>' in html
    assert '<td class="num">7</td><td>Ethnicity</td>' not in html


def test_an_empty_line_inside_a_quoted_value_is_no_empty_row(tmp_path):
    rows = _rows()
    rows[1]["Event_Description"] = "first part\r\n\r\nsecond part"  # a quoted value holding an empty line
    rows[5]["Ethnicity"] = BAD_ETHNICITY
    path = write_rows(tmp_path / "r.csv", rows)
    assert b"\r\n\r\n" in path.read_bytes()
    with open_return(path) as ret:
        assert ret.row_map is None and ret.warnings == []
    result = validate_return(path, submission_date=SUBMITTED)
    assert _found(result, "C002") == [(7, "Ethnicity")]
    assert _found(result, "T016") == []


def test_a_quoted_empty_line_and_a_real_one_are_told_apart(tmp_path):
    rows = _rows()
    rows[1]["Event_Description"] = "first part\r\n\r\nsecond part"  # row 3, over four lines
    rows[5]["Ethnicity"] = BAD_ETHNICITY
    plain = write_rows(tmp_path / "plain.csv", rows)
    data = plain.read_bytes()
    at = data.index(rows[2]["LA_Code"].encode() + b",", data.index(b"second part"))  # the start of data row 3
    path = tmp_path / "r.csv"
    path.write_bytes(data[:at] + b"\r\n" + data[at:])  # an empty line after the row with the quoted value
    result = validate_return(path, submission_date=SUBMITTED)
    assert _found(result, "T016") == [(4, "")]
    assert _found(result, "C002") == [(8, "Ethnicity")]


def test_a_duplicate_after_empty_lines_names_both_rows_as_a_spreadsheet_shows_them(tmp_path):
    rows = _rows()
    rows[6] = dict(rows[1])  # data row 7 (line 8) copies data row 2 (line 3)
    rows[7] = dict(rows[4])  # data row 8 (line 9) copies data row 5 (line 6)
    path = _with_empty_lines(tmp_path, rows, empty_after={2: 1, 5: 2})
    # Lines 3 -> row 4 (one empty line before it); 6, 8 and 9 -> rows 9, 11 and 12 (three before them).
    result = validate_return(path, submission_date=SUBMITTED)
    dups = [(p.row, p.message) for p in result.problems if p.check_id == "X001"]
    assert dups == [(11, "the row is an exact copy of row 4"), (12, "the row is an exact copy of row 9")]


def test_trailing_empty_lines_change_nothing(tmp_path):
    rows = _rows()
    rows[5]["Ethnicity"] = BAD_ETHNICITY
    path = _with_empty_lines(tmp_path, rows, empty_after={9: 3})  # after the last row (line 9)
    with open_return(path) as ret:
        assert ret.row_map is None and ret.warnings == []
    result = validate_return(path, submission_date=SUBMITTED)
    assert _found(result, "C002") == [(7, "Ethnicity")]
    assert _found(result, "T016") == []


def test_a_line_of_spaces_after_an_empty_line_is_a_row_at_its_spreadsheet_row(tmp_path):
    """A line holding only spaces is not skipped (DuckDB reads it as a row with too few values), also when it
    ends the file after an empty line."""
    rows = _rows(4)
    plain = write_rows(tmp_path / "plain.csv", rows)
    # Rows 2-5 hold data, row 6 is empty, row 7 holds spaces.
    for body, row in ((plain.read_bytes() + b"\r\n   \r\n", 7), (plain.read_bytes() + b"\r\n   \r\n\r\n", 7)):
        path = tmp_path / "r.csv"
        path.write_bytes(body)
        result = validate_return(path, submission_date=SUBMITTED)
        assert result.exit_code == 2
        assert _found(result, "T009") == [(row, "")], body[-20:]


def test_refusals_after_empty_lines_name_the_spreadsheet_row(tmp_path):
    """The problems of an unusable file (ragged rows, formula values, a second council) carry the spreadsheet
    row too, from the validator and from `ReturnFile.to_duckdb`."""
    rows = _rows()
    rows[4]["Event_Description"] = "=1+1"  # data row 5: line 6, row 8 after two empty lines
    path = _with_empty_lines(tmp_path, rows, empty_after={3: 2})
    result = validate_return(path, submission_date=SUBMITTED)
    assert _found(result, "T012") == [(8, "Event_Description")]
    with open_return(path) as ret, pytest.raises(TransportError) as err:
        ret.to_duckdb(duckdb.connect(), "t")
    assert [(p.check_id, p.row) for p in err.value.problems] == [("T012", 8)]

    rows = _rows()
    rows[5]["LA_Code"] = "902" if rows[0]["LA_Code"] != "902" else "903"  # data row 6: line 7, row 9
    path = _with_empty_lines(tmp_path, rows, empty_after={2: 1, 4: 1})
    result = validate_return(path, submission_date=SUBMITTED)
    assert _found(result, "T013") == [(9, "LA_Code")]
    with open_return(path) as ret, pytest.raises(TransportError) as err:
        ret.to_duckdb(duckdb.connect(), "t")
    assert [(p.check_id, p.row) for p in err.value.problems] == [("T013", 9)]

    plain = write_rows(tmp_path / "plain.csv", _rows())
    lines = plain.read_bytes().split(b"\r\n")
    lines[6] += b","  # data row 6 (line 7) has one value too many: row 8 after one empty line
    path = tmp_path / "ragged.csv"
    path.write_bytes(b"\r\n".join(lines[:3] + [b""] + lines[3:]))
    result = validate_return(path, submission_date=SUBMITTED)
    assert _found(result, "T009") == [(8, "")]
    with open_return(path) as ret, pytest.raises(TransportError) as err:
        ret.to_duckdb(duckdb.connect(), "t")
    assert [(p.check_id, p.row) for p in err.value.problems] == [("T009", 8)]


def test_loaded_rows_keep_their_record_numbers(tmp_path):
    """`__row` (from which the national store numbers its records) counts data rows only: empty lines leave
    it consecutive; only the rows shown to people are translated."""
    rows = _rows()
    path = _with_empty_lines(tmp_path, rows, empty_after={2: 1, 5: 3})
    con = duckdb.connect()
    with open_return(path) as ret:
        ret.to_duckdb(con, "t")
        assert ret.row_map is not None and [ret.row_map.shown(r) for r in range(2, 10)] == [2, 4, 5, 6, 10, 11, 12, 13]
    assert con.execute("SELECT list(__row ORDER BY __row) FROM t").fetchone()[0] == list(range(2, 10))
    dq = tmp_path / "dq.parquet"
    validate_return(path, submission_date=SUBMITTED, dq_out=dq)
    assert con.execute(f"SELECT list(__row ORDER BY __row) FROM '{dq}'").fetchone()[0] == list(range(2, 10))


def test_previous_return_rows_are_named_as_a_spreadsheet_shows_them(tmp_path):
    """Q001 names example rows of the previous return: with its empty lines counted."""
    prev_rows = _rows(10)
    cur_rows = [r for i, r in enumerate(prev_rows) if i not in (6, 8)]  # data rows 7 and 9 disappear
    (tmp_path / "prev").mkdir()
    prev = _with_empty_lines(tmp_path / "prev", prev_rows, empty_after={4: 1, 8: 2})  # lines 8, 10: rows 9, 13
    cur = write_rows(tmp_path / "cur.csv", cur_rows)
    result = validate_return(cur, previous=prev, submission_date=SUBMITTED)
    q001 = [p.message for p in result.problems if p.check_id == "Q001"]
    assert len(q001) == 1 and "rows 9, 13 of r.csv" in q001[0], q001


def test_row_map_is_streamed_in_blocks_and_quote_aware(tmp_path):
    """The empty lines are found whatever the block size (a line end, a quote or an empty line split across
    blocks), inside quotes never."""
    from ascld.returns.reader import RowMap

    data = b'h,h\r\n1,"a\r\n\r\nb"\r\n\r\n2,""""\r\n\r\n\r\n3,"x""\n\ny"\n\n4,z\r\n\r\n\r\n'
    path = tmp_path / "m.csv"
    path.write_bytes(data)
    # Data rows: 1 (__row 2, row 2), empty row 3, 2 (__row 3, row 4), empty rows 5-6, 3 (__row 4, row 7),
    # empty row 8, 4 (__row 5, row 9); the empty lines at the end are not counted.
    for block in (1, 2, 3, 4, 7, 64):
        m = RowMap.read(path, block)
        assert m is not None and m.before.tolist() == [3, 4, 4, 5], block
        assert [m.shown(r) for r in (1, 2, 3, 4, 5)] == [1, 2, 4, 7, 9]
    path.write_bytes(b'h,h\n1,"a\n\nb"\n2,x\n\n\n')
    assert RowMap.read(path, 3) is None


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize(
    ("defect", "check"),
    [
        ("bom", "T019"),  # a UTF-8 byte-order mark inside the row
        ("long", "T011"),  # a line longer than 1 MiB
        ("unclosed", "T010"),  # a double quote that opens a value never closed
    ],
)
def test_byte_scan_refusals_name_the_spreadsheet_row_after_a_quoted_line_break(tmp_path, gz, defect, check):
    """The refusals the byte scan finds before DuckDB reads the rows carry the row as a spreadsheet shows it
    (docs/validate.md, Row numbers: "A value with a line break inside double quotes stays on one row, and an
    empty line is an empty row"), not the physical line."""
    rows = _rows(5)
    rows[0]["Event_Description"] = "first\r\nsecond\r\nthird"  # data row 1 (row 2) spans lines 2-4
    if defect == "bom":  # written in Windows-1252 as the bytes EF BB BF
        rows[3]["Event_Description"] = "\u00ef\u00bb\u00bftext"
    elif defect == "long":
        rows[3]["Event_Description"] = "x" * (1024 * 1024 + 1)
    plain = write_rows(tmp_path / "plain.csv", rows)
    lines = plain.read_bytes().split(b"\r\n")  # 0 header, 1-3 row 2, 4 row 3, 5 row 4, 6 row 5, 7 row 6
    # data row 4 is line 7, row 5 as a spreadsheet shows it; after the empty line below, line 8 and row 6
    if defect == "unclosed":
        lines[6] += b',"never closed'
    data = b"\r\n".join(lines[:5] + [b""] + lines[5:])  # an empty line as row 4
    path = tmp_path / ("r.csv.gz" if gz else "r.csv")
    path.write_bytes(gzip.compress(data, mtime=0) if gz else data)
    result = validate_return(path, submission_date=SUBMITTED)
    assert result.exit_code == 2
    assert [(p.check_id, p.row) for p in result.problems if p.check_id == check] == [(check, 6)], [
        str(p) for p in result.problems
    ]
