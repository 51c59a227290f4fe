"""The project's own rule for dates in a return, in Python and in SQL.

A date is valid when it is written exactly `dd/mm/yyyy`: two digits for the day, two for the month, four for
the
year, separated by `/`, with nothing before or after (no spaces, no time part), and it is a real calendar date
with a year from 1900 to 2099. Single-digit days or months (`1/7/2025`) are **not** accepted: the
specification
says dd/mm/yyyy and engines disagree on looser forms (DuckDB reads `01/07/25` as the year 25 and ignores
spaces),
so the rule is stated here once and compiled to SQL.

Examples:
    >>> check_date("31/02/2024").problem
    'impossible'
    >>> check_date("01/07/25").hint_kind
    'two_digit_year'
    >>> check_date("01/07/2025").value
    datetime.date(2025, 7, 1)
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

MIN_YEAR, MAX_YEAR = 1900, 2099
FORMAT_REGEX = r"[0-9]{2}/[0-9]{2}/[0-9]{4}"
_FORMAT = re.compile(FORMAT_REGEX)

# Why a value is not in the format, in the order they are tried; each has a hint in checks.csv.
HINT_PATTERNS: tuple[tuple[str, str], ...] = (
    ("spaces", r"^\s+.*|.*\s+$"),
    ("time", r"^[0-9]{1,2}/[0-9]{1,2}/[0-9]{2,4}[ T].*[0-9]:[0-9].*"),
    ("two_digit_year", r"^[0-9]{1,2}/[0-9]{1,2}/[0-9]{2}$"),
    ("single_digit", r"^[0-9]{1,2}/[0-9]{1,2}/[0-9]{4}$"),
    ("iso", r"^[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}.*"),
    ("separator", r"^[0-9]{1,2}[-.][0-9]{1,2}[-.][0-9]{2,4}$"),
)
_HINTS = tuple((kind, re.compile(p, re.DOTALL)) for kind, p in HINT_PATTERNS)


@dataclass(frozen=True)
class DateCheck:
    value: date | None
    problem: str | None  # None | 'format' | 'impossible' | 'year_range'
    hint_kind: str | None = (
        None  # for 'format': spaces | time | two_digit_year | single_digit | iso | separator | other
    )


def check_date(raw: str) -> DateCheck:
    """Classify one non-blank date value (blank handling is the caller's)."""
    if not _FORMAT.fullmatch(raw):
        for kind, pattern in _HINTS:
            if pattern.fullmatch(raw):
                return DateCheck(None, "format", kind)
        return DateCheck(None, "format", "other")
    day, month, year = int(raw[0:2]), int(raw[3:5]), int(raw[6:10])
    if not MIN_YEAR <= year <= MAX_YEAR:
        return DateCheck(None, "year_range")
    try:
        return DateCheck(date(year, month, day), None)
    except ValueError:
        return DateCheck(None, "impossible")


def parse_date(raw: str | None) -> date | None:
    """The date a valid value stands for, else None (blank, wrong format, impossible, out of range)."""
    if raw is None:
        return None
    return check_date(raw).value


# `FORMAT_REGEX` with a year from MIN_YEAR to MAX_YEAR (1900-2099), as GLOB patterns: one per century.
_DATE_GLOBS = tuple(f"[0-9][0-9]/[0-9][0-9]/{century}[0-9][0-9]" for century in ("19", "20"))
assert (MIN_YEAR, MAX_YEAR) == (1900, 2099), "_DATE_GLOBS spells out the centuries of the year range"


def date_sql(raw: str) -> str:
    """SQL giving the DATE for a valid value of `raw` and NULL otherwise (the same rule as `parse_date`).

    The shape and year range are tested with GLOB (every character of the pattern is one ASCII character,
    so a match is exactly ten of them), which costs about half a regular expression; TRY_STRPTIME then
    rejects impossible dates (31/02, day or month 00)."""
    shape = " OR ".join(f"{raw} GLOB '{g}'" for g in _DATE_GLOBS)
    return f"CASE WHEN {shape} THEN TRY_STRPTIME({raw}, '%d/%m/%Y')::DATE END"


def date_problem_sql(raw: str) -> str:
    """SQL giving 'format', 'impossible', 'year_range' or NULL for a non-blank value of `raw`."""
    return (
        f"CASE WHEN NOT regexp_full_match({raw}, '{FORMAT_REGEX}') THEN 'format' "
        f"WHEN TRY_CAST(substr({raw}, 7, 4) AS INTEGER) NOT BETWEEN {MIN_YEAR} AND {MAX_YEAR} "
        "THEN 'year_range' "
        f"WHEN TRY_STRPTIME({raw}, '%d/%m/%Y') IS NULL THEN 'impossible' "
        f"END"
    )


def date_hint_sql(raw: str) -> str:
    """SQL naming why a value is not in the dd/mm/yyyy format (the hint kinds of `check_date`)."""
    whens = " ".join(
        f"WHEN regexp_full_match({raw}, '{p.replace(chr(39), chr(39) * 2)}', 's') THEN '{k}'"
        for k, p in HINT_PATTERNS
    )
    return f"CASE {whens} ELSE 'other' END"
