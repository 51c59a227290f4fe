"""`ascld measures ...`: ASCOF, SALT and (with --dashboard) the DHSC LA dashboard tables, for England (national)
or for one council (its own returns)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from ascld.errors import UsageError

ENGINES = ("duckdb", "spark")
SQL_DIALECTS = ("mssql", "pyspark")
FAMILIES = ("2A", "2BC", "2D", "2E", "3D")


@click.group("measures")
def measures_command() -> None:
    """ASCOF and SALT measures, disclosure-controlled, as CSV, JSON, a manifest and an HTML report.

    \b
    ascld measures national --store STORE --as-of DATE --period START:END --out OUT
    ascld measures national --main-tables DIR --store STORE --period START:END --out OUT
    ascld measures council RETURN.csv... --period START:END --out OUT

    --dashboard also builds the DHSC LA dashboard tables under OUT/dashboard/ (person-level facts are
    internal outputs) and adds the waiting-time medians, disclosure-controlled, to measures.csv.

    Disclosure control is applied to every output by default; --no-disclosure-control is for internal use
    only and is recorded in the manifest and on the report. Exit codes: 0 done; 2 usage error or unusable
    input (the message says what to pass).
    """


def _period(text: str) -> tuple[str, str]:
    start, sep, end = text.partition(":")
    if not sep or not start.strip() or not end.strip():
        raise UsageError(f"--period {text!r} needs START:END, e.g. 2024-07-01:2025-06-30.")
    return start.strip(), end.strip()


def _families(values: tuple[str, ...]) -> list[str] | None:
    if not values:
        return None
    out = [v.strip().upper() for item in values for v in item.split(",") if v.strip()]
    unknown = sorted(set(out) - set(FAMILIES))
    if unknown:
        raise UsageError(f"--ascof: unknown measure families {unknown}; use {', '.join(FAMILIES)}.")
    return out


def _references(options: dict[str, Any]) -> dict[str, Any]:
    """ASCOF reference inputs; --synthetic-references fills those not given with synthetic ones."""
    refs = {k: options[k] for k in ("populations", "discharges", "la_lookup", "lsoa_lookup")}
    if options["synthetic_references"]:
        from ascld.measures.ascof import synthetic_la_lookup_path, synthetic_population_path
        from ascld.measures.ascof.synthetic import synthetic_lsoa_lookup

        refs["populations"] = refs["populations"] or synthetic_population_path()
        refs["la_lookup"] = refs["la_lookup"] or synthetic_la_lookup_path()
        if refs["lsoa_lookup"] is None:
            refs["lsoa_lookup"] = synthetic_lsoa_lookup()
    return refs


def _common(f: Any) -> Any:
    options = [
        click.option(
            "--period", required=True, help="Latest 12-month period START:END, e.g. 2024-07-01:2025-06-30."
        ),
        click.option(
            "--out",
            "out_dir",
            type=click.Path(file_okay=False),
            required=True,
            help="Output folder: measures.csv, measures.json, manifest.json, report.html.",
        ),
        click.option(
            "--engine", type=click.Choice(ENGINES), envvar="ASCLD_ENGINE", default="duckdb", show_default=True
        ),
        click.option(
            "--populations",
            type=click.Path(exists=True, dir_okay=False),
            help="ONS population estimates for ASCOF 2B/2C (docs/measures-ascof.md).",
        ),
        click.option(
            "--discharges",
            type=click.Path(exists=True, dir_okay=False),
            help="Hospital discharge spells for ASCOF 2D (CSV or Parquet).",
        ),
        click.option(
            "--la-lookup",
            type=click.Path(exists=True, dir_okay=False),
            help="LA lookup (LA_Code, LA_Name, LA_Area_Code, Region).",
        ),
        click.option(
            "--lsoa-lookup",
            type=click.Path(exists=True, dir_okay=False),
            help="LSOA 2011 -> UTLA lookup for 2D when the spells have no UTLA_Code_2023.",
        ),
        click.option(
            "--synthetic-references",
            is_flag=True,
            help="Use the bundled SYNTHETIC population, LA and LSOA lookups where not given (demo only).",
        ),
        click.option(
            "--ascof",
            "ascof",
            multiple=True,
            help="ASCOF families to run (repeatable or comma-separated): 2A, 2BC, 2D, 2E, 3D.",
        ),
        click.option("--no-ascof", is_flag=True, help="Do not run ASCOF."),
        click.option("--no-salt", is_flag=True, help="Do not run SALT."),
        click.option(
            "--dashboard",
            is_flag=True,
            help="Also build the DHSC LA dashboard tables (OUT/dashboard/; person-level facts are internal "
            "outputs) and the waiting-time medians (added to measures.csv). Reads the single-submissions "
            "main table beside the joined one, or builds both from the store (docs/measures-dashboard.md).",
        ),
        click.option(
            "--no-disclosure-control",
            is_flag=True,
            help="INTERNAL USE ONLY: skip disclosure control (recorded in the manifest and report).",
        ),
        click.option(
            "--emit-sql",
            "emit_sql",
            type=click.Choice(SQL_DIALECTS),
            multiple=True,
            help="Also write the ASCOF and SALT SQL (and the dashboard's, with --dashboard) in this dialect "
            "under OUT/sql/ (repeatable).",
        ),
        click.option(
            "--work-dir",
            type=click.Path(file_okay=False),
            help="Scratch folder for temporary stores and main tables (and DuckDB's spill files).",
        ),
        click.option(
            "--memory-limit",
            help="DuckDB memory limit for the measures, e.g. 4GB; beyond it DuckDB spills to --work-dir "
            "(or the system temporary folder). Default: DuckDB's own (80% of RAM).",
        ),
        click.option("--threads", type=click.IntRange(min=1), help="DuckDB threads (default: every core)."),
    ]
    for option in reversed(options):
        f = option(f)
    return f


def _report(run: Any) -> None:
    counts = run.manifest["row_counts"]
    click.echo(f"{counts['total']:,} rows ({len(counts['by_measure'])} measures)")
    for line in run.skipped:
        click.echo(f"not run: {line}")
    for line in run.manifest.get("warnings", ()):
        click.echo(f"warning: {line}", err=True)
    dc = run.manifest["disclosure_control"]
    if isinstance(dc, dict):
        click.echo("disclosure control: applied")
    else:
        click.echo(f"disclosure control: {dc}: do not release these outputs", err=True)
    for note in run.manifest["notes"]:
        click.echo(f"note: {note}")
    click.echo(f"wrote {run.out_dir}/measures.csv, measures.json, manifest.json, report.html")
    if run.manifest["parameters"].get("dashboard"):
        click.echo(f"wrote {run.out_dir}/dashboard/ (dashboard tables; person-level facts are for internal use)")


def _run_options(options: dict[str, Any]) -> dict[str, Any]:
    from ascld.cli import check_output_path

    check_output_path(options["out_dir"], "--out")
    check_output_path(options["work_dir"], "--work-dir")
    if options["no_ascof"] and options["ascof"]:
        raise UsageError("give --ascof FAMILIES or --no-ascof, not both.")
    if options["no_ascof"] and options["no_salt"] and not options["dashboard"]:
        raise UsageError("--no-ascof and --no-salt leave nothing to compute. Drop one of them, or add --dashboard.")
    return {
        "period": _period(options["period"]),
        "out_dir": options["out_dir"],
        "engine": options["engine"],
        "ascof": [] if options["no_ascof"] else _families(options["ascof"]),
        "salt": not options["no_salt"],
        "disclosure": not options["no_disclosure_control"],
        "emit_sql": options["emit_sql"],
        "dashboard": options["dashboard"],
        "work_dir": options["work_dir"],
        "engine_options": _engine_options(options),
        **_references(options),
    }


def _engine_options(options: dict[str, Any]) -> dict[str, Any]:
    """DuckDB settings from --memory-limit, --threads and --work-dir (refused for Spark, which has its own)."""
    chosen = {k: options[k] for k in ("memory_limit", "threads") if options[k] is not None}
    if chosen and options["engine"] != "duckdb":
        raise UsageError("--memory-limit and --threads are DuckDB settings; configure Spark through Spark.")
    if options["memory_limit"] is not None:
        _check_memory_limit(options["memory_limit"])
    if chosen and options["work_dir"]:
        chosen["temp_directory"] = str(Path(options["work_dir"]) / "spill")
    return chosen


def _check_memory_limit(text: str) -> None:
    """Refuse a --memory-limit DuckDB cannot use before any work is done (DuckDB's own error is a parser dump)."""
    import duckdb

    from ascld.engine import duckdb_connection

    refused = UsageError(
        f"--memory-limit {text!r} is not a memory size DuckDB can use. Give a number and a unit, "
        "e.g. 4GB, 500MB or 8GiB."
    )
    if text.strip().startswith("-"):
        raise refused  # DuckDB takes a negative size as "no limit given" and uses 80% of RAM
    try:
        con = duckdb_connection(memory_limit=text)
        try:
            con.execute("SELECT count(*) FROM range(10000)").fetchone()
        finally:
            con.close()
    except duckdb.Error:
        raise refused from None


@measures_command.command("national")
@click.option(
    "--main-tables",
    type=click.Path(exists=True),
    help="Folder holding the joined main table (or its Parquet file), for ASCOF.",
)
@click.option(
    "--store",
    type=click.Path(exists=True),
    help="National store (for SALT; and to build the joined main table when --main-tables is absent).",
)
@click.option("--as-of", "as_of", help="Ignore files imported after this date (YYYY-MM-DD); SALT's 'today'.")
@_common
def national_cmd(main_tables: str | None, store: str | None, as_of: str | None, **options: Any) -> None:
    """ASCOF (from the joined main table) and SALT (from the store) for every council and England.

    With --dashboard, the dashboard tables read the single-submissions main table in --main-tables (or
    build it, and the joined table from 2023-04-01 for waiting times, from --store with --as-of).

    Discharges in the generator's layout (NHS numbers in clear) are pseudonymised with the store's key
    (ASCLD_PSEUDO_KEY or ASCLD_PSEUDO_KEY_FILE).
    """
    from ascld.measures.run import run_measures_national

    if not main_tables and not store:
        raise UsageError("give --main-tables and/or --store.")
    if store and Path(store).is_file():
        from ascld.engine import parquet_footer_reads

        if not parquet_footer_reads(Path(store)):  # DuckDB's own error names no option and says nothing to do
            raise UsageError(
                f"--store {store}: not a Parquet file, or it is damaged. Give the national store folder (or the "
                "store's Parquet files)."
            )
    run = run_measures_national(main_tables=main_tables, store=store, as_of=as_of, **_run_options(options))
    _report(run)


@measures_command.command("council")
@click.argument("returns", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--as-of", "as_of", help="Ignore returns counted as imported after this date (default: all).")
@click.option("--la-name", help="The council's name in outputs (default: from --la-lookup, else its code).")
@click.option(
    "--index",
    type=click.Path(exists=True, dir_okay=False),
    help="Demographic index to trace NHS numbers (optional; 2D needs traced numbers).",
)
@_common
def council_cmd(
    returns: tuple[str, ...], as_of: str | None, la_name: str | None, index: str | None, **options: Any
) -> None:
    """ASCOF and SALT (and with --dashboard the dashboard tables) for one council from its own CLD returns,
    by the national code path.

    The returns are ingested into a temporary store with an ephemeral random key generated in memory (never
    written; the store is deleted at the end), the joined main table is built, and the national code runs.
    Each return counts as imported the day after its stated period end.
    """
    from ascld.measures.run import run_measures_council

    click.echo("note: pseudonymising with an ephemeral random key held in memory for this run only", err=True)
    run = run_measures_council(
        list(returns), as_of=as_of, la_name=la_name, index=index, **_run_options(options)
    )
    _report(run)


commands = [measures_command]
