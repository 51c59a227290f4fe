"""`ascld validate` from the command line: exit codes, formats, the capped listing, reports."""

from __future__ import annotations

import csv
import io
import json

from click.testing import CliRunner
from validate_helpers import SUBMITTED

from ascld.cli import cli
from ascld.quality.sample import write_rows


def run(*args):
    return CliRunner().invoke(cli, [str(a) for a in args])


def _files(tmp_path, gen, broken=0):
    rows = [gen.row(new_person=True) for _ in range(8)]
    for i in range(broken):
        rows[i]["Ethnicity"] = "Martian"
    return write_rows(tmp_path / "r.csv", rows)


def test_exit_0_when_only_warnings(tmp_path, gen):
    result = run("validate", _files(tmp_path, gen), "--submission-date", SUBMITTED)
    assert result.exit_code == 0, result.output
    assert "passed: 8 rows, 0 failures" in result.output


def test_exit_1_with_failures_and_message_shape(tmp_path, gen):
    # three people have the value: it is quoted (fewer, and it could be a name: docs/validate.md)
    result = run("validate", _files(tmp_path, gen, broken=3), "--submission-date", SUBMITTED)
    assert result.exit_code == 1
    line = next(x for x in result.output.splitlines() if "[C002]" in x)
    assert line.startswith('r.csv, row 2, field Ethnicity: "Martian" is not a value of the ethnicity list.')


def test_max_problems_caps_the_listing_and_says_what_was_left_out(tmp_path, gen):
    result = run(
        "validate", _files(tmp_path, gen, broken=5), "--max-problems", 2, "--submission-date", SUBMITTED
    )
    assert result.exit_code == 1
    assert sum("[C002]" in x for x in result.output.splitlines()) <= 2
    assert (
        "more problems on" in result.output and "further rows not listed (--max-problems 2)" in result.output
    )


def test_json_format_is_the_summary(tmp_path, gen):
    result = run("validate", _files(tmp_path, gen, broken=1), "--format", "json")
    summary = json.loads(result.output)
    assert summary["exit_code"] == 1 and summary["row_count"] == 8 and summary["spec"]["version"]


def test_csv_format_lists_problems(tmp_path, gen):
    result = run("validate", _files(tmp_path, gen, broken=2), "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(result.output)))
    assert {r["check_id"] for r in rows} >= {"C002"} and rows[0]["file"] == "r.csv"


def test_report_option_writes_the_three_outputs(tmp_path, gen):
    report = tmp_path / "out" / "dq.html"
    result = run("validate", _files(tmp_path, gen, broken=1), "--report", report)
    assert result.exit_code == 1
    assert (
        report.exists()
        and (report.parent / "summary.json").exists()
        and (report.parent / "problems.csv").exists()
    )


def test_previous_and_overlay_options(tmp_path, gen, spec):
    path = _files(tmp_path, gen)
    overlay = tmp_path / "overlay.csv"
    overlay.write_text("list,value\nrequest_route_of_access,Community / Other route\n", encoding="utf-8")
    result = run("validate", path, "--previous", path, "--spec-overlay", overlay, "--format", "json")
    summary = json.loads(result.output)
    assert summary["spec"]["overlay"] and summary["comparison"]["previous_rows"] == 8
    unverified = [p for p in summary["problems"] if p["check_id"] == "C006"]
    assert all(p["field"] != "Request_Route_of_Access" for p in unverified)


def test_dq_out_option(tmp_path, gen):
    out = tmp_path / "codes.parquet"
    assert run("validate", _files(tmp_path, gen), "--dq-out", out).exit_code == 0
    assert out.exists()


# --- refusals: one line naming the file once, control characters escaped, a closed pipe ends quietly


def _ragged(tmp_path, gen, name="ragged.csv", extra_rows=0):
    path = write_rows(tmp_path / name, [gen.row(new_person=True) for _ in range(4 + extra_rows)])
    lines = path.read_bytes().split(b"\r\n")
    for i in range(3, len(lines) - 1):
        lines[i] += b",surplus"
    path.write_bytes(b"\r\n".join(lines))
    return path


def test_a_refusal_names_the_file_once(tmp_path, gen):
    result = run("validate", _ragged(tmp_path, gen))
    assert result.exit_code == 2, result.output
    first = result.output.splitlines()[0]
    assert first.startswith("ragged.csv cannot be checked: row 4: the row has more values"), first
    assert first.count("ragged.csv") == 1 and first.endswith("[T009]"), first


def test_a_file_name_with_a_line_break_is_escaped_on_every_line(tmp_path, gen):
    path = _ragged(tmp_path, gen, name="q1\nrow\t2\x1b[2J.csv")
    result = run("validate", path)
    assert result.exit_code == 2, result.output
    lines = result.output.splitlines()
    assert len(lines) == 2, lines  # rows 4 and 5, one line each
    assert all(line.startswith("q1\\nrow\\t2\\x1b[2J.csv") for line in lines), lines
    assert "\x1b" not in result.output and "\t" not in result.output


def test_a_file_name_with_a_line_break_stays_on_one_line_when_the_file_is_usable(tmp_path, gen):
    path = write_rows(tmp_path / "q1\r\nok.csv", [gen.row(new_person=True) for _ in range(3)])
    result = run("validate", path, "--submission-date", SUBMITTED)
    assert result.exit_code in (0, 1), result.output
    assert all(line.startswith("q1\\r\\nok.csv") for line in result.output.splitlines()), result.output


def test_output_cut_by_a_closed_pipe_ends_quietly_with_the_verdict(tmp_path, gen):
    # `ascld validate big.csv | head -1`: the reader goes after one line; no "Unexpected error", and the exit
    # code is still the file's (2: cannot be checked).
    import subprocess
    import sys

    path = _ragged(tmp_path, gen, extra_rows=1200)  # 1,000 listed lines: far more than a pipe holds
    proc = subprocess.Popen(
        [sys.executable, "-c", "from ascld.cli import main; main()", "validate", str(path)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert b"cannot be checked" in proc.stdout.readline()
    proc.stdout.close()
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=120) == 2, stderr
    assert stderr == "", stderr


def _ragged_file(tmp_path, gen, n_ragged):
    """A return of 8 rows whose last `n_ragged` rows have one value too many (T009: the file is refused)."""
    path = write_rows(tmp_path / "ragged.csv", [gen.row(new_person=True) for _ in range(8)])
    lines = path.read_bytes().split(b"\r\n")  # header, rows 2-9, then "" after the last line end
    for i in range(9 - n_ragged, 9):
        lines[i] += b","
    path.write_bytes(b"\r\n".join(lines))
    return path


def test_max_problems_on_a_refused_file_says_what_was_left_out(tmp_path, gen):
    # issue 4 (Completeness): "where a listing is capped (--max-problems), the output says how many problems and
    # rows were left out of the listing"; docs/validate.md: the text output says it. Rows 6-9 are ragged: two
    # are listed, two rows (two problems) are left out.
    result = run("validate", _ragged_file(tmp_path, gen, 4), "--max-problems", 2)
    assert result.exit_code == 2
    lines = result.output.splitlines()
    assert sum("[T009]" in x for x in lines) == 2, result.output
    assert lines[0].startswith("ragged.csv cannot be checked: row 6:"), result.output
    assert "... and 2 more problems on 2 further rows not listed (--max-problems 2)" in result.output


def test_problems_csv_of_a_refused_file_holds_every_problem_whatever_max_problems(tmp_path, gen):
    # docs/validate.md (Completeness): "problems.csv always holds every problem, in row order".
    out = tmp_path / "out"
    result = run("validate", _ragged_file(tmp_path, gen, 4), "--max-problems", 2, "--out", out)
    assert result.exit_code == 2
    rows = list(csv.DictReader((out / "problems.csv").open(encoding="utf-8-sig")))
    assert [(r["row"], r["check_id"]) for r in rows] == [("6", "T009"), ("7", "T009"), ("8", "T009"), ("9", "T009")]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert len(summary["problems"]) == 2
