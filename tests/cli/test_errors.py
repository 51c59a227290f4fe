"""The shared error handling of `ascld`: one line and the documented exit code, whichever command fails."""

from __future__ import annotations

import click
from click.testing import CliRunner

from ascld.cli import AscldGroup


def _group_raising(exc: BaseException) -> click.Group:
    @click.group(cls=AscldGroup)
    @click.pass_context
    def group(ctx: click.Context) -> None:
        ctx.ensure_object(dict)

    @group.command()
    def fail() -> None:
        click.echo("first line")
        raise exc

    return group


def test_a_closed_pipe_ends_quietly_not_as_an_unexpected_error():
    # `ascld spec lists | head -1`: the reader of the output has gone; Unix tools stop without a word.
    result = CliRunner().invoke(_group_raising(BrokenPipeError(32, "Broken pipe")), ["fail"])
    assert result.exit_code == 141, result.output  # 128 + SIGPIPE, as a shell reports `cat`
    assert "Unexpected error" not in result.output and "Broken pipe" not in result.output


def test_an_unexpected_error_is_still_one_line_with_the_debug_hint():
    result = CliRunner().invoke(_group_raising(RuntimeError("boom")), ["fail"])
    assert result.exit_code == 2
    assert "Unexpected error: RuntimeError: boom. Rerun with --debug for details." in result.output
