"""Shared helpers for the ASCOF tests: small main-table fixtures built directly from the scenarios.

The tests never depend on the main-tables builder: rows here carry exactly the main-table columns
(main-tables.md §6.3) that ASCOF reads, with NULL for anything a scenario leaves out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

from ascld.measures.ascof.common import MAIN_TABLE_COLUMNS

_ARROW = {"string": pa.string(), "date": pa.date32(), "int64": pa.int64()}

DEFAULTS: Mapping[str, Any] = {
    "LA_Code": "318",
    "LA_Name": "Testshire",
    "Ref_Period_End_Date": dt.date(2025, 3, 31),
    "Client_Type_Cleaned": "Service user",
}


def d(text: str | None) -> dt.date | None:
    """ISO text to a date (None stays None)."""
    return None if text is None else dt.date.fromisoformat(text)


def main_table(rows: Iterable[Mapping[str, Any]], **defaults: Any) -> pa.Table:
    """A main table with every ASCOF column; missing values take DEFAULTS/`defaults`, else NULL.

    Date values may be given as ISO strings. Each row gets a distinct Der_Unique_Record_ID unless given.
    """
    base = {**DEFAULTS, **defaults}
    cols: dict[str, list[Any]] = {c: [] for c in MAIN_TABLE_COLUMNS}
    for i, row in enumerate(rows, start=1):
        unknown = set(row) - set(MAIN_TABLE_COLUMNS)
        if unknown:
            raise KeyError(f"not a main-table column: {sorted(unknown)}")
        for c, dtype in MAIN_TABLE_COLUMNS.items():
            v = row.get(c, base.get(c))
            if c == "Der_Unique_Record_ID" and v is None:
                v = i
            if dtype == "date" and isinstance(v, str):
                v = d(v)
            cols[c].append(v)
    return pa.table({c: pa.array(v, type=_ARROW[MAIN_TABLE_COLUMNS[c]]) for c, v in cols.items()})
