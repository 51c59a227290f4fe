"""Read a reference table whose every row cites its source (the measures' `*_<name>.csv` files)."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from ascld.errors import SpecError


def read_cited_table(path: Path, what: str, cite: str) -> tuple[Mapping[str, str], ...]:
    """Rows of the CSV at `path` as read-only dicts (text; an empty cell is an empty string).

    Args:
        path: the CSV file.
        what: what the table is, for the error when it is missing (e.g. "SALT reference table").
        cite: what a row's `source` must cite, for the error when it is empty (e.g. "salt.md").

    Raises:
        SpecError: the file is missing or a row has no `source`.
    """
    if not path.is_file():
        raise SpecError(f"{path.name}: {what} not found in {path.parent}. Reinstall ascld.")
    with path.open(encoding="utf-8", newline="") as handle:
        rows = tuple(MappingProxyType(dict(row)) for row in csv.DictReader(handle))
    for number, row in enumerate(rows, start=2):
        if not (row.get("source") or "").strip():
            raise SpecError(f"{path.name}, row {number}, field source: empty. Cite {cite} and section.")
    return rows
