"""`ascld measures`: ASCOF and SALT (and optionally the DHSC LA dashboard tables) for the nation or for one
council, controlled, written and reported.

One code path serves both modes (`_run`): ASCOF from a joined main table, SALT from the raw store, then
disclosure control, then the outputs. National mode reads the national main tables (and the national store
for SALT). Council mode ingests the council's own return files into a temporary store under an ephemeral
random key held only in memory, builds the joined main table from it, and runs exactly the same code; the
temporary store and the key are gone when the run ends.

Outputs in `out_dir`: `measures.csv` and `measures.json` (tidy layout
`ascld.measures.output.MEASURE_COLUMNS`), `manifest.json` (versions, engine, parameters, inputs with
SHA-256, disclosure rules in force or "disabled (internal use)", row counts, start and end times) and
`report.html` (self-contained). With `dashboard=True` the dashboard tables go to `dashboard/` and the
waiting-time medians join `measures.csv` (`ascld.measures.dashboard`, docs/measures-dashboard.md).
"""

from __future__ import annotations

import contextlib
import csv
import datetime as dt
import gzip
import hashlib
import json
import math
import secrets
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from ascld import __version__
from ascld.errors import UnusableInput, UsageError
from ascld.measures.output import MEASURE_COLUMNS

DISABLED = "disabled (internal use)"
SQL_DIALECTS = ("mssql", "pyspark", "duckdb")
ASCOF_FAMILIES = ("2A", "2BC", "2D", "2E", "3D")
EPHEMERAL_KEY_NOTE = (
    "council mode: the returns were pseudonymised with an ephemeral random key generated in memory for this "
    "run; it was never written anywhere, and the temporary store was deleted when the run ended"
)
COUNCIL_ENGLAND_NOTE = (
    "council mode: the England rows cover this council only, so disclosure control rounds them like the "
    "council's own rows (DC02 applies to every row and DC10 is not in force); otherwise they would publish the "
    "council's exact figures next to its rounded ones"
)


@dataclass(frozen=True)
class MeasuresRun:
    """What one `ascld measures` run produced.

    Attributes:
        out_dir: the output folder.
        rows: the published rows (dicts in MEASURE_COLUMNS order; counts may be `*` after suppression).
        manifest: the manifest written to `manifest.json`.
        outputs: output name -> path (`measures_csv`, `measures_json`, `manifest`, `report`, `sql:...`).
        skipped: measures not run and why.
    """

    out_dir: Path
    rows: list[dict[str, Any]]
    manifest: dict[str, Any]
    outputs: dict[str, Path]
    skipped: tuple[str, ...] = field(default=())


# --------------------------------------------------------------------------------------------------
# Small helpers


def _as_date(value: Any, what: str) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value).strip())
    except ValueError:
        raise UsageError(f"{what} {value!r} is not a date. Use YYYY-MM-DD.") from None


def _period(period: Sequence[Any]) -> tuple[dt.date, dt.date]:
    if len(period) != 2:
        raise UsageError("period: give (start, end), e.g. ('2024-07-01', '2025-06-30').")
    start, end = _as_date(period[0], "period start"), _as_date(period[1], "period end")
    if end < start:
        raise UsageError("period: the end date is before the start date.")
    return start, end


def sha256_file(path: str | Path) -> str:
    """SHA-256 of a file's bytes (hex)."""
    h = hashlib.sha256()
    with Path(path).open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _input(role: str, path: str | Path | None, note: str | None = None) -> dict[str, Any] | None:
    if path is None:
        return None
    p = Path(path)
    entry: dict[str, Any] = {"role": role, "path": str(p)}
    if p.is_file():
        entry["sha256"] = sha256_file(p)
    elif p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file())
        entry["files"] = [{"path": str(f.relative_to(p)), "sha256": sha256_file(f)} for f in files]
    if note:
        entry["note"] = note
    return entry


def _missing(value: Any) -> bool:
    if value is None:
        return True
    if isinstance(value, float) and math.isnan(value):
        return True
    try:
        import pandas as pd

        return value is pd.NA or value is pd.NaT
    except ImportError:  # pragma: no cover - pandas is a dependency
        return False


def _plain(column: str, value: Any) -> Any:
    """One cell as a plain JSON/CSV value: ints for counts, floats for values, ISO dates, text."""
    if _missing(value):
        return None
    if hasattr(value, "item") and not isinstance(value, str):  # numpy scalars
        value = value.item()
    if isinstance(value, dt.datetime):
        return value.date().isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if hasattr(value, "to_pydatetime"):
        return value.to_pydatetime().date().isoformat()
    if column in ("numerator", "denominator") and isinstance(value, int | float | Decimal):
        return int(value)
    if column == "value" and isinstance(value, int | Decimal):
        return float(value)
    if column == "disclosure_flag":
        return value or ""
    return value


def _records(table: Any) -> list[dict[str, Any]]:
    frame = table.to_pandas() if hasattr(table, "to_pandas") else table
    rows = []
    for rec in frame.to_dict("records"):
        rows.append({c: _plain(c, rec.get(c)) for c in MEASURE_COLUMNS})
    return rows


def _main_table_in(folder: Path) -> Path:
    if folder.is_file():
        return _readable_main_table(folder)
    found = sorted(folder.glob("*JoinedSubmissions*.parquet"))
    if not found:
        raise UsageError(
            f"no joined main table (*JoinedSubmissions*.parquet) in {folder}. Build one with "
            "`ascld national build --mode joined`, or pass the national store with --store."
        )
    if len(found) > 1:
        raise UsageError(f"{len(found)} joined main tables in {folder}; pass the one to use as a file path.")
    return _readable_main_table(found[0])


def _read_references(populations: Any, la_lookup: Any, lsoa_lookup: Any) -> tuple[Any, Any, Any]:
    """The ASCOF reference tables read (and checked) before any other work: a bad file stops the run before a
    return is ingested, a main table built or the output folder made. Tables are passed through (None stays
    None)."""
    from ascld.measures.ascof import read_la_lookup, read_lsoa_lookup, read_population

    return tuple(  # type: ignore[return-value]
        None if value is None else reader(value)
        for value, reader in ((populations, read_population), (la_lookup, read_la_lookup),
                              (lsoa_lookup, read_lsoa_lookup))
    )


def _readable_main_table(path: Path) -> Path:
    """The main table's path once its Parquet footer reads, so a damaged file stops the run before any output."""
    from ascld.engine import parquet_footer_reads

    if not parquet_footer_reads(path):
        raise UnusableInput(
            f"{path}: the main table is not a Parquet file, or it is damaged. Build it again with "
            "`ascld national build --mode joined`."
        )
    return path


# --------------------------------------------------------------------------------------------------
# Discharges: the generator's spells carry NHS numbers in clear; pseudonymise them under the run's key.


def _load_discharges(source: Any, pseudonymiser: Callable[[], Any] | None) -> pa.Table | None:
    from ascld.measures.ascof import read_discharges

    if source is None:
        return None
    if isinstance(source, pa.Table):
        table = source
    else:
        path = Path(source)
        if not path.is_file():
            raise UsageError(f"discharges: no such file: {path}")
        try:
            if path.suffix.lower() == ".parquet":
                import pyarrow.parquet as pq

                table = pq.read_table(path)
            else:
                from pyarrow import csv as pacsv

                table = pacsv.read_csv(path, convert_options=pacsv.ConvertOptions(strings_can_be_null=True))
        except (pa.ArrowException, OSError):
            # Arrow's message quotes the offending row, which may hold NHS numbers in clear: never pass it on.
            raise UnusableInput(
                f"{path.name}: the discharges file cannot be read as "
                f"{'Parquet' if path.suffix.lower() == '.parquet' else 'CSV (UTF-8, one value per column)'}; "
                "it is damaged or not in that format. Check it, or export it again."
            ) from None
    if "nhs_number" in table.column_names:  # spells with NHS numbers in clear (ascld synth layout)
        from ascld.identity.pseudonym import NHS_DOMAIN
        from ascld.measures.ascof.synthetic import discharges_from_spells

        pseudo = pseudonymiser() if pseudonymiser else None
        if pseudo is None:
            raise UsageError(
                "discharges: these spells carry NHS numbers in clear and no pseudonymisation key is "
                "available. "
                "Set ASCLD_PSEUDO_KEY (or ASCLD_PSEUDO_KEY_FILE) to the store's key, or pass pseudonymised "
                "spells (docs/measures-ascof.md, Hospital discharge spells)."
            )
        nhs = table.column("nhs_number").cast(pa.string())
        table = table.set_column(table.column_names.index("nhs_number"), "nhs_number", nhs)
        return discharges_from_spells(table, lambda values: pseudo.pseudonyms(values, NHS_DOMAIN))
    return read_discharges(table)


def _store_pseudonymiser() -> Any:
    from ascld.identity.pseudonym import PseudoKeyError, Pseudonymiser, load_key

    try:
        return Pseudonymiser(load_key())
    except PseudoKeyError:
        return None


# --------------------------------------------------------------------------------------------------
# The one code path


@dataclass
class _Plan:
    mode: str
    period: tuple[dt.date, dt.date]
    as_of: dt.date | None
    engine: str
    main_table: Path | None
    store: Path | None
    populations: Any
    discharges: pa.Table | None
    la_lookup: Any
    lsoa_lookup: Any
    ascof: Iterable[str] | None
    salt: bool
    disclosure: bool
    rules: Any
    out_dir: Path
    emit_sql: Sequence[str]
    inputs: list[dict[str, Any]]
    notes: list[str]
    title: str
    engine_options: dict[str, Any] = field(default_factory=dict)
    # the warnings of the main tables built for this run (councils with no qualifying file for a period)
    warnings: list[str] = field(default_factory=list)
    dashboard: bool = False
    single_table: Path | None = None  # the dashboard's single-submissions main table
    waiting_table: Path | None = None  # the joined main table for waiting times (default: main_table)


def _salt_period(plan: _Plan) -> Any:
    from ascld.measures.salt import SaltPeriod

    start, end = plan.period
    base = SaltPeriod.for_period(start, end)
    return SaltPeriod.for_period(start, end, today=plan.as_of or base.submission_window_close)


def _run(plan: _Plan) -> MeasuresRun:
    from ascld.engine import connect
    from ascld.release import load_disclosure_rules

    started, t0 = dt.datetime.now(dt.UTC), time.perf_counter()
    plan.out_dir.mkdir(parents=True, exist_ok=True)
    skipped: list[str] = []
    tables: list[list[dict[str, Any]]] = []
    counts: dict[str, int] = {}
    steps: dict[str, float] = {}
    con = connect(plan.engine, **plan.engine_options)
    engine_settings = _engine_settings(con, plan.engine)
    try:
        mark = time.perf_counter()
        if plan.ascof is not None and not plan.ascof:
            skipped.append("ASCOF: not requested")
        elif plan.main_table is not None:
            from ascld.measures.ascof import run_ascof

            main = con.read_parquet(str(plan.main_table))
            result = run_ascof(
                main,
                period=plan.period,
                populations=plan.populations,
                discharges=plan.discharges,
                la_lookup=plan.la_lookup,
                lsoa_lookup=plan.lsoa_lookup,
                engine=con,
                measures=plan.ascof,
            )
            ascof_rows = _records(result.measures)
            tables.append(ascof_rows)
            counts["ascof"] = len(ascof_rows)
            skipped.extend(result.skipped)
        else:
            skipped.append("ASCOF: no joined main table given")
        steps["ascof"], mark = round(time.perf_counter() - mark, 3), time.perf_counter()
        if plan.salt and plan.store is not None:
            from ascld.measures.salt import compute_salt
            from ascld.national.main_tables import read_store

            raw = read_store(con, plan.store, plan.engine)
            salt_rows = _records(compute_salt(raw, period=_salt_period(plan), engine=con))
            tables.append(salt_rows)
            counts["salt"] = len(salt_rows)
        elif plan.salt:
            skipped.append("SALT: no national store given (SALT reads the raw store, not the main tables)")
        steps["salt"], mark = round(time.perf_counter() - mark, 3), time.perf_counter()
        dashboard: Any = None
        if plan.dashboard:
            from ascld.measures.dashboard.step import run_dashboard_step

            dashboard = run_dashboard_step(
                con,
                single=plan.single_table,
                joined=plan.waiting_table or plan.main_table,
                store=plan.store,
                period=plan.period,
                la_lookup=plan.la_lookup,
                out_dir=plan.out_dir,
            )
            skipped.extend(dashboard.skipped)
            plan.notes.extend(dashboard.notes)
            counts["dashboard"] = len(dashboard.rows)
            steps["dashboard"], mark = round(time.perf_counter() - mark, 3), time.perf_counter()
    finally:
        with contextlib.suppress(Exception):  # closing is best effort
            con.disconnect()
    rows = [r for t in tables for r in t] + (dashboard.rows if dashboard is not None else [])

    if plan.disclosure:
        rules = plan.rules or load_disclosure_rules()
        if plan.mode == "council":
            rules = rules.with_national_rows_rounded()
            plan.notes.append(COUNCIL_ENGLAND_NOTE)
        if rows:
            rows = _controlled(rows, rules)
        disclosure: Any = {"applied": True, "rules": rules.describe()}
    else:
        disclosure = DISABLED
    steps["disclosure_control"], mark = round(time.perf_counter() - mark, 3), time.perf_counter()
    outputs = _write_outputs(plan, rows)
    outputs.update(_write_sql(plan))
    if dashboard is not None:
        outputs.update(dashboard.outputs)
    finished = dt.datetime.now(dt.UTC)
    by_measure: dict[str, int] = {}
    for r in rows:
        by_measure[r["measure"]] = by_measure.get(r["measure"], 0) + 1
    manifest = {
        "ascld_version": __version__,
        "spec_version": _spec_version(),
        "command": f"ascld measures {plan.mode}",
        "mode": plan.mode,
        "engine": plan.engine,
        "engine_settings": engine_settings,
        "parameters": {
            "period": [plan.period[0].isoformat(), plan.period[1].isoformat()],
            "as_of": plan.as_of.isoformat() if plan.as_of else None,
            "ascof_measures": sorted(plan.ascof) if plan.ascof is not None else list(ASCOF_FAMILIES),
            "salt": plan.salt,
            "salt_period": _salt_manifest(plan) if plan.salt and plan.store is not None else None,
            "emit_sql": list(plan.emit_sql),
            "dashboard": plan.dashboard,
        },
        "inputs": plan.inputs,
        "disclosure_control": disclosure,
        "notes": plan.notes,
        "warnings": plan.warnings,
        "skipped": skipped,
        "row_counts": {
            "total": len(rows),
            **counts,
            "by_measure": by_measure,
            **({"dashboard_tables": dashboard.counts} if dashboard is not None else {}),
        },
        "outputs": {k: str(v.relative_to(plan.out_dir)) for k, v in outputs.items()},
        "started_at": started.isoformat(timespec="seconds"),
        "finished_at": finished.isoformat(timespec="seconds"),
        "seconds": round(time.perf_counter() - t0, 3),
        "step_seconds": steps,
    }
    from ascld.report.measures import measures_report

    report_path = plan.out_dir / "report.html"
    measures_report(rows, manifest, title=plan.title).write(report_path)
    steps["outputs"] = round(time.perf_counter() - mark, 3)  # CSV, JSON, SQL and the report
    outputs["report"] = report_path
    manifest["outputs"]["report"] = "report.html"
    manifest["outputs"]["manifest"] = "manifest.json"
    manifest_path = plan.out_dir / "manifest.json"
    manifest_path.write_text(json.dumps(manifest, indent=2, default=str) + "\n", encoding="utf-8")
    outputs["manifest"] = manifest_path
    return MeasuresRun(plan.out_dir, rows, manifest, outputs, tuple(skipped))


def _controlled(rows: list[dict[str, Any]], rules: Any) -> list[dict[str, Any]]:
    """Disclosure control on every row (rows without a numerator, ASCOF 2D "blank" cells, included: the
    release rules keep them blank and control their denominators)."""
    import pandas as pd

    from ascld.release import apply_disclosure_control

    return _records(apply_disclosure_control(pd.DataFrame(rows, columns=list(MEASURE_COLUMNS)), rules))


def _spec_version() -> str | None:
    try:
        from ascld.spec import load_spec

        return load_spec().version_label
    except Exception:  # noqa: BLE001 - the manifest still records everything else
        return None


def _salt_manifest(plan: _Plan) -> dict[str, str]:
    p = _salt_period(plan)
    return {
        k: getattr(p, k).isoformat()
        for k in ("start", "end", "event_window_close", "submission_window_close", "year_start", "today")
    }


def _write_outputs(plan: _Plan, rows: list[dict[str, Any]]) -> dict[str, Path]:
    csv_path = plan.out_dir / "measures.csv"
    with csv_path.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(MEASURE_COLUMNS)
        for r in rows:
            writer.writerow(["" if r[c] is None else r[c] for c in MEASURE_COLUMNS])
    json_path = plan.out_dir / "measures.json"
    json_path.write_text(json.dumps(rows, indent=1) + "\n", encoding="utf-8")
    return {"measures_csv": csv_path, "measures_json": json_path}


def _write_sql(plan: _Plan) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for dialect in plan.emit_sql:
        if dialect not in SQL_DIALECTS:
            raise UsageError(f"--emit-sql {dialect!r}: use one of {', '.join(SQL_DIALECTS)}.")
        folder = plan.out_dir / "sql" / dialect
        folder.mkdir(parents=True, exist_ok=True)
        statements: dict[str, str] = {}
        if plan.main_table is not None:
            from ascld.measures.ascof import ascof_sql

            statements.update({f"ascof_{k}": v for k, v in ascof_sql(plan.period, dialect).items()})
        if plan.salt:
            from ascld.measures.salt import salt_sql

            statements.update(
                {f"salt_{k}": v for k, v in salt_sql(period=_salt_period(plan), dialect=dialect).items()}
            )
        if plan.dashboard:
            from ascld.measures.dashboard.sql import dashboard_sql

            statements.update({f"dashboard_{k}": v for k, v in dashboard_sql(plan.period[1], dialect).items()})
        for name, sql in statements.items():
            stem = "".join(ch if ch.isalnum() else "_" for ch in name).strip("_").lower()
            path = folder / f"{stem}.sql"
            path.write_text(sql.rstrip() + ";\n", encoding="utf-8")
            out[f"sql:{dialect}:{stem}"] = path
    return out


# --------------------------------------------------------------------------------------------------
# National mode


def run_measures_national(
    source: str | Path | None = None,
    *,
    period: Sequence[Any],
    out_dir: str | Path,
    main_tables: str | Path | None = None,
    store: str | Path | None = None,
    as_of: Any = None,
    engine: str = "duckdb",
    populations: str | Path | pa.Table | None = None,
    discharges: str | Path | pa.Table | None = None,
    la_lookup: str | Path | pa.Table | None = None,
    lsoa_lookup: str | Path | pa.Table | None = None,
    ascof: Iterable[str] | None = None,
    salt: bool = True,
    disclosure: bool = True,
    rules: Any = None,
    emit_sql: Sequence[str] = (),
    work_dir: str | Path | None = None,
    engine_options: dict[str, Any] | None = None,
    dashboard: bool = False,
) -> MeasuresRun:
    """ASCOF (from the joined main table) and SALT (from the raw store) for every council and England.

    Args:
        source: a main tables folder (or the joined main table's Parquet file) or a national store folder;
            what it is is detected (a store has `_store.json`). `main_tables=` and `store=` name them
            explicitly; give both for ASCOF and SALT without rebuilding.
        period: the latest 12-month period `(start, end)`; ASCOF also runs the previous (revised) period.
        out_dir: the output folder (created).
        main_tables: the joined main table (folder or file). Without it but with a store, the joined table
            is built from the store into a temporary folder (needs `as_of`) and deleted afterwards.
        store: the national store (for SALT, and to build the main table if needed).
        as_of: ignore files imported after this date when building; also SALT's "today".
        engine: "duckdb" or "spark".
        populations, discharges, la_lookup, lsoa_lookup: ASCOF inputs (docs/measures-ascof.md). Discharges
            in the generator's layout (NHS numbers in clear) are pseudonymised under the store's key
            (ASCLD_PSEUDO_KEY / ASCLD_PSEUDO_KEY_FILE).
        ascof: ASCOF families to run (default all: "2A", "2BC", "2D", "2E", "3D").
        salt: run SALT (needs the store).
        disclosure: apply disclosure control (default). False is for internal use only; the manifest says so.
        rules: disclosure rules (default `load_disclosure_rules()`).
        emit_sql: also write the ASCOF and SALT SQL (and the dashboard's, with `dashboard`) in these dialects
            ("mssql", "pyspark", "duckdb").
        work_dir: scratch folder for building the main table.
        engine_options: settings for the connection the measures run on (DuckDB: `memory_limit`,
            `threads`, `temp_directory`), e.g. to keep a national run within a memory budget.
        dashboard: also build the DHSC LA dashboard tables and waiting-time medians
            (docs/measures-dashboard.md): from the `*SingleSubmissions*` and joined tables in `main_tables`,
            or built from the store (needs `as_of`); DQ values from the store's DQ codes.

    Returns:
        The MeasuresRun.

    Raises:
        UsageError: missing or inconsistent inputs (the message says what to pass).
    """
    start, end = _period(period)
    as_of_date = _as_date(as_of, "--as-of") if as_of is not None else None
    if source is not None:
        path = Path(source)
        if not path.exists():
            raise UsageError(f"no such file or folder: {path}")
        if (path / "_store.json").is_file():
            store = store or path
        else:
            main_tables = main_tables or path
    for what, p in (("--main-tables", main_tables), ("--store", store)):
        if p is not None and not Path(p).exists():
            raise UsageError(f"{what}: no such file or folder: {p}")
    if main_tables is None and store is None:
        raise UsageError(
            "national mode needs the joined main table (--main-tables) and/or the store (--store)."
        )
    population_table, la_lookup_table, lsoa_lookup_table = _read_references(populations, la_lookup, lsoa_lookup)
    inputs: list[dict[str, Any] | None] = []
    notes: list[str] = []
    warnings: list[str] = []
    tmp: Path | None = None
    try:
        if main_tables is not None:
            main_path = _main_table_in(Path(main_tables))
            inputs.append(_input("main_table", main_path))
            if ascof is None or list(ascof):
                warnings.extend(_coverage_warnings(main_path, (start, end)))
        elif ascof is None or list(ascof):
            if as_of_date is None:
                raise UsageError("building the main table from the store needs --as-of YYYY-MM-DD.")
            tmp = _scratch("ascld-measures-", work_dir)
            main_path = _build_joined(
                Path(store), (start, end), as_of_date, engine, tmp, work_dir, warnings  # type: ignore[arg-type]
            )
            notes.append("the joined main table was built from the store for this run and then deleted")
        else:
            main_path = None
        single_path = waiting_path = None
        if dashboard:
            single_path, waiting_path, tmp = _dashboard_tables(
                main_tables, store, main_path, (start, end), as_of_date, engine, tmp, work_dir, notes, warnings
            )
            if single_path is not None and main_tables is not None:
                inputs.append(_input("single_main_table", single_path))
        if store is not None:
            inputs.append(_store_input(Path(store)))
        for role, value in (
            ("populations", populations),
            ("discharges", discharges),
            ("la_lookup", la_lookup),
            ("lsoa_lookup", lsoa_lookup),
        ):
            if isinstance(value, str | Path):
                inputs.append(_input(role, value))  # type: ignore[arg-type]
        plan = _Plan(
            mode="national",
            period=(start, end),
            as_of=as_of_date,
            engine=engine,
            main_table=main_path,
            store=Path(store) if store is not None else None,
            populations=population_table,
            discharges=_load_discharges(discharges, _store_pseudonymiser),
            la_lookup=la_lookup_table,
            lsoa_lookup=lsoa_lookup_table,
            ascof=list(ascof) if ascof is not None else None,
            salt=salt,
            disclosure=disclosure,
            rules=rules,
            out_dir=Path(out_dir),
            emit_sql=tuple(emit_sql),
            inputs=[i for i in inputs if i],
            notes=notes,
            warnings=warnings,
            title="Adult social care measures: England",
            engine_options=dict(engine_options or {}),
            dashboard=dashboard,
            single_table=single_path,
            waiting_table=waiting_path,
        )
        return _run(plan)
    finally:
        if tmp is not None:
            shutil.rmtree(tmp, ignore_errors=True)


def _dashboard_tables(
    main_tables: Any,
    store: Any,
    main_path: Path | None,
    period: tuple[dt.date, dt.date],
    as_of: dt.date | None,
    engine: str,
    tmp: Path | None,
    work_dir: Any,
    notes: list[str],
    warnings: list[str],
) -> tuple[Path | None, Path | None, Path | None]:
    """(single table, joined table for waiting times, scratch folder) for `--dashboard` in national mode.

    Given main tables are used as they are (the single table beside the joined one); what is missing is built
    from the store into the scratch folder.
    """
    from ascld.measures.dashboard.step import build_dashboard_main_tables, single_table_in

    single = single_table_in(Path(main_tables)) if main_tables is not None else None
    waiting = main_path if main_tables is not None else None
    if (single is None or waiting is None) and store is not None:
        if as_of is None:
            raise UsageError("building the dashboard's main tables from the store needs --as-of YYYY-MM-DD.")
        tmp = tmp or _scratch("ascld-measures-", work_dir)
        built_single, built_joined = build_dashboard_main_tables(
            Path(store), period, as_of, engine, tmp / "dashboard", work_dir,
            single=single is None, joined=waiting is None, warnings=warnings,
        )
        single, waiting = single or built_single, waiting or built_joined
        notes.append("the dashboard's main tables were built from the store for this run and then deleted")
    if single is None:
        raise UsageError(
            "--dashboard needs the single-submissions main table (*SingleSubmissions*.parquet beside the joined "
            "one in --main-tables; build it with `ascld national build --mode single`) or --store and --as-of."
        )
    return single, waiting, tmp


def _scratch(prefix: str, work_dir: str | Path | None) -> Path:
    """A new scratch folder inside `work_dir` (created if need be) or the system temporary folder."""
    if work_dir is not None:
        Path(work_dir).mkdir(parents=True, exist_ok=True)
    return Path(tempfile.mkdtemp(prefix=prefix, dir=work_dir))


def _engine_settings(con: Any, engine: str) -> dict[str, Any]:
    """The DuckDB settings the measures ran under, as DuckDB reports them (for the manifest); {} for Spark."""
    if engine != "duckdb":
        return {}
    memory, threads, temp = con.con.execute(
        "SELECT current_setting('memory_limit'), current_setting('threads'), current_setting('temp_directory')"
    ).fetchone()
    return {"memory_limit": memory, "threads": int(threads), "temp_directory": temp}


def _store_input(store: Path) -> dict[str, Any]:
    if (store / "_store.json").is_file():
        from ascld.national.store import NationalStore

        imports = NationalStore(store).imports()
        return {
            "role": "store",
            "path": str(store),
            "imports": [
                {"import_id": r.import_id, "la_code": r.la_code, "file": r.load_file_name, "sha256": r.sha256}
                for r in imports
            ],
        }
    return _input("store", store) or {}


def _build_joined(
    store: Path,
    period: tuple[dt.date, dt.date],
    as_of: dt.date,
    engine: str,
    out: Path,
    work_dir: Any,
    warnings: list[str],
) -> Path:
    """Build the joined main table ASCOF needs (every period it runs, 2D's lagged ones included); the build's
    warnings (councils with no qualifying file for a reference period) are added to `warnings`."""
    from ascld.measures.ascof import ascof_periods
    from ascld.national.main_tables import BuildParams, build_main_tables

    periods = ascof_periods(period)
    first = min(p.start for p in (periods.latest, periods.previous, periods.latest_2d, periods.previous_2d))
    params = BuildParams("joined", first, period[1], as_of=as_of)
    result = build_main_tables(
        store, params, engine=engine, out_dir=out, work_dir=work_dir, hash_inputs=False
    )
    warnings.extend(main_table_warnings("joined", result.warnings))
    return Path(result.outputs["main_table"])


def _coverage_warnings(main_path: Path, period: tuple[dt.date, dt.date]) -> list[str]:
    """A given joined main table whose reference periods do not reach the ASCOF periods (ascof.md §0.1: the
    table must hold the history the periods need): the events outside it are missing, so the figures are
    partial. The table's own range is MIN/MAX of its rows' reference periods."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from ascld.measures.ascof import ascof_periods

    periods = ascof_periods(period)
    need = (min(p.start for p in (periods.latest, periods.previous, periods.latest_2d, periods.previous_2d)),
            period[1])
    columns = ["Ref_Period_Start_Date", "Ref_Period_End_Date"]
    if not set(columns) <= set(pq.read_schema(main_path).names if main_path.is_file() else
                               pq.ParquetDataset(main_path).schema.names):
        return []  # a table without them (ASCOF reads only the end date): its range cannot be told
    table = pq.read_table(main_path, columns=columns)
    first, last = pc.min(table.column(0)).as_py(), pc.max(table.column(1)).as_py()
    if first is None or last is None:
        return ["ASCOF: the joined main table given holds no rows; every figure is 0 or missing"]
    if first <= need[0] and last >= need[1]:
        return []
    return [
        f"ASCOF: the joined main table given holds reference periods {first.isoformat()} to {last.isoformat()}; "
        f"this run's ASCOF periods need {need[0].isoformat()} to {need[1].isoformat()}, so figures of periods "
        "reaching outside the table count no events from there. Build the joined table for "
        f"{need[0].isoformat()}:{need[1].isoformat()} if the store has returns for it"
    ]


def main_table_warnings(mode: str, build_warnings: Iterable[str]) -> list[str]:
    """A main-table build's warnings as the measures report them: a council with no qualifying file for a
    reference period has no events from it, so its figures there are missing (or 0), not measured."""
    return [
        f"{mode} main table built for this run: {w} (no events of theirs from that period are counted)"
        for w in build_warnings
    ]


# --------------------------------------------------------------------------------------------------
# Council mode


def _stated(path: Path) -> tuple[str | None, dt.date | None]:
    """(LA code, stated reporting period end) of a return, from its first rows; None where unreadable."""
    opener = gzip.open if path.suffix.lower() == ".gz" else open
    try:
        with opener(path, "rt", encoding="cp1252", newline="") as fh:  # type: ignore[operator]
            reader = csv.reader(fh)
            header = [h.strip().casefold() for h in next(reader)]
            i, c = header.index("reporting period end date"), header.index("la code")
            code = None
            for n, row in enumerate(reader):
                if n > 1000:
                    break
                if c < len(row) and row[c].strip() and code is None:
                    code = row[c].strip()
                if i < len(row):
                    try:
                        return code, dt.datetime.strptime(row[i].strip(), "%d/%m/%Y").date()
                    except ValueError:
                        continue
            return code, None
    except (OSError, StopIteration, ValueError, UnicodeDecodeError):
        return None, None


def run_measures_council(
    return_paths: Sequence[str | Path],
    *,
    period: Sequence[Any],
    out_dir: str | Path,
    engine: str = "duckdb",
    as_of: Any = None,
    la_name: str | None = None,
    index: str | Path | None = None,
    populations: str | Path | pa.Table | None = None,
    discharges: str | Path | pa.Table | None = None,
    la_lookup: str | Path | pa.Table | None = None,
    lsoa_lookup: str | Path | pa.Table | None = None,
    ascof: Iterable[str] | None = None,
    salt: bool = True,
    disclosure: bool = True,
    rules: Any = None,
    emit_sql: Sequence[str] = (),
    work_dir: str | Path | None = None,
    engine_options: dict[str, Any] | None = None,
    dashboard: bool = False,
) -> MeasuresRun:
    """ASCOF and SALT for one council from its own return files, by the national code path.

    The returns are ingested (validated, pseudonymised) into a temporary store under an ephemeral random key
    generated in memory; each file counts as imported the day after its stated period end (files for the
    same period in the order given, one second apart). The joined main table is built from that store as
    nationally, and the same `_run` computes, controls and writes the measures. The temporary store, main
    table and key are discarded at the end.

    Args:
        return_paths: the council's CLD return files (CSV as submitted), all for one council.
        period: the latest 12-month period `(start, end)`.
        out_dir: the output folder (created).
        engine: "duckdb" or "spark".
        as_of: ignore returns imported after this date (default: the last import date).
        la_name: the council's name in outputs (default: from `la_lookup`, else the code).
        index: a demographic index to trace NHS numbers against (optional; without it NHS numbers are
            untraced, and ASCOF 2D cannot link hospital spells).
        populations, discharges, la_lookup, lsoa_lookup: ASCOF inputs, as nationally. Discharges must carry
            NHS numbers in clear (the generator's `hospital_spells` layout): they are pseudonymised with the
            run's ephemeral key. The LA lookup is cut down to the council in the returns.
        ascof, salt, disclosure, rules, emit_sql, work_dir, engine_options, dashboard: as
            `run_measures_national` (the dashboard's main tables are built from the temporary store).

    Returns:
        The MeasuresRun.

    Raises:
        UsageError: no files, a missing file, or returns from more than one council.
        UnusableInput: a return could not be used (its validation report is named, never its values).
    """
    from ascld.identity.pseudonym import PseudoKey, Pseudonymiser
    from ascld.national.ingest import ingest_files
    from ascld.national.store import NationalStore

    start, end = _period(period)
    paths = [Path(p) for p in return_paths]
    if not paths:
        raise UsageError("council mode needs at least one return file.")
    missing = [str(p) for p in paths if not p.is_file()]
    if missing:
        raise UsageError(f"no such file: {', '.join(missing)}")
    for what, p in (
        ("--index", index),
        ("--populations", populations),
        ("--discharges", discharges),
        ("--la-lookup", la_lookup),
        ("--lsoa-lookup", lsoa_lookup),
    ):
        if isinstance(p, str | Path) and not Path(p).is_file():
            raise UsageError(f"{what}: no such file: {p}")
    key = PseudoKey(secrets.token_bytes(32), "ephemeral (council mode)")
    pseudonymiser = Pseudonymiser(key)

    import_dates: dict[Path, dt.datetime] = {}
    seen: dict[dt.date, int] = {}
    file_codes: set[str] = set()
    for p in paths:
        code, stated = _stated(p)
        if code:
            file_codes.add(code)
        stated = stated or end
        n = seen.get(stated, 0)
        seen[stated] = n + 1
        import_dates[p] = dt.datetime.combine(stated + dt.timedelta(days=1), dt.time(9, 0)) + dt.timedelta(
            seconds=n
        )
    as_of_date = _as_date(as_of, "--as-of") if as_of is not None else max(import_dates.values()).date()

    population_table, lookup, lsoa_lookup_table = _read_references(populations, la_lookup, lsoa_lookup)
    names = (
        dict(zip(lookup.column("LA_Code").to_pylist(), lookup.column("LA_Name").to_pylist(), strict=True))
        if lookup is not None
        else {}
    )
    if la_name:
        names.update(dict.fromkeys(file_codes, la_name))

    tmp = _scratch("ascld-council-", work_dir)
    try:
        store_dir = tmp / "store"
        store = NationalStore(store_dir)
        codes_seen = _ingest_council(paths, store, key, import_dates, index, names, tmp, ingest_files)
        if len(codes_seen) > 1:
            raise UsageError(
                f"council mode: the returns are from {len(codes_seen)} councils "
                f"({', '.join(sorted(codes_seen))}); give one council's returns."
            )
        if lookup is not None:
            import pyarrow.compute as pc

            lookup = lookup.filter(
                pc.is_in(lookup.column("LA_Code"), pa.array(sorted(codes_seen), pa.string()))
            )
            if la_name:
                lookup = lookup.set_column(
                    lookup.column_names.index("LA_Name"), "LA_Name", pa.array([la_name] * lookup.num_rows)
                )
        main_path = None
        warnings: list[str] = []
        if ascof is None or list(ascof):
            main_path = _build_joined(
                store_dir, (start, end), as_of_date, engine, tmp / "main", work_dir, warnings
            )
        single_path = waiting_path = None
        if dashboard:
            from ascld.measures.dashboard.step import build_dashboard_main_tables

            single_path, waiting_path = build_dashboard_main_tables(
                store_dir, (start, end), as_of_date, engine, tmp / "dashboard", work_dir, warnings=warnings
            )
        inputs = [_input("return", p) for p in paths]
        for role, value in (
            ("index", index),
            ("populations", populations),
            ("discharges", discharges),
            ("la_lookup", la_lookup),
            ("lsoa_lookup", lsoa_lookup),
        ):
            if isinstance(value, str | Path):
                inputs.append(_input(role, value))
        council = (
            la_name
            or (names.get(next(iter(codes_seen))) if codes_seen else None)
            or (next(iter(codes_seen)) if codes_seen else "council")
        )
        plan = _Plan(
            mode="council",
            period=(start, end),
            as_of=as_of_date,
            engine=engine,
            main_table=main_path,
            store=store_dir,
            populations=population_table,
            discharges=_load_discharges(discharges, lambda: pseudonymiser),
            la_lookup=lookup,
            lsoa_lookup=lsoa_lookup_table,
            ascof=list(ascof) if ascof is not None else None,
            salt=salt,
            disclosure=disclosure,
            rules=rules,
            out_dir=Path(out_dir),
            emit_sql=tuple(emit_sql),
            inputs=[i for i in inputs if i],
            notes=[
                EPHEMERAL_KEY_NOTE,
                "each return counts as imported the day after its stated period end",
            ],
            warnings=warnings,
            title=f"Adult social care measures: {council}",
            engine_options=dict(engine_options or {}),
            dashboard=dashboard,
            single_table=single_path,
            waiting_table=waiting_path,
        )
        return _run(plan)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _ingest_council(
    paths: list[Path],
    store: Any,
    key: Any,
    import_dates: dict[Path, dt.datetime],
    index: Any,
    names: dict[str, str],
    tmp: Path,
    ingest_files: Any,
) -> set[str]:
    codes: set[str] = set()
    for p in paths:
        report = ingest_files(
            [p],
            store,
            key=key,
            import_date=import_dates[p],
            index=index,
            la_names=names,
            report_dir=None,  # a report in the scratch folder would be deleted before the user could read it
        )
        outcome = report.outcomes[0]
        if outcome.status == "refused":
            raise UnusableInput(
                f"{p.name}: the return cannot be used ({outcome.message}). Run `ascld validate {p}` for the "
                "full report."
            )
    for rec in store.imports():
        codes.add(rec.la_code)
    return codes
