"""ASCOF reference data: the `ascof_*.csv` rows under `ascld/methodology/data/`, each citing ascof.md.

Code reads these tables and never restates them (STYLE.md §5.2). This is a deliberately tiny reader: it
does not depend on the main-tables loader in `ascld.methodology`, which is developed separately.
"""

from __future__ import annotations

import csv
import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from types import MappingProxyType

from ascld.spec import load_spec

DATA_DIR = Path(__file__).resolve().parents[2] / "methodology" / "data"


def read_reference(name: str) -> tuple[dict[str, str], ...]:
    """Rows of `ascof_<name>.csv` as dicts of text (empty cells are empty strings).

    Args:
        name: the table name without prefix and suffix, e.g. "parameters".

    Raises:
        FileNotFoundError: no such reference table.

    Examples:
        >>> read_reference("parameters")[0]["id"]
        'open_end_date'
    """
    path = DATA_DIR / f"ascof_{name}.csv"
    with path.open(newline="", encoding="utf-8") as f:
        return tuple(dict(row) for row in csv.DictReader(f))


@dataclass(frozen=True)
class MeasureInfo:
    """One ASCOF output: stable id, published measure name and description, and how its value is formed."""

    id: str
    measure: str
    description: str
    kind: str  # percentage | rate | count
    places: int
    scale: int


@dataclass(frozen=True)
class AscofReference:
    """All ASCOF reference tables, loaded once."""

    parameters: Mapping[str, str]
    measures: Mapping[str, MeasureInfo]
    penalised_outcomes: tuple[str, ...]
    final_outcomes: tuple[dict[str, str], ...]
    accommodation_groups: Mapping[str, int]  # status -> 1 (settled) / 0
    accommodation_from_services: tuple[dict[str, str], ...]
    client_settings: tuple[dict[str, str], ...]
    age_bands: Mapping[str, tuple[tuple[str, int | None, int | None], ...]]
    sus_codes: Mapping[str, tuple[str, ...]]
    sus_sex: Mapping[str, str]
    outcome_hierarchy: tuple[str, ...]  # R2 event outcomes, rank 1 first (spec event_outcome.r2_dhsc)
    service_hierarchy: tuple[str, ...]  # spec service_type.support_setting_hierarchy
    carer_support_hierarchy: tuple[str, ...]  # spec delivery_mechanism.carer_support_provided_SALT_LTS003

    def parameter(self, key: str) -> str:
        return self.parameters[key]

    def int_parameter(self, key: str) -> int:
        return int(self.parameters[key])

    def date_parameter(self, key: str) -> dt.date:
        return dt.date.fromisoformat(self.parameters[key])


def _optional_int(text: str) -> int | None:
    return int(text) if text.strip() else None


@cache
def load_reference() -> AscofReference:
    """Load the ASCOF reference tables and the spec hierarchies they rely on.

    Examples:
        >>> ref = load_reference()
        >>> ref.int_parameter("new_client_days")
        91
        >>> ref.measures["2A"].measure
        'ASCOF 2A'
    """
    spec = load_spec()
    params = {r["id"]: r["value"] for r in read_reference("parameters")}
    measures = {
        r["id"]: MeasureInfo(
            r["id"], r["measure"], r["description"], r["kind"], int(r["places"]), int(r["scale"])
        )
        for r in read_reference("measures")
    }
    groups = {
        v: int(g) for v, g in spec.groupings["accommodation_status.Accommodation_Status_Group_R2"].items()
    }
    for r in read_reference("accommodation_constructed"):
        groups[r["accommodation_status"]] = int(r["group"])
    bands: dict[str, list[tuple[str, int | None, int | None]]] = {}
    for r in read_reference("age_bands"):
        bands.setdefault(r["scheme"], []).append(
            (r["band"], _optional_int(r["min_age"]), _optional_int(r["max_age"]))
        )
    codes: dict[str, list[str]] = {}
    for r in read_reference("2d_sus_codes"):
        codes.setdefault(r["rule"], []).append(r["code"])
    return AscofReference(
        parameters=MappingProxyType(params),
        measures=MappingProxyType(measures),
        penalised_outcomes=tuple(r["event_outcome"] for r in read_reference("outcome_penalty")),
        final_outcomes=read_reference("2a_final_outcomes"),
        accommodation_groups=MappingProxyType(groups),
        accommodation_from_services=tuple(
            sorted(read_reference("accommodation_from_services"), key=lambda r: int(r["order"]))
        ),
        client_settings=read_reference("3d_client_settings"),
        age_bands=MappingProxyType({k: tuple(v) for k, v in bands.items()}),
        sus_codes=MappingProxyType({k: tuple(v) for k, v in codes.items()}),
        sus_sex=MappingProxyType({r["sex"]: r["gender"] for r in read_reference("2d_sex")}),
        outcome_hierarchy=spec.hierarchies["event_outcome.r2_dhsc"],
        service_hierarchy=spec.hierarchies["service_type.support_setting_hierarchy"],
        carer_support_hierarchy=spec.hierarchies["delivery_mechanism.carer_support_provided_SALT_LTS003"],
    )
