"""`ascld measures` on a SALT scenario store: disclosure control by default, recorded in the manifest; the
flag that switches it off is recorded too. Expected figures from scenarios.md Part C (STS001: 6 requests).
ASCOF 2D "blank" cells (a denominator, no numerator) go through the same control."""

from __future__ import annotations

import csv
import json
import re

import pyarrow.parquet as pq
import pytest
from ascof_fixtures import LA_LOOKUP, discharges_table, main_table, service, spell
from click.testing import CliRunner
from salt_fixtures import frame
from test_salt_scenarios import STS001_ROWS

from ascld.cli import cli
from ascld.errors import UsageError
from ascld.measures.output import MEASURE_COLUMNS
from ascld.measures.run import DISABLED, run_measures_national

PERIOD = ("2023-04-01", "2023-12-31")
TODAY = "2024-06-30"  # the scenarios' fixed "today"


@pytest.fixture(scope="module")
def store_file(tmp_path_factory):
    path = tmp_path_factory.mktemp("salt") / "raw.parquet"
    pq.write_table(frame(STS001_ROWS), path)
    return path


def _total(rows, la_code):
    (row,) = [
        r for r in rows
        if r["measure"] == "SALT STS001" and r["breakdown"] == "Total" and r["la_code"] == la_code
    ]
    return row


def test_disclosure_control_is_applied_by_default_and_recorded(store_file, tmp_path):
    run = run_measures_national(store=store_file, period=PERIOD, as_of=TODAY, ascof=[], out_dir=tmp_path)
    # 6 requests (scenario STS001): 1..7 is published as `*`, in council and national rows (DC01).
    council, england = _total(run.rows, "318"), _total(run.rows, None)
    assert (council["numerator"], council["value"], council["disclosure_flag"]) == ("*", "*", "suppressed")
    assert (england["numerator"], england["disclosure_flag"]) == ("*", "suppressed")
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["disclosure_control"]["applied"] is True
    assert {r["rule_id"] for r in manifest["disclosure_control"]["rules"]} >= {"DC01", "DC02", "DC10"}
    with (tmp_path / "measures.csv").open() as fh:
        reader = csv.DictReader(fh)
        assert tuple(reader.fieldnames) == MEASURE_COLUMNS
        written = list(reader)
    assert all(r["disclosure_flag"] in ("suppressed", "rounded", "national") for r in written)
    assert not any(r["numerator"] in {str(n) for n in range(1, 8)} for r in written)
    assert json.loads((tmp_path / "measures.json").read_text()) == run.rows


def test_ascof_2d_blank_cells_keep_no_numerator_and_their_denominators_are_controlled(tmp_path):
    # Twelve people aged 80 discharged from hospital (nine women, three men), none followed by reablement:
    # ASCOF 2D part 2 has denominators (discharges) and no numerators. The council's 12 is published as 10
    # (nearest 5), its 3 men as `*`; England's 12 is exact; no numerator or value appears anywhere.
    path = tmp_path / "main.parquet"
    pq.write_table(main_table([service("X1", "Long term support: Community", "2024-05-01", None, "1944-01")]), path)
    spells = [spell(f"W{i}", f"AW{i}", "2024-05-01", "2024-05-10", "1944-01", "2") for i in range(9)]
    spells += [spell(f"M{i}", f"AM{i}", "2024-05-01", "2024-05-10", "1944-01", "1") for i in range(3)]
    run = run_measures_national(
        main_tables=path, period=("2024-07-01", "2025-06-30"), ascof=["2D"], salt=False,
        discharges=discharges_table(spells), la_lookup=LA_LOOKUP, out_dir=tmp_path / "out",
    )

    def cell(la_code, group):
        (row,) = [
            r for r in run.rows
            if r["measure"] == "ASCOF 2D Part 2" and r["period_start"] == "2024-04-01"
            and r["la_code"] == la_code and r["breakdown"] in ("Total", "Gender") and r["group"] == group
        ]
        return row["numerator"], row["denominator"], row["value"], row["disclosure_flag"]

    assert cell("318", "Total") == (None, 10, None, "rounded")
    assert cell("318", "Female") == (None, 10, None, "rounded")
    assert cell("318", "Male") == (None, "*", "*", "suppressed")
    assert cell(None, "Total") == (None, 12, None, "national")
    assert cell(None, "Male") == (None, "*", "*", "suppressed")
    part2 = [r for r in run.rows if r["measure"] == "ASCOF 2D Part 2"]
    assert all(r["numerator"] is None for r in part2)
    assert not any(r[c] in range(1, 8) for r in part2 for c in ("numerator", "denominator"))


def test_no_disclosure_control_is_recorded_in_the_manifest_and_report(store_file, tmp_path):
    result = CliRunner().invoke(
        cli,
        ["measures", "national", "--store", str(store_file), "--period", f"{PERIOD[0]}:{PERIOD[1]}",
         "--as-of", TODAY, "--no-ascof", "--no-disclosure-control", "--out", str(tmp_path)],
    )
    assert result.exit_code == 0, result.output
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["disclosure_control"] == DISABLED == "disabled (internal use)"
    assert "ASCOF: not requested" in manifest["skipped"]
    rows = json.loads((tmp_path / "measures.json").read_text())
    council = _total(rows, "318")
    assert (council["numerator"], council["value"], council["disclosure_flag"]) == (6, 6.0, "")
    html = (tmp_path / "report.html").read_text()
    assert "internal use only" in html
    assert "SALT STS001" in html
    assert not re.search(r"""(src|href)\s*=\s*["']?https?://""", html)


def test_manifest_records_inputs_versions_and_times(store_file, tmp_path):
    run = run_measures_national(store=store_file, period=PERIOD, as_of=TODAY, ascof=[], out_dir=tmp_path,
                                emit_sql=["mssql"])
    m = run.manifest
    assert m["ascld_version"] and m["spec_version"] and m["engine"] == "duckdb"
    assert m["parameters"]["period"] == list(PERIOD)
    (store_input,) = [i for i in m["inputs"] if i["role"] == "store"]
    assert len(store_input["sha256"]) == 64
    assert m["row_counts"]["total"] == len(run.rows) == m["row_counts"]["salt"]
    assert m["started_at"] <= m["finished_at"]
    assert set(m["step_seconds"]) == {"ascof", "salt", "disclosure_control", "outputs"}
    assert all(v >= 0 for v in m["step_seconds"].values())
    assert json.loads((tmp_path / "manifest.json").read_text())["step_seconds"] == m["step_seconds"]
    sql = list((tmp_path / "sql" / "mssql").glob("salt_*.sql"))
    assert sql and all(p.read_text().strip() for p in sql)


def test_national_mode_needs_an_input(tmp_path):
    with pytest.raises(UsageError, match="--main-tables"):
        run_measures_national(period=PERIOD, out_dir=tmp_path)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["national", "--period", "2024-07-01:2025-06-30", "--out", "OUT"], "--main-tables and/or --store"),
        (["national", "--store", "MISSING", "--period", "2024-07-01:2025-06-30", "--out", "OUT"], "MISSING"),
        (["council", "MISSING.csv", "--period", "2024-07-01:2025-06-30", "--out", "OUT"], "MISSING.csv"),
        (["national", "--store", ".", "--period", "2024-07-01", "--out", "OUT"], "START:END"),
        (["national", "--store", ".", "--period", "a:b", "--out", "OUT"], "not a date"),
    ],
)
def test_cli_usage_errors_exit_2_with_a_clear_message(args, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["measures", *args])
    assert result.exit_code == 2
    assert message in result.output
