"""Extract a CLD return from a case-management database through a mapping, streaming.

How it works (docs/extract.md has the user's view):

1. **Check the mapping** against the spec (`load_mapping`), then against the source: every query is run once
   with no rows (`SELECT * FROM (<query>) q WHERE 1 = 0`) so a bad query, a missing key column, a column that
   is not a field, or a coded field with no value map is reported with its mapping line before any record is
   read.
2. **Stream, a batch of people at a time.** Each query is wrapped by ascld: the scope rules (`scope.py`)
   become its WHERE clause and it is ordered by person key, so the source database does the filtering and
   sorting. The people query is read a chunk at a time, and every other query up to the chunk's last person
   key (`source.KeyedStream`); the extractor holds one batch, so memory stays flat however large the source
   is. Carer links come with a flag saying whether the cared-for person has a Service user row in the file,
   worked out by the database.
3. **Map and write, a column at a time.** A batch's cells are made column by column (value maps, dates,
   numbers, free-text checks through C-level `map`, `zip` and `join`), falling back to one value at a time
   for a column holding anything unusual; every code with no entry is counted. Free text with characters
   Windows-1252 cannot hold is reported by row and field (or transliterated with `transliterate=True`).
   Rows go to the atomic return writer (`ascld.returns`): if anything was found the writer is abandoned and
   no file appears, so there is never a partial return.
4. **Validate** the written return with `ascld.quality.validate_return` when the validator is installed.

On PostgreSQL the whole extract reads one snapshot (REPEATABLE READ, read only).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import gc
import itertools
import operator
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from ascld.errors import AscldError, UsageError
from ascld.extract import scope as sc
from ascld.extract.mapping import EVENT_SECTIONS, allowed_fields, load_mapping
from ascld.extract.source import (
    KeyedStream,
    SourceOrderError,
    SourcePlan,
    Statements,
    describe_error,
    open_source,
    read_chunks,
)
from ascld.returns.writer import ReturnWriter, format_decimal, is_formula_like, quote_cell
from ascld.spec import Spec, load_spec

CHUNK_ROWS = 2000  # rows fetched at a time; a batch is this many people
MAX_LISTED = 1000  # problems kept in full; the rest are counted (memory stays flat)
WRITE_LINES = 2000  # lines handed to the writer at a time
KNOWN_TEXT = 20_000  # free-text values remembered per field with their cells
YOUNG_OBJECTS = 1_000_000  # container objects made and not freed, beyond which the run collects cycles


# ---------------------------------------------------------------------- results and problems
@dataclass(frozen=True)
class TextIssue:
    """A free-text cell with characters Windows-1252 cannot hold, or text that would run as a formula.

    The value is never kept: only where it is.

    Attributes:
        row: the row as a spreadsheet shows it (header = row 1).
        field: the national column name.
        kind: `not_cp1252`, `formula`, `nul` (a NUL character, which makes the file binary data) or
            `binary` (a binary value, such as a BLOB, instead of text).
    """

    row: int
    field: str
    kind: str

    def __str__(self) -> str:
        if self.kind == "formula":
            return (
                f"return row {self.row}, field {self.field}: the text starts with = + - or @ and would run "
                "as "
                "a spreadsheet formula. Correct it in the source record."
            )
        if self.kind == "nul":
            return (
                f"return row {self.row}, field {self.field}: the text holds a NUL character, which would make "
                "the file binary data rather than CSV text. Correct the source record."
            )
        if self.kind == "binary":
            return (
                f"return row {self.row}, field {self.field}: the query returns binary data (a BLOB), not text. "
                "Return text, e.g. `CAST(... AS TEXT)`, or correct the source record."
            )
        return (
            f"return row {self.row}, field {self.field}: has characters Windows-1252 cannot hold. Correct "
            "the source record, or rerun with --transliterate to replace them."
        )


@dataclass(frozen=True)
class UnmappedCode:
    """A local code with no entry in its value map (or status map, or in/out-of-scope lists).

    Attributes:
        section: the mapping section whose query returned it.
        field: the national column name, or the key/classifier column (`status`, `contact_type`).
        code: the local code (codes are not identifying; shown cut to 40 characters).
        count: records carrying it (people for person fields, records for event fields).
        line: the mapping line to add it at.
        what: `value map`, `status` or `in_scope`.
    """

    section: str
    field: str
    code: str
    count: int
    line: int
    what: str

    def message(self, file: str) -> str:
        """The problem as one line: mapping file and line, what is wrong, what to do."""
        code = self.code if len(self.code) <= 40 else self.code[:37] + "..."
        unit = "people" if self.section in ("people", "addresses") else "records"
        if self.what == "status":
            todo = "Add it under status with one of the statuses ascld knows"
        elif self.what == "in_scope":
            todo = f"Add it under in_scope or out_of_scope for {self.field}"
        else:
            todo = f"Add it to the {self.field} value map"
            if self.section in EVENT_SECTIONS:
                todo += ", or list it under out_of_scope if those records are not CLD events"
        return (
            f'{file}, line {self.line}: {self.section} query, {self.field}: local code "{code}" has no '
            f"mapping ({self.count} {unit}). {todo}."
        )


class ExtractProblems(AscldError):
    """The extract found problems in the data; nothing was written (exit code 1).

    Attributes:
        unmapped: every unmapped code with its count.
        text: free-text problems by row and field (up to MAX_LISTED; `text_more` counts the rest).
        other: other problems (records of unknown people, a varying LA code ...), one line each.
    """

    def __init__(
        self,
        file: str,
        unmapped: list[UnmappedCode],
        text_issues: list[TextIssue],
        text_more: int,
        other: list[str],
    ) -> None:
        self.file = file
        self.unmapped = unmapped
        self.text = text_issues
        self.text_more = text_more
        self.other = other
        lines = [u.message(file) for u in unmapped] + other + [str(t) for t in text_issues]
        if text_more:
            lines.append(f"... and {text_more} more free-text problems")
        lines.append("Nothing was written.")
        super().__init__("\n".join(lines))


@dataclass(frozen=True)
class ExtractResult:
    """What `extract_return` wrote.

    Attributes:
        path: the return file.
        rows: data rows written.
        sha256, bytes: the file's SHA-256 and size.
        la_code: the LA code on every row.
        period_start, period_end: the reporting period.
        rows_by_type: rows per Event Type, plus `Unpaid carer known by association`.
        transliterated: free-text cells changed by --transliterate (row and field only).
        validation: the validator's result (`ascld.quality.ValidationResult`), or None if not run.
        validator_note: why validation did not run, if it did not.
        seconds: wall time.
        spec_version: the specification the file follows.
        mapping_sha256: the mapping file's SHA-256.
    """

    path: Path
    rows: int
    sha256: str
    bytes: int
    la_code: str
    period_start: dt.date
    period_end: dt.date
    rows_by_type: dict[str, int]
    transliterated: tuple[TextIssue, ...]
    validation: Any
    validator_note: str
    seconds: float
    spec_version: str
    mapping_sha256: str

    @property
    def exit_code(self) -> int:
        """0 clean; the validator's exit code when it ran and found problems."""
        return int(getattr(self.validation, "exit_code", 0) or 0)


# ---------------------------------------------------------------------- Windows-1252
_FALLBACK = {
    "ł": "l",
    "Ł": "L",
    "đ": "d",
    "Đ": "D",
    "ı": "i",
    "ħ": "h",
    "Ħ": "H",
    "ŋ": "n",
    "Ŋ": "N",
    "ŧ": "t",
    "Ŧ": "T",
    "ĸ": "k",
    "\u2010": "-",
    "\u2011": "-",
    "\u2212": "-",
    "\u2002": " ",
    "\u2003": " ",
    "\u2009": " ",
    "\u202f": " ",
}


def cp1252_ok(text: str) -> bool:
    """Whether Windows-1252 can hold the text.

    Examples:
        >>> cp1252_ok("Siobhán Müller"), cp1252_ok("Łukasz")
        (True, False)
    """
    if text.isascii():
        return True
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def transliterate(text: str) -> str:
    """Replace characters Windows-1252 cannot hold: letters lose their accents (or take their usual Latin
    form), anything else becomes `?`. Characters Windows-1252 has (é, ü, ñ, curly quotes ...) are kept.

    Examples:
        >>> transliterate("Łukasz Dąbrowski"), transliterate("Zoë"), transliterate("李")
        ('Lukasz Dabrowski', 'Zoë', '?')
    """
    out = []
    for ch in text:
        if cp1252_ok(ch):
            out.append(ch)
            continue
        replacement = _FALLBACK.get(ch)
        if replacement is None:
            base = "".join(
                c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c) and cp1252_ok(c)
            )
            replacement = base or "?"
        out.append(replacement)
    return "".join(out)


# ---------------------------------------------------------------------- cells
_DATE_TEXT: dict[Any, str] = {None: ""}  # source value -> dd/mm/yyyy
_FORMULA_START = frozenset("=+-@")


def _fmt_date(value: Any, section: str = "", field_: str = "") -> str:
    if value is None:
        return ""
    text_ = _DATE_TEXT.get(value)
    if text_ is None:
        try:
            d = sc.as_date(value)
        except sc.NotADate as exc:
            raise _not_a_date(section, field_.lower(), exc) from None
        assert d is not None
        text_ = f"{d.day:02d}/{d.month:02d}/{d.year:04d}"
        if len(_DATE_TEXT) < 100_000:
            _DATE_TEXT[value] = text_
    return text_


def _not_a_date(section: str, column: str, exc: sc.NotADate) -> UsageError:
    """The error for a date column holding something that is not a date (the value is never shown)."""
    return UsageError(
        f"the {section} query's {column} column holds {exc}. Return dates as dates, e.g. "
        f"`CAST(... AS DATE) AS {column}`. Nothing was written."
    )


def _check_dates(section: str, rows: Sequence[Sequence[Any]], columns: dict[str, int | None]) -> None:
    """Raise `_not_a_date` for the first of `columns` (name -> index in `rows`) holding a value that is not
    a date."""
    for name, i in columns.items():
        if i is not None:
            for row in rows:
                try:
                    sc.as_date(row[i])
                except sc.NotADate as exc:
                    raise _not_a_date(section, name, exc) from None


_DECIMAL_TEXT: dict[Any, str] = {None: "", "": ""}  # source value -> 0.00


def _fmt_decimal(value: Any, section: str = "service_costs", field_: str = "Unit_Cost") -> str:
    """Two decimals, rounded half away from zero (the writer's `format_decimal`), through a cache.

    Raises:
        UsageError: the value is not a finite number that two decimals can hold (the value is not shown).
    """
    if value is None or value == "":
        return ""
    text_ = _DECIMAL_TEXT.get(value)
    if text_ is None:
        try:
            number = decimal.Decimal(value.strip()) if isinstance(value, str) else value
            text_ = format_decimal(number)
        except (decimal.InvalidOperation, TypeError, ValueError):
            raise UsageError(
                f"the {section} query's {field_.lower()} column holds a value that is not a number with two "
                f"decimals (text, infinity, or too many digits). Return numbers, e.g. "
                f"`CAST(... AS NUMERIC(18, 2)) AS {field_.lower()}`. Nothing was written."
            ) from None
        if len(_DECIMAL_TEXT) < 100_000:
            _DECIMAL_TEXT[value] = text_
    return text_


@dataclass
class _Ops:
    """How to make a section's cells from its query's columns, cell index first.

    Attributes:
        codes: (cell, column, value map, field): local codes through the value map (quoted cells).
        texts: (cell, column, cells of values met before, field): free text (`_text_column`).
        dates: (cell, column, field), as dd/mm/yyyy.
        decimals: (cell, column, field), with two decimals.
        constants: (cell, text): defaults of fields the query does not return (quoted cells).
    """

    codes: list[tuple[int, int, dict[Any, str], str]]
    texts: list[tuple[int, int, dict[Any, str], str]]
    dates: list[tuple[int, int, str]]
    decimals: list[tuple[int, int, str]]
    constants: list[tuple[int, str]]


@dataclass
class _Section:
    """An event section: where its query's key columns are, how to make its cells, and the shape of its
    lines: `pattern` alternates the person's runs of cells (`("run", k)`), stretches of the section's own
    cells (`("seg", j)`, cell indexes in `segments[j]`) and, for services with a cost history, the Unit Cost
    cell (`("cost", 0)`)."""

    name: str
    event_type: str
    ops: _Ops
    start: int
    end: int | None
    key: int | None
    client_type: int | None
    ct_dict: dict[Any, str]
    ct_default: str
    checks: list[tuple[int, Any, str, str, int]]  # (column, known codes, column name, what, mapping line)
    service: bool
    outcome: tuple[int, dict[Any, str]] | None  # services: the outcome's column and map (rule X05)
    segments: list[list[int]]
    pattern: list[tuple[str, int]]


Column = Sequence[str] | str  # a cell for each row, or one text for every row


@dataclass
class _Costs:
    """A batch's unit cost histories (rule X06): the cost query's rows, by (person key, service key), oldest
    first.

    Attributes:
        keys, dates, amounts: each row's (person key, service key), effective date (as a date) and unit cost.
        last: (person key, service key) -> the service's last row.
        by_key: each service's (effective date, unit cost) pairs, when its rows are not all together.
        ordered: each service's rows are together with their dates known and in order, so that its last date
            is its latest.
    """

    keys: list[tuple[Any, Any]]
    dates: list[Any]
    amounts: Sequence[Any]
    last: dict[tuple[Any, Any], int]
    by_key: dict[tuple[Any, Any], list[tuple[Any, Any]]] | None
    ordered: bool

    def history(self, key: tuple[Any, Any]) -> list[tuple[Any, Any]]:
        """A service's (effective date, unit cost) pairs, oldest first; empty when it has none."""
        if self.by_key is not None:
            return self.by_key.get(key, [])
        i = self.last.get(key)
        if i is None:
            return []
        j, keys = i, self.keys
        while j and keys[j - 1] == key:
            j -= 1
        return list(zip(self.dates[j : i + 1], self.amounts[j : i + 1], strict=True))

    def cells(
        self, people: Sequence[Any], services: Sequence[Any], as_at: Sequence[tuple[Any, bool]], period_end: dt.date
    ) -> list[str]:
        """The Unit Cost cells of services (person keys, service keys, rule X05's end dates): the cost as at
        the service's end or the period end (`scope.cost_as_at`). A service whose costs all took effect by
        then has its last cost, which is found without going through its history."""
        decs, keys = _DECIMAL_TEXT, zip(people, services, strict=True)
        if not self.ordered:
            cost_as_at, history = sc.cost_as_at, self.history
            return [
                decs[c] if (c := cost_as_at(history(key), a[0], period_end)) in decs else _fmt_decimal(c)
                for key, a in zip(keys, as_at, strict=True)
            ]
        get, dates, amounts, slow = self.last.get, self.dates, self.amounts, self._slow
        return [
            ""
            if (i := get(key)) is None
            else decs[c]
            if (c := amounts[i] if dates[i] <= (a[0] or period_end) else slow(key, a[0], period_end)) in decs
            else _fmt_decimal(c)
            for key, a in zip(keys, as_at, strict=True)
        ]

    def _slow(self, key: tuple[Any, Any], end: Any, period_end: dt.date) -> Any:
        return sc.cost_as_at(self.history(key), end, period_end)


@dataclass
class _Records:
    """An event section's records of a batch: their people (batch positions), start dates as read, client
    types, and the record's own stretches of each line (`parts`, in line order, each the columns of its
    cells; None where the person's runs go, in turn)."""

    pidxs: list[int]
    starts: Sequence[Any]
    cts: list[str]
    parts: list[list[Column] | None]

    def lines(self, runs: list[Column], at: list[int], rows: list[int] | None = None) -> list[str]:
        """The lines of the records (`rows` of them), with the people's runs `runs[k][at[n]]`."""
        cols: list[Column] = []
        k = 0
        for part in self.parts:
            if part is None:
                run = runs[k]
                k += 1
                cols.append(run if isinstance(run, str) else list(map(run.__getitem__, at)))
            elif rows is None:
                cols += part
            else:
                cols += [c if isinstance(c, str) else list(map(c.__getitem__, rows)) for c in part]
        joined = _Extractor._joined(cols, len(at))
        return [joined] * len(at) if isinstance(joined, str) else joined

    def line(self, i: int, runs: tuple[str, ...]) -> str:
        """Record `i`'s line with one person's runs."""
        cells: list[str] = []
        k = 0
        for part in self.parts:
            if part is None:
                cells.append(runs[k])
                k += 1
            else:
                cells += [c if isinstance(c, str) else c[i] for c in part]
        return ",".join(cells)


class _Extractor:
    """Builds the return's rows from the streams and writes them, counting every problem.

    The work is done a batch of people at a time and a column at a time: value maps, dates, numbers and the
    free-text checks run over whole columns through C-level `map`, `zip` and `join`, and fall back to one
    value at a time only for a column that holds something unusual (a code not in its map, a date not yet
    formatted, text that needs a look), which gives the same cells and counts every problem. A row's line is
    the person's *runs* (the stretches of the row holding person cells, joined once per person and client
    type) and the record's own stretches, joined. Cells are quoted as the line carries them (`quote_cell`),
    and every cell read from the source is checked as it is made, so the writer does not scan the file again.
    """

    def __init__(
        self,
        plan: SourcePlan,
        stmts: Statements,
        conn: Connection,
        transliterate_: bool,
        chunk: int,
        spec: Spec,
    ) -> None:
        self.plan = plan
        self.mapping = plan.mapping
        self.spec = spec
        self.conn = conn
        self.chunk = chunk
        self.stmts = stmts
        self.transliterate = transliterate_
        self.ps, self.pe = plan.period
        self.columns = spec.columns
        self.width = len(self.columns)
        self.ci = {c: i for i, c in enumerate(self.columns)}
        self.rows = 0  # rows emitted (written, or only counted once a problem stops the writing)
        self.stopped = False
        self.by_type: Counter[str] = Counter()
        self.text_issues: list[TextIssue] = []
        self.text_more = 0
        self.changed: list[TextIssue] = []
        self.unmapped: Counter[tuple[str, str, str, str]] = Counter()  # (section, field, code, what)
        self.unmapped_lines: dict[tuple[str, str, str], int] = {}
        self.other: list[str] = []
        self.la_codes: set[str] = set()
        self._issues: list[tuple[str, str, bool]] = []  # (field, kind, changed) noted by `text_cell`
        self.open_outcome = sc.rule("open_at_period_end").params["outcome"]
        self.kba = sc.rule("known_by_association").params["client_type"]
        linked = sc.rule("carers_linked")
        self.max_linked = int(linked.params["max_linked"])
        self.carer = linked.params["carer"]
        self.su = sc.event_client_types()[0]
        self.linked_cols = [self.ci[f"Adult_{i}_Linked_Person_ID"] for i in range(1, self.max_linked + 1)]
        self._not_applicable: dict[str, list[int]] = {}
        self._as_at: dict[Any, tuple[Any, bool]] = {}  # a service's end date as read -> rule X05
        self._death_cells: dict[Any, str] = {None: ""}  # a date of death as read -> its cell (rule X07)

    # ------------------------------------------------------------------ value maps as dicts
    def code_dict(self, section: str, column_: str, quoted: bool = True) -> dict[Any, str]:
        """local code -> cell text (quoted for the line when `quoted`); blank and NULL go to the default."""
        vm = self.mapping.value_map(section, column_)
        default = self.mapping.default(section, column_)
        out: dict[Any, str] = {}
        if vm is not None and vm.as_is:
            lst = self.spec.list_for(column_)
            assert lst is not None
            out = {v: v for v in (*lst.r2_values, *(() if lst.complete else lst.r1_values))}
        elif vm is not None:
            out = dict(vm.codes)
        out[None] = out[""] = default.value if default else ""
        for value in set(out.values()):
            _check_written_as_is(value, column_)
        if quoted:
            out = {k: quote_cell(v) for k, v in out.items()}
        return out

    def unmapped_code(self, section: str, field_: str, value: Any, what: str, line: int) -> None:
        """Count a local code that has no mapping (and stop writing)."""
        # A status and a Client Type are matched with surrounding spaces removed, as the database compares
        # them (`_known_code`, `map_code`).
        strip = " " if what == "status" or field_ == "Client_Type" else None
        code = "(blank)" if value is None else value.strip(strip) if isinstance(value, str) else str(value)
        if not code.isprintable():  # a tab, line break or no-break space in the code: shown escaped
            code = code.encode("unicode_escape").decode("ascii")
        key = (section, field_, code, what)
        if key in self.unmapped or len(self.unmapped) < 10_000:
            self.unmapped[key] += 1
            self.unmapped_lines.setdefault((section, field_, what), line)
        self.stopped = True

    def map_code(self, d: dict[Any, str], value: Any, section: str, field_: str) -> str:
        """The cell for a code the map does not hold as given: tried again without surrounding spaces,
        else counted as unmapped (the cell is left blank; nothing will be written).

        A Client Type code is tried again without surrounding *spaces* only, as the database compares it
        when it says which cared-for people have a Service user row (`source.Statements.links`, rule X10):
        otherwise a code padded with a tab would be a Service user here and not there."""
        strip = " " if field_ == "Client_Type" else None
        key = value.strip(strip) if isinstance(value, str) else str(value)
        hit = d.get(key)
        if hit is not None:
            return hit
        vm = self.mapping.value_map(section, field_)
        self.unmapped_code(
            section, field_, value, "value map", vm.line if vm else self.mapping.sections[section].line
        )
        return ""

    def _known_code(self, known: Any, section: str, column_: str, what: str, line: int, value: Any) -> None:
        """A status or scope code not held as given: tried again without surrounding spaces, else counted.

        A status is tried again without surrounding *spaces* only: the database left out the records whose
        status, trimmed of spaces, maps to a status the scope rule excludes (`source._not_in`), so a code
        padded with other white space (`CANC` and a tab) must not pass here as known and be written (spec
        README §4: cancelled, and open requests, assessments and reviews, are out)."""
        strip = " " if what == "status" else None
        if (value.strip(strip) if isinstance(value, str) else str(value)) not in known:
            self.unmapped_code(section, column_, value, what, line)

    def text_cell(self, value: Any, field_: str) -> str:
        """A free-text cell: stripped, checked for Windows-1252 and formula starts (problems noted by field
        for the row being built), quoted for the line when needed."""
        if isinstance(value, (bytes, bytearray, memoryview)):  # str() would write `b'...'`
            self._issues.append((field_, "binary", False))
            return ""
        text_ = (value if type(value) is str else str(value)).strip()
        if "\x00" in text_:
            self._issues.append((field_, "nul", False))
        if not text_.isascii() and not cp1252_ok(text_):
            if self.transliterate:
                text_ = transliterate(text_)
                self._issues.append((field_, "not_cp1252", True))
            else:
                self._issues.append((field_, "not_cp1252", False))
        if text_ and text_[0] in "=+-@" and is_formula_like(text_):
            self._issues.append((field_, "formula", False))
        return quote_cell(text_)

    # ------------------------------------------------------------------ columns of cells
    def _code_column(self, col: Sequence[Any], d: dict[Any, str], section: str, field_: str) -> list[str]:
        try:
            return list(map(d.__getitem__, col))
        except KeyError:
            miss = self.map_code
            return [d[v] if v in d else miss(d, v, section, field_) for v in col]

    @staticmethod
    def _date_column(col: Sequence[Any], section: str, field_: str) -> list[str]:
        try:
            return list(map(_DATE_TEXT.__getitem__, col))
        except KeyError:
            return [_DATE_TEXT[v] if v in _DATE_TEXT else _fmt_date(v, section, field_) for v in col]

    @staticmethod
    def _decimal_column(col: Sequence[Any], section: str, field_: str) -> list[str]:
        try:
            return list(map(_DECIMAL_TEXT.__getitem__, col))
        except KeyError:
            return [_DECIMAL_TEXT[v] if v in _DECIMAL_TEXT else _fmt_decimal(v, section, field_) for v in col]

    def _text_column(
        self, col: Sequence[Any], known: dict[Any, str], field_: str, owners: dict[int, list[tuple[str, str, bool]]]
    ) -> Sequence[str]:
        """Free-text cells. `known` holds the cells of values met before that had no problem (and of a
        blank: the default). A column of values all known, or all plain (printable ASCII with nothing to
        strip, quote or refuse: the cell is the value), is done in C; else the values are done one at a time,
        noting problems by row in `owners`."""
        try:
            return list(map(known.__getitem__, col))
        except (KeyError, TypeError):
            pass
        try:
            present: Sequence[Any] = col
            lined = ",".join(col)  # every value is text (the usual case)
        except TypeError:
            types = set(map(type, col))
            if not types <= _TEXT_OR_NULL:  # numbers, or other values that are not text
                return self._text_values(col, known, field_, owners)
            present = list(filter(None, col))  # NULLs and empty text left out
            lined = ",".join(present)
        # Each value between two commas: as many commas as values and one shows no value holds one.
        lined = f",{lined},"
        if (
            lined.isascii()
            and not lined.encode("ascii").translate(None, _PRINTABLE_ASCII)  # isprintable(), several times faster
            and '"' not in lined
            and lined.count(",") == len(present) + 1
            and not any(ch in lined and any(edge in lined for edge in edges) for ch, edges in _NOT_PLAIN_EDGES)
        ):
            return col if len(present) == len(col) and all(col) else list(map(known.get, col, col))
        return self._text_values(col, known, field_, owners)

    def _text_values(
        self, col: Sequence[Any], known: dict[Any, str], field_: str, owners: dict[int, list[tuple[str, str, bool]]]
    ) -> list[str]:
        """`_text_column` one value at a time."""
        out: list[str] = []
        append = out.append
        issues = self._issues
        for n, v in enumerate(col):
            if type(v) is not str:
                if v is None:
                    append(known[None])
                    continue
                cell = self.text_cell(v, field_)
            elif v in known:
                append(known[v])
                continue
            elif (
                v.isascii()
                and v.isprintable()
                and v[0] > " "
                and v[-1] > " "
                and v[0] not in _FORMULA_START
                and "," not in v
                and '"' not in v
            ):
                cell = v
                if len(known) < KNOWN_TEXT:
                    known[v] = cell
            else:
                cell = self.text_cell(v, field_)
                if not issues and len(known) < KNOWN_TEXT:
                    known[v] = cell
            if issues:
                owners.setdefault(n, []).extend(issues)
                issues.clear()
            append(cell)
        return out

    def _death_column(self, col: Sequence[Any]) -> list[str]:
        """Date of Death cells: a death after the period end is not written (rule X07)."""
        cells = self._death_cells
        try:
            return list(map(cells.__getitem__, col))
        except KeyError:
            pass
        out = []
        for v in col:
            if v not in cells:
                cell = _fmt_date(v, "people", "Date_of_Death")
                if cell and sc.death_as_at(sc.as_date(v), self.pe) is None:
                    cell = ""
                if len(cells) < 100_000:
                    cells[v] = cell
                out.append(cell)
            else:
                out.append(cells[v])
        return out

    def _cells(
        self, ops: _Ops, cols: Sequence[Sequence[Any]], section: str, owners: dict[int, list[tuple[str, str, bool]]]
    ) -> dict[int, Column]:
        """A section's cells, by cell index, from its query's columns."""
        out: dict[int, Column] = {j: text_ for j, text_ in ops.constants}
        for j, i, d, field_ in ops.codes:
            out[j] = self._code_column(cols[i], d, section, field_)
        for j, i, field_ in ops.dates:
            if j == self.i_death:
                out[j] = self._death_column(cols[i])
                continue
            out[j] = self._date_column(cols[i], section, field_)
        for j, i, known, field_ in ops.texts:
            out[j] = self._text_column(cols[i], known, field_, owners)
        for j, i, field_ in ops.decimals:
            out[j] = self._decimal_column(cols[i], section, field_)
        return out

    @staticmethod
    def _joined(columns: list[Column], n: int) -> str | list[str]:
        """Cells joined row by row into one stretch of each line (one text when every cell is)."""
        if all(isinstance(c, str) for c in columns):
            return ",".join(columns)  # type: ignore[arg-type]
        merged: list[Column] = []  # neighbouring cells that are the same on every row, joined once
        for c in columns:
            if isinstance(c, str) and merged and isinstance(merged[-1], str):
                merged[-1] = f"{merged[-1]},{c}"
            else:
                merged.append(c)
        return list(map(",".join, zip(*[[c] * n if isinstance(c, str) else c for c in merged], strict=True)))

    # ------------------------------------------------------------------ plans
    def _plan_fields(self, section: str, names: list[str], skip: Sequence[str] = ()) -> _Ops:
        """The operations making a section's cells from its query's columns (`skip`: fields made apart)."""
        fields = {
            c.lower(): c for c in allowed_fields(self.spec, section, "service_costs" in self.mapping.sections)
        }
        idx = {n: i for i, n in enumerate(names)}
        ops = _Ops([], [], [], [], [])
        for low, column_ in fields.items():
            if column_ in skip:
                continue
            out = self.ci[column_]
            f = self.spec.field(column_)
            default = self.mapping.default(section, column_)
            if low not in idx:
                if default is not None and default.value:
                    ops.constants.append((out, quote_cell(default.value)))
                continue
            i = idx[low]
            if f.defined_list:
                ops.codes.append((out, i, self.code_dict(section, column_), column_))
            elif f.type == "date":
                ops.dates.append((out, i, column_))
            elif f.type in ("decimal", "integer"):
                ops.decimals.append((out, i, column_))
            else:
                blank = quote_cell(default.value if default else "")
                ops.texts.append((out, i, {None: blank, "": blank}, column_))
        return ops

    def _prepare(
        self,
        p_names: list[str],
        a_names: list[str] | None,
        c_names: list[str] | None,
        e_names: list[tuple[str, list[str]]],
    ) -> None:
        m = self.mapping
        ci = self.ci
        split = ci["Event_Type"]  # cells before it are the person's
        self.i_end, self.i_outcome, self.i_cost = ci["Event_End_Date"], ci["Event_Outcome"], ci["Unit_Cost"]
        self.i_client_type = ci["Client_Type"]
        self.i_adults = ci["No_of_adults_being_cared_for"]
        self.i_death = ci["Date_of_Death"]
        self.i_la = ci["LA_Code"]
        # The person's cells: those before the events, the people query's fields among the events' (Total
        # Hrs Caring) and the carer block. Consecutive ones make a run, joined once per person and client type.
        costed = "service_costs" in m.sections
        people_fields = allowed_fields(self.spec, "people", costed)
        person_cells = {*range(split), *(ci[c] for c in people_fields), self.i_adults, *self.linked_cols}
        self.runs: list[tuple[int, int]] = []
        self.layout: list[Any] = []  # in column order: (run number,) or an event cell's index
        for j in range(self.width):
            if j not in person_cells:
                self.layout.append(j)
            elif self.runs and self.runs[-1][1] == j:
                self.runs[-1] = (self.runs[-1][0], j + 1)
            else:
                self.runs.append((j, j + 1))
                self.layout.append((len(self.runs) - 1,))
        self.p_ops = self._plan_fields("people", p_names)
        self.p_la = p_names.index("la_code") if "la_code" in p_names else None
        self.a_ops = self._plan_fields("addresses", a_names) if a_names else None
        self.a_start = a_names.index("start_date") if a_names else 0
        self.a_end = a_names.index("end_date") if a_names and "end_date" in a_names else None
        if c_names:
            self.c_key, self.c_from, self.c_cost = (
                c_names.index(n) for n in ("event_key", "effective_from", "unit_cost")
            )
        self.sections: dict[str, _Section] = {}
        for name, names in e_names:
            idx = {n: i for i, n in enumerate(names)}
            section = m.sections[name]
            service = name == "services"
            ct_default = m.default(name, "Client_Type")
            # Client_Type is mapped apart (it picks the person's runs); so is a service's outcome (rule X05).
            ops = self._plan_fields(name, names, skip=("Client_Type", "Event_Outcome") if service else ("Client_Type",))
            outcome = None
            if service and "event_outcome" in idx:
                outcome = (idx["event_outcome"], self.code_dict(name, "Event_Outcome"))
            elif service:
                default = m.default(name, "Event_Outcome")
                if default is not None and default.value:
                    ops.constants.append((self.i_outcome, quote_cell(default.value)))
            ops.constants.append((split, quote_cell(section.event_type or "")))
            checks: list[tuple[int, Any, str, str, int]] = []
            if "status" in idx:
                checks.append((idx["status"], section.status or {}, "status", "status", section.status_line))
            for col, known in section.in_scope.items():
                if col in idx:
                    checks.append((idx[col], known, col, "in_scope", section.scope_lines.get(col, section.line)))
            segments: list[list[int]] = []
            pattern: list[tuple[str, int]] = []
            for item in self.layout:
                if isinstance(item, tuple):
                    pattern.append(("run", item[0]))
                elif service and costed and item == self.i_cost:
                    pattern.append(("cost", 0))
                elif pattern and pattern[-1][0] == "seg":
                    segments[-1].append(item)
                else:
                    pattern.append(("seg", len(segments)))
                    segments.append([item])
            self.sections[name] = _Section(
                name=name,
                event_type=section.event_type or "",
                ops=ops,
                start=idx["event_start_date"],
                end=idx.get("event_end_date"),
                key=idx.get("event_key") if service and costed else None,
                client_type=idx.get("client_type"),
                ct_dict=self.code_dict(name, "Client_Type", quoted=False),
                ct_default=ct_default.value if ct_default else "",
                checks=checks,
                service=service,
                outcome=outcome,
                segments=segments,
                pattern=pattern,
            )
        # A row with no event cells (`known by association`): the runs, and empty stretches between them.
        self.no_events: list[int | str] = []
        for item in self.layout:
            if isinstance(item, tuple):
                self.no_events.append(item[0])
            elif self.no_events and isinstance(self.no_events[-1], str):
                self.no_events[-1] += ","
            else:
                self.no_events.append("")
        self.template = [""] * self.width
        self.template[ci["Reporting_Period_Start_Date"]] = _fmt_date(self.ps)
        self.template[ci["Reporting_Period_End_Date"]] = _fmt_date(self.pe)
        self.open_cell = quote_cell(self.open_outcome)

    # ------------------------------------------------------------------ the run
    def run(self, open_writer: Callable[[str], ReturnWriter]) -> None:
        """Read the queries a batch of people at a time, make the batch's rows and write them (or only
        count, once a problem means nothing will be written).

        A batch is a chunk of the people query and, from every other query, the rows up to its last person
        key; memory holds one batch.
        """
        stmts = self.stmts
        m = self.mapping
        file = m.file

        def stream(name: str, made: tuple[Any, list[str]]) -> tuple[KeyedStream, list[str]]:
            stmt, names = made
            line = m.sections[name].line
            return KeyedStream(name, line, read_chunks(self.conn, stmt, name, file, line, self.chunk)), names

        people, p_names = stream("people", stmts.people())
        addresses = stream("addresses", stmts.addresses()) if "addresses" in m.sections else None
        costs = stream("service_costs", stmts.costs()) if "service_costs" in m.sections else None
        links = stream("carer_links", stmts.links()) if "carer_links" in m.sections else None
        events = [(s.name, *stream(s.name, stmts.events(s.name))) for s in m.event_sections]
        self._prepare(
            p_names,
            addresses[1] if addresses else None,
            costs[1] if costs else None,
            [(name, names) for name, _, names in events],
        )
        writer: ReturnWriter | None = None
        la_default = m.default("people", "LA_Code")
        event_streams = [(self.sections[name], s) for name, s, _ in events]
        link_stream = links[0] if links else None
        address_stream = addresses[0] if addresses else None
        cost_stream = costs[0] if costs else None
        duplicates = 0
        lines: list[str] = []  # lines waiting for the writer
        while (last := people.last_waiting_key()) is not None:
            batch = people.upto(last)
            if writer is None:
                la = batch[0][self.p_la] if self.p_la is not None else None
                writer = open_writer(
                    str(la).strip() if la is not None else la_default.value if la_default else ""
                )
            try:
                ev_rows = [(section, s, s.upto(last)) for section, s in event_streams]
                link_rows = link_stream.upto(last) if link_stream is not None else []
                addr_rows = address_stream.upto(last) if address_stream is not None else []
                cost_rows = cost_stream.upto(last) if cost_stream is not None else []
            except TypeError:
                raise SourceOrderError(
                    f"{file}: the queries return person keys of different types (the people query gives "
                    f"{type(last).__name__}). Return the same type from every query, e.g. "
                    "`CAST(... AS INTEGER) AS person_key`."
                ) from None
            keys = list(map(_KEY, batch))
            if len(set(keys)) != len(keys):  # the people query returns a key more than once: the first counts
                first: list[Sequence[Any]] = []
                for _, group in itertools.groupby(batch, _KEY):
                    same = list(group)
                    first.append(same[0])
                    if len(same) > 1:
                        duplicates += 1
                        self.stopped = True
                batch = first
            self._batch(batch, ev_rows, link_stream, link_rows, addr_rows, cost_rows, lines)
            if len(lines) >= WRITE_LINES:
                if not self.stopped:
                    writer.write_lines(lines)
                lines = []
            if gc.get_count()[0] > YOUNG_OBJECTS:  # the automatic collector is paused (`_collector_paused`)
                gc.collect(0)
        if lines and writer is not None and not self.stopped:
            writer.write_lines(lines)
        if people.orphans:
            self.other.append(
                f"{file}, line {people.line}: the people query returns {people.orphans} people with no "
                "person_key. Every person needs a key."
            )
            self.stopped = True
        if duplicates:
            self.other.append(
                f"{file}, line {people.line}: the people query returns {duplicates} person keys more than "
                "once. Return one row per person (check the joins)."
            )
        for _, s in event_streams:
            s.drain()
        if link_stream is not None:
            link_stream.drain()
        if writer is None:
            self.other.append(
                f"{file}, line {people.line}: the people query returned no rows. Check the query."
            )
        for _, s in event_streams:
            if s.orphans:
                self.other.append(
                    f"{file}, line {s.line}: {s.orphans} {s.name} records in scope belong to person keys the "
                    "people query does not return (or have no person_key). Make the people query return "
                    "everyone with a record."
                )
        if link_stream is not None and link_stream.orphan_flagged:
            self.other.append(
                f"{file}, line {link_stream.line}: {link_stream.orphan_flagged} carer links name carers the "
                "people query does not return. Make the people query return carers too."
            )
        if len(self.la_codes) > 1:
            self.other.append(
                f"{file}, line {people.line}: the people query gives {len(self.la_codes)} different LA "
                "codes. A return holds one council; return one LA code."
            )

    # ------------------------------------------------------------------ one batch
    def _batch(
        self,
        people: list[Sequence[Any]],
        ev_rows: list[tuple[_Section, KeyedStream, list[Sequence[Any]]]],
        link_stream: KeyedStream | None,
        link_rows: list[Sequence[Any]],
        addr_rows: list[Sequence[Any]],
        cost_rows: list[Sequence[Any]],
        lines: list[str],
    ) -> None:
        """Make the rows of a batch of people (one row each, in key order) and add them to `lines`."""
        keyset = set(map(_KEY, people))
        active: set[Any] = set()  # people with a row in the file: records, or carer links that matter
        for i, (section, s, rows) in enumerate(ev_rows):
            if rows and not keyset.issuperset(map(_KEY, rows)):
                s.count_orphans([r for r in rows if r[0] not in keyset])
                ev_rows[i] = (section, s, [r for r in rows if r[0] in keyset])
            active.update(map(_KEY, ev_rows[i][2]))
        if link_rows and not keyset.issuperset(map(_KEY, link_rows)):
            assert link_stream is not None
            link_stream.count_orphans([r for r in link_rows if r[0] not in keyset])
            link_rows = [r for r in link_rows if r[0] in keyset]
        if link_rows and not all(v in sc.DATE_OF for r in link_rows for v in (r[1], r[5])):
            _check_dates("carer_links", link_rows, {"start_date": 1, "end_date": 5})
        active.update(r[0] for r in link_rows if r[3])
        if len(active) != len(people):
            people = [r for r in people if r[0] in active]
        if not people:
            return
        n = len(people)
        pidx = dict(zip(map(_KEY, people), range(n), strict=True))  # person key -> position in the batch
        person_issues: dict[int, list[tuple[str, str, bool]]] = {}
        pc = self._cells(self.p_ops, list(zip(*people, strict=True)), "people", person_issues)
        for j, text_ in enumerate(self.template):
            if text_:
                pc[j] = text_
        if self.a_ops is not None and addr_rows:
            self._addresses(pc, pidx, addr_rows, person_issues)
        la = pc.get(self.i_la, "")
        for code in [la] if isinstance(la, str) else la:
            if code not in self.la_codes and len(self.la_codes) < 10:
                self.la_codes.add(code)
        base = [""] * self.width  # the person cells that are the same for everyone, and the others by column
        person_cols: dict[int, Sequence[str]] = {}
        for j, col in pc.items():
            if isinstance(col, str):
                base[j] = col
            else:
                person_cols[j] = col
        links = _grouped(link_rows)
        blocks: dict[int, sc.CarerBlock | None] = {}
        linked_issues: dict[int, list[tuple[str, str, bool]]] = {}  # by carer: their linked IDs' text problems

        def block_of(p: int) -> sc.CarerBlock | None:
            if p not in blocks:
                lk = links.get(people[p][0])
                block = sc.carer_block(lk, self.max_linked) if lk else None
                if block is not None and not all(map(str.isascii, block.linked)):
                    block = self._linked_text(block, p, linked_issues)
                blocks[p] = block
            return blocks[p]

        noted = bool(person_issues)
        history = self._cost_history(cost_rows, pidx) if cost_rows else None
        sections = []
        for section, _, rows in ev_rows:
            if rows:
                record_issues: dict[int, list[tuple[str, str, bool]]] = {}
                sections.append((self._records(section, rows, pidx, history, record_issues), record_issues))
                self.by_type[section.event_type] += len(rows)
        # The people's runs: as service users for everyone, as carers (with their carer block) for those with
        # a carer's record, both a column at a time; any other client type person by person.
        su_runs = self._run_columns(pc, n, self.su)
        is_carer = self.carer.__eq__
        carers = sorted({p for rec, _ in sections for p in itertools.compress(rec.pidxs, map(is_carer, rec.cts))})
        carer_at = {p: i for i, p in enumerate(carers)}
        carer_runs = self._run_columns(pc, n, self.carer, carers, [block_of(p) for p in carers]) if carers else []
        other_runs: dict[tuple[int, str], tuple[str, ...]] = {}
        out: list[tuple[Any, ...]] = []  # (person, 0 or 1 for known by association, start, seq, line, issues)
        for rec, record_issues in sections:
            k = len(rec.pidxs)
            lines_ = rec.lines(su_runs, rec.pidxs)
            su_count = rec.cts.count(self.su)
            if su_count != k:
                at = list(itertools.compress(range(k), map(is_carer, rec.cts)))
                if at:
                    own = rec.lines(carer_runs, [carer_at[rec.pidxs[i]] for i in at], at)
                    any(map(lines_.__setitem__, at, own))
                    for i in at if linked_issues else ():
                        if (found_ := linked_issues.get(rec.pidxs[i])) is not None:
                            record_issues.setdefault(i, []).extend(found_)
                for i, ct in enumerate(rec.cts) if su_count + len(at) != k else ():
                    if ct != self.su and ct != self.carer:
                        p = rec.pidxs[i]
                        runs = other_runs.get((p, ct))
                        if runs is None:
                            runs = other_runs[(p, ct)] = self._person_runs(base, person_cols, p, ct, None)
                        lines_[i] = rec.line(i, runs)
            if record_issues:
                noted = True
                issues_col: list[Any] = [record_issues.get(i) for i in range(k)]
            else:
                issues_col = [None] * k
            out += zip(rec.pidxs, [0] * k, rec.starts, range(len(out), len(out) + k), lines_, issues_col, strict=True)
        # Rule X11: a carer with linked cared-for people and no carer's record of their own.
        known: list[int] = []
        known_blocks: list[sc.CarerBlock | None] = []
        with_rows = set(carers)
        for key in links:
            at_ = pidx.get(key)
            if at_ is not None and at_ not in with_rows and (block := block_of(at_)) is not None and block.linked:
                known.append(at_)
                known_blocks.append(block)
        if known:
            self.by_type[self.kba] += len(known)
            m = len(known)
            runs_ = self._run_columns(pc, n, self.kba, known, known_blocks)
            joined = self._joined([runs_[x] if isinstance(x, int) else x for x in self.no_events], m)
            lines_ = [joined] * m if isinstance(joined, str) else joined
            kb_issues = [linked_issues.get(p) for p in known]
            noted = noted or any(kb_issues)
            out += zip(known, [1] * m, [None] * m, range(len(out), len(out) + m), lines_, kb_issues, strict=True)
        try:
            out.sort()
        except TypeError:  # start dates of different types from different queries (date, datetime, text)
            out = _sorted_by_person(out)
        if not noted:
            lines += map(_LINE, out)
            self.rows += len(out)
            return
        for p, _, _, _, text_, row_issues in out:
            self.rows += 1
            lines.append(text_)
            found = person_issues.get(p)
            if found or row_issues:
                self._note(self.rows + 1, (found or []) + (row_issues or []))

    def _records(
        self,
        section: _Section,
        rows: list[Sequence[Any]],
        pidx: dict[Any, int],
        history: _Costs | None,
        record_issues: dict[int, list[tuple[str, str, bool]]],
    ) -> _Records:
        """An event section's records of a batch: their people, start dates, client types and cells."""
        k = len(rows)
        name = section.name
        cols = list(zip(*rows, strict=True))
        pidxs = list(map(pidx.__getitem__, cols[0]))
        if section.client_type is not None:
            cts = self._code_column(cols[section.client_type], section.ct_dict, name, "Client_Type")
        else:
            cts = [section.ct_default] * k
        for i, known, column_, what, line in section.checks:
            col = cols[i]
            if not all(map(known.__contains__, col)):
                for v in col:
                    if v not in known:
                        self._known_code(known, name, column_, what, line, v)
        as_at: list[tuple[Any, bool]] = []
        if section.service:  # rule X05, before the cells (a date that is not a date stops here first)
            cache, pe = self._as_at, self.pe
            ends = cols[section.end] if section.end is not None else [None] * k
            try:
                as_at = list(map(cache.__getitem__, ends))
            except KeyError:
                try:
                    as_at = [cache[v] if v in cache else _service_as_at(cache, pe, v) for v in ends]
                except sc.NotADate as exc:
                    raise _not_a_date(name, "event_end_date", exc) from None
        cells = self._cells(section.ops, cols, name, record_issues)
        cost: Column = ""
        if section.service:
            opens = list(map(_OPEN, as_at))
            opened = list(itertools.compress(range(k), opens))  # services open at the period end
            open_cell = self.open_cell
            if section.outcome is not None:  # the outcome of a service still open is rule X05's
                i, d = section.outcome
                try:
                    outcomes = list(map(d.__getitem__, cols[i]))
                except KeyError:  # a code not in the map counts only where the service is not open
                    miss = self.map_code
                    outcomes = [
                        open_cell if o else d[v] if v in d else miss(d, v, name, "Event_Outcome")
                        for v, o in zip(cols[i], opens, strict=True)
                    ]
                _set_at(outcomes, opened, open_cell)
                cells[self.i_outcome] = outcomes
            if opened:
                if section.outcome is None:
                    const = cells.get(self.i_outcome, "")
                    assert isinstance(const, str)
                    outcomes = [const] * k
                    _set_at(outcomes, opened, open_cell)
                    cells[self.i_outcome] = outcomes
                end = cells.get(self.i_end, "")
                end_cells = [end] * k if isinstance(end, str) else list(end)
                _set_at(end_cells, opened, "")
                cells[self.i_end] = end_cells
            if section.key is not None and history is not None:
                cost = history.cells(cols[0], cols[section.key], as_at, self.pe)  # rule X06
        # The record's own stretches of its line, in order (None where the person's runs go), each as its
        # cells' columns, with neighbouring cells that are the same on every row joined in advance.
        parts: list[list[Column] | None] = []
        for kind, x in section.pattern:
            if kind == "run":
                parts.append(None)
                continue
            stretch: list[Column] = []
            for cell in [cells.get(j, "") for j in section.segments[x]] if kind == "seg" else [cost]:
                if isinstance(cell, str) and stretch and isinstance(stretch[-1], str):
                    stretch[-1] += "," + cell
                else:
                    stretch.append(cell)
            parts.append(stretch)
        return _Records(pidxs, cols[section.start], cts, parts)

    def _cost_history(self, cost_rows: list[Sequence[Any]], pidx: dict[Any, int]) -> _Costs | None:
        """The unit cost histories of the batch's people by (person key, service key), oldest first (the
        query orders them so)."""
        if not all(map(pidx.__contains__, map(_KEY, cost_rows))):
            cost_rows = [r for r in cost_rows if r[0] in pidx]
        if not cost_rows:
            return None
        cols = list(zip(*cost_rows, strict=True))
        date_of, as_date = sc.DATE_OF, sc.as_date
        dates: list[Any]
        try:
            dates = list(map(date_of.__getitem__, cols[self.c_from]))
        except KeyError:
            try:
                dates = [date_of[v] if v in date_of else as_date(v) for v in cols[self.c_from]]
            except sc.NotADate as exc:
                raise _not_a_date("service_costs", "effective_from", exc) from None
        keys = list(zip(cols[0], cols[self.c_key], strict=True))
        amounts = cols[self.c_cost]
        last = dict(zip(keys, range(len(keys)), strict=True))
        changes = list(map(operator.ne, keys, keys[1:]))
        if sum(changes) + 1 == len(last):  # each service's costs together
            try:
                # Dates in order within each service (a None or a date of another type cannot be compared):
                # then a service's last cost date is its latest.
                ordered = (len(dates) > 1 or dates[0] is not None) and all(
                    map(operator.or_, changes, map(operator.le, dates, dates[1:]))
                )
            except TypeError:
                ordered = False
            return _Costs(keys, dates, amounts, last, None, ordered)
        by_key: dict[tuple[Any, Any], list[tuple[Any, Any]]] = {}
        for key, pair in zip(keys, zip(dates, amounts, strict=True), strict=True):
            by_key.setdefault(key, []).append(pair)
        return _Costs(keys, dates, amounts, last, by_key, False)

    def _addresses(
        self,
        pc: dict[int, Column],
        pidx: dict[Any, int],
        addr_rows: list[Sequence[Any]],
        person_issues: dict[int, list[tuple[str, str, bool]]],
    ) -> None:
        """Postcode and accommodation from each person's address as at the period end (rule X08)."""
        assert self.a_ops is not None
        try:
            chosen_p, chosen = _addresses_as_at(addr_rows, pidx, self.a_start, self.a_end, self.pe)
        except sc.NotADate:
            _check_dates("addresses", addr_rows, {"start_date": self.a_start, "end_date": self.a_end})
            raise
        if not chosen:
            return
        issues: dict[int, list[tuple[str, str, bool]]] = {}
        n = len(pidx)
        for j, col in self._cells(self.a_ops, list(zip(*chosen, strict=True)), "addresses", issues).items():
            if len(chosen_p) == n:  # everyone has an address (in key order, as the people are)
                pc[j] = col
                continue
            base = pc.get(j, "")
            full = [base] * n if isinstance(base, str) else list(base)
            any(map(full.__setitem__, chosen_p, [col] * len(chosen_p) if isinstance(col, str) else col))
            pc[j] = full
        for i, found in issues.items():
            person_issues.setdefault(chosen_p[i], []).extend(found)

    def _linked_text(
        self, block: sc.CarerBlock, p: int, issues: dict[int, list[tuple[str, str, bool]]]
    ) -> sc.CarerBlock:
        """Rule X10's linked IDs checked as the cared-for people's own LA Person Unique Identifier cells are
        (`text_cell`): characters Windows-1252 cannot hold are noted by field for carer `p`'s rows, and with
        --transliterate replaced the same way, so that a link still names the ID the cared-for person's row
        carries."""
        linked = []
        for m, value in enumerate(block.linked, 1):
            if not cp1252_ok(value):
                issues.setdefault(p, []).append((f"Adult_{m}_Linked_Person_ID", "not_cp1252", self.transliterate))
                if self.transliterate:
                    value = transliterate(value)
            linked.append(value)
        return block._replace(linked=tuple(linked))

    def _not_applicable_cells(self, client_type: str) -> list[int]:
        found = self._not_applicable.get(client_type)
        if found is None:
            found = self._not_applicable[client_type] = [
                self.ci[col] for col in sc.not_applicable_person_fields(self.spec, client_type or self.su)
            ]
        return found

    def _run_columns(
        self,
        pc: dict[int, Column],
        n: int,
        client_type: str,
        subset: list[int] | None = None,
        blocks: list[sc.CarerBlock | None] | None = None,
    ) -> list[Column]:
        """The runs of the batch's people (or of `subset` of them, with their carer blocks) for a client
        type, a column at a time: the fields Not applicable to it blanked (rule X09), the Client Type, and
        the carer block (rule X10)."""
        blank = set(self._not_applicable_cells(client_type))
        cells: dict[int, Column] = {self.i_client_type: quote_cell(client_type)}
        if blocks is not None:
            cells[self.i_adults] = [str(b.adults) if b is not None else "" for b in blocks]
            for m, j in enumerate(self.linked_cols):
                cells[j] = [quote_cell(b.linked[m]) if b is not None and m < len(b.linked) else "" for b in blocks]
        count = n if subset is None else len(subset)
        out: list[Column] = []
        for a, b in self.runs:
            cols: list[Column] = []
            for j in range(a, b):
                col = cells.get(j)
                if col is None:
                    col = "" if j in blank else pc.get(j, "")
                    if subset is not None and not isinstance(col, str):
                        col = list(map(col.__getitem__, subset))
                cols.append(col)
            out.append(self._joined(cols, count))
        return out

    def _person_runs(
        self,
        base: list[str],
        person_cols: dict[int, Sequence[str]],
        p: int,
        client_type: str,
        block: sc.CarerBlock | None,
    ) -> tuple[str, ...]:
        """Person `p`'s runs for a client type: the fields Not applicable to it blanked (rule X09), the
        Client Type, and the carer block (rule X10) when given."""
        c = base.copy()
        for j, col in person_cols.items():
            c[j] = col[p]
        for j in self._not_applicable_cells(client_type):
            c[j] = ""
        c[self.i_client_type] = quote_cell(client_type)
        if block is not None:
            c[self.i_adults] = str(block.adults)
            for j, value in zip(self.linked_cols, block.linked, strict=False):
                c[j] = quote_cell(value)
        return tuple([",".join(c[a:b]) for a, b in self.runs])

    def _note(self, row: int, issues: list[tuple[str, str, bool]]) -> None:
        """Record a row's text problems (row as a spreadsheet shows it); any but a transliteration stops the
        writing."""
        for field_, what, changed in issues:
            target = self.changed if changed else self.text_issues
            if len(target) < MAX_LISTED:
                target.append(TextIssue(row, field_, what))
            elif not changed:
                self.text_more += 1
            if not changed:
                self.stopped = True


def _sorted_by_person(rows: list[tuple[Any, ...]]) -> list[tuple[Any, ...]]:
    """The batch's rows in file order when start dates of one person cannot be compared as read: each
    person's rows by start date as read, or else as dates; a `known by association` row last."""
    by_person: dict[int, list[tuple[Any, ...]]] = {}
    for row in rows:
        by_person.setdefault(row[0], []).append(row)
    out: list[tuple[Any, ...]] = []
    for p in sorted(by_person):
        own = by_person[p]
        events = [r for r in own if r[1] == 0]
        try:
            events = sorted(events, key=_START)
        except TypeError:
            events = sorted(events, key=_start_date)
        out += events + [r for r in own if r[1] == 1]
    return out


def _start_date(row: tuple[Any, ...]) -> tuple[bool, dt.date]:
    """A row's start date as a sort key: a record with no start date (written blank for the validator to
    report) comes first."""
    found = sc.as_date(row[2])
    return (found is not None, found or dt.date.min)


def _service_as_at(cache: dict[Any, tuple[Any, bool]], period_end: dt.date, value: Any) -> tuple[Any, bool]:
    """Rule X05 for a service's end date as the source gives it, through a cache."""
    found = sc.service_as_at(sc.as_date(value), period_end)
    if len(cache) < 100_000:
        cache[value] = found
    return found


def _check_written_as_is(value: str, column_: str) -> None:
    """A list value the extractor writes as it is must be fit for the file (cells read from the source are
    checked one by one as they are made)."""
    if not cp1252_ok(value) or is_formula_like(value):
        raise UsageError(
            f'the {column_} value "{value}" cannot go in a return: Windows-1252 cannot hold it, or it would '
            "run as a spreadsheet formula. Correct the list (--spec-overlay) or the mapping."
        )


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause Python's automatic garbage collection. An extract makes millions of short-lived tuples and
    lists and no reference cycles, so the collector's passes over them find nothing and cost several per cent
    of the run. Should objects pile up all the same (`YOUNG_OBJECTS`: a database driver making cycles), the
    run collects them itself."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _addresses_as_at(
    addr_rows: list[Sequence[Any]], pidx: dict[Any, int], start: int, end: int | None, pe: dt.date
) -> tuple[list[Any], list[Sequence[Any]]]:
    """Each person's address as at the period end (rule X08), from their addresses in start order: the
    people's batch positions and the rows chosen, in key order (people not in `pidx` left out)."""
    date_of = sc.DATE_OF
    keys = list(map(_KEY, addr_rows))
    starts = list(map(operator.itemgetter(start), addr_rows))
    ends = list(map(operator.itemgetter(end), addr_rows)) if end is not None else None
    rows_n = len(keys)
    last = dict(zip(keys, range(rows_n), strict=True))  # person key -> their last address
    if (
        all(map(date_of.__contains__, starts))
        and (ends is None or all(map(date_of.__contains__, ends)))
        and sum(map(operator.ne, keys, keys[1:])) + 1 == len(last)  # each person's addresses together
    ):
        # Every date is known to be a date, so a person's address can be found from their last one (the
        # rows are in start order): it is the one if it is their only address or is current at the
        # period end (rule X08 takes the last current address); only otherwise are all theirs looked at.
        at = list(last.values())
        chosen: list[Sequence[Any]] = list(map(addr_rows.__getitem__, at))
        chosen_p: list[Any] = list(map(pidx.get, last))  # a position, or None: not written
        if len(at) != rows_n:
            firsts = [0, *map((1).__add__, at[:-1])]
            for j in itertools.compress(range(len(at)), map(operator.ne, at, firsts)):
                i = at[j]
                d = date_of[starts[i]]
                if d is None or d > pe or (ends is not None and (e := date_of[ends[i]]) is not None and e < pe):
                    chosen[j] = sc.pick_as_at(addr_rows[firsts[j] : i + 1], start, pe, end)  # type: ignore[assignment]
        if None in chosen_p:  # addresses of people not written
            kept = [j for j, p in enumerate(chosen_p) if p is not None]
            chosen = [chosen[j] for j in kept]
            chosen_p = [chosen_p[j] for j in kept]
    else:
        chosen_p, chosen = [], []
        for key, group in itertools.groupby(addr_rows, _KEY):
            p = pidx.get(key)
            if p is None:
                continue
            rows = list(group)
            row = rows[0]
            # One address is the one whatever its dates (once they are known to be dates).
            if len(rows) > 1 or row[start] not in date_of or (end is not None and row[end] not in date_of):
                row = sc.pick_as_at(rows, start, pe, end)  # type: ignore[assignment]
            chosen_p.append(p)
            chosen.append(row)
    return chosen_p, chosen


def _set_at(cells: list[str], at: Sequence[int], cell: str) -> None:
    """Put `cell` at the positions `at` of a column (through C-level `map`)."""
    any(map(cells.__setitem__, at, itertools.repeat(cell, len(at))))


def _grouped(rows: list[Sequence[Any]]) -> dict[Any, list[Sequence[Any]]]:
    """Rows in key order, by key."""
    return {key: list(group) for key, group in itertools.groupby(rows, _KEY)} if rows else {}


_KEY = operator.itemgetter(0)
_START = operator.itemgetter(2)
_OPEN = operator.itemgetter(1)  # of rule X05's (end date, open)
_LINE = operator.itemgetter(4)
# In free text joined by commas (and between two), what shows a value is not plain: a space first or last,
# or a first character that could start a formula. Each by the character it needs: looking for one character
# is many times faster than for two, and most columns hold few of these characters or none.
_NOT_PLAIN_EDGES = ((" ", (", ", " ,")), ("=", (",=",)), ("+", (",+",)), ("-", (",-",)), ("@", (",@",)))
_TEXT_OR_NULL = frozenset({str, type(None)})
_PRINTABLE_ASCII = bytes(range(0x20, 0x7F))


# ---------------------------------------------------------------------- the front door
def default_filename(la_code: str, period_start: dt.date, period_end: dt.date, gzip: bool = False) -> str:
    """`<LA>_CLD_<yyyymmdd>_<yyyymmdd>.csv` (`.csv.gz` when gzipped), as the synthetic councils name returns.

    Examples:
        >>> default_filename("103", dt.date(2025, 4, 1), dt.date(2026, 3, 31))
        '103_CLD_20250401_20260331.csv'
    """
    name = f"{la_code or 'LA'}_CLD_{period_start:%Y%m%d}_{period_end:%Y%m%d}.csv"
    return name + ".gz" if gzip else name


def _validate(path: Path, spec: Spec) -> tuple[Any, str]:
    try:
        from ascld.quality import validate_return
    except ImportError:
        return (
            None,
            "the validator (ascld.quality) is not installed in this build; run `ascld validate` later",
        )
    return validate_return(path, spec=spec), ""


def extract_return(
    source_url: str,
    mapping_path: str | Path,
    period_start: dt.date,
    period_end: dt.date,
    out_path: str | Path | None,
    *,
    gzip: bool = False,
    transliterate: bool = False,
    newline: str = "\r\n",
    spec: Spec | None = None,
    validate: bool = True,
    chunk_rows: int = CHUNK_ROWS,
) -> ExtractResult:
    """Extract a CLD return from a case-management database through a mapping.

    Args:
        source_url: SQLAlchemy URL of the source (`sqlite:///cms.sqlite`, `postgresql+psycopg://...`).
        mapping_path: the council's mapping (YAML; docs/extract.md).
        period_start, period_end: the reporting period (inclusive); scope rules apply to it.
        out_path: the return file, or a folder, or None for `<LA>_CLD_<start>_<end>.csv` in the current
            folder. Written atomically: it appears only when the whole extract succeeded.
        gzip: gzip the file.
        transliterate: replace characters Windows-1252 cannot hold instead of stopping (reported by row and
            field in `ExtractResult.transliterated`).
        newline: CRLF (default, what Windows tools write) or LF.
        spec: the specification (default `load_spec()`).
        validate: run the validator on the written file.
        chunk_rows: rows fetched from the source at a time.

    Returns:
        ExtractResult.

    Raises:
        MappingError: the mapping has problems, or a query fails or returns the wrong columns (nothing read).
        ExtractProblems: unmapped local codes, free text Windows-1252 cannot hold, records of unknown people
            (nothing written).
        UsageError: bad period, source URL or paths.

    Examples:
        See docs/extract.md and tests/extract/.
    """
    started = time.perf_counter()
    if period_end < period_start:
        raise UsageError(f"the period ends ({period_end}) before it starts ({period_start}). Use START:END.")
    if newline not in ("\r\n", "\n"):
        raise UsageError("newline must be CRLF or LF")
    spec = spec or load_spec()
    sc.check_rules_against_spec(spec)
    mapping = load_mapping(mapping_path, spec)
    engine = open_source(source_url)
    try:
        try:
            with engine.connect():
                pass
        except sa_exc.DBAPIError as exc:
            raise UsageError(
                f"cannot connect to the source: {describe_error(exc)}. Check --source (and that the database "
                "server is running)."
            ) from None
        plan = SourcePlan(mapping, spec, engine, (period_start, period_end))
        stmts = Statements(plan)
        writers: list[ReturnWriter] = []

        with contextlib.ExitStack() as stack:
            conn = stack.enter_context(engine.connect())
            if engine.dialect.name == "postgresql":
                conn = conn.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
            stack.enter_context(conn.begin())
            extractor = _Extractor(plan, stmts, conn, transliterate, chunk_rows, spec)

            def open_writer(la_code: str) -> ReturnWriter:
                target = Path(out_path) if out_path is not None else Path.cwd()
                if target.is_dir():
                    target = target / default_filename(la_code, period_start, period_end, gzip)
                # Every cell is checked for formula starts as it is built (`text_cell`; list values and
                # defaults before the run), so the writer does not scan the file again.
                writers.append(
                    ReturnWriter(target, spec=spec, gzip=gzip, newline=newline, check_formulas=False)
                )
                return stack.enter_context(writers[0])

            with _collector_paused():
                extractor.run(open_writer)
            if extractor.stopped or extractor.other or not writers:
                unmapped = [
                    UnmappedCode(
                        section, field_, code, count, extractor.unmapped_lines[(section, field_, what)], what
                    )
                    for (section, field_, code, what), count in sorted(extractor.unmapped.items())
                ]
                raise ExtractProblems(
                    mapping.file, unmapped, extractor.text_issues, extractor.text_more, extractor.other
                )
    finally:
        engine.dispose()
    writer = writers[0]
    path = writer.path
    validation, note = _validate(path, spec) if validate else (None, "validation not requested")
    return ExtractResult(
        path=path,
        rows=extractor.rows,
        sha256=writer.sha256,
        bytes=writer.bytes,
        la_code=next(iter(extractor.la_codes), ""),
        period_start=period_start,
        period_end=period_end,
        rows_by_type={k: extractor.by_type[k] for k in (*EVENT_SECTIONS.values(), extractor.kba)},
        transliterated=tuple(extractor.changed),
        validation=validation,
        validator_note=note,
        seconds=time.perf_counter() - started,
        spec_version=spec.version_label,
        mapping_sha256=mapping.sha256,
    )


__all__ = [
    "ExtractProblems",
    "ExtractResult",
    "SourceOrderError",
    "TextIssue",
    "UnmappedCode",
    "cp1252_ok",
    "default_filename",
    "extract_return",
    "transliterate",
]
