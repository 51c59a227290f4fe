"""Consistency checks over a Spec: run by the tests on the shipped spec and by `ascld spec check` on an overlay.

Each check returns plain-English problems; an empty list means the spec holds together.
"""

from __future__ import annotations

import re
from collections import Counter

from ascld.spec.conditions import literals
from ascld.spec.model import Spec

# Variables a status condition may use besides the submitted columns; computed by the validator.
DERIVED_VARIABLES = frozenset({"age_at_period_end"})


def _duplicates(values: list[str]) -> list[str]:
    return sorted(v for v, n in Counter(values).items() if n > 1)


def _like_matches(pattern: str, values: tuple[str, ...]) -> bool:
    regex = "".join(".*" if ch == "%" else "." if ch == "_" else re.escape(ch) for ch in pattern.casefold())
    return any(re.fullmatch(regex, v.casefold()) for v in values)


def check_fields(spec: Spec) -> list[str]:
    problems = []
    for what, values in (
        ("header", [f.name for f in spec.fields]),
        ("column", [f.column for f in spec.fields]),
    ):
        for dup in _duplicates(values):
            problems.append(f"{what} {dup!r} appears more than once")
        for dup in _duplicates([v.casefold() for v in values]):
            problems.append(f"{what} {dup!r} differs from another only in case")
    seqs = [f.seq for f in spec.fields]
    if seqs != list(range(1, len(seqs) + 1)):
        problems.append("field positions are not 1..n in order")
    for f in spec.fields:
        if f.type not in ("text", "date", "integer", "decimal", "code"):
            problems.append(f"field {f.column}: unknown type {f.type!r}")
        if f.defined_list and f.defined_list not in spec.lists:
            problems.append(f"field {f.column}: defined list {f.defined_list!r} does not exist")
        if f.identifier and not f.sensitive:
            problems.append(f"field {f.column}: an identifier must also be sensitive")
        if not f.source:
            problems.append(f"field {f.column}: no source")
    return problems


def check_lists(spec: Spec) -> list[str]:
    problems = []
    columns = {f.column: f for f in spec.fields}
    for lst in spec.lists.values():
        field = columns.get(lst.column)
        if field is None:
            problems.append(f"list {lst.name}: its column {lst.column!r} is not a field")
        elif field.defined_list != lst.name:
            problems.append(f"list {lst.name}: field {lst.column} points at {field.defined_list!r} instead")
        for release, values in (("R2", lst.r2_values), ("R1", lst.r1_values)):
            for dup in _duplicates(list(values)):
                problems.append(f"list {lst.name}: {release} value {dup!r} listed twice")
        if lst.complete and not lst.r2_values:
            problems.append(f"list {lst.name}: marked complete but has no Release 2 values")
        for value in lst.r2_values:
            if value in spec.derived_values:
                problems.append(
                    f"list {lst.name}: processing-only value {value!r} is listed as a submission value"
                )
        for r1 in lst.r1_values:
            status = lst.r1_status.get(r1)
            if status is None:
                problems.append(f"list {lst.name}: Release 1 value {r1!r} has no mapping row")
            elif status == "mapped":
                target = lst.r1_to_r2.get(r1)
                if not target:
                    problems.append(
                        f"list {lst.name}: Release 1 value {r1!r} is marked mapped but has no target"
                    )
                elif lst.r2_values and target not in lst.r2_values:
                    problems.append(
                        f"list {lst.name}: {r1!r} maps to {target!r}, which is not a Release 2 value"
                    )
            elif status not in ("unmappable", "unknown"):
                problems.append(f"list {lst.name}: Release 1 value {r1!r} has mapping status {status!r}")
        for r1 in lst.r1_to_r2:
            if r1 not in lst.r1_values:
                problems.append(f"list {lst.name}: mapping from {r1!r}, which is not a Release 1 value")
    return problems


def check_status_rules(spec: Spec) -> list[str]:
    problems = []
    columns = {f.column for f in spec.fields}
    for column in columns - set(spec.status_rules):
        problems.append(f"field {column}: no status rule")
    for column, rules in spec.status_rules.items():
        if column not in columns:
            problems.append(f"status rules name an unknown field {column!r}")
            continue
        if not rules or rules[-1].when.strip().lower() != "always":
            problems.append(f"field {column}: the last status rule must be 'always'")
        for rule in rules:
            for used in rule.condition.columns():
                if used not in columns and used not in DERIVED_VARIABLES:
                    problems.append(f"rule {rule.rule_id}: unknown field {used!r}")
            for used, value in literals(rule.condition):
                if used in DERIVED_VARIABLES or used not in columns:
                    continue
                lst = spec.list_for(used)
                if lst is None or not lst.r2_values or not isinstance(value, str):
                    continue
                known = lst.r2_values
                ok = (
                    _like_matches(value, known)
                    if "%" in value or "_" in value
                    else (value.casefold() in {v.casefold() for v in known})
                )
                if not ok and lst.complete:
                    problems.append(
                        f"rule {rule.rule_id}: {value!r} matches no Release 2 value of {lst.name}"
                    )
    return problems


def check_groupings(spec: Spec) -> list[str]:
    problems = []
    for key, mapping in spec.groupings.items():
        name = key.split(".", 1)[0]
        lst = spec.lists.get(name)
        if lst is None:
            problems.append(f"grouping {key}: unknown list")
            continue
        if "*" in "".join(mapping):
            continue  # wildcard groupings over Release 1 prefixes
        known = {v.casefold() for v in (*lst.r2_values, *lst.r1_values, *spec.derived_values)}
        for value in mapping:
            if value.casefold() not in known and lst.complete:
                problems.append(f"grouping {key}: {value!r} is not a value of {name}")
    for key, values in spec.hierarchies.items():
        if len(set(values)) != len(values):
            problems.append(f"hierarchy {key}: a value appears twice")
    return problems


def check_spec(spec: Spec) -> list[str]:
    """Every consistency problem in a Spec (empty when it holds together)."""
    return check_fields(spec) + check_lists(spec) + check_status_rules(spec) + check_groupings(spec)
