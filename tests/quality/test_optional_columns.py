"""Columns a return may leave out: GP Practice Name and Provider CQC Location Name (`in_r2 = uncertain`).

cld_fields.yaml says of GP Practice Name "Treat as optional and do not fail a file that omits or includes it",
and of Provider CQC Location Name "Same situation". A file without them is read as if they were there and
blank, with a warning (T021) each; leaving out any other column, or these out of order, is still T007.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from dataclasses import replace

import duckdb
import pyarrow.parquet as pq
import pytest

from ascld.quality import validate_return
from ascld.quality.sample import sample_rows, write_rows
from ascld.returns.reader import check_header, omitted_columns, open_return
from ascld.spec import load_spec

SPEC = load_spec()
OPTIONAL = ("GP_Practice_Name", "Provider_CQC_Location_Name")
SUBMITTED = dt.date(2025, 10, 20)


def _write(path, rows, leave_out=()):
    """A return of `rows` (Windows-1252, CRLF) without the columns `leave_out`, in the header or any row."""
    cols = [c for c in SPEC.columns if c not in leave_out]
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow([SPEC.field(c).name for c in cols])
    writer.writerows([r.get(c, "") for c in cols] for r in rows)
    path.write_bytes(buffer.getvalue().encode("cp1252"))
    return path


@pytest.fixture(scope="module")
def rows():
    return sample_rows(60, seed=21)


def test_only_the_uncertain_columns_may_be_left_out():
    assert tuple(f.column for f in SPEC.fields if f.may_be_omitted) == OPTIONAL
    headers = list(SPEC.headers)
    assert omitted_columns(headers, SPEC) == ()
    without = [h for h in headers if h not in ("GP Practice Name", "Provider CQC Location Name")]
    assert omitted_columns(without, SPEC) == OPTIONAL
    assert check_header(without, SPEC, "f.csv") == []
    # any other column missing, or the optional ones out of place, is not the header
    for missing in ("Gender", "First Name", "Event Type"):
        short = [h for h in headers if h != missing]
        assert omitted_columns(short, SPEC) is None
        assert [p.check_id for p in check_header(short, SPEC, "f.csv")] == ["T007"]
    moved = [h for h in headers if h != "GP Practice Name"] + ["GP Practice Name"]
    assert omitted_columns(moved, SPEC) is None and check_header(moved, SPEC, "f.csv")


@pytest.mark.parametrize("leave_out", [("GP_Practice_Name",), OPTIONAL])
def test_a_file_without_them_is_checked_as_if_they_were_blank(tmp_path, rows, leave_out):
    blank = [{**r, **{c: "" for c in leave_out}} for r in rows]
    full = write_rows(tmp_path / "full.csv", blank)
    narrow = _write(tmp_path / "narrow.csv", blank, leave_out)
    a = validate_return(full, submission_date=SUBMITTED, dq_out=tmp_path / "a.parquet")
    b = validate_return(narrow, submission_date=SUBMITTED, dq_out=tmp_path / "b.parquet")
    assert a.exit_code == b.exit_code == 0 and a.row_count == b.row_count == 60
    # the same verdict on every row and field, the left-out columns included
    assert pq.read_table(tmp_path / "a.parquet").equals(pq.read_table(tmp_path / "b.parquet"))
    warned = [p for p in b.problems if p.check_id == "T021"]
    assert [(p.field, p.row, p.severity) for p in warned] == [(c, 1, "warning") for c in leave_out]
    assert all(SPEC.field(p.field).name in p.message for p in warned)
    assert not [p for p in a.problems if p.check_id == "T021"]
    same = [replace(p, file="full.csv") for p in b.problems if p.check_id != "T021"]
    assert same == a.problems
    assert a.summary["fields"] == b.summary["fields"]


def test_values_of_other_columns_keep_their_places(tmp_path, rows):
    """A value that fails in a column after the left-out one is reported in its own field, not its neighbour's."""
    bad = [dict(r) for r in rows]
    bad[3]["Event_Start_Date"] = "31/02/2025"  # column 27, after GP Practice Name (8)
    result = validate_return(_write(tmp_path / "r.csv", bad, ("GP_Practice_Name",)), submission_date=SUBMITTED)
    failed = [(p.row, p.field, p.check_id) for p in result.problems if p.severity == "error"]
    assert result.exit_code == 1 and failed == [(5, "Event_Start_Date", "C008")]


def test_a_short_row_in_a_narrow_file_is_ragged(tmp_path, rows):
    path = _write(tmp_path / "r.csv", rows[:5], OPTIONAL)
    lines = path.read_bytes().split(b"\r\n")
    lines[3] = lines[3].rsplit(b",", 1)[0]  # one value fewer on row 4
    path.write_bytes(b"\r\n".join(lines))
    result = validate_return(path, submission_date=SUBMITTED)
    ragged = [p for p in result.problems if p.check_id == "T009"]
    assert result.exit_code == 2 and [p.row for p in ragged] == [4]
    assert "48" in ragged[0].message  # the file's header has 48 values


def test_loaded_rows_have_every_column(tmp_path, rows):
    path = _write(tmp_path / "r.csv", rows[:7], OPTIONAL)
    con = duckdb.connect()
    with open_return(path) as ret:
        assert ret.omitted == OPTIONAL and len(ret.file_columns) == len(SPEC.columns) - 2
        assert ret.to_duckdb(con, "t") == 7
    cols = [r[0] for r in con.execute("DESCRIBE t").fetchall()]
    assert cols == ["__row", *SPEC.columns]
    assert con.execute("SELECT count(*) FROM t WHERE GP_Practice_Name IS NULL").fetchone()[0] == 7
    got = con.execute("SELECT Gender, Event_Type FROM t ORDER BY __row").fetchall()
    assert got == [(r["Gender"] or None, r["Event_Type"] or None) for r in rows[:7]]


def test_the_ingest_stores_them_as_blank(tmp_path, rows):
    from ascld.identity import PseudoKey
    from ascld.national.ingest import ingest_files
    from ascld.national.store import NationalStore

    store = NationalStore(tmp_path / "store")
    path = _write(tmp_path / "r.csv", rows[:9], OPTIONAL)
    report = ingest_files([path], store, key=PseudoKey.from_text("4a" * 32), import_date="2025-10-20")
    assert [o.status for o in report.outcomes] == ["stored"]
    stored = store.to_arrow().to_pylist()
    assert len(stored) == 9
    assert {r["GP_Practice_Name"] for r in stored} == {None} == {r["Provider_CQC_Location_Name"] for r in stored}
    assert [r["Event_Type"] for r in stored] == [r["Event_Type"] or None for r in rows[:9]]
