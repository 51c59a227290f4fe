"""Council mode and national mode give the same figures for the same council's data.

The generator writes two councils' quarterly returns. Nationally they are ingested into one store (under a
fixed key) and measured from it; in council mode one council's own files are measured on their own (a
temporary store under an ephemeral key). Both count a return as imported the day after its stated period
end, so the same files are chosen. Every ASCOF and SALT row of that council must be identical; only the
England rows differ (they cover both councils). Also checked: the council run writes nothing of the other
council, its manifest records the ephemeral key, and its report holds every measure and no external URL.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from click.testing import CliRunner

from ascld.identity import PseudoKey
from ascld.measures.ascof import read_la_lookup, synthetic_la_lookup_path, synthetic_population_path
from ascld.measures.ascof.synthetic import synthetic_lsoa_lookup
from ascld.measures.run import (
    COUNCIL_ENGLAND_NOTE,
    EPHEMERAL_KEY_NOTE,
    _stated,
    run_measures_council,
    run_measures_national,
)
from ascld.national.ingest import ingest_files

runner = pytest.importorskip("ascld.synth.runner")
from ascld.synth.config import SynthConfig  # noqa: E402 - after the skip guard

pytestmark = pytest.mark.slow

KEY_HEX = "5a" * 32
PERIOD = ("2024-07-01", "2025-06-30")
COUNCIL = "103"


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    runner.generate(SynthConfig(seed=5, councils=2, people_per_council=200, quarters=5, behaviour=False), out)
    files = sorted(out.glob("returns/*/*.csv"))
    codes = sorted({f.parent.name for f in files})
    assert COUNCIL in codes and len(codes) == 2
    lookup = read_la_lookup(synthetic_la_lookup_path())
    lookup = lookup.filter(pc.is_in(lookup.column("LA_Code"), pa.array(codes, pa.string())))
    names = dict(zip(lookup.column("LA_Code").to_pylist(), lookup.column("LA_Name").to_pylist(), strict=True))
    store = out / "store"
    for f in files:
        _, end = _stated(f)
        report = ingest_files(
            [f],
            store,
            key=PseudoKey.from_text(KEY_HEX),
            index=out / "demographic_index.parquet",
            la_names=names,
            import_date=dt.datetime.combine(end + dt.timedelta(days=1), dt.time(9)),
        )
        assert report.outcomes[0].status == "stored"
    refs = {
        "populations": synthetic_population_path(),
        "la_lookup": lookup,
        "lsoa_lookup": synthetic_lsoa_lookup(),
        "discharges": out / "hospital_spells.parquet",
    }
    return out, store, files, refs


@pytest.fixture(scope="module")
def national(world, tmp_path_factory, monkeypatch_module):
    out, store, _, refs = world
    monkeypatch_module.setenv(
        "ASCLD_PSEUDO_KEY", KEY_HEX
    )  # the spells are pseudonymised under the store's key
    return run_measures_national(
        store=store,
        period=PERIOD,
        as_of="2025-07-01",
        disclosure=False,
        out_dir=tmp_path_factory.mktemp("national"),
        **refs,
    )


@pytest.fixture(scope="module")
def council(world, tmp_path_factory):
    out, _, files, refs = world
    mine = [f for f in files if f.parent.name == COUNCIL]
    return run_measures_council(
        mine,
        period=PERIOD,
        index=out / "demographic_index.parquet",
        disclosure=False,
        out_dir=tmp_path_factory.mktemp("council"),
        **refs,
    )


@pytest.fixture(scope="module")
def monkeypatch_module():
    mp = pytest.MonkeyPatch()
    yield mp
    mp.undo()


def _key(r):
    return tuple("" if r[c] is None else str(r[c]) for c in r)


def test_council_mode_gives_the_national_figures_for_that_council(national, council):
    nat = sorted((r for r in national.rows if r["la_code"] == COUNCIL), key=_key)
    own = sorted((r for r in council.rows if r["la_code"] == COUNCIL), key=_key)
    measures = {r["measure"] for r in own}
    assert {"ASCOF 2A", "ASCOF 2B", "ASCOF 2C", "ASCOF 2E", "ASCOF 3D (Clients)", "SALT STS001"} <= measures
    assert any(r["measure"].startswith("ASCOF 2D") for r in own)
    assert any(r["numerator"] for r in own if r["measure"] == "ASCOF 2A")  # not a table of zeros
    assert len(nat) == len(own) > 100
    assert nat == own


def test_council_run_holds_only_that_council_and_records_the_ephemeral_key(council):
    assert {r["la_code"] for r in council.rows} <= {COUNCIL, None}
    m = json.loads((council.out_dir / "manifest.json").read_text())
    assert m["mode"] == "council" and EPHEMERAL_KEY_NOTE in m["notes"]
    assert [i["role"] for i in m["inputs"]].count("return") == 5
    assert all(len(i["sha256"]) == 64 for i in m["inputs"] if "sha256" in i)
    html = (council.out_dir / "report.html").read_text()
    for measure in {r["measure"] for r in council.rows}:
        assert f">{measure}</h3>" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?https?://""", html)


def test_council_cli_controls_disclosure_by_default(world, tmp_path):
    out, _, files, _ = world
    mine = [str(f) for f in files if f.parent.name == COUNCIL]
    result = CliRunner().invoke(
        __import__("ascld.cli", fromlist=["cli"]).cli,
        [
            "measures",
            "council",
            *mine,
            "--period",
            f"{PERIOD[0]}:{PERIOD[1]}",
            "--no-ascof",
            "--out",
            str(tmp_path),
        ],
    )
    assert result.exit_code == 0, result.output
    assert "ephemeral random key" in result.output
    m = json.loads((tmp_path / "manifest.json").read_text())
    assert m["disclosure_control"]["applied"] is True
    rows = json.loads((tmp_path / "measures.json").read_text())
    assert rows and all(r["disclosure_flag"] in ("suppressed", "rounded", "national") for r in rows)
    published = [r["numerator"] for r in rows if isinstance(r["numerator"], int) and r["la_code"]]
    assert all(n % 5 == 0 for n in published)  # council counts rounded to 5 (DC02)
    # The England rows of a council run are that council's own figures (SALT): they are rounded like its
    # rows, not published exactly beside them (which would undo DC02 for the council).
    def cell(r):
        return r["measure"], r["reporting_period"], r["breakdown"], r["group"]

    own = {cell(r): r for r in rows if r["la_code"] == COUNCIL}
    england = [r for r in rows if r["la_code"] is None]
    assert england and all(r["disclosure_flag"] != "national" for r in england)
    for r in england:
        mine = own[cell(r)]
        assert (r["numerator"], r["value"], r["disclosure_flag"]) == (
            mine["numerator"], mine["value"], mine["disclosure_flag"]
        )
    assert COUNCIL_ENGLAND_NOTE in m["notes"]
    assert {r["rule_id"]: r["scope"] for r in m["disclosure_control"]["rules"]}["DC02"] == "all"
    assert "DC10" not in {r["rule_id"] for r in m["disclosure_control"]["rules"]}


def test_council_cli_memory_limit_and_threads_reach_duckdb(world, tmp_path):
    import duckdb

    out, _, files, _ = world
    mine = [str(f) for f in files if f.parent.name == COUNCIL]
    args = ["measures", "council", *mine, "--period", f"{PERIOD[0]}:{PERIOD[1]}", "--no-ascof"]
    cli = __import__("ascld.cli", fromlist=["cli"]).cli
    result = CliRunner().invoke(
        cli, [*args, "--memory-limit", "300MB", "--threads", "1", "--work-dir", str(tmp_path / "w"),
              "--out", str(tmp_path / "o")]
    )
    assert result.exit_code == 0, result.output
    got = json.loads((tmp_path / "o" / "manifest.json").read_text())["engine_settings"]
    # DuckDB's own rendering of the same limit is the reference.
    expected = duckdb.connect(config={"memory_limit": "300MB"}).execute(
        "SELECT current_setting('memory_limit')"
    ).fetchone()[0]
    assert got["memory_limit"] == expected and got["threads"] == 1
    assert got["temp_directory"].endswith("spill")
    # Spark has its own settings: the DuckDB options are refused there with a clear message.
    refused = CliRunner().invoke(cli, [*args, "--engine", "spark", "--threads", "1", "--out", str(tmp_path / "s")])
    assert refused.exit_code == 2 and "DuckDB settings" in refused.output, refused.output
