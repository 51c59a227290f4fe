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
