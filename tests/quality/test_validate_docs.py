"""The validator's docs stay true: every check documented, the generated table current, the schema shipped."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

from ascld.quality.checks import CELL_RULES, RULE_KINDS, load_checks

ROOT = Path(__file__).resolve().parents[2]
DOC = (ROOT / "docs" / "validate.md").read_text(encoding="utf-8")


def _script():
    spec = importlib.util.spec_from_file_location(
        "make_validate_docs", ROOT / "scripts" / "make_validate_docs.py"
    )
    module = importlib.util.module_from_spec(spec)
    assert spec.loader is not None
    spec.loader.exec_module(module)
    return module


def test_checks_table_is_current():
    assert _script().render(DOC) == DOC, "run: uv run python scripts/make_validate_docs.py"


def test_every_check_is_documented():
    for check in load_checks():
        assert f"| {check.id} |" in DOC, f"{check.id} missing from docs/validate.md"


def test_check_ids_unique_and_rules_known():
    ids = [c.id for c in load_checks()]
    assert len(ids) == len(set(ids))
    for c in load_checks():
        assert c.rule in CELL_RULES or c.rule in RULE_KINDS, c.id
        assert c.severity in ("error", "warning") and c.source and c.description and c.message


def test_summary_schema_is_valid_json():
    schema = json.loads((ROOT / "docs" / "dq-summary.schema.json").read_text(encoding="utf-8"))
    assert schema["properties"]["schema_version"]["const"] == "1"
