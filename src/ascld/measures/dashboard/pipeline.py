"""Build every dashboard table and the waiting-time medians, and put the medians in the tidy measure layout.

`compute_dashboard` runs the steps in the source's numbered order (master table, facts, dimensions, DQ
values; then waiting times from the joined table) on one engine connection and returns Arrow tables. The
waiting-time medians are the only figures published from here: `waiting_time_rows` gives them in the tidy
layout (`ascld.measures.output.MEASURE_COLUMNS`) and `control_waiting_time_rows` puts them through the
release rules. Everything else is an internal output (docs/measures-dashboard.md).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ibis.expr.types as ir
import pandas as pd
import pyarrow as pa

from ascld.engine import connect, run_step
from ascld.errors import UsageError
from ascld.measures.ascof.common import engine_stage, format_d_mmm_yy, no_stage
from ascld.measures.ascof.inputs import table_on
from ascld.measures.dashboard import reference as ref
from ascld.measures.dashboard.dimensions import (
    DISTINCT_DIMENSIONS,
    build_age_bands,
    build_calendar,
    build_distinct_dimension,
    build_geography,
)
from ascld.measures.dashboard.dq import build_dq_values, dq_fields_present
from ascld.measures.dashboard.facts import (
    EVENT_FACTS,
    build_costs_fact,
    build_event_fact,
    build_master_table,
    build_services_fact,
    costs_quarter,
)
from ascld.measures.dashboard.inputs import prepare_main_table
from ascld.measures.dashboard.waiting import (
    waiting_time_context,
    waiting_time_events,
    waiting_time_links,
    waiting_time_medians,
)
from ascld.measures.output import MEASURE_COLUMNS

BREAKDOWN = "Age band"


@dataclass(frozen=True)
class DashboardResult:
    """What `compute_dashboard` produced.

    Attributes:
        tables: output key (`dashboard_tables.csv`) -> Arrow table.
        rows: the waiting-time medians in the tidy measure layout, before disclosure control.
        notes: what was left out and why (e.g. no DQ codes, no joined table).
    """

    tables: dict[str, pa.Table]
    rows: list[dict[str, Any]]
    notes: tuple[str, ...] = field(default=())

    def names(self) -> dict[str, str]:
        """Output key -> the table's name (e.g. `LA_PBI_Requests_Fact`)."""
        names = ref.table_names()
        return {key: names[key][0] for key in self.tables}


def _as_table(con: Any, value: Any, what: str) -> ir.Table | None:
    if value is None:
        return None
    if isinstance(value, ir.Table):
        return value
    if isinstance(value, pa.Table):
        # On Spark a registered view (stages compile expressions to SQL themselves, which does not register
        # in-memory tables), loaded from Arrow: an Ibis memtable goes through pandas there, which cannot take a
        # decimal column with NULLs (the main tables' Unit_Cost).
        return table_on(con, value, "dashboard_input")
    path = Path(value)
    if not path.exists():
        raise UsageError(f"{what}: no such file or folder: {path}")
    return con.read_parquet(str(path))


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise UsageError(f"{value!r} is not a date. Use YYYY-MM-DD.") from None


def compute_dashboard(
    single: Any,
    joined: Any = None,
    *,
    period: Sequence[Any],
    dq: Any = None,
    la_lookup: pa.Table | None = None,
    refresh_date: Any = None,
    engine: Any = None,
    all_waiting_periods: bool = False,
) -> DashboardResult:
    """The DHSC LA dashboard tables and waiting-time medians (dashboard.md).

    Args:
        single: the single-submissions main table of the 12-month period (Ibis table, Arrow table or Parquet
            path).
        joined: the joined main table (from 2023-04-01) for the waiting times; None leaves them out.
        period: the 12-month period `(start, end)`; the costs use its last 3 months.
        dq: the validator's per-record codes (`Der_Unique_Record_ID`, `cond_<Field>`, `chk_<Field>`), e.g.
            `NationalStore.table(con, dq=True)`; None leaves the DQ values table out.
        la_lookup: LA lookup with `LA_Code`, `LA_Name`, `Region` for the geography dimension.
        refresh_date: the calendar's `Refresh_Date` (default today).
        engine: an Ibis connection or an engine name (default DuckDB).
        all_waiting_periods: also report medians for statistical periods before 2024-04-01.

    Returns:
        The DashboardResult.

    Raises:
        UsageError: a bad period or a missing file.
        UnusableInput: a main table lacks a column the dashboard reads.
    """
    if len(period) != 2:
        raise UsageError("period: give (start, end), e.g. ('2025-04-01', '2026-03-31').")
    start, end = _as_date(period[0]), _as_date(period[1])
    refresh = _as_date(refresh_date) if refresh_date is not None else dt.date.today()
    con = engine if engine is not None and not isinstance(engine, str) else connect(engine)
    name = getattr(con, "name", "duckdb")
    stage: Callable[[ir.Table, str], ir.Table] = engine_stage(con) if hasattr(con, "create_table") else no_stage
    names = ref.table_names()
    tables: dict[str, pa.Table] = {}
    notes: list[str] = []

    def out(key: str, expr: Any) -> None:
        tables[key] = run_step(names[key][0], name, lambda: con.to_pyarrow(expr))

    single_t = _as_table(con, single, "single main table")
    single_t = prepare_main_table(single_t, "single main table")
    master = stage(build_master_table(single_t), "dashboard_master")
    services = stage(build_services_fact(master), "dashboard_services")
    out("master", master)
    out("services", services)
    for fact in EVENT_FACTS:
        out(fact, build_event_fact(master, services, fact))
    out("costs", build_costs_fact(services, costs_quarter(end)))
    tables["calendar"] = build_calendar((start, end), refresh)
    tables["geography"] = run_step("geography", name, lambda: build_geography(master, la_lookup))
    for key, column in DISTINCT_DIMENSIONS.items():
        out(key, build_distinct_dimension(master, column))
    out("age_band", build_age_bands(master))

    dq_t = _as_table(con, dq, "DQ codes")
    if dq_t is None:
        notes.append("DQ values: no per-record DQ codes given (they are kept in the national store)")
    else:
        present, missing = dq_fields_present(dq_t)
        if not present:
            notes.append("DQ values: the DQ codes table has no cond_/chk_ columns of the dashboard's fields")
        else:
            if missing:
                notes.append(f"DQ values: no codes for {len(missing)} field(s): {', '.join(missing)}")
            out("dq_values", build_dq_values(master, dq_t))

    rows: list[dict[str, Any]] = []
    joined_t = _as_table(con, joined, "joined main table")
    if joined_t is None:
        notes.append("waiting times: no joined main table given")
    else:
        joined_t = prepare_main_table(joined_t, "joined main table", costs=False)
        first = run_step("waiting times", name, lambda: con.execute(joined_t.Ref_Period_Start_Date.min()))
        wt_start = ref.parameter_date("wt_start_date")
        if first is not None and not pd.isna(first) and _as_date(first) > wt_start:  # Spark gives NaT for none
            notes.append(
                f"waiting times: the joined main table's first reference period starts on "
                f"{_as_date(first).isoformat()}, after "
                f"{wt_start.isoformat()}; earlier requests, and services the new-client test looks back to, are "
                "missing (build the joined table from that date)"
            )
        event_set = stage(waiting_time_events(joined_t), "dashboard_wt_events")
        links = stage(waiting_time_links(event_set), "dashboard_wt_links")
        out("waiting_links", links)
        out("waiting_medians", waiting_time_medians(links, all_periods=all_waiting_periods))
        out("waiting_context", waiting_time_context(event_set))
        rows = waiting_time_rows(tables["waiting_medians"])
    return DashboardResult(tables, rows, tuple(notes))


def waiting_time_rows(medians: pa.Table) -> list[dict[str, Any]]:
    """The medians table (`waiting_time_medians`) in the tidy measure layout.

    `numerator` is the number of waits, `denominator` empty, `value` the median in days; the breakdown is the
    age band, the reporting period the statistical quarter.
    """
    info = {m["id"]: m for m in ref.measures()}
    rows = []
    for r in medians.to_pylist():
        m = info[r["Metric"]]
        start, end = r["Period_Start"], r["Period_End"]
        row = dict.fromkeys(MEASURE_COLUMNS)
        row.update(
            measure=m["measure"],
            description=m["description"],
            reporting_period=f"{format_d_mmm_yy(start)} - {format_d_mmm_yy(end)}",
            period_start=start.isoformat(),
            period_end=end.isoformat(),
            la_code=r["LA_Code"],
            la_name=r["LA_Name"],
            breakdown=BREAKDOWN,
            group=r["Age_Band"],
            numerator=int(r["Number_Of_Waiting_Times_Identified"]),
            denominator=None,
            value=float(r["Median_Waiting_Time"]),
            disclosure_flag="",
        )
        rows.append(row)
    return rows


def control_waiting_time_rows(rows: list[dict[str, Any]], rules: Any = None) -> list[dict[str, Any]]:
    """Disclosure control for the median rows, by the release rules (default: `load_disclosure_rules()`):
    the number of waits is controlled as any count (DC01 suppresses 1-7, DC02 rounds council counts to 5),
    and the median is published as computed unless that count is suppressed (DC11, DC12: `*` then)."""
    from ascld.release import apply_disclosure_control

    if not rows:
        return []
    controlled = apply_disclosure_control(pd.DataFrame(rows, columns=list(MEASURE_COLUMNS)), rules)
    return [{c: r[c] for c in MEASURE_COLUMNS} for r in controlled.to_dict("records")]
