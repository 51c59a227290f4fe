"""Export the specification for other tools: a Table-Schema-style JSON description of the return (which loads
back into the same Spec), or a flat CSV of fields."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import fields as dc_fields
from types import MappingProxyType
from typing import Any

from ascld.spec.conditions import parse_condition
from ascld.spec.model import DefinedList, Field, Spec, StatusRule

_TS_TYPES = {"text": "string", "code": "string", "date": "date", "integer": "integer", "decimal": "number"}
SCHEMA_PROFILE = "https://specs.frictionlessdata.io/schemas/table-schema.json"


def _plain(value: Any) -> Any:
    if isinstance(value, MappingProxyType | dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, tuple | list):
        return [_plain(v) for v in value]
    if isinstance(value, frozenset | set):
        return sorted(value)
    return value


def _as_dict(obj: Any) -> dict[str, Any]:
    return {f.name: _plain(getattr(obj, f.name)) for f in dc_fields(obj)}


def spec_to_json(spec: Spec) -> dict[str, Any]:
    """A Table Schema (`fields`, each with name/type/format/constraints) plus an `ascld` block with everything."""
    ts_fields = []
    for f in spec.fields:
        constraints: dict[str, Any] = {"required": f.required_summary == "mandatory"}
        if f.defined_list:
            lst = spec.lists[f.defined_list]
            if lst.complete:
                constraints["enum"] = list(lst.r2_values)
        if f.max_length:
            constraints["maxLength"] = f.max_length
        ts_fields.append(
            {
                "name": f.name,
                "title": f.column,
                "type": _TS_TYPES.get(f.type, "string"),
                "format": "%d/%m/%Y" if f.type == "date" else "default",
                "description": f.format,
                "constraints": constraints,
            }
        )
    return {
        "profile": SCHEMA_PROFILE,
        "name": "asc-cld-return",
        "title": "Adult Social Care Client Level Data return (England)",
        "spec_version": spec.version,
        "overlay": spec.overlay,
        "dialect": {"delimiter": ",", "header": True, "encoding": "windows-1252"},
        "fields": ts_fields,
        "ascld": {
            "fields": [_as_dict(f) for f in spec.fields],
            "lists": {k: _as_dict(v) for k, v in spec.lists.items()},
            "status_rules": {
                col: [
                    {
                        k: getattr(r, k)
                        for k in ("rule_id", "column", "order", "when", "status", "source", "note")
                    }
                    for r in rules
                ]
                for col, rules in spec.status_rules.items()
            },
            "groupings": _plain(spec.groupings),
            "hierarchies": _plain(spec.hierarchies),
            "derived_values": _plain(spec.derived_values),
            "sources": _plain(spec.sources),
        },
    }


def spec_from_json(doc: dict[str, Any]) -> Spec:
    """Rebuild a Spec from `spec_to_json` output (the round trip the tests check)."""
    a = doc["ascld"]
    list_keys = {f.name for f in dc_fields(DefinedList)}
    lists = {}
    for name, d in a["lists"].items():
        d = {k: v for k, v in d.items() if k in list_keys}
        d["r2_values"] = tuple(d["r2_values"])
        d["r1_values"] = tuple(d["r1_values"])
        d["r1_to_r2"] = MappingProxyType(dict(d["r1_to_r2"]))
        d["r1_status"] = MappingProxyType(dict(d["r1_status"]))
        d["unconfirmed"] = frozenset(d["unconfirmed"])
        lists[name] = DefinedList(**d)
    rules = {
        col: tuple(StatusRule(condition=parse_condition(r["when"]), **r) for r in rs)
        for col, rs in a["status_rules"].items()
    }
    return Spec(
        version=doc["spec_version"],
        fields=tuple(Field(**f) for f in a["fields"]),
        lists=MappingProxyType(lists),
        status_rules=MappingProxyType(rules),
        groupings=MappingProxyType({k: MappingProxyType(v) for k, v in a["groupings"].items()}),
        hierarchies=MappingProxyType({k: tuple(v) for k, v in a["hierarchies"].items()}),
        derived_values=MappingProxyType(a["derived_values"]),
        sources=MappingProxyType(a["sources"]),
        overlay=doc.get("overlay"),
    )


def spec_to_csv(spec: Spec) -> str:
    """One row per field with its list values joined by ' | ' (for spreadsheets)."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(
        [
            "seq",
            "name",
            "column",
            "module",
            "type",
            "format",
            "defined_list",
            "list_complete",
            "r2_values",
            "identifier",
            "sensitive",
            "status_rules",
            "source",
        ]
    )
    for f in spec.fields:
        lst = spec.lists.get(f.defined_list) if f.defined_list else None
        rules = "; ".join(f"{r.status} when {r.when}" for r in spec.status_rules.get(f.column, ()))
        writer.writerow(
            [
                f.seq,
                f.name,
                f.column,
                f.module,
                f.type,
                f.format,
                f.defined_list or "",
                "" if lst is None else str(lst.complete).lower(),
                "" if lst is None else " | ".join(lst.r2_values),
                str(f.identifier).lower(),
                str(f.sensitive).lower(),
                rules,
                f.source,
            ]
        )
    return buf.getvalue()


def dumps(spec: Spec) -> str:
    return json.dumps(spec_to_json(spec), indent=2, ensure_ascii=False)
