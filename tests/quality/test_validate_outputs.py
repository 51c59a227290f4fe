"""Outputs: the JSON summary follows docs/dq-summary.schema.json, problems.csv holds every problem, the HTML
report is self-contained, the Parquet codes, and no identifying value appears anywhere."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner
from validate_helpers import SUBMITTED, validate_rows

from ascld.cli import cli
from ascld.quality import validate_return
from ascld.quality.sample import write_rows

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "docs" / "dq-summary.schema.json").read_text(encoding="utf-8"))
TYPES = {
    "object": dict,
    "array": list,
    "string": str,
    "integer": int,
    "boolean": bool,
    "null": type(None),
    "number": (int, float),
}


def check_schema(value, schema, path="$"):
    """A small JSON Schema checker for the keywords docs/dq-summary.schema.json uses."""
    if "$ref" in schema:
        name = schema["$ref"].split("/")[-1]
        check_schema(value, SCHEMA["$defs"][name], path)
    if "const" in schema:
        assert value == schema["const"], path
    if "enum" in schema:
        assert value in schema["enum"], (path, value)
    if "type" in schema:
        types = schema["type"] if isinstance(schema["type"], list) else [schema["type"]]
        ok = any(
            isinstance(value, TYPES[t]) and not (t == "integer" and isinstance(value, bool)) for t in types
        )
        assert ok, (path, value, types)
    if isinstance(value, dict):
        for key in schema.get("required", []):
            assert key in value, (path, key)
        props = schema.get("properties", {})
        if schema.get("additionalProperties") is False:
            assert set(value) <= set(props), (path, set(value) - set(props))
        for key, sub in props.items():
            if key in value:
                check_schema(value[key], sub, f"{path}.{key}")
    if isinstance(value, list) and "items" in schema:
        for i, item in enumerate(value):
            check_schema(item, schema["items"], f"{path}[{i}]")
    if isinstance(value, str) and "pattern" in schema:
        assert re.search(schema["pattern"], value), (path, value)
    if isinstance(value, int) and "minimum" in schema:
        assert value >= schema["minimum"], path


def _broken_rows(gen):
    rows = [gen.row(new_person=True) for _ in range(12)]
    rows[1]["Date_of_Birth"] = "31/02/1950"
    rows[2]["Postcode"] = "AB1 XYZ"
    rows[3]["NHS_Number"] = rows[3]["NHS_Number"][:9] + str((int(rows[3]["NHS_Number"][9]) + 1) % 10)
    rows[4]["Ethnicity"] = "Martian"
    rows[5]["Date_of_Death"] = "1/2/2025"
    rows.append(dict(rows[6]))
    return rows


def test_summary_follows_the_schema_usable_failing_and_compared(tmp_path, gen):
    rows = _broken_rows(gen)
    prev = write_rows(tmp_path / "prev.csv", rows[:8])
    result = validate_rows(tmp_path, rows, previous=prev)
    assert result.exit_code == 1
    check_schema(result.summary, SCHEMA)
    assert result.summary["comparison"]["previous_rows"] == 8


def test_summary_follows_the_schema_when_unusable(tmp_path):
    path = tmp_path / "empty.csv"
    path.write_bytes(b"")
    result = validate_return(path)
    check_schema(result.summary, SCHEMA)
    assert result.summary["exit_code"] == 2 and result.summary["reason"]


def test_outputs_written_and_complete(tmp_path, gen):
    rows = _broken_rows(gen)
    result = validate_rows(tmp_path, rows, max_problems=2)
    written = result.write_outputs(tmp_path / "out")
    assert set(written) == {"summary.json", "problems.csv", "report.html"}
    with open(written["problems.csv"], encoding="utf-8-sig", newline="") as fh:
        listed = list(csv.DictReader(fh))
    assert len(listed) == result.summary["totals"]["problems"] > 2
    assert list(listed[0]) == ["file", "row", "field", "check_id", "severity", "message", "hint"]
    summary = json.loads(written["summary.json"].read_text(encoding="utf-8"))
    assert summary["listing"]["listed"] == 2
    assert summary["listing"]["not_listed"] == summary["totals"]["problems"] - 2
    assert summary["listing"]["rows_not_listed"] >= 1


def test_low_memory_mode_gives_the_same_result_with_one_thread_after_the_scan(tmp_path, gen, monkeypatch):
    """The landing checker's mode (`ASCLD_VALIDATOR_LOW_MEMORY`): the steps after the scan run on one DuckDB
    thread with 5/8 of the memory limit, and find exactly what the default mode finds."""
    import ascld.quality.validate as validate_module

    rows = _broken_rows(gen)
    prev = write_rows(tmp_path / "prev.csv", rows[:8])
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    default = validate_rows(tmp_path / "a", rows, previous=prev)
    seen: list[tuple] = []
    after_scan = validate_module._after_scan

    def spy(con):
        after_scan(con)
        seen.append(con.execute("SELECT current_setting('threads'), current_setting('memory_limit')").fetchone())

    monkeypatch.setattr(validate_module, "_after_scan", spy)
    monkeypatch.setenv(validate_module.MEMORY_LIMIT_ENV, "256MB")
    monkeypatch.setenv(validate_module.LOW_MEMORY_ENV, "1")
    low = validate_rows(tmp_path / "b", rows, previous=prev)
    # 256 MB is 244.1 MiB to DuckDB; 5/8 of it is 152 MiB.
    assert seen == [(1, "152.0 MiB")]
    assert low.exit_code == default.exit_code == 1
    assert [p.to_dict() for p in low.problems] == [p.to_dict() for p in default.problems]
    assert low.summary["fields"] == default.summary["fields"]
    assert low.summary["comparison"] == default.summary["comparison"]


def test_report_is_self_contained(tmp_path, gen):
    result = validate_rows(tmp_path, _broken_rows(gen))
    html = result.write_outputs(tmp_path / "out")["report.html"].read_text(encoding="utf-8")
    assert "<svg" in html and "Validity by field" in html and "Events by month" in html
    lowered = html.lower()
    for banned in ("<script", "<link", "@import", "url(", "src=", "href="):
        assert banned not in lowered, banned
    # The only URL is the SVG XML namespace, which browsers never fetch.
    assert set(re.findall(r"https?://[^\s\"'<>]+", html)) <= {"http://www.w3.org/2000/svg"}


def test_report_shows_the_comparison_chart(tmp_path, gen):
    rows = [gen.row(new_person=True) for _ in range(10)]
    prev = write_rows(tmp_path / "prev.csv", rows[:4])
    result = validate_rows(tmp_path, rows, previous=prev)
    html = result.write_outputs(tmp_path / "out")["report.html"].read_text(encoding="utf-8")
    assert "Compared with the previous return" in html and "previous return" in html


def test_no_identifying_value_in_any_output(tmp_path, gen):
    rows = _broken_rows(gen)
    sensitive = set()
    for r in rows:
        for column in (
            "NHS_Number",
            "LA_Person_Unique_Identifier",
            "Date_of_Birth",
            "Postcode",
            "First_Name",
            "Last_Name",
            "Date_of_Death",
            "Adult_1_Linked_Person_ID",
        ):
            if r[column].strip():
                sensitive.add(r[column])
    path = write_rows(tmp_path / "r.csv", rows)
    out = tmp_path / "out"
    cli_text = (
        CliRunner()
        .invoke(cli, ["validate", str(path), "--submission-date", SUBMITTED.isoformat(), "--out", str(out)])
        .output
    )
    cli_json = CliRunner().invoke(cli, ["validate", str(path), "--format", "json"]).output
    cli_csv = CliRunner().invoke(cli, ["validate", str(path), "--format", "csv"]).output
    texts = {"stdout": cli_text, "json": cli_json, "csv": cli_csv}
    texts.update({p.name: p.read_text(encoding="utf-8") for p in out.iterdir()})
    for name, text in texts.items():
        for value in sensitive:
            pattern = r"(?<![\w/])" + re.escape(value) + r"(?![\w/])"
            assert not re.search(pattern, text), (name, "an identifying value appears")
    assert "N/A - PID" in texts["problems.csv"]


def test_dq_parquet_has_a_row_per_data_row_with_national_codes(tmp_path, gen, spec):
    rows = _broken_rows(gen)
    out = tmp_path / "dq.parquet"
    result = validate_rows(tmp_path, rows, dq_out=out)
    table = duckdb.sql(f"SELECT * FROM '{out}' ORDER BY __row")
    assert table.columns[0] == "__row"
    assert table.columns[1:] == [x for c in spec.columns for x in (f"cond_{c}", f"chk_{c}")]
    data = table.fetchall()
    assert [r[0] for r in data] == list(range(2, len(rows) + 2)) and len(data) == result.row_count
    col = {name: i for i, name in enumerate(table.columns)}
    assert data[1][col["chk_Date_of_Birth"]] == -4  # impossible date
    assert data[2][col["chk_Postcode"]] == -2  # format
    assert data[3][col["chk_NHS_Number"]] == -4  # check digit
    assert data[4][col["chk_Ethnicity"]] == -3  # not in the list
    assert data[0][col["cond_Gender"]] == 2 and data[0][col["chk_Gender"]] == 1
    codes = {v for r in data for name, i in col.items() if name.startswith("chk_") for v in [r[i]]}
    assert codes <= {1, 0, -1, -2, -3, -4, -5, -6, -7}


@pytest.mark.parametrize("rows_per_file", [1_000_000, 50_000], ids=["one-file", "several-files"])
def test_row_numbers_follow_file_order_across_scan_batches(tmp_path, monkeypatch, rows_per_file):
    """The scan runs in parallel batches, written to one Parquet file or several: rows after the first
    batches and files still get their own row numbers."""
    import ascld.quality.validate as validate_module
    from ascld.quality.sample import sample_rows
    from ascld.quality.validate import SCAN_BATCH_ROWS

    monkeypatch.setattr(validate_module, "SCAN_ROWS_PER_FILE", rows_per_file)

    base = sample_rows(1000, seed=11)
    rows = [dict(r) for _ in range(2 * SCAN_BATCH_ROWS // 1000 + 20) for r in base]
    defects = {1003, SCAN_BATCH_ROWS - 1, SCAN_BATCH_ROWS + 7, 2 * SCAN_BATCH_ROWS + 5, len(rows) - 1}
    for i in defects:
        rows[i]["Event_Start_Date"] = "32/01/2025"
    dq = tmp_path / "dq.parquet"
    result = validate_rows(tmp_path, rows, max_problems=10, dq_out=dq)
    assert result.row_count == len(rows)
    # Row r repeats row (r - 2) % 1000 + 2 of the first (defect-free) copy: codes differ only at the defects.
    flagged = duckdb.sql(
        f"SELECT d.__row FROM read_parquet('{dq}') d JOIN read_parquet('{dq}') b "
        "ON b.__row = (d.__row - 2) % 1000 + 2 "
        "WHERE d.chk_Event_Start_Date IS DISTINCT FROM b.chk_Event_Start_Date ORDER BY d.__row"
    ).fetchall()
    assert [r for (r,) in flagged] == sorted(i + 2 for i in defects)


def test_every_case_variant_of_many_gets_its_suggestion(tmp_path: Path) -> None:
    """Suggestions are worked out per distinct value and stored a few hundred at a time: 700 distinct case
    variants (more than one batch) each get theirs, on their own row."""
    import itertools

    from ascld.quality.sample import sample_rows

    exact = "White: Irish"
    variants = [
        "".join(ch.upper() if up else ch.lower() for ch, up in zip(exact, ups, strict=True))
        for ups in itertools.product((False, True), repeat=len(exact))
    ]
    variants = sorted({v for v in variants if v != exact})[:700]
    assert len(variants) == 700
    rows = sample_rows(len(variants), seed=11)
    for row, value in zip(rows, variants, strict=True):
        row["Ethnicity"] = value
    result = validate_rows(tmp_path, rows)
    c003 = [p for p in result.problems if p.check_id == "C003"]
    assert sorted(p.row for p in c003) == list(range(2, len(variants) + 2))
    assert all(f"'{exact}'" in p.message and f"'{exact}'" in p.hint for p in c003)


def test_the_submission_date_may_be_given_as_text_or_a_datetime(tmp_path):
    """The library takes the submission date as the command line does (YYYY-MM-DD) or as a datetime; a bad one
    is a usage error, not an AttributeError from deep inside."""
    import datetime as dt

    from ascld.errors import UsageError
    from ascld.quality.sample import sample_rows

    path = write_rows(tmp_path / "r.csv", sample_rows(5, seed=2))
    as_date = validate_return(path, submission_date=dt.date(2025, 10, 20))
    as_text = validate_return(path, submission_date="2025-10-20")
    as_datetime = validate_return(path, submission_date=dt.datetime(2025, 10, 20, 9, 30))
    assert as_date.summary["submission_date"] == "2025-10-20"
    assert as_text.summary["submission_date"] == as_datetime.summary["submission_date"] == "2025-10-20"
    assert as_text.summary["totals"] == as_datetime.summary["totals"] == as_date.summary["totals"]
    with pytest.raises(UsageError, match="YYYY-MM-DD"):
        validate_return(path, submission_date="20/10/2025")


@pytest.mark.parametrize("name", ["=1+2.csv", "-2+3.csv", "+44.csv", "@SUM(1).csv"])
def test_problems_csv_never_starts_a_cell_with_a_formula_character(tmp_path, gen, name):
    # The file's own name goes in the first column of problems.csv and `--format csv`: a name starting =, +, - or
    # @ would be run by Excel as a formula (STYLE/DESIGN: outputs open in Excel). It gets a leading apostrophe
    # there (Excel shows it as text); the JSON summary and the text lines keep the name as it is.
    rows = [gen.row(new_person=True) for _ in range(3)]
    for r in rows:
        r["Ethnicity"] = "Martian"
    usable = write_rows(tmp_path / name, rows)
    broken = tmp_path / "refused" / name
    broken.parent.mkdir()
    broken.write_bytes(usable.read_bytes() + b"only,three,values\r\n")  # a ragged row: exit 2
    for path, code in ((usable, 1), (broken, 2)):
        out = tmp_path / f"out{code}"
        result = CliRunner().invoke(
            cli, ["validate", str(path), "--submission-date", str(SUBMITTED), "--out", str(out)]
        )
        assert result.exit_code == code, result.output
        args = ["validate", str(path), "--submission-date", str(SUBMITTED), "--format", "csv"]
        stdout = CliRunner().invoke(cli, args)
        for text in ((out / "problems.csv").read_text(encoding="utf-8-sig"), stdout.output):
            cells = [c for row in list(csv.reader(io.StringIO(text)))[1:] for c in row]
            assert cells and not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]
            assert {row[0] for row in list(csv.reader(io.StringIO(text)))[1:]} == {"'" + name}
        assert json.loads((out / "summary.json").read_text(encoding="utf-8"))["file"]["name"] == name
        assert result.output.startswith(name)


def test_problems_csv_is_utf8_with_a_byte_order_mark_so_excel_reads_its_dashes(tmp_path, gen):
    # Excel reads a CSV as UTF-8 only when it starts with a byte-order mark; without one it shows the en dash of
    # the Release 1 spelling 'NFA - Support ended – other reason' (seen in real data) as 'â€“'. Both writers:
    # the usable file's (DuckDB COPY) and the refused file's (Python).
    rows = [gen.row(client_type="Service user", event_type="Service", new_person=True) for _ in range(3)]
    for r in rows:
        r["Event_Outcome"] = "NFA - Support ended – other reason"
    usable = write_rows(tmp_path / "r.csv", rows)
    refused = tmp_path / "refused.csv"
    refused.write_bytes(usable.read_bytes() + b"only,three,values\r\n")
    for path, usable_file in ((usable, True), (refused, False)):
        result = validate_return(path, submission_date=SUBMITTED)
        assert result.usable is usable_file
        raw = result.write_outputs(tmp_path / path.stem)["problems.csv"].read_bytes()
        assert raw.startswith(b"\xef\xbb\xbffile,row,field,") and raw.count(b"\xef\xbb\xbf") == 1
        if usable_file:
            text = raw.decode("utf-8-sig")
            assert '"""NFA - Support ended – other reason"" is a Release 1 value"' in text
