"""`ascld demo` runs the whole path on synthetic councils and writes one report linking every output."""

from __future__ import annotations

import csv
import json
import re

import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from ascld.cli import cli


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    out = tmp_path_factory.mktemp("demo") / "out"
    result = CliRunner().invoke(
        cli, ["demo", "--out", str(out), "--councils", "2", "--people", "300", "--quarters", "5", "--seed", "3"]
    )
    return out, result


def test_demo_exits_0_and_names_the_report(demo):
    out, result = demo
    assert result.exit_code == 0, result.output
    assert f"Report: {(out / 'report.html').resolve()}" in result.output
    for step in ("[synth]", "[extract]", "[validate]", "[ingest]", "[main tables]", "[measures]"):
        assert step in result.output


def test_demo_writes_every_output(demo):
    out, _ = demo
    for path in (
        "report.html",
        "data-quality/report.html",
        "data-quality/problems.csv",
        "measures/measures.csv",
        "measures/manifest.json",
        "measures/report.html",
    ):
        assert (out / path).is_file(), path
    assert list((out / "returns").glob("*.csv")), "extracted returns"
    assert list((out / "main-tables" / "joined").rglob("*.parquet"))


def test_demo_report_links_resolve_and_need_no_network(demo):
    out, _ = demo
    html = (out / "report.html").read_text(encoding="utf-8")
    assert not re.search(r"""(src|href)=["']https?://""", html)
    for rel in ("data-quality/report.html", "measures/measures.csv"):
        assert rel in html and (out / rel).exists()


def test_demo_measures_are_disclosure_controlled(demo):
    out, _ = demo
    manifest = json.loads((out / "measures" / "manifest.json").read_text(encoding="utf-8"))
    assert "disabled" not in json.dumps(manifest.get("disclosure", "")).lower()
    with open(out / "measures" / "measures.csv", encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    council_counts = [r["numerator"] for r in rows if r["la_code"] and r["numerator"] not in ("", "*")]
    assert council_counts and all(float(v) == 0 or float(v) >= 8 for v in council_counts)


def test_demo_store_holds_no_identifier_of_the_synthetic_people(demo):
    out, _ = demo
    index = pq.read_table(out / "synthetic" / "demographic_index.parquet")
    nhs = {v for v in index.column("nhs_number").to_pylist() if v}
    family = {v for v in index.column("family_name").to_pylist() if v}
    for part in (out / "national-store").rglob("*.parquet"):
        table = pq.read_table(part)
        for name in table.column_names:
            values = {str(v) for v in table.column(name).to_pylist() if v is not None}
            assert not values & nhs, f"{part.name}:{name} holds NHS numbers"
            assert not values & family, f"{part.name}:{name} holds family names"


def test_a_second_run_into_the_same_folder_gives_the_same_figures(demo):
    """Each run pseudonymises with a new ephemeral key, so it replaces the store of the run before: otherwise the
    files would be taken as already stored under the old key's pseudonyms, and this run's hospital spells
    would link to no one (ASCOF 2D)."""
    out, first = demo
    again = CliRunner().invoke(
        cli, ["demo", "--out", str(out), "--councils", "2", "--people", "300", "--quarters", "5", "--seed", "3"]
    )
    assert again.exit_code == first.exit_code, again.output
    lines = {
        ln.split("]")[0]: re.sub(r" \([0-9.]+ s\)$", "", ln) for ln in again.output.splitlines() if ln.startswith("[")
    }
    before = {
        ln.split("]")[0]: re.sub(r" \([0-9.]+ s\)$", "", ln) for ln in first.output.splitlines() if ln.startswith("[")
    }
    assert "duplicate" not in lines["[ingest"]
    assert lines == before


def test_a_store_the_demo_did_not_make_is_refused_and_kept(tmp_path):
    store = tmp_path / "national-store"
    store.mkdir()
    (store / "keep.txt").write_text("not the demo's", encoding="utf-8")
    result = CliRunner().invoke(
        cli, ["demo", "--out", str(tmp_path), "--councils", "1", "--people", "100", "--quarters", "4", "--seed", "3"]
    )
    assert result.exit_code == 2, result.output
    assert "did not make" in result.output
    assert (store / "keep.txt").read_text(encoding="utf-8") == "not the demo's"
