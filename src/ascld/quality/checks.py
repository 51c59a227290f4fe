"""The validator's checks: rule *types* as small functions, rule *instances* as rows of `data/checks.csv`.

Each row of `checks.csv` names a check (`id`), the field or fields it looks at (`field`: a national column
name,
several separated by `;`, or a group: `@all`, `@list`, `@date`, `@decimal`, `@integer`, `@number`), the rule
type (`rule`) with its parameters (`params`, `key=value;key=value`), its severity, the national validity code
it
gives a failing cell (`validity`: -1 blank mandatory, -2 format, -3 not in the list, -4 impossible or out of
range, -5 inconsistent with another field, -6 outside the reporting period, -7 Release 1), and the message and
hint shown to the council (`{value}`, `{suggestion}`, `{detail}`, `{list}` are filled in; values of sensitive
fields are never shown).

Cell rule types (this module) return a SQL boolean that is true where the problem applies. They run inside one
DuckDB query over the file (see `ascld.quality.validate`) and may use, for a column `X`:

* `"X"` the value as submitted (VARCHAR), `"b__X"` blank (empty, white space or NULL text);
* `"d__X"` the date of a date field (NULL unless valid), `"cv__X"` the folded Release 2 value of a list field;
* `"lc__X"` the list class of a list field (0 valid, 1 not in a complete list, 2 case or spaces only, 3
Release 1,
  4 processing-only value, 5 unverified);
* `"cond__X"` the field status code (2/1/0/-1); `nhs__` the NHS number with spaces and hyphens removed;
* `submission_date` (a DATE literal supplied by the caller).

Set, file and comparison rule types (duplicates, conflicts, derived period, quarter on quarter) are SQL
queries
in `ascld.quality.crossrow`; transport rules are implemented by `ascld.returns.reader`.
"""

from __future__ import annotations

import csv
import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from importlib import resources
from pathlib import Path

from ascld.identity.nhs_number import PLACEHOLDERS
from ascld.quality.dates import FORMAT_REGEX, MAX_YEAR, MIN_YEAR
from ascld.quality.sqlgen import WS_CLASS, fold, quote_ident, quote_str, strip_sql
from ascld.spec.model import DefinedList, Field, Spec

SEVERITIES = ("error", "warning")
VALIDITY_LABELS: Mapping[int, str] = {
    1: "Passed: Valid",
    0: "Passed: Blank (Not Mandatory)",
    -1: "Failed: Blank (Mandatory)",
    -2: "Failed: Invalid",
    -3: "Failed: Invalid",
    -4: "Failed: Invalid",
    -5: "Failed: Invalid",
    -6: "Failed: Invalid",
    -7: "Failed: Release 1",
}
VALIDITY_REASONS: Mapping[int, str] = {
    -2: "wrong format",
    -3: "not in the defined list",
    -4: "impossible or out-of-range value",
    -5: "inconsistent with another field",
    -6: "outside the reporting period",
}
GROUPS = ("@all", "@list", "@date", "@decimal", "@integer", "@number")
LIST_CLASS = {"valid": 0, "not_in_list": 1, "case": 2, "release1": 3, "processing": 4, "unverified": 5}


@dataclass(frozen=True)
class Check:
    """One row of checks.csv."""

    id: str
    field: str
    rule: str
    params: Mapping[str, str]
    severity: str
    validity: int | None
    message: str
    hint: str
    description: str
    source: str

    @property
    def kind(self) -> str:
        """cell | set | file | compare | transport (where the rule type is implemented)."""
        return RULE_KINDS.get(self.rule, "cell")

    def columns(self, spec: Spec) -> tuple[str, ...]:
        """The national column names this check looks at, in submission order."""
        return select_fields(self.field, spec)


def select_fields(selector: str, spec: Spec) -> tuple[str, ...]:
    """Resolve a `field` selector of checks.csv to column names (submission order)."""
    if not selector:
        return ()
    chosen: list[str] = []
    for part in selector.split(";"):
        part = part.strip()
        if part == "@all":
            chosen += [f.column for f in spec.fields]
        elif part == "@list":
            chosen += [f.column for f in spec.fields if f.defined_list]
        elif part == "@date":
            chosen += [f.column for f in spec.fields if f.type == "date"]
        elif part == "@decimal":
            chosen += [f.column for f in spec.fields if f.type == "decimal"]
        elif part == "@integer":
            chosen += [f.column for f in spec.fields if f.type == "integer"]
        elif part == "@number":
            chosen += [f.column for f in spec.fields if f.type in ("decimal", "integer")]
        else:
            chosen.append(spec.field(part).column)
    order = {c: i for i, c in enumerate(spec.columns)}
    return tuple(sorted(dict.fromkeys(chosen), key=order.__getitem__))


def _params(text: str) -> dict[str, str]:
    out = {}
    for part in filter(None, (p.strip() for p in text.split(";"))):
        key, _, value = part.partition("=")
        out[key.strip()] = value.strip()
    return out


def checks_path() -> Path:
    return Path(str(resources.files("ascld.quality") / "data" / "checks.csv"))


@functools.lru_cache(maxsize=1)
def load_checks() -> tuple[Check, ...]:
    """Every check, in the order of checks.csv (which is also the precedence of failures within a cell)."""
    with checks_path().open(encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = []
    for r in rows:
        out.append(
            Check(
                id=r["id"],
                field=r["field"],
                rule=r["rule"],
                params=_params(r["params"]),
                severity=r["severity"],
                validity=int(r["validity"]) if r["validity"] else None,
                message=r["message"],
                hint=r["hint"],
                description=r["description"],
                source=r["source"],
            )
        )
    return tuple(out)


def checks_by_id() -> Mapping[str, Check]:
    return {c.id: c for c in load_checks()}


# --- helpers the rule types use ----------------------------------------------------------------------------


def col(name: str) -> str:
    return quote_ident(name)


def blank(name: str) -> str:
    return quote_ident(f"b__{name}")


def dte(name: str) -> str:
    return quote_ident(f"d__{name}")


def cv(name: str) -> str:
    return quote_ident(f"cv__{name}")


def status(name: str) -> str:
    return quote_ident(f"cond__{name}")


def list_class(name: str) -> str:
    return quote_ident(f"lc__{name}")


def age_sql(born: str, on: str) -> str:
    """Whole years from `born` to `on` (calendar age), NULL if either is NULL."""
    return (
        f"(year({on}) - year({born}) - CASE WHEN month({on}) * 100 + day({on}) < month({born}) * 100 + "
        f"day({born}) THEN 1 ELSE 0 END)"
    )


def national_age_sql(born: str, on: str) -> str:
    """Age as national processing derives it (`Der_Age_Reporting_Period_End_Date`).

    Whole days divided by 365.25, floored (methodology/main-tables.md §0). The status rules'
    `age_at_period_end` uses it, as the synthetic data do.
    """
    return f"floor(date_diff('day', {born}, {on}) / 365.25)"


def national_age(born: date, on: date) -> int:
    """Python reference of `national_age_sql`."""
    return math.floor((on - born).days / 365.25)


@dataclass(frozen=True)
class CellContext:
    """What a cell rule type knows: the check, the column it is applied to and the specification."""

    check: Check
    column: str
    spec: Spec

    @property
    def field(self) -> Field:
        return self.spec.field(self.column)

    @property
    def value(self) -> str:
        return col(self.column)

    def param(self, key: str, default: str | None = None) -> str:
        value = self.check.params.get(key, default)
        if value is None:
            raise KeyError(f"check {self.check.id} needs the parameter {key}")
        return value


CellRule = Callable[[CellContext], str]
CELL_RULES: dict[str, CellRule] = {}


def cell_rule(name: str) -> Callable[[CellRule], CellRule]:
    def register(fn: CellRule) -> CellRule:
        CELL_RULES[name] = fn
        return fn

    return register


# --- list values
# ---------------------------------------------------------------------------------------------


@cell_rule("not_in_list")
def not_in_list(ctx: CellContext) -> str:
    """Not in a complete list, not a Release 1 value and not a case variant (Failed: Invalid)."""
    return f"({list_class(ctx.column)} = {LIST_CLASS['not_in_list']})"


@cell_rule("list_case")
def list_case(ctx: CellContext) -> str:
    """Matches a list value only when case and surrounding white space are ignored."""
    return f"({list_class(ctx.column)} = {LIST_CLASS['case']})"


@cell_rule("release1")
def release1(ctx: CellContext) -> str:
    """A Release 1 value (exact, or differing only in case) in a Release 2 return."""
    return f"({list_class(ctx.column)} = {LIST_CLASS['release1']})"


@cell_rule("processing_value")
def processing_value(ctx: CellContext) -> str:
    """A value national processing adds (e.g. 'Invalid and not mapped'), never valid input."""
    return f"({list_class(ctx.column)} = {LIST_CLASS['processing']})"


@cell_rule("unverified")
def unverified(ctx: CellContext) -> str:
    """Outside the known values of a list the specification marks incomplete (a warning)."""
    return f"({list_class(ctx.column)} = {LIST_CLASS['unverified']})"


def list_classes(lst: DefinedList, spec: Spec) -> dict[str, object]:
    """The value sets `list_class_sql` tests, in precedence order (also the Python reference for tests)."""
    r2 = set(lst.r2_values)
    r1_exact = [v for v in lst.r1_values if v not in r2]

    def r1_is_release1(v: str) -> bool:
        return lst.r1_status.get(v, "unknown") != "unknown" or lst.complete

    r1x = [v for v in r1_exact if r1_is_release1(v)]
    r1u = [v for v in r1_exact if not r1_is_release1(v)]
    dv = [v for v in spec.derived_values if v not in r2 and v not in lst.r1_values]
    fold_r2 = {fold(v): v for v in lst.r2_values}
    fold_r1m = {fold(v): v for v in r1x if fold(v) not in fold_r2}
    fold_r1u = {fold(v): v for v in r1u if fold(v) not in fold_r2 and fold(v) not in fold_r1m}
    return {
        "r2": sorted(r2),
        "r1x": r1x,
        "r1u": r1u,
        "dv": dv,
        "fold_r2": fold_r2,
        "fold_r1m": fold_r1m,
        "fold_r1u": fold_r1u,
    }


def classify_list_value(value: str, lst: DefinedList, spec: Spec) -> int:
    """Python reference of `list_class_sql` for one non-blank value."""
    sets = list_classes(lst, spec)
    key = value.strip().casefold()
    if value in sets["r2"]:  # type: ignore[operator]
        return LIST_CLASS["valid"]
    if value in sets["r1x"]:  # type: ignore[operator]
        return LIST_CLASS["release1"]
    if value in sets["r1u"]:  # type: ignore[operator]
        return LIST_CLASS["unverified"]
    if value in sets["dv"]:  # type: ignore[operator]
        return LIST_CLASS["processing"]
    if key in sets["fold_r2"]:  # type: ignore[operator]
        return LIST_CLASS["case"]
    if key in sets["fold_r1m"]:  # type: ignore[operator]
        return LIST_CLASS["release1"]
    if key in sets["fold_r1u"]:  # type: ignore[operator]
        return LIST_CLASS["case"]
    return LIST_CLASS["not_in_list"] if lst.complete else LIST_CLASS["unverified"]


def _in(expr: str, values: list[str] | dict[str, str]) -> str:
    items = list(values)
    if not items:
        return "FALSE"
    return f"{expr} IN ({', '.join(quote_str(v) for v in items)})"


def list_class_sql(column: str, lst: DefinedList, spec: Spec, blank_expr: str | None = None) -> str:
    """SQL for the list class of a value (see `classify_list_value`); NULL when blank."""
    from ascld.quality.sqlgen import blank_sql

    s = list_classes(lst, spec)
    raw = col(column)
    key = f"lower({strip_sql(raw)})"
    rest = LIST_CLASS["not_in_list"] if lst.complete else LIST_CLASS["unverified"]
    return (
        f"CASE WHEN {blank_expr or blank_sql(raw)} THEN NULL "
        f"WHEN {_in(raw, s['r2'])} THEN 0 "  # type: ignore[arg-type]
        f"WHEN {_in(raw, s['r1x'])} THEN {LIST_CLASS['release1']} "  # type: ignore[arg-type]
        f"WHEN {_in(raw, s['r1u'])} THEN {LIST_CLASS['unverified']} "  # type: ignore[arg-type]
        f"WHEN {_in(raw, s['dv'])} THEN {LIST_CLASS['processing']} "  # type: ignore[arg-type]
        f"WHEN {_in(key, s['fold_r2'])} THEN {LIST_CLASS['case']} "  # type: ignore[arg-type]
        f"WHEN {_in(key, s['fold_r1m'])} THEN {LIST_CLASS['release1']} "  # type: ignore[arg-type]
        f"WHEN {_in(key, s['fold_r1u'])} THEN {LIST_CLASS['case']} "  # type: ignore[arg-type]
        f"ELSE {rest} END"
    )


def list_suggestion(value: str, lst: DefinedList, spec: Spec) -> str | None:
    """The exact list value to use instead of `value` (for C003 and C004 hints)."""
    s = list_classes(lst, spec)
    key = value.strip().casefold()
    if value in lst.r1_to_r2:
        return lst.r1_to_r2[value]
    for name in ("fold_r2", "fold_r1u"):
        hit = s[name].get(key)  # type: ignore[attr-defined]
        if hit:
            return hit
    hit = s["fold_r1m"].get(key)  # type: ignore[attr-defined]
    if hit:
        return lst.r1_to_r2.get(hit)
    return None


# --- dates
# ---------------------------------------------------------------------------------------------------


def _year(raw: str) -> str:
    return f"TRY_CAST(substr({raw}, 7, 4) AS INTEGER)"


@cell_rule("date_format")
def date_format(ctx: CellContext) -> str:
    """Not written exactly dd/mm/yyyy (two-digit day and month, four-digit year, nothing else)."""
    return f"(NOT regexp_full_match({ctx.value}, '{FORMAT_REGEX}'))"


@cell_rule("date_year_range")
def date_year_range(ctx: CellContext) -> str:
    """In the format but with a year outside the sensible range (params min, max)."""
    low, high = int(ctx.param("min", str(MIN_YEAR))), int(ctx.param("max", str(MAX_YEAR)))
    return (
        f"(regexp_full_match({ctx.value}, '{FORMAT_REGEX}') AND "
        f"{_year(ctx.value)} NOT BETWEEN {low} AND {high})"
    )


@cell_rule("date_real")
def date_real(ctx: CellContext) -> str:
    """In the format, year in range, but not a real calendar date (31/02/2024)."""
    return (
        f"(regexp_full_match({ctx.value}, '{FORMAT_REGEX}') AND {_year(ctx.value)} BETWEEN {MIN_YEAR} AND "
        f"{MAX_YEAR} AND TRY_STRPTIME({ctx.value}, '%d/%m/%Y') IS NULL)"
    )


# --- numbers
# -------------------------------------------------------------------------------------------------

NUMBER_REGEX = r"-?([0-9]{1,16}(\.[0-9]*)?|\.[0-9]+)"
INTEGER_REGEX = r"-?[0-9]{1,18}"


@cell_rule("number_format")
def number_format(ctx: CellContext) -> str:
    """Not a plain decimal number that fits NUMERIC(18,2) before rounding (no signs but -, no separators)."""
    return f"(NOT regexp_full_match({ctx.value}, '{NUMBER_REGEX}'))"


@cell_rule("decimal_places")
def decimal_places(ctx: CellContext) -> str:
    """A number with more decimal places than `max`."""
    places = int(ctx.param("max", "2"))
    return (
        f"(regexp_full_match({ctx.value}, '{NUMBER_REGEX}') AND "
        f"regexp_matches({ctx.value}, '\\.[0-9]{{{places + 1},}}$'))"
    )


@cell_rule("whole_number")
def whole_number(ctx: CellContext) -> str:
    """Not a whole number."""
    return f"(NOT regexp_full_match({ctx.value}, '{INTEGER_REGEX}'))"


@cell_rule("not_negative")
def not_negative(ctx: CellContext) -> str:
    """A well-formed number below zero."""
    ok = INTEGER_REGEX if ctx.field.type == "integer" else NUMBER_REGEX
    extra = "" if ctx.field.type == "integer" else f" AND NOT regexp_matches({ctx.value}, '\\.[0-9]{{3,}}$')"
    return f"(regexp_full_match({ctx.value}, '{ok}'){extra} AND TRY_CAST({ctx.value} AS DOUBLE) < 0)"


# --- identity
# ------------------------------------------------------------------------------------------------

NHS = quote_ident("nhs__")
NHS_NUM = quote_ident("nhs_num__")
_PLACEHOLDER_NUMBERS = ", ".join(str(int(p)) for p in sorted(PLACEHOLDERS))


def nhs_normalised_sql(raw: str) -> str:
    """NHS number with spaces and hyphens removed and white space trimmed (`normalise_nhs_number`).

    Ten plain digits, by far the most common form, skip the string operations.
    """
    removed = f"replace(replace({raw}, ' ', ''), '-', '')"
    return f"CASE WHEN regexp_full_match({raw}, '[0-9]{{10}}') THEN {raw} ELSE {strip_sql(removed)} END"


def nhs_number_sql(normalised: str) -> str:
    """The NHS number as a BIGINT when the normalised text is exactly ten digits, else NULL (`nhs_num__`)."""
    return f"CASE WHEN regexp_full_match({normalised}, '[0-9]{{10}}') THEN CAST({normalised} AS BIGINT) END"


def nhs_check_digit_ok_sql(num: str) -> str:
    """True when the ten-digit number `num` (BIGINT) carries the right modulus-11 check digit (weights 10..2;
    11 -> 0; 10 invalid). Integer arithmetic is much cheaper in DuckDB than nine substrings.

    With s the weighted sum of the first nine digits and d the tenth, the rule (11 - s % 11, 11 read as 0,
    10 never valid, equal to d) holds exactly when (s + d) % 11 = 0: a digit d is never 10, and
    11 - s % 11 = d (mod 11) otherwise. So the sum with the tenth digit at weight 1 is computed once."""
    total = " + ".join(f"(({num} // {10 ** (10 - i)}) % 10) * {11 - i}" for i in range(1, 10))
    return f"(({total} + {num} % 10) % 11 = 0)"


@cell_rule("nhs_format")
def nhs_format(ctx: CellContext) -> str:
    """Not ten digits once spaces and hyphens are removed."""
    return f"({NHS_NUM} IS NULL)"


@cell_rule("nhs_placeholder")
def nhs_placeholder(ctx: CellContext) -> str:
    """A placeholder number (all digits the same, 1234567890, 0123456789)."""
    return f"({NHS_NUM} IN ({_PLACEHOLDER_NUMBERS}))"


@cell_rule("nhs_check_digit")
def nhs_check_digit(ctx: CellContext) -> str:
    """Ten digits, not a placeholder, but the modulus-11 check digit is wrong."""
    return f"({NHS_NUM} NOT IN ({_PLACEHOLDER_NUMBERS}) AND NOT {nhs_check_digit_ok_sql(NHS_NUM)})"


@cell_rule("nhs_test_range")
def nhs_test_range(ctx: CellContext) -> str:
    """A valid NHS number from the test range (999...); counted for the whole file, not listed per row."""
    return f"({NHS_NUM} BETWEEN 9990000000 AND 9999999999)"


def postcode_compact_sql(raw: str) -> str:
    """Upper case with all white space removed (`normalise_postcode` without its inserted space)."""
    return f"upper(regexp_replace({raw}, '{WS_CLASS}+', '', 'g'))"


def postcode_regex() -> str:
    """One regular expression for a compact postcode that `check_postcode` accepts.

    `check_postcode` inserts a space before the last three characters and then allows an optional space, so a
    value is valid exactly when its compact form matches outward + inward, ZZ99 + inward, or GIR0AA.
    """
    from ascld.identity import postcode as pc

    full = pc._FULL.pattern.removeprefix("^").removesuffix("$").replace(" ?", "")
    pseudo = pc._PSEUDO.pattern.removeprefix("^").removesuffix("$").replace(" ?", "")
    return f"{full}|{pseudo}|GIR0AA"


def postcode_valid_sql(raw: str) -> str:
    """True for a valid postcode, pseudo-postcode (ZZ99 ...) or GIR 0AA (the rules of `check_postcode`).

    A postcode already written in the normal form (capitals, one space) is accepted without normalising it.
    """
    from ascld.identity import postcode as pc

    spaced = f"{pc._FULL.pattern[1:-1]}|{pc._PSEUDO.pattern[1:-1]}|GIR 0AA"
    return (
        f"(CASE WHEN regexp_full_match({raw}, {quote_str(spaced)}) THEN TRUE "
        f"ELSE regexp_full_match({postcode_compact_sql(raw)}, {quote_str(postcode_regex())}) END)"
    )


@cell_rule("postcode_format")
def postcode_format(ctx: CellContext) -> str:
    """Not a UK postcode (NHS pseudo-postcodes ZZ99 ... are valid)."""
    return f"(NOT {postcode_valid_sql(ctx.value)})"


@cell_rule("pattern")
def pattern(ctx: CellContext) -> str:
    """A filled-in value that does not match the regular expression `regex` (whole value)."""
    regex = ctx.param("regex").removeprefix("^").removesuffix("$")
    return f"(NOT {blank(ctx.column)} AND NOT regexp_full_match({ctx.value}, {quote_str(regex)}))"


# --- status
# --------------------------------------------------------------------------------------------------


@cell_rule("mandatory")
def mandatory(ctx: CellContext) -> str:
    """Blank where the field status is Mandatory (Failed: Blank (mandatory))."""
    return f"({blank(ctx.column)} AND {status(ctx.column)} = 2)"


@cell_rule("not_applicable")
def not_applicable(ctx: CellContext) -> str:
    """Filled in although the field's status on this row is Not applicable."""
    return f"(NOT {blank(ctx.column)} AND {status(ctx.column)} = 0)"


# --- dates and logic
# -----------------------------------------------------------------------------------------

START, END, DEATH, BIRTH = "Event_Start_Date", "Event_End_Date", "Date_of_Death", "Date_of_Birth"
PSTART, PEND = "Reporting_Period_Start_Date", "Reporting_Period_End_Date"


@cell_rule("end_before_start")
def end_before_start(ctx: CellContext) -> str:
    """The event ends before it starts."""
    return f"({dte(END)} < {dte(START)})"


@cell_rule("start_after_period_end")
def start_after_period_end(ctx: CellContext) -> str:
    """The event starts after the reporting period ends."""
    return f"({dte(START)} > {dte(PEND)})"


@cell_rule("not_ended_in_period")
def not_ended_in_period(ctx: CellContext) -> str:
    """A request, assessment or review whose end date is outside the reporting period."""
    types = [fold(t) for t in ctx.param("event_types").split("|")]
    return f"({_in(cv('Event_Type'), types)} AND ({dte(END)} < {dte(PSTART)} OR {dte(END)} > {dte(PEND)}))"


@cell_rule("service_ended_before_period")
def service_ended_before_period(ctx: CellContext) -> str:
    """A service that ended before the reporting period started."""
    return f"({cv('Event_Type')} = 'service' AND {dte(END)} < {dte(PSTART)})"


@cell_rule("service_end_after_period_end")
def service_end_after_period_end(ctx: CellContext) -> str:
    """A service with an end date after the reporting period end."""
    return f"({cv('Event_Type')} = 'service' AND {dte(END)} > {dte(PEND)})"


@cell_rule("period_end_before_start")
def period_end_before_start(ctx: CellContext) -> str:
    """The stated reporting period ends before it starts."""
    return f"({dte(PEND)} < {dte(PSTART)})"


@cell_rule("start_after_death")
def start_after_death(ctx: CellContext) -> str:
    """The event starts after the date of death."""
    return f"({dte(START)} > {dte(DEATH)})"


@cell_rule("end_after_death")
def end_after_death(ctx: CellContext) -> str:
    """The event ends after the date of death."""
    return f"({dte(END)} > {dte(DEATH)})"


@cell_rule("death_before_birth")
def death_before_birth(ctx: CellContext) -> str:
    """The date of death is before the date of birth."""
    return f"({dte(DEATH)} < {dte(BIRTH)})"


@cell_rule("born_after_event")
def born_after_event(ctx: CellContext) -> str:
    """The date of birth is after the event start."""
    return f"({dte(BIRTH)} > {dte(START)})"


@cell_rule("under_18_service_user")
def under_18_service_user(ctx: CellContext) -> str:
    """A service user younger than `min_age` at the event start, by the national age: whole days divided by
    365.25, floored (methodology/main-tables.md §0; `Der_Age_Event_Start_Date`), not a calendar age. So a
    person born 01/03/2005 is 17 on 01/03/2023 (6,574 days)."""
    years = int(ctx.param("min_age", "18"))
    return (
        f"({cv('Client_Type')} = 'service user' AND {national_age_sql(dte(BIRTH), dte(START))} < {years})"
    )


@cell_rule("dob_implausible")
def dob_implausible(ctx: CellContext) -> str:
    """Born after the reporting period end, or more than `max_age` years before it."""
    years = int(ctx.param("max_age", "110"))
    # "more than 110 years before": before the day 110 calendar years earlier (checks.csv), not an age of 111
    return f"({dte(BIRTH)} > {dte(PEND)} OR {dte(BIRTH)} < CAST({dte(PEND)} - INTERVAL {years} YEAR AS DATE))"


@cell_rule("death_after_period_end")
def death_after_period_end(ctx: CellContext) -> str:
    """The date of death is after the reporting period end."""
    return f"({dte(DEATH)} > {dte(PEND)})"


@cell_rule("after_submission")
def after_submission(ctx: CellContext) -> str:
    """A date after the submission date."""
    return f"({dte(ctx.column)} > submission_date)"


@cell_rule("association_without_link")
def association_without_link(ctx: CellContext) -> str:
    """A carer known by association with no linked person ID."""
    links = " AND ".join(blank(f"Adult_{i}_Linked_Person_ID") for i in (1, 2, 3))
    return f"({cv('Client_Type')} = 'unpaid carer known by association' AND {links})"


@cell_rule("direct_payment_in_prison")
def direct_payment_in_prison(ctx: CellContext) -> str:
    """A direct payment for a person in prison (service type or accommodation)."""
    return (
        f"({cv('Delivery_Mechanism')} = 'direct payment' AND ({cv('Service_Type')} LIKE '%prison%' OR "
        f"{cv('Accommodation_Status')} LIKE 'prison%'))"
    )


def linked_count_sql() -> str:
    return " + ".join(
        f"CASE WHEN {blank(f'Adult_{i}_Linked_Person_ID')} THEN 0 ELSE 1 END" for i in (1, 2, 3)
    )


@cell_rule("fewer_adults_than_links")
def fewer_adults_than_links(ctx: CellContext) -> str:
    """No. of adults being cared for is below the number of linked person IDs."""
    return (
        f"(regexp_full_match({ctx.value}, '{INTEGER_REGEX}') AND TRY_CAST({ctx.value} AS DOUBLE) >= 0 AND "
        f"TRY_CAST({ctx.value} AS DOUBLE) < ({linked_count_sql()}))"
    )


# Rule types that look only at the cell's own value. `value_ok_sql` is true exactly when none of them fails,
# so
# the scan runs them only on the few cells that are not ok.
VALUE_RULES = frozenset(
    {
        "not_in_list",
        "list_case",
        "release1",
        "processing_value",
        "date_format",
        "date_year_range",
        "date_real",
        "number_format",
        "decimal_places",
        "whole_number",
        "not_negative",
        "nhs_format",
        "nhs_placeholder",
        "nhs_check_digit",
        "postcode_format",
    }
)


def value_ok_sql(f: Field) -> str | None:
    """SQL true when a non-blank value passes every value rule of its field (None: the field has none)."""
    raw = col(f.column)
    if f.defined_list:
        return f"({list_class(f.column)} IN ({LIST_CLASS['valid']}, {LIST_CLASS['unverified']}))"
    if f.type == "date":
        return f"({dte(f.column)} IS NOT NULL)"
    if f.type == "decimal":
        return f"regexp_full_match({raw}, '[0-9]{{1,16}}(\\.[0-9]{{0,2}})?|\\.[0-9]{{1,2}}')"
    if f.type == "integer":
        return f"regexp_full_match({raw}, '[0-9]{{1,18}}')"
    if f.column == "NHS_Number":
        return f"({NHS_NUM} NOT IN ({_PLACEHOLDER_NUMBERS}) AND {nhs_check_digit_ok_sql(NHS_NUM)})"
    if f.column == "Postcode":
        return postcode_valid_sql(raw)
    return None


# List fields whose folded Release 2 value (`cv__X`) the cell rules above use, besides the status drivers.
CV_COLUMNS = ("Client_Type", "Event_Type", "Delivery_Mechanism", "Service_Type", "Accommodation_Status")

# Rule types implemented outside this module (kind: where).
RULE_KINDS: Mapping[str, str] = {
    "transport": "transport",
    "nhs_test_range": "file",
    "period_shape": "file",
    "stated_period_wider": "file",
    "duplicate_row": "set",
    "duplicate_event": "set",
    "person_conflict": "set",
    "linked_person_missing": "set",
    "event_reference_reused": "set",
    "events_disappeared": "compare",
    "financial_year_reset": "compare",
    "open_services_missing": "compare",
    "person_details_changed": "compare",
    "event_counts_changed": "compare",
    "partial_file": "compare",
    "previous_unusable": "compare",
}


def cell_sql(check: Check, column: str, spec: Spec) -> str:
    """The SQL of one cell check applied to one column."""
    try:
        rule = CELL_RULES[check.rule]
    except KeyError:
        raise KeyError(f"checks.csv {check.id}: no cell rule type called {check.rule!r}") from None
    return rule(CellContext(check, column, spec))
