"""`ascld demo`: the whole CLD path on synthetic councils, with embedded defaults."""

from __future__ import annotations

import click


@click.command("demo")
@click.option(
    "--out",
    type=click.Path(file_okay=False),
    default="demo-output",
    show_default=True,
    help="Folder for everything the run writes; report.html links it all.",
)
@click.option("--seed", type=int, default=1, show_default=True, help="Seed of the synthetic world.")
@click.option(
    "--councils", type=click.IntRange(min=1, max=153), default=3, show_default=True, help="Synthetic councils."
)
@click.option(
    "--people", type=click.IntRange(min=100), default=1000, show_default=True, help="People in each synthetic council."
)
@click.option(
    "--quarters",
    type=click.IntRange(min=4, max=12),
    default=5,
    show_default=True,
    help="Quarterly returns per council (measures use the latest 12 months).",
)
def demo_command(out: str, seed: int, councils: int, people: int, quarters: int) -> None:
    """Run the whole path on synthetic data: synthetic councils' case-management databases -> extract each
    quarterly return -> validate the newest (data-quality report) -> land and pseudonymise every return ->
    national main tables -> ASCOF and SALT measures with disclosure control -> one report.

    Nothing real is used: people, NHS numbers (test range 999...), postcodes and councils are synthetic. The
    pseudonymisation key is made for the run and never written down. Needs nothing but the Python install.
    """
    from ascld.cli import check_output_path
    from ascld.demo import run_demo

    check_output_path(out, "--out")
    run_demo(out, seed=seed, councils=councils, people=people, quarters=quarters, echo=click.echo)


commands = [demo_command]
