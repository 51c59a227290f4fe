"""The `ascld` command line: a thin Click layer over library calls.

Each part of ascld keeps its commands in `ascld/cli/<part>.py`, exposing `commands` (a list of Click commands or
groups); `COMMAND_MODULES` lists those modules. They are imported lazily: running `ascld serve` imports
`ascld.cli.serve` and nothing of the other commands (some of them load numpy and pyarrow, which the landing
service would otherwise carry for its lifetime). A command is looked for in the module of its own name, plus
the modules `EXTRA_MODULES` names for it (those that add subcommands to its group); any other name, and
`ascld --help`, import every module.

Exit codes: 0 ok; 1 data problems found; 2 usage error or unusable input. Unexpected errors print one line and
suggest `--debug`. Output cut short because its reader has gone (`ascld ... | head -1`) ends quietly with 141,
the status a shell gives a Unix tool ended by SIGPIPE.
"""

from __future__ import annotations

import importlib
import importlib.util
import logging
import os
import sys
from pathlib import Path

import click

from ascld import __version__
from ascld.errors import AscldError, EngineNotInstalled, SpecError, UnusableInput, UsageError

EXIT_OK, EXIT_PROBLEMS, EXIT_USAGE = 0, 1, 2
EXIT_BROKEN_PIPE = 128 + 13  # 128 + SIGPIPE: what a shell reports for `cat big.txt | head -1`

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
# Modules that add subcommands to another module's group: loaded with that group.
EXTRA_MODULES = {"national": ("national_ingest",)}


class AscldGroup(click.Group):
    """Loads each command's module when that command is needed, and turns ascld's own errors into one clear line
    and the documented exit code."""

    def __init__(self, *args: object, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._imported: set[str] = set()

    def _import(self, name: str) -> None:
        if name in self._imported or name not in COMMAND_MODULES:
            return
        self._imported.add(name)
        if importlib.util.find_spec(f"ascld.cli.{name}") is None:
            return  # that part has not been built yet
        for command in importlib.import_module(f"ascld.cli.{name}").commands:
            self.add_command(command)

    def _import_all(self) -> None:
        for name in COMMAND_MODULES:
            self._import(name)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        module = cmd_name.replace("-", "_")
        if module in COMMAND_MODULES:
            self._import(module)
            for extra in EXTRA_MODULES.get(cmd_name, ()):
                self._import(extra)
        if cmd_name not in self.commands:
            self._import_all()
        return super().get_command(ctx, cmd_name)

    def list_commands(self, ctx: click.Context) -> list[str]:
        self._import_all()
        return super().list_commands(ctx)

    def invoke(self, ctx: click.Context) -> object:
        try:
            return super().invoke(ctx)
        except (UsageError, SpecError, EngineNotInstalled, UnusableInput) as exc:
            click.echo(f"Error: {exc}", err=True)
            ctx.exit(EXIT_USAGE)
        except (click.exceptions.Exit, click.exceptions.Abort, click.ClickException):
            raise
        except BrokenPipeError:
            # The reader of the output has gone (`| head`): not an error of ascld's, so no message.
            silence_stdout()
            ctx.exit(EXIT_BROKEN_PIPE)
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


def check_output_path(path: str | None, option: str, *, file: bool = False) -> None:
    """Refuse, before any work is done, an output folder (or, with `file=True`, the folder of an output file)
    under which nothing can be written: a file in the way, or a folder without write permission.

    Raises:
        UsageError: the message names the option, the path and what to do.
    """
    if path is None:
        return
    target = Path(path).absolute().parent if file else Path(path).absolute()
    nearest = next((p for p in (target, *target.parents) if p.exists()), None)
    if nearest is None:
        return
    if not nearest.is_dir():
        raise UsageError(
            f"{option} {path}: {nearest} is a file, so nothing can be written under it. Give another path."
        )
    if not os.access(nearest, os.W_OK | os.X_OK):
        raise UsageError(f"{option} {path}: no permission to write in {nearest}. Give a folder you can write to.")


def check_not_an_input(outputs: dict[str, str | Path | None], inputs: dict[str, str | Path | None]) -> None:
    """Refuse, before any work is done, an output file that is one of the run's own input files (the same path,
    or a link to it): writing it would destroy the input (`ascld validate q1.csv --report q1.csv`).

    Args:
        outputs: how the message names each output (`--report r.csv`, `--out . (problems.csv)`) -> its path.
        inputs: how the message names each input (`the return being checked`) -> its path.

    Raises:
        UsageError: the message names the option, the path and the input it would overwrite.
    """
    for label, out in outputs.items():
        if out is None or not Path(out).is_file():
            continue
        for role, given in inputs.items():
            if given is not None and Path(given).is_file() and os.path.samefile(out, given):
                raise UsageError(f"{label} would overwrite {role}. Give another path.")


def silence_stdout() -> None:
    """Point standard output at the null device once its reader has gone (a closed pipe), so that nothing
    written later, nor Python's flush at exit, fails again ("Exception ignored ... BrokenPipeError")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (OSError, ValueError):  # no file descriptor (a test runner's captured output): nothing to flush
        pass


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


def main() -> None:
    cli(prog_name="ascld")


if __name__ == "__main__":  # pragma: no cover
    main()
