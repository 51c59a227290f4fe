"""Raw -> cleaned -> grouped values (main-tables.md §5.1), built from the spec and the methodology tables.

DHSC keeps one manually maintained table per field (`REF_<Field>_Mapping`) holding every value ever submitted.
That workbook is not published, so ascld assembles each table from data:

1. every Release 2 value of the spec's defined list maps to itself;
2. every Release 1 value (and spelling variant) maps to its Release 2 value through the spec's
   `r1_r2_map.csv`;
3. `main_tables_value_mappings.csv` adds the pairs the spec lacks (the two Release 1-only event outcomes);
4. Release 1 values the spec marks `unmappable` map to `Invalid and not mapped`.

Matching is on LOWER(RTRIM(raw)), i.e. a case-insensitive collation. A blank raw value gives NULL. A raw
value in no row is what DHSC lists as a "new invalid value"; the `unmapped` policy decides its cleaned value:

* ``"auto"`` (default): `Invalid and not mapped` when the spec's Release 2 list is complete; otherwise the
  raw value itself (right-trimmed), because a valid Release 2 value missing from an incomplete list must not
  become invalid;
* ``"invalid"``: always `Invalid and not mapped` (what the analyst records for a value that fits nothing);
* ``"null"``: NULL, as the DHSC code leaves it until an analyst extends the mapping table.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

import ibis
import ibis.expr.types as ir

from ascld.errors import SpecError, UsageError
from ascld.methodology import MainTablesMethod
from ascld.methodology.loader import MappedField
from ascld.national.main_tables.sql import ci, rtrim
from ascld.spec import Spec

UNMAPPED_POLICIES = ("auto", "invalid", "null")


def fold(value: str) -> str:
    """The Python twin of `sql.ci`: casefold-free LOWER(RTRIM(x)) so keys match what the engines compute."""
    return value.rstrip(" ").lower()


@dataclass(frozen=True)
class FieldMapping:
    """The raw -> cleaned table of one field, keyed by folded raw value, and what happens to other values."""

    field: MappedField
    table: Mapping[str, str]
    fallback: str  # "invalid" | "keep" | "null"
    list_complete: bool
    invalid: str  # the cleaned value for a value that fits nothing ("Invalid and not mapped")


def _spec_table(spec: Spec, list_name: str, invalid: str) -> tuple[dict[str, str], set[str]]:
    lst = spec.lists[list_name]
    table: dict[str, str] = {fold(v): v for v in lst.r2_values}
    defaulted: set[str] = set()
    for value in lst.r1_values:
        key = fold(value)
        if key in table:
            continue
        r2 = lst.to_r2(value)
        if r2 is not None:
            table[key] = r2
        elif lst.r1_status.get(value) == "unmappable":
            table[key] = invalid
            defaulted.add(key)
    return table, defaulted


def build_field_mapping(
    spec: Spec, method: MainTablesMethod, field: MappedField, unmapped: str
) -> FieldMapping:
    """The mapping table of one field (see the module docstring for how it is assembled).

    Raises:
        SpecError: a methodology row contradicts a spec mapping.
        UsageError: the policy is not one of UNMAPPED_POLICIES.
    """
    if unmapped not in UNMAPPED_POLICIES:
        raise UsageError(
            f"unknown unmapped-value policy {unmapped!r}. Choose one of: {', '.join(UNMAPPED_POLICIES)}."
        )
    if field.list_name not in spec.lists:
        raise SpecError(
            f"main_tables_mapped_fields.csv {field.id}: the spec has no list {field.list_name!r}."
        )
    invalid = method.param("mapping.invalid_value")
    table, defaulted = _spec_table(spec, field.list_name, invalid)
    for raw, cleaned in method.value_mappings.get(field.list_name, {}).items():
        key = fold(raw)
        if key in table and key not in defaulted and table[key] != cleaned:
            raise SpecError(
                f"main_tables_value_mappings.csv maps {raw!r} ({field.list_name}) to {cleaned!r} but the "
                f"spec maps it to {table[key]!r}. Remove one of the two."
            )
        table[key] = cleaned
    complete = spec.lists[field.list_name].r2_complete
    fallback = {"auto": "invalid" if complete else "keep", "invalid": "invalid", "null": "null"}[unmapped]
    return FieldMapping(
        field=field, table=MappingProxyType(table), fallback=fallback, list_complete=complete, invalid=invalid
    )


def field_mappings(spec: Spec, method: MainTablesMethod, unmapped: str = "auto") -> tuple[FieldMapping, ...]:
    """Every mapped field's table, in the order of main_tables_mapped_fields.csv."""
    return tuple(build_field_mapping(spec, method, f, unmapped) for f in method.mapped_fields)


def cleaned_value(raw: ir.StringValue, mapping: FieldMapping) -> ir.StringValue:
    """LEFT JOIN REF_<Field>_Mapping ON raw (case-insensitive), as one CASE expression."""
    key = ci(raw)
    if mapping.fallback == "invalid":
        other: ir.Value = ibis.literal(mapping.invalid, type="string")
    elif mapping.fallback == "keep":
        other = rtrim(raw)
    else:
        other = ibis.null("string")
    looked_up = key.substitute(dict(mapping.table), else_=other) if mapping.table else other
    return ibis.cases((key.isnull() | (key == ""), ibis.null("string")), else_=looked_up)


def _lookup(value: ir.StringValue, table: Mapping[str, object], kind: str) -> ir.Value:
    if not table:
        return ibis.null(kind)
    return ci(value).substitute(
        {k: ibis.literal(v, type=kind) for k, v in table.items()}, else_=ibis.null(kind)
    )


def apply_mappings(t: ir.Table, spec: Spec, mappings: tuple[FieldMapping, ...], pass_no: int) -> ir.Table:
    """Rename each field of this pass X -> X_Raw and add X_Cleaned (and X_Grouped / the hierarchy)."""
    new: dict[str, ir.Value] = {}
    renames: dict[str, str] = {}
    for m in mappings:
        f = m.field
        if f.pass_no != pass_no:
            continue
        raw = t[f.field]
        cleaned = cleaned_value(raw, m)
        renames[f.raw_column] = f.field
        new[f.cleaned_column] = cleaned
        if f.grouped_column and f.grouping:
            groups = {fold(k): v for k, v in spec.groupings[f.grouping].items()}
            new[f.grouped_column] = _lookup(cleaned, groups, "string")
        if f.hierarchy_column and f.hierarchy:
            new[f.hierarchy_column] = _lookup(cleaned, dict(spec.hierarchy_rank(f.hierarchy)), "int32")
    return t.mutate(**new).rename(renames)


def unmapped_values(t: ir.Table, mappings: tuple[FieldMapping, ...]) -> ir.Table:
    """Raw values in no mapping row ("new invalid values"), with row counts, for the run summary.

    Mapped fields hold defined-list codes (no field marked sensitive in the spec), so their values may be
    shown.

    Returns:
        Columns field, value, rows.
    """
    parts = []
    for m in mappings:
        raw = t[m.field.raw_column]
        key = ci(raw)
        outside = key.notnull() & (key != "")
        if m.table:
            outside = outside & ~key.isin(list(m.table))
        sel = t.filter(outside).select(field=ibis.literal(m.field.field), value=rtrim(raw))
        parts.append(sel.group_by(["field", "value"]).aggregate(rows=lambda x: x.count()))
    return ibis.union(*parts, distinct=False)
