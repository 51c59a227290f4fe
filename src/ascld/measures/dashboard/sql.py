"""Emit the dashboard steps as SQL (T-SQL, Spark SQL, DuckDB) for councils or analysts who run SQL themselves.

Each step reads named tables, in the source's numbered order: `single_table` and `joined_table` (the main-table
columns of `DASHBOARD_COLUMNS`), `dq_codes` (`Der_Unique_Record_ID`, `cond_<Field>`, `chk_<Field>`), and the
outputs of earlier steps under their step names (`master_table`, `services_fact`, `waiting_time_events`,
`waiting_time_links`). The calendar depends only on the period and is not emitted (ascld writes it as a table).
For T-SQL, values are not canonicalised: the case-insensitive collation already groups `Male` with `male`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

import ibis

from ascld.engine import to_sql
from ascld.measures.dashboard import reference as ref
from ascld.measures.dashboard.dq import build_dq_values
from ascld.measures.dashboard.facts import (
    EVENT_FACTS,
    build_costs_fact,
    build_event_fact,
    build_master_table,
    build_services_fact,
    costs_quarter,
)
from ascld.measures.dashboard.inputs import DASHBOARD_COLUMNS
from ascld.measures.dashboard.waiting import (
    waiting_time_context,
    waiting_time_events,
    waiting_time_links,
    waiting_time_medians,
)

_ARROW_TO_IBIS = {"string": "string", "date32[day]": "date", "double": "float64", "int32": "int32"}


def _schema(drop: Sequence[str] = ()) -> dict[str, str]:
    out = {}
    for name, kind in DASHBOARD_COLUMNS.items():
        if name in drop:
            continue
        text = str(kind)
        out[name] = "timestamp" if text.startswith("timestamp") else _ARROW_TO_IBIS.get(text, "int64")
    return out


def _dq_schema() -> dict[str, str]:
    schema = {"Der_Unique_Record_ID": "int64"}
    for row in ref.dq_fields():
        schema[f"cond_{row['field']}"] = "int16"
        schema[f"chk_{row['field']}"] = "int16"
    return schema


def dashboard_steps(period_end: Any, *, dialect: str = "duckdb") -> dict[str, ibis.Table]:
    """The dashboard steps as unbound Ibis expressions over the named input and step tables."""
    end = period_end if isinstance(period_end, dt.date) else dt.date.fromisoformat(str(period_end))
    single = ibis.table(_schema(), name="single_table")
    master_expr = build_master_table(single, canonicalise=dialect != "mssql")
    master = ibis.table(master_expr.schema(), name="master_table")
    services_expr = build_services_fact(master)
    services = ibis.table(services_expr.schema(), name="services_fact")
    steps: dict[str, ibis.Table] = {"master_table": master_expr, "services_fact": services_expr}
    for fact in EVENT_FACTS:
        steps[f"{fact}_fact"] = build_event_fact(master, services, fact)
    steps["costs_fact"] = build_costs_fact(services, costs_quarter(end))
    steps["dq_values"] = build_dq_values(master, ibis.table(_dq_schema(), name="dq_codes"))
    joined = ibis.table(_schema(drop=("Unit_Cost", "Planned_Units_Per_Week")), name="joined_table")
    events_expr = waiting_time_events(joined)
    events = ibis.table(events_expr.schema(), name="waiting_time_events")
    links_expr = waiting_time_links(events)
    links = ibis.table(links_expr.schema(), name="waiting_time_links")
    steps["waiting_time_events"] = events_expr
    steps["waiting_time_links"] = links_expr
    steps["waiting_time_medians"] = waiting_time_medians(links)
    steps["waiting_time_context"] = waiting_time_context(events)
    return steps


def dashboard_sql(period_end: Any, dialect: str = "mssql") -> dict[str, str]:
    """SQL for every dashboard step in one dialect ("mssql", "pyspark", "duckdb", ...).

    Examples:
        >>> sql = dashboard_sql("2026-03-31", "duckdb")
        >>> "single_table" in sql["master_table"] and "joined_table" in sql["waiting_time_events"]
        True
    """
    if dialect == "pyspark":
        ibis.pyspark  # noqa: B018 - loading the backend registers the options its compiler reads
    return {name: to_sql(expr, dialect) for name, expr in dashboard_steps(period_end, dialect=dialect).items()}
