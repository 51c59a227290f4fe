"""`ascld demo`: synthesise a council, validate its latest return against the one before, write the report."""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import click


def _synthesise(out: Path, seed: int, people: int) -> tuple[Path, Path | None, str]:
    """One synthetic council with two quarterly returns.

    Returns:
        The latest return, the previous quarter's return and the latest one's submission date.
    """
    from ascld.synth import SynthConfig
    from ascld.synth.runner import generate

    config = SynthConfig(
        seed=seed, councils=1, people_per_council=people, quarters=2, outputs=frozenset({"returns"})
    )
    generate(config, out)
    with open(out / "submissions.csv", encoding="utf-8", newline="") as fh:
        subs = sorted(csv.DictReader(fh), key=lambda r: r["import_date"])
    latest = subs[-1]
    earlier = [s for s in subs if s["reporting_period_end"] < latest["reporting_period_end"]]
    previous = out / earlier[-1]["file"] if earlier else None
    return out / latest["file"], previous, latest["import_date"][:10]


@click.command("demo")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="demo-output",
    show_default=True,
    help="Folder for the synthetic data and the report.",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Seed for the synthetic council.")
@click.option(
    "--people",
    type=click.IntRange(min=50),
    default=1500,
    show_default=True,
    help="People in the synthetic council.",
)
def demo_command(out: str, seed: int, people: int) -> None:
    """Run ascld on synthetic data: make a council, validate its latest return, write the data-quality report.

    Nothing real is used: people, NHS numbers (test range 999...) and postcodes are synthetic. The folder gets
    the synthetic returns and defect manifest, and report.html, summary.json and problems.csv for the latest
    return compared with the previous quarter's.
    """
    import datetime as dt

    from ascld.quality import validate_return

    folder = Path(out)
    folder.mkdir(parents=True, exist_ok=True)
    click.echo("Synthesising one council (two quarterly returns)...")
    latest, previous, submitted = _synthesise(folder / "synthetic", seed, people)
    click.echo(f"Validating {latest.name}" + (f" against {previous.name}" if previous else "") + "...")
    result = validate_return(latest, previous=previous, submission_date=dt.date.fromisoformat(submitted))
    written = result.write_outputs(folder)
    t = result.summary["totals"]
    click.echo(
        f"{result.file}: {result.row_count:,} rows, {t['errors']:,} failures, {t['warnings']:,} warnings "
        f"(exit code {result.exit_code}; the synthetic council's injected defects are listed in "
        f"{folder / 'synthetic' / 'defects.csv'})."
    )
    click.echo(f"Report: {written['report.html'].resolve()}")
    sys.exit(0)


commands = [demo_command]
