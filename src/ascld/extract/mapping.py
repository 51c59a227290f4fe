"""Load and check an extraction mapping: the YAML file a council owns that says how to read its system.

A mapping declares SQL queries over the case-management database (people, their addresses, each event type,
service costs, carer links), value maps from local codes to Release 2 list values, defaults, and which local
codes are deliberately out of scope. It holds no rules: ascld applies the national scope rules itself
(`ascld.extract.scope`). docs/extract.md documents every key; `SCHEMA` below is the same table as data (a test
keeps the two in step).

Every problem names the mapping file and line and says what to do
(`mapping.yaml, line 57: "Mael" is not a Release 2 Gender value. Use one of: ...`); all problems are collected
and raised together as one `MappingError`.

Examples:
    >>> from ascld.extract import example_mapping_path
    >>> m = load_mapping(example_mapping_path())
    >>> sorted(m.sections)[:3], m.value_map("requests", "Gender").codes["F"]
    (['addresses', 'assessments', 'carer_links'], 'Female')
"""

from __future__ import annotations

import difflib
import hashlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from ascld.errors import UsageError
from ascld.extract.scope import event_client_types, event_scope
from ascld.returns.writer import is_formula_like
from ascld.spec import Spec, load_spec

MAPPING_VERSION = "1"
BLANK = "(blank)"  # a value-map target or default meaning "write an empty cell"
AS_IS = "as_is"  # a value map meaning "the source already holds Release 2 values"

# Event sections and the Release 2 Event Type each one gives.
EVENT_SECTIONS = {
    "requests": "Request",
    "assessments": "Assessment",
    "services": "Service",
    "reviews": "Review",
}
# The spec module of the fields each event section may return besides "Events (all)".
EVENT_MODULES = {
    "requests": ("Events (requests only)",),
    "assessments": ("Events (assessments only)",),
    "services": ("Events (services only)", "Costs (services only)"),
    "reviews": ("Events (reviews only)",),
}
# Fields ascld fills itself: a query must not return them.
FILLED_BY_ASCLD = {
    "Reporting_Period_Start_Date": "the --period option",
    "Reporting_Period_End_Date": "the --period option",
    "Event_Type": "the section the query is in",
    "No_of_adults_being_cared_for": "the carer links (rule X10)",
    "Adult_1_Linked_Person_ID": "the carer links (rule X10)",
    "Adult_2_Linked_Person_ID": "the carer links (rule X10)",
    "Adult_3_Linked_Person_ID": "the carer links (rule X10)",
}
PERSON_ONLY_EXTRA = ("LA_Code", "Total_Hrs_Caring_per_week")
ADDRESS_FIELDS = ("Postcode", "Accommodation_Status")


@dataclass(frozen=True)
class SchemaKey:
    """One key of the mapping file (`section.*` stands for any section with a query)."""

    path: str
    required: bool
    description: str


SCHEMA: tuple[SchemaKey, ...] = (
    SchemaKey("ascld_mapping", True, "Mapping format version; `1`."),
    SchemaKey("system", False, "Free text naming the case-management system the mapping reads."),
    SchemaKey("people", True, "One row per person (client or carer): the person key and person details."),
    SchemaKey(
        "addresses", False, "Address history: ascld picks the address current at the period end (X08)."
    ),
    SchemaKey("requests", False, "Requests (CLD Event Type Request)."),
    SchemaKey("assessments", False, "Assessments (Event Type Assessment)."),
    SchemaKey("services", False, "Services (Event Type Service): one row per service line or package."),
    SchemaKey("reviews", False, "Reviews (Event Type Review)."),
    SchemaKey("service_costs", False, "Unit cost history of services: ascld picks the cost as at (X06)."),
    SchemaKey(
        "carer_links", False, "Carer to cared-for links: the carer block and carers known by association."
    ),
    SchemaKey("values", False, "Value maps for every section: field -> {local code: Release 2 value}."),
    SchemaKey(
        "defaults", False, "Defaults for every section: field -> Release 2 value used when blank or absent."
    ),
    SchemaKey(
        "section.sql", True, "The query (any SQL the source accepts); may use :period_start, :period_end."
    ),
    SchemaKey("section.description", False, "Free text for reviewers."),
    SchemaKey(
        "section.status",
        False,
        "Event sections: local status code -> completed/open/cancelled (or "
        "active/ended/suspended/cancelled for services).",
    ),
    SchemaKey("section.in_scope", False, "Event sections: column -> list of local codes that are in scope."),
    SchemaKey(
        "section.out_of_scope", False, "Event sections: column -> {local code: reason} deliberately left out."
    ),
    SchemaKey(
        "section.values", False, "Value maps for this section only (replace the top-level map of a field)."
    ),
    SchemaKey("section.defaults", False, "Defaults for this section only."),
)
TOP_KEYS = tuple(k.path for k in SCHEMA if "." not in k.path)
SECTION_KEYS = tuple(k.path.split(".", 1)[1] for k in SCHEMA if k.path.startswith("section."))
QUERY_SECTIONS = ("people", "addresses", *EVENT_SECTIONS, "service_costs", "carer_links")


# ---------------------------------------------------------------------- YAML with line numbers
class LineDict(dict):  # type: ignore[type-arg]
    """A YAML mapping that remembers the line of each key (1-based) and of itself."""

    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.lines: dict[str, int] = {}

    def line_of(self, key: str) -> int:
        """The line of a key (the mapping's own line for a missing key)."""
        return self.lines.get(key, self.line)


class LineList(list):  # type: ignore[type-arg]
    """A YAML sequence that remembers the line of each item."""

    line: int = 0

    def __init__(self) -> None:
        super().__init__()
        self.lines: list[int] = []


class _DuplicateKey(Exception):
    def __init__(self, key: str, line: int, first: int) -> None:
        super().__init__(key)
        self.key, self.line, self.first = key, line, first


class _Loader(yaml.BaseLoader):
    """Every scalar stays text, so codes such as `NO`, `01` or `Y` never become booleans or numbers."""


def _construct_mapping(loader: _Loader, node: yaml.MappingNode) -> LineDict:
    out = LineDict()
    out.line = node.start_mark.line + 1
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        line = key_node.start_mark.line + 1
        if not isinstance(key, str):
            raise yaml.constructor.ConstructorError(
                None, None, "a key must be plain text", key_node.start_mark
            )
        if key in out:
            raise _DuplicateKey(key, line, out.lines[key])
        out[key] = loader.construct_object(value_node, deep=True)
        out.lines[key] = line
    return out


def _construct_sequence(loader: _Loader, node: yaml.SequenceNode) -> LineList:
    out = LineList()
    out.line = node.start_mark.line + 1
    for item in node.value:
        out.append(loader.construct_object(item, deep=True))
        out.lines.append(item.start_mark.line + 1)
    return out


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _construct_sequence)


# ---------------------------------------------------------------------- problems
@dataclass(frozen=True)
class MappingProblem:
    """A problem with a mapping file at a line: what is wrong, and what to do."""

    file: str
    line: int | None
    message: str
    hint: str

    def __str__(self) -> str:
        where = self.file + (f", line {self.line}" if self.line else "")
        return f"{where}: {_sentence(self.message)} {_sentence(self.hint)}".rstrip()


def _sentence(text: str) -> str:
    text = text.strip()
    return text if not text or text.endswith((".", "?", "!")) else text + "."


class MappingError(UsageError):
    """The mapping cannot be used as written (exit code 2). `problems` lists every problem found.

    Nothing is read from the source's records and nothing is written when a mapping has problems.
    """

    def __init__(self, problems: Iterable[MappingProblem]) -> None:
        self.problems = sorted(problems, key=lambda p: (p.line or 0, p.message))
        super().__init__("\n".join(str(p) for p in self.problems))


# ---------------------------------------------------------------------- the parsed mapping
@dataclass(frozen=True)
class ValueMap:
    """A map from local codes to Release 2 values for one field (`as_is`: the source holds R2 values).

    Attributes:
        field: the national column name.
        codes: local code -> Release 2 value ('' for `(blank)`).
        as_is: True when the source already holds Release 2 values.
        line: the line of the field's key in the mapping; `code_lines` the line of each code.
        section: the section it belongs to, or None for a top-level map.
    """

    field: str
    codes: dict[str, str]
    as_is: bool
    line: int
    code_lines: dict[str, int]
    section: str | None


@dataclass(frozen=True)
class Default:
    """A default value for a field (used when the query gives no value or has no such column)."""

    field: str
    value: str  # '' for (blank)
    line: int
    section: str | None


@dataclass(frozen=True)
class Section:
    """One query section of the mapping."""

    name: str
    sql: str
    line: int  # line of the `sql` key
    event_type: str | None = None
    status: dict[str, str] | None = None
    status_line: int = 0
    status_lines: dict[str, int] = field(default_factory=dict)
    in_scope: dict[str, frozenset[str]] = field(default_factory=dict)
    out_of_scope: dict[str, dict[str, str]] = field(default_factory=dict)
    scope_lines: dict[str, int] = field(default_factory=dict)  # column -> line of its in/out-of-scope entry
    code_lines: dict[tuple[str, str], int] = field(default_factory=dict)  # (column, code) -> its line
    values: dict[str, ValueMap] = field(default_factory=dict)
    defaults: dict[str, Default] = field(default_factory=dict)


@dataclass(frozen=True)
class ExtractMapping:
    """A checked mapping.

    Attributes:
        path: the file it was read from; `file` its base name (used in messages).
        system: the free-text system name.
        sections: query sections by name.
        values, defaults: the top-level value maps and defaults, by national column name.
        sha256: the file's SHA-256 (recorded in the result).
    """

    path: Path
    system: str
    sections: dict[str, Section]
    values: dict[str, ValueMap]
    defaults: dict[str, Default]
    sha256: str

    @property
    def file(self) -> str:
        """The mapping's file name, as messages give it."""
        return self.path.name

    def value_map(self, section: str, column: str) -> ValueMap | None:
        """The value map in force for a field in a section (the section's own, else the top-level one)."""
        own = self.sections[section].values.get(column) if section in self.sections else None
        return own or self.values.get(column)

    def default(self, section: str, column: str) -> Default | None:
        """The default in force for a field in a section (the section's own, else the top-level one)."""
        own = self.sections[section].defaults.get(column) if section in self.sections else None
        return own or self.defaults.get(column)

    @property
    def event_sections(self) -> list[Section]:
        """The event sections present, in request, assessment, service, review order."""
        return [self.sections[name] for name in EVENT_SECTIONS if name in self.sections]


def allowed_fields(spec: Spec, section: str, has_costs: bool = False) -> tuple[str, ...]:
    """The national columns a section's query may return (ascld fills the rest itself).

    Examples:
        >>> spec = load_spec()
        >>> "Gender" in allowed_fields(spec, "people"), "Gender" in allowed_fields(spec, "requests")
        (True, False)
    """
    if section == "people":
        return tuple(
            f.column
            for f in spec.fields
            if (f.module == "Person details" and f.column != "Client_Type") or f.column in PERSON_ONLY_EXTRA
        )
    if section == "addresses":
        return ADDRESS_FIELDS
    if section in EVENT_SECTIONS:
        modules = ("Events (all)", *EVENT_MODULES[section])
        out = [f.column for f in spec.fields if f.module in modules and f.column not in FILLED_BY_ASCLD]
        if has_costs and "Unit_Cost" in out:
            out.remove("Unit_Cost")
        return ("Client_Type", *out)
    return ()


def coded(spec: Spec, column: str) -> bool:
    """A field whose values come from a defined list (and so need a value map)."""
    return spec.field(column).defined_list is not None


def target_ok(spec: Spec, column: str, value: str) -> bool:
    """A value a map may produce: a Release 2 value of the field's list; where the Release 2 list is
    incomplete, also a Release 1 value (the best public knowledge, see spec README §10)."""
    lst = spec.list_for(column)
    if lst is None:
        return False
    return value in lst.r2_values or (not lst.complete and value in lst.r1_values)


def _fit_for_file(text: str) -> bool:
    """Text a return can carry as it is: Windows-1252 holds it and a spreadsheet would not run it."""
    try:
        text.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return not is_formula_like(text)


# ---------------------------------------------------------------------- loading
class _Reader:
    def __init__(self, path: Path, spec: Spec) -> None:
        self.path = path
        self.file = path.name
        self.spec = spec
        self.problems: list[MappingProblem] = []

    def problem(self, line: int | None, message: str, hint: str) -> None:
        self.problems.append(MappingProblem(self.file, line, message, hint))

    def unknown_keys(self, node: LineDict, known: Iterable[str], where: str) -> None:
        known = tuple(known)
        for key in node:
            if key not in known:
                close = difflib.get_close_matches(key, known, n=1)
                hint = f"Did you mean `{close[0]}`?" if close else f"Known keys: {', '.join(known)}"
                self.problem(
                    node.line_of(key), f"`{key}` is not a key of {where}", hint + " (docs/extract.md)"
                )

    def column(self, key: str, line: int, where: str) -> str | None:
        try:
            return self.spec.field(key).column
        except KeyError:
            close = difflib.get_close_matches(key, self.spec.columns, n=1)
            self.problem(
                line,
                f"{where}: `{key}` is not a column of the return",
                f"Use the national column name{f', e.g. `{close[0]}`' if close else ''} "
                "(`ascld spec fields` lists them)",
            )
            return None

    # ------------------------------------------------------------------ value maps
    def value_maps(self, node: Any, line: int, section: str | None) -> dict[str, ValueMap]:
        where = f"values of {section}" if section else "values"
        if node == "":
            return {}
        if not isinstance(node, LineDict):
            self.problem(
                line,
                f"`{where}` must be a mapping of field -> {{local code: Release 2 value}}",
                "Indent one map per field under it",
            )
            return {}
        out: dict[str, ValueMap] = {}
        for key, codes in node.items():
            kline = node.line_of(key)
            column = self.column(key, kline, where)
            if column is None:
                continue
            if column in out:
                self.problem(kline, f"{where}: {column} is mapped twice", "Keep one map per field")
                continue
            if not coded(self.spec, column):
                self.problem(
                    kline,
                    f"{where}: {column} is not a coded field (it has no defined list)",
                    "Remove this map; the query's value is written as it is",
                )
                continue
            if column in FILLED_BY_ASCLD:
                self.problem(
                    kline, f"{where}: ascld fills {column} from {FILLED_BY_ASCLD[column]}", "Remove this map"
                )
                continue
            if codes == AS_IS:
                out[column] = ValueMap(column, {}, True, kline, {}, section)
                continue
            if not isinstance(codes, LineDict) or not codes:
                self.problem(
                    kline,
                    f"{where}: the map for {column} must list local code: Release 2 value pairs "
                    f"(or be `{AS_IS}`)",
                    "Write one `CODE: Release 2 value` per line under it",
                )
                continue
            mapped: dict[str, str] = {}
            for code, target in codes.items():
                cline = codes.line_of(code)
                if not isinstance(target, str):
                    self.problem(
                        cline,
                        f"{where}: {column} code `{code}` must map to one text value",
                        "Write `CODE: Release 2 value`",
                    )
                    continue
                target = target.strip()
                if target == BLANK:
                    mapped[code.strip()] = ""
                    continue
                self.check_target(column, target, cline, f"{where}: {column} code `{code}` maps to")
                mapped[code.strip()] = target
            out[column] = ValueMap(
                column, mapped, False, kline, {c.strip(): codes.line_of(c) for c in codes}, section
            )
        return out

    def check_target(self, column: str, target: str, line: int, what: str) -> bool:
        if column == "Client_Type" and target not in event_client_types():
            su, carer = event_client_types()
            self.problem(
                line,
                f'{what} "{target}", which an event row cannot carry',
                f'Map client roles to "{su}" or "{carer}"; ascld writes the "known by association" rows '
                "itself (rule X11)",
            )
            return False
        if target_ok(self.spec, column, target):
            return True
        lst = self.spec.list_for(column)
        assert lst is not None
        folded = {v.casefold(): v for v in (*lst.r2_values, *lst.r1_values)}
        close = folded.get(target.casefold()) or next(
            iter(difflib.get_close_matches(target, lst.r2_values or lst.r1_values, n=1, cutoff=0.6)), None
        )
        values = lst.r2_values or lst.r1_values
        listed = "; ".join(f'"{v}"' for v in values[:12]) + (" ..." if len(values) > 12 else "")
        hint = f'Did you mean "{close}"? ' if close else ""
        hint += (
            f"Use a value of the {lst.name} list: {listed}"
            if values
            else f"The {lst.name} list has no known values"
        )
        if not lst.complete:
            hint += (
                ". That list is incomplete here; if the official workbook has this value, load its lists "
                "with --spec-overlay"
            )
        self.problem(line, f'{what} "{target}", which is not a Release 2 {column} value', hint)
        return False

    def defaults(self, node: Any, line: int, section: str | None) -> dict[str, Default]:
        where = f"defaults of {section}" if section else "defaults"
        if node == "":
            return {}
        if not isinstance(node, LineDict):
            self.problem(
                line, f"`{where}` must be a mapping of field: value", "Write one `Field: value` per line"
            )
            return {}
        out: dict[str, Default] = {}
        for key, value in node.items():
            kline = node.line_of(key)
            column = self.column(key, kline, where)
            if column is None:
                continue
            if column in FILLED_BY_ASCLD:
                self.problem(
                    kline,
                    f"{where}: ascld fills {column} from {FILLED_BY_ASCLD[column]}",
                    "Remove this default",
                )
                continue
            if not isinstance(value, str):
                self.problem(
                    kline, f"{where}: the default for {column} must be one text value", "Write `Field: value`"
                )
                continue
            value = value.strip()
            if value == BLANK:
                value = ""
            elif coded(self.spec, column):
                self.check_target(column, value, kline, f"{where}: the default for {column} is")
            elif self.spec.field(column).type in ("date", "decimal", "integer"):
                self.problem(
                    kline,
                    f"{where}: {column} is a {self.spec.field(column).type} field",
                    "Defaults are for text and coded fields; return the value from the query instead",
                )
            elif not _fit_for_file(value):
                self.problem(
                    kline,
                    f"{where}: the default for {column} has characters Windows-1252 cannot hold, or starts "
                    "like a spreadsheet formula (= + - @)",
                    "Write the value as it should appear in the return",
                )
            out[column] = Default(column, value, kline, section)
        return out

    # ------------------------------------------------------------------ sections
    def section(self, name: str, node: Any, line: int) -> Section | None:
        if not isinstance(node, LineDict):
            self.problem(line, f"`{name}` must be a mapping with at least `sql`", "See docs/extract.md")
            return None
        self.unknown_keys(node, SECTION_KEYS, f"the {name} section")
        sql = node.get("sql")
        if not isinstance(sql, str) or not sql.strip():
            self.problem(
                node.line_of("sql") if "sql" in node else node.line,
                f"the {name} section has no query",
                "Add `sql: |` followed by the SELECT, indented",
            )
            return None
        sql_line = node.line_of("sql")
        event_type = EVENT_SECTIONS.get(name)
        status = None
        status_lines: dict[str, int] = {}
        in_scope: dict[str, frozenset[str]] = {}
        out_of_scope: dict[str, dict[str, str]] = {}
        scope_lines: dict[str, int] = {}
        code_lines: dict[tuple[str, str], int] = {}
        if event_type is None:
            for key in ("status", "in_scope", "out_of_scope"):
                if key in node:
                    self.problem(
                        node.line_of(key),
                        f"`{key}` applies to event sections only",
                        f"Remove it from {name}, or filter in the query",
                    )
        else:
            scope = event_scope(event_type)
            if "status" in node:
                status = {}
                raw = node["status"]
                if not isinstance(raw, LineDict) or not raw:
                    self.problem(
                        node.line_of("status"),
                        f"{name}.status must map local status codes to {', '.join(sorted(scope.statuses))}",
                        "Write one `CODE: status` per line",
                    )
                else:
                    for code, target in raw.items():
                        cline = raw.line_of(code)
                        status_lines[code.strip()] = cline
                        if not isinstance(target, str) or target.strip() not in scope.statuses:
                            self.problem(
                                cline,
                                f"{name}.status: `{code}` maps to {target!r}, which is not a "
                                f"status ascld knows for {event_type.lower()}s",
                                f"Use one of: {', '.join(sorted(scope.statuses))} (rule {scope.rule_id})",
                            )
                            continue
                        status[code.strip()] = target.strip()
            in_scope = self.scope_lists(node, "in_scope", name, scope_lines)
            out_of_scope = self.out_of_scope(node, name, scope_lines, code_lines)
            for column in set(in_scope) & set(out_of_scope):
                both = in_scope[column] & set(out_of_scope[column])
                for code in sorted(both):
                    self.problem(
                        code_lines.get((column, code), scope_lines[column]),
                        f"{name}: code `{code}` of {column} is both in and out of scope",
                        "List it in one of in_scope and out_of_scope",
                    )
        values = self.value_maps(node.get("values", ""), node.line_of("values"), name)
        defaults = self.defaults(node.get("defaults", ""), node.line_of("defaults"), name)
        return Section(
            name,
            sql.strip().rstrip(";").strip(),
            sql_line,
            event_type,
            status,
            node.line_of("status"),
            status_lines,
            in_scope,
            out_of_scope,
            scope_lines,
            code_lines,
            values,
            defaults,
        )

    def scope_lists(
        self, node: LineDict, key: str, name: str, lines: dict[str, int]
    ) -> dict[str, frozenset[str]]:
        if key not in node:
            return {}
        raw = node[key]
        if not isinstance(raw, LineDict):
            self.problem(
                node.line_of(key),
                f"{name}.{key} must map a column to a list of local codes",
                "Write `column: [CODE1, CODE2]`",
            )
            return {}
        out = {}
        for column, codes in raw.items():
            lines[column.lower()] = raw.line_of(column)
            if isinstance(codes, str) and codes:
                codes = [codes]
            if not isinstance(codes, list) or not all(isinstance(c, str) for c in codes):
                self.problem(
                    raw.line_of(column),
                    f"{name}.{key}.{column} must be a list of local codes",
                    "Write `column: [CODE1, CODE2]`",
                )
                continue
            out[column.lower()] = frozenset(c.strip() for c in codes)
        return out

    def out_of_scope(
        self, node: LineDict, name: str, lines: dict[str, int], code_lines: dict[tuple[str, str], int]
    ) -> dict[str, dict[str, str]]:
        if "out_of_scope" not in node:
            return {}
        raw = node["out_of_scope"]
        if not isinstance(raw, LineDict):
            self.problem(
                node.line_of("out_of_scope"),
                f"{name}.out_of_scope must map a column to the codes left out",
                "Write `column: {CODE: reason}` or `column: [CODE]`",
            )
            return {}
        out: dict[str, dict[str, str]] = {}
        for column, codes in raw.items():
            lines.setdefault(column.lower(), raw.line_of(column))
            if isinstance(codes, LineDict):
                out[column.lower()] = {c.strip(): str(r) for c, r in codes.items()}
                code_lines.update({(column.lower(), c.strip()): codes.line_of(c) for c in codes})
            elif isinstance(codes, LineList) and all(isinstance(c, str) for c in codes):
                out[column.lower()] = {c.strip(): "" for c in codes}
                code_lines.update(
                    {(column.lower(), c.strip()): ln for c, ln in zip(codes, codes.lines, strict=True)}
                )
            else:
                self.problem(
                    raw.line_of(column),
                    f"{name}.out_of_scope.{column} must list local codes",
                    "Write `column: {CODE: reason}` or `column: [CODE]`",
                )
        return out


def load_mapping(path: str | Path, spec: Spec | None = None) -> ExtractMapping:
    """Read a mapping file and check it against the specification (not yet against the source).

    Args:
        path: the YAML mapping.
        spec: the specification (default `load_spec()`); value-map targets must be its Release 2 values.

    Returns:
        The checked mapping.

    Raises:
        MappingError: listing every problem with its line and what to do.
        UsageError: the file cannot be read.
    """
    spec = spec or load_spec()
    path = Path(path)
    try:
        raw_bytes = path.read_bytes()
    except OSError as exc:
        raise UsageError(
            f"{path}: cannot read the mapping ({exc.strerror}). Check the --mapping path."
        ) from exc
    reader = _Reader(path, spec)
    try:
        text = raw_bytes.decode("utf-8-sig")
        doc = yaml.load(text, Loader=_Loader)  # noqa: S506 - BaseLoader subclass: builds only text, lists, dicts
    except UnicodeDecodeError as exc:
        raise MappingError(
            [MappingProblem(path.name, None, "the mapping is not UTF-8 text", "Save it as UTF-8")]
        ) from exc
    except _DuplicateKey as exc:
        raise MappingError(
            [
                MappingProblem(
                    path.name,
                    exc.line,
                    f"`{exc.key}` appears twice in the same block (first on line {exc.first})",
                    "Keep one; YAML would silently drop the first",
                )
            ]
        ) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        what = getattr(exc, "problem", None) or str(exc)
        raise MappingError(
            [
                MappingProblem(
                    path.name,
                    line,
                    f"not valid YAML ({what})",
                    "Check the indentation and quoting on this line and the one above",
                )
            ]
        ) from None
    if not isinstance(doc, LineDict):
        raise MappingError(
            [
                MappingProblem(
                    path.name,
                    1,
                    "the mapping must be a YAML mapping of keys",
                    "Start from examples/synth_cms_mapping.yaml",
                )
            ]
        )
    reader.unknown_keys(doc, TOP_KEYS, "the mapping")
    version = doc.get("ascld_mapping")
    if version != MAPPING_VERSION:
        reader.problem(
            doc.line_of("ascld_mapping") if "ascld_mapping" in doc else 1,
            f"ascld_mapping must be {MAPPING_VERSION}"
            + (f", not {version!r}" if version else " (the key is missing)"),
            f"Put `ascld_mapping: {MAPPING_VERSION}` at the top of the file",
        )
    sections: dict[str, Section] = {}
    for name in QUERY_SECTIONS:
        if name in doc:
            made = reader.section(name, doc[name], doc.line_of(name))
            if made is not None:
                sections[name] = made
    if "people" not in doc:
        reader.problem(
            1,
            "the mapping has no `people` section",
            "Add `people: sql: ...` returning one row per "
            "person with person_key and la_person_unique_identifier",
        )
    if not any(name in doc for name in EVENT_SECTIONS):
        reader.problem(
            1, "the mapping has no event section", f"Add at least one of {', '.join(EVENT_SECTIONS)}"
        )
    if "service_costs" in doc and "services" not in doc:
        reader.problem(
            doc.line_of("service_costs"),
            "service_costs needs a services section",
            "Add services, or remove service_costs",
        )
    values = reader.value_maps(doc.get("values", ""), doc.line_of("values"), None)
    defaults = reader.defaults(doc.get("defaults", ""), doc.line_of("defaults"), None)
    system = doc.get("system", "")
    if reader.problems:
        raise MappingError(reader.problems)
    return ExtractMapping(
        path,
        system if isinstance(system, str) else "",
        sections,
        values,
        defaults,
        hashlib.sha256(raw_bytes).hexdigest(),
    )
