"""A tiny reader for the dashboard reference tables (`ascld/measures/dashboard/data/dashboard_*.csv`).

Every value the dashboard tables and the waiting-times method compare against (event and service types,
outcome sets, cost frequencies, column lists, DQ fields and codes, dates and ages) lives in those CSVs, each
row citing `dashboard.md` and section. Code reads them here and never restates them (STYLE.md §5.2).
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from ascld.errors import SpecError
from ascld.methodology.cited import read_cited_table

DATA_DIR = Path(__file__).resolve().parent / "data"
PREFIX = "dashboard_"


@functools.cache
def read_table(name: str) -> tuple[Mapping[str, str], ...]:
    """Rows of `dashboard_<name>.csv` as read-only dicts (text; an empty cell is an empty string).

    Raises:
        SpecError: the file is missing or a row has no `source`.

    Examples:
        >>> read_table("parameters")[0]["id"]
        'service_event_type'
    """
    return read_cited_table(DATA_DIR / f"{PREFIX}{name}.csv", "dashboard reference table", "dashboard.md")


def _ordered(rows: tuple[Mapping[str, str], ...]) -> list[Mapping[str, str]]:
    return sorted(rows, key=lambda r: int(r["order"]))


def parameter(name: str) -> str:
    """One value of `dashboard_parameters.csv` (text)."""
    for row in read_table("parameters"):
        if row["id"] == name:
            return row["value"]
    raise SpecError(f"dashboard_parameters.csv: no parameter `{name}`.")


def parameter_int(name: str) -> int:
    return int(parameter(name))


def parameter_float(name: str) -> float:
    return float(parameter(name))


def parameter_date(name: str) -> dt.date:
    return dt.date.fromisoformat(parameter(name))


def values(set_name: str) -> tuple[str, ...]:
    """The values of one named set in `dashboard_values.csv`, in their `order`."""
    found = tuple(r["value"] for r in _ordered(read_table("values")) if r["set"] == set_name)
    if not found:
        raise SpecError(f"dashboard_values.csv: no set named `{set_name}`.")
    return found


def fact_columns(table: str) -> tuple[str, ...]:
    """Output columns of one fact table (`services`, `requests`, `assessments`, `reviews`, `costs`)."""
    found = tuple(r["column"] for r in _ordered(read_table("fact_columns")) if r["table"] == table)
    if not found:
        raise SpecError(f"dashboard_fact_columns.csv: no table `{table}`.")
    return found


def master_aliases() -> Mapping[str, str]:
    """Master-table alias -> the cleaned main-table column it copies (dashboard.md §1)."""
    return MappingProxyType({r["alias"]: r["column"] for r in read_table("master_aliases")})


def cost_frequencies() -> tuple[tuple[str, float], ...]:
    """(case-insensitive prefix, planned units per week) in the order the CASE tests them (dashboard.md §4)."""
    return tuple(
        (r["prefix"], int(r["units_numerator"]) / int(r["units_denominator"]))
        for r in _ordered(read_table("cost_frequency"))
    )


def age_band_order() -> Mapping[str, int]:
    return MappingProxyType({r["band"]: int(r["sort_order"]) for r in read_table("age_band_order")})


def wt_event_types() -> tuple[Mapping[str, str], ...]:
    """The LIKE patterns that give `Event_Type_Cleaned`, in CASE order, with each type's priority."""
    return tuple(_ordered(read_table("wt_event_types")))


def wt_type_priority() -> Mapping[str, int]:
    return MappingProxyType({r["event_type"]: int(r["priority"]) for r in wt_event_types() if r["priority"]})


def dq_fields() -> tuple[Mapping[str, str], ...]:
    """(module, field, value source) rows of the DQ values table, in order (dashboard.md §6)."""
    return tuple(_ordered(read_table("dq_fields")))


def dq_codes(kind: str) -> tuple[tuple[int | None, int | None, str], ...]:
    """(low, high, label) ranges for `status` (cond_) or `validity` (chk_) codes; an empty bound is open."""

    def bound(text: str) -> int | None:
        return int(text) if text.strip() else None

    return tuple((bound(r["low"]), bound(r["high"]), r["label"]) for r in read_table("dq_codes") if r["kind"] == kind)


def table_names() -> Mapping[str, tuple[str, str]]:
    """Output key -> (table name, level: `person`, `aggregate` or `dimension`)."""
    return MappingProxyType({r["key"]: (r["name"], r["level"]) for r in read_table("tables")})


def measures() -> tuple[Mapping[str, str], ...]:
    """The waiting-time measures (`WT1`, `WT2`): id, published measure name, description, part."""
    return read_table("measures")
