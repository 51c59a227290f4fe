"""`ascld synth`: generate synthetic councils (case-management databases, returns, submission histories)."""

from __future__ import annotations

import datetime as dt
import os

import click

from ascld.cli import check_output_path
from ascld.errors import UsageError
from ascld.synth.config import DEFAULT_DEFECT_RATE, ROW_DEFECT_KINDS, SynthConfig
from ascld.synth.runner import CouncilResult, generate


def _kinds(text: str | None) -> list[str]:
    if not text:
        return list(ROW_DEFECT_KINDS)
    kinds = [k.strip() for k in text.split(",") if k.strip()]
    unknown = sorted(set(kinds) - set(ROW_DEFECT_KINDS))
    if unknown:
        raise UsageError(f"unknown defect kinds: {', '.join(unknown)}. Known: {', '.join(ROW_DEFECT_KINDS)}")
    return kinds


@click.command("synth")
@click.argument("out", type=click.Path(file_okay=False))
@click.option("--seed", type=int, default=0, show_default=True, help="Master seed; same seed, same files.")
@click.option("--councils", "n_councils", type=click.IntRange(1, 153), default=3, show_default=True,
              help="How many councils (the first n of the synthetic council list).")
@click.option("--la-codes", help="Comma-separated LA codes to generate instead of --councils.")
@click.option("--people-per-council", type=click.IntRange(1), default=2000, show_default=True,
              help="People in a council of average size (councils scale with population; 9800 x 153 "
                   "councils is about 1.5 million people).")
@click.option("--quarters", type=click.IntRange(1, 40), default=8, show_default=True,
              help="Quarterly rolling 12-month returns per council.")
@click.option("--start", type=click.DateTime(["%Y-%m-%d"]), default="2024-04-01", show_default=True,
              help="First day of the first quarter returned.")
@click.option("--defect-rate", type=click.FloatRange(0, 0.05), default=DEFAULT_DEFECT_RATE, show_default=True,
              help="Injected defects per row, for each defect kind.")
@click.option("--defect-kinds", help="Comma-separated defect kinds to inject (default: all).")
@click.option("--no-behaviour", is_flag=True, help="Plain submissions: no resubmissions, top-ups, period "
              "resets, long stated periods or Release 1 values.")
@click.option("--nhs-missing-rate", type=click.FloatRange(0, 0.5), default=0.01, show_default=True,
              help="Average share of people with no NHS number recorded.")
@click.option("--nhs-invalid-rate", type=click.FloatRange(0, 0.5), default=0.002, show_default=True,
              help="Average share of people with a mis-keyed NHS number.")
@click.option("--hospital-background-rate", type=click.FloatRange(0), default=0.3, show_default=True,
              help="Hospital spells a year of people unknown to social care, per person.")
@click.option("--cms/--no-cms", default=False, show_default=True, help="Write case-management databases.")
@click.option("--cms-url", help="SQLAlchemy URL template for the databases, with {la_code} "
              "(default: SQLite files OUT/cms/<la_code>.sqlite).")
@click.option("--clean", is_flag=True, help="Also write clean/ returns: exactly what a correct extraction "
              "of the case-management database gives (rolling 12 months, no injected defects).")
@click.option("--transport-defects", is_flag=True, help="Also write unusable variant files (a ragged row, a "
              "formula value) of each council's last return into transport/.")
@click.option("--truth/--no-truth", default=True, show_default=True, help="Write the ground truth (Parquet).")
@click.option("--returns/--no-returns", "returns_", default=True, show_default=True,
              help="Write the submitted returns.")
@click.option("--index/--no-index", default=True, show_default=True, help="Write the demographic index.")
@click.option("--spells/--no-spells", default=True, show_default=True, help="Write the hospital spells.")
@click.option("--workers", type=click.IntRange(1), default=None,
              help="Processes to use (default: the number of CPUs, at most 2).")
def synth_command(out: str, seed: int, n_councils: int, la_codes: str | None, people_per_council: int,
                  quarters: int, start: dt.datetime, defect_rate: float, defect_kinds: str | None,
                  no_behaviour: bool, nhs_missing_rate: float, nhs_invalid_rate: float,
                  hospital_background_rate: float, cms: bool, cms_url: str | None, clean: bool,
                  transport_defects: bool, truth: bool, returns_: bool, index: bool, spells: bool,
                  workers: int | None) -> None:
    """Generate synthetic councils: people and their care journeys, case-management databases, quarterly
    CLD returns with realistic submission behaviour and injected defects, and the manifests that say exactly
    what was generated.

    Everything is synthetic (NHS numbers in the 999 test range, invented names, councils and postcodes) and
    the same options give byte-identical files. OUT gets submissions.csv, defects.csv (every defect: file,
    row, field, kind), behaviours.csv, demographic_index.*, hospital_spells.*, truth/, returns/ and, when
    asked, cms/, clean/ and transport/. See docs/synth.md.

    Examples:

        ascld synth out/small

        ascld synth out/national --councils 153 --people-per-council 9800 --quarters 8
    """
    kinds = _kinds(defect_kinds)
    outputs = {name for name, on in (("truth", truth), ("returns", returns_), ("index", index),
                                     ("spells", spells), ("cms", cms), ("clean", clean),
                                     ("transport", transport_defects)) if on}
    if not outputs:
        raise UsageError("nothing to write: every output is switched off")
    check_output_path(out, "OUT")
    councils: int | tuple[str, ...] = n_councils
    if la_codes is not None:
        councils = tuple(code.strip() for code in la_codes.split(",") if code.strip())
        if not councils:
            raise UsageError(f"--la-codes {la_codes!r} names no council. Give comma-separated LA codes, e.g. 103,105.")
    config = SynthConfig(
        seed=seed, councils=councils, people_per_council=people_per_council, quarters=quarters,
        start=start.date(), defect_rates={k: (defect_rate if k in kinds else 0.0) for k in ROW_DEFECT_KINDS},
        behaviour=not no_behaviour, nhs_missing_rate=nhs_missing_rate, nhs_invalid_rate=nhs_invalid_rate,
        hospital_background_rate=hospital_background_rate, outputs=frozenset(outputs), cms_url=cms_url,
        workers=workers or max(1, min(os.cpu_count() or 1, 2)),
    )

    def progress(result: CouncilResult) -> None:
        click.echo(f"  {result.la_code} {result.la_name}: {result.people:,} people, {result.files} files, "
                   f"{result.seconds:.1f}s", err=True)

    click.echo(f"Generating {config.quarters} quarters for "
               f"{len(councils) if isinstance(councils, tuple) else councils} council(s) into {out}",
               err=True)
    result = generate(config, out, progress=progress)
    rows = sum(n for k, n in result.rows.items() if k in ("returns", "clean"))
    click.echo(f"Done: {result.councils} councils, {result.people:,} people, {result.files} files, "
               f"{rows:,} return rows in {result.seconds:.1f}s "
               f"(peak memory {result.peak_rss_bytes / 2**20:.0f} MiB). Manifests in {out}.")


commands = [synth_command]
