"""Reading CLD return files: the transport checks the landing service applies, and loading rows into DuckDB.

A return is accepted for checking when it is

* a CSV file, plain or gzip-compressed (nothing else: no Excel workbook, no other compression);
* not empty, and not binary;
* encoded in Windows-1252 (cp1252) with no byte-order mark: a UTF-8 BOM, UTF-16, bytes cp1252 does not define,
  or text that is really UTF-8 (accented letters written as two bytes) are refused;
* headed by exactly the specification's column names, in the specification's order (near misses get a
  suggestion: underscores for spaces, case, a missing colon ...);
* split into rows that all have as many values as the header, with closed quotes and no line over 1 MiB;

and, once loaded (`ReturnFile.to_duckdb` or the validator), when it has at least one data row, no value
starting
`=`, `+`, `-` or `@` (spreadsheet formula injection) unless it is a negative number, and one LA code and one
stated reporting period throughout.

DuckDB has no Windows-1252 reader, so a file with any non-ASCII byte is transcoded to UTF-8 into a temporary
file
in blocks (gzip files are decompressed the same way); a plain ASCII file is read where it is. Memory use does
not
grow with the file.

Row numbers are counted as a spreadsheet shows them: the header is row 1 and the first data row is row 2; a
value with a line break inside quotes stays on one row, and an empty line is an empty row. DuckDB skips empty
lines, so the loaded rows' `__row` (the record's place + 2, from which the national store numbers its records)
does not count them; in a file with empty lines between its rows, the rows reported to the user are translated
by `RowMap` (`ReturnFile.row_map`), and the empty lines are reported (T016, a warning). A line of spaces is not
empty: it is read as a row (with too few values).

Examples:
    >>> from ascld.quality.sample import write_rows, sample_rows
    >>> import tempfile, pathlib, duckdb
    >>> path = write_rows(pathlib.Path(tempfile.mkdtemp()) / "r.csv", sample_rows(3))
    >>> with open_return(path) as ret:
    ...     con = duckdb.connect()
    ...     ret.to_duckdb(con, "ret")
    ...     con.execute("SELECT min(__row), max(__row) FROM ret").fetchone()
    3
    (2, 4)
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import gzip
import io
import os
import re
import shutil
import tempfile
import weakref
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ascld.errors import UnusableInput, UsageError
from ascld.quality.problem import Problem
from ascld.spec import load_spec
from ascld.spec.model import Spec

READ_BYTES = 1 << 24  # 16 MiB reads
MAX_LINE_BYTES = 1 << 20
EXTRA_COLUMN = "__extra"
NO_NULL = "__ascld_never_null__"  # DuckDB's nullstr: no real value is this, so empty values stay ''
_CSV_ERROR = "CSV Error on Line"  # how DuckDB starts the message of a read it gives up (it quotes the line)


def ragged_sql(columns: Sequence[str]) -> str:
    """1 when a row read by `ReturnFile.read_csv_sql` has too few values, 2 too many, else 0."""
    last = '"' + columns[-1] + '"'
    return f"CASE WHEN {last} IS NULL THEN 1 WHEN {EXTRA_COLUMN} IS NOT NULL THEN 2 ELSE 0 END"


# Bytes Windows-1252 leaves undefined; Python's cp1252 codec refuses them, as the landing service does.
CP1252_UNDEFINED = frozenset({0x81, 0x8D, 0x8F, 0x90, 0x9D})
_MAGIC: tuple[tuple[bytes, str], ...] = (
    (b"PK\x03\x04", "a ZIP archive or an Excel workbook (.xlsx)"),
    (b"PK\x05\x06", "an empty ZIP archive"),
    (b"PK\x07\x08", "a ZIP archive"),
    (b"\x89PNG", "a PNG image"),
    (b"\xff\xd8\xff", "a JPEG image"),
    (b"GIF8", "a GIF image"),
    (b"\xd0\xcf\x11\xe0", "an Excel 97-2003 workbook (.xls) or another Office file"),
    (b"%PDF", "a PDF document"),
    (b"BZh", "a bzip2-compressed file"),
    (b"\xfd7zXZ\x00", "an xz-compressed file"),
    (b"7z\xbc\xaf\x27\x1c", "a 7-Zip archive"),
    (b"\x28\xb5\x2f\xfd", "a Zstandard-compressed file"),
    (b"Rar!", "a RAR archive"),
    (b"PAR1", "a Parquet file"),
    (b"SQLite format 3", "a SQLite database"),
    # Seen only after one gzip layer is taken off (a plain file starting so is read as gzip).
    (b"\x1f\x8b", "compressed twice (a gzip file inside a gzip file)"),
)
GZIP_MAGIC = b"\x1f\x8b"
# Text formats that are not CSV, told by how they start (after white space, case ignored).
_TEXT_MAGIC: tuple[tuple[tuple[bytes, ...], str], ...] = (
    ((b"<!doctype html", b"<html", b"<table", b"<head", b"<body"), "a web page (HTML)"),
    ((b"<?xml", b"<workbook", b"<ss:workbook"), "an XML document (such as an Excel XML spreadsheet)"),
    ((b"{\\rtf",), "a Rich Text (RTF) document"),
    ((b'{"', b"[{", b"[\n", b"[\r\n", b'["'), "JSON data"),
)


class TransportError(UnusableInput):
    """The return cannot be checked at all (exit code 2). `problems` lists every transport problem found."""

    def __init__(self, problems: Sequence[Problem]):
        self.problems = list(problems)
        first = self.problems[0]
        more = f" (and {len(self.problems) - 1} more transport problems)" if len(self.problems) > 1 else ""
        super().__init__(str(first) + more)


def _problem(
    file: str, check_id: str, message: str, hint: str, *, row: int | None = None, field: str = ""
) -> Problem:
    return Problem(
        file=file, row=row, field=field, check_id=check_id, severity="error", message=message, hint=hint
    )


@dataclass
class ReturnFile:
    """A return file that passed the byte-level and header checks, ready to load into DuckDB.

    Attributes:
        path: the file as given.
        name: its base name, used in every message.
        compression: "none" or "gzip".
        encoding: "ascii" (nothing to transcode) or "windows-1252".
        header: the header row as read.
        columns: national column names of every field, in the specification's order (a column the file
            leaves out is read as blank: `omitted`).
        file_columns: the columns the file holds, in file order (`columns` less `omitted`).
        data_path: the UTF-8 CSV DuckDB reads: the file itself, or a temporary transcoded copy.
        size_bytes: size of the file as given.
        warnings: transport observations that do not stop checking (e.g. empty lines, T016); their rows are
            already as a spreadsheet shows them.
        row_map: the rows as a spreadsheet shows them, when empty lines come between data rows (else None: then
            `__row` is the row a spreadsheet shows).
    """

    path: Path
    name: str
    compression: str
    encoding: str
    header: tuple[str, ...]
    columns: tuple[str, ...]
    data_path: Path
    size_bytes: int
    warnings: list[Problem] = field(default_factory=list)
    omitted: tuple[str, ...] = ()  # optional columns (`Field.may_be_omitted`) the file leaves out
    duckdb_encoding: str = "utf-8"  # how DuckDB reads data_path: utf-8, or latin-1 (= Windows-1252 here)
    parallel: bool = True  # False once DuckDB has refused to read it in parallel (quoted line breaks)
    row_map: RowMap | None = None
    _tmpdir: str | None = field(default=None, repr=False)
    _scan_count: int = field(default=0, repr=False)

    @property
    def file_columns(self) -> tuple[str, ...]:
        return tuple(c for c in self.columns if c not in self.omitted)

    def read_csv_sql(self, rejects: str | None = None, *, parallel: bool | None = None) -> str:
        """The DuckDB `read_csv(...)` call for the data rows.

        Every column is VARCHAR, named by national column name.

        Empty values are read as '' (not NULL), and one more column, `__extra`, is declared with NULL padding:
        DuckDB silently drops *empty* surplus values ("a,b,c,,"), so a row is ragged exactly when its last
        column is NULL (too few values) or `__extra` is not NULL (too many); `ragged_sql` tests that.

        A column the file leaves out (`omitted`) is given as '' on every row, in its place: a blank value.

        Args:
            rejects: when given, rows DuckDB cannot split are skipped and recorded in a table of this name
            (and
                `<name>_scan`) instead of stopping the read; `rejected_rows` turns them into problems.
        """
        cols = ", ".join(f"'{c}': 'VARCHAR'" for c in (*self.file_columns, EXTRA_COLUMN))
        path = str(self.data_path).replace("'", "''")
        opts = (
            f"header=true, auto_detect=false, delim=',', quote='\"', escape='\"', strict_mode=true, "
            f"null_padding=true, nullstr='{NO_NULL}', max_line_size={MAX_LINE_BYTES}, columns={{{cols}}}, "
            # data_path is always plain text (gzip content is written out decompressed); without this DuckDB
            # would guess from the name, and a plain file named .gz would fail.
            "compression='none'"
        )
        if rejects:
            opts += (
                f", ignore_errors=true, store_rejects=true, rejects_table='{rejects}', "
                f"rejects_scan='{rejects}_scan'"
            )
        if self.duckdb_encoding != "utf-8":
            opts += f", encoding='{self.duckdb_encoding}'"
        if parallel is None:
            parallel = self.parallel
        if not parallel:
            opts += ", parallel=false"
        read = f"read_csv('{path}', {opts})"
        if not self.omitted:
            return read
        every = ", ".join(f"'' AS \"{c}\"" if c in self.omitted else f'"{c}"' for c in (*self.columns, EXTRA_COLUMN))
        return f"(SELECT {every} FROM {read})"

    def execute_read(self, con: Any, make_sql: Any, run: Any = None) -> None:
        """Run `make_sql(parallel)` (SQL reading this file); DuckDB's parallel reader cannot pad rows when a
        value holds a line break, so such files are read again by one thread (and remembered as such).

        `run(sql)` executes the SQL (default `con.execute`); it must leave nothing behind when it fails.
        """
        run = run or con.execute
        try:
            try:
                run(make_sql(self.parallel))
            except Exception as exc:  # noqa: BLE001 - only DuckDB's one known refusal is retried
                if "null_padding in conjunction with quoted new lines" not in str(exc) or not self.parallel:
                    raise
                self.parallel = False
                run(make_sql(False))
        except Exception as exc:
            # DuckDB's CSV reader gives up on the whole file when its line endings change part-way ("state
            # machine reached an invalid state", or, at a quoted line break, "CSV Error on Line: N ... Value with
            # unterminated quote found"). Its message quotes the line: never passed on.
            text = str(exc)
            if "state machine reached an invalid state" not in text and _CSV_ERROR not in text:
                raise
            if _mixed_line_endings(self.data_path):
                raise TransportError([_line_endings_problem(self.name, "mixed")]) from None
            line = re.search(_CSV_ERROR + r": ([0-9]+)", text)
            raise TransportError(
                [
                    _problem(
                        self.name,
                        "T010",
                        f"the {'row' if line else 'rows'} cannot be split as CSV (a double quote is not closed, or "
                        "text follows a closing quote)",
                        "Put each value that contains commas, quotes or line breaks in double quotes, and "
                        "double any quote inside it",
                        row=int(line.group(1)) if line else None,
                    )
                ]
            ) from None

    def ragged_sql(self) -> str:
        """SQL over `read_csv_sql` rows: 1 too few values, 2 too many, 0 as many as the header."""
        return ragged_sql(self.file_columns)

    def new_rejects_name(self) -> str:
        self._scan_count += 1
        return f"__ascld_rejects_{os.getpid()}_{id(self)}_{self._scan_count}"

    def rejected_rows(self, con: Any, rejects: str, *, limit: int = 1000) -> list[Problem]:
        """Problems for the rows DuckDB recorded in `rejects` (never showing their content)."""
        # DuckDB may record several errors on one line (one per surplus value, or an over-long line that
        # also breaks quoting): each line is listed once, with the error that explains the others.
        first = (
            "CASE error_type::VARCHAR WHEN 'LINE SIZE OVER MAXIMUM' THEN 0 "
            "WHEN 'MISSING COLUMNS' THEN 2 WHEN 'TOO MANY COLUMNS' THEN 2 ELSE 1 END, column_idx"
        )
        rows = con.execute(
            f"SELECT line, arg_min(error_type::VARCHAR, ({first})) FROM {rejects} GROUP BY line "
            f"ORDER BY line LIMIT {int(limit)}"
        ).fetchall()
        out = [_reject_problem(self.name, int(line), kind, len(self.file_columns)) for line, kind in rows]
        if len(out) == limit:
            # The last place of a full listing says how many rows it leaves out (a listing is cut at `limit`).
            total = con.execute(f"SELECT count(DISTINCT line) FROM {rejects}").fetchone()[0]
            out[-1] = _more_problem(self.name, int(rows[-1][0]), int(total) - limit + 1, "cannot be read as CSV")
        return out

    def to_duckdb(self, con: Any, table_name: str, *, check: bool = True) -> int:
        """Load the data rows into DuckDB as table `table_name`.

        TEXT columns named by national column name, plus
        `__row` (the spreadsheet row number; the header is row 1).

        Args:
            con: a DuckDB connection (from `ascld.engine.connect("duckdb")`, its `.con`, or duckdb itself).
            table_name: the table to create (replaced if it exists).
            check: run the loaded-file transport checks too (rows that cannot be split, no data rows, formula
                values, one LA code and one stated period); raise TransportError if any fails.

        Returns:
            The number of data rows.

        Raises:
            TransportError: a transport check failed (exit code 2).
        """
        raw = getattr(con, "con", con)
        rejects = self.new_rejects_name()
        tmp = f"__ascld_load_{abs(hash(table_name))}"
        self.execute_read(
            raw,
            lambda parallel: (
                f"CREATE OR REPLACE TEMP TABLE {tmp} AS SELECT *, {self.ragged_sql()} AS __ragged "
                f"FROM {self.read_csv_sql(rejects, parallel=parallel)}"
            ),
        )
        problems = self.rejected_rows(raw, rejects)
        raw.execute(f"DROP TABLE IF EXISTS {rejects}; DROP TABLE IF EXISTS {rejects}_scan")
        problems += ragged_problems(
            raw,
            tmp,
            self.name,
            len(self.file_columns),
            row_sql="rowid + 2",
            where="__ragged > 0",
            kind="__ragged",
            row_map=self.row_map,
        )
        if problems:
            raw.execute(f"DROP TABLE {tmp}")
            raise TransportError(sorted(problems, key=lambda p: p.row or 0))
        # Blank values are NULL in the loaded table, as in any database copy of the return.
        cols = ", ".join(f'nullif("{c}", \'\') AS "{c}"' for c in self.columns)
        raw.execute(
            f'CREATE OR REPLACE TABLE "{table_name}" AS SELECT CAST(rowid + 2 AS BIGINT) AS __row, '
            f"{cols} FROM {tmp}"
        )
        raw.execute(f"DROP TABLE {tmp}")
        n = raw.execute(f'SELECT count(*) FROM "{table_name}"').fetchone()[0]
        if check:
            problems = loaded_transport_problems(raw, f'"{table_name}"', self.name, self.columns, n)
            if problems:
                raise TransportError(shown_rows(problems, self.row_map))
        return int(n)

    @staticmethod
    def load_scanned(con: Any, table_name: str, paths: Sequence[Path], *, rows_per_file: int) -> int:
        """Make view `table_name` over the values of a file the validator has accepted, as its scan wrote them
        (`ascld.quality.validate_return`'s `load_into`): no read of the file and no check is repeated.

        `paths`: the Parquet files in order, `rows_per_file` rows each but the last, every column text by
        national column name, blank values NULL. The view adds `__row` (the spreadsheet row number: 2 for the
        first data row), as `to_duckdb` does. The file names are kept in `<table_name>__files`, so
        `drop_loaded` can delete them. Returns the number of data rows.
        """
        raw = getattr(con, "con", con)
        raw.execute(
            f'CREATE OR REPLACE TEMP TABLE "{table_name}__files" AS SELECT unnest($1::VARCHAR[]) AS path',
            [[str(p) for p in paths]],
        )
        # One read per file, joined by UNION ALL: DuckDB then knows, as it did of a table, which columns
        # hold no NULL at all, and so marks the same columns of the ingest's Parquet files NOT NULL (a read
        # of several files at once knows nothing). `__row` counts from `file_index` (0 in a read of one
        # file) for the same reason: nothing is known of it, as of the table's `rowid + 2` before.
        quoted = ["'" + str(p).replace("'", "''") + "'" for p in paths]
        parts = " UNION ALL ".join(
            f"SELECT (CAST(file_index AS BIGINT) + {i}) * {int(rows_per_file)} + file_row_number + 2 AS __row, "
            f"* EXCLUDE (file_row_number) FROM read_parquet({path}, file_row_number = true)"
            for i, path in enumerate(quoted)
        )
        raw.execute(f'CREATE OR REPLACE VIEW "{table_name}" AS {parts}')
        return int(raw.execute(f'SELECT count(*) FROM "{table_name}"').fetchone()[0])

    @staticmethod
    def drop_loaded(con: Any, table_name: str) -> None:
        """Drop what `load_scanned` made: the view, and the files it read (they hold the file's values)."""
        raw = getattr(con, "con", con)
        raw.execute(f'DROP VIEW IF EXISTS "{table_name}"')
        files = f"{table_name}__files"
        if raw.execute(
            "SELECT count(*) FROM duckdb_tables() WHERE table_name = ? AND temporary", [files]
        ).fetchone()[0]:
            for (path,) in raw.execute(f'SELECT path FROM "{files}"').fetchall():
                Path(path).unlink(missing_ok=True)
            raw.execute(f'DROP TABLE "{files}"')

    def close(self) -> None:
        """Delete the temporary transcoded copy, if one was made."""
        if self._tmpdir:
            shutil.rmtree(self._tmpdir, ignore_errors=True)
            self._tmpdir = None

    def __enter__(self) -> ReturnFile:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def ragged_problems(
    con: Any,
    table: str,
    name: str,
    n_columns: int,
    *,
    row_sql: str,
    where: str,
    kind: str,
    limit: int = 1000,
    row_map: RowMap | None = None,
) -> list[Problem]:
    """T009 problems for rows with too few or too many values, from a table holding the ragged code.

    `row_sql` gives the record's `__row`; the problems carry the row a spreadsheet shows (`row_map`)."""
    rows = con.execute(
        f"SELECT {row_sql}, {kind} FROM {table} WHERE {where} ORDER BY 1 LIMIT {int(limit)}"
    ).fetchall()
    out = [
        _reject_problem(name, int(r), "MISSING COLUMNS" if k == 1 else "TOO MANY COLUMNS", n_columns)
        for r, k in rows
    ]
    if len(out) == limit:
        total = con.execute(f"SELECT count(*) FROM {table} WHERE {where}").fetchone()[0]
        out[-1] = _more_problem(name, int(rows[-1][0]), int(total) - limit + 1, "has a different number of values")
    return shown_rows(out, row_map)


# Bytes read at a time when the empty lines are located (`RowMap.read`): its numpy steps hold a few copies.
ROW_MAP_BYTES = 1 << 22


@dataclass(frozen=True)
class RowMap:
    """The rows a spreadsheet shows, in a file with empty lines between its data rows.

    DuckDB's CSV reader skips empty lines, so a data row's `__row` (its place among the rows read, plus 2) is
    one less per empty line before it than the row a spreadsheet shows, which shows an empty line as an empty
    row. `__row` stays as it is (the national store numbers its records from it); the rows reported to the user
    are translated here.

    Attributes:
        before: for each empty line with a data row after it, in file order, the `__row` of the first data row
            after it (sorted; a run of empty lines repeats it): a row's spreadsheet row is its `__row` plus the
            number of entries not above it.

    Examples:
        >>> import numpy as np
        >>> m = RowMap(np.array([4, 6, 6]))  # one empty line before __row 4, two before __row 6
        >>> [m.shown(r) for r in (1, 2, 3, 4, 5, 6)]
        [1, 2, 3, 5, 6, 9]
        >>> m.first_empty_row
        4
    """

    before: Any  # numpy int64 array

    @property
    def count(self) -> int:
        """The empty lines between data rows."""
        return len(self.before)

    @property
    def first_empty_row(self) -> int:
        """The spreadsheet row of the first empty line (the row of the data row after it, less one)."""
        return int(self.before[0])

    def shown(self, row: int) -> int:
        """The spreadsheet row of the data row `__row` = `row` (a header row, 1, is unchanged)."""
        import numpy as np

        return int(row) + int(np.searchsorted(self.before, row, side="right"))

    def to_duckdb(self, con: Any, table: str) -> None:
        """Table `table` (from_row, added): from `__row` from_row on, add `added` to reach the spreadsheet row
        (read with `ASOF LEFT JOIN table m ON row >= m.from_row`; NULL `added` is 0)."""
        import numpy as np
        import pyarrow as pa

        starts = np.unique(self.before)
        # `added` at each distinct start: the number of entries up to and including it.
        added = np.searchsorted(self.before, starts, side="right").astype(np.int64)
        view = f"{table}__arrow"
        con.register(view, pa.table({"from_row": starts.astype(np.int64), "added": added}))
        try:
            con.execute(f'CREATE OR REPLACE TEMP TABLE "{table}" AS SELECT * FROM "{view}"')
        finally:
            con.unregister(view)

    @classmethod
    def read(cls, data_path: Path, block: int | None = None) -> RowMap | None:
        """Locate the empty lines of a CSV file (the text DuckDB reads: plain, decompressed or transcoded), one
        block at a time; None when no empty line has a data row after it.

        A line is empty when nothing, or a carriage return alone, stands between two line feeds, as the byte
        scan and DuckDB see it; a line of spaces is a row. Line feeds inside a quoted value do not end a line:
        every double quote opens or closes a quoted value (a doubled quote inside one closes and opens it
        again), which holds for every file DuckDB reads without refusing a row. The work is numpy's, two passes
        over each block; what is kept is one number per empty line.
        """
        import numpy as np

        size = block or ROW_MAP_BYTES
        parts: list[Any] = []
        inside = 0  # 1 when the block starts inside a quoted value
        lines = 0  # lines ended so far (by a line feed outside quotes)
        empties = 0  # empty lines among them
        kept = 0  # `empties` when the last line with content ended: later empty lines end the file
        line_start = 0  # where the line running into the next block starts
        base = 0  # offset of the block
        prev = 0  # the byte before the block
        with open(data_path, "rb") as fh:
            while chunk := fh.read(size):
                a = np.frombuffer(chunk, np.uint8)
                ends, inside = _line_ends(a, chunk, inside)
                if len(ends):
                    starts = np.empty_like(ends)
                    starts[0] = line_start - base
                    starts[1:] = ends[:-1] + 1
                    length = ends - starts
                    last_byte = np.where(ends > 0, a[ends - 1], prev)
                    empty = (length == 0) | ((length == 1) & (last_byte == 13))
                    at = np.flatnonzero(empty)
                    if len(at):
                        # The line `lines + i` (0 = header) is row `lines + i + 1`; the data row after it has
                        # __row = that row + 1 less the empty lines up to and including this one.
                        parts.append(lines + at + 1 - (empties + np.arange(len(at))))
                    full = np.flatnonzero(~empty)
                    empties += len(at)
                    if len(full):
                        kept = empties - (len(ends) - 1 - int(full[-1]))
                    lines += len(ends)
                    line_start = base + int(ends[-1]) + 1
                base += len(chunk)
                prev = chunk[-1]
        if base - line_start > 1 or (base - line_start == 1 and prev != 13):
            kept = empties  # the last line has content and no line feed after it
        if not kept:
            return None
        return cls(np.concatenate(parts)[:kept].astype(np.int64))


def shown_rows(problems: Sequence[Problem], row_map: RowMap | None) -> list[Problem]:
    """`problems` (rows given as `__row`) with the rows a spreadsheet shows (`RowMap`)."""
    if row_map is None:
        return list(problems)
    from dataclasses import replace

    return [p if p.row is None else replace(p, row=row_map.shown(p.row)) for p in problems]


def more_rows_message(more: int, what: str) -> str:
    """The message of the last line of a listing cut short: this row and `more` rows after it `what` (in the
    plural); `ascld.quality.validate` reads the number back to count them."""
    return f"this row and {more:,} more rows after it {what} (not listed one by one)"


def _more_problem(name: str, row: int, more: int, what: str) -> Problem:
    """The last line of a full listing: this row and how many more after it (never listed one by one)."""
    return _problem(
        name,
        "T009",
        more_rows_message(more - 1, what.replace("has", "have")) if more > 1 else f"the row {what}",
        "Fix the rows listed before, then check the file again",
        row=row,
    )


def _mixed_line_endings(path: Path) -> bool:
    """Whether a (plain) file ends some lines with CR LF and others with LF or CR alone. Counted only once
    DuckDB has refused the file: a line break inside a quoted value makes the counts alone no proof."""
    crlf = cr = lf = 0
    last_cr = False
    for chunk in _stream(path, compressed=False):
        cr += chunk.count(b"\r")
        lf += chunk.count(b"\n")
        crlf += chunk.count(b"\r\n") + (last_cr and chunk[:1] == b"\n")
        last_cr = chunk[-1:] == b"\r"
    bare_cr, bare_lf = cr - crlf, lf - crlf
    return bool(crlf and (bare_cr or bare_lf) or (bare_cr and bare_lf))


def _line_endings_problem(name: str, kind: str) -> Problem:
    what = {
        "cr": "the lines end with carriage returns only (CR, as on old Macs), so no row can be told apart",
        "mixed": "the file mixes line endings (Windows CR LF on some lines, LF or CR alone on others), so "
        "its rows cannot be split reliably",
    }[kind]
    return _problem(
        name, "T017", what, "Save the file again as CSV so every line ends the same way (CR LF or LF)"
    )


def _reject_problem(name: str, line: int, kind: str, n_columns: int) -> Problem:
    if kind in ("MISSING COLUMNS", "TOO MANY COLUMNS"):
        fewer = kind == "MISSING COLUMNS"
        return _problem(
            name,
            "T009",
            f"the row has {'fewer' if fewer else 'more'} values than the {n_columns} columns of the header",
            "Make every row have exactly one value per column (commas inside a value must "
            "be in double quotes)",
            row=line,
        )
    if kind == "LINE SIZE OVER MAXIMUM":
        return _problem(
            name,
            "T011",
            f"the row is longer than {MAX_LINE_BYTES // (1 << 20)} MiB",
            "Check for a value that runs on (often an unclosed double quote) and shorten it",
            row=line,
        )
    return _problem(
        name,
        "T010",
        "the row is not valid CSV (a double quote is not closed, or text follows a closing quote)",
        "Put each value that contains commas, quotes or line breaks in double "
        "quotes, and double any quote inside it",
        row=line,
    )


# --- byte-level checks -------------------------------------------------------------------------------------


def _line_ends(a: Any, chunk: bytes, inside: int) -> tuple[Any, int]:
    """The places of the line feeds in `chunk` (`a`, its bytes as a numpy array) that end a row, and whether
    the next chunk starts inside a quoted value: a line feed is outside quotes when an even number of double
    quotes come before it, counting from the file's start (`inside`: 1 when `chunk` starts inside one). The
    quotes' places are searched, not counted byte by byte."""
    import numpy as np

    ends = np.flatnonzero(a == 10)
    if inside or b'"' in chunk:
        quotes = np.flatnonzero(a == 34)
        ends = ends[((np.searchsorted(quotes, ends) + inside) & 1) == 0]
        inside = (inside + len(quotes)) & 1
    return ends, inside


def _line_of(path: Path, compressed: bool, offset: int, *, rows: bool = False) -> int:
    """The 1-based line holding byte `offset` of the (decompressed) content; with `rows`, the row a spreadsheet
    shows for it instead: a line break inside double quotes stays on its row (an empty line is a row), quotes
    paired as `RowMap.read` pairs them."""
    import numpy as np

    opener = gzip.open if compressed else open
    count, seen, inside = 1, 0, 0
    with opener(path, "rb") as fh:  # type: ignore[operator]
        while seen < offset:
            chunk = fh.read(min(READ_BYTES, offset - seen))
            if not chunk:
                break
            seen += len(chunk)
            if not rows or (not inside and b'"' not in chunk):
                count += chunk.count(b"\n")
                continue
            ends, inside = _line_ends(np.frombuffer(chunk, np.uint8), chunk, inside)
            count += len(ends)
    return count


def _kind_of(head: bytes) -> str | None:
    for magic, what in _MAGIC:
        if head.startswith(magic):
            return what
    text = head.lstrip().lower()
    for starts, what in _TEXT_MAGIC:
        if text.startswith(starts):
            return what
    return None


@dataclass
class _Scan:
    non_ascii: bool = False
    utf8: bool = True  # every byte so far also decodes as UTF-8
    first_non_ascii_offset: int | None = None
    c1: bool = False  # a byte 0x80-0x9F: Windows-1252 and Latin-1 differ there
    blank_line_offset: int | None = None
    saw_cr: bool = False  # a carriage return somewhere
    saw_lf: bool = False  # a line feed somewhere (a file with CRs and no LF ends its lines with CR alone)
    long_line_offset: int | None = None  # where the first line longer than MAX_LINE_BYTES starts
    wide_line: tuple[int, int] | None = None  # (offset, values) of a sampled line with far too many values
    bom_offset: int | None = None  # where a UTF-8 byte-order mark first appears (a split across chunks is missed)


_HIGH = re.compile(b"[\x80-\xff]")
_EMPTY_LINE = re.compile(b"\n\r?\n")  # one regex pass is several times faster than two bytes.find calls
_NOT_C1 = bytes(b for b in range(256) if not 0x80 <= b <= 0x9F)
_BOM_AND_QUOTE = b'"' + codecs.BOM_UTF8
# The chunk scan keeps only bytes 0x80-0x9F, double quotes and the bytes of a UTF-8 byte-order mark.
_DELETED = bytes(b for b in _NOT_C1 if b not in _BOM_AND_QUOTE)
_UNDEFINED = re.compile(b"[" + b"".join(re.escape(bytes([b])) for b in sorted(CP1252_UNDEFINED)) + b"]")


class _Checker:
    """Checks content chunk by chunk (and, for gzip, writes it out decompressed).

    Every step is a C-level bytes operation (isascii, find, a regex search, an incremental UTF-8 decode that
    stops at the first failure), so a chunk costs about as much as reading it. Nothing is transcoded here:
    Windows-1252 letters from 0xA0 up are the same characters in Latin-1, which DuckDB reads itself; only a
    file with bytes 0x80-0x9F (the euro sign, curly quotes, dashes) needs a transcoded copy (`_transcode`).
    """

    def __init__(self, out_path: Path | None, max_values: int = 100):
        self.out: Any = open(out_path, "wb") if out_path else None  # noqa: SIM115 - closed by close()
        self.scan = _Scan()
        self.offset = 0
        self._utf8 = codecs.getincrementaldecoder("utf-8")()
        self._tail = b""  # the last bytes of the previous chunk, for an empty line across the boundary
        self._pending: int | None = None  # an empty line with only white space after it so far
        self._line_start = 0  # where the line running at the end of the previous chunk starts
        self.quotes = 0  # double quotes seen: an odd count may be a quoted value never closed
        self.last_byte = b""
        self.max_values = max_values  # a sampled line with more values than this is refused (T009)

    def feed(self, data: bytes) -> tuple[str, int] | None:
        """Check (and copy) one chunk; returns (problem kind, byte offset) for the first fatal problem."""
        base = self.offset
        nul = data.find(b"\x00")
        if nul >= 0:
            return "binary", base + nul
        if self.scan.blank_line_offset is None:
            self._blank_lines(data, base)
        if self.scan.long_line_offset is None:
            self.scan.long_line_offset = self._long_line(data, base)
        if self.scan.wide_line is None:
            self.scan.wide_line = self._wide_line(data, base)
        s = self.scan
        if not s.saw_lf:  # (each test stops at the first hit: after the first chunk they cost nothing)
            s.saw_lf = b"\n" in data
        if not s.saw_cr:
            s.saw_cr = b"\r" in data
        if data.isascii():
            self.quotes += _count_quotes(data)
        else:
            # bytes.translate deleting every byte but 0x80-0x9F and the double quote runs at memory speed; a
            # regex search would not.
            kept = data.translate(None, _DELETED)
            n_quotes = kept.count(b'"')
            self.quotes += n_quotes
            if self.scan.bom_offset is None and codecs.BOM_UTF8 in kept:
                at = data.find(codecs.BOM_UTF8)
                if at >= 0:
                    self.scan.bom_offset = base + at
            c1 = kept.translate(None, _BOM_AND_QUOTE)
            if c1:
                self.scan.c1 = True
                if any(b in CP1252_UNDEFINED for b in set(c1)):
                    bad = _UNDEFINED.search(data)
                    return "undefined", base + bad.start()  # type: ignore[union-attr]
            if not self.scan.non_ascii:
                self.scan.non_ascii = True
                self.scan.first_non_ascii_offset = base + _HIGH.search(data).start()  # type: ignore[union-attr]
        if self.scan.non_ascii and self.scan.utf8:
            self._utf8_feed(data)
        if self.out is not None:
            self.out.write(data)
        self.offset += len(data)
        self.last_byte = data[-1:]
        return None

    def _long_line(self, data: bytes, base: int) -> int | None:
        """Where the first line longer than MAX_LINE_BYTES starts, if one ends in (or runs past) this chunk.

        DuckDB's parallel reader loses such a line without a word when it spans its 32 MiB buffers (DuckDB
        2.0), so the byte scan finds it first. A line is too long exactly when some stretch of MAX_LINE_BYTES
        has no line feed: sampling every half of that length with a forward `find` (which stops at the next
        line feed, a few hundred bytes on) finds every such stretch at a few dozen searches per chunk.
        """
        limit = MAX_LINE_BYTES
        half = limit // 2
        first = data.find(b"\n")
        if first < 0:
            return self._line_start if base + len(data) - self._line_start > limit else None
        if base + first - self._line_start > limit:
            return self._line_start
        for p in range(first, len(data), half):
            if data.find(b"\n", p + 1, p + 1 + half) >= 0:
                continue
            start = data.rfind(b"\n", 0, p + 1)
            end = data.find(b"\n", p + 1)
            if end >= 0 and end - start - 1 > limit:
                return base + start + 1
        last = data.rfind(b"\n")
        self._line_start = base + last + 1
        return self._line_start if len(data) - last - 1 > limit else None

    def _wide_line(self, data: bytes, base: int) -> tuple[int, int] | None:
        """(offset, values) of a sampled line with far more values than the header, if one is found.

        DuckDB records every surplus value with a copy of its line, so its time grows with the square of a
        row's length: 1,000 rows of 200 surplus values took 10 s, 100 rows of 2,000 took 20 s. The line at
        every 16 KiB is counted (a thousand short searches per 16 MiB, 5% of the byte scan), so every line
        longer than that and every run of such rows is seen; what can pass unseen is a row or two of under
        16 KiB between samples, a few seconds. The first MiB is checked row by row when the header is read.
        """
        for p in range(0, len(data), 1 << 14):
            end = data.find(b"\n", p)
            if end < 0:
                return None
            start = data.rfind(b"\n", 0, p) + 1
            if base + start == 0 or data.count(b",", start, end) < self.max_values:
                continue  # (line 1 is the header, checked on its own)
            try:
                values = len(next(csv.reader([data[start:end].decode("latin-1")])))
            except (csv.Error, StopIteration):
                continue
            if values > self.max_values:
                return base + start, values
        return None

    def _blank_lines(self, data: bytes, base: int) -> None:
        """Record the first empty line that has content after it (empty lines at the very end are harmless, and
        cost no `RowMap`).

        The search looks across chunk boundaries (the previous chunk's last two bytes lead the window), and an
        empty line followed only by line breaks in its chunk waits for the next chunk to show content. Spaces
        are content: DuckDB reads a line of spaces as a row, numbered after the empty lines before it.
        """
        if self._pending is not None and data.strip(b"\r\n"):
            self.scan.blank_line_offset = self._pending
            return
        # Offset in `data` of the first "\n" of the first empty line (negative: it starts in the previous chunk).
        edge = _EMPTY_LINE.search(self._tail + data[:2]) if self._tail else None
        start: int | None
        if edge is not None:
            start = edge.start() - len(self._tail)
        else:
            found = _EMPTY_LINE.search(data)
            start = found.start() if found is not None else None
        if start is not None:
            if data[max(start, 0) :].strip(b"\r\n"):
                self.scan.blank_line_offset = base + start + 1
            elif self._pending is None:
                self._pending = base + start + 1
        self._tail = data[-2:]

    def _utf8_feed(self, data: bytes, final: bool = False) -> None:
        try:
            self._utf8.decode(data, final)
        except UnicodeDecodeError:
            self.scan.utf8 = False

    def finish(self) -> None:
        if self.scan.non_ascii and self.scan.utf8:
            self._utf8_feed(b"", final=True)

    def close(self) -> None:
        if self.out is not None and not self.out.closed:
            self.out.close()


def _count_quotes(data: bytes) -> int:
    """The double quotes in a chunk (numpy, which pyarrow brings, counts 2.5 times as fast as bytes.count)."""
    try:
        import numpy as np
    except ImportError:  # pragma: no cover - numpy comes with pyarrow
        return data.count(b'"')
    return int(np.count_nonzero(np.frombuffer(data, np.uint8) == 34))


def _unclosed_quote(path: Path) -> int | None:
    """Where a double quote opens a value that is never closed (the file ends inside it), or None.

    Quotes are read as DuckDB reads them: a quote opens a value only at the value's start; inside a value a
    doubled quote stands for one quote and a single one closes it; a quote elsewhere is part of the value (so
    an odd number of quotes alone proves nothing). DuckDB loses the rows after such a quote without a word
    once they pass its 32 MiB buffer (DuckDB 2.0), so this runs before it, on files with an odd number of
    quotes only.
    """
    inside, opened, pending, base, prev = False, 0, False, 0, b"\n"
    for chunk in _stream(path, compressed=False):
        i = 0
        if pending:  # the last chunk ended on a quote inside a value
            pending = False
            if chunk[:1] == b'"':
                i = 1
            else:
                inside = False
        while (j := chunk.find(b'"', i)) >= 0:
            if not inside:
                if (chunk[j - 1 : j] if j else prev) in (b",", b"\n", b"\r"):
                    inside, opened = True, base + j
            elif j + 1 == len(chunk):
                pending = True
            elif chunk[j + 1 : j + 2] == b'"':
                j += 1
            else:
                inside = False
            i = j + 1
        prev = chunk[-1:]
        base += len(chunk)
    return opened if inside and not pending else None


def _transcode(source: Path, target: Path) -> None:
    """Windows-1252 to UTF-8, chunk by chunk (a single-byte encoding: any chunk boundary is safe)."""
    with open(source, "rb") as src, open(target, "wb") as dst:
        while chunk := src.read(READ_BYTES):
            dst.write(chunk if chunk.isascii() else chunk.decode("cp1252").encode("utf-8"))


def _stream(path: Path, compressed: bool) -> Iterator[bytes]:
    if compressed:
        with gzip.open(path, "rb") as fh:
            while True:
                chunk = fh.read(READ_BYTES)
                if not chunk:
                    return
                yield chunk
    else:
        with open(path, "rb") as fh:
            while True:
                chunk = fh.read(READ_BYTES)
                if not chunk:
                    return
                yield chunk


def _first_bytes(path: Path, compressed: bool, n: int = 64) -> bytes:
    if compressed:
        with gzip.open(path, "rb") as fh:
            return fh.read(n)
    with open(path, "rb") as fh:
        return fh.read(n)


def _check_bytes(
    path: Path, name: str, temp_dir: str | None, n_columns: int = 50
) -> tuple[str, str, Path, str | None, _Scan]:
    """Byte-level checks; returns (compression, encoding, data path, temp dir, scan facts)."""
    size = path.stat().st_size
    if size == 0:
        raise TransportError(
            [
                _problem(
                    name,
                    "T001",
                    "the file is empty (0 bytes)",
                    "Export the return again; the file should start with the header row",
                )
            ]
        )
    with open(path, "rb") as fh:
        head = fh.read(64)
    compressed = head.startswith(GZIP_MAGIC)
    if compressed:
        try:
            head = _first_bytes(path, True)
        except (OSError, EOFError, zlib.error):
            head = b""
    what = _kind_of(head)
    if what:
        raise TransportError(
            [
                _problem(
                    name,
                    "T002",
                    f"the file is {what}, not a CSV file",
                    "Save the return as CSV (comma-separated values), optionally gzip-compressed",
                )
            ]
        )
    if head.startswith(codecs.BOM_UTF8):
        raise TransportError(
            [
                _problem(
                    name,
                    "T003",
                    "the file starts with a UTF-8 byte-order mark",
                    "Save it as CSV in Windows-1252 (in Excel: 'CSV (Comma delimited)', not 'CSV UTF-8')",
                    row=1,
                )
            ]
        )
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)) or (
        len(head) > 3
        and head.strip(b"\x00")  # only NUL bytes: binary (below), not text
        and (head[1:2] == b"\x00" and head[3:4] == b"\x00" or head[0:1] == b"\x00" and head[2:3] == b"\x00")
    ):
        raise TransportError(
            [
                _problem(
                    name,
                    "T004",
                    "the file is encoded as UTF-16 or UTF-32 (Unicode), not Windows-1252",
                    "Save it as CSV in Windows-1252 ('CSV (Comma delimited)')",
                )
            ]
        )
    _allow_long_values()  # before the byte scan, which counts the values of sampled lines with it
    tmpdir = tempfile.mkdtemp(prefix="ascld-return-", dir=temp_dir)
    copy = Path(tmpdir) / "data.csv"
    # gzip content is written out decompressed, so DuckDB can read it with all its threads.
    coder = _Checker(copy if compressed else None, max_values=2 * n_columns)
    fatal = None
    try:
        try:
            for chunk in _stream(path, compressed):
                fatal = coder.feed(chunk)
                if fatal:
                    break
            coder.finish()
        except (EOFError, gzip.BadGzipFile, zlib.error, OSError) as exc:
            what = (
                "is truncated (it ends before the end of the compressed data)"
                if isinstance(exc, EOFError)
                else "is not a valid gzip file (the compressed data are damaged)"
            )
            raise TransportError(
                [
                    _problem(
                        name,
                        "T006",
                        f"the file {what}",
                        "Compress the CSV again (or send it uncompressed) and check it arrived whole",
                    )
                ]
            ) from None
        finally:
            coder.close()
        scan = coder.scan
        if fatal:
            kind, offset = fatal
            line = _line_of(path, compressed, offset)
            if kind == "binary":
                raise TransportError(
                    [
                        _problem(
                            name,
                            "T002",
                            f"the file holds binary data (a NUL byte on line "
                            f"{line}), so it is not a CSV text file",
                            "Export the return again as CSV text",
                        )
                    ]
                )
            raise TransportError(
                [
                    _problem(
                        name,
                        "T004",
                        f"line {line} holds a byte that Windows-1252 does not "
                        "define, so the file is not in the Windows-1252 encoding",
                        "Save the file as CSV in Windows-1252 ('CSV (Comma delimited)'), "
                        "or remove the stray character",
                    )
                ]
            )
        if scan.bom_offset is not None:
            line = _line_of(path, compressed, scan.bom_offset, rows=True)
            raise TransportError(
                [
                    _problem(
                        name,
                        "T019",
                        "the line holds a UTF-8 byte-order mark (bytes EF BB BF), as where a UTF-8 file was "
                        "joined on; it would be read as three stray characters",
                        "Delete the mark, then save the file as CSV in Windows-1252 ('CSV (Comma delimited)')",
                        row=line,
                    )
                ]
            )
        if scan.non_ascii and scan.utf8:
            line = _line_of(path, compressed, scan.first_non_ascii_offset or 0)
            raise TransportError(
                [
                    _problem(
                        name,
                        "T005",
                        f"the file is encoded as UTF-8 (accented letters first on line {line}), not "
                        "Windows-1252, so they would be read as other characters",
                        "Save the file as CSV in Windows-1252 ('CSV (Comma delimited)', not 'CSV UTF-8')",
                    )
                ]
            )
        if scan.saw_cr and not scan.saw_lf:
            raise TransportError([_line_endings_problem(name, "cr")])
        if coder.last_byte == b"\x1a":
            line = _line_of(path, compressed, coder.offset - 1, rows=True)
            raise TransportError(
                [
                    _problem(
                        name,
                        "T002",
                        "the file ends with an end-of-file mark (Ctrl-Z, byte 1A, as old DOS programs write), "
                        "which would be read as a row of its own or as part of the last value",
                        "Delete that last character and save the file again",
                        row=line,
                    )
                ]
            )
        if coder.quotes % 2 and (opened := _unclosed_quote(copy if compressed else path)) is not None:
            line = _line_of(path, compressed, opened, rows=True)
            raise TransportError(
                [
                    _problem(
                        name,
                        "T010",
                        "a double quote opens a value that is never closed, so the rest of the file would be "
                        "read as that one value",
                        "Close the quote (or double it if it is part of the text: \"\")",
                        row=line,
                    )
                ]
            )
        if scan.long_line_offset is not None:
            line = _line_of(path, compressed, scan.long_line_offset, rows=True)
            raise TransportError(
                [
                    _problem(
                        name,
                        "T011",
                        f"the line is longer than {MAX_LINE_BYTES // (1 << 20)} MiB"
                        + (" (there is no line break in the first MiB, so no header row)" if line == 1 else ""),
                        "Check for a value that runs on (often an unclosed double quote) and shorten it",
                        row=line,
                    )
                ]
            )
        if coder.offset == 0:
            raise TransportError(
                [
                    _problem(
                        name,
                        "T001",
                        "the compressed file holds no data",
                        "Export the return again; the file should start with the header row",
                    )
                ]
            )
    except TransportError:
        shutil.rmtree(tmpdir, ignore_errors=True)
        raise
    encoding = "windows-1252" if scan.non_ascii else "ascii"
    data_path = copy if compressed else path
    if scan.c1:
        utf8_copy = Path(tmpdir) / "data-utf8.csv"
        _transcode(data_path, utf8_copy)
        if compressed:
            copy.unlink()
        return "gzip" if compressed else "none", encoding, utf8_copy, tmpdir, scan
    if not compressed:
        shutil.rmtree(tmpdir, ignore_errors=True)
        return "none", encoding, data_path, None, scan
    return "gzip", encoding, data_path, tmpdir, scan


# --- header
# --------------------------------------------------------------------------------------------------


def _key(header: str) -> str:
    return re.sub(r"[^a-z0-9]", "", header.casefold())


def _near_miss(given: str, expected: str) -> str:
    """Why `given` is not `expected` although it stands for the same column."""
    reasons = []
    odd = [ch for ch in given if ch in _ODD_SPACES or not ch.isprintable()]
    if odd:
        reasons.append(
            "a non-breaking space instead of a space"
            if set(odd) <= {"\xa0"}
            else "a hidden character such as a tab or a line break"
        )
    if given != given.strip():
        reasons.append("spaces before or after the name")
    g = given.strip()
    if g.count("_") > expected.count("_"):
        reasons.append("underscores instead of spaces")
    if ":" in expected and ":" not in g:
        reasons.append("a missing colon")
    if "(" in expected and "(" not in g:
        reasons.append("missing brackets")
    same_letters = expected.casefold() in (g.casefold(), g.replace("_", " ").casefold())
    if same_letters and expected not in (g, g.replace("_", " ")):
        reasons.append("different capital letters")
    if not reasons:
        reasons.append("different spelling")
    return ", ".join(reasons)


_ODD_SPACES = frozenset("\xa0\u2007\u202f")
# A header cell that looks like a value (a date, a long number, a postcode) is never shown: when the first line
# is a data row (the header left out), its cells are a person's details.
_LOOKS_LIKE_DATA = re.compile(
    r"\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}|\d{4}-\d{2}-\d{2}|\d{5,}|\b[A-Za-z]{1,2}\d[A-Za-z\d]? ?\d[A-Za-z]{2}\b"
)


def _shown(header: str) -> str:
    """A header cell as a message shows it: hidden characters written out, long names cut, values hidden."""
    if _LOOKS_LIKE_DATA.search(header):
        return "(a value, not shown)"
    text = header if len(header) <= 60 else header[:57] + "..."
    return "".join(
        ch if ch.isprintable() and ch not in _ODD_SPACES else ascii(ch)[1:-1] for ch in text
    )


def _known_names(spec: Spec) -> dict[str, str]:
    """Every spelling key of a column (its header and its national name) -> the header."""
    known = {_key(h): h for h in spec.headers}
    for f in spec.fields:
        known.setdefault(_key(f.column), f.name)
    return known


def _one_problem(name: str, message: str, hint: str) -> list[Problem]:
    return [_problem(name, "T007", message, hint, row=1)]


def _whole_header_problem(got: list[str], expected: list[str], spec: Spec, name: str) -> list[Problem]:
    """One problem for a first line that is not a near miss of the header at all (or is the header with one
    column added or left out), instead of one per column."""
    hint = "Make line 1 the header row shown by `ascld spec fields`: exact names, in order"
    first = got[0].strip().casefold() if got else ""
    if first.startswith("sep="):
        return _one_problem(
            name,
            "line 1 is a 'sep=' line (an Excel separator hint), not the header row",
            "Delete line 1 so the header row comes first",
        )
    if not any(g.strip() for g in got):
        return _one_problem(name, "line 1 has no column names (every header cell is empty)", hint)
    known = _known_names(spec)
    n_known = sum(1 for g in got if _key(g) in known)
    if n_known < len(expected) // 2 and any("\n" in g or "\r" in g for g in got):
        return _one_problem(
            name,
            "a double quote in line 1 is not closed, so the header runs on into the lines below",
            "Remove the stray double quote from the header row (or close it)",
        )
    if n_known < len(expected) // 2:
        if any(_LOOKS_LIKE_DATA.search(g) for g in got):
            return _one_problem(
                name,
                "line 1 holds values, not the header row: the header row is missing",
                "Add the header row shown by `ascld spec fields` as line 1",
            )
        return _one_problem(
            name,
            f"line 1 is not the CLD header row: {n_known} of its {len(got):,} names are CLD column names",
            hint,
        )
    at = next((i for i, (g, e) in enumerate(zip(got, expected, strict=False)) if g != e), len(expected) - 1)
    rest = [g for g in got[at:] if g.strip()]
    if any(_LOOKS_LIKE_DATA.search(g) for g in rest) and sum(_key(g) in known for g in rest) < len(rest) / 2:
        # The names are right up to a column, then the cells are mostly values (dates, numbers, postcodes among
        # them): the header runs into a data row (a line break lost). Those cells are a person's details, names
        # included: none is shown. (A few values typed into the header are listed column by column, hidden.)
        return [
            _problem(
                name,
                "T007",
                f"line 1 holds values, not column names, from column {at + 1} on: the header row runs into a "
                "data row (a line break is missing)",
                "Make line 1 the header row shown by `ascld spec fields`, with the data rows on the lines after it",
                row=1,
                field=spec.field(expected[min(at, len(expected) - 1)]).column,
            )
        ]
    if len(got) == len(expected) + 1:
        for i in range(len(got)):
            if got[:i] + got[i + 1 :] == expected:
                return _one_problem(
                    name,
                    f"column {i + 1} ('{_shown(got[i])}') is not a CLD column",
                    "Delete that column; the other columns are then in their places",
                )
    if len(got) == len(expected) - 1:
        for i in range(len(expected)):
            if expected[:i] + expected[i + 1 :] == got:
                return [
                    _problem(
                        name,
                        "T007",
                        f"the column '{expected[i]}' is missing (it belongs in column {i + 1})",
                        "Add it in its place; leave its values blank if you have none",
                        row=1,
                        field=spec.field(expected[i]).column,
                    )
                ]
    return []


_NEAR_MISS = re.compile(r"column (\d+) is headed '(.*)' instead of '(.*)' \((.*)\)$")


def _collapse_near_misses(problems: list[Problem], name: str) -> list[Problem]:
    """Near misses that share one reason (all names in lower case, national names for headers ...) become one
    problem, in the place of the first of them."""
    groups: dict[str, list[re.Match[str]]] = {}
    for p in problems:
        if (m := _NEAR_MISS.match(p.message)) is not None:
            groups.setdefault(m.group(4), []).append(m)
    big = {reason for reason, ms in groups.items() if len(ms) >= 4}
    if not big:
        return problems
    out = []
    for p in problems:
        m = _NEAR_MISS.match(p.message)
        if m is None or m.group(4) not in big:
            out.append(p)
        elif groups[m.group(4)][0] is m or groups[m.group(4)][0].group(1) == m.group(1):
            n = len(groups[m.group(4)])
            out.append(
                _problem(
                    name,
                    "T007",
                    f"{n} column names differ from the specification's ({m.group(4)}): column {m.group(1)} is "
                    f"headed '{m.group(2)}' instead of '{m.group(3)}'",
                    "Use the header row shown by `ascld spec fields`: exact names, in order",
                    row=1,
                )
            )
    return out


def omitted_columns(header: Sequence[str], spec: Spec) -> tuple[str, ...] | None:
    """The columns a header leaves out when it is the specification's header, exact and in order, less some
    columns that may be left out (`Field.may_be_omitted`; never the last, whose missing value tells a short
    row); None when it is not that. Empty when nothing is left out."""
    got = list(header)
    kept = [f for f in spec.fields if f.name in got]
    left_out = [f for f in spec.fields if f.name not in got]
    if [f.name for f in kept] != got or any(not f.may_be_omitted for f in left_out):
        return None
    if left_out and spec.fields[-1] in left_out:
        return None
    return tuple(f.column for f in left_out)


def omitted_column_warnings(omitted: Sequence[str], spec: Spec, name: str) -> list[Problem]:
    """T021, a warning for each optional column the file leaves out (its values are read as blank)."""
    return [
        Problem(
            file=name,
            row=1,
            field=c,
            check_id="T021",
            severity="warning",
            message=f"the file has no {spec.field(c).name} column; it is read as blank on every row",
            hint=f"Nothing to do: {spec.field(c).name} may be left out while its place in Release 2 is "
            "unconfirmed. If your system holds it, you may add the column in its place",
        )
        for c in omitted
    ]


def check_header(header: Sequence[str], spec: Spec, name: str) -> list[Problem]:
    """Problems with a header row (T007, T015); empty when it matches the specification exactly, or leaves
    out only columns that may be left out (`omitted_columns`)."""
    expected = list(spec.headers)
    got = list(header)
    if got == expected or omitted_columns(got, spec):
        return []
    if len(got) == 1:
        for delim, label in ((";", "semicolons"), ("\t", "tabs"), ("|", "vertical bars")):
            if got[0].count(delim) >= 3:
                return [
                    _problem(
                        name,
                        "T015",
                        f"the values are separated by {label}, not commas",
                        "Save the file as CSV with commas between values ('CSV (Comma delimited)')",
                        row=1,
                    )
                ]
    problems: list[Problem] = []
    while got and got[-1].strip() == "" and len(got) > len(expected):
        got.pop()
        if not problems:
            problems.append(
                _problem(
                    name,
                    "T007",
                    "the header ends with empty column names",
                    "Delete the empty columns after the last column",
                    row=1,
                )
            )
    if got == expected:
        return problems
    whole = _whole_header_problem(got, expected, spec, name)
    if whole:
        return problems + whole
    where: dict[str, list[int]] = {}
    for i, g in enumerate(got):
        if g.strip():
            where.setdefault(g, []).append(i + 1)
    for g, cols in where.items():
        if len(cols) > 1:
            problems.append(
                _problem(
                    name,
                    "T007",
                    f"the column '{_shown(g)}' appears {'twice' if len(cols) == 2 else f'{len(cols)} times'} (columns "
                    f"{', '.join(map(str, cols[:-1]))} and {cols[-1]})",
                    "Keep one of them, and give every column the name the specification has in its place",
                    row=1,
                )
            )
    by_key = {_key(h): h for h in expected}
    positions = {h: i for i, h in enumerate(expected)}
    seen_expected: set[str] = set()
    extra: list[int] = []  # columns past the last CLD column that are not CLD columns
    for i, g in enumerate(got):
        want = expected[i] if i < len(expected) else None
        col = spec.field(want).column if want else ""
        if g == want:
            seen_expected.add(g)
            continue
        match = by_key.get(_key(g))
        if match is None:
            try:
                match = spec.field(g.strip()).name  # a national column name such as Event_End_Date
            except KeyError:
                match = None
        if match is not None and match == want:
            seen_expected.add(match)
            problems.append(
                _problem(
                    name,
                    "T007",
                    f"column {i + 1} is headed '{_shown(g)}' instead of '{want}' ({_near_miss(g, want)})",
                    f"Rename it to '{want}' exactly",
                    row=1,
                    field=col,
                )
            )
        elif match is not None:
            seen_expected.add(match)
            problems.append(
                _problem(
                    name,
                    "T007",
                    f"column {i + 1} is '{_shown(g)}', which belongs in column "
                    f"{positions[match] + 1}" + (f"; column {i + 1} should be '{want}'" if want else ""),
                    "Put the columns in the specification's order (ascld spec fields)",
                    row=1,
                    field=col,
                )
            )
        elif want is None:
            extra.append(i)
        else:
            problems.append(
                _problem(
                    name,
                    "T007",
                    f"column {i + 1} is headed '{_shown(g)}'; the specification has '{want}' there",
                    f"Rename it to '{want}' or put the columns in the "
                    "specification's order (ascld spec fields)",
                    row=1,
                    field=col,
                )
            )
    problems = _collapse_near_misses(problems, name)
    if len(extra) == 1:
        problems.append(
            _problem(
                name,
                "T007",
                f"column {extra[0] + 1} ('{_shown(got[extra[0]])}') is not a CLD column",
                "Delete columns that are not in the specification",
                row=1,
            )
        )
    elif extra:
        problems.append(
            _problem(
                name,
                "T007",
                f"{len(extra):,} columns after column {len(expected)} (from column {extra[0] + 1}, "
                f"'{_shown(got[extra[0]])}') are not CLD columns",
                "Delete columns that are not in the specification",
                row=1,
            )
        )
    for h in expected[len(got) :]:
        if h not in seen_expected:
            problems.append(
                _problem(
                    name,
                    "T007",
                    f"the column '{h}' is missing",
                    "Add it in its place; leave its values blank if you have none",
                    row=1,
                    field=spec.field(h).column,
                )
            )
    return problems or [
        _problem(
            name,
            "T007",
            "the header does not match the specification",
            "Use the header row shown by `ascld spec fields`",
            row=1,
        )
    ]


def _allow_long_values() -> None:
    """Let Python's csv module read values up to a line's limit (1 MiB): by default it refuses values over
    128 KiB, and a line read with that limit was skipped by the sampled count of values (`_Checker._wide_line`)
    in the first call of a process only, so the same file got another refusal there than in later calls."""
    if csv.field_size_limit() <= MAX_LINE_BYTES:
        csv.field_size_limit(MAX_LINE_BYTES + 1)


def _read_header(data_path: Path, name: str, encoding: str = "utf-8") -> tuple[list[str], str]:
    """The header row, and the first MiB of text it was read from."""
    _allow_long_values()
    with open(data_path, encoding=encoding, newline="") as fh:
        text = fh.read(MAX_LINE_BYTES)
    if not text.strip():
        raise TransportError(
            [
                _problem(
                    name,
                    "T001",
                    "the file holds only empty lines",
                    "Export the return again; the file should start with the header row",
                )
            ]
        )
    first_line = text.split("\n", 1)[0].strip()
    if not first_line:
        skipped = len(text) - len(text.lstrip())
        line = text[:skipped].count("\n") + 1
        raise TransportError(
            _one_problem(
                name,
                f"line 1 is empty or only spaces; the first line with text is line {line}",
                "Delete the empty lines before the header row, so the header row is line 1",
            )
        )
    try:
        return next(csv.reader(io.StringIO(text))), text
    except (csv.Error, StopIteration):
        if "\r" in text.split("\n", 1)[0].rstrip("\r"):
            # A carriage return alone ends the header line (the file has line feeds too, or the byte scan
            # would have named CR line endings): the line endings are mixed, not the header's names wrong.
            raise TransportError([_line_endings_problem(name, "mixed")]) from None
        raise TransportError(
            [
                _problem(
                    name,
                    "T007",
                    "the header row cannot be read as CSV",
                    "Use the header row shown by `ascld spec fields`",
                    row=1,
                )
            ]
        ) from None


def _too_many_values(name: str, row: int, values: int, n_columns: int) -> Problem:
    return _problem(
        name,
        "T009",
        f"the row has {values:,} values, more than the {n_columns} columns of the header",
        "Make every row have exactly one value per column (delete the surplus columns, often empty ones at the "
        "end of each row)",
        row=row,
    )


def _very_wide_rows(text: str, n_columns: int, name: str) -> list[Problem]:
    """T009 for the first row, in the first MiB, with more than twice the header's values.

    DuckDB records a rejected value, with a copy of its line, for every surplus value, so a few rows with
    thousands of them take minutes to read (the time grows with the square of the row's length); such rows
    are refused here, from the text the header was read from.
    """
    rows = csv.reader(io.StringIO(text))
    try:
        for number, row in enumerate(rows, start=1):
            if len(row) > 2 * n_columns:
                return [_too_many_values(name, number, len(row), n_columns)]
    except csv.Error:
        pass  # the text ends inside a quoted value, or the quoting is broken: DuckDB reports that row
    return []


def open_return(path: str | Path, *, spec: Spec | None = None, temp_dir: str | None = None) -> ReturnFile:
    """Open a return file: run the byte-level and header transport checks and prepare it for DuckDB.

    Args:
        path: the return (CSV, or CSV compressed with gzip).
        spec: the specification (default: `load_spec()`).
        temp_dir: where a transcoded copy may be written (default: the system temporary folder).

    Returns:
        A ReturnFile; close it (or use it as a context manager) to delete any temporary copy.

    Raises:
        UsageError: the path does not exist or is not a file.
        TransportError: a transport check failed; `.problems` lists them (exit code 2).
    """
    path = Path(path)
    if not path.exists():
        raise UsageError(f"{path}: no such file. Check the path and try again.")
    if not path.is_file():
        raise UsageError(f"{path}: not a file. Give the path of a CSV return.")
    spec = spec or load_spec()
    name = path.name
    try:
        compression, encoding, data_path, tmpdir, scan = _check_bytes(path, name, temp_dir, len(spec.columns))
    except PermissionError as exc:
        raise UsageError(f"{path}: cannot read the file ({exc.strerror}).") from None
    duckdb_encoding = "latin-1" if scan.non_ascii and not scan.c1 else "utf-8"
    try:
        header, text = _read_header(data_path, name, duckdb_encoding)
        problems = check_header(header, spec, name) or _very_wide_rows(text, len(header), name)
        if not problems and scan.wide_line is not None:
            line = _line_of(path, compression == "gzip", scan.wide_line[0], rows=True)
            problems = [_too_many_values(name, line, scan.wide_line[1], len(header))]
        if problems:
            raise TransportError(problems)
    except TransportError:
        if tmpdir:
            shutil.rmtree(tmpdir, ignore_errors=True)
        raise
    omitted = omitted_columns(header, spec) or ()
    warnings = omitted_column_warnings(omitted, spec, name)
    row_map = None
    if scan.blank_line_offset is not None:
        # Only a file with an empty line before some content pays for locating them (quote-aware: an empty
        # line inside a quoted value is no empty row).
        row_map = RowMap.read(data_path)
    if row_map is not None:
        first, n = row_map.first_empty_row, row_map.count
        warnings.append(
            Problem(
                file=name,
                row=first,
                field="",
                check_id="T016",
                severity="warning",
                message=(
                    f"row {first} is empty"
                    if n == 1
                    else f"the file has {n:,} empty lines between its rows (the first is row {first})"
                )
                + "; rows are numbered as a spreadsheet shows the file, empty rows included",
                hint="Delete empty lines",
            )
        )
    ret = ReturnFile(
        path=path,
        name=name,
        compression=compression,
        encoding=encoding,
        header=tuple(header),
        columns=spec.columns,
        data_path=data_path,
        size_bytes=path.stat().st_size,
        warnings=warnings,
        omitted=omitted,
        duckdb_encoding=duckdb_encoding,
        row_map=row_map,
        _tmpdir=tmpdir,
    )
    if tmpdir:
        # A caller that never closes the file still gets its temporary copy removed.
        weakref.finalize(ret, shutil.rmtree, tmpdir, True)
    return ret


# --- checks on loaded values
# ---------------------------------------------------------------------------------

FORMULA_REGEX = r"^[=+\-@]"
# A number as a return writes one, sign aside and with no limit on its digits (checks.NUMBER_REGEX, less the
# limit): 12, 12.5, 12. and .5. The ingest stores only numbers of this shape.
UNSIGNED_NUMBER_REGEX = r"(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)"
NEGATIVE_NUMBER_REGEX = rf"^-{UNSIGNED_NUMBER_REGEX}$"
LEADING_BREAK_FORMULA_REGEX = r"^[\t\r\n]+[=+@-]"  # RE2 reads the escapes; SQL passes backslashes through


def formula_sql(col: str) -> str:
    """SQL true when a value would be read as a spreadsheet formula (T012).

    It starts with = + - or @ and is not a negative number, or starts with tabs or line breaks followed by one
    of the four (spreadsheets drop those leading characters: the OWASP CSV-injection variants)."""
    # Test the first character before any regular expression: almost no value starts with one of these.
    return (
        f"(CASE WHEN ascii({col}) IN (61, 43, 45, 64) THEN NOT regexp_full_match({col}, "
        f"'{NEGATIVE_NUMBER_REGEX[1:-1]}') WHEN ascii({col}) IN (9, 10, 13) THEN "
        f"regexp_matches({col}, '{LEADING_BREAK_FORMULA_REGEX}') ELSE FALSE END)"
    )


def loaded_transport_problems(
    con: Any, table: str, name: str, columns: Sequence[str], n_rows: int, *, limit: int = 1000
) -> list[Problem]:
    """The transport checks that need the loaded rows.

    No data rows (T008), formula values (T012), more than one
    LA code (T013) or stated reporting period (T014)."""
    if n_rows == 0:
        return [
            _problem(
                name,
                "T008",
                "the file has a header but no data rows",
                "Export the return again with its rows",
            )
        ]
    problems: list[Problem] = []
    union = " UNION ALL ".join(
        f"SELECT __row, {i} AS pos FROM {table} WHERE {formula_sql(chr(34) + c + chr(34))}"
        for i, c in enumerate(columns)
    )
    hits = con.execute(f"SELECT __row, pos FROM ({union}) ORDER BY __row, pos LIMIT {int(limit)}").fetchall()
    problems += [formula_problem(name, int(r), columns[p]) for r, p in hits]
    problems += single_value_problems(con, table, name)
    return problems


def formula_problem(name: str, row: int, column: str) -> Problem:
    return _problem(
        name,
        "T012",
        "the value starts with =, +, - or @ (perhaps after a tab or line break) and is not a negative number, "
        "so a spreadsheet would run it as a formula",
        "Remove the leading character, or start the text another way",
        row=row,
        field=column,
    )


def single_value_problems(con: Any, table: str, name: str) -> list[Problem]:
    """T013/T014: one LA code and one stated reporting period per file (blank or invalid values aside)."""
    from ascld.quality.dates import date_sql
    from ascld.quality.sqlgen import trim_ws_sql

    code = trim_ws_sql('"LA_Code"')  # white space of any kind around it is not another code
    rs = date_sql(chr(34) + "Reporting_Period_Start_Date" + chr(34))
    re_ = date_sql(chr(34) + "Reporting_Period_End_Date" + chr(34))
    both = f"{rs} IS NOT NULL AND {re_} IS NOT NULL"
    la, periods = con.execute(
        f"SELECT count(DISTINCT {code}) FILTER (WHERE {code} <> ''), "
        f"count(DISTINCT ({rs}, {re_})) FILTER (WHERE {both}) FROM {table}"
    ).fetchone()
    la_row = period_row = None
    if int(la or 0) > 1:
        la_row = con.execute("SELECT " + first_other_row_sql(table, code, f"{code} <> ''")).fetchone()[0]
    if int(periods or 0) > 1:
        period_row = con.execute("SELECT " + first_other_row_sql(table, f"({rs}, {re_})", both)).fetchone()[0]
    return period_la_problems(name, int(la or 0), int(periods or 0), la_row, period_row)


def period_la_problems(
    name: str, n_la: int, n_periods: int, la_row: int | None = None, period_row: int | None = None
) -> list[Problem]:
    """T013/T014; `la_row` and `period_row` are the first rows whose LA code or stated period differs from
    the first data row's (the row a spreadsheet shows), so the council can find them."""
    out = []
    if n_la > 1:
        out.append(
            _problem(
                name,
                "T013",
                f"the file holds {n_la} different LA codes"
                + (" (this is the first row whose LA Code differs from the first row's)" if la_row else ""),
                "Send one file per council, with the same LA Code on every row",
                row=la_row,
                field="LA_Code",
            )
        )
    if n_periods > 1:
        out.append(
            _problem(
                name,
                "T014",
                f"the file states {n_periods} different reporting periods"
                + (" (this is the first row whose period differs from the first row's)" if period_row else ""),
                "Give every row the same Reporting Period Start Date and End Date",
                row=period_row,
                field="Reporting_Period_End_Date",
            )
        )
    return out


def first_other_row_sql(table: str, key: str, present: str, where: str = "TRUE") -> str:
    """SQL giving the first `__row` (among rows matching `where` with `present` true) whose `key` differs from
    that of the first such row; NULL when every such row has the same `key`."""
    return (
        f"(SELECT min(__row) FROM {table} WHERE ({where}) AND ({present}) AND ({key}) IS DISTINCT FROM "
        f"(SELECT {key} FROM {table} WHERE ({where}) AND ({present}) ORDER BY __row LIMIT 1))"
    )


@contextlib.contextmanager
def opened(path: str | Path, **options: Any) -> Iterator[ReturnFile]:
    """`open_return` as a context manager that always removes temporary copies."""
    ret = open_return(path, **options)
    try:
        yield ret
    finally:
        ret.close()
