"""Load the main-tables reference tables (`data/main_tables_*.csv`) into one immutable object.

Each CSV row has a stable id and cites its source (main-tables.md and section). Where the CLD specification
already holds a table (R1 -> R2 maps, groupings, the event-outcome hierarchy), these files only say which spec
table to use; `main_tables_value_mappings.csv` adds the few raw -> cleaned pairs the spec does not have, with
a note on how they differ from the spec.
"""

from __future__ import annotations

import csv
import functools
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ascld.errors import SpecError

PREFIX = "main_tables_"
EVENT_KINDS = ("request", "assessment", "service", "review")
# The order the kinds' LIKE patterns are tried in: service first. §4, §5.5 and §6.2 decide "service or not" by
# LIKE '%service%' alone, so a type that also matches another pattern (e.g. `Service request`) is a service in
# §5.3 too; the method is silent on such types.
KIND_ORDER = ("service", *(k for k in EVENT_KINDS if k != "service"))


@dataclass(frozen=True)
class MappedField:
    """One field mapped raw -> cleaned (-> grouped, -> hierarchy) in GetDerivedFields."""

    id: str
    field: str
    pass_no: int
    list_name: str
    raw_column: str
    cleaned_column: str
    grouped_column: str | None
    grouping: str | None
    hierarchy_column: str | None
    hierarchy: str | None


@dataclass(frozen=True)
class AgeBand:
    id: str
    band_column: str
    kind: str  # range | null
    min_age: int | None
    max_age: int | None
    label: str


@dataclass(frozen=True)
class ReviewTypeRule:
    id: str
    order: int
    reason_test: str  # starts_with | equals | blank | any
    reason_value: str
    event_test: str  # equals | not_contains | any
    event_value: str
    result: str | None  # None = NULL


@dataclass(frozen=True)
class EventRefComponent:
    id: str
    component: str
    kinds: frozenset[str]  # event kinds (request, assessment, service, review, other) that use it


@dataclass(frozen=True)
class SortKey:
    id: str
    mode: str  # both | single | joined
    column: str
    direction: str  # asc | desc
    null_as: str | None  # parameter key whose value replaces NULL


@dataclass(frozen=True)
class PartitionKey:
    id: str
    mode: str
    column: str
    key: str  # text | text_blank | decimal
    services_only: bool


@dataclass(frozen=True)
class MainTablesMethod:
    """The main-tables method as data (main-tables.md), from `ascld/methodology/data/main_tables_*.csv`."""

    version: str
    parameters: Mapping[str, Any]
    excluded_imports: tuple[datetime, ...]
    event_type_patterns: Mapping[str, str]  # kind -> LIKE pattern
    age_bands: tuple[AgeBand, ...]
    mapped_fields: tuple[MappedField, ...]
    value_mappings: Mapping[str, Mapping[str, str]]  # list -> raw value -> cleaned value
    review_type_rules: tuple[ReviewTypeRule, ...]
    event_ref_components: tuple[EventRefComponent, ...]
    dedup_sort: tuple[SortKey, ...]
    dedup_partition: tuple[PartitionKey, ...]
    output_columns: Mapping[str, tuple[str, ...]]  # mode -> columns in order
    data_sha256: str  # one hash over every main_tables_*.csv, for manifests

    def param(self, key: str) -> Any:
        """A parameter by key (e.g. 'age.days_per_year'), typed as its row says."""
        try:
            return self.parameters[key]
        except KeyError:
            raise SpecError(f"main_tables_parameters.csv has no parameter {key!r}.") from None

    def sort_keys(self, mode: str) -> tuple[SortKey, ...]:
        return tuple(k for k in self.dedup_sort if k.mode in ("both", mode))

    def partition_keys(self, mode: str) -> tuple[PartitionKey, ...]:
        return tuple(k for k in self.dedup_partition if k.mode in ("both", mode))

    def fields_in_pass(self, pass_no: int) -> tuple[MappedField, ...]:
        return tuple(f for f in self.mapped_fields if f.pass_no == pass_no)


def data_dir() -> Path:
    return Path(str(resources.files("ascld.methodology") / "data"))


def _read(name: str) -> list[dict[str, str]]:
    path = data_dir() / f"{PREFIX}{name}.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    ids = [r["id"] for r in rows]
    if len(ids) != len(set(ids)):
        raise SpecError(f"{path.name}: ids must be unique.")
    return rows


def _typed(value: str, kind: str) -> Any:
    if kind == "int":
        return int(value)
    if kind == "decimal":
        return Decimal(value)
    if kind == "date":
        return date.fromisoformat(value)
    return value


def _parameters() -> Mapping[str, Any]:
    return MappingProxyType({r["key"]: _typed(r["value"], r["type"]) for r in _read("parameters")})


def _optional_int(text: str) -> int | None:
    return int(text) if text.strip() else None


def _mapped_fields() -> tuple[MappedField, ...]:
    return tuple(
        MappedField(
            id=r["id"],
            field=r["field"],
            pass_no=int(r["pass"]),
            list_name=r["list"],
            raw_column=r["raw_column"],
            cleaned_column=r["cleaned_column"],
            grouped_column=r["grouped_column"] or None,
            grouping=r["grouping"] or None,
            hierarchy_column=r["hierarchy_column"] or None,
            hierarchy=r["hierarchy"] or None,
        )
        for r in _read("mapped_fields")
    )


def _value_mappings() -> Mapping[str, Mapping[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for r in _read("value_mappings"):
        out.setdefault(r["list"], {})[r["raw_value"]] = r["cleaned_value"]
    return MappingProxyType({k: MappingProxyType(v) for k, v in out.items()})


def _review_rules() -> tuple[ReviewTypeRule, ...]:
    rules = [
        ReviewTypeRule(
            id=r["id"],
            order=int(r["order"]),
            reason_test=r["reason_test"],
            reason_value=r["reason_value"],
            event_test=r["event_test"],
            event_value=r["event_value"],
            result=r["result"] or None,
        )
        for r in _read("review_types")
    ]
    return tuple(sorted(rules, key=lambda r: r.order))


def _components() -> tuple[EventRefComponent, ...]:
    rows = sorted(_read("event_ref_components"), key=lambda r: int(r["order"]))
    return tuple(
        EventRefComponent(
            id=r["id"],
            component=r["component"],
            kinds=frozenset(k for k in (*EVENT_KINDS, "other") if r[k].strip().upper() == "Y"),
        )
        for r in rows
    )


def _sort_keys() -> tuple[SortKey, ...]:
    rows = sorted(_read("dedup_sort"), key=lambda r: int(r["order"]))
    return tuple(
        SortKey(
            id=r["id"],
            mode=r["mode"],
            column=r["column"],
            direction=r["direction"],
            null_as=r["null_as"] or None,
        )
        for r in rows
    )


def _partition_keys() -> tuple[PartitionKey, ...]:
    rows = sorted(_read("dedup_partition"), key=lambda r: int(r["order"]))
    return tuple(
        PartitionKey(
            id=r["id"],
            mode=r["mode"],
            column=r["column"],
            key=r["key"],
            services_only=r["services_only"].strip().upper() == "Y",
        )
        for r in rows
    )


def _output_columns() -> Mapping[str, tuple[str, ...]]:
    rows = sorted(_read("output_columns"), key=lambda r: int(r["order"]))
    return MappingProxyType(
        {
            mode: tuple(r["column"] for r in rows if r[mode].strip().upper() == "Y")
            for mode in ("single", "joined")
        }
    )


def _data_hash() -> str:
    digest = hashlib.sha256()
    for path in sorted(data_dir().glob(f"{PREFIX}*.csv")):
        digest.update(path.name.encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


@functools.lru_cache(maxsize=1)
def load_main_tables_method() -> MainTablesMethod:
    """Load the main-tables reference tables.

    Returns:
        The immutable MainTablesMethod; `version` and `data_sha256` go into every run manifest.

    Raises:
        SpecError: a table is malformed (duplicate ids, unknown parameter type...).

    Examples:
        >>> method = load_main_tables_method()
        >>> method.param("age.days_per_year")
        Decimal('365.25')
        >>> method.event_type_patterns["service"]
        '%service%'
    """
    params = _parameters()
    return MainTablesMethod(
        version=str(params["method.version"]),
        parameters=params,
        excluded_imports=tuple(datetime.fromisoformat(r["import_date"]) for r in _read("excluded_imports")),
        event_type_patterns=MappingProxyType({r["kind"]: r["like_pattern"] for r in _read("event_types")}),
        age_bands=tuple(
            AgeBand(
                id=r["id"],
                band_column=r["band_column"],
                kind=r["kind"],
                min_age=_optional_int(r["min_age"]),
                max_age=_optional_int(r["max_age"]),
                label=r["label"],
            )
            for r in _read("age_bands")
        ),
        mapped_fields=_mapped_fields(),
        value_mappings=_value_mappings(),
        review_type_rules=_review_rules(),
        event_ref_components=_components(),
        dedup_sort=_sort_keys(),
        dedup_partition=_partition_keys(),
        output_columns=_output_columns(),
        data_sha256=_data_hash(),
    )
