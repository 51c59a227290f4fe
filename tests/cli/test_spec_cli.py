from __future__ import annotations

import json

from click.testing import CliRunner

from ascld import __version__
from ascld.cli import cli
from ascld.spec.export import spec_from_json


def run(*args):
    return CliRunner().invoke(cli, list(args))


def test_version():
    result = run("--version")
    assert result.exit_code == 0 and __version__ in result.output


def test_spec_fields_lists_all_columns(spec):
    result = run("spec", "fields")
    assert result.exit_code == 0, result.output
    for header in spec.headers:
        assert header in result.output


def test_spec_lists_one_list_shows_mapping():
    result = run("spec", "lists", "service_type")
    assert result.exit_code == 0, result.output
    assert "Carer Support: Direct to Carer -> Unpaid carer support: Direct to unpaid carer" in result.output


def test_spec_lists_marks_incomplete_lists():
    result = run("spec", "lists")
    assert "request_route_of_access" in result.output and "INCOMPLETE" in result.output


def test_spec_show_by_header_gives_rules():
    result = run("spec", "show", "Event End Date")
    assert result.exit_code == 0, result.output
    assert "Date_of_Death is present" in result.output


def test_unknown_field_is_usage_error_exit_2():
    result = run("spec", "show", "Shoe Size")
    assert result.exit_code == 2
    assert "no field called 'Shoe Size'" in result.output


def test_spec_export_json_round_trips(spec, tmp_path):
    out = tmp_path / "spec.json"
    result = run("spec", "export", "--format", "json", "--out", str(out))
    assert result.exit_code == 0, result.output
    assert spec_from_json(json.loads(out.read_text(encoding="utf-8"))) == spec


def test_spec_export_with_overlay_records_it(tmp_path):
    overlay = tmp_path / "official.csv"
    overlay.write_text("list,value\ngender,Male\ngender,Female\n", encoding="utf-8")
    result = run("spec", "export", "--spec-overlay", str(overlay))
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["overlay"].startswith("official.csv")


def test_unexpected_error_is_one_line_with_debug_hint(monkeypatch):
    import ascld.cli.spec as spec_cli

    def boom(*a, **k):
        raise RuntimeError("kaboom")

    monkeypatch.setattr(spec_cli, "load_spec", boom)
    result = run("spec", "fields")
    assert result.exit_code == 2
    assert "Rerun with --debug" in result.output and "Traceback" not in result.output
