"""The `ascld` command line: a thin Click layer over library calls.

Each part of ascld keeps its commands in `ascld/cli/<part>.py`, exposing `commands` (a list of Click commands or
groups); `COMMAND_MODULES` lists them in the order `ascld --help` shows them.

Exit codes: 0 ok; 1 data problems found; 2 usage error or unusable input. Unexpected errors print one line and
suggest `--debug`.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import sys

import click

from ascld import __version__
from ascld.errors import AscldError, EngineNotInstalled, SpecError, UnusableInput, UsageError

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2

COMMAND_MODULES = (
    "demo",
    "synth",
    "extract",
    "validate",
    "submit",
    "serve",
    "national",
    "national_ingest",
    "measures",
    "release",
    "privacy",
    "spec",
)


class AscldGroup(click.Group):
    """Turns ascld's own errors into one clear line and the documented exit code."""

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (UsageError, SpecError, EngineNotInstalled, UnusableInput) as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(EXIT_USAGE)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except AscldError as exc:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(EXIT_USAGE)
        except Exception as exc:  # noqa: BLE001 - the documented one-line report of a bug
            if ctx.obj and ctx.obj.get("debug"):
                raise
            click.echo(
                f"Unexpected error: {type(exc).__name__}: {exc}. Rerun with --debug for details.", err=True
            )
            ctx.exit(EXIT_USAGE)
        return None


@click.group(cls=AscldGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="ascld")
@click.option(
    "--debug", is_flag=True, envvar="ASCLD_DEBUG", help="Show full tracebacks for unexpected errors."
)
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """ascld: Adult Social Care Client Level Data for England.

    Extract, validate, submit, land, pseudonymise, build the national main tables and compute ASCOF and SALT
    measures, with the councils' privacy promises enforced in code.

    Exit codes: 0 ok, 1 data problems found, 2 usage error or unusable input.
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )


for _name in COMMAND_MODULES:
    if importlib.util.find_spec(f"ascld.cli.{_name}") is None:
        continue  # that part has not been built yet
    for _command in importlib.import_module(f"ascld.cli.{_name}").commands:
        cli.add_command(_command)


def main() -> None:
    cli(prog_name="ascld")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
