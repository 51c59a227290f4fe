"""Regenerate the checks table of docs/validate.md from src/ascld/quality/data/checks.csv.

    uv run python scripts/make_validate_docs.py

The table sits between the markers `<!-- checks:start -->` and `<!-- checks:end -->`; everything else in the
page
is written by hand. tests/quality/test_validate_docs.py fails when the page is stale.
"""

from __future__ import annotations

import sys
from pathlib import Path

from ascld.quality.checks import VALIDITY_REASONS, load_checks
from ascld.spec import load_spec

DOC = Path(__file__).resolve().parents[1] / "docs" / "validate.md"
START, END = "<!-- checks:start -->", "<!-- checks:end -->"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def checks_table() -> str:
    spec = load_spec()
    lines = [
        "| Check | Field(s) | Severity | Validity code | What it finds | Source |",
        "|---|---|---|---|---|---|",
    ]
    for c in load_checks():
        fields = c.field if c.field.startswith("@") or not c.field else ", ".join(c.columns(spec))
        code = (
            ""
            if c.validity is None
            else f"{c.validity}"
            + (f" ({VALIDITY_REASONS[c.validity]})" if c.validity in VALIDITY_REASONS else "")
        )
        if c.rule == "transport":
            code = "exit 2" if c.severity == "error" else ""
        lines.append(
            f"| {c.id} | {_cell(fields)} | {c.severity} | {code} | {_cell(c.description)} | "
            f"{_cell(c.source)} |"
        )
    return "\n".join(lines)


def render(text: str) -> str:
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    return f"{head}{START}\n{checks_table()}\n{END}{tail}"


if __name__ == "__main__":
    new = render(DOC.read_text(encoding="utf-8"))
    DOC.write_text(new, encoding="utf-8")
    print(f"updated {DOC}", file=sys.stderr)
