"""`ascld spec ...`: browse and export the specification."""

from __future__ import annotations

import sys
import textwrap

import click

from ascld.errors import UsageError
from ascld.spec import load_spec
from ascld.spec.export import dumps, spec_to_csv

overlay_option = click.option(
    "--spec-overlay",
    type=click.Path(exists=True, dir_okay=False),
    envvar="ASCLD_SPEC_OVERLAY",
    help="CSV of official list values (columns list,value[,r1_value]) that completes or replaces ours.",
)


@click.group("spec")
def spec_group() -> None:
    """Show the CLD specification: fields, defined lists, status rules; export it for other tools."""


@spec_group.command("fields")
@overlay_option
def fields_cmd(spec_overlay: str | None) -> None:
    """List the submitted columns in submission order."""
    spec = load_spec(spec_overlay)
    click.echo(f"CLD return, specification {spec.version_label}: {len(spec.fields)} columns")
    for f in spec.fields:
        flags = ", ".join(
            x
            for x, on in (
                ("identifier", f.identifier),
                ("sensitive", f.sensitive and not f.identifier),
                (f"list {f.defined_list}", bool(f.defined_list)),
            )
            if on
        )
        click.echo(f"{f.seq:>3}  {f.name:<34} {f.type:<8} {f.required_summary:<25} {flags}")


@spec_group.command("lists")
@click.argument("name", required=False)
@overlay_option
def lists_cmd(name: str | None, spec_overlay: str | None) -> None:
    """List the defined lists, or show one list's Release 2 and Release 1 values."""
    spec = load_spec(spec_overlay)
    if name is None:
        for lst in spec.lists.values():
            state = "complete" if lst.complete else "INCOMPLETE (best public knowledge)"
            overlay = ", from overlay" if lst.overlaid else ""
            click.echo(f"{lst.name:<32} {len(lst.r2_values):>3} R2 values  {state}{overlay}")
        return
    found = spec.lists.get(name) or next(
        (v for v in spec.lists.values() if v.field.casefold() == name.casefold()), None
    )
    if found is None:
        raise UsageError(f"no defined list called {name!r}. Run `ascld spec lists` to see the names.")
    lst = found
    click.echo(
        f"{lst.name} (field {lst.field!r}); Release 2 list "
        f"{'complete' if lst.complete else 'incomplete: values outside it are reported as unverified'}"
    )
    for v in lst.r2_values:
        click.echo(f"  {v}{'   (unconfirmed)' if v in lst.unconfirmed else ''}")
    if lst.r1_values:
        click.echo("Release 1 values -> Release 2:")
        for v in lst.r1_values:
            target = lst.r1_to_r2.get(v) or f"[{lst.r1_status.get(v, 'unknown')}]"
            click.echo(f"  {v} -> {target}")


@spec_group.command("show")
@click.argument("field")
@overlay_option
def show_cmd(field: str, spec_overlay: str | None) -> None:
    """Show one field (by header or national column name): format, list, status rules, sources."""
    spec = load_spec(spec_overlay)
    try:
        f = spec.field(field)
    except KeyError:
        raise UsageError(f"no field called {field!r}. Run `ascld spec fields` to see them.") from None
    click.echo(f"{f.name}  (column {f.column}, position {f.seq}, module {f.module})")
    click.echo(f"type: {f.type}; format: {f.format or '-'}")
    if f.defined_list:
        lst = spec.lists[f.defined_list]
        click.echo(
            f"defined list: {f.defined_list} ({len(lst.r2_values)} R2 values, "
            f"{'complete' if lst.complete else 'incomplete'})"
        )
    click.echo(f"identifier: {'yes' if f.identifier else 'no'}; sensitive: {'yes' if f.sensitive else 'no'}")
    click.echo(
        "field status (first rule that holds wins; a rule on a blank or invalid driving field gives Undetermined):"
    )
    for r in spec.status_rules.get(f.column, ()):
        click.echo(f"  {r.rule_id} {r.status:<15} when {r.when}")
    click.echo(f"source: {f.source}")
    if f.note:
        click.echo(textwrap.fill("note: " + f.note, width=110))


@spec_group.command("export")
@click.option("--format", "fmt", type=click.Choice(["json", "csv"]), default="json", show_default=True)
@click.option("--out", type=click.Path(dir_okay=False), help="Write here instead of standard output.")
@overlay_option
def export_cmd(fmt: str, out: str | None, spec_overlay: str | None) -> None:
    """Export the specification: Table-Schema-style JSON (loads back into the same spec) or a CSV of fields."""
    spec = load_spec(spec_overlay)
    text = dumps(spec) if fmt == "json" else spec_to_csv(spec)
    if out:
        try:
            with open(out, "w", encoding="utf-8", newline="") as fh:
                fh.write(text)
        except OSError as exc:
            raise UsageError(
                f"--out {out}: cannot write there ({exc.strerror or type(exc).__name__}). Give a path in a folder "
                "you can write to."
            ) from None
    else:
        sys.stdout.write(text)


commands = [spec_group]
