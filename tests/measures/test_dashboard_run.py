"""`ascld measures --dashboard` in national and council mode: the tables are written, the medians are
disclosure-controlled in measures.csv, a council's own returns give the figures national mode gives for it,
and `--help` tells the truth.
"""

from __future__ import annotations

import datetime as dt
import json
import re

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner

from ascld.cli import cli
from ascld.identity import PseudoKey
from ascld.measures.dashboard import reference as ref
from ascld.measures.run import _stated, run_measures_council, run_measures_national
from ascld.national.ingest import ingest_files

runner = pytest.importorskip("ascld.synth.runner")
from ascld.synth.config import SynthConfig  # noqa: E402 - after the skip guard

pytestmark = pytest.mark.slow

KEY_HEX = "3c" * 32
PERIOD = ("2024-07-01", "2025-06-30")
COUNCIL = "103"
WT = ("Dashboard WT1", "Dashboard WT2")


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    out = tmp_path_factory.mktemp("synth")
    runner.generate(SynthConfig(seed=5, councils=2, people_per_council=200, quarters=5, behaviour=False), out)
    files = sorted(out.glob("returns/*/*.csv"))
    store = out / "store"
    for f in files:
        _, end = _stated(f)
        report = ingest_files(
            [f],
            store,
            key=PseudoKey.from_text(KEY_HEX),
            import_date=dt.datetime.combine(end + dt.timedelta(days=1), dt.time(9)),
        )
        assert report.outcomes[0].status == "stored"
    return out, store, files


@pytest.fixture(scope="module")
def national(world, tmp_path_factory):
    _, store, _ = world
    return run_measures_national(
        store=store,
        period=PERIOD,
        as_of="2025-07-01",
        ascof=[],
        salt=False,
        dashboard=True,
        out_dir=tmp_path_factory.mktemp("national"),
    )


@pytest.fixture(scope="module")
def council(world, tmp_path_factory):
    out, _, files = world
    return run_measures_council(
        [f for f in files if f.parent.name == COUNCIL],
        period=PERIOD,
        ascof=[],
        salt=False,
        dashboard=True,
        out_dir=tmp_path_factory.mktemp("council"),
    )


def test_national_writes_every_dashboard_table(national):
    folder = national.out_dir / "dashboard"
    for name, level in ref.table_names().values():
        table = pq.read_table(folder / f"{name}.parquet")
        assert table.num_rows > 0, name
        assert (folder / f"{name}.csv").exists() is (level != "person"), name
    manifest = json.loads((national.out_dir / "manifest.json").read_text())
    assert manifest["parameters"]["dashboard"] is True
    assert manifest["row_counts"]["dashboard_tables"]["LA_PBI_Requests_Fact"] > 0
    assert any("internal use only" in n for n in manifest["notes"])
    assert not [s for s in manifest["skipped"] if s.startswith("dashboard: DQ values")]
    # The generator's first return covers 2023-07-01 on, so the joined table starts a quarter late: said so.
    assert [s for s in manifest["skipped"] if "first reference period starts on 2023-07-01" in s]


def test_person_level_tables_carry_pseudonymised_ids_only(national):
    folder = national.out_dir / "dashboard"
    for name in ("LA_PBI_Requests_Fact", "LA_PBI_Services_Fact", "LA_PBI_Costs_Fact", "LA_PBI_Waiting_Times_Links"):
        columns = pq.read_schema(folder / f"{name}.parquet").names
        assert "Der_NHS_LA_Combined_Person_ID" in columns
        assert not {"NHS_Number", "Date_of_Birth", "Postcode", "First_Name", "Last_Name"} & set(columns)
        ids = pq.read_table(folder / f"{name}.parquet").column("Der_NHS_LA_Combined_Person_ID").to_pylist()
        # HMAC-SHA-256 pseudonyms: of the NHS number, or `<LA_Code>_` + the pseudonymised LA person ID
        assert all(re.fullmatch(r"(\w+_)?[0-9a-f]{64}", i) for i in ids if i), name


def test_waiting_time_medians_are_controlled_in_measures_csv(national):
    rows = [r for r in national.rows if r["measure"] in WT]
    assert rows
    for r in rows:
        assert r["breakdown"] == "Age band" and r["group"] in ("25 to 64", "65 and above")
        assert r["disclosure_flag"] in ("suppressed", "rounded")
        if r["disclosure_flag"] == "suppressed":
            assert (r["numerator"], r["value"]) == ("*", "*")
        else:
            assert r["numerator"] % 5 == 0 and not 1 <= r["numerator"] <= 7
    medians = pq.read_table(national.out_dir / "dashboard" / "LA_PBI_Waiting_Times_Medians.parquet").to_pylist()
    raw = {
        (m["LA_Code"], m["Period_Start"].isoformat(), m["Age_Band"], m["Metric"]): m["Median_Waiting_Time"]
        for m in medians
    }
    for r in rows:
        if r["disclosure_flag"] != "suppressed":
            metric = "WT1" if r["measure"] == "Dashboard WT1" else "WT2"
            assert r["value"] == raw[(r["la_code"], r["period_start"], r["group"], metric)]


def test_council_mode_gives_the_national_figures_for_the_council(national, council):
    def wt(run):
        return sorted(
            tuple(r[c] for c in ("measure", "period_start", "group", "numerator", "value"))
            for r in run.rows
            if r["measure"] in WT and r["la_code"] == COUNCIL
        )

    assert wt(council) and wt(council) == wt(national)
    for name in ("LA_PBI_Requests_Fact", "LA_PBI_Assessments_Fact", "LA_PBI_Reviews_Fact", "LA_PBI_Costs_Fact"):
        counts = []
        for run in (national, council):
            t = pq.read_table(run.out_dir / "dashboard" / f"{name}.parquet").to_pylist()
            counts.append(sum(r.get("Event_Count", 1) for r in t if r["LA_Code"] == COUNCIL))
        assert counts[0] == counts[1] > 0, name
    council_codes = set(
        pq.read_table(council.out_dir / "dashboard" / "LA_PBI_Master_Table.parquet")["LA_Code"].to_pylist()
    )
    assert council_codes == {COUNCIL}


def test_help_documents_the_dashboard_option():
    for command in ("national", "council"):
        result = CliRunner().invoke(cli, ["measures", command, "--help"])
        assert result.exit_code == 0, result.output
        assert "--dashboard" in result.output and "internal" in result.output


def test_dashboard_without_a_single_table_is_a_usage_error(world, tmp_path):
    _, store, _ = world
    main = tmp_path / "main"
    main.mkdir()
    # A readable joined table (any columns): the run must stop at the missing single table, not at the file.
    pq.write_table(pa.table({"LA_Code": ["X1"]}), main / "CLD_230701_250630_JoinedSubmissions.parquet")
    result = CliRunner().invoke(
        cli,
        [
            "measures",
            "national",
            "--main-tables",
            str(main),
            "--period",
            "2024-07-01:2025-06-30",
            "--out",
            str(tmp_path / "o"),
        ]
        + ["--no-ascof", "--no-salt", "--dashboard"],
    )
    assert result.exit_code == 2, result.output
    assert "single-submissions main table" in result.output


def test_single_table_is_found_beside_the_joined_one(tmp_path):
    from ascld.errors import UsageError
    from ascld.measures.dashboard.step import single_table_in

    assert single_table_in(tmp_path) is None
    joined = tmp_path / "CLD_230401_260331_JoinedSubmissions.parquet"
    joined.write_bytes(b"")
    single = tmp_path / "CLD_250401_260331_SingleSubmissions.parquet"
    single.write_bytes(b"")
    assert single_table_in(tmp_path) == single
    assert single_table_in(single) == single and single_table_in(joined) is None
    (tmp_path / "CLD_250101_251231_SingleSubmissions.parquet").write_bytes(b"")
    with pytest.raises(UsageError, match="2 single-submissions main tables"):
        single_table_in(tmp_path)


def test_report_has_a_waiting_times_section(national):
    """The waiting-time medians (as published in measures.csv) are charted in report.html, in their own
    section and in days, not filed under SALT."""
    html = (national.out_dir / "report.html").read_text(encoding="utf-8")
    assert ">Waiting times<" in html
    for measure in WT:
        assert measure in html
    assert "(days)" in html
    assert ">SALT<" not in html  # SALT was not run: nothing may be filed under it
