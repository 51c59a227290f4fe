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
    check, what, says = expected[name]
    assert result.exit_code == 2 and not result.usable, (name, what)
    assert result.problems[0].check_id == check, (name, [str(p) for p in result.problems[:3]])
    assert result.summary["reason"] and "\n" not in result.summary["reason"]
    assert says in result.summary["reason"], (name, result.summary["reason"])


@pytest.mark.parametrize("name", ALL)
def test_cli_gives_one_line_reason_and_exit_2(corpus, name):
    folder, expected = corpus
    result = CliRunner().invoke(cli, ["validate", str(folder / name)])
    assert result.exit_code == 2, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    first = result.output.splitlines()[0]
    assert "cannot be checked" in first and f"[{expected[name][0]}]" in first, result.output
    assert expected[name][2] in first, result.output
    assert "Traceback" not in result.output


def _identifying_values() -> set[str]:
    """The corpus rows' values of sensitive fields (names, NHS numbers, dates of birth, postcodes, IDs)."""
    from ascld.quality.sample import SampleGenerator
    from ascld.spec import load_spec

    spec = load_spec()
    sensitive = [f.column for f in spec.fields if f.sensitive]
    rows = SampleGenerator(spec, seed=0).rows(12)
    # Short first names ("Jo") could be part of ordinary words; the rest are unmistakable.
    return {r[c] for r in rows for c in sensitive if r[c] and len(r[c]) >= 4}


@pytest.mark.parametrize("fmt", ["text", "json"])
def test_no_identifying_value_in_any_refusal(corpus, fmt):
    import re

    folder, _ = corpus
    values = _identifying_values()
    assert len(values) > 20
    pattern = re.compile("|".join(rf"(?<!\w){re.escape(v)}(?!\w)" for v in sorted(values, key=len, reverse=True)))
    for name in ALL:
        result = CliRunner().invoke(cli, ["validate", "--format", fmt, str(folder / name)])
        found = pattern.search(result.output)
        assert found is None, (name, found.group(0) if found else None)


@pytest.mark.parametrize(
    "name",
    [
        "no_header_row.csv",
        "sep_line.csv",
        "header_10000_columns.csv",
        "header_extra_first_column.csv",
        "header_lower_case.csv",
        "header_quote_not_closed.csv",
    ],
)
def test_a_header_wrong_throughout_is_one_problem(corpus, name):
    # Not one problem per column (50 lines, or 10,000), and none echoing a data row's values.
    folder, _ = corpus
    result = validate_return(folder / name)
    assert len(result.problems) == 1, [str(p) for p in result.problems[:5]]


def test_a_full_listing_of_ragged_rows_ends_with_how_many_more(corpus):
    folder, _ = corpus
    result = validate_return(folder / "ragged_6000_rows.csv")
    assert [p.row for p in result.problems[:2]] == [2, 3]
    last = result.problems[-1]
    assert len(result.problems) == 1000 and last.row == 1001, (len(result.problems), str(last))
    assert "this row and 5,000 more rows after it" in last.message, last.message


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
        "quote_never_closed_large.csv",
        "rows_10000_surplus_values.csv",
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


# --- edges around the corpus: files that look odd but must be read, and how refusals are listed


def _good_bytes(tmp_path: Path, rows: int = 8) -> bytes:
    from ascld.quality.sample import sample_rows, write_rows

    return write_rows(tmp_path / "good.csv", sample_rows(rows, seed=11)).read_bytes()


def test_a_plain_csv_named_gz_is_read_as_plain_text(tmp_path):
    # Compression is decided by the bytes, not the name: DuckDB would guess gzip from ".gz" and fail.
    path = tmp_path / "plain.csv.gz"
    path.write_bytes(_good_bytes(tmp_path))
    result = validate_return(path)
    assert result.usable and result.row_count == 8, [str(p) for p in result.problems[:3]]


def test_crlf_file_with_a_line_feed_inside_a_quoted_value_is_not_mixed(tmp_path):
    # Excel writes a line break inside a cell as LF within quotes and ends rows with CR LF: that is valid.
    lines = _good_bytes(tmp_path).split(b"\r\n")
    cells = lines[1].split(b",")
    cells[27] = b'"Home\ncare"'  # Event_Description, a free-text field
    lines[1] = b",".join(cells)
    path = tmp_path / "lf_in_quotes.csv"
    path.write_bytes(b"\r\n".join(lines))
    result = validate_return(path)
    assert result.usable and result.row_count == 8
    assert not [p for p in result.problems if p.check_id == "T017"]


def test_a_row_with_thousands_of_surplus_values_is_listed_once(tmp_path):
    lines = _good_bytes(tmp_path).split(b"\r\n")
    lines[2] += b"," * 5000
    path = tmp_path / "surplus.csv"
    path.write_bytes(b"\r\n".join(lines))
    result = validate_return(path)
    assert result.exit_code == 2
    listed = [(p.row, p.check_id) for p in result.problems]
    assert listed == [(3, "T009")], listed


def test_a_line_break_inside_a_shown_value_is_escaped_so_messages_stay_on_one_line(tmp_path):
    lines = _good_bytes(tmp_path).split(b"\r\n")
    cells = lines[1].split(b",")
    cells[9] = b'"Fe\r\nmale 2"'  # Gender: a list field whose value is shown (a digit: not a possible name)
    lines[1] = b",".join(cells)
    path = tmp_path / "break.csv"
    path.write_bytes(b"\r\n".join(lines))
    result = validate_return(path)
    shown = [p for p in result.problems if p.field == "Gender" and p.row == 2]
    assert shown and all("\n" not in p.message and "\r" not in p.message for p in shown), shown
    assert any('"Fe\\r\\nmale 2"' in p.message for p in shown), [p.message for p in shown]


# --- counts of a refused file, repeated headers in any case, rows of commas only


def test_counts_of_a_cut_listing_count_every_row_not_the_summary_line(corpus):
    # The listing's last line stands for 5,001 rows: counted as one problem, the file had 1,000 (not 6,000).
    folder, _ = corpus
    result = validate_return(folder / "ragged_6000_rows.csv")
    (count,) = [c for c in result.problem_counts if c["check_id"] == "T009"]
    assert (count["count"], count["rows"]) == (6000, 6000), count
    totals = result.summary["totals"]
    assert (totals["errors"], totals["problems"], totals["rows_with_errors"]) == (6000, 6000, 6000), totals
    listing = result.summary["listing"]
    assert (listing["listed"], listing["not_listed"], listing["rows_not_listed"]) == (1000, 5000, 5000), listing


def test_counts_of_a_cut_listing_when_max_problems_is_smaller(corpus):
    folder, _ = corpus
    result = validate_return(folder / "ragged_6000_rows.csv", max_problems=10)
    assert result.problem_counts[0]["count"] == 6000
    listing = result.summary["listing"]
    assert (listing["listed"], listing["not_listed"], listing["rows_not_listed"]) == (10, 5990, 5990), listing


@pytest.mark.parametrize("name", ["repeated_header_upper_case.csv", "repeated_header_lower_case_spaces.csv"])
def test_a_header_repeated_in_another_case_is_t018_not_a_second_la(corpus, name):
    folder, _ = corpus
    result = validate_return(folder / name)
    assert [(p.row, p.check_id) for p in result.problems] == [(6, "T018")], [str(p) for p in result.problems]


def test_rows_of_commas_only_are_one_problem_each(corpus):
    folder, _ = corpus
    result = validate_return(folder / "some_rows_only_commas.csv")
    listed = [(p.row, p.check_id) for p in result.problems]
    assert listed == [(5, "T020"), (15, "T020"), (16, "T020"), (17, "T020")], [str(p) for p in result.problems]


def test_every_row_of_commas_only_is_no_data_rows(corpus):
    folder, _ = corpus
    result = validate_return(folder / "rows_only_commas.csv")
    assert [p.check_id for p in result.problems] == ["T008"], [str(p) for p in result.problems]
    assert "5 rows" in result.problems[0].message, result.problems[0].message


def test_thousands_of_rows_of_commas_are_listed_to_1000_and_all_counted(tmp_path):
    # A spreadsheet's used range saved below the data: 3,000 lines of commas.
    good = _good_bytes(tmp_path)
    path = tmp_path / "used_range.csv"
    path.write_bytes(good + (b"," * 49 + b"\r\n") * 3000)
    result = validate_return(path)
    assert result.exit_code == 2 and {p.check_id for p in result.problems} == {"T020"}
    assert len(result.problems) == 1000 and result.problems[0].row == 10
    assert "this row and 2,000 more rows after it" in result.problems[-1].message, str(result.problems[-1])
    assert result.problem_counts[0]["count"] == 3000 and result.problem_counts[0]["rows"] == 3000
