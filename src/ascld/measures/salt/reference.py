"""A tiny reader for the SALT reference tables (`ascld/methodology/data/salt_*.csv`).

Every value the SALT replication compares against (Release 1 defined-list values, hierarchies,
sequel mappings, gap parameters) lives in those CSVs, each row citing `salt.md` and section. Code
reads them here and never restates them. The event-outcome tie-break hierarchy and the LTS003
support hierarchy come from the CLD specification (`ascld.spec`:
`event_outcome.nhse_salt_sequel_ranking_r1`, `delivery_mechanism.carer_support_provided_SALT_LTS003`).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from datetime import date
from pathlib import Path
from types import MappingProxyType

from ascld.errors import SpecError
from ascld.methodology.cited import read_cited_table

DATA_DIR = Path(__file__).resolve().parents[2] / "methodology" / "data"
PREFIX = "salt_"


@functools.cache
def read_table(name: str) -> tuple[Mapping[str, str], ...]:
    """Rows of `salt_<name>.csv` as read-only dicts (text values, empty string for an empty cell).

    Raises:
        SpecError: the file is missing or a row has no `source`.
    """
    return read_cited_table(DATA_DIR / f"{PREFIX}{name}.csv", "SALT reference table", "salt.md")


def values(set_name: str) -> tuple[str, ...]:
    """The values of one named set in `salt_values.csv`, in file order (e.g. `long_term_service_types`)."""
    found = tuple(row["value"] for row in read_table("values") if row["set"] == set_name)
    if not found:
        raise SpecError(f"salt_values.csv: no set named `{set_name}`.")
    return found


def value(set_name: str) -> str:
    """The single value of a one-row set in `salt_values.csv`."""
    (only,) = values(set_name)
    return only


def parameter_int(name: str) -> int:
    """An integer parameter from `salt_parameters.csv`."""
    return int(_parameter(name))


def parameter_date(name: str) -> date:
    """A date parameter from `salt_parameters.csv`."""
    return date.fromisoformat(_parameter(name))


def _parameter(name: str) -> str:
    for row in read_table("parameters"):
        if row["id"] == name:
            return row["value"]
    raise SpecError(f"salt_parameters.csv: no parameter `{name}`.")


def service_hierarchy(name: str) -> Mapping[str, int]:
    """Service type -> rank for the STS001 or STS002a sequel service hierarchy (salt.md §1.8)."""
    return MappingProxyType(
        {
            row["service_type"]: int(row["rank"])
            for row in read_table("service_hierarchies")
            if row["hierarchy"] == name
        }
    )


def valid_values(list_name: str) -> tuple[str, ...]:
    """Values of a validation list in `salt_valid_values.csv` (PSR, carer, ethnicity)."""
    return tuple(row["value"] for row in read_table("valid_values") if row["list"] == list_name)


def measure_description(measure: str) -> str:
    for row in read_table("measures"):
        if row["measure"] == measure:
            return row["description"]
    raise SpecError(f"salt_measures.csv: no measure `{measure}`.")


def measure_is_snapshot(measure: str) -> bool:
    return any(row["measure"] == measure and row["period"] == "snapshot" for row in read_table("measures"))
