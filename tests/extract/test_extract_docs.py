"""docs/extract.md keeps up with the code: every mapping key, key column and scope rule is documented."""

from __future__ import annotations

import csv
from pathlib import Path

from ascld.extract import example_mapping_path, load_mapping
from ascld.extract.mapping import SCHEMA
from ascld.extract.scope import load_scope_rules
from ascld.extract.source import KEY_COLUMNS
from ascld.synth.reference import DATA

DOCS = Path(__file__).resolve().parents[2] / "docs" / "extract.md"


def test_every_mapping_key_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for key in SCHEMA:
        name = key.path.split(".")[-1]
        assert f"| `{name}` |" in text, f"{key.path} missing from docs/extract.md"


def test_every_key_column_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for section, keys in KEY_COLUMNS.items():
        for key in keys:
            assert f"`{key}`" in text, f"{section}.{key} missing from docs/extract.md"


def test_every_scope_rule_is_documented() -> None:
    text = DOCS.read_text(encoding="utf-8")
    for rule in load_scope_rules():
        assert f"| {rule.id} | {rule.rule} | {rule.applies_to} |" in text, f"{rule.id} missing from docs"


def test_examples_copy_is_the_shipped_mapping() -> None:
    copy = Path(__file__).resolve().parents[2] / "examples" / "synth_cms_mapping.yaml"
    assert copy.read_bytes() == example_mapping_path().read_bytes()


def test_example_maps_agree_with_the_generators_local_codes() -> None:
    """The example states in YAML what the synthetic system's codes mean and which are out of scope; it must
    say what the generator means (the extractor itself never reads local_codes.csv)."""
    with (DATA / "local_codes.csv").open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    mapping = load_mapping(example_mapping_path())
    for r in rows:
        if r["cld_value"] and r["domain"] not in ("event_table", "extract_rule"):
            vm = mapping.values.get(r["cld_column"])
            assert vm is not None and vm.codes.get(r["code"]) == r["cld_value"], (r["domain"], r["code"])
    requests, assessments = mapping.sections["requests"], mapping.sections["assessments"]
    for r in rows:
        if r["domain"] == "contact_type":
            listed = (
                requests.in_scope["contact_type"]
                if r["in_scope"] == "Y"
                else requests.out_of_scope["contact_type"]
            )
            assert r["code"] in listed, r["code"]
        if r["domain"] == "assessment_type" and r["in_scope"] == "N":
            assert r["code"] in assessments.out_of_scope["assessment_type"], r["code"]
