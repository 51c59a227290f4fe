"""`ascld national imports`: what a national store holds, one line per import, and its totals."""

from __future__ import annotations

import csv
import datetime as dt
import io
import json

import ingest_fixtures as fx
import pytest
from click.testing import CliRunner

from ascld.cli import cli
from ascld.errors import UsageError
from ascld.identity import PseudoKey
from ascld.national.imports import COLUMNS, list_imports
from ascld.national.ingest import ingest_files
from ascld.national.store import NationalStore
from ascld.quality import validate_return

KEY = PseudoKey.from_text("5d" * 32)


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    """Two councils: 503 twice (a later quarter), untraced; 504 once, traced; one row of 503 fails a check."""
    tmp = tmp_path_factory.mktemp("imports")
    a = fx.make_people(6, seed=11, la_code="503")
    b = fx.make_people(5, seed=12, la_code="504", start=400)
    rows_a = fx.return_rows(a, "503")
    rows_a[0]["NHS_Number"] = "9990000017"  # bad check digit: a field failure, stored with its DQ code
    files = [
        fx.write_return_csv(tmp / "la503_q4.csv", rows_a),
        fx.write_return_csv(tmp / "la504_q4.csv", fx.return_rows(b, "504")),
    ]
    st = NationalStore(tmp / "store")
    ingest_files(files[:1], st, key=KEY, import_date="2025-04-20")
    ingest_files(files[1:], st, key=KEY, index=fx.write_index(tmp / "index.csv", b), import_date="2025-04-21")
    later = fx.write_return_csv(
        tmp / "la503_q1.csv", fx.return_rows(a, "503", period_end=dt.date(2025, 6, 30), seed=5)
    )
    ingest_files([later], st, key=KEY, import_date="2025-07-20")
    return {"store": st, "people": a + b, "tmp": tmp, "files": [*files, later]}


def _run(*args: str):
    return CliRunner().invoke(cli, ["national", "imports", *args], catch_exceptions=False)


def test_listing_follows_the_register(store):
    listing = list_imports(store["store"])
    records = store["store"].imports()
    assert [r["import_id"] for r in listing.rows] == [r.import_id for r in records] == [
        "00000001", "00000002", "00000003"]
    assert [r["la_code"] for r in listing.rows] == ["503", "504", "503"]
    assert [r["load_file_name"] for r in listing.rows] == ["la503_q4.csv", "la504_q4.csv", "la503_q1.csv"]
    assert [r["rows"] for r in listing.rows] == [12, 10, 12]
    assert listing.rows[0]["reporting_period_start"] == "2024-04-01"
    assert listing.rows[2]["reporting_period_end"] == "2025-06-30"
    # record ids run on without gaps from import to import
    assert [(r["first_record_id"], r["last_record_id"]) for r in listing.rows] == [(1, 12), (13, 22), (23, 34)]
    assert listing.totals["imports"] == 3 and listing.totals["councils"] == 2 and listing.totals["rows"] == 34
    assert listing.totals["key_fingerprint"] == KEY.fingerprint
    assert all(list(r) == list(COLUMNS) for r in listing.rows)


def test_validation_and_trace_counts(store):
    rows = list_imports(store["store"]).rows
    # the validator's own verdict on each file, on its import date (the ingest's submission date)
    for row, path in zip(rows, store["files"], strict=True):
        result = validate_return(path, submission_date=dt.date.fromisoformat(row["import_date"][:10]))
        assert (row["field_failures"], row["warnings"], row["validation_exit_code"]) == (
            result.errors, result.warnings, result.exit_code)
    first, traced, _ = rows
    assert first["field_failures"] >= 1  # the bad check digit at least
    # no index: nothing traced
    assert first["traced"] is False and first["trace_not_traced"] == 12 and first["trace_match"] == 0
    # traced against an index holding all five people of 504, with their own details: all match
    assert traced["traced"] is True and traced["trace_match"] == 10 and traced["trace_not_traced"] == 0
    assert sum(traced[c] for c in COLUMNS if c.startswith("trace_")) == traced["rows"]


def test_one_council_ignoring_case_and_spaces(store):
    listing = list_imports(store["store"], la_code=" 503 ")
    assert [r["import_id"] for r in listing.rows] == ["00000001", "00000003"]
    assert listing.totals["councils"] == 1 and listing.totals["rows"] == 24 and listing.totals["la_code"] == "503"
    assert list_imports(store["store"], la_code="999").rows == []


def test_cli_text_json_and_csv(store):
    root = str(store["store"].root)
    text = _run("--store", root)
    assert text.exit_code == 0
    lines = text.output.splitlines()
    assert lines[0].split() == ["import", "ImportDate", "LA", "rows", "period", "failures", "matched", "file"]
    assert lines[1].split()[:2] == ["00000001", "2025-04-20"] and "not traced" in lines[1]
    assert "3 imports from 2 councils, 34 rows" in text.output
    assert KEY.fingerprint in text.output

    js = _run("--store", root, "--format", "json", "--la", "504")
    doc = json.loads(js.output)
    assert js.exit_code == 0 and doc["totals"]["imports"] == 1 and doc["imports"][0]["trace_match"] == 10

    rows = list(csv.DictReader(io.StringIO(_run("--store", root, "--format", "csv").output)))
    assert [r["import_id"] for r in rows] == ["00000001", "00000002", "00000003"]
    assert list(rows[0]) == list(COLUMNS)


def test_nothing_identifying_is_shown(store):
    root = str(store["store"].root)
    out = "".join(_run("--store", root, "--format", f).output for f in ("text", "json", "csv"))
    for p in store["people"]:
        for value in (p.nhs, p.first, p.last, p.postcode, p.la_pid, p.dob.strftime("%d/%m/%Y"), p.dob.isoformat()):
            assert value not in out


def test_not_a_store_is_a_clear_usage_error(tmp_path):
    missing = tmp_path / "nowhere"
    result = CliRunner().invoke(cli, ["national", "imports", "--store", str(missing)])
    assert result.exit_code == 2 and "does not exist" in result.output and "Traceback" not in result.output
    other = tmp_path / "other"
    other.mkdir()
    (other / "notes.txt").write_text("not a store")
    result = CliRunner().invoke(cli, ["national", "imports", "--store", str(other)])
    assert result.exit_code == 2 and "is not a national store" in result.output
    a_file = tmp_path / "file.parquet"
    a_file.write_bytes(b"PAR1")
    with pytest.raises(UsageError, match="is a file"):
        list_imports(NationalStore(a_file))


def test_an_empty_new_store_lists_nothing(tmp_path):
    st = NationalStore(tmp_path / "s")
    st.check_key(KEY.fingerprint)  # what a first ingest does before anything is stored
    listing = list_imports(st)
    assert listing.rows == [] and listing.totals["imports"] == 0 and listing.totals["rows"] == 0
    result = CliRunner().invoke(cli, ["national", "imports", "--store", str(st.root)])
    assert result.exit_code == 0 and "0 imports from 0 councils, 0 rows" in result.output


def test_an_entry_without_counts_lists_with_blanks(store, tmp_path):
    """A register entry whose details are missing or not counts (older or hand-edited) lists without them."""
    import shutil

    root = tmp_path / "copy"
    shutil.copytree(store["store"].root, root)
    entry = sorted((root / "_imports").glob("*.json"))[0]
    doc = json.loads(entry.read_text())
    doc["details"] = ["not", "counts"]
    entry.write_text(json.dumps(doc))
    first = list_imports(NationalStore(root)).rows[0]
    assert first["rows"] == 12 and first["field_failures"] is None and first["validation_exit_code"] is None
    assert first["reporting_period_start"] is None and first["trace_not_traced"] == 12
    result = CliRunner().invoke(cli, ["national", "imports", "--store", str(root)])
    assert result.exit_code == 0 and "Traceback" not in result.output
