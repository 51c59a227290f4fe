"""The national store: an append-only, pseudonymised Parquet dataset with an import register.

Layout of a store folder (see docs/national-store.md):

```
STORE/
  _store.json                      format version and the fingerprint of the pseudonymisation key
  _imports/00000001.json           one register entry per import, written last (the commit point)
  data/la=<LA code>/import=<id>/rows.parquet   the pseudonymised rows of one import
                                   dq.parquet    its cond_/chk_ codes, keyed by Der_Unique_Record_ID
  _tmp/                            imports being written (never read)
  _lock                            held by a writer for the whole of an ingest
```

Atomicity: an import is written into `_tmp/`, fsynced, renamed into `data/`, and only then registered by
writing `_imports/<id>.json` (to a temporary name, fsynced, renamed). Readers list the register, never the
folders, so a crash at any point leaves no partial import visible; the next writer removes the leftovers.

Examples:
    >>> import tempfile
    >>> store = NationalStore(tempfile.mkdtemp())
    >>> store.imports()
    []
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import json
import os
import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa

from ascld.errors import UsageError
from ascld.quality.sqlgen import quote_ident, quote_str

STORE_FORMAT = "ascld-national-store/1"
REGISTER_DIR = "_imports"
DATA_DIR = "data"
TMP_DIR = "_tmp"
LOCK_FILE = "_lock"
STORE_FILE = "_store.json"
ROWS_FILE = "rows.parquet"
DQ_FILE = "dq.parquet"
# How `rows.parquet` and `dq.parquet` are written (DuckDB COPY options). zstd at level 1: on a 200,000-row return
# the rows file is about 11% larger than at DuckDB's default level 3 and costs about 20% less CPU to write. Row
# groups of 61,440 rows (half DuckDB's default): the writer holds fewer rows in flight, so a 1,000,000-row import
# peaked about 300 MB lower, for a file about 1% larger (docs/national-store.md).
PARQUET_OPTIONS = "FORMAT parquet, COMPRESSION zstd, COMPRESSION_LEVEL 1, ROW_GROUP_SIZE 61440"
DQ_ROW_GROUP_ROWS = 61_440  # the row groups `write_dq_file` writes (as PARQUET_OPTIONS)

# The stored row columns, in order, with their DuckDB and Arrow types. Names and types follow the national raw
# table (main-tables.md §1; ascld.national.main_tables.schema); the Der_*_Pseudo copies keep the national
# naming of the pseudonymised person IDs alongside the columns the main tables read.
STORE_COLUMNS: tuple[tuple[str, str], ...] = (
    ("LA_Code", "VARCHAR"),
    ("LA_Name", "VARCHAR"),
    ("ImportDate", "TIMESTAMP_MS"),
    ("ImportFileId", "VARCHAR"),
    ("Reporting_Period_Start_Date", "DATE"),
    ("Reporting_Period_End_Date", "DATE"),
    ("Der_NHS_Number_Traced_Pseudo", "VARCHAR"),
    ("Der_NHS_Number_Pseudo", "VARCHAR"),
    ("LA_Person_Unique_Identifier", "VARCHAR"),
    ("Der_LA_Person_Unique_Identifier_Pseudo", "VARCHAR"),
    ("Der_DBS_Check_Status", "VARCHAR"),
    ("Der_Birth_Year", "INTEGER"),
    ("Der_Birth_Month", "INTEGER"),
    ("Der_Age_Event_Start_Date", "INTEGER"),
    ("Der_Age_Reporting_Period_End_Date", "INTEGER"),
    ("Date_of_Death", "DATE"),
    ("GP_Practice_Code", "VARCHAR"),
    ("GP_Practice_Name", "VARCHAR"),
    ("Gender", "VARCHAR"),
    ("Ethnicity", "VARCHAR"),
    ("Client_Type", "VARCHAR"),
    ("Primary_Support_Reason", "VARCHAR"),
    ("Accommodation_Status", "VARCHAR"),
    ("Employment_Status", "VARCHAR"),
    ("Has_Unpaid_Carer", "VARCHAR"),
    ("Autism_Spectrum_Disorder_ASD", "VARCHAR"),
    ("Visual_Impairment", "VARCHAR"),
    ("Hearing_Impairment", "VARCHAR"),
    ("Dementia", "VARCHAR"),
    ("Client_Funding_Status", "VARCHAR"),
    ("Der_Postcode_Sector", "VARCHAR"),
    ("Der_Postcode_Constituency_Code", "VARCHAR"),
    ("Der_Postcode_District_Unitary_Authority", "VARCHAR"),
    ("Der_Postcode_Electoral_Ward", "VARCHAR"),
    ("Der_Postcode_Local_Authority", "VARCHAR"),
    ("Der_Postcode_CCG_Code", "VARCHAR"),
    ("Der_Postcode_LSOA_Code", "VARCHAR"),
    ("Der_Postcode_MSOA_Code", "VARCHAR"),
    ("Der_Postcode_yr2011_LSOA", "VARCHAR"),
    ("Der_Postcode_yr2011_MSOA", "VARCHAR"),
    ("Event_Type", "VARCHAR"),
    ("Event_Start_Date", "DATE"),
    ("Event_End_Date", "DATE"),
    ("Event_Outcome", "VARCHAR"),
    ("Der_Conversation", "INTEGER"),
    ("Der_Conversation_1", "INTEGER"),
    ("Request_Route_of_Access", "VARCHAR"),
    ("Assessment_Type", "VARCHAR"),
    ("Eligible_Needs_Identified", "VARCHAR"),
    ("Method_of_Assessment", "VARCHAR"),
    ("Total_Hrs_Caring_per_week", "VARCHAR"),
    ("No_of_adults_being_cared_for", "INTEGER"),
    ("Adult_1_Linked_Person_ID", "VARCHAR"),
    ("Adult_2_Linked_Person_ID", "VARCHAR"),
    ("Adult_3_Linked_Person_ID", "VARCHAR"),
    ("Der_Adult_1_Linked_Person_ID_Pseudo", "VARCHAR"),
    ("Der_Adult_2_Linked_Person_ID_Pseudo", "VARCHAR"),
    ("Der_Adult_3_Linked_Person_ID_Pseudo", "VARCHAR"),
    ("Service_Type", "VARCHAR"),
    ("Service_Component", "VARCHAR"),
    ("Delivery_Mechanism", "VARCHAR"),
    ("Provider_CQC_Location_ID", "VARCHAR"),
    ("Provider_CQC_Location_Name", "VARCHAR"),
    ("Unit_Cost", "DOUBLE"),
    ("Cost_Frequency_Unit_Type", "VARCHAR"),
    ("Planned_units_per_week", "DOUBLE"),
    ("Review_Reason", "VARCHAR"),
    ("Review_Outcomes_Achieved", "VARCHAR"),
    ("Method_of_Review", "VARCHAR"),
    ("Der_Unique_Record_ID", "BIGINT"),
)

_ARROW = {
    "VARCHAR": pa.string(), "TIMESTAMP_MS": pa.timestamp("ms"), "DATE": pa.date32(), "INTEGER": pa.int32(),
    "BIGINT": pa.int64(), "DOUBLE": pa.float64(), "SMALLINT": pa.int16(),
}


def store_arrow_schema() -> pa.Schema:
    """The Arrow schema of `rows.parquet`."""
    return pa.schema([pa.field(name, _ARROW[kind]) for name, kind in STORE_COLUMNS])


def dq_arrow_schema(columns: tuple[str, ...]) -> pa.Schema:
    """The Arrow schema of `dq.parquet` for the given submitted columns."""
    fields = [pa.field("Der_Unique_Record_ID", pa.int64()), pa.field("ImportFileId", pa.string())]
    for c in columns:
        fields += [pa.field(f"cond_{c}", pa.int16()), pa.field(f"chk_{c}", pa.int16())]
    return pa.schema(fields)


def dq_select(source: str, import_id: str, columns: Sequence[str], row_base: int) -> str:
    """SQL: the rows of `dq.parquet` from `source` (a table, or a query in parentheses, with `__row` and the
    validator's `cond_<column>`/`chk_<column>` codes, `columns` naming them): `Der_Unique_Record_ID`
    (`row_base` + `__row`), `ImportFileId`, then the codes as SMALLINT."""
    cols = ", ".join(f"CAST({quote_ident(c)} AS SMALLINT) AS {quote_ident(c)}" for c in columns)
    return (
        f"SELECT CAST({int(row_base)} + __row AS BIGINT) AS Der_Unique_Record_ID, {quote_str(import_id)} AS "
        f"ImportFileId, {cols} "
        f"FROM {source}"
    )


def write_dq_file(
    con: Any, source: str, columns: Sequence[str], import_id: str, row_base: int, path: Path, *, work: Path
) -> None:
    """Write an import's `dq.parquet` from `source` (as `dq_select` takes it), in one pass, in the order
    `source` gives its rows.

    The file holds what the ingest's two passes wrote before (the codes to a Parquet file, then a `COPY` of
    `dq_select` over that file with `PARQUET_OPTIONS`): the same values, and every column marked required (no
    NULL) where it holds no NULL, as DuckDB marks a column whose source file's statistics show none. A `COPY`
    straight from the scan cannot know that before it writes, so this pass goes through Arrow and writes every
    column required, zstd level 1, row groups of `DQ_ROW_GROUP_ROWS` rows. The codes never hold NULL; should a
    batch hold one (or the file have no rows), it falls back to those two passes, with their file in `work`.
    """
    import pyarrow.parquet as pq

    fields = [pa.field("Der_Unique_Record_ID", pa.int64()), pa.field("ImportFileId", pa.string())]
    schema = pa.schema([f.with_nullable(False) for f in (*fields, *(pa.field(c, pa.int16()) for c in columns))])
    select = dq_select(source, import_id, columns, row_base)
    rows = 0
    try:
        with pq.ParquetWriter(
            path, schema, compression="zstd", compression_level=1, store_schema=False,
            use_dictionary=[c for c in schema.names if c != "Der_Unique_Record_ID"],
            column_encoding={"Der_Unique_Record_ID": "DELTA_BINARY_PACKED"},
        ) as writer:
            pending: list[pa.RecordBatch] = []  # DuckDB hands over smaller batches than a row group
            for batch in con.sql(select).to_arrow_reader(DQ_ROW_GROUP_ROWS):
                if any(column.null_count for column in batch.columns):
                    raise _HasNull
                pending.append(batch.cast(schema))
                rows += batch.num_rows
                if sum(b.num_rows for b in pending) >= DQ_ROW_GROUP_ROWS:
                    pending = _write_row_groups(writer, schema, pending, last=False)
            _write_row_groups(writer, schema, pending, last=True)
        if rows:
            return
    except _HasNull:
        pass
    except BaseException:
        path.unlink(missing_ok=True)
        raise
    codes = work / f"{path.stem}-codes.parquet"
    try:
        con.execute(f"COPY (SELECT * FROM {source} ORDER BY __row) TO {quote_str(str(codes))} (FORMAT parquet)")
        from_codes = dq_select(f"read_parquet({quote_str(str(codes))})", import_id, columns, row_base)
        con.execute(f"COPY ({from_codes}) TO {quote_str(str(path))} ({PARQUET_OPTIONS})")
    finally:
        codes.unlink(missing_ok=True)


def _write_row_groups(
    writer: Any, schema: pa.Schema, batches: list[pa.RecordBatch], *, last: bool
) -> list[pa.RecordBatch]:
    """Write whole row groups of `batches` (and, when `last`, the rest); return the batches left over."""
    if not batches:
        return []
    table = pa.Table.from_batches(batches, schema=schema)
    whole = table.num_rows if last else table.num_rows - table.num_rows % DQ_ROW_GROUP_ROWS
    if whole:
        writer.write_table(table.slice(0, whole), row_group_size=DQ_ROW_GROUP_ROWS)
    return table.slice(whole).combine_chunks().to_batches() if whole < table.num_rows else []


class _HasNull(Exception):
    """A batch of DQ codes holds a NULL (`write_dq_file`)."""


@dataclass(frozen=True)
class ImportRecord:
    """One register entry: a file accepted into the store.

    Attributes:
        import_id: `ImportFileId`, zero-padded so text order is load order.
        import_date: `ImportDate` (ISO, millisecond precision, no time zone).
        load_file_name: the file's name as loaded (no folder).
        sha256: SHA-256 of the file's bytes; the same bytes are never stored twice.
        la_code: the council whose partition holds the rows.
        row_count: rows stored.
        first_record_id, last_record_id: the `Der_Unique_Record_ID` range of its rows.
        rows_file, dq_file: paths relative to the store (dq_file None when no DQ codes were supplied).
        key_fingerprint: public fingerprint of the pseudonymisation key used.
        details: counts for the operator (trace outcomes, DQ summary, spec version); never identifiers.
    """

    import_id: str
    import_date: str
    load_file_name: str
    sha256: str
    la_code: str
    row_count: int
    first_record_id: int
    last_record_id: int
    rows_file: str
    dq_file: str | None
    key_fingerprint: str
    registered_at: str
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def import_datetime(self) -> dt.datetime:
        return dt.datetime.fromisoformat(self.import_date)


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_tree(path: Path) -> None:
    """fsync every file and folder under `path` (and `path` itself)."""
    for root, _dirs, files in os.walk(path):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(root))


def write_json_atomic(path: Path, payload: dict[str, Any]) -> None:
    """Write JSON to a temporary name, fsync, rename over `path`, fsync the folder."""
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        json.dump(payload, fh, indent=2, sort_keys=True)
        fh.write("\n")
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync_dir(path.parent)


def safe_partition_value(value: str) -> str:
    """A folder-safe form of an LA code: letters, digits, '-' and '_' kept, anything else hex-escaped.

    Examples:
        >>> safe_partition_value("503")
        '503'
        >>> safe_partition_value("a/b")
        'a~2fb'
    """
    return re.sub(r"[^A-Za-z0-9_-]", lambda m: "~" + m.group(0).encode().hex(), value) or "~"


class NationalStore:
    """A national store folder: read its register and data, or (holding its lock) add imports.

    Args:
        root: the store folder; created on first write.
    """

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)
        # While this object holds the writer lock no other process can change the register, so the
        # register is read once and then kept up to date by `commit` (a run of many files would otherwise
        # re-read every entry for every file). `recover` re-reads it, since a caller may have removed entries.
        self._held = False
        self._cache: list[ImportRecord] | None = None

    def __repr__(self) -> str:
        return f"NationalStore({str(self.root)!r})"

    # ---- reading -------------------------------------------------------------------------------------------
    def imports(self) -> list[ImportRecord]:
        """Every registered import, in load order. Only these are part of the store."""
        if self._held and self._cache is not None:
            return list(self._cache)
        reg = self.root / REGISTER_DIR
        records = []
        if reg.is_dir():
            for p in sorted(reg.glob("*.json")):
                if p.name.startswith("."):
                    continue
                try:
                    records.append(ImportRecord(**_read_json(p, "register entry")))
                except TypeError:
                    raise UsageError(
                        f"the store's register entry {p} lacks fields or has unknown ones; the store is damaged. "
                        "Restore that file from a backup; nothing was changed."
                    ) from None
        records.sort(key=lambda r: r.import_id)
        if self._held:
            self._cache = list(records)
        return records

    def find_import(self, sha256: str) -> ImportRecord | None:
        """The registered import of a file with these bytes, if any."""
        return next((r for r in self.imports() if r.sha256 == sha256), None)

    def row_files(self) -> list[Path]:
        """The `rows.parquet` file of every registered import."""
        return [self.root / r.rows_file for r in self.imports()]

    def dq_files(self) -> list[Path]:
        """The `dq.parquet` file of every registered import that has one."""
        return [self.root / r.dq_file for r in self.imports() if r.dq_file]

    def register_duckdb(self, con: Any, name: str = "cld_raw", *, dq: bool = False) -> str:
        """Create a DuckDB view `name` over the registered rows (with `dq=True`, the DQ codes view instead).

        An empty store gives an empty view with the store's columns.
        """
        files = self.dq_files() if dq else self.row_files()
        if files:
            listing = ", ".join(quote_str(str(f)) for f in files)
            con.execute(
                f"CREATE OR REPLACE VIEW {name} AS "
                f"SELECT * FROM read_parquet([{listing}], union_by_name=true)"
            )
        else:
            cols = ", ".join(f'NULL::{kind} AS "{col}"' for col, kind in STORE_COLUMNS) if not dq else (
                "NULL::BIGINT AS Der_Unique_Record_ID, NULL::VARCHAR AS ImportFileId"
            )
            con.execute(f"CREATE OR REPLACE VIEW {name} AS SELECT {cols} WHERE false")
        return name

    def table(self, con: Any | None = None, *, dq: bool = False) -> Any:
        """The store as an Ibis table on `con` (default: a new DuckDB connection from the engine seam).

        Works on any Ibis backend that reads Parquet (DuckDB, PySpark).
        """
        from ascld.engine import connect, read_parquet_files

        if con is None:
            con = connect("duckdb")
        files = self.dq_files() if dq else self.row_files()
        if not files:
            import ibis

            schema = store_arrow_schema() if not dq else dq_arrow_schema(())
            return ibis.memtable(schema.empty_table())
        return read_parquet_files(con, files)

    def to_arrow(self, *, dq: bool = False) -> pa.Table:
        """All registered rows as one Arrow table (small stores: tests, demo)."""
        import pyarrow.parquet as pq

        files = self.dq_files() if dq else self.row_files()
        if not files:
            return (store_arrow_schema() if not dq else dq_arrow_schema(())).empty_table()
        return pa.concat_tables([pq.read_table(f) for f in files], promote_options="default")

    def store_info(self) -> dict[str, Any]:
        p = self.root / STORE_FILE
        return _read_json(p, "store file") if p.exists() else {}

    def check_folder(self) -> None:
        """Refuse a store path that is a file, or a folder that holds something other than a national store
        (another tool's files would be mixed with the store's, and a later clean-up could remove them).

        Raises:
            UsageError: the message names the path and what to do.
        """
        if self.root.exists() and not self.root.is_dir():
            raise UsageError(f"the store {self.root} is a file, not a folder. Give a folder for the store.")
        if not self.root.is_dir() or (self.root / STORE_FILE).exists():
            if (self.root / STORE_FILE).exists() and self.store_info().get("format") != STORE_FORMAT:
                raise UsageError(
                    f"{self.root} is not an ascld national store of format {STORE_FORMAT} (its {STORE_FILE} "
                    "belongs to something else). Give the store's folder, or a new empty folder."
                )
            return
        foreign = sorted(p.name for p in self.root.iterdir() if p.name not in _STORE_NAMES)
        if foreign:
            raise UsageError(
                f"the folder {self.root} is not a national store and is not empty (it holds {foreign[0]}"
                f"{f' and {len(foreign) - 1} more' if len(foreign) > 1 else ''}); nothing was written to it. "
                "Give the store's folder, or a new empty folder."
            )

    def remove_if_unused(self) -> bool:
        """Remove the store folder if it holds no import and nothing but the store's own empty scaffolding
        (what a first ingest that failed leaves). Never removes a file it did not make.

        Returns:
            True if the folder was removed.
        """
        if not self.root.is_dir() or self.imports():
            return False
        names = {p.name for p in self.root.iterdir()}
        if not names <= _STORE_NAMES:
            return False
        for d in (TMP_DIR, REGISTER_DIR, DATA_DIR):
            if (self.root / d).is_dir() and any((self.root / d).iterdir()):
                return False
        for d in (TMP_DIR, REGISTER_DIR, DATA_DIR):
            with contextlib.suppress(FileNotFoundError):
                (self.root / d).rmdir()
        for f in (STORE_FILE, LOCK_FILE):
            with contextlib.suppress(FileNotFoundError):
                (self.root / f).unlink()
        self.root.rmdir()
        return True

    # ---- writing (call only while holding `lock()`) -----------------------------------------------------
    @contextlib.contextmanager
    def lock(self) -> Iterator[None]:
        """Hold the store's writer lock (blocks while another process ingests).

        Raises:
            UsageError: the store folder cannot be made (a file in the way, no permission...).
        """
        try:
            self.root.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UsageError(
                f"cannot make the store folder {self.root}: {exc.strerror or type(exc).__name__}. Give a folder "
                "you can write to."
            ) from None
        with (self.root / LOCK_FILE).open("a+") as fh:
            fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
            self._held, self._cache = True, None
            try:
                yield
            finally:
                self._held, self._cache = False, None
                fcntl.flock(fh.fileno(), fcntl.LOCK_UN)

    def check_key(self, fingerprint: str) -> None:
        """Record the key fingerprint in a new store, or refuse a key other than the store's.

        Raises:
            UsageError: the store's pseudonyms were made with another key.
        """
        self.check_folder()
        info = self.store_info()
        if not info:
            self.root.mkdir(parents=True, exist_ok=True)
            write_json_atomic(
                self.root / STORE_FILE,
                {"format": STORE_FORMAT, "key_fingerprint": fingerprint,
                 "created": dt.datetime.now().isoformat(timespec="seconds")},
            )
            return
        if info.get("format") != STORE_FORMAT:
            raise UsageError(f"{self.root} is not an ascld national store of format {STORE_FORMAT}.")
        if info.get("key_fingerprint") != fingerprint:
            raise UsageError(
                f"the store {self.root} was pseudonymised with another key (fingerprint "
                f"{info.get('key_fingerprint')}; this key is {fingerprint}). Pseudonyms made with different "
                "keys never link, so nothing was stored. Use the store's key, or a new store."
            )

    def recover(self) -> list[str]:
        """Remove what crashed writers left: `_tmp/` contents, data folders no register entry names, and this
        store's ingest working folders in the system temporary folder (`work_prefix`).

        Returns:
            The removed paths, relative to the store.
        """
        self._cache = None
        removed: list[str] = []
        self._remove_stale_work()
        tmp = self.root / TMP_DIR
        if tmp.is_dir():
            for p in tmp.iterdir():
                shutil.rmtree(p) if p.is_dir() else p.unlink()
                removed.append(str(p.relative_to(self.root)))
        reg = self.root / REGISTER_DIR
        if reg.is_dir():
            for p in reg.glob(".*.tmp"):
                p.unlink()
                removed.append(str(p.relative_to(self.root)))
        registered = {str(Path(r.rows_file).parent) for r in self.imports()}
        data = self.root / DATA_DIR
        if data.is_dir():
            for la_dir in data.iterdir():
                for imp_dir in la_dir.iterdir() if la_dir.is_dir() else []:
                    rel = str(imp_dir.relative_to(self.root))
                    if rel not in registered:
                        shutil.rmtree(imp_dir)
                        removed.append(rel)
        return removed

    def next_ids(self) -> tuple[int, int]:
        """The next import number and the next `Der_Unique_Record_ID`.

        Ids are never reused: `_store.json` remembers the highest ever handed out, so removing an import (a
        retention purge) does not give its numbers to the next file; the register covers a crash between
        registering an import and updating `_store.json`.
        """
        info = self.store_info()
        records = self.imports()
        next_import = max([int(info.get("next_import", 1)), *(int(r.import_id) + 1 for r in records)])
        next_record = max([int(info.get("next_record_id", 1)), *(r.last_record_id + 1 for r in records)])
        return next_import, next_record

    def work_prefix(self) -> str:
        """The name prefix of this store's ingest working folders in the system temporary folder. They hold the
        return's values as submitted (identifiers in clear) while a file is ingested; one a killed writer left
        is removed by the next writer's `recover` (only the lock holder ingests, so any such folder is stale)."""
        return f"ascld-ingest-{hashlib.sha256(str(self.root.resolve()).encode('utf-8')).hexdigest()[:16]}-"

    def _remove_stale_work(self) -> None:
        for p in Path(tempfile.gettempdir()).glob(f"{self.work_prefix()}*"):
            shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)

    def new_temp_dir(self) -> Path:
        tmp = self.root / TMP_DIR / uuid.uuid4().hex
        tmp.mkdir(parents=True)
        return tmp

    def import_dir(self, la_code: str, import_id: str) -> Path:
        return self.root / DATA_DIR / f"la={safe_partition_value(la_code)}" / f"import={import_id}"

    def commit(self, temp_dir: Path, record: ImportRecord, pause: Any = None) -> None:
        """Make a written import part of the store: fsync, rename into `data/`, then register it.

        Args:
            temp_dir: the folder under `_tmp/` holding the import's files.
            record: its register entry; `rows_file`/`dq_file` must point into `import_dir(...)`.
            pause: test hook called with a stage name between the steps.
        """
        fsync_tree(temp_dir)
        if pause:
            pause("before_rename")
        final = self.root / Path(record.rows_file).parent
        final.parent.mkdir(parents=True, exist_ok=True)
        os.rename(temp_dir, final)
        _fsync_dir(final.parent)
        if pause:
            pause("before_register")
        reg = self.root / REGISTER_DIR
        reg.mkdir(exist_ok=True)
        write_json_atomic(reg / f"{record.import_id}.json", asdict(record))
        if self._cache is not None:
            self._cache = sorted([*self._cache, record], key=lambda r: r.import_id)
        info = self.store_info()
        info["next_import"] = max(int(info.get("next_import", 1)), int(record.import_id) + 1)
        info["next_record_id"] = max(int(info.get("next_record_id", 1)), record.last_record_id + 1)
        write_json_atomic(self.root / STORE_FILE, info)


_STORE_NAMES = frozenset({STORE_FILE, LOCK_FILE, TMP_DIR, REGISTER_DIR, DATA_DIR})


def _read_json(path: Path, what: str) -> dict[str, Any]:
    """A JSON object from the store; a damaged one is named (the store's files hold no identifying values)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise UsageError(
            f"the store's {what} {path} cannot be read ({getattr(exc, 'strerror', None) or 'not valid JSON'}); "
            "the store is damaged. Restore that file from a backup; nothing was changed."
        ) from None
    if not isinstance(data, dict):
        raise UsageError(
            f"the store's {what} {path} is not a JSON object; the store is damaged. Restore that file from a "
            "backup; nothing was changed."
        )
    return data


def open_store(root: str | Path) -> NationalStore:
    """A national store to read (its register decides what is in it).

    Raises:
        UsageError: the folder does not exist.
    """
    p = Path(root)
    if not p.is_dir():
        raise UsageError(f"{p} is not a national store folder (it does not exist).")
    return NationalStore(p)
