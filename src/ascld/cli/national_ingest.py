"""`ascld national ingest`: validate, trace, pseudonymise and store returns in the national store.

Registers `ingest` on the `national` group of `ascld.cli.national`; `commands` is empty so the group is not
added twice.
"""

from __future__ import annotations

from pathlib import Path

import click

from ascld.cli.national import national_group


def _echo_outcome(outcome: object) -> None:
    click.echo(getattr(outcome, "message", str(outcome)))


@national_group.command("ingest")
@click.argument("files", nargs=-1, required=True, type=click.Path(dir_okay=False))
@click.option("--store", required=True, type=click.Path(file_okay=False), help="National store folder.")
@click.option("--import-date", help="ImportDate for these files: YYYY-MM-DD (midnight) or an ISO date-time, "
              "not in the future. Default: now.")
@click.option("--key-file", type=click.Path(dir_okay=False), envvar="ASCLD_PSEUDO_KEY_FILE",
              help="File holding the pseudonymisation key (default: $ASCLD_PSEUDO_KEY).")
@click.option("--new-key-file", type=click.Path(dir_okay=False),
              help="Create a new random key in this file (never overwritten) and use it.")
@click.option("--index", "index", type=click.Path(dir_okay=False),
              help="Demographic index (CSV or Parquet) to trace NHS numbers against; without it nothing is "
              "traced.")
@click.option("--postcodes", type=click.Path(dir_okay=False),
              help="Postcode lookup in the ONS Postcode Directory layout (default: the bundled synthetic "
              "one).")
@click.option("--la-names", type=click.Path(dir_okay=False),
              help="CSV of LA_Code,LA_Name giving each council's name (default: the code itself).")
@click.option("--reports", type=click.Path(file_okay=False),
              help="Folder for the validation reports of refused files (default: STORE/../ingest-reports).")
def ingest_cmd(
    files: tuple[str, ...], store: str, import_date: str | None, key_file: str | None,
    new_key_file: str | None, index: str | None, postcodes: str | None, la_names: str | None,
    reports: str | None,
) -> None:
    """Validate, trace, pseudonymise and store CLD returns in the national store.

    Each file is validated first; a file that fails the transport checks is refused with its report and
    nothing of it is stored. Usable files are stored with their data-quality codes, in pseudonymised form
    only: NHS numbers and person IDs become keyed pseudonyms, date of birth becomes year, month and ages,
    postcode becomes sector and areas; names are dropped. The same bytes are never stored twice.

    The key comes from --key-file or $ASCLD_PSEUDO_KEY; ingest refuses to run without one.

    Exit codes: 0 every file stored (or already stored), 1 a file was refused, 2 usage error.
    """
    from ascld.cli import check_output_path
    from ascld.errors import UsageError
    from ascld.identity.postcodes import load_postcode_lookup
    from ascld.identity.pseudonym import load_key, write_key_file
    from ascld.national.ingest import ingest_files, read_la_names
    from ascld.national.store import NationalStore

    _check_import_date(import_date)
    check_output_path(reports, "--reports")
    national_store = NationalStore(store)
    national_store.check_folder()  # before anything is written: never mix the store into another folder
    new_store = not Path(store).exists()
    key = None
    if new_key_file:
        if key_file:
            raise UsageError("give either --key-file or --new-key-file, not both.")
        if Path(new_key_file).resolve().is_relative_to(Path(store).resolve()):
            raise UsageError(
                f"the new key file {new_key_file} would be inside the store; keep keys elsewhere."
            )
        key = write_key_file(new_key_file)
        click.echo(f"Created a new pseudonymisation key in {new_key_file}. Keep it safe and away from the "
                   "store: every later ingest into this store needs the same key.")
    else:
        key = load_key(key_file)  # before anything else: ingest never runs without a key
    lookup = load_postcode_lookup(postcodes)
    if postcodes is None:
        click.echo("Postcode areas come from the bundled SYNTHETIC lookup; pass --postcodes for the ONS "
                   "Postcode Directory.", err=True)
    if index is None:
        click.echo("No --index given: NHS numbers are not traced (Der_NHS_Number_Traced_Pseudo stays empty).",
                   err=True)
    report_dir = reports or str(Path(store).resolve().parent / "ingest-reports")
    names = read_la_names(la_names) if la_names else None
    try:
        report = ingest_files(
            files, store, key=key, key_file=key_file, import_date=import_date, index=index, postcodes=lookup,
            la_names=names, report_dir=report_dir, progress=_echo_outcome,
        )
    except Exception:
        if new_store:  # a first ingest that failed leaves no empty store behind
            national_store.remove_if_unused()
        raise
    stored = sum(o.status == "stored" for o in report.outcomes)
    dup = sum(o.status == "duplicate" for o in report.outcomes)
    refused = sum(o.status == "refused" for o in report.outcomes)
    click.echo(f"{stored} stored, {dup} already present, {refused} refused in {report.seconds:.1f}s.")
    raise SystemExit(report.exit_code)


def _check_import_date(text: str | None) -> None:
    """Refuse an --import-date in the future: files are chosen by ImportDate <= --as-of, so a mistyped year
    (2205 for 2025) would hide the file from every main table until then, and the same bytes are never stored
    twice. (A date that is not ISO is refused by ingest itself.)"""
    import datetime as dt

    from ascld.errors import UsageError

    if text is None:
        return
    try:
        when = dt.datetime.fromisoformat(text.strip())
    except ValueError:
        return
    if when.replace(tzinfo=None) > dt.datetime.now() + dt.timedelta(days=1):
        raise UsageError(
            f"--import-date {text.strip()} is in the future; the ImportDate is when the file was received. Give "
            "that date (YYYY-MM-DD), or leave the option out for now."
        )


commands: list[click.Command] = []
