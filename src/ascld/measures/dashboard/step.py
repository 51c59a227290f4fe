"""The dashboard step of `ascld measures` (`--dashboard`): compute, write the tables, return the median rows.

Called by `ascld.measures.run` with the run's engine connection. Tables go to `OUT/dashboard/` as Parquet
(person-level fact tables: internal outputs with pseudonymised IDs only) and the aggregate and dimension
tables also as CSV; the waiting-time medians also join the tidy `measures.csv` after disclosure control.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from ascld.measures.dashboard import reference as ref
from ascld.measures.dashboard.pipeline import compute_dashboard

FOLDER = "dashboard"
INTERNAL_NOTE = (
    "dashboard/ holds the dashboard tables for internal use only: the fact tables and waiting-time links are "
    "person level (pseudonymised IDs) and no table there is disclosure-controlled; the waiting-time medians "
    "for release are the Dashboard WT1/WT2 rows of measures.csv"
)


@dataclass(frozen=True)
class DashboardStep:
    """Rows (tidy, uncontrolled), written files (output name -> path), what was left out, notes for the
    manifest and row counts per table."""

    rows: list[dict[str, Any]]
    outputs: dict[str, Path]
    skipped: list[str]
    notes: list[str]
    counts: dict[str, int]


def dq_codes_from_store(con: Any, store: Path | None) -> Any:
    """The national store's per-record DQ codes as a table on `con`, or None (no store or no codes)."""
    if store is None or not (Path(store) / "_store.json").is_file():
        return None
    from ascld.national.store import NationalStore

    s = NationalStore(Path(store))
    files = s.dq_files()
    if not files:
        return None
    return s.table(con, dq=True)


def run_dashboard_step(
    con: Any,
    *,
    single: Path | None,
    joined: Path | None,
    store: Path | None,
    period: tuple[dt.date, dt.date],
    la_lookup: Any,
    out_dir: Path,
    refresh_date: dt.date | None = None,
) -> DashboardStep:
    """Compute the dashboard tables from the run's main tables and store and write them under `out_dir`."""
    if single is None:
        return DashboardStep([], {}, ["dashboard: no single-submissions main table given"], [], {})
    lookup = _lookup(la_lookup)
    result = compute_dashboard(
        single,
        joined,
        period=period,
        dq=dq_codes_from_store(con, store),
        la_lookup=lookup,
        refresh_date=refresh_date,
        engine=con,
    )
    folder = out_dir / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    names = ref.table_names()
    outputs: dict[str, Path] = {}
    counts: dict[str, int] = {}
    for key, table in result.tables.items():
        name, level = names[key]
        path = folder / f"{name}.parquet"
        pq.write_table(table, path)
        outputs[f"dashboard:{name}"] = path
        counts[name] = table.num_rows
        if level != "person":
            csv_path = folder / f"{name}.csv"
            pacsv.write_csv(table, csv_path)
            outputs[f"dashboard:{name}.csv"] = csv_path
    skipped = [f"dashboard: {n}" for n in result.notes]
    return DashboardStep(result.rows, outputs, skipped, [INTERNAL_NOTE], counts)


def _lookup(la_lookup: Any) -> pa.Table | None:
    if la_lookup is None:
        return None
    from ascld.measures.ascof import read_la_lookup

    return read_la_lookup(la_lookup)


def single_table_in(folder: Path) -> Path | None:
    """The single-submissions main table in a main-tables folder, or None (several found: UsageError)."""
    from ascld.errors import UsageError

    if folder.is_file():
        return folder if "singlesubmissions" in folder.name.casefold() else None
    found = sorted(folder.glob("*SingleSubmissions*.parquet"))
    if len(found) > 1:
        raise UsageError(f"{len(found)} single-submissions main tables in {folder}; keep one for --dashboard.")
    return found[0] if found else None


def build_dashboard_main_tables(
    store: Path,
    period: tuple[dt.date, dt.date],
    as_of: dt.date,
    engine: str,
    out: Path,
    work_dir: Any = None,
    *,
    single: bool = True,
    joined: bool = True,
    warnings: list[str] | None = None,
) -> tuple[Path | None, Path | None]:
    """Build the main tables the dashboard reads from a store: the single-submissions table of the 12-month
    period, and the joined table from the waiting times' first date (2023-04-01) to the period end. The
    builds' warnings (councils with no qualifying file for a period) are added to `warnings` when given.

    Returns:
        (single table path, joined table path); None for one not asked for.
    """
    from ascld.national.main_tables import BuildParams, build_main_tables

    paths: list[Path | None] = []
    for mode, wanted, start in (
        ("single", single, period[0]),
        ("joined", joined, min(ref.parameter_date("wt_start_date"), period[0])),
    ):
        if not wanted:
            paths.append(None)
            continue
        params = BuildParams(mode, start, period[1], as_of=as_of)
        result = build_main_tables(
            store, params, engine=engine, out_dir=out / mode, work_dir=work_dir, hash_inputs=False
        )
        if warnings is not None:
            from ascld.measures.run import main_table_warnings

            warnings.extend(w for w in main_table_warnings(mode, result.warnings) if w not in warnings)
        paths.append(Path(result.outputs["main_table"]))
    return paths[0], paths[1]
