"""`ascld extract`: exit codes 0 / 1 / 2 and what it prints."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from ascld.cli import cli
from ascld.extract import example_mapping_path
from ascld.synth.cms import sqlite_url


def _invoke(*args: str):
    return CliRunner().invoke(cli, ["extract", *args])


def _period(council) -> str:
    start, end = council.periods[-1]
    return f"{start:%Y-%m-%d}:{end:%Y-%m-%d}"


def test_extract_writes_the_return_and_exits_0(synth_sqlite, tmp_path: Path) -> None:
    result = _invoke(
        "--source",
        synth_sqlite.url,
        "--mapping",
        str(example_mapping_path()),
        "--period",
        _period(synth_sqlite),
        "--out",
        str(tmp_path),
        "--no-validate",
    )
    assert result.exit_code == 0, result.output
    (written,) = tmp_path.iterdir()
    assert written.name == "131_CLD_20250401_20260331.csv"
    assert "rows (Request" in result.output and "Not validated" in result.output


def test_extract_json_with_validation_report(synth_sqlite, tmp_path: Path) -> None:
    start, end = synth_sqlite.periods[-1]
    result = _invoke(
        "--source",
        synth_sqlite.url,
        "--mapping",
        str(example_mapping_path()),
        "--period",
        f"{start:%d/%m/%Y}:{end:%d/%m/%Y}",
        "--out",
        str(tmp_path / "r.csv.gz"),
        "--gzip",
        "--report-dir",
        str(tmp_path / "dq"),
        "--json",
    )
    # The synthetic system's unrecorded NHS numbers fail validation: written, but exit code 1.
    assert result.exit_code == 1, result.output
    answer = json.loads(result.output)
    assert answer["path"].endswith("r.csv.gz") and answer["la_code"] == "131"
    assert answer["validation"]["errors"] > 0
    assert (tmp_path / "dq" / "problems.csv").exists()


def test_unmapped_code_exits_1_and_writes_nothing(synth_sqlite, cms_copy, tmp_path: Path) -> None:
    with sqlite3.connect(cms_copy) as conn:
        conn.execute("UPDATE client SET ethnicity_code = 'ZZZZ'")
    out = tmp_path / "out"
    out.mkdir()
    result = _invoke(
        "--source",
        sqlite_url(cms_copy),
        "--mapping",
        str(example_mapping_path()),
        "--period",
        _period(synth_sqlite),
        "--out",
        str(out),
    )
    assert result.exit_code == 1, result.output
    assert 'people query, Ethnicity: local code "ZZZZ" has no mapping' in result.output
    assert "Nothing was written." in result.output
    assert list(out.iterdir()) == []


def test_mapping_error_exits_2_with_the_line(synth_sqlite, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        example_mapping_path().read_text(encoding="utf-8").replace('F: "Female"', 'F: "Woman"'),
        encoding="utf-8",
    )
    result = _invoke(
        "--source",
        synth_sqlite.url,
        "--mapping",
        str(bad),
        "--period",
        _period(synth_sqlite),
        "--out",
        str(tmp_path),
    )
    assert result.exit_code == 2, result.output
    assert (
        "bad.yaml, line " in result.output
        and '"Woman", which is not a Release 2 Gender value' in result.output
    )
    assert not list(tmp_path.glob("*.csv"))


def test_usage_errors_exit_2(synth_sqlite, tmp_path: Path) -> None:
    mapping = str(example_mapping_path())
    result = _invoke("--source", synth_sqlite.url, "--mapping", mapping, "--period", "2026-03-31:2025-04-01")
    assert result.exit_code == 2 and "before it starts" in result.output
    result = _invoke("--source", synth_sqlite.url, "--mapping", mapping, "--period", "April 2025")
    assert result.exit_code == 2 and "START:END" in result.output
    missing = tmp_path / "nope.sqlite"
    result = _invoke("--source", sqlite_url(missing), "--mapping", mapping, "--period", _period(synth_sqlite))
    assert result.exit_code == 2 and "no SQLite database" in result.output
    assert not missing.exists()  # SQLAlchemy would have created an empty database


def test_password_is_not_echoed(tmp_path: Path) -> None:
    result = _invoke(
        "--source",
        "postgresql+psycopg://council:s3cret-pw@127.0.0.1:1/cms",
        "--mapping",
        str(example_mapping_path()),
        "--period",
        "2025-04-01:2026-03-31",
        "--out",
        str(tmp_path),
    )
    assert result.exit_code == 2, result.output
    assert "Error: cannot connect to the source" in result.output
    assert "s3cret-pw" not in result.output
