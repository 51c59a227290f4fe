"""`validate_return`: the pre-submission validator, the same checks the landing service runs on receipt.

Steps: transport checks (`ascld.returns.reader`), one DuckDB pass over every row and field
(`ascld.quality.scan`),
then checks across rows, for the whole file and against a previous return (`ascld.quality.crossrow`), each as
SQL
over the scanned table. Every problem is counted; the listing in the result is capped at `max_problems` and
the
full list is written to problems.csv. DuckDB works in memory under a memory limit and spills to a temporary
folder beyond it, so memory use does not grow with the file.
"""

from __future__ import annotations

import codecs
import contextlib
import json
import logging
import os
import re
import shutil
import tempfile
import time
import warnings
import weakref
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from ascld import __version__
from ascld.engine import duckdb_connection
from ascld.errors import UsageError
from ascld.quality import crossrow
from ascld.quality.checks import VALIDITY_LABELS, Check, checks_by_id, list_suggestion, load_checks
from ascld.quality.problem import PROBLEM_FIELDS, Problem, spreadsheet_text, spreadsheet_text_sql
from ascld.quality.scan import (
    DERIVED_RULES,
    HIDDEN_VALUE,
    FieldLayout,
    ScanLayout,
    build_scan_sql,
    chk_sql,
    decode_sql,
    detail_texts,
    layout_for,
    value_shown,
)
from ascld.quality.sqlgen import quote_ident, quote_str
from ascld.returns.reader import (
    ReturnFile,
    RowMap,
    TransportError,
    first_other_row_sql,
    formula_problem,
    more_rows_message,
    open_return,
    period_la_problems,
    ragged_problems,
    shown_rows,
)
from ascld.spec import STATUS_LABELS, load_spec
from ascld.spec.model import Spec

log = logging.getLogger(__name__)
SCHEMA_VERSION = "1"
MEMORY_LIMIT_ENV = "ASCLD_MEMORY_LIMIT"
DEFAULT_MEMORY_LIMIT = "512MB"
# Set (to 1) by the landing service's checker: after the scan, DuckDB works with one thread and this share of
# the memory limit. The scan streams and needs the whole limit; what follows works on tables that grow with the
# problems (a problem a row in a file of duplicates), and with two threads and the whole limit its sorts took
# the checker's peak from 355 MB at 1,000,000 rows to 417 MB at 4,000,000 (one thread and 160 of 256 MB: 325).
LOW_MEMORY_ENV = "ASCLD_VALIDATOR_LOW_MEMORY"
LOW_MEMORY_SHARE = 0.625
# Rows per batch asked of the streamed scan (one Parquet row group each; DuckDB hands over fewer).
SCAN_BATCH_ROWS = 122_880
# Rows per Parquet file of the scan (`_stream_to_parquet`).
SCAN_ROWS_PER_FILE = 1_000_000
# Files below this size (about 20,000 rows) stream the scan's result by the quicker route for few rows.
SMALL_FILE_BYTES = 10_000_000
# With `load_into`, the scan also carries each cell's value as submitted (blank as NULL) under this prefix;
# `_stream_to_parquet` writes those columns to their own files, `<table>-values-<n>.parquet`.
RAW_PREFIX = "__value__"
# Column of the scan table: the row has a cell problem listed cell by cell (`_reported_sql`).
REPORTED = "__reported"
# A shown value that could be a name (no digit, not a list value) is quoted only where at least this many
# people of the file have it in that field (`_hide_rare_values`).
FEWEST_PEOPLE_SHOWN = 3
RARE_VALUE = "\x01rare"
_STATUS_BY_CODE = {code: label for code, label in STATUS_LABELS.values()}


# The files `ValidationResult.write_outputs` writes into its folder.
OUTPUT_NAMES = ("summary.json", "problems.csv", "report.html")


@dataclass
class ValidationResult:
    """What `validate_return` found.

    Attributes:
        file: the return's file name.
        usable: False when a transport check failed (nothing else was checked).
        exit_code: 0 no failures (warnings allowed), 1 failures, 2 unusable file.
        row_count: data rows read (None when the file could not be read).
        problems: the listing, in row order, capped at `max_problems`.
        problem_counts: every check that found something: check id, severity, count, rows (never capped).
        summary: the JSON summary (`docs/dq-summary.schema.json`).
    """

    file: str
    usable: bool
    exit_code: int
    row_count: int | None
    problems: list[Problem]
    problem_counts: list[dict[str, Any]]
    summary: dict[str, Any]
    timings: dict[str, float] = field(default_factory=dict, repr=False)
    _problems_csv: Path | None = field(default=None, repr=False)
    _workdir: str | None = field(default=None, repr=False)
    # An unusable file's every problem (its listing is cut at max_problems; problems.csv holds them all).
    _all_problems: list[Problem] | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        if self._workdir:
            weakref.finalize(self, shutil.rmtree, self._workdir, True)

    @property
    def errors(self) -> int:
        return int(self.summary["totals"]["errors"])

    @property
    def warnings(self) -> int:
        return int(self.summary["totals"]["warnings"])

    def write_outputs(self, folder: str | Path, *, html: bool = True) -> dict[str, Path]:
        """Write summary.json, problems.csv (every problem) and, unless html=False, report.html into `folder`.

        Returns:
            The paths written, by name.
        """
        from ascld.quality.report import render_report

        out = Path(folder)
        out.mkdir(parents=True, exist_ok=True)
        written = {"summary.json": out / "summary.json", "problems.csv": out / "problems.csv"}
        written["summary.json"].write_text(
            json.dumps(self.summary, indent=2, default=str) + "\n", encoding="utf-8"
        )
        if self._problems_csv and self._problems_csv.exists():
            # UTF-8 with a byte-order mark, the only UTF-8 CSV Excel reads as such (DuckDB writes none).
            with self._problems_csv.open("rb") as src, written["problems.csv"].open("wb") as dst:
                dst.write(codecs.BOM_UTF8)
                shutil.copyfileobj(src, dst)
        else:
            every = self.problems if self._all_problems is None else self._all_problems
            write_problems_csv(written["problems.csv"], every)
        if html:
            written["report.html"] = out / "report.html"
            written["report.html"].write_text(render_report(self.summary), encoding="utf-8")
        return written


def write_problems_csv(path: Path, problems: Sequence[Problem]) -> None:
    import csv

    with path.open("w", encoding="utf-8-sig", newline="") as fh:  # with a byte-order mark, for Excel
        writer = csv.writer(fh)
        writer.writerow(PROBLEM_FIELDS)
        for p in problems:
            writer.writerow(
                [p.file and spreadsheet_text(p.file), "" if p.row is None else p.row]
                + [spreadsheet_text(getattr(p, k)) for k in PROBLEM_FIELDS[2:]]
            )


# --- setup -------------------------------------------------------------------------------------------------


def _connect(workdir: str) -> Any:
    memory = os.environ.get(MEMORY_LIMIT_ENV, DEFAULT_MEMORY_LIMIT)
    # In memory: nothing the validator keeps needs to outlive it, and a database file would write (and sync)
    # every small table; past the memory limit DuckDB spills to the temporary folder instead.
    raw = duckdb_connection(None, memory_limit=memory, temp_directory=Path(workdir) / "spill")
    # DuckDB turns long IN lists into joins, which for hundreds of small lists costs far more than comparing.
    raw.execute("SET disabled_optimizers = 'in_clause'")
    raw.execute("SET preserve_insertion_order = true")
    raw.execute("SET enable_progress_bar = false")
    # The later steps read the scan's Parquet file many times (one branch per field): without the metadata
    # cache each read parses its footer again, which at 2M rows added ~390 MB and a third of the time.
    raw.execute("SET parquet_metadata_cache = true")
    return raw


def _memory_limit_mb(con: Any) -> float | None:
    """DuckDB's memory limit in megabytes (it reports it as, for example, '244.1 MiB')."""
    text = con.execute("SELECT current_setting('memory_limit')").fetchone()[0]
    m = re.fullmatch(r"\s*([0-9.]+)\s*([KMGT]?)i?B\s*", str(text), re.IGNORECASE)
    if not m:
        return None
    return float(m.group(1)) * {"K": 1 / 1024, "": 1 / 1048576, "M": 1, "G": 1024, "T": 1048576}[m.group(2).upper()]


def _after_scan(con: Any) -> None:
    """In low-memory mode (`LOW_MEMORY_ENV`): one DuckDB thread and a smaller limit after the scan."""
    if os.environ.get(LOW_MEMORY_ENV, "").strip().lower() not in ("1", "true", "yes"):
        return
    limit = _memory_limit_mb(con)
    if limit is not None:
        con.execute(f"SET memory_limit = '{max(int(limit * LOW_MEMORY_SHARE), 64)}MiB'")
    con.execute("SET threads = 1")


def _create_problems_table(con: Any) -> None:
    con.execute(
        f"CREATE OR REPLACE TABLE {crossrow.PROBLEMS} (row BIGINT, seq INTEGER, field VARCHAR, "
        "check_id VARCHAR, value VARCHAR, suggestion VARCHAR, detail VARCHAR)"
    )


def _scan(
    con: Any,
    ret: ReturnFile,
    table: str,
    spec: Spec,
    layout: ScanLayout,
    submission: date,
    workdir: str,
    *,
    values: bool = False,
) -> tuple[list[Problem], list[Path]]:
    """Run the scan into `table`; returns the problems of rows DuckDB could not split (T009-T011), and the
    files of the values (empty unless `values`).

    The scan streams, in file order, to Parquet files in `workdir`, and `table` is a view over them with the
    spreadsheet row number `__row`. (A `CREATE TABLE ... AS` keeps file order too, but under the memory limit
    DuckDB then inserts with one thread; streaming keeps both threads busy in flat memory.)

    `values`: the same read also carries every cell's value as submitted (text, blank as NULL, by national
    column name), written to files of their own, split as the scan's files are (`ReturnFile.load_scanned`
    numbers their rows as `_scan_view` does). Only the ingest asks for them (`validate_return`'s `load_into`):
    they hold every identifier of the file, and are never written otherwise.
    """
    rejects = ret.new_rejects_name()
    parts: list[Path] = []
    value_parts: list[Path] = []

    def stream(sql: str) -> None:
        scanned, carried = _stream_to_parquet(
            con, sql, Path(workdir), table, small=_is_small(ret), values_stem=f"{table}-values" if values else None
        )
        parts.extend(scanned)
        value_parts.extend(carried)

    ret.execute_read(
        con,
        lambda parallel: (
            f"SELECT *, {' OR '.join(f'({_reported_sql(spec, fl)})' for fl in layout.fields)} AS {REPORTED} "
            f"FROM ({_scan_sql(spec, layout, ret, rejects, parallel, submission, values=values)})"
        ),
        run=stream,
    )
    _scan_view(con, table, parts)
    problems = ret.rejected_rows(con, rejects)
    con.execute(f"DROP TABLE IF EXISTS {rejects}; DROP TABLE IF EXISTS {rejects}_scan")
    if con.execute(f"SELECT bool_or(ragged > 0) FROM {table}").fetchone()[0]:
        problems += ragged_problems(
            con,
            table,
            ret.name,
            len(ret.file_columns),
            row_sql="__row",
            where="ragged > 0",
            kind="ragged",
            row_map=ret.row_map,
        )
    return sorted(problems, key=lambda p: p.row or 0), value_parts


def _scan_sql(
    spec: Spec,
    layout: ScanLayout,
    ret: ReturnFile,
    rejects: str,
    parallel: bool,
    submission: date,
    *,
    values: bool,
) -> str:
    """The scan query (`build_scan_sql`); with `values`, its outermost SELECT also passes up every column as
    read, `nullif(value, '')` as `RAW_PREFIX` + national column name (the layers below it carry the read
    columns up, as its hashes and shown values need them)."""
    sql = build_scan_sql(spec, layout, ret.read_csv_sql(rejects, parallel=parallel), submission)
    if not values:
        return sql
    if not sql.startswith("SELECT "):
        raise RuntimeError("the scan query no longer starts with its outermost SELECT; _scan_sql needs updating")
    carried = ", ".join(f"nullif({quote_ident(c)}, '') AS {quote_ident(RAW_PREFIX + c)}" for c in ret.columns)
    return f"SELECT {carried}, {sql[len('SELECT '):]}"


def _is_small(ret: ReturnFile) -> bool:
    """Whether a return is small enough to hold its scan result in memory at once (under about 20,000 rows;
    a gzip file counts as 10 times its size, more than CSV usually compresses)."""
    return ret.size_bytes * (10 if ret.compression == "gzip" else 1) < SMALL_FILE_BYTES


def _stream_to_parquet(
    con: Any, sql: str, folder: Path, stem: str, *, small: bool = False, values_stem: str | None = None
) -> tuple[list[Path], list[Path]]:
    """Write the rows of `sql` in order to Parquet files `<stem>-<n>.parquet` in `folder`, a batch at a time,
    `SCAN_ROWS_PER_FILE` rows a file (the last holds the rest); returns the files in order (nothing is left
    behind on failure).

    The Parquet writer keeps every row group's metadata until it closes its file (about 0.12 MB for the scan's
    124 columns, and DuckDB hands over batches of about 16,000 rows): in one file that grew the process by
    about 8 MB per million rows. `_scan_view` numbers the rows from the file's index and the row's place in it.

    `small`: the source is small (`_is_small`).
    `values_stem`: the columns named `RAW_PREFIX` + name go, without the prefix, to files
    `<values_stem>-<n>.parquet` instead, cut at the same rows; returned second (empty when not given).
    """
    import pyarrow as pa
    import pyarrow.parquet as pq

    if small:
        # The relational API parses the long query text in Python first (~0.15 s a file); running the
        # statement directly skips that, and the extra copy of a small file's rows costs nothing.
        con.execute(sql)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            reader = con.to_arrow_reader(SCAN_BATCH_ROWS)
    else:
        reader = con.sql(sql).to_arrow_reader(SCAN_BATCH_ROWS)
    schema = reader.schema
    carried = [i for i, n in enumerate(schema.names) if n.startswith(RAW_PREFIX)] if values_stem else []
    kept = [i for i in range(len(schema.names)) if i not in set(carried)]
    # (stem, the batch's columns it takes, their schema, its files)
    outputs: list[tuple[str, list[int], Any, list[Path]]] = [
        (stem, kept, pa.schema([schema.field(i) for i in kept]), [])
    ]
    if values_stem is not None:
        fields = [schema.field(i).with_name(schema.field(i).name[len(RAW_PREFIX) :]) for i in carried]
        outputs.append((values_stem, carried, pa.schema(fields), []))
    writers: list[Any] = []
    room = 0  # rows the open files still take

    def next_files() -> None:
        for w in writers:
            w.close()
        writers.clear()
        for out_stem, _, out_schema, paths in outputs:
            paths.append(folder / f"{out_stem}-{len(paths):04d}.parquet")
            paths[-1].unlink(missing_ok=True)
            writers.append(pq.ParquetWriter(paths[-1], out_schema, compression="lz4"))

    try:
        for batch in reader:
            while batch.num_rows:
                if not writers or room == 0:
                    next_files()
                    room = SCAN_ROWS_PER_FILE
                part = batch.slice(0, room)
                for w, (_, columns, out_schema, _) in zip(writers, outputs, strict=True):
                    w.write_batch(
                        part
                        if len(outputs) == 1
                        else pa.RecordBatch.from_arrays([part.column(i) for i in columns], schema=out_schema)
                    )
                room -= part.num_rows
                batch = batch.slice(part.num_rows)
        if not writers:  # no rows: one empty file each, so the views have the columns
            next_files()
    except BaseException:
        for w in writers:
            w.close()
        for _, _, _, paths in outputs:
            for p in paths:
                p.unlink(missing_ok=True)
        raise
    for w in writers:
        w.close()
    return outputs[0][3], (outputs[1][3] if len(outputs) > 1 else [])


def _scan_view(con: Any, table: str, paths: Sequence[Path]) -> None:
    """`table`: the scan's rows from `_stream_to_parquet`'s files, numbered as a spreadsheet shows them
    (`__row`: 2 for the first data row)."""
    files = ", ".join(quote_str(str(p)) for p in paths)
    con.execute(
        f"CREATE OR REPLACE VIEW {table} AS SELECT CAST(file_index AS BIGINT) * {SCAN_ROWS_PER_FILE} "
        "+ file_row_number + 2 AS __row, * EXCLUDE (file_row_number) "
        f"FROM read_parquet([{files}], file_row_number = true)"
    )


def _repeated_header_sql(spec: Spec) -> str:
    """SQL true on a data row whose first three shown fields hold their own header names: a header row
    repeated inside the file, typically where two exports were joined together. Names are matched in any
    case and with spaces around them: a header typed again, or exported by another tool, is still a header
    (it was taken for a second LA code)."""
    shown = [f for f in spec.fields if value_shown(spec, f.column)][:3]
    return " AND ".join(
        f"lower(trim({quote_ident('v_' + f.column)})) = {quote_str(f.name.strip().lower())}" for f in shown
    )


# The last line of a listing cut at `_LISTED_ROWS` says how many rows it stands for, in the reader's words
# (`ascld.returns.reader.more_rows_message`): "this row and 5,000 more rows after it ...".
_LISTED_ROWS = 1000
_MORE_ROWS = re.compile(r"^this row and ([0-9,]+) more rows after it ")
# ... and of a cut listing of formula values (T012), one a cell: "this value and 2,000 more values after it
# (on 1,500 more rows) start with ...".
_MORE_VALUES = re.compile(r"^this value and ([0-9,]+) more values after it \(on ([0-9,]+) more rows\) ")
_FORMULA_TAIL = "start with =, +, - or @ and are not negative numbers"


def _rows_problems(
    con: Any, ret: ReturnFile, table: str, where: str, check_id: str, what: str
) -> list[Problem]:
    """One problem of `check_id` per row where `where` holds, listed up to `_LISTED_ROWS` rows; the last line
    of a full listing is this row and how many more rows after it `what` (counted by `_unusable`)."""
    rows = con.execute(
        f"SELECT __row FROM {table} WHERE {where} ORDER BY __row LIMIT {_LISTED_ROWS}"
    ).fetchall()
    chk = checks_by_id()[check_id]
    problems = [
        Problem(ret.name, int(r), "", chk.id, chk.severity, chk.message, chk.hint) for (r,) in rows
    ]
    if len(rows) == _LISTED_ROWS:
        more = int(con.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[0]) - _LISTED_ROWS
        if more:
            problems[-1] = Problem(
                ret.name,
                problems[-1].row,
                "",
                chk.id,
                chk.severity,
                more_rows_message(more, what),
                chk.hint,
            )
    return problems


def _repeated_headers(con: Any, ret: ReturnFile, table: str, spec: Spec) -> list[Problem]:
    """T018: data rows that repeat the header row."""
    return _rows_problems(con, ret, table, _repeated_header_sql(spec), "T018", "repeat the header row")


def _empty_rows_sql(spec: Spec) -> str:
    """SQL true on a data row whose every value is blank (a line of commas only)."""
    return " AND ".join(f"{decode_sql(c, 'blank')} = 1" for c in spec.columns)


def _empty_rows(con: Any, ret: ReturnFile, table: str, spec: Spec, n_rows: int) -> list[Problem]:
    """T008 when every data row is blank (a header and lines of commas only), else T020 for each blank row.

    A spreadsheet saves rows it once used below the data as lines of commas. Checked cell by cell, each
    such row gave a blank-field failure for every mandatory field and counted as a copy of the one before;
    it is one problem a row instead."""
    # Only a row with LA Code blank can be blank throughout: one narrow column rules out almost every file.
    if not con.execute(f"SELECT bool_or({decode_sql('LA_Code', 'blank')} = 1) FROM {table}").fetchone()[0]:
        return []
    where = _empty_rows_sql(spec)
    n_empty = int(con.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[0])
    if n_empty == 0:
        return []
    if n_empty == n_rows:
        chk = checks_by_id()["T008"]
        message = (
            f"the file has {n_rows:,} rows after the header, but every value in them is blank "
            "(lines of commas only)"
            if n_rows > 1
            else "the file has one row after the header, but every value in it is blank (commas only)"
        )
        return [Problem(ret.name, None, "", chk.id, chk.severity, message, chk.hint)]
    return _rows_problems(con, ret, table, where, "T020", "are empty too")


def _loaded_transport(con: Any, ret: ReturnFile, table: str, spec: Spec, n_rows: int) -> list[Problem]:
    """T008 (no rows, or only blank ones), T020 (blank rows), T018 (repeated header rows), T012 (formula
    values, from the formula bit of the cell codes), T013 and T014."""
    from ascld.returns.reader import loaded_transport_problems

    if n_rows == 0:
        return loaded_transport_problems(con, table, ret.name, spec.columns, 0)
    empty = _empty_rows(con, ret, table, spec, n_rows)
    if empty and empty[0].check_id == "T008":
        return empty
    problems = sorted(_repeated_headers(con, ret, table, spec) + empty, key=lambda p: p.row or 0)
    # Repeated header rows are left out of the counts below (their 'LA Code' is not a second council).
    data_rows = f"NOT ({_repeated_header_sql(spec)})" if problems else "TRUE"
    if con.execute(f"SELECT bool_or(has_formula) FROM {table}").fetchone()[0]:
        union = " UNION ALL ".join(
            f"SELECT __row AS row, {i} AS pos FROM {table} WHERE {decode_sql(c, 'formula')} = 1"
            for i, c in enumerate(spec.columns)
        )
        hits = con.execute(f"SELECT row, pos FROM ({union}) ORDER BY row, pos LIMIT {_LISTED_ROWS}").fetchall()
        formulas = [formula_problem(ret.name, int(r), spec.columns[p]) for r, p in hits]
        if len(hits) == _LISTED_ROWS:
            last = int(hits[-1][0])
            total, rows_after = con.execute(
                f"SELECT count(*), count(DISTINCT row) FILTER (WHERE row > {last}) FROM ({union})"
            ).fetchone()
            if total > _LISTED_ROWS:
                p = formulas[-1]
                formulas[-1] = Problem(
                    p.file,
                    p.row,
                    p.field,
                    p.check_id,
                    p.severity,
                    f"this value and {int(total) - _LISTED_ROWS:,} more values after it (on {int(rows_after):,} "
                    f"more rows) {_FORMULA_TAIL} (not listed one by one)",
                    p.hint,
                )
        problems += formulas
    n_la, n_periods = con.execute(
        f"SELECT count(DISTINCT la), "
        f"count(DISTINCT (rs, re)) FILTER (WHERE rs IS NOT NULL AND re IS NOT NULL) "
        f"FROM {table} WHERE {data_rows}"
    ).fetchone()
    la_row = period_row = None
    if n_la > 1:
        la_row = con.execute("SELECT " + first_other_row_sql(table, "la", "la IS NOT NULL", data_rows)).fetchone()[0]
    if n_periods > 1:
        period_row = con.execute(
            "SELECT " + first_other_row_sql(table, "(rs, re)", "rs IS NOT NULL AND re IS NOT NULL", data_rows)
        ).fetchone()[0]
    problems += period_la_problems(ret.name, int(n_la), int(n_periods), la_row, period_row)
    return problems


# --- problems
# ------------------------------------------------------------------------------------------------


def _reported_sql(spec: Spec, fl: FieldLayout) -> str:
    """SQL true where a cell of `fl` has a problem listed cell by cell (a failing check, a warning that is not
    only counted, or a value filled in though not applicable)."""
    code = quote_ident("code_" + fl.column)
    aggregated = {c.id for c in load_checks() if c.params.get("aggregate") == "value"}
    has_na = any(fl.column in chk.columns(spec) for chk in load_checks() if chk.rule in DERIVED_RULES)
    listed = sum(1 << b for b, chk in enumerate(fl.warnings) if chk.id not in aggregated) << 4
    return f"({code} & {15 | listed}) <> 0" + (f" OR {decode_sql(fl.column, 'not_applicable')}" if has_na else "")


def _insert_rows(con: Any, table: str, rows: Sequence[Sequence[Any]], per_statement: int = 500) -> None:
    """Insert `rows` (Python values, as parameters) into `table`, a few hundred rows a statement: `executemany`
    runs one INSERT per row, which cost about 0.07 s a file for the check map alone."""
    for start in range(0, len(rows), per_statement):
        chunk = rows[start : start + per_statement]
        marks = "(" + ", ".join("?" for _ in chunk[0]) + ")"
        con.execute(f"INSERT INTO {table} VALUES {', '.join(marks for _ in chunk)}", [v for row in chunk for v in row])


def _cell_problems(con: Any, table: str, spec: Spec, layout: ScanLayout) -> None:
    """Expand the packed per-cell codes into one problem per failing check and warning."""
    by_id = checks_by_id()
    na_checks = [c for c in load_checks() if c.rule in DERIVED_RULES]
    slots = max((len(fl.details) for fl in layout.fields), default=0)
    aggregated = {c.id for c in load_checks() if c.params.get("aggregate") == "value"}
    # 1. The cells with something to report into one narrow table: the rows with any, in one scan of the
    #    (wide) scan table, then one small scan of those per field.
    parts = []
    for n, fl in enumerate(layout.fields):
        c, code = fl.column, quote_ident("code_" + fl.column)
        value = quote_ident("v_" + c) if value_shown(spec, c) else "CAST(NULL AS VARCHAR)"
        interesting = _reported_sql(spec, fl)
        names = list(fl.details.values())
        details = "".join(
            f", {quote_ident(names[k]) if k < len(names) else 'CAST(NULL AS VARCHAR)'} AS d{k}"
            for k in range(slots)
        )
        parts.append(
            f"SELECT __row AS row, {n} AS fieldno, CAST({code} AS INTEGER) AS code, {value} AS value"
            f"{details} FROM __ascld_hit WHERE {interesting}"
        )
    con.execute(f"CREATE OR REPLACE TEMP TABLE __ascld_hit AS SELECT * FROM {table} WHERE {REPORTED}")
    any_hit = con.execute("SELECT count(*) FROM __ascld_hit").fetchone()[0] > 0
    # (Without any, as in a clean file, the steps below are skipped: planning them alone takes ~0.1 s.)
    if any_hit:
        con.execute(f"CREATE OR REPLACE TEMP TABLE __ascld_cells AS {' UNION ALL '.join(parts)}")
        # 2. Which check each code part stands for, per field (kind f: failing check index; w: warning bit;
        #    na: filled in though not applicable), and which detail slot carries its {detail}.
        map_rows: list[tuple[int, int, str, str, int, str, int]] = []
        for n, fl in enumerate(layout.fields):
            names = list(fl.details)
            for i, chk in enumerate(fl.errors, start=1):
                map_rows.append(
                    (n, fl.seq, fl.column, "f", i, chk.id, names.index(chk.id) if chk.id in names else -1)
                )
            for bit, chk in enumerate(fl.warnings):
                if chk.id not in aggregated:
                    slot = names.index(chk.id) if chk.id in names else -1
                    map_rows.append((n, fl.seq, fl.column, "w", 1 << bit, chk.id, slot))
            for chk in na_checks:
                if fl.column in chk.columns(spec):
                    map_rows.append((n, fl.seq, fl.column, "na", 0, chk.id, -1))
        con.execute(
            "CREATE OR REPLACE TEMP TABLE __ascld_map (fieldno INTEGER, seq INTEGER, field VARCHAR, "
            "kind VARCHAR, part INTEGER, check_id VARCHAR, slot INTEGER)"
        )
        _insert_rows(con, "__ascld_map", map_rows)
        whens = " ".join(f"WHEN {k} THEN c.d{k}" for k in range(slots))
        detail = f"CASE m.slot {whens} END" if slots else "NULL"
        con.execute(f"""
            INSERT INTO {crossrow.PROBLEMS} (row, seq, field, check_id, value, suggestion, detail)
            SELECT c.row, m.seq, m.field, m.check_id, CASE WHEN m.kind = 'na' THEN NULL ELSE c.value END,
                   NULL, {detail}
            FROM __ascld_cells c JOIN __ascld_map m ON m.fieldno = c.fieldno
            WHERE (m.kind = 'f' AND (c.code & 15) = m.part)
               OR (m.kind = 'w' AND (c.code & 15) = 0 AND ((c.code >> 4) & m.part) <> 0)
               OR (m.kind = 'na' AND (c.code & 15) = 0 AND ((c.code >> 12) & 7) = 2)""")
        con.execute("DROP TABLE __ascld_cells")
    con.execute("DROP TABLE __ascld_hit")
    # Warnings that repeat one value on many rows are listed once per field and value (checks.csv: aggregate),
    # straight from the scanned table, on the value's first row with the number of rows.
    # First which of them occur at all (one narrow scan), so a field without them costs no branch below.
    candidates = [
        (fl, bit, chk) for fl in layout.fields for bit, chk in enumerate(fl.warnings) if chk.id in aggregated
    ]

    def warned(fl: FieldLayout, bit: int) -> str:
        return f"{decode_sql(fl.column, 'f')} = 0 AND ({decode_sql(fl.column, 'w')} & {1 << bit}) <> 0"

    occurring = (
        con.execute(
            f"SELECT {', '.join(f'bool_or({warned(fl, bit)})' for fl, bit, _ in candidates)} FROM {table}"
        ).fetchone()
        if candidates
        else ()
    )
    # Grouped by the whole value (`vk_`), not the shown one: that is cut to 80 characters and is one marker for
    # every value hidden as its row's own details, so distinct values would be counted as one.
    agg = [
        f"SELECT min(__row), {fl.seq}, '{fl.column}', '{chk.id}', {value}, NULL, "
        f"format('{{:,}}', count(*)) FROM {table} WHERE {warned(fl, bit)} GROUP BY {key}"
        for (fl, bit, chk), occurs in zip(candidates, occurring, strict=True)
        if occurs
        for shown in [value_shown(spec, fl.column)]
        for key in [quote_ident("vk_" + fl.column) if shown else "CAST(NULL AS VARCHAR)"]
        for value in [f"arg_min({quote_ident('v_' + fl.column)}, __row)" if shown else "CAST(NULL AS VARCHAR)"]
    ]
    if agg:
        con.execute(
            f"INSERT INTO {crossrow.PROBLEMS} (row, seq, field, check_id, value, suggestion, detail) "
            f"{' UNION ALL '.join(agg)}"
        )
    # Suggestions for case variants and Release 1 values: worked out once per distinct value, not per row.
    wanted = ", ".join(quote_str(c.id) for c in by_id.values() if c.rule in ("list_case", "release1"))
    pairs = con.execute(
        f"SELECT DISTINCT field, check_id, value FROM {crossrow.PROBLEMS} "
        f"WHERE check_id IN ({wanted}) AND value IS NOT NULL"
    ).fetchall()
    texts = detail_texts()
    rows = []
    for column, cid, value in pairs:
        lst = spec.list_for(column)
        if lst is None:
            continue
        suggestion = list_suggestion(value, lst, spec)
        text: str | None = None
        if by_id[cid].rule == "release1":
            key = "mapped" if suggestion else "unmapped"
            text = texts[(cid, key)].replace("{suggestion}", suggestion or "").replace("{list}", lst.name)
        rows.append([column, cid, value, suggestion, text])
    if rows:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE __ascld_sugg (field VARCHAR, check_id VARCHAR, value VARCHAR, "
            "suggestion VARCHAR, detail VARCHAR)"
        )
        _insert_rows(con, "__ascld_sugg", rows)
        con.execute(
            f"UPDATE {crossrow.PROBLEMS} p SET suggestion = s.suggestion, detail = coalesce(s.detail, "
            "p.detail) FROM __ascld_sugg s WHERE p.field = s.field AND p.check_id = s.check_id AND "
            "p.value = s.value"
        )
    _hide_rare_values(con, table, spec)


def _hide_rare_values(con: Any, table: str, spec: Spec) -> None:
    """Give as "the value (not shown: ...)" a shown value that could be a name moved into the field.

    A value is hidden when it holds no digit, is not a value of the field's list in any spelling (case, spaces
    around it, Release 1), and fewer than `FEWEST_PEOPLE_SHOWN` people of the file have it in that field
    (people told apart by LA person ID, else NHS number, else row). A name swapped into a list field on a
    person's only row cannot be told from a local code by its shape; one that several people share does not
    single anyone out. Worked out in DuckDB per distinct value of the problems, so a clean file pays one small
    query and a file of a million odd values no Python loop.
    """
    markers = f"{quote_str(HIDDEN_VALUE)}, {quote_str(RARE_VALUE)}"
    candidate = f"value IS NOT NULL AND value NOT IN ({markers}) AND NOT regexp_matches(value, '[0-9]')"
    if not con.execute(f"SELECT count(*) FROM {crossrow.PROBLEMS} WHERE {candidate}").fetchone()[0]:
        return
    spellings = [
        (f.column, v.strip().casefold())
        for f in spec.fields
        if f.defined_list and value_shown(spec, f.column)
        for v in (*spec.lists[f.defined_list].r2_values, *spec.lists[f.defined_list].r1_values)
    ]
    rows = ", ".join(f"({quote_str(c)}, {quote_str(v)})" for c, v in spellings)
    con.execute(f"CREATE OR REPLACE TEMP TABLE __ascld_spell AS FROM (VALUES {rows}) s(field, folded)")
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE __ascld_rare AS
        WITH cand AS (
            SELECT field, value FROM {crossrow.PROBLEMS} WHERE {candidate}
            EXCEPT SELECT field, value FROM {crossrow.PROBLEMS} WHERE suggestion IS NOT NULL)
        SELECT c.field, c.value FROM cand c
        ANTI JOIN __ascld_spell s ON s.field = c.field AND s.folded = lower(trim(c.value))""")
    fields = [f for (f,) in con.execute("SELECT DISTINCT field FROM __ascld_rare ORDER BY 1").fetchall()]
    if fields:
        person = "coalesce(k_person, k_nhs, hash(__row))"
        holders = " UNION ALL ".join(
            f"SELECT {quote_str(c)} AS field, {quote_ident('v_' + c)} AS value, {person} AS person "
            f"FROM {table} WHERE {quote_ident('v_' + c)} IS NOT NULL"
            for c in fields
        )
        con.execute(f"""
            UPDATE {crossrow.PROBLEMS} p SET value = {quote_str(RARE_VALUE)}
            FROM (SELECT r.field, r.value FROM __ascld_rare r JOIN ({holders}) h USING (field, value)
                  GROUP BY ALL HAVING count(DISTINCT h.person) < {FEWEST_PEOPLE_SHOWN}) x
            WHERE p.field = x.field AND p.value = x.value""")
    con.execute("DROP TABLE __ascld_rare")
    con.execute("DROP TABLE __ascld_spell")


def _case(key: str, pairs: Mapping[str, Any], default: str = "NULL") -> str:
    """SQL `CASE key WHEN k THEN v ... END` for a small lookup (a join would not keep the rows' order)."""
    whens = " ".join(
        f"WHEN {quote_str(k)} THEN {quote_str(v) if isinstance(v, str) else v}" for k, v in pairs.items()
    )
    return f"CASE {key} {whens} ELSE {default} END"


def _order_sql(checks: Sequence[Check]) -> str:
    """The listing order of problems: by row (file-wide problems first), field, then checks.csv order."""
    return f"row NULLS FIRST, seq, {_case('check_id', {c.id: i for i, c in enumerate(checks)})}"


# The table of `RowMap.to_duckdb` while the problems are sorted (`_sort_problems`).
ROW_MAP = "__ascld_row_map"


def _shown_rows_sql(checks: Sequence[Check], row_map: RowMap | None, as_shown: Sequence[str]) -> str:
    """The problems with the rows a spreadsheet shows: `__row` translated by `row_map` (in a file with empty
    lines between its rows), in `row` and in a {detail} that is a row (checks.csv: `detail=row`). The problems
    of `as_shown` (the reader's warnings) have their rows as a spreadsheet shows them already."""
    if row_map is None:
        return crossrow.PROBLEMS
    row_details = ", ".join(quote_str(c.id) for c in checks if c.params.get("detail") == "row") or "NULL"
    keep = ", ".join(quote_str(c) for c in as_shown) or "NULL"
    return f"""(
        SELECT p.* EXCLUDE (detail_row) REPLACE (
            CASE WHEN p.check_id IN ({keep}) THEN p.row ELSE p.row + coalesce(m.added, 0) END AS row,
            CASE WHEN p.detail_row IS NULL THEN p.detail
                 ELSE CAST(p.detail_row + coalesce(d.added, 0) AS VARCHAR) END AS detail)
        FROM (SELECT *, CASE WHEN check_id IN ({row_details}) THEN TRY_CAST(detail AS BIGINT) END AS detail_row
              FROM {crossrow.PROBLEMS}) p
        ASOF LEFT JOIN {ROW_MAP} m ON p.row >= m.from_row
        ASOF LEFT JOIN {ROW_MAP} d ON p.detail_row >= d.from_row)"""


def _sort_problems(
    con: Any,
    checks: Sequence[Check],
    workdir: str,
    row_map: RowMap | None = None,
    as_shown: Sequence[str] = (),
) -> None:
    """Sort the problems once, narrow (before messages are rendered), into a Parquet file that the view
    `SORTED_PROBLEMS` reads in that order, so the listing and problems.csv need no sort of the long rendered
    texts. On disk, not in a table: a table of millions of problems (a file of duplicates) held DuckDB's
    memory and the next statement ran out of it (8,000,000 rows at the checker's limit).

    Every problem's row becomes the row a spreadsheet shows here, once for all outputs (`_shown_rows_sql`)."""
    path = quote_str(str(Path(workdir) / "problems-sorted.parquet"))
    if row_map is not None:
        row_map.to_duckdb(con, ROW_MAP)
    con.execute(
        f"COPY (SELECT * FROM {_shown_rows_sql(checks, row_map, as_shown)} ORDER BY {_order_sql(checks)}) "
        f"TO {path} (FORMAT parquet, COMPRESSION lz4)"
    )
    if row_map is not None:
        con.execute(f"DROP TABLE {ROW_MAP}")
    con.execute(f"DROP TABLE {crossrow.PROBLEMS}")
    con.execute(f"CREATE OR REPLACE VIEW {SORTED_PROBLEMS} AS SELECT * FROM read_parquet({path})")


SORTED_PROBLEMS = "__ascld_sorted_problems"


# Values of fields that are shown, but shaped like an identifier: an NHS number (10 digits, spaces or hyphens
# aside), a postcode, or a date outside a date field (a date of birth in a number or code column). Columns
# swapped or shifted in an export put such values there; a message never shows them.
_NHS_LIKE = r"[0-9]{10}"
_POSTCODE_LIKE = r"[A-Z]{1,2}[0-9][A-Z0-9]? *[0-9][A-Z]{2}"
_DATE_LIKE = (
    r"[0-9]{1,2} *[/.-] *[0-9]{1,2} *[/.-] *([0-9]{4}|[0-9]{2}\b)|[0-9]{4} *[/.-] *[0-9]{1,2} *[/.-] *[0-9]{1,2}"
)


def _looks_identifying_sql(spec: Spec) -> str:
    """SQL true when a problem's value `p.value` must not be shown although its field's values are."""
    dates = ", ".join(quote_str(f.column) for f in spec.fields if f.type == "date")
    # Each shape holds a digit: most values shown (list values) have none, and are passed at a third of the cost.
    return (
        "CASE WHEN NOT regexp_matches(p.value, '[0-9]') THEN FALSE ELSE "
        f"regexp_full_match(regexp_replace(p.value, '[\\s-]', '', 'g'), '{_NHS_LIKE}') "
        f"OR regexp_full_match(upper(trim(p.value)), '{_POSTCODE_LIKE}') "
        f"OR (p.field NOT IN ({dates}) AND regexp_matches(p.value, '{_DATE_LIKE}')) END"
    )


def _rendered_sql(file_name: str, spec: Spec, checks: Sequence[Check]) -> str:
    """Problems with their messages and hints filled in (values shown only for fields that allow it), in
    listing order (read from `SORTED_PROBLEMS`, whose insertion order is that order)."""
    # A line break or tab inside a value is shown escaped, so every message stays on one line.
    shown = "replace(replace(replace(p.value, chr(13), '\\r'), chr(10), '\\n'), chr(9), '\\t')"
    sensitive = ", ".join(quote_str(f.column) for f in spec.fields if f.sensitive)
    value = (
        f"CASE WHEN p.value = {quote_str(HIDDEN_VALUE)} THEN 'the value (N/A - PID)' "
        f"WHEN p.value = {quote_str(RARE_VALUE)} THEN 'the value (not shown: fewer than {FEWEST_PEOPLE_SHOWN} "
        "people have it, and it could be a name)' "
        f"WHEN p.value IS NOT NULL AND NOT ({_looks_identifying_sql(spec)}) THEN '\"' || {shown} || '\"' "
        f"WHEN p.value IS NOT NULL OR p.field IN ({sensitive}) THEN 'the value (N/A - PID)' ELSE 'the value' END"
    )
    lists = _case("p.field", {f.column: f.defined_list for f in spec.fields if f.defined_list}, "''")

    def fill(text: str) -> str:
        return (
            f"replace(replace(replace(replace({text}, '{{value}}', {value}), '{{suggestion}}', "
            f"coalesce(p.suggestion, '')), '{{detail}}', coalesce(p.detail, '')), '{{list}}', {lists})"
        )

    def attr(name: str) -> str:
        return _case("p.check_id", {c.id: getattr(c, name) for c in checks})

    return f"""
        SELECT {quote_str(file_name)} AS file, p.row, p.field, p.check_id, {attr("severity")} AS severity,
               {fill(attr("message"))} AS message, {fill(attr("hint"))} AS hint, p.seq
        FROM {SORTED_PROBLEMS} p"""


def _problem_objects(rows: Sequence[Sequence[Any]]) -> list[Problem]:
    return [
        Problem(
            file=r[0],
            row=None if r[1] is None else int(r[1]),
            field=r[2] or "",
            check_id=r[3],
            severity=r[4],
            message=r[5],
            hint=r[6],
        )
        for r in rows
    ]


# --- summary ------------------------------------------------------------------------------------------------


def _field_counts(con: Any, table: str, spec: Spec, layout: ScanLayout) -> list[dict[str, Any]]:
    """Counts by field x status x validity, from one pass over the packed codes."""
    hist = con.execute(
        "SELECT "
        + ", ".join(f"histogram({quote_ident('code_' + f.column)})" for f in layout.fields)
        + f" FROM {table}"
    ).fetchone()
    out = []
    for fl, h in zip(layout.fields, hist, strict=True):
        combos: dict[tuple[int, int], int] = {}
        for code, n in (h or {}).items():
            f_, blank, cond = code & 15, (code >> 12) & 1, ((code >> 13) & 3) - 1
            chk = fl.errors[f_ - 1].validity if f_ else (0 if blank else 1)
            combos[(cond, chk)] = combos.get((cond, chk), 0) + int(n)
        out.append(
            {
                "field": fl.column,
                "header": spec.field(fl.column).name,
                "counts": [
                    {
                        "status_code": s,
                        "status": _STATUS_BY_CODE[s],
                        "validity_code": v,
                        "validity": VALIDITY_LABELS[v],
                        "count": n,
                    }
                    for (s, v), n in sorted(combos.items(), key=lambda kv: (-kv[0][0], -kv[0][1]))
                ],
            }
        )
    return out


def _events_by_month(con: Any, table: str) -> list[dict[str, Any]]:
    rows = con.execute(
        f"SELECT strftime(date_trunc('month', d_end), '%Y-%m') AS m, coalesce(etype, ''), count(*) "
        f"FROM {table} WHERE d_end IS NOT NULL GROUP BY ALL ORDER BY 1, 2"
    ).fetchall()
    return [{"month": m, "event_type": (e or "").capitalize(), "events": int(n)} for m, e, n in rows]


def _iso(d: date | None) -> str | None:
    return d.isoformat() if d else None


def _base_summary(name: str, spec: Spec, submission: date, ret: ReturnFile | None, size: int | None) -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "tool": {"name": "ascld", "version": __version__},
        "file": {
            "name": name,
            "size_bytes": size,
            "compression": ret.compression if ret else None,
            "encoding": ret.encoding if ret else None,
        },
        "spec": {"version": spec.version, "overlay": spec.overlay, "label": spec.version_label},
        "submission_date": submission.isoformat(),
    }


def _totals(
    problems: Sequence[Problem] | None, counts: Sequence[Mapping[str, Any]], rows_err: int, rows_warn: int
) -> dict[str, int]:
    errors = sum(c["count"] for c in counts if c["severity"] == "error")
    warnings = sum(c["count"] for c in counts if c["severity"] == "warning")
    return {
        "problems": errors + warnings,
        "errors": errors,
        "warnings": warnings,
        "rows_with_errors": rows_err,
        "rows_with_warnings": rows_warn,
    }


def _more_rows(problem: Problem) -> tuple[int, int]:
    """How many more problems, and on how many more rows, the last line of a cut listing stands for besides
    itself ((0, 0) for any other problem)."""
    if problem.row is None:
        return 0, 0
    m = _MORE_ROWS.match(problem.message)
    if m:
        n = int(m.group(1).replace(",", ""))
        return n, n
    m = _MORE_VALUES.match(problem.message)
    if m:
        return int(m.group(1).replace(",", "")), int(m.group(2).replace(",", ""))
    return 0, 0


def one_line(text: str) -> str:
    """`text` with line breaks, tabs and other control characters escaped (a file may be named with them),
    so that a message stays on one line and cannot move a terminal's cursor.

    Examples:
        >>> one_line("q1\\n.csv: the file is empty")
        'q1\\\\n.csv: the file is empty'
    """
    return _CONTROL.sub(lambda m: _ESCAPES.get(m.group(0), f"\\x{ord(m.group(0)):02x}"), text)


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_ESCAPES = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\u2028": "\\u2028", "\u2029": "\\u2029"}


def _unusable(
    name: str,
    spec: Spec,
    submission: date,
    problems: list[Problem],
    ret: ReturnFile | None,
    size: int | None,
    row_count: int | None,
    max_problems: int,
) -> ValidationResult:
    # A listing cut short ends with a line standing for that row (or value) and every one after it: counted as
    # those, so the counts are of real problems (a file of 6,000 ragged rows has 6,000, not 1,000).
    more = [_more_rows(p) for p in problems]
    counts: dict[tuple[str, str], list[int]] = {}
    for p, (extra, extra_rows) in zip(problems, more, strict=True):
        entry = counts.setdefault((p.check_id, p.severity), [0, 0])
        entry[0] += 1 + extra
        entry[1] += extra_rows
    by_id = checks_by_id()
    problem_counts = [
        {
            "check_id": cid,
            "severity": sev,
            "description": by_id[cid].description if cid in by_id else "",
            "count": n,
            "rows": len({p.row for p in problems if p.check_id == cid and p.row}) + extra_rows,
        }
        for (cid, sev), (n, extra_rows) in sorted(counts.items())
    ]
    listed = problems[:max_problems]
    rows_with_errors = len({p.row for p in problems if p.severity == "error" and p.row}) + sum(
        rows for p, (_, rows) in zip(problems, more, strict=True) if p.severity == "error"
    )
    summary = _base_summary(name, spec, submission, ret, size)
    summary.update(
        {
            "usable": False,
            "exit_code": 2,
            "row_count": row_count,
            "la_code": None,
            "stated_period": None,
            "derived_period": None,
            "totals": _totals(problems, problem_counts, rows_with_errors, 0),
            "problem_counts": problem_counts,
            "fields": [],
            "events_by_month": [],
            "comparison": None,
            "listing": {
                "max_problems": max_problems,
                "listed": len(listed),
                # The rows a cut listing's last line stands for are not listed one by one either.
                "not_listed": len(problems) - len(listed) + sum(extra for extra, _ in more),
                "rows_not_listed": len({p.row for p in problems[max_problems:]} - {p.row for p in listed})
                + sum(rows for _, rows in more),
            },
            "problems": [p.to_dict() for p in listed],
            "reason": one_line(str(problems[0])) if problems else "the file cannot be read",
        }
    )
    return ValidationResult(
        file=name,
        usable=False,
        exit_code=2,
        row_count=row_count,
        problems=listed,
        problem_counts=problem_counts,
        summary=summary,
        _all_problems=problems,
    )


# --- the validator -----------------------------------------------------------------------------------------


class _Timer:
    """Wall seconds per step, logged at DEBUG and kept on the result (the benchmark reads them)."""

    def __init__(self) -> None:
        self.steps: dict[str, float] = {}

    @contextlib.contextmanager
    def step(self, name: str):  # noqa: ANN201
        start, cpu = time.perf_counter(), time.process_time()
        try:
            yield
        finally:
            self.steps[name] = self.steps.get(name, 0.0) + time.perf_counter() - start
            self.steps[f"{name}_cpu"] = self.steps.get(f"{name}_cpu", 0.0) + time.process_time() - cpu
            log.debug("step %s: %.3f s", name, self.steps[name])


def _submission_date(value: date | str | None) -> date:
    """The submission date `validate_return` was given: a date (a datetime counts as its date), the text
    YYYY-MM-DD, or None for today."""
    if value is None:
        return date.today()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip())
        except ValueError:
            raise UsageError(
                f"submission date {value!r} is not a date: write it as YYYY-MM-DD, for example 2025-10-20."
            ) from None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    raise UsageError(f"submission date must be a date or the text YYYY-MM-DD, not {type(value).__name__}.")


def validate_return(
    source: str | Path,
    *,
    previous: str | Path | None = None,
    spec: Spec | None = None,
    max_problems: int = 1000,
    submission_date: date | str | None = None,
    dq_out: str | Path | None = None,
    temp_dir: str | None = None,
    load_into: tuple[Any, str] | None = None,
    dq_record_ids: tuple[str, int] | None = None,
) -> ValidationResult:
    """Check a CLD return as the landing service does, before it is submitted.

    Args:
        source: the return (CSV or gzip-compressed CSV, Windows-1252).
        previous: the council's previous return, for the quarter-on-quarter checks.
        spec: the specification (default `load_spec()`; pass `load_spec(overlay)` for an overlay).
        max_problems: how many problems the listing (`result.problems`, the JSON summary) holds. Every problem
            is still counted, and problems.csv holds them all.
        submission_date: the date the file is (to be) submitted: dates after it are flagged and the derived
            period ignores events ending in or after its month: a date, or its text YYYY-MM-DD as the
            command line takes it. Default: today.
        dq_out: write a Parquet file with one row per data row: `__row`, `cond_<column>` and `chk_<column>`.
        temp_dir: where to put DuckDB's working files (default: the system temporary folder).
        load_into: (DuckDB connection, name): when the file is usable, also make view `name` there of its
            rows: `__row` (the spreadsheet row number) and every column as text by national column name,
            blank values NULL (the ingest's copy). The scan's one read of the file carries the values, written
            to Parquet files in this call's working folder (under `temp_dir`), which the view reads;
            `ReturnFile.drop_loaded(con, name)` drops the view and deletes them. Nothing of the values is
            written without `load_into`, or kept when the file is unusable or this call fails.
        dq_record_ids: (ImportFileId, first Der_Unique_Record_ID): write `dq_out` as the national store keeps
            it (`dq.parquet`, docs/national-store.md), the data rows numbered from that id in file order, so the
            ingest stores the file as written.

    Returns:
        A ValidationResult; its `exit_code` is 0 (no failures), 1 (failures) or 2 (unusable file).

    Raises:
        UsageError: the file does not exist, or an option is out of range.

    Examples:
        >>> import tempfile, pathlib
        >>> from ascld.quality.sample import write_rows, sample_rows
        >>> path = write_rows(pathlib.Path(tempfile.mkdtemp()) / "q2.csv", sample_rows(20, seed=3))
        >>> result = validate_return(path, submission_date=date(2025, 10, 20))
        >>> result.exit_code, result.row_count
        (0, 20)
    """
    if max_problems < 0:
        raise UsageError("max_problems cannot be negative.")
    spec = spec or load_spec()
    submission = _submission_date(submission_date)
    checks = load_checks()
    by_id = {c.id: c for c in checks}
    layout = layout_for(spec, checks)
    path = Path(source)
    name = path.name
    workdir = tempfile.mkdtemp(prefix="ascld-validate-", dir=temp_dir)
    keep_workdir = False
    ret: ReturnFile | None = None
    con = None
    loaded = False  # view `load_into` made (dropped again if this call does not return the result)
    timer = _Timer()
    try:
        try:
            with timer.step("open"):
                ret = open_return(path, spec=spec, temp_dir=workdir)
        except TransportError as exc:
            return _unusable(
                name, spec, submission, exc.problems, None, path.stat().st_size, None, max_problems
            )
        con = _connect(workdir)
        _create_problems_table(con)
        table = "dq"
        value_files: list[Path] = []
        with timer.step("scan"):
            try:
                rejected, value_files = _scan(
                    con, ret, table, spec, layout, submission, workdir, values=load_into is not None
                )
            except TransportError as exc:  # rows DuckDB cannot split at all (e.g. mixed line endings)
                rejected = list(exc.problems)
        if rejected:
            return _unusable(name, spec, submission, rejected, ret, ret.size_bytes, None, max_problems)
        _after_scan(con)
        with timer.step("transport"):
            n_rows = int(con.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
            transport = shown_rows(_loaded_transport(con, ret, table, spec, n_rows), ret.row_map)
        if transport:
            return _unusable(name, spec, submission, transport, ret, ret.size_bytes, n_rows, max_problems)

        with timer.step("cells"):
            _cell_problems(con, table, spec, layout)
        cols = spec.columns
        cross = timer.step("across_rows")
        cross.__enter__()
        crossrow.duplicate_rows(con, table, by_id["X001"])
        crossrow.duplicate_events(con, table, by_id["X002"])
        crossrow.person_conflicts(con, table, by_id["X003"], by_id["X003"].columns(spec), cols)
        crossrow.linked_people_missing(con, table, by_id["X004"], by_id["X004"].columns(spec), cols)
        crossrow.event_references_reused(con, table, by_id["X005"], cols)
        n_test = con.execute(f"SELECT count(*) FROM {table} WHERE nhs_test").fetchone()[0]
        if n_test:
            crossrow.file_problem(
                con, by_id["C017"], f"{n_test:,}", field="NHS_Number", seq=cols.index("NHS_Number") + 1
            )
        start, end = crossrow.stated_period(con, table)
        if start and end and end >= start:
            shape = crossrow.period_shape_detail(start, end)
            if shape:
                crossrow.file_problem(
                    con,
                    by_id["C047"],
                    shape,
                    field="Reporting_Period_End_Date",
                    seq=cols.index("Reporting_Period_End_Date") + 1,
                )
        derived = crossrow.derived_period(con, table, submission)
        if (
            start
            and end
            and derived["start"]
            and (derived["start"] > start.replace(day=1) or derived["end"] < end)
        ):
            crossrow.file_problem(
                con,
                by_id["P001"],
                (
                    f"runs {crossrow._fmt(start)} to {crossrow._fmt(end)}, but the data cover "
                    f"{crossrow._fmt(derived['start'])} to {crossrow._fmt(derived['end'])} "
                    "as the national method "
                    "derives the period"
                ),
            )
        elif start and end and derived["start"] is None:
            # No month counts (no event ended before the month of submission): the national method derives no
            # period, and the file can never be selected (main-tables.md §2 step 6).
            crossrow.file_problem(
                con,
                by_id["P001"],
                (
                    f"runs {crossrow._fmt(start)} to {crossrow._fmt(end)}, but no event in the data ended before the "
                    "month of submission, so the national method derives no period from it and cannot select the "
                    "file"
                ),
            )
        for problem in ret.warnings:
            crossrow.file_problem(
                con,
                by_id[problem.check_id],
                problem.message,
                field=problem.field,
                seq=cols.index(problem.field) + 1 if problem.field else 0,
                row=problem.row,
            )
        cross.__exit__(None, None, None)
        comparison = None
        if previous is not None:
            with timer.step("compare"):
                comparison = _compare(con, Path(previous), spec, layout, submission, workdir, by_id, table)

        # Counts, listing, full CSV.
        outputs = timer.step("outputs")
        outputs.__enter__()
        _sort_problems(con, checks, workdir, ret.row_map, [p.check_id for p in ret.warnings])
        rendered = _rendered_sql(name, spec, checks)
        counts_rows = con.execute(f"""
            SELECT check_id, severity, count(*), count(DISTINCT row) FROM ({rendered}) GROUP BY
            ALL""").fetchall()
        order = {c.id: i for i, c in enumerate(checks)}
        problem_counts = sorted(
            (
                {
                    "check_id": cid,
                    "severity": sev,
                    "description": by_id[cid].description,
                    "count": int(n),
                    "rows": int(r),
                }
                for cid, sev, n, r in counts_rows
            ),
            key=lambda d: order[d["check_id"]],
        )
        rows_err, rows_warn = con.execute(f"""
            SELECT count(DISTINCT row) FILTER (WHERE severity = 'error'),
                   count(DISTINCT row) FILTER (WHERE severity = 'warning') FROM ({rendered})""").fetchone()
        listing = con.execute(f"SELECT * FROM ({rendered}) LIMIT {int(max_problems)}").fetchall()
        problems = _problem_objects(listing)
        total = sum(c["count"] for c in problem_counts)
        rows_not_listed = 0
        if total > len(problems):
            # The listing is in row order: every row before its last row is listed whole, so the rows left
            # out are those after it.
            last = problems[-1].row if problems else None
            after = f" AND row > {int(last)}" if last is not None else ""
            rows_not_listed = int(
                con.execute(
                    f"SELECT count(DISTINCT row) FROM {SORTED_PROBLEMS} WHERE row IS NOT NULL{after}"
                ).fetchone()[0]
            )
        problems_csv = Path(workdir) / "problems.csv"
        con.execute(
            f"COPY (SELECT {spreadsheet_text_sql('file')} AS file, row, {spreadsheet_text_sql('field')} AS field, "
            f"check_id, severity, {spreadsheet_text_sql('message')} AS message, "
            f"{spreadsheet_text_sql('hint')} AS hint FROM ({rendered})) "
            f"TO {quote_str(str(problems_csv))} (HEADER, DELIMITER ',')"
        )
        if dq_out:
            _write_dq_parquet(con, table, layout, Path(dq_out), dq_record_ids)

        if load_into is not None:
            loaded = True
            ReturnFile.load_scanned(*load_into, value_files, rows_per_file=SCAN_ROWS_PER_FILE)
        la = con.execute(f"SELECT min(la) FROM {table}").fetchone()[0]
        errors = sum(c["count"] for c in problem_counts if c["severity"] == "error")
        exit_code = 1 if errors else 0
        summary = _base_summary(name, spec, submission, ret, ret.size_bytes)
        summary.update(
            {
                "usable": True,
                "exit_code": exit_code,
                "row_count": n_rows,
                "la_code": la,
                "stated_period": {"start": _iso(start), "end": _iso(end)},
                "derived_period": {
                    "start": _iso(derived["start"]),
                    "end": _iso(derived["end"]),
                    "eligible_events": derived["eligible_events"],
                    "months": derived["months"],
                },
                "totals": _totals(None, problem_counts, int(rows_err), int(rows_warn)),
                "problem_counts": problem_counts,
                "fields": _field_counts(con, table, spec, layout),
                "events_by_month": _events_by_month(con, table),
                "comparison": comparison,
                "listing": {
                    "max_problems": max_problems,
                    "listed": len(problems),
                    "not_listed": total - len(problems),
                    "rows_not_listed": rows_not_listed,
                },
                "problems": [p.to_dict() for p in problems],
                "reason": None,
            }
        )
        outputs.__exit__(None, None, None)
        keep_workdir = True
        return ValidationResult(
            file=name,
            usable=True,
            exit_code=exit_code,
            row_count=n_rows,
            problems=problems,
            problem_counts=problem_counts,
            summary=summary,
            timings=timer.steps,
            _problems_csv=problems_csv,
            _workdir=workdir,
        )
    finally:
        if con is not None:
            con.close()
        if ret is not None:
            ret.close()
        if loaded and not keep_workdir and load_into is not None:
            with contextlib.suppress(Exception):  # the error on its way out matters more
                ReturnFile.drop_loaded(*load_into)
        shutil.rmtree(Path(workdir) / "spill", ignore_errors=True)
        if not keep_workdir:
            shutil.rmtree(workdir, ignore_errors=True)


def _compare(
    con: Any,
    previous: Path,
    spec: Spec,
    layout: ScanLayout,
    submission: date,
    workdir: str,
    by_id: Mapping[str, Check],
    table: str,
) -> dict[str, Any] | None:
    """Scan the previous return and run the quarter-on-quarter checks; Q007 when it cannot be read."""
    if not previous.exists():
        raise UsageError(f"{previous}: no such file (the --previous return). Check the path and try again.")
    try:
        prev = open_return(previous, spec=spec, temp_dir=workdir)
    except TransportError as exc:
        crossrow.file_problem(con, by_id["Q007"], exc.problems[0].message)
        return None
    try:
        try:
            rejected, _ = _scan(con, prev, "dq_prev", spec, layout, submission, workdir)
        except TransportError as exc:  # rows DuckDB cannot split at all (e.g. mixed line endings)
            rejected = list(exc.problems)
        if rejected:
            crossrow.file_problem(con, by_id["Q007"], rejected[0].message)
            return None
        return crossrow.compare_returns(
            con,
            table,
            "dq_prev",
            dict(by_id),
            spec.columns,
            previous_name=prev.name,
            previous_row=prev.row_map.shown if prev.row_map is not None else None,
        )
    finally:
        prev.close()


def _write_dq_parquet(
    con: Any, table: str, layout: ScanLayout, path: Path, record_ids: tuple[str, int] | None = None
) -> None:
    """The per-row national codes: `__row`, then `cond_<column>` and `chk_<column>` for every field.

    `record_ids` (ImportFileId, first Der_Unique_Record_ID): the national store's form of the file instead
    (`ascld.national.store.write_dq_file`), the first data row (`__row` 2) given that id, each next row one more.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    cols = ["__row"]
    for fl in layout.fields:
        cols.append(f"{decode_sql(fl.column, 'cond')} AS {quote_ident('cond_' + fl.column)}")
        cols.append(f"{chk_sql(fl)} AS {quote_ident('chk_' + fl.column)}")
    select = f"SELECT {', '.join(cols)} FROM {table}"
    if record_ids is None:
        con.execute(f"COPY ({select} ORDER BY __row) TO {quote_str(str(path))} (FORMAT parquet)")
        return
    from ascld.national.store import write_dq_file

    import_id, first_id = record_ids
    names = [n for fl in layout.fields for n in ("cond_" + fl.column, "chk_" + fl.column)]
    write_dq_file(con, f"({select})", names, import_id, int(first_id) - 2, path, work=path.parent)
