"""The source side of an extract: check the mapping's queries against the database, wrap them with the
scope rules, and read them as streams ordered by person key.

* `SourcePlan` runs every query once with no rows (`SELECT * FROM (<query>) q WHERE 1 = 0`) and checks its
  columns, so a bad query, a missing key column, an unknown column or a coded field with no value map is
  reported with its mapping line before any record is read.
* `Statements` wraps each query (SQLAlchemy Core over the council's SQL as a subquery): the scope rules of
  `scope.py` become its WHERE clause and it is ordered by person key, so the database does the filtering and
  sorting. The carer links come with a flag saying whether the cared-for person has a Service user row in the
  file, which the database works out too.
* `KeyedStream` reads one ordered result in chunks and hands it out a batch of person keys at a time.
"""

from __future__ import annotations

import bisect
import datetime as dt
import operator
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Date,
    String,
    and_,
    bindparam,
    cast,
    column,
    create_engine,
    false,
    func,
    literal,
    literal_column,
    not_,
    or_,
    select,
    text,
    true,
    union_all,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.sql import Select
from sqlalchemy.sql.elements import ColumnElement, TextClause

from ascld.errors import AscldError, EngineNotInstalled, UsageError
from ascld.extract import scope as sc
from ascld.extract.mapping import (
    ADDRESS_FIELDS,
    EVENT_SECTIONS,
    FILLED_BY_ASCLD,
    ExtractMapping,
    MappingError,
    MappingProblem,
    Section,
    allowed_fields,
    coded,
)
from ascld.spec import Spec

PERIOD_PARAMS = ("period_start", "period_end")

# Key columns (not fields of the return) each section's query returns: name -> required.
KEY_COLUMNS: dict[str, dict[str, bool]] = {
    "people": {"person_key": True},
    "addresses": {"person_key": True, "start_date": True, "end_date": False, "address_key": False},
    "requests": {"person_key": True, "event_key": False, "status": False},
    "assessments": {"person_key": True, "event_key": False, "status": False},
    "services": {"person_key": True, "event_key": False, "status": False},
    "reviews": {"person_key": True, "event_key": False, "status": False},
    "service_costs": {"person_key": True, "event_key": True, "effective_from": True, "unit_cost": True},
    "carer_links": {"carer_key": True, "cared_for_key": True, "start_date": True, "end_date": True},
}
REQUIRED_FIELDS = {
    "people": ("LA_Person_Unique_Identifier",),
    **{name: ("Event_Start_Date", "Event_End_Date") for name in EVENT_SECTIONS},
}


# ---------------------------------------------------------------------- the source
def open_source(source_url: str) -> Engine:
    """An engine for the source URL; a SQLite path must exist (SQLAlchemy would create an empty file)."""
    try:
        url = make_url(source_url)
    except sa_exc.ArgumentError as exc:
        raise UsageError(
            f"--source is not a database URL ({exc}). Use an SQLAlchemy URL such as "
            "sqlite:///path/to/cms.sqlite or postgresql+psycopg://user@host/db."
        ) from None
    if url.get_backend_name() == "sqlite":
        database = url.database or ""
        if (
            not database
            or database == ":memory:"
            or not database.startswith("file:")
            and not Path(database).is_file()
        ):
            raise UsageError(
                f"--source: no SQLite database at {database or '(no path)'}. Check the path "
                "(sqlite:///relative.sqlite or sqlite:////absolute/path.sqlite)."
            )
    try:
        return create_engine(url)
    except (ImportError, sa_exc.NoSuchModuleError) as exc:
        extra = (
            ' pip install "ascld[postgres]"'
            if url.get_backend_name() == "postgresql"
            else " install the database driver named in the URL"
        )
        raise EngineNotInstalled(
            f"--source needs a database driver that is not installed ({exc}):{extra}"
        ) from None


def describe_error(exc: BaseException) -> str:
    """A database error without the SQL and parameters SQLAlchemy appends (they may hold values)."""
    orig = getattr(exc, "orig", None)
    text_ = str(orig if orig is not None else exc).strip().splitlines()
    return text_[0] if text_ else type(exc).__name__


@dataclass
class _Query:
    """A section's query, bound to the period and described by a probe of the source."""

    section: Section
    clause: TextClause
    names: list[str]  # column names as the source returns them
    by_lower: dict[str, str]  # lower-case name -> name

    def has(self, name: str) -> bool:
        """Whether the query returns a column (any case)."""
        return name in self.by_lower

    def subquery(self, alias: str) -> Any:
        """The query as a subquery. Its columns are untyped: values arrive as the driver gives them (dates
        as dates, or as ISO text from SQLite) and are converted through a cache (`scope.as_date`), which
        costs far less than converting every cell."""
        return self.clause.columns(*[column(name) for name in self.names]).subquery(alias)


class SourcePlan:
    """The mapping checked against the source: bound queries, and every problem found before any record."""

    def __init__(self, mapping: ExtractMapping, spec: Spec, engine: Engine, period: tuple[dt.date, dt.date]):
        self.mapping = mapping
        self.spec = spec
        self.period = period
        self.dialect = engine.dialect.name
        self.problems: list[MappingProblem] = []
        self.queries: dict[str, _Query] = {}
        for name, section in mapping.sections.items():
            query = self._probe(engine, section)
            if query is not None:
                self.queries[name] = query
                self._check_columns(query)
        if self.problems:
            raise MappingError(self.problems)

    def problem(self, line: int, message: str, hint: str) -> None:
        """Record a problem at a mapping line."""
        self.problems.append(MappingProblem(self.mapping.file, line, message, hint))

    def _probe(self, engine: Engine, section: Section) -> _Query | None:
        try:
            clause = text(section.sql)
            names = list(clause.compile().params)
        except sa_exc.SQLAlchemyError as exc:
            self.problem(
                section.line,
                f"the {section.name} query cannot be read ({describe_error(exc)})",
                f"Fix the SQL under {section.name}.sql",
            )
            return None
        unknown = [n for n in names if n not in PERIOD_PARAMS]
        if unknown:
            self.problem(
                section.line,
                f"the {section.name} query uses :{', :'.join(unknown)}",
                "Only :period_start and :period_end are supplied; write other values into the SQL "
                "(a colon that is not a parameter must be written \\:)",
            )
            return None
        values = dict(zip(PERIOD_PARAMS, self.period, strict=True))
        clause = clause.bindparams(*[bindparam(n, values[n], type_=Date) for n in names])
        probe: Select[Any] = (
            select(literal_column("*")).select_from(clause.columns().subquery("q")).where(false())
        )
        try:
            with engine.connect() as conn:
                result = conn.execute(probe)
                keys = list(result.keys())
                result.close()
        except sa_exc.DBAPIError as exc:
            self.problem(
                section.line,
                f"the {section.name} query failed on the source: {describe_error(exc)}",
                f"Fix the SQL under {section.name}.sql. ascld runs it as written, wrapped as "
                "SELECT * FROM (<query>) q, so it must be one SELECT with no ORDER BY or trailing "
                "semicolon; try it in your SQL client first",
            )
            return None
        return _Query(section, clause, keys, {k.lower(): k for k in keys})

    def _check_columns(self, q: _Query) -> None:
        s = q.section
        m = self.mapping
        name = s.name
        keys = KEY_COLUMNS[name]
        has_costs = "service_costs" in m.sections
        fields = {c.lower(): c for c in allowed_fields(self.spec, name, has_costs)}
        classifiers = set(s.in_scope) | set(s.out_of_scope)
        seen: dict[str, str] = {}
        for col in q.names:
            low = col.lower()
            first, colon, n = low.rpartition(":")  # SQLite names a repeated column `gender:1`
            if low in seen or (colon and n.isdigit() and first in seen):
                self.problem(
                    s.line,
                    f"the {name} query returns the column {low if low in seen else first} twice",
                    "Give each column one alias",
                )
                continue
            seen[low] = col
            if low in keys or low in fields or low in classifiers:
                continue
            try:
                national = self.spec.field(low).column
            except KeyError:
                national = None
            if national in FILLED_BY_ASCLD:
                hint = f"ascld fills {national} from {FILLED_BY_ASCLD[national]}; remove the column"
            elif national == "Unit_Cost" and has_costs:
                hint = (
                    "With a service_costs section the unit cost comes from it (rule X06); remove the column"
                )
            elif national in ADDRESS_FIELDS and name == "people" and "addresses" in m.sections:
                hint = f"{national} comes from the addresses section; remove the column here"
            elif national is not None:
                hint = f"{national} cannot come from the {name} section (docs/extract.md: what each returns)"
            else:
                hint = (
                    "Name it after a national column in snake_case, a key column "
                    f"({', '.join(keys)}), or a column listed under in_scope/out_of_scope; or remove it"
                )
            self.problem(s.line, f"the {name} query returns a column `{col}` ascld does not use", hint)
        for key, required in keys.items():
            if required and key not in seen:
                self.problem(
                    s.line,
                    f"the {name} query has no {key} column",
                    f"Add `... AS {key}` to the SELECT (docs/extract.md, key columns)",
                )
        for required_field in REQUIRED_FIELDS.get(name, ()):
            if required_field.lower() not in seen and m.default(name, required_field) is None:
                self.problem(
                    s.line,
                    f"the {name} query has no {required_field.lower()} column",
                    f"Return the {required_field} as `... AS {required_field.lower()}`",
                )
        if name == "addresses" and not any(f.lower() in seen for f in ADDRESS_FIELDS):
            self.problem(
                s.line,
                "the addresses query returns neither postcode nor accommodation_status",
                "Return at least one of them",
            )
        if name in EVENT_SECTIONS:
            self._check_event(q, seen, has_costs)
        for low in seen:
            if low in fields and coded(self.spec, fields[low]) and m.value_map(name, fields[low]) is None:
                column_ = fields[low]
                self.problem(
                    s.line,
                    f"the {name} query returns {low} ({column_}, a coded field) but the mapping "
                    f"has no value map for {column_}",
                    f"Add `{column_}:` with one `LOCAL CODE: Release 2 value` per line under `values:` "
                    f"(or `{column_}: as_is` if the system already holds Release 2 values)",
                )

    def _check_event(self, q: _Query, seen: dict[str, str], has_costs: bool) -> None:
        s = q.section
        name = s.name
        if "client_type" not in seen and self.mapping.default(name, "Client_Type") is None:
            self.problem(
                s.line,
                f"the {name} query has no client_type column",
                "Return the client's role as `... AS client_type` (mapped under values: Client_Type), or "
                f"give `defaults: Client_Type:` in the {name} section",
            )
        if "status" in seen and s.status is None:
            self.problem(
                s.line,
                f"the {name} query returns status but the section has no status map",
                f"Add `status:` to {name} mapping each local status code to one of "
                f"{', '.join(sorted(sc.event_scope(s.event_type or '').statuses))}",
            )
        if s.status is not None and "status" not in seen:
            self.problem(
                s.status_line,
                f"{name}.status is given but the query returns no status column",
                "Return the record's status as `... AS status`, or remove the status map",
            )
        if name == "services" and has_costs and "event_key" not in seen:
            self.problem(
                s.line,
                "the services query has no event_key column, which service_costs needs",
                "Return the service's key as `... AS event_key` (the same key service_costs returns)",
            )
        for col in sorted(set(s.in_scope) | set(s.out_of_scope)):
            line = s.scope_lines.get(col, s.line)
            if col not in seen:
                self.problem(
                    line,
                    f"{name}: the in/out-of-scope column {col} is not returned by the query",
                    f"Return it as `... AS {col}`, or correct the column name",
                )
                continue
            try:
                national: str | None = self.spec.field(col).column
            except KeyError:
                national = None
            if national is not None and coded(self.spec, national):
                vm = self.mapping.value_map(name, national)
                if col in s.in_scope:
                    self.problem(
                        line,
                        f"{name}.in_scope lists codes of {national}, a mapped field",
                        f"Codes in the {national} value map are in scope; list only out-of-scope codes",
                    )
                if vm is not None:
                    for code in sorted(set(s.out_of_scope.get(col, {})) & set(vm.codes)):
                        self.problem(
                            s.code_lines.get((col, code), line),
                            f"{name}: {national} code `{code}` is both out of scope and in the value map",
                            "Remove it from one of them",
                        )
            elif col in s.out_of_scope and col not in s.in_scope:
                self.problem(
                    line,
                    f"{name}.out_of_scope lists codes of {col} but in_scope does not list its in-scope codes",
                    f"Add `in_scope: {col}: [...]` so that a new local code stops the "
                    "extract instead of slipping in",
                )


# ---------------------------------------------------------------------- statements
def _code_sql(col: ColumnElement[Any]) -> ColumnElement[Any]:
    return func.trim(cast(col, String))


def _not_in(col: ColumnElement[Any], codes: Sequence[str]) -> ColumnElement[bool]:
    return or_(col.is_(None), _code_sql(col).not_in(list(codes)))


def _not_a_date_sqlite(col: ColumnElement[Any]) -> ColumnElement[bool]:
    """On SQLite, a value that is not ISO date text (a number, `15/06/2025`, empty text): the scope filters'
    comparisons would place it wrongly or leave it out unseen, so it is let through for the extractor to stop
    on (`scope.scope_filter`)."""
    iso = col.op("GLOB")(literal("[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]*"))
    return and_(col.is_not(None), not_(and_(func.typeof(col) == "text", iso)))


class Statements:
    """The SQL ascld runs: each query wrapped with the scope rules and ordered by person key."""

    def __init__(self, plan: SourcePlan) -> None:
        self.plan = plan
        self.mapping = plan.mapping
        ps, pe = plan.period
        self.ps = bindparam("ascld_period_start", ps, type_=Date)
        # The scope filters compare with the day after the period end (`scope.scope_filter`: dates with a
        # time of day count by their day).
        self.after_end = bindparam("ascld_after_period_end", pe + dt.timedelta(days=1), type_=Date)
        self.not_a_date = _not_a_date_sqlite if plan.dialect == "sqlite" else None

    def _ordered(
        self,
        q: _Query,
        alias: str,
        key: str,
        order: Sequence[str],
        where: Sequence[ColumnElement[bool]] = (),
        unread: Sequence[str] = (),
    ) -> tuple[Any, list[str]]:
        """The query by `order`, its key column first; `unread` columns only order the rows (every cell read
        costs, so those the extractor never looks at are not fetched)."""
        sub = q.subquery(alias)
        names = [q.by_lower[key]] + [n for n in q.names if n.lower() != key and n.lower() not in unread]
        stmt = select(*[sub.c[n] for n in names])
        if where:
            stmt = stmt.where(*where)
        stmt = stmt.order_by(*[sub.c[q.by_lower[o]] for o in order if q.has(o)])
        return stmt, [n.lower() for n in names]

    def event_filters(self, q: _Query, sub: Any) -> list[ColumnElement[bool]]:
        """The WHERE conditions of an event query: the scope rule's dates, statuses left out, and the
        codes listed under out_of_scope."""
        s = q.section
        scope = sc.event_scope(s.event_type or "")
        c = {n.lower(): sub.c[n] for n in q.names}
        where = [
            sc.scope_filter(
                scope, c["event_start_date"], c["event_end_date"], self.ps, self.after_end, self.not_a_date
            )
        ]
        if s.status is not None and "status" in c:
            out = sorted(code for code, status in s.status.items() if status in scope.excluded_statuses())
            if out:
                where.append(_not_in(c["status"], out))
        for col, codes in sorted(s.out_of_scope.items()):
            if codes and col in c:
                where.append(_not_in(c[col], sorted(codes)))
        return where

    def service_user_condition(self, q: _Query, sub: Any) -> ColumnElement[bool]:
        """Rows whose Client Type maps to Service user (for rule X10's "has a Service user row")."""
        name = q.section.name
        default = self.mapping.default(name, "Client_Type")
        default_su = default is not None and default.value == sc.event_client_types()[0]
        if not q.has("client_type"):
            return true() if default_su else false()
        col = sub.c[q.by_lower["client_type"]]
        vm = self.mapping.value_map(name, "Client_Type")
        su = sc.event_client_types()[0]
        codes = (
            [su]
            if vm is None or vm.as_is
            else sorted(code for code, value in vm.codes.items() if value == su)
        )
        conds: list[ColumnElement[bool]] = [_code_sql(col).in_(codes)] if codes else []
        if default_su:
            conds += [col.is_(None), _code_sql(col) == ""]
        return or_(*conds) if conds else false()

    def people(self) -> tuple[Any, list[str]]:
        """Every person, by person key."""
        return self._ordered(self.plan.queries["people"], "p", "person_key", ["person_key"])

    def addresses(self) -> tuple[Any, list[str]]:
        """Every address, by person key and start date."""
        return self._ordered(
            self.plan.queries["addresses"],
            "a",
            "person_key",
            ["person_key", "start_date", "address_key"],
            unread=["address_key"],
        )

    def costs(self) -> tuple[Any, list[str]]:
        """Every unit cost, by person key, service and effective date."""
        return self._ordered(
            self.plan.queries["service_costs"],
            "k",
            "person_key",
            ["person_key", "event_key", "effective_from"],
        )

    def events(self, name: str) -> tuple[Any, list[str]]:
        """An event section's records in scope, by person key, start date and record key (which is read only
        where the service costs need it)."""
        q = self.plan.queries[name]
        sub = q.subquery("e")
        costed = name == "services" and "service_costs" in self.mapping.sections
        unread = () if costed else ("event_key",)
        names = [q.by_lower["person_key"]] + [
            n for n in q.names if n.lower() != "person_key" and n.lower() not in unread
        ]
        # The extractor sorts each person's rows by start date itself, keeping the order read among equal
        # dates, so with a record key the start date need not be sorted on here: the rows come out the same,
        # and the database can often take the order from its person index instead of sorting.
        keyed = q.has("event_key") or q.has("event_reference")
        order = [
            sub.c[q.by_lower[o]]
            for o in ("person_key", "event_start_date", "event_key", "event_reference")
            if q.has(o) and not (keyed and o == "event_start_date")
        ]
        stmt = select(*[sub.c[n] for n in names]).where(*self.event_filters(q, sub)).order_by(*order)
        return stmt, [n.lower() for n in names]

    def links(self) -> tuple[Any, list[str]]:
        """Active carer links with whether the cared-for person has a Service user row, and their LA ID.

        Both are looked up for the cared-for people only: the service users among the event queries' people
        are searched by the links' cared-for keys (which lets the database use its person indexes), and the
        LA ID is one correlated lookup per link, so the people query is not read a second time in full.
        """
        lq = self.plan.queries["carer_links"]
        link = lq.subquery("l")
        lc = {n.lower(): link.c[n] for n in lq.names}
        cared = lq.subquery("lc")
        cared_keys = select(cared.c[lq.by_lower["cared_for_key"]])
        parts = []
        for section in self.mapping.event_sections:
            q = self.plan.queries[section.name]
            sub = q.subquery(f"su_{section.name}")
            person = sub.c[q.by_lower["person_key"]]
            parts.append(
                select(person.label("person_key")).where(
                    person.in_(cared_keys), *self.event_filters(q, sub), self.service_user_condition(q, sub)
                )
            )
        service_users = union_all(*parts) if len(parts) > 1 else parts[0]
        pq = self.plan.queries["people"]
        psub = pq.subquery("pp")
        # max(): one value even when the people query repeats a key (reported as a problem of its own).
        la_id = (
            select(func.max(psub.c[pq.by_lower["la_person_unique_identifier"]]))
            .where(psub.c[pq.by_lower["person_key"]] == lc["cared_for_key"])
            .scalar_subquery()
        )
        stmt = (
            select(
                lc["carer_key"],
                lc["start_date"],
                lc["cared_for_key"],
                lc["cared_for_key"].in_(service_users),
                la_id,
                lc["end_date"],
            )
            .where(
                sc.link_active_filter(lc["start_date"], lc["end_date"], self.ps, self.after_end, self.not_a_date)
            )
            .order_by(lc["carer_key"], lc["start_date"], lc["cared_for_key"])
        )
        return stmt, ["carer_key", "start_date", "cared_for_key", "in_file", "la_id", "end_date"]


# ---------------------------------------------------------------------- streams
class SourceOrderError(UsageError):
    """The source sorts keys differently from Python, or queries return keys of different types."""


_KEY = operator.itemgetter(0)


class KeyedStream:
    """One result ordered by its first column (a person key), read in chunks and handed out a batch of keys
    at a time (`upto`).

    Keys must come back in the order Python sorts them: a key smaller than the one before raises
    SourceOrderError. Rows with no key belong to no one (the database sorts them first or last): they are
    counted as orphans and dropped as they are read.

    Attributes:
        orphans: rows with no key, plus those the caller counts (`count_orphans`).
        orphan_flagged: for carer links, orphan rows whose cared-for person has a Service user row (rows that
            would have mattered).
    """

    def __init__(self, name: str, line: int, chunks: Iterator[Sequence[Sequence[Any]]]) -> None:
        self.name = name
        self.line = line
        self._chunks = chunks
        self._rows: list[Sequence[Any]] = []  # read and not yet handed out, in key order
        self._keys: list[Any] = []
        self._last: Any = None  # the last key read
        self._finished = False
        self.orphans = 0
        self.orphan_flagged = 0

    def _read(self) -> bool:
        """Read one more chunk onto the rows waiting; False when the result has no more."""
        if self._finished:
            return False
        chunk = next(self._chunks, None)
        if chunk is None:
            self._finished = True
            return False
        if chunk[0][0] is None or chunk[-1][0] is None:
            kept = [r for r in chunk if r[0] is not None]
            self.count_orphans([r for r in chunk if r[0] is None])
            chunk = kept
            if not chunk:
                return True
        keys = list(map(_KEY, chunk))
        try:
            in_order = (self._last is None or self._last <= keys[0]) and all(map(operator.le, keys, keys[1:]))
        except TypeError:
            raise SourceOrderError(
                f"the {self.name} query returns person keys of different types "
                f"({', '.join(sorted({type(k).__name__ for k in keys}))}). Return one type, e.g. "
                "`CAST(... AS INTEGER) AS person_key`."
            ) from None
        if not in_order:
            raise SourceOrderError(
                f"the {self.name} query's person keys do not come back in the order Python sorts them "
                "(text keys under a locale collation?). Return integer keys, or on PostgreSQL write the "
                'key as `... COLLATE "C" AS person_key` in every query'
            )
        self._rows += chunk
        self._keys += keys
        self._last = keys[-1]
        return True

    def next_key(self) -> Any:
        """The key of the next row (reading a chunk if none is waiting); None when the result is done."""
        while not self._rows:
            if not self._read():
                return None
        return self._keys[0]

    def last_waiting_key(self) -> Any:
        """The key of the last row read and not handed out (reading a chunk if none is waiting), or None."""
        return self._keys[-1] if self.next_key() is not None else None

    def upto(self, key: Any) -> list[Sequence[Any]]:
        """Hand out every row whose key is not after `key`, in order.

        Raises:
            TypeError: the rows' keys cannot be compared with `key` (another type).
        """
        while (not self._rows or self._keys[-1] <= key) and self._read():
            pass
        n = bisect.bisect_right(self._keys, key)
        if not n:
            return []
        rows = self._rows[:n]
        del self._rows[:n], self._keys[:n]
        return rows

    def count_orphans(self, rows: Sequence[Sequence[Any]]) -> None:
        """Count rows that belong to no person of the people query."""
        self.orphans += len(rows)
        self.orphan_flagged += sum(1 for r in rows if len(r) > 3 and r[3])

    def drain(self) -> None:
        """Count every row left as an orphan (after the last person)."""
        while self._rows or self._read():
            self.count_orphans(self._rows)
            self._rows, self._keys = [], []


def read_chunks(
    conn: Connection, stmt: Any, name: str, file: str, line: int, chunk: int
) -> Iterator[Sequence[Sequence[Any]]]:
    """Rows of a statement, `chunk` at a time (server-side cursor where the driver has one); a database error
    becomes one line naming the mapping section and line.

    SQLAlchemy runs the statement (binds, dialect, server-side cursor) and hands over the first chunk; the
    rest is fetched from the driver's cursor directly, as plain tuples. The wrapped queries' columns are
    untyped, so SQLAlchemy would not convert their values anyway: the values are the same, and skipping its
    row objects saves about a third of the reading cost.
    """
    dbapi_error: Any = getattr(conn.dialect.dbapi, "Error", None) or sa_exc.DBAPIError
    try:
        result = conn.execution_options(stream_results=True).execute(stmt)
        try:
            # Through SQLAlchemy first: it may have buffered a row ahead (server-side cursors).
            first = result.fetchmany(chunk)
            if first:
                yield [tuple(r) for r in first]
            cursor = result.cursor if len(first) == chunk else None
            if cursor is not None:
                fetch = cursor.fetchmany
                while part := fetch(chunk):
                    yield part
        finally:
            result.close()
    except (sa_exc.DBAPIError, dbapi_error) as exc:
        raise AscldError(
            f"{file}, line {line}: the {name} query failed while reading the source: "
            f"{describe_error(exc)}. Nothing was written."
        ) from None
    except ValueError as exc:  # e.g. a date column holding text that is not an ISO date (SQLite)
        raise AscldError(
            f"{file}, line {line}: the {name} query returned a value ascld cannot read "
            f"({exc}). Date columns must hold dates. Nothing was written."
        ) from None
