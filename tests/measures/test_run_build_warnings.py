"""A council whose return the main-table build cannot choose is said so by the measures, not shown as zeros.

The main-table build warns when a council in the store has no qualifying file for a reference period
(main-tables.md §3.1: no file is chosen, so none of its events of that period are in the table). When
`ascld measures` builds the main table itself (from `--store`, or in council mode), that warning used to
be dropped with the temporary table: the council's ASCOF rows came out as 0 with nothing saying that its
return was never used. The warnings now go into the manifest, the command's output and the report.
"""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path

from click.testing import CliRunner

from ascld.cli import cli
from ascld.identity import PseudoKey
from ascld.measures.run import run_measures_council, run_measures_national
from ascld.national.ingest import ingest_files
from ascld.spec import load_spec

PERIOD = ("2023-10-01", "2024-09-30")
KEY_HEX = "3c" * 32


def _nhs(n: int) -> str:
    """A valid NHS number in the 999 test range."""
    while True:
        digits = f"999{n:06d}"
        total = sum(int(d) * (10 - i) for i, d in enumerate(digits))
        check = 11 - total % 11
        check = 0 if check == 11 else check
        if check != 10:
            return digits + str(check)
        n += 1


def _return(path: Path, la_code: str, end_dates: list[dt.date]) -> Path:
    """A return of one service per person, each ending on the given date."""
    spec = load_spec()
    rows = []
    for i, end in enumerate(end_dates):
        r = {c: "" for c in spec.columns}
        r.update(
            LA_Code=la_code,
            Reporting_Period_Start_Date="01/10/2023",
            Reporting_Period_End_Date="30/09/2024",
            NHS_Number=_nhs(100 * i + 11),
            LA_Person_Unique_Identifier=f"P{i:04d}",
            Gender="Female",
            Ethnicity="White: Irish",
            Date_of_Birth="15/04/1940",
            Client_Type="Service user",
            Primary_Support_Reason="Physical support: Personal care support",
            Postcode="ZZ99 3VZ",
            Accommodation_Status="Registered care home",
            Has_Unpaid_Carer="No",
            Client_Funding_Status="Fully social care funded",
            Event_Type="Service",
            Event_Reference=f"E{i}",
            Event_Start_Date=(end - dt.timedelta(days=30)).strftime("%d/%m/%Y"),
            Event_End_Date=end.strftime("%d/%m/%Y"),
            Event_Outcome="Service ended as planned",
            Service_Type="Long term support: Residential care",
            Service_Component="Residential care: Permanent",
            Delivery_Mechanism="Council managed service",
        )
        rows.append(r)
    with path.open("w", newline="", encoding="cp1252") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(spec.headers)
        w.writerows([[r[c] for c in spec.columns] for r in rows])
    return path


def _every_month(n: int) -> list[dt.date]:
    """n end dates spread over the 12 months of the period."""
    return [dt.date(2023, 10, 15) + dt.timedelta(days=30 * (i % 12)) for i in range(n)]


def test_council_mode_says_when_its_return_is_never_chosen(tmp_path):
    # Every event ends in the last month: the derived period (main-tables.md §2) is that one month, so the
    # file qualifies for no reference period and the main table holds none of its events.
    f = _return(tmp_path / "103_q.csv", "103", [dt.date(2024, 9, 20)] * 12)
    run = run_measures_council(
        [f], period=PERIOD, out_dir=tmp_path / "out", ascof=["2A"], salt=False, disclosure=False
    )
    manifest = json.loads((run.out_dir / "manifest.json").read_text())
    latest = [w for w in manifest["warnings"] if "no qualifying file for 2024-07-01..2024-09-30" in w]
    assert latest and "103" in latest[0], manifest["warnings"]
    assert "Warnings" in (run.out_dir / "report.html").read_text()


def test_council_mode_has_no_such_warning_for_a_chosen_return(tmp_path):
    f = _return(tmp_path / "103_q.csv", "103", _every_month(24))
    run = run_measures_council(
        [f], period=PERIOD, out_dir=tmp_path / "out", ascof=["2A"], salt=False, disclosure=False
    )
    periods = [w for w in run.manifest["warnings"] if "2023-10-01" in w or "2024-" in w]
    assert periods == [], run.manifest["warnings"]


def test_national_mode_from_the_store_warns_and_the_command_prints_it(tmp_path, monkeypatch):
    key = PseudoKey.from_text(KEY_HEX)
    store = tmp_path / "store"
    good = _return(tmp_path / "105_q.csv", "105", _every_month(24))
    bad = _return(tmp_path / "103_q.csv", "103", [dt.date(2024, 9, 20)] * 12)
    for f in (good, bad):
        report = ingest_files([f], store, key=key, import_date=dt.datetime(2024, 10, 20, 9))
        assert report.outcomes[0].status == "stored"
    run = run_measures_national(
        store=store, period=PERIOD, as_of="2024-11-01", out_dir=tmp_path / "out", ascof=["2A"], salt=False,
        disclosure=False,
    )
    latest = [w for w in run.manifest["warnings"] if "no qualifying file for 2024-07-01..2024-09-30" in w]
    assert len(latest) == 1 and "103" in latest[0] and "105" not in latest[0], run.manifest["warnings"]

    monkeypatch.setenv("ASCLD_PSEUDO_KEY", KEY_HEX)
    result = CliRunner().invoke(
        cli,
        ["measures", "national", "--store", str(store), "--as-of", "2024-11-01", "--period", ":".join(PERIOD),
         "--ascof", "2A", "--no-salt", "--out", str(tmp_path / "cli")],
    )
    assert result.exit_code == 0, result.output
    assert "warning: joined main table built for this run: no qualifying file for 2024-07-01..2024-09-30: 103" in (
        result.output
    )


def test_a_given_main_table_that_does_not_reach_the_ascof_periods_is_said_so(tmp_path):
    # ascof.md §0.1: the joined table holds the history the periods need. A table built for the last quarter
    # only, given with --main-tables, made every earlier quarter's events missing without a word.
    from ascld.national.main_tables import BuildParams, build_main_tables

    key = PseudoKey.from_text(KEY_HEX)
    store = tmp_path / "store"
    f = _return(tmp_path / "105_q.csv", "105", _every_month(24))
    assert ingest_files([f], store, key=key, import_date=dt.datetime(2024, 10, 20, 9)).outcomes[0].status == "stored"
    kwargs = dict(period=PERIOD, ascof=["2A"], salt=False, disclosure=False)

    quarter = build_main_tables(
        store, BuildParams("joined", dt.date(2024, 7, 1), dt.date(2024, 9, 30), as_of=dt.date(2024, 11, 1)),
        out_dir=tmp_path / "q", hash_inputs=False,
    )
    assert quarter.row_counts["main_table"] > 0
    run = run_measures_national(main_tables=tmp_path / "q", out_dir=tmp_path / "out_q", **kwargs)
    assert [w for w in run.manifest["warnings"] if w.startswith(
        "ASCOF: the joined main table given holds reference periods 2024-07-01 to 2024-09-30; this run's ASCOF "
        "periods need 2023-04-01 to 2024-09-30"
    )], run.manifest["warnings"]

    # A table that reaches the ASCOF periods (here from the 2D previous period's start, 2023-04-01) says nothing.
    g = _return(tmp_path / "105_old.csv", "105", [d - dt.timedelta(days=183) for d in _every_month(24)])
    with g.open("r+b") as fh:  # stated period six months earlier, as the council's earlier return
        text = fh.read().replace(b"01/10/2023,30/09/2024", b"01/04/2023,31/03/2024")
        fh.seek(0), fh.write(text), fh.truncate()
    assert ingest_files([g], store, key=key, import_date=dt.datetime(2024, 4, 20, 9)).outcomes[0].status == "stored"
    full = build_main_tables(
        store, BuildParams("joined", dt.date(2023, 4, 1), dt.date(2024, 9, 30), as_of=dt.date(2024, 11, 1)),
        out_dir=tmp_path / "full", hash_inputs=False,
    )
    assert not full.warnings, full.warnings
    run = run_measures_national(main_tables=tmp_path / "full", out_dir=tmp_path / "out_full", **kwargs)
    assert run.manifest["warnings"] == []
