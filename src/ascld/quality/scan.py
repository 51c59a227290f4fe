"""The one-pass DuckDB query that gives every row and field of a return its status and validity.

`build_scan_sql` turns the specification (status rules) and `checks.csv` (cell checks) into one query over the
file, in four layers:

1. per field: blank test, parsed date, folded Release 2 value, list class (and the normalised NHS number);
2. per field: status code `cond__X` (the compiled status rules);
3. per field: the failing check (`f__X`, first in checks.csv order; 0 none) and warning bits (`wb__X`);
4. what is stored, one row per data row in file order: `cond_X`, `chk_X` (national validity code), `f_X`,
   `w_X`, the value of a failing non-sensitive cell (`v_X`), details for messages, and hashed keys for the
   checks across rows.

The table is created with `CREATE TABLE ... AS`, which keeps file order, so `rowid + 2` is the spreadsheet
row.
No value of a sensitive field is stored: identifiers appear only as 64-bit hashes.
"""

from __future__ import annotations

import csv
import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date
from importlib import resources

from ascld.quality import checks as ck
from ascld.quality.checks import Check, blank, cell_sql, col, cv, dte, list_class, status
from ascld.quality.dates import date_hint_sql, date_sql
from ascld.quality.sqlgen import list_lookup_sql, quote_ident, quote_str, status_case
from ascld.returns.reader import formula_sql, ragged_sql
from ascld.spec.model import Spec

# Cell rules computed from the stored codes afterwards, not in the scan (C022: filled in but not applicable).
DERIVED_RULES = ("not_applicable",)
# Text fields whose values may be shown in messages although they are not code, date or number fields.
SHOWN_TEXT_FIELDS = frozenset({"Provider_CQC_Location_ID"})
NO_DETAIL = ""


def value_shown(spec: Spec, column: str) -> bool:
    """Whether a field's value may appear in a message (never for sensitive fields or free text)."""
    f = spec.field(column)
    if f.sensitive:
        return False
    return f.type in ("code", "date", "decimal", "integer") or column in SHOWN_TEXT_FIELDS


@functools.lru_cache(maxsize=1)
def detail_texts() -> dict[tuple[str, str], str]:
    path = resources.files("ascld.quality") / "data" / "details.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        return {(r["check_id"], r["key"]): r["text"] for r in csv.DictReader(fh)}


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
        return f"lower(trim({col(column)}))"

    return value


def _present_sql(column: str) -> str:
    return f"NOT {blank(column)}"


def person_key_sql() -> str:
    """The person key of the national unique-event key: NHS number if given, else LA code + LA person ID."""
    return (
        f"CASE WHEN NOT {blank('NHS_Number')} THEN 'N' || nhs__ "
        f"ELSE 'L' || coalesce(trim({col('LA_Code')}), '') "
        f"|| '_' || coalesce(trim({col('LA_Person_Unique_Identifier')}), '') END"
    )


def corrected_end_sql() -> str:
    """`Der_Event_End_Date` (methodology/main-tables.md §4.1): the date of death ends an event it falls in."""
    s, e, d = dte("Event_Start_Date"), dte("Event_End_Date"), dte("Date_of_Death")
    return f"CASE WHEN {d} BETWEEN {s} AND {e} THEN {d} WHEN {d} > {s} AND {e} IS NULL THEN {d} ELSE {e} END"


def event_key_sql() -> str:
    """Hash of the national unique-event key (methodology/main-tables.md §5.3), NULL on rows with no event."""
    et = cv("Event_Type")
    start = f"coalesce(CAST({dte('Event_Start_Date')} AS VARCHAR), trim({col('Event_Start_Date')}))"
    end = f"coalesce(CAST({corrected_end_sql()} AS VARCHAR), trim({col('Event_End_Date')}))"
    parts = [
        f"trim({col('LA_Code')})",
        start,
        f"CASE WHEN {et} = 'service' THEN NULL ELSE {end} END",
        f"{col('Client_Type')}",
        person_key_sql(),
        f"{col('Event_Type')}",
        f"CASE WHEN {et} = 'request' THEN {col('Request_Route_of_Access')} END",
        f"CASE WHEN {et} = 'assessment' THEN {col('Assessment_Type')} END",
        f"CASE WHEN {et} = 'service' THEN {col('Service_Type')} END",
        f"CASE WHEN {et} = 'service' THEN {col('Service_Component')} END",
    ]
    return f"CASE WHEN NOT {blank('Event_Type')} THEN hash({', '.join(parts)}) END"


# How the per-cell results are packed into one USMALLINT `code_X` per field (decoded by `decode_sql`).
F_BITS, W_SHIFT, BLANK_SHIFT, COND_SHIFT = 15, 4, 12, 13


def decode_sql(column: str, part: str, table: str = "") -> str:
    """SQL decoding one part (f, w, blank, cond) of the packed per-cell code of `column`."""
    code = (f"{table}." if table else "") + quote_ident("code_" + column)
    return {
        "f": f"({code} & {F_BITS})",
        "w": f"(({code} >> {W_SHIFT}) & 255)",
        "blank": f"(({code} >> {BLANK_SHIFT}) & 1)",
        "cond": f"(CAST(({code} >> {COND_SHIFT}) & 3 AS TINYINT) - 1)",
    }[part]


def chk_sql(fl: FieldLayout, table: str = "") -> str:
    """SQL for the national validity code (chk_X) of one field from its packed code."""
    f_ = decode_sql(fl.column, "f", table)
    whens = " ".join(f"WHEN {i} THEN {e.validity}" for i, e in enumerate(fl.errors, start=1))
    return (
        f"CAST(CASE {f_} WHEN 0 THEN CASE WHEN {decode_sql(fl.column, 'blank', table)} = 1 THEN 0 ELSE 1 END "
        f"{whens} END AS TINYINT)"
    )


def _cell_kind(code: str) -> str:
    """0 an ordinary value, 1 blank, 2 a value that would run as a spreadsheet formula (one pass per cell)."""
    from ascld.quality.sqlgen import WS_CLASS

    # Most values start with a digit or a letter other than N/n, which can begin neither a blank value (white
    # space, the text NULL) nor a formula (= + - @): string comparison on the first bytes settles those
    # cheaply.
    return (
        f"CAST(CASE WHEN {code} IS NULL OR {code} = '' THEN 1 "
        f"WHEN ({code} >= '0' AND {code} < '=') OR ({code} >= 'A' AND {code} < 'N') OR "
        f"({code} >= 'O' AND {code} < 'n') THEN 0 "
        f"WHEN regexp_full_match({code}, '{WS_CLASS}*(?i:null)?{WS_CLASS}*') THEN 1 "
        f"WHEN {formula_sql(code)} THEN 2 ELSE 0 END AS UTINYINT)"
    )


def build_scan_sql(spec: Spec, layout: ScanLayout, source_sql: str, submission_date: date) -> str:
    """The SELECT that computes every stored column for a return read by `source_sql` (a read_csv call)."""
    value_sql = _value_sql(spec)
    needs_cv = set(ck.CV_COLUMNS) | {
        c for rules in spec.status_rules.values() for r in rules for c in r.condition.columns()
    }
    l0 = [
        "*",
        f"DATE '{submission_date.isoformat()}' AS submission_date",
        f"{ck.nhs_normalised_sql(col('NHS_Number'))} AS nhs__",
    ]
    l0 += [f"{_cell_kind(col(c))} AS {quote_ident('e__' + c)}" for c in spec.columns]
    l1 = ["*"]
    for f in spec.fields:
        c = f.column
        l1.append(f"({quote_ident('e__' + c)} = 1) AS {blank(c)}")
        if f.defined_list:
            lst = spec.lists[f.defined_list]
            is_blank = f"({quote_ident('e__' + c)} = 1)"
            if c in needs_cv:
                l1.append(f"{list_lookup_sql(col(c), lst, is_blank)} AS {cv(c)}")
            l1.append(f"{ck.list_class_sql(c, lst, spec, is_blank)} AS {list_class(c)}")
        if f.type == "date":
            l1.append(f"{date_sql(col(c))} AS {dte(c)}")
    l2 = ["*"] + [
        f"CAST({status_case(spec.status_rules[f.column], value_sql, _present_sql)} AS TINYINT) "
        f"AS {status(f.column)}"
        for f in spec.fields
    ]
    l3 = ["*"]
    for fl in layout.fields:
        c = fl.column
        numbered = list(enumerate(fl.errors, start=1))
        value = " ".join(
            f"WHEN {cell_sql(chk, c, spec)} THEN {i}" for i, chk in numbered if chk.rule in ck.VALUE_RULES
        )
        cross = " ".join(
            f"WHEN {cell_sql(chk, c, spec)} THEN {i}"
            for i, chk in numbered
            if chk.rule != "mandatory" and chk.rule not in ck.VALUE_RULES
        )
        ok = ck.value_ok_sql(spec.field(c))
        cross_case = f"CASE {cross} ELSE 0 END" if cross else "0"
        if value and ok:
            body = f"WHEN NOT {ok} THEN CASE {value} ELSE 0 END ELSE {cross_case}"
        elif value:
            body = f"ELSE CASE {value} {cross} ELSE 0 END"
        else:
            body = f"ELSE {cross_case}"
        l3.append(
            f"CAST(CASE WHEN {blank(c)} THEN CASE WHEN {status(c)} = 2 THEN 1 ELSE 0 END {body} END "
            f"AS UTINYINT) AS {quote_ident('f__' + c)}"
        )
        if fl.warnings:
            bits = " + ".join(
                f"CASE WHEN {cell_sql(chk, c, spec)} THEN {1 << i} ELSE 0 END"
                for i, chk in enumerate(fl.warnings)
            )
            l3.append(f"CAST({bits} AS UTINYINT) AS {quote_ident('wb__' + c)}")
    l4 = []
    for fl in layout.fields:
        c = fl.column
        f_ = quote_ident("f__" + c)
        wb = quote_ident("wb__" + c) if fl.warnings else "0"
        l4.append(
            f"CAST({f_} + {wb} * {1 << W_SHIFT} + CAST({blank(c)} AS INTEGER) * {1 << BLANK_SHIFT} + "
            f"({status(c)} + 1) * {1 << COND_SHIFT} AS USMALLINT) AS {quote_ident('code_' + c)}"
        )
        if value_shown(spec, c):
            cond = f"{f_} > 0" + (f" OR {wb} > 0" if fl.warnings else "")
            l4.append(f"CASE WHEN {cond} THEN left({col(c)}, 80) END AS {quote_ident('v_' + c)}")
        for cid, name in fl.details.items():
            chk_ = next(x for x in fl.errors + fl.warnings if x.id == cid)
            if chk_ in fl.errors:
                hit = f"{f_} = {fl.errors.index(chk_) + 1}"
            else:
                hit = f"({wb} & {1 << fl.warnings.index(chk_)}) <> 0 AND {f_} = 0"
            l4.append(f"CASE WHEN {hit} THEN {_detail_sql(chk_, c, spec)} END AS {quote_ident(name)}")
    nhs_test = ck.nhs_test_range(ck.CellContext(ck.checks_by_id()["C017"], "NHS_Number", spec))
    any_formula = f"greatest({', '.join(quote_ident('e__' + c) for c in spec.columns)}) = 2"
    all_cols = [col(c) for c in spec.columns]
    et = cv("Event_Type")
    l4 += [
        f"CASE WHEN NOT {blank('LA_Person_Unique_Identifier')} "
        f"THEN hash(trim({col('LA_Person_Unique_Identifier')})) "
        "END AS k_person",
        "CASE WHEN regexp_full_match(nhs__, '[0-9]{10}') THEN hash(nhs__) END AS k_nhs",
        f"CASE WHEN {dte('Date_of_Birth')} IS NOT NULL THEN hash({dte('Date_of_Birth')}) END AS k_dob",
        f"CASE WHEN NOT {blank('Gender')} THEN lower(trim({col('Gender')})) END AS gender",
        f"CASE WHEN NOT {blank('LA_Code')} THEN trim({col('LA_Code')}) END AS la",
        f"{dte('Reporting_Period_Start_Date')} AS rs",
        f"{dte('Reporting_Period_End_Date')} AS re",
        f"{cv('Client_Type')} AS ctype",
        f"{et} AS etype",
        f"{dte('Event_Start_Date')} AS d_start",
        f"{dte('Event_End_Date')} AS d_end",
        f"{dte('Date_of_Death')} AS d_death",
        f"{event_key_sql()} AS k_event",
        f"hash({', '.join(all_cols)}) AS k_row",
        f"CASE WHEN NOT {blank('Event_Reference')} THEN hash(trim({col('Event_Reference')})) END AS k_ref",
        *[
            f"CASE WHEN NOT {blank(f'Adult_{i}_Linked_Person_ID')} THEN "
            f"hash(trim({col(f'Adult_{i}_Linked_Person_ID')})) END AS k_l{i}"
            for i in (1, 2, 3)
        ],
        f"CASE WHEN {et} = 'service' THEN hash({person_key_sql()}, {col('Service_Type')}, "
        f"{col('Service_Component')}) END AS k_svc",
        f"coalesce({nhs_test}, FALSE) AS nhs_test",
        f"({any_formula}) AS has_formula",
        f"CAST({ragged_sql(spec.columns)} AS UTINYINT) AS ragged",
    ]
    return (
        f"SELECT {', '.join(l4)} FROM (SELECT {', '.join(l3)} FROM (SELECT {', '.join(l2)} FROM "
        f"(SELECT {', '.join(l1)} FROM (SELECT {', '.join(l0)} FROM {source_sql}))))"
    )
