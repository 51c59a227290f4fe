"""National processing: the pseudonymised national store and the main tables."""

from ascld.national.ingest import ingest_files, ingest_table
from ascld.national.main_tables import BuildParams, build_main_tables, emit_sql, national_store_schema
from ascld.national.store import NationalStore, open_store

__all__ = [
    "BuildParams", "NationalStore", "build_main_tables", "emit_sql", "ingest_files", "ingest_table",
    "national_store_schema", "open_store",
]
