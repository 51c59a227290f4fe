"""`ascld` imports a command's module only when that command runs, and the help is the same either way."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import click
import pytest

from ascld.cli import COMMAND_MODULES, cli

# Loads every command's module, then prints each command's help (as `ascld --help` has loaded them all).
ALL_LOADED = """
    import json, sys
    from click.testing import CliRunner
    from ascld.cli import cli
    runner = CliRunner()
    names = cli.list_commands(None)
    print(json.dumps({n: runner.invoke(cli, [n, "--help"], prog_name="ascld").output for n in names}))
"""
# A fresh process that runs one command only: its help, and which modules that loaded.
ONE = """
    import json, sys
    from click.testing import CliRunner
    from ascld.cli import cli
    output = CliRunner().invoke(cli, [sys.argv[1], "--help"], prog_name="ascld").output
    print(json.dumps({"help": output, "modules": sorted(sys.modules)}))
"""


def _python(script: str, *args: str) -> dict:
    env = {**os.environ, "COLUMNS": "100"}
    out = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(script), *args], capture_output=True, text=True, env=env, check=True
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def eager_help() -> dict[str, str]:
    return _python(ALL_LOADED)


def test_each_command_has_the_same_help_when_loaded_alone(eager_help):
    assert {"serve", "submit", "validate", "national"} <= set(eager_help)
    for name, text in eager_help.items():
        alone = _python(ONE, name)
        assert alone["help"] == text, name
        assert "Usage: ascld " + name in text


def test_serve_loads_none_of_the_other_commands():
    loaded = _python(ONE, "serve")["modules"]
    others = [f"ascld.cli.{m}" for m in COMMAND_MODULES if m != "serve"]
    assert [m for m in others if m in loaded] == []
    assert [m for m in ("numpy", "pyarrow", "ascld.synth", "ascld.quality.validate") if m in loaded] == []


def test_a_group_is_loaded_with_the_modules_that_add_to_it():
    national = _python(ONE, "national")
    assert "ascld.cli.national_ingest" in national["modules"]
    assert "ingest" in national["help"] and "build" in national["help"]


def test_an_unknown_command_is_still_refused():
    ctx = click.Context(cli)
    assert cli.get_command(ctx, "no-such-command") is None
    result = subprocess.run(
        [sys.executable, "-c", "from ascld.cli import main; main()", "no-such-command"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 2 and "No such command 'no-such-command'" in result.stderr
