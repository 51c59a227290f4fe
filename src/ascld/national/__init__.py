"""National processing: the pseudonymised national store and the main tables."""

from ascld.national.ingest import ingest_files, ingest_table
from ascld.national.store import NationalStore, open_store

__all__ = ["NationalStore", "ingest_files", "ingest_table", "open_store"]
