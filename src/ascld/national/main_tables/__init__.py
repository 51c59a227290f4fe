"""National main tables (main-tables.md): select, filter, clean, derive and de-duplicate CLD submissions.

Public entry points are re-exported here; the code lives in the step modules.
"""

from ascld.national.main_tables.build import BuildResult, StepRecord, build_main_tables, table_name
from ascld.national.main_tables.pipeline import BuildParams, main_table_expr, pipeline_steps
from ascld.national.main_tables.reader import read_store, store_files
from ascld.national.main_tables.schema import (
    conform_store,
    national_store_arrow_schema,
    national_store_schema,
    store_table_from_records,
)
from ascld.national.main_tables.sqlemit import emit_sql, write_sql

__all__ = [
    "BuildParams",
    "BuildResult",
    "StepRecord",
    "build_main_tables",
    "conform_store",
    "emit_sql",
    "main_table_expr",
    "national_store_arrow_schema",
    "national_store_schema",
    "pipeline_steps",
    "read_store",
    "store_files",
    "store_table_from_records",
    "table_name",
    "write_sql",
]
