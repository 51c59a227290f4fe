from __future__ import annotations

import json

import pytest

from ascld.errors import SpecError
from ascld.spec import load_spec
from ascld.spec.consistency import check_spec
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


def test_overlay_drops_our_mappings_to_values_it_does_not_hold(tmp_path):
    # We ship 'Fully Met' -> 'Fully met' (our guess at the Release 2 spelling). An official list that reads
    # 'Outcomes fully met' etc. and maps nothing leaves 'Fully Met' with no known equivalent: the validator must not
    # tell a council to use 'Fully met', which the official list does not hold.
    path = tmp_path / "official.csv"
    path.write_text(
        "list,value\n"
        "review_outcomes_achieved,Outcomes fully met\n"
        "review_outcomes_achieved,Outcomes partially met\n"
        "review_outcomes_achieved,Outcomes not met\n",
        encoding="utf-8",
    )
    spec = load_spec(path)
    lst = spec.lists["review_outcomes_achieved"]
    assert "Fully Met" in lst.r1_values
    assert "Fully Met" not in lst.r1_to_r2 and lst.r1_status["Fully Met"] == "unknown"
    assert lst.to_r2("Fully Met") is None
    assert check_spec(spec) == []


def test_overlay_keeps_our_mappings_to_its_values_in_its_spelling(tmp_path):
    # 'Male' -> 'Male' stays; 'Fully Met' -> 'Fully met' follows the official 'Fully Met' (capitals only differ);
    # an R1 spelling variant follows its canonical value's overlay mapping.
    path = tmp_path / "official.csv"
    path.write_text(
        "list,value,r1_value\n"
        "gender,Male,\ngender,Female,\n"
        "review_outcomes_achieved,Fully Met,\n"
        "review_outcomes_achieved,Partially met,\n"
        "event_outcome,Admitted to hospital (official),Admitted to hospital\n",
        encoding="utf-8",
    )
    spec = load_spec(path)
    assert spec.lists["gender"].r1_to_r2["Male"] == "Male"
    assert spec.lists["review_outcomes_achieved"].r1_to_r2["Fully Met"] == "Fully Met"
    assert spec.lists["review_outcomes_achieved"].r1_to_r2["Partially Met"] == "Partially met"
    outcome = spec.lists["event_outcome"]
    assert outcome.r1_to_r2["Admitted to hospital"] == "Admitted to hospital (official)"
    assert outcome.r1_to_r2["Admitted to Hospital"] == "Admitted to hospital (official)"  # the variant
    assert [p for p in check_spec(spec) if "maps to" in p] == []


def test_overlay_mapping_one_r1_value_to_two_values_is_refused(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text(
        "list,value,r1_value\n"
        "request_route_of_access,Self-funder,Self-Funder\n"
        "request_route_of_access,Community or other route,\n"
        "request_route_of_access,Self funder,Self-Funder\n",
        encoding="utf-8",
    )
    with pytest.raises(SpecError, match=r"o.csv, row 4, column r1_value: .*'Self-Funder'.* row 2"):
        load_spec(path)


def test_overlay_repeating_a_mapping_is_one_mapping(tmp_path):
    path = tmp_path / "o.csv"
    path.write_text(
        "list,value,r1_value\n"
        "request_route_of_access,Self-funder,Self-Funder\n"
        "request_route_of_access,Self-funder,Self-Funder\n",
        encoding="utf-8",
    )
    lst = load_spec(path).lists["request_route_of_access"]
    assert lst.r2_values == ("Self-funder",) and lst.r1_to_r2["Self-Funder"] == "Self-funder"


def test_overlay_rows_are_numbered_as_a_spreadsheet_shows_them(tmp_path):
    # A value with a line break inside quotes (a note column the overlay ignores) is one spreadsheet row, and an
    # empty line is a row: the bad row below is row 4 in a spreadsheet (header 1, the two-line note 2, the empty
    # line 3), not line 5 of the file.
    path = tmp_path / "o.csv"
    path.write_text(
        'list,value,note\r\nrequest_route_of_access,Self-funder,"line one\r\nline two"\r\n\r\n'
        "request_route_of_access,,\r\n",
        encoding="utf-8",
    )
    with pytest.raises(SpecError, match=r"o.csv, row 4: list and value"):
        load_spec(path)


def test_overlay_value_with_a_line_break_is_refused(tmp_path):
    # A double quote opened on row 2 and never closed swallowed rows 3 and 4 into row 2's value: the list lost
    # two values without a word. No list value holds a line break, so the row is refused.
    path = tmp_path / "o.csv"
    path.write_text(
        'list,value\r\nrequest_route_of_access,"Self-funder\r\n'
        "request_route_of_access,Community or other route\r\nrequest_route_of_access,Discharge from hospital\r\n",
        encoding="utf-8",
    )
    with pytest.raises(SpecError, match=r"o.csv, row 2, column value: .*line break.*double quote"):
        load_spec(path)


def test_overlay_naming_a_column_twice_is_refused(tmp_path):
    # 'list,value,value' kept the second column's values without a word (here 'Other' instead of 'Self-funder').
    path = tmp_path / "o.csv"
    path.write_text("list,value, value\nrequest_route_of_access,Self-funder,Other\n", encoding="utf-8")
    with pytest.raises(SpecError, match=r"o.csv, row 1: the column value is named twice"):
        load_spec(path)


@pytest.mark.parametrize("value", ['=HYPERLINK("x")', "+44", "@home", "-Other"])
def test_overlay_value_a_spreadsheet_would_run_is_refused(tmp_path, value):
    # Returns refuse such values (T012), so no council could submit one; written into the list it reached
    # `ascld spec export --format csv` as a cell Excel runs. A negative number is data, not a formula.
    path = tmp_path / "o.csv"
    path.write_text(f'list,value\nrequest_route_of_access,"{value.replace(chr(34), 2 * chr(34))}"\n', encoding="utf-8")
    with pytest.raises(SpecError, match=r"o.csv, row 2, column value: .*formula"):
        load_spec(path)
    path.write_text("list,value\ntotal_hrs_caring_per_week,-1\n", encoding="utf-8")
    assert load_spec(path).lists["total_hrs_caring_per_week"].r2_values == ("-1",)


def test_overlay_offering_a_processing_only_value_is_refused(tmp_path):
    # 'Invalid and not mapped' is what national processing writes, never valid in a submission (C005); an overlay
    # listing it made the validator pass it as a valid route of access.
    path = tmp_path / "o.csv"
    path.write_text(
        "list,value\nrequest_route_of_access,Self-funder\nrequest_route_of_access,Invalid and not mapped\n",
        encoding="utf-8",
    )
    with pytest.raises(SpecError, match=r"o.csv, row 3, column value: 'Invalid and not mapped' is a value national"):
        load_spec(path)
