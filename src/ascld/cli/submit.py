"""`ascld submit RETURN --to URL`: upload a return to the landing service as a council."""

from __future__ import annotations

import codecs
import sys
from pathlib import Path

import click

from ascld.errors import UsageError

EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


class _Bar:
    """A one-line progress bar on stderr (plain lines when stderr is not a terminal)."""

    def __init__(self, quiet: bool) -> None:
        self.quiet = quiet
        self.tty = sys.stderr.isatty()
        self._last: tuple[str, int] = ("", -1)

    def __call__(self, stage: str, done: int, total: int) -> None:
        if self.quiet:
            return
        pct = 100 if total == 0 else int(100 * done / total)
        label = {"hash": "Hashing  ", "upload": "Uploading"}.get(stage, stage)
        if self.tty:
            filled = pct * 30 // 100
            click.echo(
                f"\r{label} [{'#' * filled}{'.' * (30 - filled)}] {pct:3d}%  {done / 1e6:,.1f} MB",
                nl=done >= total,
                err=True,
            )
        elif (stage, pct // 25) != self._last:
            self._last = (stage, pct // 25)
            click.echo(f"{label.strip()}: {pct}%", err=True)


@click.command("submit")
@click.argument("return_file", metavar="RETURN", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--to",
    "url",
    required=True,
    envvar="ASCLD_LANDING_URL",
    metavar="URL",
    help="The landing service's address, e.g. https://landing.example.org.",
)
@click.option(
    "--token",
    envvar="ASCLD_TOKEN",
    metavar="TOKEN",
    help="API token (better: set ASCLD_TOKEN, or use --token-file, so it stays out of your shell history).",
)
@click.option(
    "--token-file", type=click.Path(exists=True, dir_okay=False), help="File holding the API token."
)
@click.option(
    "--retries",
    default=5,
    show_default=True,
    type=click.IntRange(0, 20),
    help="Retries on network errors and busy answers (the file hash keeps them from duplicating).",
)
@click.option(
    "--wait/--no-wait",
    default=False,
    show_default=True,
    help="Wait until the national store has ingested the file.",
)
@click.option("--allow-http", is_flag=True, help="Allow plain http to another machine (not recommended).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--json", "as_json", is_flag=True, help="Print the service's answer as JSON.")
def submit_command(
    return_file: str,
    url: str,
    token: str | None,
    token_file: str | None,
    retries: int,
    wait: bool,
    allow_http: bool,
    quiet: bool,
    as_json: bool,
) -> None:
    """Upload RETURN to the landing service as your council.

    The file's SHA-256 is sent as the idempotency key: running the command again (after a lost connection,
    say) never makes a second submission. Exit codes: 0 accepted (or already received), 1 refused (the first
    problems and the report's address are printed), 2 usage, sign-in or connection error.
    """
    import json

    from ascld.landing.client import SubmitClient, SubmitError

    where = "--token (or ASCLD_TOKEN)"
    if token_file:
        where = f"the token file {token_file}"
        raw = Path(token_file).read_bytes()
        if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
            # Windows PowerShell 5's `echo $token > token.txt` writes UTF-16 with a byte-order mark.
            token = raw.decode("utf-16", errors="replace").strip()
        else:
            raw = raw.removeprefix(codecs.BOM_UTF8)  # an editor's byte-order mark
            token = raw.decode("ascii", errors="replace").strip()
    if not token:
        raise UsageError(
            "no API token: set ASCLD_TOKEN or give --token-file. Make a token on the service's "
            "'API tokens' page."
        )
    if not token.isascii() or not token.isprintable() or any(c.isspace() for c in token):
        # Never echo it: a token is a secret.
        raise UsageError(
            f"the API token from {where} holds characters no token has (binary data, spaces or several lines). "
            "Copy the token from the service's 'API tokens' page, alone on one line."
        )
    bar = _Bar(quiet or as_json)
    try:
        with SubmitClient(url, token, retries=retries, allow_http=allow_http) as client:
            result = client.submit(return_file, progress=bar)
            sub = result.submission
            if wait and result.outcome != "refused":
                sub = client.wait(sub["id"])
    except SubmitError as exc:
        click.echo(f"Error: {exc}", err=True)
        sys.exit(EXIT_USAGE)
    if as_json:
        click.echo(
            json.dumps(
                {
                    "outcome": result.outcome,
                    "submission": sub,
                    "problems": result.problems,
                    "report": result.report_url,
                },
                indent=2,
            )
        )
        sys.exit(EXIT_REFUSED if result.outcome == "refused" else EXIT_OK)
    name = Path(return_file).name
    if result.outcome == "refused":
        total = result.problem_count if result.problem_count is not None else len(result.problems)
        click.echo(f"{name}: REFUSED. The file could not be used as a CLD return and was not kept.", err=True)
        click.echo(f"{total} problem(s); the first {len(result.problems)}:", err=True)
        for p in result.problems:
            where = ", ".join(
                x
                for x in (
                    f"row {p['row']}" if p.get("row") is not None else "",
                    f"field {p['field']}" if p.get("field") else "",
                )
                if x
            )
            click.echo(
                f"  - {where + ': ' if where else ''}{p.get('message', '')} {p.get('hint', '')}".rstrip(),
                err=True,
            )
        click.echo(f"Full report: {result.report_url}", err=True)
        click.echo("Correct the file (run `ascld validate` on it first) and submit it again.", err=True)
        sys.exit(EXIT_REFUSED)
    if result.outcome == "duplicate":
        click.echo(
            f"{name}: already received on {sub['received_at']} (submission {sub['id']}); not sent again."
        )
    else:
        click.echo(
            f"{name}: accepted as submission {sub['id']} ({sub['size_bytes']:,} bytes, "
            f"{sub['rows'] if sub['rows'] is not None else '?'} rows, {sub['problems'] or 0} problem(s) to "
            "review)."
        )
    click.echo(f"Status: {sub['status_label']}. Data-quality report: {sub['links']['page']}")
    if sub["status"] == "failed":
        sys.exit(EXIT_USAGE)


commands = [submit_command]
