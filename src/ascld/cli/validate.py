"""`ascld validate`: check a return before submitting it, as the landing service will on receipt."""

from __future__ import annotations

import csv
import json
import sys
from datetime import date
from pathlib import Path

import click

from ascld.cli import check_not_an_input, check_output_path, silence_stdout
from ascld.quality.problem import Problem, spreadsheet_text
from ascld.quality.validate import OUTPUT_NAMES, ValidationResult, one_line, validate_return
from ascld.spec import load_spec

FORMATS = ("text", "json", "csv")


def _echo(text: str, *, err: bool = False) -> None:
    """One line of output: a file name can hold line breaks and other control characters, shown escaped."""
    click.echo(one_line(text), err=err)


def _refusal(problem: Problem) -> str:
    """The one line saying why a file cannot be checked, naming the file once:
    `q1.csv cannot be checked: row 5: the row has fewer values ... [T009]`."""
    where_and_what = str(problem)[len(problem.file) :]  # ", row 5, field X: what. Hint. [T0xx]" or ": what..."
    return f"{problem.file} cannot be checked: {where_and_what[2:]}"


def _text(result: ValidationResult) -> None:
    s = result.summary
    if not result.usable:
        if result.problems:
            _echo(_refusal(result.problems[0]))
        else:
            _echo(f"{result.file} cannot be checked: {s['reason']}")
        for p in result.problems[1:]:
            _echo(str(p))
        # Cut by --max-problems (not only by a listing's own "this row and N more" line): say what was left out.
        if len(result.problems) >= s["listing"]["max_problems"]:
            _not_listed(s["listing"])
        return
    for p in result.problems:
        _echo(str(p))
    _not_listed(s["listing"])
    t = s["totals"]
    verdict = "FAILED" if result.exit_code == 1 else "passed"
    _echo(
        f"{result.file}: {verdict}: {result.row_count:,} rows, {t['errors']:,} failures on "
        f"{t['rows_with_errors']:,} rows, {t['warnings']:,} warnings (specification {s['spec']['label']})."
    )


def _not_listed(listing: dict[str, int]) -> None:
    if listing["not_listed"]:
        click.echo(
            f"... and {listing['not_listed']:,} more problems on {listing['rows_not_listed']:,} further rows "
            f"not listed (--max-problems {listing['max_problems']}); every problem is in problems.csv."
        )


def _csv(result: ValidationResult) -> None:
    writer = csv.writer(sys.stdout)
    writer.writerow(["file", "row", "field", "check_id", "severity", "message", "hint"])
    for p in result.problems:
        row = [p.file, p.field, p.check_id, p.severity, p.message, p.hint]
        text = [spreadsheet_text(v) for v in row]  # never a cell Excel runs as a formula (a file named =1+2.csv)
        writer.writerow([text[0], "" if p.row is None else p.row, *text[1:]])


@click.command("validate")
@click.argument("return_file", metavar="RETURN", type=click.Path(dir_okay=False))
@click.option(
    "--previous", type=click.Path(dir_okay=False), help="The previous quarter's return, to compare with."
)
@click.option(
    "--spec-overlay",
    type=click.Path(exists=True, dir_okay=False),
    envvar="ASCLD_SPEC_OVERLAY",
    help="CSV of official list values (columns list,value[,r1_value]) that completes or replaces ours.",
)
@click.option(
    "--report",
    "report",
    type=click.Path(dir_okay=False),
    help="Write the HTML data-quality report here (summary.json and problems.csv go beside it).",
)
@click.option(
    "--out",
    "out",
    type=click.Path(file_okay=False),
    help="Write summary.json, problems.csv and report.html into this folder.",
)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(FORMATS),
    default="text",
    show_default=True,
    help="How to print the result: text lines, the JSON summary, or the problems as CSV.",
)
@click.option(
    "--max-problems",
    type=click.IntRange(min=0),
    default=1000,
    show_default=True,
    envvar="ASCLD_MAX_PROBLEMS",
    help="How many problems to list; every problem is still counted.",
)
@click.option(
    "--submission-date",
    type=click.DateTime(formats=["%Y-%m-%d", "%d/%m/%Y"]),
    help="Date the return is submitted (default today): later dates are flagged.",
)
@click.option(
    "--dq-out",
    type=click.Path(dir_okay=False),
    help="Also write the per-row field status and validity codes (cond_/chk_) as Parquet.",
)
def validate_command(
    return_file: str,
    previous: str | None,
    spec_overlay: str | None,
    report: str | None,
    out: str | None,
    fmt: str,
    max_problems: int,
    submission_date: object,
    dq_out: str | None,
) -> None:
    """Check a CLD return (CSV or CSV.gz, Windows-1252) before submitting it.

    Runs the landing service's transport checks, the national field status and validity model on every row and
    field, checks across rows, the reporting-period check and, with --previous, the quarter-on-quarter checks.
    Row numbers are as a spreadsheet shows them (the header is row 1). No identifying value is ever printed.

    Exit codes: 0 no failures (warnings allowed), 1 failures found, 2 the file cannot be checked (or a usage
    error).
    """
    for name, what in ((return_file, ""), (previous, " (the --previous return)")):
        if name is not None and not Path(name).exists():
            raise click.UsageError(f"{one_line(name)}: no such file{what}. Check the path and try again.")
    check_output_path(out, "--out")
    check_output_path(report, "--report", file=True)
    check_output_path(dq_out, "--dq-out", file=True)
    folder = Path(out) if out else (Path(report).parent if report else None)
    beside = {} if folder is None else {
        f"--out {out} ({name} in it)" if out else f"--report {report} ({name} beside it)": folder / name
        for name in OUTPUT_NAMES
    }
    check_not_an_input(
        {f"--report {report}": report, f"--dq-out {dq_out}": dq_out, **beside},
        {"the return being checked": return_file, "the --previous return": previous, "the --spec-overlay":
         spec_overlay},
    )
    spec = load_spec(spec_overlay)
    sub: date | None = submission_date.date() if submission_date else None  # type: ignore[attr-defined]
    result = validate_return(
        return_file,
        previous=previous,
        spec=spec,
        max_problems=max_problems,
        submission_date=sub,
        dq_out=dq_out,
    )
    try:
        if fmt == "json":
            click.echo(json.dumps(result.summary, indent=2, default=str))
        elif fmt == "csv":
            _csv(result)
        else:
            _text(result)
        sys.stdout.flush()
    except BrokenPipeError:
        # The reader has gone (`| head -1`): stop printing, but still write the outputs asked for and exit
        # with the file's verdict, which is known.
        silence_stdout()
    if folder is not None:
        written = result.write_outputs(folder, html=True)
        if report:
            Path(written["report.html"]).replace(report)
            written["report.html"] = Path(report)
        _echo(f"Report: {written['report.html']}", err=True)
    sys.exit(result.exit_code)


commands = [validate_command]
