"""Immutable objects for the CLD specification. Built by `ascld.spec.loader`; never restated in code."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from ascld.spec.conditions import Condition

Status = Literal["mandatory", "applicable", "not_applicable", "undetermined"]
Release = Literal["R1", "R2"]

# The national data-quality labels and codes (README §5; derived_code_lists in cld_defined_lists.yaml).
STATUS_LABELS: Mapping[str, tuple[int, str]] = MappingProxyType(
    {
        "mandatory": (2, "Mandatory"),
        "applicable": (1, "Applicable but not mandatory"),
        "not_applicable": (0, "Not applicable"),
        "undetermined": (-1, "Undetermined"),
    }
)


@dataclass(frozen=True)
class Field:
    """One submitted column, in submission order."""

    seq: int
    name: str  # the header as councils submit it
    column: str  # the national column name; ascld's field id everywhere
    module: str
    type: str  # text | date | integer | decimal | code
    format: str
    defined_list: str | None
    external_list: str | None
    identifier: bool  # direct or strong personal identifier: pseudonymised or dropped nationally
    sensitive: bool  # never echoed in messages, logs or reports (identifiers and other personal data)
    since: str
    in_r2: str  # "true" or "uncertain"
    confirmed: bool
    max_length: int | None
    required_summary: str
    source: str
    note: str

    @property
    def may_be_omitted(self) -> bool:
        """A column whose place in Release 2 is unconfirmed (`in_r2 = uncertain`): a file may leave it out, and
        its values are then read as blank (cld_fields.yaml, GP Practice Name: "Treat as optional and do not
        fail a file that omits or includes it"; Provider CQC Location Name: "Same situation")."""
        return self.in_r2 == "uncertain"


@dataclass(frozen=True)
class DefinedList:
    """A defined list with its Release 2 and Release 1 values and the R1 -> R2 mapping."""

    name: str
    field: str
    column: str
    r2_complete: bool
    r1_complete: bool
    r2_values: tuple[str, ...]
    r1_values: tuple[str, ...]  # Release 1 values, including spellings seen in real R1 data
    r1_to_r2: Mapping[str, str]  # R1 value -> R2 value, for values with a known equivalent
    r1_status: Mapping[str, str]  # R1 value -> mapped | unmappable | unknown
    unconfirmed: frozenset[str]  # R2 values the research could not confirm
    source: str
    note: str
    overlaid: bool = False

    @property
    def complete(self) -> bool:
        return self.r2_complete

    def r2_by_fold(self) -> Mapping[str, str]:
        """Release 2 values keyed by case-folded, right-stripped text (for suggestions and national matching)."""
        return {v.rstrip().casefold(): v for v in self.r2_values}

    def r1_by_fold(self) -> Mapping[str, str]:
        return {v.rstrip().casefold(): v for v in self.r1_values}

    def to_r2(self, value: str) -> str | None:
        """The Release 2 value for a submitted value: exact or case-insensitive R2 match, else the R1 mapping.

        Returns None when nothing fits. Used where the national method matches case-insensitively.

        Examples:
            >>> from ascld.spec import load_spec
            >>> load_spec().lists["client_type"].to_r2("Service User")
            'Service user'
            >>> load_spec().lists["client_type"].to_r2("Carer")
            'Unpaid carer'
        """
        key = value.rstrip().casefold()
        hit = self.r2_by_fold().get(key)
        if hit is not None:
            return hit
        r1 = self.r1_by_fold().get(key)
        if r1 is not None:
            return self.r1_to_r2.get(r1)
        return None


@dataclass(frozen=True)
class StatusRule:
    rule_id: str
    column: str
    order: int
    when: str
    status: Status
    source: str
    note: str
    condition: Condition = field(compare=False, repr=False)


@dataclass(frozen=True)
class Spec:
    """The whole specification: fields, lists, status rules, groupings and hierarchies."""

    version: str
    fields: tuple[Field, ...]
    lists: Mapping[str, DefinedList]
    status_rules: Mapping[str, tuple[StatusRule, ...]]
    groupings: Mapping[str, Mapping[str, str]]  # "<list>.<grouping>" -> value -> group
    hierarchies: Mapping[str, tuple[str, ...]]  # "<list>.<hierarchy>" -> values, rank 1 first
    derived_values: Mapping[str, str]  # processing-only values -> meaning; never valid input
    sources: Mapping[str, str]
    overlay: str | None = None  # description of the overlay in force, if any

    @property
    def headers(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(f.column for f in self.fields)

    @property
    def version_label(self) -> str:
        """The version string every output records: spec version plus the overlay in force."""
        return self.version + (f" + overlay {self.overlay}" if self.overlay else "")

    def field(self, key: str) -> Field:
        """Look a field up by national column name or by header (either, case-insensitively)."""
        folded = key.casefold()
        for f in self.fields:
            if folded in (f.column.casefold(), f.name.casefold()):
                return f
        raise KeyError(key)

    def list_for(self, column: str) -> DefinedList | None:
        name = self.field(column).defined_list
        return self.lists[name] if name else None

    def hierarchy_rank(self, key: str) -> Mapping[str, int]:
        """Case-folded value -> rank (1 = highest) for a hierarchy such as 'event_outcome.r2_dhsc'."""
        return {v.casefold(): i for i, v in enumerate(self.hierarchies[key], start=1)}
