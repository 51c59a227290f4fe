"""Helpers for the validator's tests: writing sample rows as a return and validating them."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from pathlib import Path

from ascld.quality.sample import write_rows
from ascld.quality.validate import ValidationResult, validate_return

PERIOD_END = dt.date(2025, 9, 30)
PERIOD_START = dt.date(2024, 10, 1)
SUBMITTED = dt.date(2025, 10, 20)


def fmt(d: dt.date) -> str:
    return d.strftime("%d/%m/%Y")


def validate_rows(
    tmp_path: Path,
    rows: Iterable[Mapping[str, str]],
    name: str = "r.csv",
    *,
    submission_date: dt.date = SUBMITTED,
    **options,
) -> ValidationResult:
    path = write_rows(tmp_path / name, rows)
    options.setdefault("max_problems", 100_000)
    return validate_return(path, submission_date=submission_date, **options)


def failures(result: ValidationResult) -> set[tuple[int | None, str, str]]:
    return {(p.row, p.field, p.check_id) for p in result.problems if p.severity == "error"}


def found(result: ValidationResult, severity: str | None = None) -> set[tuple[int | None, str, str]]:
    return {(p.row, p.field, p.check_id) for p in result.problems if severity in (None, p.severity)}
