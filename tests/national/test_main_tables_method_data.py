"""The main-tables reference tables: well formed, cited, consistent with the spec and with main-tables.md."""

from __future__ import annotations

import csv
import datetime as dt

import ibis
import pytest

from ascld.methodology import load_main_tables_method
from ascld.methodology.loader import data_dir
from ascld.national.main_tables import national_store_schema
from ascld.national.main_tables.mapping import UNMAPPED_POLICIES, field_mappings, fold
from ascld.national.main_tables.pipeline import RAW, BuildParams, make_context, pipeline_steps
from ascld.spec import load_spec

METHOD = load_main_tables_method()
SPEC = load_spec()
FILES = sorted(data_dir().glob("main_tables_*.csv"))

# main-tables.md §5.1, REF_Event_Outcome_Hierarchy_R2, typed from the document.
HIERARCHY = [
    "Progress to reablement/ST-Max",
    "Progress to assessment, review or reassessment",
    "Release 1 specification only: Not mapped",
    "Progress to support planning or services",
    "Continuation of support or services",
    "Admitted to hospital",
    "NFA: Responsibility moved to another local authority",
    "NFA: Referral to NHS services or NHS funded social care",
    "NFA: Self-funded client or under 12wk disregard",
    "NFA: Information and advice or signposting",
    "NFA: Referral to other service within the local authority",
    "NFA: Support declined",
    "NFA: Deceased",
    "NFA: Support ended as planned",
    "NFA: Support ended for other reason",
    "NFA: No services offered for other reason",
    "NFA: Other",
]


@pytest.mark.parametrize("path", FILES, ids=lambda p: p.name)
def test_every_row_has_an_id_and_cites_its_source(path):
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert rows
    for row in rows:
        assert row["id"].startswith("MT"), row
        assert "main-tables.md" in row["source"] or row["source"].startswith("ascld"), row["id"]


def test_ids_are_unique_across_files():
    ids = []
    for path in FILES:
        with path.open(encoding="utf-8", newline="") as fh:
            ids += [r["id"] for r in csv.DictReader(fh)]
    assert len(ids) == len(set(ids))


def test_spec_outcome_hierarchy_is_the_documented_one():
    assert list(SPEC.hierarchies["event_outcome.r2_dhsc"]) == HIERARCHY


def test_spec_groupings_are_the_documented_ones():
    outcome = SPEC.groupings["event_outcome.Event_Outcome_Grouped_R2"]
    assert {v for v, g in outcome.items() if g == "NFA"} == {v for v in HIERARCHY if v.startswith("NFA:")}
    assert all(g == v for v, g in outcome.items() if not v.startswith("NFA:"))
    service = SPEC.groupings["service_type.Service_Type_Grouped_R2"]
    assert service["Invalid and not mapped"] == "Unknown"
    assert {g for v, g in service.items() if v != "Invalid and not mapped"} == {
        "Long term support",
        "Short term support",
        "Unpaid carer support",
    }
    ethnicity = SPEC.groupings["ethnicity.Ethnicity_Grouped_R2"]
    assert ethnicity["No data: Refused"] == "No data" and ethnicity["Invalid and not mapped"] == "Unknown"


@pytest.mark.parametrize("policy", UNMAPPED_POLICIES)
def test_mapping_tables_assemble_without_conflict(policy):
    maps = field_mappings(SPEC, METHOD, policy)
    assert [m.field.field for m in maps] == [f.field for f in METHOD.mapped_fields]
    for m in maps:
        assert all(k == fold(k) for k in m.table)
        assert set(m.table.values()) <= set(SPEC.lists[m.field.list_name].r2_values) | set(
            SPEC.derived_values
        )


def test_mapped_fields_are_store_columns():
    store = national_store_schema()
    assert all(f.field in store for f in METHOD.mapped_fields)


@pytest.mark.parametrize("band_column", ["Der_Age_Band", "Der_Working_Age_Band"])
def test_age_bands_cover_every_age_once(band_column):
    bands = [b for b in METHOD.age_bands if b.band_column == band_column and b.kind == "range"]
    for age in range(0, 130):
        hits = [
            b
            for b in bands
            if (b.min_age is None or age >= b.min_age) and (b.max_age is None or age <= b.max_age)
        ]
        assert len(hits) == 1, (band_column, age)


@pytest.mark.parametrize("mode", ["single", "joined"])
def test_main_table_has_the_documented_columns(mode):
    ctx = make_context(BuildParams(mode, dt.date(2024, 4, 1), dt.date(2025, 3, 31), dt.date(2025, 5, 5)))
    tables = {RAW: ibis.table(national_store_schema(), name="raw")}
    for step in pipeline_steps(ctx):
        tables[step.name] = step.fn(*(tables[i] for i in step.inputs))
    columns = list(tables["main_table"].columns)
    assert columns == list(METHOD.output_columns[mode])
    assert len(METHOD.output_columns["single"]) == 98  # main-tables.md §6.3
    dropped = set(METHOD.output_columns["single"]) - set(METHOD.output_columns["joined"])
    assert dropped == {
        "Unit_Cost",
        "Cost_Frequency_Unit_Type_Raw",
        "Cost_Frequency_Unit_Type_Cleaned",
        "Planned_Units_Per_Week",
    }
