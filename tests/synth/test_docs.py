"""docs/synth.md keeps up with the code: every defect kind, output, CMS table and option is documented."""

from __future__ import annotations

from pathlib import Path

from ascld.cli.synth import synth_command
from ascld.synth.cms import metadata
from ascld.synth.config import ROW_DEFECT_KINDS, TRANSPORT_DEFECT_KINDS, SynthConfig

DOC = (Path(__file__).resolve().parents[2] / "docs" / "synth.md").read_text(encoding="utf-8")


def test_every_defect_kind_is_documented():
    for kind in (*ROW_DEFECT_KINDS, *TRANSPORT_DEFECT_KINDS):
        assert f"`{kind}`" in DOC, kind


def test_every_cms_table_and_column_is_documented():
    for table in metadata.sorted_tables:
        assert f"`{table.name}`" in DOC, table.name
        for column in table.columns:
            assert column.name in DOC, f"{table.name}.{column.name}"


def test_every_output_and_option_is_documented():
    for output in SynthConfig.OUTPUTS:
        assert output in DOC, output
    for param in synth_command.params:
        names = [o for o in (*param.opts, *getattr(param, "secondary_opts", [])) if o.startswith("--")]
        if names:
            assert any(f"`{name}" in DOC or f", {name}" in DOC or f" {name}`" in DOC for name in names), names
