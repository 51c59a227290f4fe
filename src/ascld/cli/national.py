"""`ascld national ...`: the national store and main tables."""

from __future__ import annotations

from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import click

from ascld.errors import UsageError

if TYPE_CHECKING:
    from ascld.national.imports import ImportListing

ENGINES = ("duckdb", "spark")
SQL_DIALECTS = ("mssql", "duckdb", "pyspark")


@click.group("national")
def national_group() -> None:
    """National processing: the pseudonymised store and the cleaned, de-duplicated main tables."""


def _date(text: str, option: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        raise UsageError(f"{option} {text!r} is not a date. Use YYYY-MM-DD.") from None


def _period(text: str) -> tuple[date, date]:
    start, sep, end = text.partition(":")
    if not sep:
        raise UsageError(f"--period {text!r} needs START:END, e.g. 2025-04-01:2026-03-31.")
    return _date(start, "--period start"), _date(end, "--period end")


@national_group.command("build")
@click.option("--store", type=click.Path(exists=True), help="National store folder (or Parquet file/folder).")
@click.option("--as-of", "as_of", required=True, help="Ignore files imported after this date (YYYY-MM-DD).")
@click.option("--period", required=True, help="START:END, e.g. 2025-04-01:2026-03-31.")
@click.option(
    "--mode",
    type=click.Choice(["single", "joined"]),
    required=True,
    help="single: latest 12-month file per council; joined: latest file per quarter, joined up.",
)
@click.option(
    "--engine", type=click.Choice(ENGINES), envvar="ASCLD_ENGINE", default="duckdb", show_default=True
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(file_okay=False),
    required=True,
    help="Folder for the table (Parquet), manifest.json and summary.md.",
)
@click.option(
    "--emit-sql",
    "emit_sql",
    type=click.Choice(SQL_DIALECTS),
    multiple=True,
    help="Also write each step's SQL in this dialect under OUT/sql/ (repeatable).",
)
@click.option("--sql-only", is_flag=True, help="Only write the SQL (no store needed).")
@click.option(
    "--basis",
    type=click.Choice(["derived", "stated"]),
    default="derived",
    show_default=True,
    help="Reporting periods used to choose files (the national pipeline uses derived).",
)
@click.option(
    "--unmapped",
    type=click.Choice(["auto", "invalid", "null"]),
    default="auto",
    show_default=True,
    help="What a raw value in no mapping row becomes (see docs/main-tables.md).",
)
@click.option(
    "--work-dir",
    type=click.Path(file_okay=False),
    help="Scratch folder for DuckDB's database and spill files (large stores).",
)
@click.option("--no-hash", is_flag=True, help="Do not record SHA-256 hashes of the store files.")
@click.option(
    "--spec-overlay", type=click.Path(exists=True, dir_okay=False), envvar="ASCLD_SPEC_OVERLAY",
    help="CSV of official list values (columns list,value[,r1_value]) that completes the mapping tables.",
)
def build_cmd(
    store: str | None,
    as_of: str,
    period: str,
    mode: str,
    engine: str,
    out_dir: str,
    emit_sql: tuple[str, ...],
    sql_only: bool,
    basis: str,
    unmapped: str,
    work_dir: str | None,
    no_hash: bool,
    spec_overlay: str | None,
) -> None:
    """Build a national main table (single or joined submissions) from the national store.

    Writes OUT/CLD_<start>_<end>_<Single|Joined>Submissions.parquet, OUT/manifest.json (versions,
    engine, parameters, chosen files, input hashes, row counts at every step) and OUT/summary.md (what each
    step removed and why).
    """
    from ascld.cli import check_output_path
    from ascld.national.main_tables import BuildParams, build_main_tables, write_sql
    from ascld.spec import load_spec

    check_output_path(out_dir, "--out")
    check_output_path(work_dir, "--work-dir")
    spec = load_spec(spec_overlay)
    start, end = _period(period)
    params = BuildParams(
        mode=mode,
        period_start=start,
        period_end=end,
        as_of=_date(as_of, "--as-of"),
        basis=basis,
        unmapped=unmapped,
    )
    if sql_only:
        if not emit_sql:
            raise UsageError("--sql-only needs at least one --emit-sql DIALECT.")
        for dialect in emit_sql:
            paths = write_sql(f"{out_dir}/sql/{dialect}", dialect, params, spec=spec)
            click.echo(f"wrote {len(paths)} {dialect} files to {out_dir}/sql/{dialect}")
        return
    if not store:
        raise UsageError("--store is required (unless --sql-only).")
    if Path(store).is_file():
        _check_parquet(Path(store))
    result = build_main_tables(
        store,
        params,
        engine=engine,
        out_dir=out_dir,
        work_dir=work_dir,
        hash_inputs=not no_hash,
        emit_sql=emit_sql,
        spec=spec,
    )
    for step in result.steps:
        removed = sum(step.removed.values())
        click.echo(f"{step.name:<22} {step.rows:>12,} rows" + (f"  (-{removed:,})" if removed else ""))
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"wrote {result.outputs['main_table']}")


def _check_parquet(path: Path) -> None:
    """A --store given as one Parquet file must read as Parquet; DuckDB's own error is a multi-line SQL dump."""
    from ascld.engine import parquet_footer_reads

    if not parquet_footer_reads(path):
        raise UsageError(
            f"--store {path}: not a Parquet file, or it is damaged. Give the national store folder (or the "
            "store's Parquet files)."
        )


@national_group.command("imports")
@click.option("--store", required=True, type=click.Path(), help="National store folder.")
@click.option("--la", "la_code", help="Only this council's imports (its LA code).")
@click.option(
    "--format", "fmt", type=click.Choice(["text", "json", "csv"]), default="text", show_default=True,
    help="text: a table and totals; json: totals and one object per import; csv: one row per import.",
)
def imports_cmd(store: str, la_code: str | None, fmt: str) -> None:
    """List what a national store holds: one line per import, in load order, and totals.

    Each import: its id and ImportDate, council, file name, rows and record ids, stated reporting period,
    validation outcome (field failures, warnings), trace outcomes and the key fingerprint. Only registered
    imports are listed (what the main tables read), never what an interrupted ingest left behind. The
    register holds nothing identifying, so nothing identifying is shown.
    """
    import csv
    import json
    import sys

    from ascld.national.imports import COLUMNS, list_imports
    from ascld.national.store import NationalStore

    listing = list_imports(NationalStore(store), la_code=la_code)
    if fmt == "json":
        click.echo(json.dumps({"store": str(store), "totals": listing.totals, "imports": listing.rows}, indent=2))
        return
    if fmt == "csv":
        writer = csv.DictWriter(sys.stdout, fieldnames=COLUMNS, lineterminator="\n")
        writer.writeheader()
        writer.writerows(listing.rows)
        return
    _echo_imports_table(listing)


def _echo_imports_table(listing: ImportListing) -> None:
    rows, totals = listing.rows, listing.totals

    def num(value: object) -> str:
        return "-" if value is None else f"{value:,}"

    head = ("import", "ImportDate", "LA", "rows", "period", "failures", "matched", "file")
    lines = [
        (
            r["import_id"],
            r["import_date"][:19].replace("T", " "),
            r["la_code"],
            num(r["rows"]),
            f"{r['reporting_period_start'] or '?'} to {r['reporting_period_end'] or '?'}",
            num(r["field_failures"]),
            num(r["trace_match"]) if r["traced"] else "not traced",
            r["load_file_name"],
        )
        for r in rows
    ]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *lines, strict=False)]
    for line in (head, *lines):
        click.echo("  ".join(str(x).ljust(w) for x, w in zip(line, widths, strict=True)).rstrip())
    scope = f" for LA {totals['la_code']}" if totals["la_code"] else ""
    click.echo(
        f"{totals['imports']:,} imports{scope} from {totals['councils']:,} councils, {totals['rows']:,} rows, "
        f"{totals['field_failures']:,} field failures kept with their DQ codes."
    )
    if totals["key_fingerprint"]:
        click.echo(f"Pseudonymisation key fingerprint: {totals['key_fingerprint']}.")


commands = [national_group]
