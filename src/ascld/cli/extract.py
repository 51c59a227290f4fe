"""`ascld extract`: a case-management database + the council's mapping -> a CLD return (docs/extract.md)."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import click

from ascld.errors import UsageError

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
DATE_FORMATS = ("%Y-%m-%d", "%d/%m/%Y")


def parse_period(text: str) -> tuple[dt.date, dt.date]:
    """`START:END` with ISO (2025-04-01) or dd/mm/yyyy dates, inclusive.

    Examples:
        >>> parse_period("2025-04-01:2026-03-31")
        (datetime.date(2025, 4, 1), datetime.date(2026, 3, 31))
    """
    parts = text.split(":")
    if len(parts) != 2:
        raise UsageError(f"--period must be START:END, e.g. 2025-04-01:2026-03-31, not {text!r}")
    out = []
    for part in parts:
        for fmt in DATE_FORMATS:
            try:
                out.append(dt.datetime.strptime(part.strip(), fmt).date())
                break
            except ValueError:
                continue
        else:
            raise UsageError(f"--period: {part!r} is not a date. Use yyyy-mm-dd (or dd/mm/yyyy).")
    if out[1] < out[0]:
        raise UsageError(f"--period ends ({out[1]}) before it starts ({out[0]}). Use START:END.")
    return out[0], out[1]


def _sqlite_file(url: str) -> str | None:
    """The database file of an SQLite URL (`sqlite:///cms.sqlite` -> `cms.sqlite`); None for any other URL."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        return None  # extract_return says what is wrong with it
    return parsed.database if parsed.drivername.startswith("sqlite") else None


@click.command("extract")
@click.option(
    "--source",
    required=True,
    envvar="ASCLD_EXTRACT_SOURCE",
    metavar="URL",
    help="SQLAlchemy URL of the case-management database, e.g. sqlite:///cms.sqlite or "
    "postgresql+psycopg://user@host/db (better: set ASCLD_EXTRACT_SOURCE so a password stays out of your "
    "shell history).",
)
@click.option(
    "--mapping",
    "mapping_path",
    required=True,
    type=click.Path(exists=True, dir_okay=False),
    help="The council's mapping (YAML). Example: examples/synth_cms_mapping.yaml.",
)
@click.option(
    "--period", required=True, metavar="START:END", help="Reporting period, e.g. 2025-04-01:2026-03-31."
)
@click.option(
    "--out",
    type=click.Path(),
    default=None,
    help="Return file, or a folder. Default: <LA>_CLD_<start>_<end>.csv in the current folder.",
)
@click.option("--gzip", is_flag=True, help="Write the return gzip-compressed.")
@click.option(
    "--transliterate",
    is_flag=True,
    help="Replace characters Windows-1252 cannot hold (reported by row and field) instead of stopping.",
)
@click.option(
    "--line-endings",
    type=click.Choice(["crlf", "lf"]),
    default="crlf",
    show_default=True,
    help="Line endings of the return (CRLF is what Windows tools write).",
)
@click.option(
    "--spec-overlay",
    type=click.Path(exists=True, dir_okay=False),
    envvar="ASCLD_SPEC_OVERLAY",
    help="CSV of official list values (columns list,value[,r1_value]) that completes or replaces ours.",
)
@click.option(
    "--report-dir",
    type=click.Path(file_okay=False),
    default=None,
    help="Write the validator's outputs (report, problems.csv) to this folder.",
)
@click.option("--no-validate", is_flag=True, help="Do not run the validator on the written return.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_context
def extract_command(
    ctx: click.Context,
    source: str,
    mapping_path: str,
    period: str,
    out: str | None,
    gzip: bool,
    transliterate: bool,
    line_endings: str,
    spec_overlay: str | None,
    report_dir: str | None,
    no_validate: bool,
    as_json: bool,
) -> None:
    """Extract the CLD return from a case-management database through the council's mapping.

    ascld applies the national scope rules itself (requests, assessments and reviews completed in the period;
    services active in it; cancelled events out; carers known by association), writes the file in submission
    form (spec headers, dd/mm/yyyy, Windows-1252 without BOM) and validates it.

    Exit codes: 0 written and clean; 1 problems (nothing written: unmapped local codes, text Windows-1252
    cannot hold ...; or written, and the validator found problems); 2 the mapping or an option is wrong.
    """
    from ascld.cli import check_not_an_input, check_output_path
    from ascld.extract import ExtractProblems, extract_return
    from ascld.quality.validate import OUTPUT_NAMES
    from ascld.spec import load_spec

    start, end = parse_period(period)
    if report_dir and no_validate:
        raise UsageError("--report-dir gets the validator's report, and --no-validate runs no validator: drop one.")
    check_output_path(out, "--out", file=not Path(out).is_dir() if out else False)
    check_output_path(report_dir, "--report-dir")
    beside = {} if report_dir is None else {
        f"--report-dir {report_dir} ({name} in it)": Path(report_dir) / name
        for name in OUTPUT_NAMES
    }
    check_not_an_input(
        {f"--out {out}": out, **beside},
        {"the --mapping": mapping_path, "the --spec-overlay": spec_overlay, "the --source database":
         _sqlite_file(source)},
    )
    try:
        result = extract_return(
            source,
            mapping_path,
            start,
            end,
            out,
            gzip=gzip,
            transliterate=transliterate,
            newline="\r\n" if line_endings == "crlf" else "\n",
            spec=load_spec(spec_overlay),
            validate=not no_validate,
        )
    except ExtractProblems as exc:
        click.echo(str(exc), err=True)
        ctx.exit(EXIT_PROBLEMS)
        return
    if report_dir and result.validation is not None:
        result.validation.write_outputs(Path(report_dir))
    validation = result.validation
    if as_json:
        click.echo(
            json.dumps(
                {
                    "path": str(result.path),
                    "rows": result.rows,
                    "rows_by_type": result.rows_by_type,
                    "sha256": result.sha256,
                    "bytes": result.bytes,
                    "la_code": result.la_code,
                    "period_start": result.period_start.isoformat(),
                    "period_end": result.period_end.isoformat(),
                    "spec_version": result.spec_version,
                    "mapping_sha256": result.mapping_sha256,
                    "transliterated": [{"row": t.row, "field": t.field} for t in result.transliterated],
                    "validation": None
                    if validation is None
                    else {
                        "exit_code": validation.exit_code,
                        "errors": validation.errors,
                        "warnings": validation.warnings,
                    },
                    "validator_note": result.validator_note,
                    "seconds": round(result.seconds, 3),
                },
                indent=2,
            )
        )
    else:
        kinds = ", ".join(f"{k} {n:,}" for k, n in result.rows_by_type.items() if n)
        click.echo(f"Wrote {result.path}: {result.rows:,} rows ({kinds}) in {result.seconds:.1f} s.")
        click.echo(
            f"LA {result.la_code}, period {start:%d/%m/%Y} to {end:%d/%m/%Y}, spec {result.spec_version}, "
            f"SHA-256 {result.sha256}."
        )
        for t in result.transliterated:
            click.echo(f"Transliterated: return row {t.row}, field {t.field}.", err=True)
        if validation is None:
            click.echo(f"Not validated: {result.validator_note}.")
        else:
            click.echo(
                f"Validation: {validation.errors:,} errors, {validation.warnings:,} warnings"
                + (f"; report in {report_dir}." if report_dir else "; add --report-dir DIR for the report.")
            )
    ctx.exit(result.exit_code)


commands = [extract_command]
