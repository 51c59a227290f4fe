"""The bad-file corpus (scripts/make_bad_files.py).

Every file is refused with exit code 2 and a clear one-line reason naming its transport check, never a
traceback: through the library, the CLI runner and a real process.
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from ascld.cli import cli
from ascld.quality import validate_return

ROOT = Path(__file__).resolve().parents[2]


def _load_script():
    spec = importlib.util.spec_from_file_location("make_bad_files", ROOT / "scripts" / "make_bad_files.py")
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    folder = tmp_path_factory.mktemp("bad_files")
    return folder, _load_script().make_bad_files(folder, seed=0)


def _names() -> list[str]:
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        return sorted(_load_script().make_bad_files(tmp, seed=0))


ALL = _names()


def test_corpus_has_at_least_twenty_files():
    assert len(ALL) >= 20


def test_corpus_is_seeded(tmp_path):
    script = _load_script()
    script.make_bad_files(tmp_path / "a", seed=3)
    script.make_bad_files(tmp_path / "b", seed=3)
    for p in (tmp_path / "a").iterdir():
        assert p.read_bytes() == (tmp_path / "b" / p.name).read_bytes(), p.name


@pytest.mark.parametrize("name", ALL)
def test_library_refuses_with_the_expected_check(corpus, name):
    folder, expected = corpus
    result = validate_return(folder / name)
    check, what = expected[name]
    assert result.exit_code == 2 and not result.usable, (name, what)
    assert result.problems[0].check_id == check, (name, [str(p) for p in result.problems[:3]])
    assert result.summary["reason"] and "\n" not in result.summary["reason"]


@pytest.mark.parametrize("name", ALL)
def test_cli_gives_one_line_reason_and_exit_2(corpus, name):
    folder, expected = corpus
    result = CliRunner().invoke(cli, ["validate", str(folder / name)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    first = result.output.splitlines()[0]
    assert "cannot be checked" in first and f"[{expected[name][0]}]" in first, result.output
    assert "Traceback" not in result.output


@pytest.mark.parametrize(
    "name",
    [
        "empty.csv",
        "binary_junk.csv",
        "truncated.csv.gz",
        "utf16_le_bom.csv",
        "ragged_long_row.csv",
        "formula_equals.csv",
        "huge_single_field.csv",
    ],
)
def test_real_process_exit_2_without_traceback(corpus, name):
    folder, expected = corpus
    proc = subprocess.run(
        [sys.executable, "-c", "from ascld.cli import main; main()", "validate", str(folder / name)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    assert f"[{expected[name][0]}]" in proc.stdout.splitlines()[0]


def test_missing_file_is_a_usage_error_exit_2(tmp_path):
    result = CliRunner().invoke(cli, ["validate", str(tmp_path / "nope.csv")])
    assert result.exit_code == 2 and "no such file" in result.output
