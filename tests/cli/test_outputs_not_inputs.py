"""An output path that is one of the run's own inputs is refused before any work, and the input is kept.

`ascld validate q1.csv --report q1.csv` (the shell completed the wrong name) used to replace the return with the
HTML report; `ascld extract --out cms.sqlite` replaced the case-management database with the return. Each case
must exit 2 with one `Error:` line naming the option and the input it would overwrite, and leave every input
byte for byte as it was.

Every person is synthetic (NHS numbers in the 999 test range, invented names and postcodes).
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "national"))
import ingest_fixtures as fx  # noqa: E402

from ascld.cli import cli  # noqa: E402

MAPPING = Path(__file__).resolve().parents[2] / "examples" / "synth_cms_mapping.yaml"
VALIDATE = ["validate", "q1.csv", "--submission-date", "2025-04-20"]
EXTRACT = ["extract", "--source", "sqlite:///cms.sqlite", "--mapping", "mapping.yaml", "--period",
           "2024-04-01:2025-03-31"]

CASES = [
    ("validate-report-is-the-return", [*VALIDATE, "--report", "q1.csv"], "--report q1.csv",
     "the return being checked"),
    ("validate-report-is-a-link-to-the-return", [*VALIDATE, "--report", "link.csv"], "--report link.csv",
     "the return being checked"),
    ("validate-dq-out-is-the-return", [*VALIDATE, "--dq-out", "./q1.csv"], "--dq-out ./q1.csv",
     "the return being checked"),
    ("validate-report-is-the-previous", [*VALIDATE, "--previous", "q0.csv", "--report", "q0.csv"],
     "--report q0.csv", "the --previous return"),
    ("validate-out-holds-a-return-named-problems",
     ["validate", "problems.csv", "--submission-date", "2025-04-20", "--out", "."], "--out . (problems.csv",
     "the return being checked"),
    ("extract-out-is-the-database", [*EXTRACT, "--out", "cms.sqlite"], "--out cms.sqlite",
     "the --source database"),
    ("extract-out-is-the-mapping", [*EXTRACT, "--out", "mapping.yaml"], "--out mapping.yaml", "the --mapping"),
    ("extract-report-dir-holds-the-overlay", [*EXTRACT, "--out", "r.csv", "--spec-overlay", "problems.csv",
                                              "--report-dir", "."],
     "--report-dir . (problems.csv", "the --spec-overlay"),
]


def _hashes(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.mark.parametrize(("cid", "args", "names", "role"), CASES, ids=[c[0] for c in CASES])
def test_an_output_that_is_an_input_is_refused_and_the_input_kept(cid, args, names, role, tmp_path, monkeypatch):
    people = fx.make_people(3, seed=5, la_code="503")
    fx.write_return_csv(tmp_path / "q1.csv", fx.return_rows(people, "503"))
    fx.write_return_csv(tmp_path / "q0.csv", fx.return_rows(people[:2], "503"))
    if cid == "extract-report-dir-holds-the-overlay":
        (tmp_path / "problems.csv").write_text("list,value\ngender,Male\n")
    else:
        fx.write_return_csv(tmp_path / "problems.csv", fx.return_rows(people, "503"))
    (tmp_path / "mapping.yaml").write_bytes(MAPPING.read_bytes())
    (tmp_path / "cms.sqlite").write_bytes(b"SQLite format 3\x00" + bytes(100))  # never opened: refused first
    os.symlink(tmp_path / "q1.csv", tmp_path / "link.csv")
    before = _hashes(tmp_path)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, args, env={"ASCLD_SPEC_OVERLAY": None})
    assert result.exit_code == 2, result.output
    errors = [line for line in result.output.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1, result.output
    assert names in errors[0] and f"would overwrite {role}" in errors[0], errors[0]
    assert _hashes(tmp_path) == before
    assert not (tmp_path / "r.csv").exists()
