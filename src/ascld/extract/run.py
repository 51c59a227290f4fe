"""Extract a CLD return from a case-management database through a mapping, streaming.

How it works (docs/extract.md has the user's view):

1. **Check the mapping** against the spec (`load_mapping`), then against the source: every query is run once
   with no rows (`SELECT * FROM (<query>) q WHERE 1 = 0`) so a bad query, a missing key column, a column that
   is not a field, or a coded field with no value map is reported with its mapping line before any record is
   read.
2. **Stream, one person at a time.** Each query is wrapped by ascld: the scope rules (`scope.py`) become its
   WHERE clause and it is ordered by person key, so the source database does the filtering and sorting. The
   people, address, event, cost and carer-link streams are merged on the person key; the extractor holds one
   person's records at a time, so memory stays flat however large the source is. Carer links come with a flag
   saying whether the cared-for person has a Service user row in the file, worked out by the database.
3. **Map and write.** Local codes go through the value maps; every code with no entry is counted. Free text
   with characters Windows-1252 cannot hold is reported by row and field (or transliterated with
   `transliterate=True`). Rows go to the atomic return writer (`ascld.returns`): if anything was found the
   writer is abandoned and no file appears, so there is never a partial return.
4. **Validate** the written return with `ascld.quality.validate_return` when the validator is installed.

On PostgreSQL the whole extract reads one snapshot (REPEATABLE READ, read only).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import decimal
import operator
import time
import unicodedata
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection

from ascld.errors import AscldError, UsageError
from ascld.extract import scope as sc
from ascld.extract.mapping import EVENT_SECTIONS, allowed_fields, load_mapping
from ascld.extract.source import (
    PersonStream,
    SourceOrderError,
    SourcePlan,
    Statements,
    describe_error,
    open_source,
    read_rows,
)
from ascld.returns.writer import ReturnWriter, file_sha256, format_decimal, is_formula_like
from ascld.spec import Spec, load_spec

_quote_cell: Callable[[str], str] | None
try:  # the writer's quoting of one cell, for lines built from cached parts (newer writers have it)
    from ascld.returns.writer import quote_cell as _quote_cell
except ImportError:  # pragma: no cover - older writer: rows go through write_cells
    _quote_cell = None

CHUNK_ROWS = 5000
MAX_LISTED = 1000  # problems kept in full; the rest are counted (memory stays flat)
KIND_ORDER = {"requests": 0, "assessments": 1, "services": 2, "reviews": 3}


# ---------------------------------------------------------------------- results and problems
@dataclass(frozen=True)
class TextIssue:
    """A free-text cell with characters Windows-1252 cannot hold, or text that would run as a formula.

    The value is never kept: only where it is.

    Attributes:
        row: the row as a spreadsheet shows it (header = row 1).
        field: the national column name.
        kind: `not_cp1252` or `formula`.
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
_DATE_TEXT: dict[dt.date, str] = {}
_FORMULA_START = frozenset("=+-@")


def _fmt_date(value: Any, section: str = "", field_: str = "") -> str:
    if value is None:
        return ""
    text_ = _DATE_TEXT.get(value)
    if text_ is None:
        try:
            d = sc.as_date(value)
        except sc.NotADate as exc:
            raise UsageError(
                f"the {section} query's {field_.lower()} column holds {exc}. Return dates as dates, e.g. "
                f"`CAST(... AS DATE) AS {field_.lower()}`. Nothing was written."
            ) from None
        assert d is not None
        text_ = f"{d.day:02d}/{d.month:02d}/{d.year:04d}"
        if len(_DATE_TEXT) < 100_000:
            _DATE_TEXT[value] = text_
    return text_


_DECIMAL_TEXT: dict[Any, str] = {}


def _fmt_decimal(value: Any) -> str:
    """Two decimals, rounded half away from zero (the writer's `format_decimal`), through a cache."""
    if value is None or value == "":
        return ""
    text_ = _DECIMAL_TEXT.get(value)
    if text_ is None:
        number = decimal.Decimal(value.strip()) if isinstance(value, str) else value
        text_ = format_decimal(number)
        if len(_DECIMAL_TEXT) < 100_000:
            _DECIMAL_TEXT[value] = text_
    return text_


@dataclass
class _EventPlan:
    """How to build the cells of one event section's records (indexes into the query's row)."""

    name: str
    event_type: str
    kind: int
    apply: Callable[[list[str], Any], None]
    apply_open: Callable[[list[str], Any], None]  # services open at the period end: outcome left to X05
    start: int
    end: int | None
    key: int | None
    client_type: int | None
    ct_dict: dict[Any, str]
    ct_default: str
    status: int | None
    status_map: dict[str, str]
    status_line: int
    in_scope: list[tuple[int, frozenset[str], str, int]]
    service: bool


class _Extractor:
    """Builds the return's rows from the merged streams and writes them, counting every problem."""

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
        self._issues: list[tuple[str, str, bool]] = []  # (field, kind, changed) of the cells being built
        # When the writer takes whole lines (newer writers), every cell holds its text as the line carries it
        # (quoted by the writer's own `quote_cell` where needed): code maps are quoted once, free text as it
        # is read, and a row is one join. Otherwise cells hold plain text and rows go through write_cells.
        self.fast = _quote_cell is not None and hasattr(ReturnWriter, "write_line")
        self.q: Callable[[str], str] = _quote_cell if self.fast else _same  # type: ignore[assignment]
        self.open_outcome = sc.rule("open_at_period_end").params["outcome"]
        self.kba = sc.rule("known_by_association").params["client_type"]
        linked = sc.rule("carers_linked")
        self.max_linked = int(linked.params["max_linked"])
        self.carer = linked.params["carer"]
        self.linked_cols = [self.ci[f"Adult_{i}_Linked_Person_ID"] for i in range(1, self.max_linked + 1)]

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
        if quoted:
            out = {k: self.q(v) for k, v in out.items()}
        return out

    def unmapped_code(self, section: str, field_: str, value: Any, what: str, line: int) -> None:
        """Count a local code that has no mapping (and stop writing)."""
        code = "(blank)" if value is None else value.strip() if isinstance(value, str) else str(value)
        key = (section, field_, code, what)
        if key in self.unmapped or len(self.unmapped) < 10_000:
            self.unmapped[key] += 1
            self.unmapped_lines.setdefault((section, field_, what), line)
        self.stopped = True

    def map_code(self, d: dict[Any, str], value: Any, section: str, field_: str) -> str:
        """The cell for a code the map does not hold as given: tried again without surrounding spaces,
        else counted as unmapped (the cell is left blank; nothing will be written)."""
        key = value.strip() if isinstance(value, str) else str(value)
        hit = d.get(key)
        if hit is not None:
            return hit
        vm = self.mapping.value_map(section, field_)
        self.unmapped_code(
            section, field_, value, "value map", vm.line if vm else self.mapping.sections[section].line
        )
        return ""

    def text_cell(self, value: Any, field_: str) -> str:
        """A free-text cell: stripped, checked for Windows-1252 and formula starts (problems noted by field
        for the row being built), quoted for the line when needed."""
        text_ = (value if type(value) is str else str(value)).strip()
        if not text_.isascii() and not cp1252_ok(text_):
            if self.transliterate:
                text_ = transliterate(text_)
                self._issues.append((field_, "not_cp1252", True))
            else:
                self._issues.append((field_, "not_cp1252", False))
        if text_ and text_[0] in "=+-@" and is_formula_like(text_):
            self._issues.append((field_, "formula", False))
        return self.q(text_)

    # ------------------------------------------------------------------ per-section cell plans
    def _plan_fields(self, section: str, names: list[str], shift: int = 0) -> tuple[Any, ...]:
        """Operations per field of a section, cell indexes less `shift`: codes (out, index, dict, field),
        texts (out, index, default, field), dates (out, index), decimals (out, index), constants."""
        fields = {
            c.lower(): c for c in allowed_fields(self.spec, section, "service_costs" in self.mapping.sections)
        }
        idx = {n: i for i, n in enumerate(names)}
        codes, texts, dates, decimals, constants = [], [], [], [], []
        for low, column_ in fields.items():
            out = self.ci[column_] - shift
            f = self.spec.field(column_)
            default = self.mapping.default(section, column_)
            if low not in idx:
                if default is not None and default.value:
                    constants.append((out, default.value))
                continue
            i = idx[low]
            if f.defined_list:
                codes.append((out, i, self.code_dict(section, column_), column_))
            elif f.type == "date":
                dates.append((out, i))
            elif f.type in ("decimal", "integer"):
                decimals.append((out, i))
            else:
                texts.append((out, i, default.value if default else "", column_))
        return tuple(codes), tuple(texts), tuple(dates), tuple(decimals), tuple(constants)

    def _compile(
        self, ops: tuple[Any, ...], section: str, skip: int = -1
    ) -> Callable[[list[str], Any], None]:
        """One straight-line function setting a section's cells from a source row (`apply(cells, row)`).

        Generated from the field operations once per section: a return has a million rows, and a loop over
        generic operations costs about twice as much. Only indexes, repr() literals and the mapping's dicts
        (passed in by name) go into the source; the field names are for messages.
        """
        codes, texts, dates, decimals, constants = ops
        env: dict[str, Any] = {
            "MISS": self.map_code,
            "TEXT": self.text_cell,
            "DATES": _DATE_TEXT,
            "FMT_DATE": _fmt_date,
            "DEC": _fmt_decimal,
            "FS": _FORMULA_START,
        }
        # Codes and dates first, by plain subscripts (the usual case: every code is in its map and every
        # date in the cache); any miss re-runs them through `.get` and the slow paths, which count unmapped
        # codes and format new dates. Both set the same cells, so the row is the same either way.
        fast: list[str] = []
        slow: list[str] = []
        for out, text_ in constants:
            fast.append(f"c[{out}] = {self.q(text_)!r}")
        for k, (out, i, d, field_) in enumerate(codes):
            if out == skip:
                continue
            env[f"D{k}"] = d
            fast.append(f"c[{out}] = D{k}[r[{i}]]")
            slow += [
                f"v = r[{i}]",
                f"h = D{k}.get(v)",
                f"c[{out}] = h if h is not None else MISS(D{k}, v, {section!r}, {field_!r})",
            ]
        for out, i in dates:
            field_ = self.columns[out + (self.split if section in EVENT_SECTIONS else 0)]
            fast += [f"v = r[{i}]", f"c[{out}] = '' if v is None else DATES[v]"]
            slow += [
                f"v = r[{i}]",
                f"c[{out}] = '' if v is None else (DATES.get(v) or FMT_DATE(v, {section!r}, {field_!r}))",
            ]
        body: list[str] = []
        if slow:
            body += ["try:", *(f"    {line}" for line in fast), "except KeyError:", "    SLOW(c, r)"]
        else:
            body += fast
        for out, i, default, field_ in texts:
            # The usual case inline: plain printable ASCII, nothing to strip, quote or refuse.
            body += [
                f"v = r[{i}]",
                "if v is None or v == '':",
                f"    c[{out}] = {self.q(default)!r}",
                "elif type(v) is str and v.isascii() and v.isprintable() and v[0] > ' ' and v[-1] > ' ' "
                """and v[0] not in FS and ',' not in v and '"' not in v:""",
                f"    c[{out}] = v",
                "else:",
                f"    c[{out}] = TEXT(v, {field_!r})",
            ]
        for out, i in decimals:
            body.append(f"c[{out}] = DEC(r[{i}])")
        source = "def SLOW(c, r):\n" + "".join(f"    {line}\n" for line in slow or ["pass"])
        source += "def apply(c, r):\n" + "".join(f"    {line}\n" for line in body or ["pass"])
        exec(compile(source, f"<ascld.extract.run {section}>", "exec"), env)  # noqa: S102 - see docstring
        return env["apply"]  # type: ignore[no-any-return]

    def _prepare(
        self,
        p_names: list[str],
        a_names: list[str] | None,
        c_names: list[str] | None,
        e_names: list[tuple[str, list[str]]],
    ) -> None:
        m = self.mapping
        self.split = split = self.ci["Event_Type"]  # cells before it are the person's, from it the event's
        self.p_apply = self._compile(self._plan_fields("people", p_names), "people")
        self.p_death = p_names.index("date_of_death") if "date_of_death" in p_names else None
        self.p_la = p_names.index("la_code") if "la_code" in p_names else None
        self.a_apply = (
            self._compile(self._plan_fields("addresses", a_names), "addresses") if a_names else None
        )
        self.a_start = a_names.index("start_date") if a_names else 0
        self.a_end = a_names.index("end_date") if a_names and "end_date" in a_names else None
        if c_names:
            self.c_key, self.c_from, self.c_cost = (
                c_names.index(n) for n in ("event_key", "effective_from", "unit_cost")
            )
        self.e_plans: dict[str, _EventPlan] = {}
        for name, names in e_names:
            idx = {n: i for i, n in enumerate(names)}
            section = m.sections[name]
            ct_default = m.default(name, "Client_Type")
            # Client_Type is mapped apart (it picks the person cells), so it is hidden from the field ops.
            ops = self._plan_fields(name, [n if n != "client_type" else "" for n in names], shift=split)
            self.e_plans[name] = _EventPlan(
                name=name,
                event_type=self.q(section.event_type or ""),
                kind=KIND_ORDER[name],
                apply=self._compile(ops, name),
                apply_open=self._compile(ops, name, skip=self.ci["Event_Outcome"] - split),
                start=idx["event_start_date"],
                end=idx.get("event_end_date"),
                key=idx.get("event_key"),
                client_type=idx.get("client_type"),
                ct_dict=self.code_dict(name, "Client_Type", quoted=False),
                ct_default=ct_default.value if ct_default else "",
                status=idx.get("status"),
                status_map=section.status or {},
                status_line=section.status_line,
                in_scope=[
                    (idx[c], codes, c, section.scope_lines.get(c, section.line))
                    for c, codes in section.in_scope.items()
                    if c in idx
                ],
                service=name == "services",
            )
        # Event cell indexes, relative to the event part of the row.
        self.e_type = 0
        self.e_outcome = self.ci["Event_Outcome"] - split
        self.e_end = self.ci["Event_End_Date"] - split
        self.e_cost = self.ci["Unit_Cost"] - split
        self.e_adults = self.ci["No_of_adults_being_cared_for"] - split
        self.e_linked = [c - split for c in self.linked_cols]
        self.i_client_type = self.ci["Client_Type"]
        self.open_outcome_cell = self.q(self.open_outcome)
        self.su = sc.event_client_types()[0]
        self.i_death = self.ci["Date_of_Death"]
        self.i_la = self.ci["LA_Code"]
        self.base_constants = [
            (self.ci["Reporting_Period_Start_Date"], _fmt_date(self.ps)),
            (self.ci["Reporting_Period_End_Date"], _fmt_date(self.pe)),
        ]
        self.base_template = [""] * self.width
        for i, text_ in self.base_constants:
            self.base_template[i] = text_

    # ------------------------------------------------------------------ the run
    def run(self, open_writer: Callable[[str], ReturnWriter]) -> None:
        """Read the merged streams person by person and write every row (or only count, once a problem
        means nothing will be written)."""
        stmts = self.stmts
        m = self.mapping
        file = m.file

        def stream(name: str, made: tuple[Any, list[str]]) -> tuple[PersonStream, list[str]]:
            stmt, names = made
            line = m.sections[name].line
            return PersonStream(name, line, read_rows(self.conn, stmt, name, file, line, self.chunk)), names

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
        event_streams = [(self.e_plans[name], s) for name, s, _ in events]
        link_stream = links[0] if links else None
        address_stream = addresses[0] if addresses else None
        cost_stream = costs[0] if costs else None
        duplicates = 0
        while not people.done:
            key = people.key
            group = people.take(key)
            if len(group) > 1:
                duplicates += 1
                self.stopped = True
            prow = group[0]
            if writer is None:
                la = prow[self.p_la] if self.p_la is not None else None
                writer = open_writer(
                    str(la).strip() if la is not None else la_default.value if la_default else ""
                )
            try:
                ev = [
                    (plan, records) for plan, s in event_streams if s.key <= key and (records := s.take(key))
                ]
                lk = link_stream.take(key) if link_stream is not None and link_stream.key <= key else _NONE
            except TypeError:
                raise SourceOrderError(
                    f"{file}: the queries return person keys of different types (the people query gives "
                    f"{type(key).__name__}). Return the same type from every query, e.g. "
                    "`CAST(... AS INTEGER) AS person_key`."
                ) from None
            if ev or lk:
                addr = address_stream.take(key) if address_stream is not None else _NONE
                cost = cost_stream.take(key) if cost_stream is not None else _NONE
                if ev or any(r[3] for r in lk):
                    self._person(prow, ev, lk, addr, cost, writer)
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

    # ------------------------------------------------------------------ one person
    def _person(
        self,
        prow: Sequence[Any],
        ev: list[tuple[_EventPlan, list[Sequence[Any]]]],
        lk: list[Sequence[Any]],
        addr: list[Sequence[Any]],
        cost: list[Sequence[Any]],
        writer: ReturnWriter,
    ) -> None:
        person_issues: list[tuple[str, str, bool]] = []
        self._issues = person_issues
        base = self.base_template.copy()
        self.p_apply(base, prow)
        if self.a_apply is not None and addr:
            chosen = sc.pick_as_at(addr, self.a_start, self.pe, self.a_end)
            if chosen is not None:
                self.a_apply(base, chosen)
        death_i = self.i_death
        if base[death_i] and sc.death_as_at(sc.as_date(prow[self.p_death]), self.pe) is None:  # type: ignore[index]
            base[death_i] = ""
        la = base[self.i_la]
        if la not in self.la_codes and len(self.la_codes) < 10:
            self.la_codes.add(la)
        # Per client type: the person part of the row (cells and joined line) and the event part's template.
        parts: dict[str, tuple[list[str], str, list[str]]] = {}
        cost_by_key: dict[Any, list[tuple[Any, Any]]] | None = None
        if cost:
            cost_by_key = {}
            c_key, c_from, c_cost = self.c_key, self.c_from, self.c_cost
            for r in cost:
                cost_by_key.setdefault(r[c_key], []).append((sc.as_date(r[c_from]), r[c_cost]))
        rows: list[tuple[Any, int, int, str, Any, list[str], list[tuple[str, str, bool]]]] = []
        seq = 0
        for plan, records in ev:
            for rec in records:
                seq += 1
                rows.append(self._event(plan, rec, base, parts, cost_by_key, seq))
        if len(rows) > 1:
            try:
                rows.sort(key=_ROW_ORDER)
            except TypeError:  # start dates of different types from different queries (date, datetime, text)
                rows.sort(key=lambda r: (sc.as_date(r[0]), r[1], r[2]))
        block = sc.carer_block(lk, self.max_linked) if lk else None
        has_carer_row = False
        carer = self.carer
        emit = self._emit
        for _, _, _, client_type, part, tail, issues in rows:
            if client_type == carer:
                has_carer_row = True
                if block is not None:
                    self._carer_cells(tail, block)
            emit(part, tail, writer, tail[0], person_issues + issues if person_issues else issues)
        if block is not None and block.linked and not has_carer_row:
            part = self._part(base, parts, self.kba)
            tail = part[2].copy()
            self._carer_cells(tail, block)
            emit(part, tail, writer, self.kba, person_issues)

    def _part(
        self, base: list[str], parts: dict[str, tuple[list[str], str, list[str]]], client_type: str
    ) -> tuple[list[str], str, list[str]]:
        """The person part of a row for a client type: cells, joined line, and the event part's template."""
        found = parts.get(client_type)
        if found is None:
            cells = base.copy()
            ci = self.ci
            for col in sc.not_applicable_person_fields(self.spec, client_type):
                cells[ci[col]] = ""
            cells[self.i_client_type] = self.q(client_type)
            split = self.split
            head = cells[:split]
            found = parts[client_type] = (head, ",".join(head) if self.fast else "", cells[split:])
        return found

    def _carer_cells(self, tail: list[str], block: sc.CarerBlock) -> None:
        tail[self.e_adults] = str(block.adults)
        for col, value in zip(self.e_linked, block.linked, strict=False):
            tail[col] = self.q(value)

    def _event(
        self,
        plan: _EventPlan,
        rec: Sequence[Any],
        base: list[str],
        parts: dict[str, tuple[list[str], str, list[str]]],
        cost_by_key: dict[Any, list[tuple[Any, Any]]] | None,
        seq: int,
    ) -> tuple[Any, int, int, str, Any, list[str], list[tuple[str, str, bool]]]:
        """A row to sort and emit: (start, kind, seq, client type, person part, event cells, text issues)."""
        issues: list[tuple[str, str, bool]] = []
        self._issues = issues
        if plan.client_type is not None:
            v = rec[plan.client_type]
            client_type = plan.ct_dict.get(v)
            if client_type is None:
                client_type = self.map_code(plan.ct_dict, v, plan.name, "Client_Type")
        else:
            client_type = plan.ct_default
        if plan.status is not None:
            v = rec[plan.status]
            if (
                v not in plan.status_map
                and (v.strip() if isinstance(v, str) else str(v)) not in plan.status_map
            ):
                self.unmapped_code(plan.name, "status", v, "status", plan.status_line)
        for i, codes, col, line in plan.in_scope:
            v = rec[i]
            if v not in codes and (v.strip() if isinstance(v, str) else str(v)) not in codes:
                self.unmapped_code(plan.name, col, v, "in_scope", line)
        part = parts.get(client_type) or self._part(base, parts, client_type or self.su)
        tail = part[2].copy()
        tail[0] = plan.event_type
        if plan.service:
            end = sc.as_date(rec[plan.end]) if plan.end is not None else None
            written, still_open = sc.service_as_at(end, self.pe)
            if still_open:
                plan.apply_open(tail, rec)
                tail[self.e_end] = ""
                tail[self.e_outcome] = self.open_outcome_cell
            else:
                plan.apply(tail, rec)
            if cost_by_key is not None and plan.key is not None:
                history = cost_by_key.get(rec[plan.key])
                if history:
                    tail[self.e_cost] = _fmt_decimal(sc.cost_as_at(history, written, self.pe))
        else:
            plan.apply(tail, rec)
        if not client_type:
            part = (part[0][:], "", part[2])
            part[0][self.i_client_type] = ""
            if self.fast:
                part = (part[0], ",".join(part[0]), part[2])
        return rec[plan.start], plan.kind, seq, client_type, part, tail, issues

    def _emit(
        self,
        part: tuple[list[str], str, list[str]],
        tail: list[str],
        writer: ReturnWriter,
        kind: str,
        issues: list[tuple[str, str, bool]],
    ) -> None:
        self.rows += 1
        self.by_type[kind] += 1
        if issues:
            row = self.rows + 1  # the header is row 1
            for field_, what, changed in issues:
                target = self.changed if changed else self.text_issues
                if len(target) < MAX_LISTED:
                    target.append(TextIssue(row, field_, what))
                elif not changed:
                    self.text_more += 1
                if not changed:
                    self.stopped = True
        if self.stopped:
            return
        if self.fast:
            writer.write_line(part[1] + "," + ",".join(tail))
        else:
            writer.write_cells(part[0] + tail)


def _same(text: str) -> str:
    return text


_ROW_ORDER = operator.itemgetter(0, 1, 2)  # start date, event kind, order read
_NONE: list[Any] = []


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
        final: list[Path] = []

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
                final.append(target)
                return stack.enter_context(ReturnWriter(target, spec=spec, gzip=gzip, newline=newline))

            extractor.run(open_writer)
            if extractor.stopped or extractor.other or not final:
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
    path = final[0]
    validation, note = _validate(path, spec) if validate else (None, "validation not requested")
    return ExtractResult(
        path=path,
        rows=extractor.rows,
        sha256=file_sha256(path),
        bytes=path.stat().st_size,
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
