"""Write CLD return files in the exact submission format.

The format (spec/README.md §3 and DESIGN.md `returns/`): one header row with the specification's column
headers in submission order, then one row per event; dates `dd/mm/yyyy` with no time part; Unit Cost and
Planned units per week with two decimals; Windows-1252 text with no byte-order mark; CSV with minimal quoting;
CRLF line endings by default. Files are written to a temporary file in the target folder, flushed to disk and
renamed into place, so a reader never sees half a return.

Text values that a spreadsheet would run as a formula (starting ``=``, ``+``, ``-`` or ``@``; negative numbers
excepted) are refused: a return must never carry one (the reader refuses them too).

Examples:
    >>> import datetime, decimal, tempfile, pathlib
    >>> folder = pathlib.Path(tempfile.mkdtemp())
    >>> row = {"LA_Code": "501", "Event_Start_Date": datetime.date(2025, 1, 31),
    ...        "Unit_Cost": decimal.Decimal("12.5")}
    >>> written = write_return([row], folder / "return.csv")
    >>> written.rows
    1
    >>> line = (folder / "return.csv").read_bytes().split(b"\\r\\n")[1].decode("cp1252")
    >>> "31/01/2025" in line and "12.50" in line
    True
"""

from __future__ import annotations

import csv
import datetime as dt
import decimal
import gzip as gzip_module
import hashlib
import io
import itertools
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from ascld.spec import Spec, load_spec

ENCODING = "cp1252"  # Windows-1252: what councils' Excel-era tooling writes and the national loader expects
TWO_PLACES = decimal.Decimal("0.01")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")
_FORMULA_START = ("=", "+", "-", "@")
# A cell that may start with a formula character: at a line start or after a comma, maybe inside quotes.
_FORMULA_HINT = re.compile(r'[,\n]"?[=+\-@]')
CHUNK = 1 << 20  # characters buffered before encoding and writing
QUOTE_CACHE = 200_000  # distinct cell values remembered with their quoted form
# Every byte to itself except 0x80-0x9F (where Latin-1 and Windows-1252 differ), which become 0x00.
_NO_C1 = bytes(0 if 0x80 <= b < 0xA0 else b for b in range(256))


def quote_cell(text: str) -> str:
    """A cell as csv.QUOTE_MINIMAL writes it: in double quotes (inner quotes doubled) when it holds a comma, a
    double quote or a line break."""
    if "," in text or '"' in text or "\n" in text or "\r" in text:
        return '"' + text.replace('"', '""') + '"'
    return text

Value = str | dt.date | decimal.Decimal | int | float | None


def format_date(value: dt.date) -> str:
    """`dd/mm/yyyy`, the only date form a return carries.

    Examples:
        >>> format_date(dt.date(2024, 4, 1))
        '01/04/2024'
    """
    if isinstance(value, dt.datetime):
        value = value.date()
    return f"{value.day:02d}/{value.month:02d}/{value.year:04d}"


def format_decimal(value: decimal.Decimal | int | float) -> str:
    """A number with exactly two decimals, rounded half away from zero ("Numeric (0.00)").

    Examples:
        >>> format_decimal(decimal.Decimal("18.505"))
        '18.51'
        >>> format_decimal(7), format_decimal(-0.004)
        ('7.00', '0.00')
    """
    if isinstance(value, float):
        value = decimal.Decimal(repr(value))
    elif isinstance(value, int):
        value = decimal.Decimal(value)
    rounded = value.quantize(TWO_PLACES, rounding=decimal.ROUND_HALF_UP)
    return str(rounded.copy_abs() if rounded.is_zero() else rounded)  # never "-0.00"


def is_formula_like(text: str) -> bool:
    """True for text a spreadsheet would evaluate: it starts with = + - or @ and is not a plain number, or
    starts with tabs or line breaks followed by one of the four.

    Examples:
        >>> is_formula_like("=HYPERLINK(1)"), is_formula_like("-45.50"), is_formula_like("Smith")
        (True, False, False)
    """
    if text[:1] in ("\t", "\r", "\n"):  # spreadsheets drop leading tabs and line breaks (OWASP)
        return text.lstrip("\t\r\n").startswith(_FORMULA_START)
    return text.startswith(_FORMULA_START) and not _NUMBER.match(text)


def format_value(value: Value, field_type: str) -> str:
    """The text a return carries for one value of a field of the given spec type.

    Args:
        value: str, datetime.date, decimal.Decimal, int (float tolerated), or None for blank.
        field_type: the spec field type (`text`, `code`, `date`, `integer`, `decimal`).

    Raises:
        TypeError: for a value of a type a return cannot carry (e.g. bool).
    """
    if value is None:
        return ""
    if isinstance(value, bool):
        raise TypeError("a return cannot carry a boolean; map it to the list value first")
    if isinstance(value, str):
        return value
    if isinstance(value, dt.date):
        return format_date(value)
    if isinstance(value, decimal.Decimal | float):
        return format_decimal(value)
    if isinstance(value, int):
        return format_decimal(value) if field_type == "decimal" else str(value)
    raise TypeError(f"a return cannot carry a value of type {type(value).__name__}")


@dataclass(frozen=True)
class WrittenReturn:
    """What `write_return` wrote: the final path, the number of data rows, the file's SHA-256 and size."""

    path: Path
    rows: int
    sha256: str
    bytes: int


class ReturnWriter:
    """Streams rows into a return file; use as a context manager. `write_return` is the simple front door.

    Rows can be given as mappings keyed by national column name (`write_row`) or, on hot paths that have
    already formatted every cell, as sequences of strings in submission order (`write_cells`).

    Args:
        path: the final file name. The file appears there only when the writer closes without an error.
        spec: the specification whose headers and column order to use (default: `load_spec()`).
        gzip: compress with gzip (deterministic header: no name, no timestamp).
        newline: the line terminator, CRLF by default.
        check_formulas: refuse formula-like text. The synthetic generator turns this off, to write the
            deliberately unusable files that test transport checks; the extractor turns it off because it
            checks every cell as it builds it (and reports the row and field), so the writer need not scan
            the file a second time.
    """

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        spec: Spec | None = None,
        gzip: bool = False,
        newline: str = "\r\n",
        check_formulas: bool = True,
    ) -> None:
        self.spec = spec or load_spec()
        self.path = Path(path)
        self.columns = self.spec.columns
        self._types = tuple(f.type for f in self.spec.fields)
        self._index = {c: i for i, c in enumerate(self.columns)}
        self._gzip = gzip
        self._newline = newline
        self._check = check_formulas
        self.rows = 0
        self._raw: IO[bytes] | None = None
        self._tmp: str | None = None
        self._hashing: _HashingFile | None = None

    def __enter__(self) -> ReturnWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd, self._tmp = tempfile.mkstemp(prefix=f".{self.path.name}.", suffix=".tmp", dir=self.path.parent)
        self._raw = os.fdopen(fd, "wb")
        # Every byte of the file passes through `_HashingFile`, so the file's SHA-256 is known when it is
        # closed without reading it back.
        self._hashing = _HashingFile(self._raw)
        self._sink: IO[bytes] = self._hashing  # type: ignore[assignment]
        if self._gzip:
            self._sink = gzip_module.GzipFile(  # type: ignore[assignment]
                filename="", mode="wb", fileobj=self._sink, mtime=0
            )
        # Lines are built in memory and encoded a chunk at a time; memory stays bounded by the chunk size.
        # Cells are quoted exactly as csv.QUOTE_MINIMAL does, through a cache (return values repeat a lot).
        self._lines: list[str] = []
        self._size = 0
        self._quoted: dict[str, str] = {"": ""}
        self._flushed_rows = 0
        self._write_line(self.spec.headers)
        return self

    def write_row(self, row: Mapping[str, Value]) -> None:
        """Write one row given as a mapping keyed by national column name; missing columns are blank."""
        cells = [""] * len(self.columns)
        for key, value in row.items():
            i = self._index.get(key)
            if i is None:
                raise KeyError(f"{key!r} is not a column of the return; use the national column names")
            cells[i] = format_value(value, self._types[i])
        self.write_cells(cells)

    def write_cells(self, cells: Sequence[str]) -> None:
        """Write one row of already formatted text cells, in submission order."""
        self._write_line(cells)
        self.rows += 1
        if self._size > CHUNK:
            self._flush()

    def write_line(self, line: str) -> None:
        """Write one row given as its cells already quoted (`quote_cell`) and joined with commas, for hot
        paths that build lines from cached parts. The formula and encoding checks still apply."""
        self._lines.append(line)
        self._size += len(line)
        self.rows += 1
        if self._size > CHUNK:
            self._flush()

    def write_lines(self, lines: Sequence[str]) -> None:
        """Write many rows at once, each given as `write_line` takes it (cells quoted and joined)."""
        self._lines += lines
        self._size += sum(map(len, lines))
        self.rows += len(lines)
        if self._size > CHUNK:
            self._flush()

    def write_raw_cells(self, cells: Sequence[str]) -> None:
        """Write a row of any length (deliberately malformed test files; use with check_formulas=False)."""
        self.write_cells(cells)

    def _write_line(self, cells: Sequence[str]) -> None:
        quoted = self._quoted
        try:
            line = ",".join([quoted[c] for c in cells])
        except KeyError:
            if len(quoted) > QUOTE_CACHE:
                quoted.clear()
                quoted[""] = ""
            for c in cells:
                if c not in quoted:
                    if not isinstance(c, str):
                        raise TypeError(f"cells must be text, not {type(c).__name__}") from None
                    quoted[c] = quote_cell(c)
            line = ",".join([quoted[c] for c in cells])
        self._lines.append(line)
        self._size += len(line)

    def _flush(self) -> None:
        if not self._lines:
            return
        lines = self._lines
        lines.append("")
        text = self._newline.join(lines)
        self._lines = []
        self._size = 0
        if self._check:
            self._check_formulas(text)
        self._sink.write(encode_cp1252(text, lines))
        self._flushed_rows = self.rows

    def _check_formulas(self, text: str) -> None:
        """Raise if a cell of the chunk would run as a formula (only lines with a candidate are parsed)."""
        if text.lstrip('"')[:1] in ("=", "+", "-", "@"):
            self._find_formula(text)
        if "=" in text or "+" in text or "@" in text:
            candidates = [m.start() for m in _FORMULA_HINT.finditer(text)]
        else:  # the usual case: only '-' can start a cell, so look for it after a delimiter
            candidates = []
            for pattern in (",-", '\n-', ',"-', '\n"-'):
                at = text.find(pattern)
                while at >= 0:
                    candidates.append(at)
                    at = text.find(pattern, at + 1)
        for at in candidates:
            begin = text.rfind("\n", 0, at + 1) + 1
            end = text.find("\n", at + 1)
            line = text[begin:] if end < 0 else text[begin:end]
            if any(value and is_formula_like(value) for cells in csv.reader([line]) for value in cells):
                self._find_formula(text)  # exact row and field (a quoted value may span lines)

    def _find_formula(self, text: str) -> None:
        # Spreadsheet row of the chunk's first line: the header (row 1) opens the first chunk.
        first = self._flushed_rows + 2 if self._flushed_rows else 1
        for offset, cells in enumerate(csv.reader(io.StringIO(text, newline=""))):
            for i, value in enumerate(cells):
                if value and is_formula_like(value):
                    column = self.columns[i] if i < len(self.columns) else f"column {i + 1}"
                    raise ValueError(
                        f"row {first + offset}, field {column}: a value starting with {value[0]!r} "
                        "would run as a spreadsheet formula. Remove the leading character."
                    )

    @property
    def sha256(self) -> str:
        """Hex SHA-256 of the file's bytes (complete once the writer has closed)."""
        return (self._hashing.digest if self._hashing is not None else hashlib.sha256()).hexdigest()

    @property
    def bytes(self) -> int:
        """Size of the file in bytes (complete once the writer has closed)."""
        return self._hashing.size if self._hashing is not None else 0

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        assert self._raw is not None and self._tmp is not None
        ok = exc_type is None
        try:
            if ok:
                self._flush()
                if self._gzip:
                    self._sink.close()
                self._raw.flush()
                os.fsync(self._raw.fileno())
        except BaseException:
            ok = False
            raise
        finally:
            self._raw.close()
            if ok:
                os.replace(self._tmp, self.path)
            else:
                os.unlink(self._tmp)


class _HashingFile:
    """A binary file that hashes and counts what is written to it (only `write` and `flush` are used)."""

    def __init__(self, raw: IO[bytes]) -> None:
        self._raw = raw
        self.digest = hashlib.sha256()
        self.size = 0

    def write(self, data: bytes) -> int:
        self.digest.update(data)
        self.size += len(data)
        return self._raw.write(data)

    def flush(self) -> None:
        self._raw.flush()


def encode_cp1252(text: str, lines: Sequence[str] | None = None) -> bytes:
    """Text as Windows-1252 bytes, exactly as `text.encode("cp1252")` gives them (and failing the same way).

    Windows-1252 agrees with ASCII, and with Latin-1 except at 0x80-0x9F, where it holds other characters
    (the euro sign, curly quotes ...) and Latin-1 has control characters Windows-1252 cannot hold. So ASCII
    text is copied, and text Latin-1 can encode takes Latin-1's fast encoder once it is known to hold none of
    those control characters; only that check looks at the text character by character, and, when the
    text's `lines` are given, only at the lines that are not ASCII.

    Examples:
        >>> encode_cp1252("Zoë €5") == "Zoë €5".encode("cp1252"), encode_cp1252("Plain") == b"Plain"
        (True, True)
    """
    if text.isascii():  # a flag Python keeps on every string: no scan
        return text.encode("ascii")
    try:
        data = text.encode("latin-1")
    except UnicodeEncodeError:  # beyond Latin-1 (curly quotes, the euro sign ...): the full encoder decides
        return text.encode(ENCODING, errors="strict")
    check = data if lines is None else "".join(itertools.filterfalse(str.isascii, lines)).encode("latin-1")
    if check.translate(_NO_C1) != check:
        return text.encode(ENCODING, errors="strict")
    return data


def file_sha256(path: str | os.PathLike[str]) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_return(
    rows: Iterable[Mapping[str, Value]],
    path: str | os.PathLike[str],
    *,
    spec: Spec | None = None,
    gzip: bool = False,
    newline: str = "\r\n",
) -> WrittenReturn:
    """Write a CLD return: spec headers in order, dd/mm/yyyy dates, 2-decimal numbers, Windows-1252, no BOM.

    Args:
        rows: mappings keyed by national column name (`LA_Code`, `Event_Start_Date`, ...) with values str,
            datetime.date, decimal.Decimal, int or None (blank). Missing columns are written blank. Consumed
            lazily, so a generator keeps memory flat.
        path: where to write; written atomically (temporary file, fsync, rename).
        spec: the specification to follow (default `load_spec()`).
        gzip: gzip-compress the file (deterministic: no file name or timestamp in the gzip header).
        newline: line terminator, CRLF by default.

    Returns:
        WrittenReturn with the final path, data row count, SHA-256 and size in bytes.

    Raises:
        KeyError: a row has a key that is not a national column name.
        ValueError: a text value would run as a spreadsheet formula.
        UnicodeEncodeError: a value has a character Windows-1252 cannot represent.
    """
    with ReturnWriter(path, spec=spec, gzip=gzip, newline=newline) as writer:
        for row in rows:
            writer.write_row(row)
    final = Path(path)
    return WrittenReturn(final, writer.rows, file_sha256(final), final.stat().st_size)
