"""The one-pass DuckDB query that gives every row and field of a return its status and validity.

`build_scan_sql` turns the specification (status rules) and `checks.csv` (cell checks) into one query over the
file, in four layers:

1. per field: blank test, parsed date, folded Release 2 value, list class (and the normalised NHS number);
2. per field: status code `cond__X` (the compiled status rules);
3. per field: the failing check (`f__X`, first in checks.csv order; 0 none) and warning bits (`wb__X`);
4. what is stored, one row per data row in file order: `cond_X`, `chk_X` (national validity code), `f_X`,
   `w_X`, the value of a failing non-sensitive cell (`v_X`), details for messages, and hashed keys for the
   checks across rows.

`ascld.quality.validate` streams the result, in file order, to Parquet and numbers the rows (`__row`).
No value of a sensitive field is stored: identifiers appear only as 64-bit hashes.
"""

from __future__ import annotations

import csv
import functools
import io
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from importlib import resources

from ascld.quality import checks as ck
from ascld.quality.checks import Check, blank, cell_sql, col, cv, dte, list_class, status
from ascld.quality.dates import date_hint_sql, date_sql
from ascld.quality.sqlgen import list_lookup_sql, quote_ident, quote_str, status_case, trim_sql, trim_ws_sql
from ascld.returns.reader import formula_sql, ragged_sql
from ascld.spec.model import Spec

# Cell rules computed from the stored codes afterwards, not in the scan (C022: filled in but not applicable).
DERIVED_RULES = ("not_applicable",)
# Text fields whose values may be shown in messages although they are not code, date or number fields.
SHOWN_TEXT_FIELDS = frozenset({"Provider_CQC_Location_ID"})
NO_DETAIL = ""


# The shown value (`v_X`) of a cell whose value is also one of its row's sensitive values (a name, postcode,
# NHS number or date of birth moved into another column, as where columns are swapped in an export): messages
# give it as "the value (N/A - PID)". (A value is at most 80 characters and starts with a printable one.)
HIDDEN_VALUE = "\x01N/A - PID"


# Columns of the scan's layers for that test: the folded value (`lower(trim(...))`) of a shown cell with a
# problem (NULL otherwise), whether a row has any such cell, and the folded value of each non-blank sensitive
# field of such a row (NULL otherwise). Folding each value once, instead of once per comparison, and the
# sensitive ones only on rows that need them, halves the test's cost where many cells have a warning.
_FOLDED, _ANY_SHOWN = "lo__", "any_shown__"


def _shown_problem_sql(column: str) -> str:
    """SQL true when a cell of `column` has something to report (a failing check or a warning)."""
    return f"({quote_ident('code_' + column)} & {PROBLEM_BITS}) <> 0"


def _folded_layers(spec: Spec, layout: ScanLayout) -> tuple[list[str], list[str]]:
    """The two layers between the fused codes and the outer SELECT that `_same_as_sensitive_sql` reads:
    (whether the row has a shown cell with a problem; the folded values)."""
    shown = [fl.column for fl in layout.fields if value_shown(spec, fl.column)]
    codes = " | ".join(quote_ident("code_" + c) for c in shown)
    any_shown = [f"(({codes}) & {PROBLEM_BITS}) <> 0 AS {_ANY_SHOWN}"] if shown else [f"FALSE AS {_ANY_SHOWN}"]
    folded = [
        f"CASE WHEN {_shown_problem_sql(c)} THEN lower({trim_sql(col(c))}) END AS {quote_ident(_FOLDED + c)}"
        for c in shown
    ] + [
        f"CASE WHEN {_ANY_SHOWN} AND NOT {blank(f.column)} THEN lower({trim_sql(col(f.column))}) END "
        f"AS {quote_ident(_FOLDED + f.column)}"
        for f in spec.fields
        if f.sensitive
    ]
    return any_shown, folded


def _same_as_sensitive_sql(column: str, spec: Spec) -> str:
    """SQL true when a cell of `column` holds, case and spaces aside, a sensitive value of its own row (a
    sensitive field that is not blank). It reads the folded values of `_folded_layers`, worked out only for
    cells with a problem and their rows, so a clean file pays nothing."""
    others = ", ".join(quote_ident(_FOLDED + f.column) for f in spec.fields if f.sensitive and f.column != column)
    # (IN, not a chain of OR: the same test in less query text to parse and bind. A NULL folded value matches
    # nothing either way.)
    return f"{quote_ident(_FOLDED + column)} IN ({others})" if others else "FALSE"


def value_shown(spec: Spec, column: str) -> bool:
    """Whether a field's value may appear in a message (never for sensitive fields or free text)."""
    f = spec.field(column)
    if f.sensitive:
        return False
    return f.type in ("code", "date", "decimal", "integer") or column in SHOWN_TEXT_FIELDS


@functools.lru_cache(maxsize=1)
def detail_texts() -> dict[tuple[str, str], str]:
    path = resources.files("ascld.quality") / "data" / "details.csv"
    rows = csv.DictReader(io.StringIO(path.read_bytes().decode("utf-8"), newline=""))
    return {(r["check_id"], r["key"]): r["text"] for r in rows}


@dataclass
class FieldLayout:
    """Which checks apply to one column, and where their results are stored."""

    column: str
    seq: int
    errors: list[Check] = field(default_factory=list)  # f_X = index + 1
    warnings: list[Check] = field(default_factory=list)  # bit i of w_X
    details: dict[str, str] = field(default_factory=dict)  # check id -> stored detail column


@dataclass
class ScanLayout:
    spec: Spec
    fields: list[FieldLayout]

    def field(self, column: str) -> FieldLayout:
        return next(f for f in self.fields if f.column == column)


def layout_for(spec: Spec, checks: Sequence[Check]) -> ScanLayout:
    """Assign every cell check to the columns it looks at, keeping checks.csv order."""
    fields = [FieldLayout(f.column, f.seq) for f in spec.fields]
    by_col = {f.column: f for f in fields}
    mandatory = next(c for c in checks if c.rule == "mandatory")
    for f in fields:
        f.errors.append(mandatory)
    for c in checks:
        if c.kind != "cell" or c.rule in ("mandatory", *DERIVED_RULES):
            continue
        for column in c.columns(spec):
            target = by_col[column]
            (target.errors if c.severity == "error" else target.warnings).append(c)
    for f in fields:
        if len(f.warnings) > 8:
            raise ValueError(f"more than 8 warning checks on {f.column}")
        for c in f.errors + f.warnings:
            if _detail_sql(c, f.column, spec) is not None:
                f.details[c.id] = f"dt_{c.id}_{f.column}"
    return ScanLayout(spec, fields)


def _detail_sql(check: Check, column: str, spec: Spec) -> str | None:
    """SQL for the {detail} of a cell problem, for the checks that have one."""
    texts = detail_texts()
    if check.rule == "date_format":
        whens = " ".join(
            f"WHEN {quote_str(key)} THEN {quote_str(text)}"
            for (cid, key), text in texts.items()
            if cid == check.id
        )
        return f"CASE {date_hint_sql(col(column))} {whens} END"
    if check.rule == "not_ended_in_period":
        return f"{cv('Event_Type')}"
    if check.rule == "dob_implausible":
        return (
            f"CASE WHEN {dte('Date_of_Birth')} > {dte('Reporting_Period_End_Date')} THEN "
            f"{quote_str(texts[(check.id, 'after_period')])} "
            f"ELSE {quote_str(texts[(check.id, 'too_old')])} END"
        )
    if check.rule == "after_submission":
        return "strftime(submission_date, '%d/%m/%Y')"
    if check.rule == "fewer_adults_than_links":
        return f"CAST(({ck.linked_count_sql()}) AS VARCHAR)"
    return None


def _value_sql(spec: Spec):  # noqa: ANN202 - closure used by the condition compiler
    def value(column: str) -> str:
        if column == "age_at_period_end":
            return ck.national_age_sql(dte("Date_of_Birth"), dte("Reporting_Period_End_Date"))
        if spec.field(column).defined_list:
            return cv(column)
        return f"lower({trim_sql(col(column))})"

    return value


def _present_sql(column: str) -> str:
    return f"NOT {blank(column)}"


def ci_sql(raw: str) -> str:
    """The comparison key of a submitted text under SQL Server's case-insensitive collation, as the national
    code groups and joins it (methodology/main-tables.md §0): LOWER(RTRIM(x)), trailing spaces ignored but not
    leading ones. An empty cell is NULL, as the ingest stores it (NULL = NULL in a grouping)."""
    return f"lower(rtrim(nullif({raw}, '')))"


def ci_field_sql(name: str) -> str:
    """`ci_sql` of a submitted field, NULL when the field is blank by the validator's test (empty, white space,
    the text NULL): the ingest stores every such cell as NULL (docs/national-store.md), so the national key
    groups them together."""
    return f"CASE WHEN NOT {blank(name)} THEN {ci_sql(col(name))} END"


def person_key_sql() -> str:
    """The person key of the national unique-event key (`Der_NHS_LA_Combined_Person_ID`, main-tables.md §5.2):
    NHS number if given, else LA code + '_' + LA person ID, compared case-insensitively (§0)."""
    la_id = f"{col('LA_Code')} || '_' || {col('LA_Person_Unique_Identifier')}"
    return f"CASE WHEN NOT {blank('NHS_Number')} THEN 'N' || nhs__ ELSE 'L' || coalesce({ci_sql(la_id)}, '') END"


def corrected_end_sql() -> str:
    """`Der_Event_End_Date` (methodology/main-tables.md §4.1): the date of death ends an event it falls in."""
    s, e, d = dte("Event_Start_Date"), dte("Event_End_Date"), dte("Date_of_Death")
    return f"CASE WHEN {d} BETWEEN {s} AND {e} THEN {d} WHEN {d} > {s} AND {e} IS NULL THEN {d} ELSE {e} END"


def event_kind_sql() -> str:
    """The event kind the national code reads from the raw Event Type (main_tables_event_types.csv: LIKE
    '%service%' first, then request, assessment, review; else 'other'), case-insensitively."""
    from ascld.methodology import load_main_tables_method
    from ascld.methodology.loader import KIND_ORDER

    patterns = load_main_tables_method().event_type_patterns
    whens = " ".join(
        f"WHEN lower({col('Event_Type')}) LIKE {quote_str(patterns[k].lower())} THEN {quote_str(k)}"
        for k in KIND_ORDER
    )
    return f"CASE {whens} ELSE 'other' END"


# Column of the scan's first layer holding `event_kind_sql()`, worked out once a row for the key's components.
EVENT_KIND = "ek__"


def event_key_sql() -> str:
    """Hash of the national unique-event key (methodology/main-tables.md §5.3), NULL on rows with no event.

    The components and the event kinds that use each are main_tables_event_ref_components.csv's; raw texts are
    compared case-insensitively with trailing spaces ignored (§0, `ci_sql`), NULLs equal."""
    from ascld.methodology import load_main_tables_method

    kind = EVENT_KIND
    start = f"coalesce(CAST({dte('Event_Start_Date')} AS VARCHAR), {trim_sql(col('Event_Start_Date'))})"
    end = f"coalesce(CAST({corrected_end_sql()} AS VARCHAR), {trim_sql(col('Event_End_Date'))})"
    special = {"Event_Start_Date": start, "Der_Event_End_Date": end, "Der_NHS_LA_Combined_Person_ID": person_key_sql()}
    parts = [ci_sql(col("LA_Code"))]
    for comp in load_main_tables_method().event_ref_components:
        sql = special.get(comp.component) or ci_field_sql(comp.component)
        if comp.kinds != frozenset(("request", "assessment", "service", "review", "other")):
            sql = f"CASE WHEN {kind} IN ({', '.join(quote_str(k) for k in sorted(comp.kinds))}) THEN {sql} END"
        parts.append(sql)
    return f"CASE WHEN NOT {blank('Event_Type')} THEN hash({', '.join(parts)}) END"


# How the per-cell results are packed into one USMALLINT `code_X` per field (decoded by `decode_sql`):
# bits 0-3 the failing check (index into FieldLayout.errors, 0 none), 4-11 warning bits, 12 blank, 13-14 the
# field status + 1, 15 a value that would run as a spreadsheet formula (T012).
F_BITS, W_SHIFT, BLANK_SHIFT, COND_SHIFT, FORMULA_BIT = 15, 4, 12, 13, 32768
PROBLEM_BITS = (1 << BLANK_SHIFT) - 1  # the failing check and the warning bits: a cell with something to report


def decode_sql(column: str, part: str, table: str = "") -> str:
    """SQL decoding one part (f, w, blank, cond, formula) of the packed per-cell code of `column`."""
    code = (f"{table}." if table else "") + quote_ident("code_" + column)
    return {
        "f": f"({code} & {F_BITS})",
        "w": f"(({code} >> {W_SHIFT}) & 255)",
        "blank": f"(({code} >> {BLANK_SHIFT}) & 1)",
        "cond": f"(CAST(({code} >> {COND_SHIFT}) & 3 AS TINYINT) - 1)",
        "formula": f"({code} >> 15)",
        # filled in (not blank) where the status is Not applicable: C022, worked out from the code
        "not_applicable": f"((({code} >> {BLANK_SHIFT}) & 7) = 2)",
    }[part]


def chk_sql(fl: FieldLayout, table: str = "") -> str:
    """SQL for the national validity code (chk_X) of one field from its packed code."""
    f_ = decode_sql(fl.column, "f", table)
    whens = " ".join(f"WHEN {i} THEN {e.validity}" for i, e in enumerate(fl.errors, start=1))
    return (
        f"CAST(CASE {f_} WHEN 0 THEN CASE WHEN {decode_sql(fl.column, 'blank', table)} = 1 THEN 0 ELSE 1 END "
        f"{whens} END AS TINYINT)"
    )


def blank_expr(raw: str) -> str:
    """Blank (`sqlgen.is_blank`) for the fused scan.

    Most values start with a digit or a letter other than N/n, which cannot begin a blank value (white space,
    the text NULL), so comparing the first bytes settles them without a regular expression.
    """
    from ascld.quality.sqlgen import WS_CLASS

    return (
        f"(CASE WHEN {raw} IS NULL OR {raw} = '' THEN TRUE "
        f"WHEN ({raw} >= '0' AND {raw} < 'N') OR ({raw} >= 'O' AND {raw} < 'n') "
        f"OR ({raw} >= 'o' AND {raw} < chr(128)) "
        f"THEN FALSE ELSE regexp_full_match({raw}, '{WS_CLASS}*(?i:null)?{WS_CLASS}*') END)"
    )


_REF = re.compile(r'"(b|cv|lc|d)__([A-Za-z_0-9]+)"')


def _referenced(sql: str) -> set[tuple[str, str]]:
    return set(_REF.findall(sql))


def _exact(sql: str, own: str, spec: Spec) -> str:
    """`sql` for a value known to be an exact Release 2 value of the field's list: not blank and list class 0,
    so the checks that look at them fold away instead of classifying the value again."""
    sql = sql.replace(blank(own), "FALSE")
    return sql.replace(list_class(own), "0") if spec.list_for(own) is not None else sql


def _fused_code(fl: FieldLayout, spec: Spec) -> str:
    """One expression giving the packed code of a cell: blank, status, failing check, warnings, formula.

    It reads the field's blank test `b__X` and, for a list field, its list class `lc__X` from the layers
    below, so each appears once in the query however many checks use it (the query's size drives its
    planning time and memory, which dominate small files).
    """
    c = fl.column
    f = spec.field(c)
    raw = col(c)
    numbered = list(enumerate(fl.errors, start=1))

    def case(items: list[tuple[int, str]]) -> str:
        return (
            "CASE " + " ".join(f"WHEN {sql} THEN {i}" for i, sql in items) + " ELSE 0 END" if items else "0"
        )

    value = [(i, cell_sql(k, c, spec)) for i, k in numbered if k.rule in ck.VALUE_RULES]
    if value and not f.defined_list and ck.value_ok_sql(f) is None:
        raise ValueError(f"{c} has value rules but no value_ok_sql: the scan would never run them")
    def rest(exact: bool) -> tuple[str, str]:
        """(checks after the value rules + warning part, warning part) of a value that passed them."""

        def sql_of(k: Check) -> str:
            return _exact(cell_sql(k, c, spec), c, spec) if exact else cell_sql(k, c, spec)

        cross = [(i, sql_of(k)) for i, k in numbered if k.rule != "mandatory" and k.rule not in ck.VALUE_RULES]
        warn = (
            " + ".join(f"CASE WHEN {sql_of(k)} THEN {1 << i} ELSE 0 END" for i, k in enumerate(fl.warnings))
            or "0"
        )
        warn_part = f"({warn}) * {1 << W_SHIFT}" if warn != "0" else "0"
        return f"{case(cross)} + {warn_part}", warn_part

    ok_rest, warn_part = rest(False)
    formula = f"CASE WHEN {formula_sql(raw)} THEN {FORMULA_BIT} ELSE 0 END"
    mandatory = f"CASE WHEN {status(c)} = 2 THEN 1 ELSE 0 END"
    blank_path = f"WHEN {blank(c)} THEN {1 << BLANK_SHIFT} + {mandatory} + {warn_part}"
    slow = (
        f"{formula} + CASE {' '.join(f'WHEN {sql} THEN {i}' for i, sql in value)} ELSE {ok_rest} END"
        if value
        else f"{formula} + {ok_rest}"
    )
    if f.defined_list:
        # List class 0 is an exact Release 2 value: never blank, never failing, and it cannot start with
        # = + - @.
        fast = f"WHEN {list_class(c)} = 0 THEN {rest(True)[0]} " if spec.lists[f.defined_list].r2_values else ""
        body = f"{fast}{blank_path} ELSE {slow}"
    else:
        ok = ck.value_ok_sql(f)
        if ok is None:
            body = f"{blank_path} ELSE {formula} + {ok_rest}"
        else:
            # Dates, numbers and postcodes that pass their value rules cannot start with = + @ or a - that is
            # not
            # a negative number; an NHS number with hyphens removed can, so it keeps the formula test.
            guard = f"{formula} + " if c == "NHS_Number" else ""
            body = f"{blank_path} WHEN {ok} THEN {guard}{ok_rest} ELSE {slow}"
    cond_part = f"({status(c)} + 1) * {1 << COND_SHIFT}"
    return f"CAST({cond_part} + CASE {body} END AS USMALLINT)"


def build_scan_sql(spec: Spec, layout: ScanLayout, source_sql: str, submission_date: date) -> str:
    """The SELECT that computes every stored column for a return read by `source_sql` (a read_csv call).

    Layers: (A) what other fields' rules and the keys need: blank tests, dates, folded Release 2 values of the
    fields the status rules read, the normalised NHS number; (B) field status; (C) one fused expression per
    field
    packing blank, status, failing check, warnings and the formula flag (`_fused_code`), and the keys for
    checks
    across rows; (D) values and details of the cells that have a problem, below them the folded values the
    test for a sensitive value shown in another field reads (`_folded_layers`).
    """
    value_sql = _value_sql(spec)
    keys = _key_columns(spec)
    rule_sql = " ".join(cell_sql(k, fl.column, spec) for fl in layout.fields for k in fl.errors + fl.warnings)
    status_sql = [status_case(spec.status_rules[f.column], value_sql, _present_sql) for f in spec.fields]
    details = " ".join(
        d
        for fl in layout.fields
        for k in fl.errors + fl.warnings
        for d in [_detail_sql(k, fl.column, spec)]
        if d
    )
    needs_cv = {c for kind, c in _referenced(" ".join([rule_sql, *status_sql, *keys, details])) if kind == "cv"}
    a = [
        "*",
        f"DATE '{submission_date.isoformat()}' AS submission_date",
        f"{ck.nhs_normalised_sql(col('NHS_Number'))} AS nhs__",
        f"{event_kind_sql()} AS {EVENT_KIND}",
    ]
    for f in spec.fields:
        c = f.column
        a.append(f"{blank_expr(col(c))} AS {blank(c)}")
        if f.type == "date":
            a.append(f"{date_sql(col(c))} AS {dte(c)}")
    b = ["*", f"{ck.nhs_number_sql(ck.NHS)} AS {ck.NHS_NUM}"]
    for f in spec.fields:
        if f.defined_list:
            lst = spec.lists[f.defined_list]
            b.append(f"{ck.list_class_sql(f.column, lst, spec, blank(f.column))} AS {list_class(f.column)}")
    # The folded Release 2 values, a layer above the list classes: class 0 is an exact Release 2 value.
    b2 = ["*"] + [
        f"{list_lookup_sql(col(c), lst, blank(c), exact=f'{list_class(c)} = 0')} AS {cv(c)}"
        for c in spec.columns
        if c in needs_cv
        for lst in [spec.list_for(c)]
        if lst is not None
    ]
    c_ = ["*"] + [
        f"CAST({sql} AS TINYINT) AS {status(f.column)}"
        for f, sql in zip(spec.fields, status_sql, strict=True)
    ]
    d = []
    for fl in layout.fields:
        d.append(f"{_fused_code(fl, spec)} AS {quote_ident('code_' + fl.column)}")
    d += keys
    e = [quote_ident("code_" + fl.column) for fl in layout.fields]
    e += [k.rsplit(" AS ", 1)[1] for k in keys]
    for fl in layout.fields:
        code = quote_ident("code_" + fl.column)
        if value_shown(spec, fl.column):
            # The folded value is NULL exactly where the cell has nothing to report or no value (a row with
            # too few values), where the shown value is NULL either way.
            e.append(
                f"CASE WHEN {quote_ident(_FOLDED + fl.column)} IS NOT NULL THEN CASE WHEN "
                f"{_same_as_sensitive_sql(fl.column, spec)} "
                f"THEN {quote_str(HIDDEN_VALUE)} ELSE left({col(fl.column)}, 80) END END "
                f"AS {quote_ident('v_' + fl.column)}"
            )
            if any(w.params.get("aggregate") == "value" for w in fl.warnings):
                # The whole value, as the key a warning listed once per field and value groups by: the shown
                # value is cut to 80 characters and is one marker for every hidden value.
                e.append(
                    f"CASE WHEN {quote_ident(_FOLDED + fl.column)} IS NOT NULL THEN hash({col(fl.column)}) END "
                    f"AS {quote_ident('vk_' + fl.column)}"
                )
        for cid, name in fl.details.items():
            chk_ = next(x for x in fl.errors + fl.warnings if x.id == cid)
            if chk_ in fl.errors:
                hit = f"({code} & {F_BITS}) = {fl.errors.index(chk_) + 1}"
            else:
                bit = 1 << fl.warnings.index(chk_)
                hit = f"(({code} >> {W_SHIFT}) & {bit}) <> 0 AND ({code} & {F_BITS}) = 0"
            e.append(f"CASE WHEN {hit} THEN {_detail_sql(chk_, fl.column, spec)} END AS {quote_ident(name)}")
    codes = ", ".join(quote_ident("code_" + fl.column) for fl in layout.fields)
    e.append(f"greatest({codes}) >= {FORMULA_BIT} AS has_formula")
    any_shown, folded = _folded_layers(spec, layout)
    # Every column the outer layers read must come up from the layers below.
    passthrough = sorted(
        {col(fl.column) for fl in layout.fields}
        | {"submission_date"}
        | {quote_ident(f"{k}__{c}") for k, c in _referenced(" ".join(e + folded)) if k in ("d", "cv", "b")}
    )
    d = passthrough + d
    return (
        f"SELECT {', '.join(e)} FROM (SELECT *, {', '.join(folded)} FROM (SELECT *, {', '.join(any_shown)} FROM "
        f"(SELECT {', '.join(d)} FROM (SELECT {', '.join(c_)} FROM "
        f"(SELECT {', '.join(b2)} FROM (SELECT {', '.join(b)} FROM (SELECT {', '.join(a)} FROM {source_sql})))))))"
    )


def _key_columns(spec: Spec) -> list[str]:
    """The hashed keys and dates the checks across rows, the period and the comparison use."""
    nhs_test = ck.nhs_test_range(ck.CellContext(ck.checks_by_id()["C017"], "NHS_Number", spec))
    all_cols = [col(c) for c in spec.columns]
    et = cv("Event_Type")
    return [
        f"CASE WHEN NOT {blank('LA_Person_Unique_Identifier')} "
        f"THEN hash({ci_sql(col('LA_Person_Unique_Identifier'))}) END AS k_person",
        f"CASE WHEN {ck.NHS_NUM} IS NOT NULL THEN hash({ck.NHS_NUM}) END AS k_nhs",
        f"CASE WHEN {dte('Date_of_Birth')} IS NOT NULL THEN hash({dte('Date_of_Birth')}) END AS k_dob",
        f"CASE WHEN NOT {blank('Gender')} THEN lower({trim_sql(col('Gender'))}) END AS k_gender",
        # white space of any kind around the code is not another council (T013): `trim` alone takes spaces only
        f"CASE WHEN NOT {blank('LA_Code')} THEN {trim_ws_sql(col('LA_Code'))} END AS la",
        f"{dte('Reporting_Period_Start_Date')} AS rs",
        f"{dte('Reporting_Period_End_Date')} AS re",
        f"{cv('Client_Type')} AS ctype",
        f"{et} AS etype",
        # the raw Event Type as the national code counts its distinct values (main-tables.md §0, §2 step 3)
        f"CASE WHEN NOT {blank('Event_Type')} THEN hash({ci_sql(col('Event_Type'))}) END AS k_etype",
        f"{dte('Event_Start_Date')} AS d_start",
        f"{dte('Event_End_Date')} AS d_end",
        f"{dte('Date_of_Death')} AS d_death",
        f"{event_key_sql()} AS k_event",
        f"hash({', '.join(all_cols)}) AS k_row",
        f"CASE WHEN NOT {blank('Event_Reference')} THEN hash({trim_sql(col('Event_Reference'))}) END AS k_ref",
        *[
            f"CASE WHEN NOT {blank(f'Adult_{i}_Linked_Person_ID')} THEN "
            f"hash({ci_sql(col(f'Adult_{i}_Linked_Person_ID'))}) END AS k_l{i}"
            for i in (1, 2, 3)
        ],
        f"CASE WHEN {et} = 'service' THEN hash({person_key_sql()}, {ci_field_sql('Service_Type')}, "
        f"{ci_field_sql('Service_Component')}) END AS k_svc",
        f"coalesce({nhs_test}, FALSE) AS nhs_test",
        f"CAST({ragged_sql(spec.columns)} AS UTINYINT) AS ragged",
    ]
