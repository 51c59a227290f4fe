"""Say in one line why a reference file (demographic index, postcode lookup) cannot be read, never quoting it.

DuckDB's own read errors run to many lines and quote the offending line of the file ("Original Line: ..."),
which in a demographic index holds names, NHS numbers and dates of birth. `why_unreadable` looks at the file
itself instead and names the problem, the row as a spreadsheet shows it (the header is row 1) and what to do.

Examples:
    >>> import tempfile, pathlib
    >>> p = pathlib.Path(tempfile.mkdtemp()) / "index.csv"
    >>> _ = p.write_bytes(b"a,b\\n1,2,3\\n")
    >>> why_unreadable(p)
    'row 2 has 3 values but the header has 2; every row needs one value per column'
"""

from __future__ import annotations

import csv
import gzip
import zlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

_SAMPLE = 1 << 16


def _is_parquet(path: Path) -> bool:
    return path.name.lower().endswith(".parquet")


def why_unreadable(path: Path) -> str | None:
    """The reason a CSV (optionally gzipped) or Parquet file cannot be read, as a clause for an error message;
    None when the file looks like a well-formed CSV (then the caller's own message, e.g. a missing column, is
    the one to give).

    Reads the file (the whole of it for CSV, so call it only once a read has failed); quotes nothing of its
    content.
    """
    if _is_parquet(path):
        return "it is not a Parquet file, or it is damaged; export it again as Parquet (or give a CSV)"
    opener = gzip.open if path.name.lower().endswith(".gz") else open
    try:
        with opener(path, "rb") as raw:
            if b"\x00" in raw.read(_SAMPLE):
                return "it holds binary data, so it is not a CSV text file; give the CSV (or a Parquet file)"
            raw.seek(0)
            return _csv_problem(raw)
    except (gzip.BadGzipFile, EOFError, zlib.error):
        return "it is not a gzip file, or it is damaged; compress it again or give the plain CSV"
    except OSError as exc:
        return f"it cannot be read ({exc.strerror or type(exc).__name__})"


class _NotUtf8(Exception):
    pass


def _lines(raw: Any) -> Iterator[str]:
    for n, line in enumerate(raw):
        try:
            yield (line.removeprefix(b"\xef\xbb\xbf") if n == 0 else line).decode("utf-8")
        except UnicodeDecodeError:
            raise _NotUtf8 from None


def _csv_problem(raw: Any) -> str | None:
    width = None
    row = 0
    try:
        for values in csv.reader(_lines(raw)):
            if not values:
                continue  # a blank line is no row
            row += 1
            if width is None:
                width = len(values)
            elif len(values) != width:
                return (
                    f"row {row} has {len(values)} values but the header has {width}; every row needs one value "
                    "per column"
                )
    except _NotUtf8:
        return (
            f"row {row + 1} is not UTF-8 text (Windows-1252, perhaps); save the file as CSV UTF-8 and try again"
        )
    except csv.Error:
        return f"row {row + 1} is not well-formed CSV (a stray quote, or a value over 128 KB?); correct that row"
    if width is None:
        return "it is empty: it needs a header row and one row per entry"
    return None
