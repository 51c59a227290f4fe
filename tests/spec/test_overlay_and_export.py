from __future__ import annotations

import json

import pytest

from ascld.errors import SpecError
from ascld.spec import load_spec
from ascld.spec.export import dumps, spec_from_json, spec_to_csv


def test_json_export_round_trips(spec):
    assert spec_from_json(json.loads(dumps(spec))) == spec


def test_json_export_is_a_table_schema(spec):
    doc = json.loads(dumps(spec))
    assert [f["name"] for f in doc["fields"]] == list(spec.headers)
    gender = next(f for f in doc["fields"] if f["name"] == "Client Type")
    assert gender["constraints"]["enum"] == list(spec.lists["client_type"].r2_values)
    assert doc["spec_version"] == spec.version


def test_csv_export_has_a_row_per_field(spec):
    lines = spec_to_csv(spec).strip().splitlines()
    assert len(lines) == 51


def test_overlay_replaces_list_and_maps_r1(tmp_path):
    path = tmp_path / "official.csv"
    path.write_text(
        "list,value,r1_value\n"
        "request_route_of_access,Planned entry (transition),Planned Entry (Transition)\n"
        "request_route_of_access,Discharge from hospital,Discharge from Hospital\n"
        "request_route_of_access,Some new route,\n",
        encoding="utf-8",
    )
    base = load_spec()
    spec = load_spec(path)
    lst = spec.lists["request_route_of_access"]
    assert lst.r2_values == ("Planned entry (transition)", "Discharge from hospital", "Some new route")
    assert lst.complete and lst.overlaid
    assert lst.r1_to_r2["Discharge from Hospital"] == "Discharge from hospital"
    assert lst.r1_status["Discharge from Hospital"] == "mapped"
    assert spec.lists["gender"] == base.lists["gender"]  # untouched lists stay as shipped
    assert "official.csv" in spec.version_label and base.overlay is None


def test_overlay_extends_r1_values_it_introduces(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text("list,value,r1_value\ngender,Male,M\ngender,Female,F\n", encoding="utf-8")
    lst = load_spec(path).lists["gender"]
    assert lst.to_r2("m") == "Male" and "F" in lst.r1_values


def test_overlay_with_unknown_list_is_refused(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text("list,value\nno_such_list,x\n", encoding="utf-8")
    with pytest.raises(SpecError, match="no_such_list"):
        load_spec(path)


def test_overlay_row_errors_name_the_spreadsheet_row(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text("list,value\ngender,Male\ngender,\n", encoding="utf-8")
    with pytest.raises(SpecError, match="o.csv, row 3"):
        load_spec(path)


def test_overlay_without_required_columns_is_refused(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text("name,val\n", encoding="utf-8")
    with pytest.raises(SpecError, match="row 1"):
        load_spec(path)
