"""The DHSC CLD LA dashboard tables and the waiting-times method (methodology dashboard.md).

Re-exports only: the master table and facts live in `facts`, dimensions in `dimensions`, DQ values in `dq`,
waiting times in `waiting`, the whole run in `pipeline` and the `ascld measures --dashboard` step in `step`.
"""

from ascld.measures.dashboard.dimensions import (
    build_age_bands,
    build_calendar,
    build_distinct_dimension,
    build_geography,
)
from ascld.measures.dashboard.dq import build_dq_values
from ascld.measures.dashboard.facts import (
    build_costs_fact,
    build_event_fact,
    build_master_table,
    build_services_fact,
    costs_quarter,
    lts_flagged_events,
)
from ascld.measures.dashboard.inputs import DASHBOARD_COLUMNS, main_table_from_records
from ascld.measures.dashboard.pipeline import (
    DashboardResult,
    compute_dashboard,
    control_waiting_time_rows,
    waiting_time_rows,
)
from ascld.measures.dashboard.sql import dashboard_sql
from ascld.measures.dashboard.waiting import (
    waiting_time_context,
    waiting_time_events,
    waiting_time_links,
    waiting_time_medians,
)

__all__ = [
    "DASHBOARD_COLUMNS",
    "DashboardResult",
    "build_age_bands",
    "build_calendar",
    "build_costs_fact",
    "build_distinct_dimension",
    "build_dq_values",
    "build_event_fact",
    "build_geography",
    "build_master_table",
    "build_services_fact",
    "compute_dashboard",
    "control_waiting_time_rows",
    "costs_quarter",
    "dashboard_sql",
    "lts_flagged_events",
    "main_table_from_records",
    "waiting_time_context",
    "waiting_time_events",
    "waiting_time_links",
    "waiting_time_medians",
    "waiting_time_rows",
]
