"""Reading the national store into an Ibis table, and hashing its files for the manifest.

Two layouts are accepted:

* a store written by `ascld national ingest` (`ascld.national.store`): only the row files of registered
  imports are read (never `dq.parquet` or unregistered folders);
* any other Parquet file or folder of Parquet files (hive-partitioned folders are fine), e.g. a store built by
  another processor with the columns of `national_store_schema()`.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import ibis.expr.types as ir

from ascld.engine import read_parquet_files
from ascld.errors import UnusableInput

INGEST_MARKERS = ("_store.json", "_imports")


def is_ingest_store(path: Path) -> bool:
    """Whether a folder was written by `ascld national ingest` (it has a store file or an import register)."""
    return path.is_dir() and any((path / m).exists() for m in INGEST_MARKERS)


def store_files(store: str | Path) -> list[Path]:
    """The Parquet row files of a store, sorted (registered imports only for an ingest store).

    Raises:
        UnusableInput: the path does not exist or holds no row files.
    """
    path = Path(store)
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise UnusableInput(
            f"national store {path}: no such file or folder. Give the folder written by ingest."
        )
    if is_ingest_store(path):
        from ascld.national.store import NationalStore

        files = sorted(NationalStore(path).row_files())
    else:
        files = sorted(p for p in path.rglob("*.parquet") if p.is_file() and not p.name.startswith("."))
    if not files:
        raise UnusableInput(
            f"national store {path}: no Parquet row files found. Ingest some returns first, or give the "
            "folder that holds the store's Parquet files."
        )
    return files


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while block := fh.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def _read_spark(con: Any, path: Path, files: list[Path]) -> ir.Table:
    session = con._session
    # Partition-column type inference would turn LA_Code=001 into the integer 1.
    session.conf.set("spark.sql.sources.partitionColumnTypeInference.enabled", "false")
    if not is_ingest_store(path):
        return con.read_parquet(str(path))
    return read_parquet_files(con, files)


def read_store(con: Any, store: str | Path, engine: str) -> ir.Table:
    """Open the store on a connection. Hive partition values are read as text (no type guessing), so a
    partition such as `LA_Code=001` keeps its leading zeros.

    Args:
        con: an Ibis connection from `ascld.engine.connect`.
        store: an ingest store folder, a Parquet file or a folder of Parquet files.
        engine: the connection's engine name ("duckdb" or "spark").
    """
    path = Path(store)
    files = store_files(path)
    if engine == "spark":
        return _read_spark(con, path, files)
    if path.is_file() or is_ingest_store(path):
        return read_parquet_files(con, files)
    return con.read_parquet(
        str(path / "**" / "*.parquet"), hive_partitioning=True, hive_types_autocast=False, union_by_name=True
    )
