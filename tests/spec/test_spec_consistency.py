"""The shipped spec holds together, and the consistency checker catches each kind of break."""

from __future__ import annotations

import dataclasses
from types import MappingProxyType

import pytest

from ascld.spec.conditions import parse_condition
from ascld.spec.consistency import check_spec
from ascld.spec.model import StatusRule


def _with_list(spec, name, **changes):
    lists = dict(spec.lists)
    lists[name] = dataclasses.replace(spec.lists[name], **changes)
    return dataclasses.replace(spec, lists=MappingProxyType(lists))


def _with_rule(spec, column, when, status="mandatory"):
    rules = dict(spec.status_rules)
    rule = StatusRule("S999", column, 0, when, status, "test", "", parse_condition(when))
    rules[column] = (rule, *rules[column])
    return dataclasses.replace(spec, status_rules=MappingProxyType(rules))


def test_shipped_spec_is_consistent(spec):
    assert check_spec(spec) == []


def test_spec_has_fifty_columns_in_submission_order(spec):
    assert len(spec.fields) == 50
    assert spec.headers[:3] == ("LA Code", "Reporting Period Start Date", "Reporting Period End Date")
    assert spec.headers[-1] == "Planned units per week"
    assert "Request: Route of Access" in spec.headers and "Adult 1 Linked Person_ID" in spec.headers


def test_duplicate_header_is_reported(spec):
    fields = list(spec.fields)
    fields[5] = dataclasses.replace(fields[5], name=fields[4].name)
    problems = check_spec(dataclasses.replace(spec, fields=tuple(fields)))
    assert any("appears more than once" in p for p in problems)


def test_missing_list_is_reported(spec):
    fields = list(spec.fields)
    idx = next(i for i, f in enumerate(fields) if f.column == "Gender")
    fields[idx] = dataclasses.replace(fields[idx], defined_list="genderr")
    assert any(
        "'genderr' does not exist" in p for p in check_spec(dataclasses.replace(spec, fields=tuple(fields)))
    )


def test_r1_value_without_mapping_is_reported(spec):
    lst = spec.lists["client_type"]
    status = dict(lst.r1_status)
    del status["Carer"]
    broken = _with_list(spec, "client_type", r1_status=MappingProxyType(status))
    assert any("'Carer' has no mapping row" in p for p in check_spec(broken))


def test_mapping_to_unknown_r2_value_is_reported(spec):
    lst = spec.lists["client_type"]
    mapping = dict(lst.r1_to_r2, Carer="Unpaid Carer X")
    broken = _with_list(spec, "client_type", r1_to_r2=MappingProxyType(mapping))
    assert any("not a Release 2 value" in p for p in check_spec(broken))


def test_every_r1_value_maps_or_is_marked(spec):
    for lst in spec.lists.values():
        for r1 in lst.r1_values:
            status = lst.r1_status[r1]
            assert status in ("mapped", "unmappable", "unknown"), (lst.name, r1)
            if status == "mapped":
                assert lst.r1_to_r2[r1]


def test_status_rule_with_unknown_field_is_reported(spec):
    broken = _with_rule(spec, "Gender", "Client_Typo = 'Service user'")
    assert any("unknown field 'Client_Typo'" in p for p in check_spec(broken))


def test_status_rule_with_unknown_value_is_reported(spec):
    broken = _with_rule(spec, "Gender", "Client_Type = 'Service User Typo'")
    assert any("matches no Release 2 value of client_type" in p for p in check_spec(broken))


def test_status_rules_must_end_with_always(spec):
    rules = dict(spec.status_rules)
    rules["Gender"] = rules["Event_Type"][:1]
    broken = dataclasses.replace(spec, status_rules=MappingProxyType(rules))
    assert any("field Gender: the last status rule must be 'always'" in p for p in check_spec(broken))


def test_processing_only_value_in_list_is_reported(spec):
    lst = spec.lists["service_type"]
    broken = _with_list(spec, "service_type", r2_values=(*lst.r2_values, "Invalid and not mapped"))
    assert any("processing-only value" in p for p in check_spec(broken))


@pytest.mark.parametrize(
    "column",
    [
        "NHS_Number",
        "Date_of_Birth",
        "Postcode",
        "First_Name",
        "Last_Name",
        "LA_Person_Unique_Identifier",
        "Adult_1_Linked_Person_ID",
        "Date_of_Death",
    ],
)
def test_identifying_fields_are_sensitive(spec, column):
    assert spec.field(column).sensitive


def test_every_row_cites_a_source(spec):
    assert all(f.source for f in spec.fields)
    assert all(lst.source for lst in spec.lists.values())
    assert all(r.source for rules in spec.status_rules.values() for r in rules)
