"""On synthetic returns with injected defects (`ascld.synth`), the validator reports 100% of the manifest's
defects with the right row, field and check, and nothing else fails.

The manifest (`defects.csv`: file,row,field,kind,detail) lists every defect the generator made; each row-level
kind is meant to give exactly one failure. File-level kinds make the file unusable (exit code 2).
"""

from __future__ import annotations

import collections
import csv
import datetime as dt

import pytest

from ascld.quality import validate_return
from ascld.synth import ROW_DEFECT_KINDS, SynthConfig
from ascld.synth.runner import generate

# The check each manifest kind must produce.
EXPECTED_CHECK = {
    "invalid_list_value": "C002",
    "miscased_list_value": "C003",
    "release1_value": "C004",
    "missing_mandatory": "C001",
    "impossible_date": "C008",
    "bad_date_format": "C007",
    "bad_nhs_check_digit": "C016",
    "end_before_start": "C030",
    "duplicate_row": "X001",
    "negative_unit_cost": "C012",
    "too_many_decimals": "C011",
    "invalid_postcode": "C018",
    "ragged_row": "T009",
    "formula_value": "T012",
}


def test_every_manifest_kind_has_an_expected_check():
    assert set(ROW_DEFECT_KINDS) | {"ragged_row", "formula_value"} == set(EXPECTED_CHECK)


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    config = SynthConfig(
        seed=11,
        councils=2,
        people_per_council=500,
        quarters=2,
        outputs=frozenset({"returns", "transport"}),
        defect_rates=dict.fromkeys(ROW_DEFECT_KINDS, 0.008),
    )
    generate(config, out)
    manifest: dict[str, list[dict[str, str]]] = collections.defaultdict(list)
    with open(out / "defects.csv", encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            manifest[row["file"]].append(row)
    with open(out / "submissions.csv", encoding="utf-8", newline="") as fh:
        imported = {r["file"]: dt.date.fromisoformat(r["import_date"][:10]) for r in csv.DictReader(fh)}
    files = sorted(
        p.relative_to(out).as_posix()
        for p in out.rglob("*.csv")
        if p.parent.parent.name in ("returns", "transport")
    )
    results = {
        f: validate_return(out / f, submission_date=imported.get(f), max_problems=1_000_000) for f in files
    }
    return manifest, results


def test_the_run_has_every_kind_of_defect(run):
    manifest, _ = run
    kinds = {d["kind"] for rows in manifest.values() for d in rows}
    assert set(EXPECTED_CHECK) <= kinds


def test_every_defect_found_with_its_field_and_check_and_nothing_else_fails(run):
    manifest, results = run
    checked = 0
    for name, result in results.items():
        if "transport/" in name:
            continue
        expected = {(int(d["row"]), d["field"], EXPECTED_CHECK[d["kind"]]) for d in manifest[name]}
        got = {(p.row, p.field, p.check_id) for p in result.problems if p.severity == "error"}
        assert result.usable, name
        assert expected - got == set(), f"{name}: defects not reported: {sorted(expected - got)[:10]}"
        assert got - expected == set(), f"{name}: failures not in the manifest: {sorted(got - expected)[:10]}"
        assert result.summary["listing"]["not_listed"] == 0
        checked += len(expected)
    assert checked > 50


def test_transport_variants_are_unusable_with_the_manifest_row(run):
    manifest, results = run
    variants = [n for n in results if "transport/" in n]
    assert variants
    for name in variants:
        result = results[name]
        assert not result.usable and result.exit_code == 2, name
        file_level = [d for d in manifest[name] if d["kind"] in ("ragged_row", "formula_value")]
        assert len(file_level) == 1
        d = file_level[0]
        hits = {(p.row, p.field, p.check_id) for p in result.problems}
        want = (int(d["row"]), d["field"], EXPECTED_CHECK[d["kind"]])
        assert want in hits, (name, want, hits)
