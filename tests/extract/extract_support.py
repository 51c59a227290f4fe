"""Helpers for the extraction tests (fixtures are in conftest.py)."""

from __future__ import annotations

import csv
from pathlib import Path

from ascld.spec import load_spec


def read_return(path: Path) -> list[tuple[str, ...]]:
    """The data rows of a return file; checks the header is the spec's, in order."""
    with path.open(encoding="cp1252", newline="") as fh:
        rows = list(csv.reader(fh))
    assert tuple(rows[0]) == load_spec().headers
    return [tuple(r) for r in rows[1:]]


def line_of(text: str, needle: str, after: str | None = None) -> int:
    """The 1-based line of the first line containing `needle` (after the line containing `after`)."""
    lines = text.splitlines()
    start = 0
    if after is not None:
        start = next(i for i, line in enumerate(lines) if after in line) + 1
    return next(i for i, line in enumerate(lines[start:], start) if needle in line) + 1


def write_mapping(folder: Path, text: str, name: str = "mapping.yaml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


# Completed requests of service users inside the period: their people are certainly in the return.
REQUEST_PEOPLE = (
    "SELECT DISTINCT client_id FROM contact WHERE status_code = 'COMPLETE' AND contact_type_code = 'CONTACT' "
    "AND client_role = 'SU' AND completed_date BETWEEN ? AND ? ORDER BY client_id LIMIT 3"
)
REQUESTS = (
    "SELECT contact_id FROM contact WHERE status_code = 'COMPLETE' AND contact_type_code = 'CONTACT' "
    "AND completed_date BETWEEN ? AND ? ORDER BY contact_id LIMIT 4"
)
