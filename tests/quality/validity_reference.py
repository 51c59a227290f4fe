"""An independent, row-by-row reference for the validator's per-cell field status and validity.

Written from the documents alone (shared/spec/README.md §5-§6, shared/spec/cld_fields.yaml ``required``,
shared/spec/cld_defined_lists.yaml ``conventions``, docs/spec.md "Field status rules", docs/validate.md "Dates",
"Numbers, lists, identity" and "Field status and validity", src/ascld/quality/data/checks.csv) and the package's
spec tables read directly as CSV. It deliberately uses none of the project's condition evaluator, SQL generator or
check code: the status rules are written out by hand per field from cld_fields.yaml (with the decisions recorded in
status_rules.csv notes), and the value checks are plain Python.

``reference_codes(rows)`` returns, for each row (a dict of national column name -> cell text as written in the
file), a dict column -> (cond, chk) using the national codes:

cond: 2 Mandatory, 1 Applicable but not mandatory, 0 Not applicable, -1 Undetermined.
chk:  1 Passed: Valid, 0 Passed: Blank, -1 Failed: Blank (mandatory), -2 wrong format, -3 not in the list,
      -4 impossible/out of range, -5 inconsistent with another field, -6 outside the reporting period,
      -7 Failed: Release 1.

Where the documents are ambiguous the choice is a named flag in ``FLAGS`` (documented in docs/validate.md), so a
test can switch it rather than the reference silently following the code under test.
"""

from __future__ import annotations

import csv
import datetime as dt
import gzip
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import ascld.spec

SPEC_DATA = Path(ascld.spec.__file__).parent / "data"

# Decisions where the documents leave room; each is named in docs/validate.md ("Decisions").
FLAGS: dict[str, bool] = {
    # A value written exactly as a Release 1 value is Failed: Release 1 (-7) even when it differs from a Release 2
    # value only in capitals (README §6.2 "A value found only in the Release 1 list -> Failed: Release 1").
    "exact_r1_beats_case_variant": True,
    # Release 1 detection ignores case and surrounding spaces (cld_defined_lists.yaml conventions.matching).
    "r1_case_insensitive": True,
    # Status rules: '=' ignores case and trailing spaces only (docs/spec.md "as on SQL Server"); leading spaces make a
    # driving value unrecognised.
    "status_ignore_leading_spaces": False,
    # ' NULL ' (the text NULL with surrounding white space) is blank.
    "null_with_spaces_is_blank": True,
    # A rule that cannot be decided makes the status Undetermined even when both ways give the same status (a
    # blank Client Type on a request: Primary Support Reason is optional either way). True: Undetermined only
    # when the possible statuses differ.
    "undetermined_only_if_outcomes_differ": False,
    # A blank cell whose status is Undetermined is Passed: Blank (0): only a Mandatory status fails a blank.
    "undetermined_blank_passes": True,
    # An unmappable Release 1 value in a driving field of an incomplete list is kept as written (docs/validate.md
    # "an unknown value is kept as written"); False makes it unrecognised (Undetermined).
    "unmappable_r1_kept_in_incomplete_list": True,
    # Postcodes are judged on their compact form (upper case, white space removed), as national lookups read them;
    # False: only 'AA9A 9AA' with capitals and exactly one space passes.
    "postcode_compact": True,
    # '.5' and '5.' convert to NUMERIC(18,2) and are accepted as numbers.
    "decimal_bare_point": True,
    # '-0' / '-0.00' is not negative (its value is zero).
    "negative_zero_is_negative": False,
    # The out-of-scope checks (C032/C033) read Event Type as the status rules do (case-insensitive, R1 mapped).
    "scope_event_type_normalised": True,
    # Status rules ignore trailing white space of any kind (a tab too), not only spaces.
    "status_trailing_any_whitespace": True,
    # A value of an incomplete list that the rules keep as written is compared with its surrounding white space
    # removed (so ' Financial assessment' is still like 'Financial%').
    "incomplete_list_kept_value_stripped": True,
    # In a list the specification holds only in part, a Release 1 value whose Release 2 equivalent the research did
    # not find (r1_r2_map status 'unknown') may still be a Release 2 value: unverified (a warning, code 1), not
    # Failed: Release 1; a case variant of it fails as a case variant (-3).
    "r1_unknown_mapping_unverified": True,
    # Processing-only values ('Invalid and not mapped') are recognised only when written exactly.
    "processing_value_case_insensitive": False,
    # The negative check (C012) applies to a value well formed for its field: '-1.5' in a count is not a whole
    # number (-2), not a negative count (-4).
    "negative_needs_field_format": True,
    # No. of adults being cared for: at most 18 digits (a whole number that fits a 64-bit integer).
    "integer_max_18_digits": True,
    # NHS numbers: white space of any kind around the number is ignored, besides the spaces and hyphens removed.
    "nhs_strip_surrounding_whitespace": True,
}

BLANK_LABEL = "NULL"


# ------------------------------------------------------------------ spec tables, read directly


def _read(name: str) -> list[dict[str, str]]:
    with open(SPEC_DATA / name, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@dataclass
class ListInfo:
    name: str
    complete: bool
    r2: set[str] = field(default_factory=set)
    r1: set[str] = field(default_factory=set)
    r1_to_r2: dict[str, str] = field(default_factory=dict)  # exact R1 spelling -> R2 value ('' if none known)
    r1_status: dict[str, str] = field(default_factory=dict)  # exact R1 spelling -> mapped/unmappable/unknown


@dataclass
class Spec:
    columns: list[str]
    types: dict[str, str]
    lists: dict[str, ListInfo]  # by column
    processing_values: set[str]


def load_reference_spec(overlay: str | Path | None = None) -> Spec:
    """The spec tables; `overlay` is a CSV `list,value[,r1_value]` (docs/spec.md "Overlay"): for each list it names,
    its values replace the Release 2 list, which then counts as complete; a shipped mapping to a value the overlay
    writes only in other capitals (or with trailing spaces) follows the overlay's spelling, one to a value it does
    not hold is dropped, and an r1_value adds or replaces that Release 1 value's mapping."""
    fields = _read("fields.csv")
    columns = [f["column"] for f in fields]
    types = {f["column"]: f["type"] for f in fields}
    list_of_column = {f["column"]: f["defined_list"] for f in fields if f["defined_list"]}
    infos: dict[str, ListInfo] = {}
    for row in _read("lists.csv"):
        infos[row["list"]] = ListInfo(row["list"], row["r2_complete"] == "true")
    for row in _read("list_values.csv"):
        info = infos[row["list"]]
        if row["release"] == "R2":
            info.r2.add(row["value"])
        else:  # R1 and R1-variant (spellings seen in real Release 1 data)
            info.r1.add(row["value"])
    for row in _read("r1_r2_map.csv"):
        info = infos[row["list"]]
        info.r1.add(row["r1_value"])
        info.r1_to_r2[row["r1_value"]] = row["r2_value"]
        info.r1_status[row["r1_value"]] = row["status"]
    if overlay is not None:
        with open(overlay, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        for name in {r["list"] for r in rows}:
            info = infos[name]
            info.r2 = {r["value"] for r in rows if r["list"] == name}
            info.complete = True
            spelling = {v.rstrip().casefold(): v for v in info.r2}
            for r1, target in info.r1_to_r2.items():
                if info.r1_status.get(r1) == "mapped" and target not in info.r2:
                    if target.rstrip().casefold() in spelling:
                        info.r1_to_r2[r1] = spelling[target.rstrip().casefold()]
                    else:
                        info.r1_to_r2[r1], info.r1_status[r1] = "", "unknown"
        for r in rows:
            info = infos[r["list"]]
            if r.get("r1_value"):
                info.r1.add(r["r1_value"])
                info.r1_to_r2[r["r1_value"]] = r["value"]
                info.r1_status[r["r1_value"]] = "mapped"
    processing = {row["value"] for row in _read("derived_values.csv")}
    lists = {col: infos[name] for col, name in list_of_column.items()}
    return Spec(columns, types, lists, processing)


# ------------------------------------------------------------------ blanks and value checks


def is_blank(value: str | None) -> bool:
    """Blank: empty, only white space, or the literal text NULL in any case (README §3, docs/validate.md)."""
    if value is None:
        return True
    if value.strip() == "":
        return True
    if FLAGS["null_with_spaces_is_blank"]:
        return value.strip().upper() == BLANK_LABEL
    return value.upper() == BLANK_LABEL


DATE_RE = re.compile(r"[0-9]{2}/[0-9]{2}/[0-9]{4}")


def date_code(value: str) -> int:
    """C007 format (-2), C008 real date (-4), C009 year 1900..2099 (-4); 1 when valid."""
    if not DATE_RE.fullmatch(value):
        return -2
    day, month, year = int(value[0:2]), int(value[3:5]), int(value[6:10])
    if year < 1:  # year 0000 has no calendar date in Python; it is out of range either way
        return -4
    try:
        dt.date(year, month, day)
    except ValueError:
        return -4
    if not 1900 <= year <= 2099:
        return -4
    return 1


def parse_date(value: str | None) -> dt.date | None:
    """The date when the value passes every date check, else None."""
    if value is None or is_blank(value) or date_code(value) != 1:
        return None
    return dt.date(int(value[6:10]), int(value[3:5]), int(value[0:2]))


def _plain_number(value: str) -> re.Match[str] | None:
    if FLAGS["decimal_bare_point"]:
        return re.fullmatch(r"(-?)([0-9]*)(?:\.([0-9]*))?", value) if re.search(r"[0-9]", value) else None
    return re.fullmatch(r"(-?)([0-9]+)(?:\.([0-9]+))?", value)


def _is_negative(match: re.Match[str]) -> bool:
    if match.group(1) != "-":
        return False
    if FLAGS["negative_zero_is_negative"]:
        return True
    digits = (match.group(2) or "") + (match.group(3) or "")
    return any(ch != "0" for ch in digits)


def decimal_code(value: str) -> int:
    """Unit Cost, Planned units per week: C010 (-2), C011 (-2), C012 (-4) in checks.csv order."""
    match = _plain_number(value)
    if match is None or len(match.group(2) or "") > 16:
        return -2
    if match.group(3) is not None and len(match.group(3)) > 2:
        return -2
    if _is_negative(match):
        return -4
    return 1


def integer_code(value: str) -> int:
    """No. of adults being cared for: C012 negative (-4) comes before C013 whole number (-2) in checks.csv."""
    max_digits = 18 if FLAGS["integer_max_18_digits"] else 10**6
    whole = re.fullmatch(r"(-?)([0-9]+)", value)
    if whole and len(whole.group(2)) <= max_digits:
        return -4 if _is_negative(re.fullmatch(r"(-?)([0-9]*)(?:\.([0-9]*))?", value)) else 1  # type: ignore[arg-type]
    if not FLAGS["negative_needs_field_format"]:
        match = _plain_number(value)
        if match is not None and _is_negative(match):
            return -4
    return -2  # not a whole number ('-0' is one: zero)


def nhs_code(value: str) -> int:
    """C014 10 digits after removing spaces and hyphens (-2); C015 placeholder (-4); C016 modulus 11 (-4)."""
    digits = value.replace(" ", "").replace("-", "")
    if FLAGS["nhs_strip_surrounding_whitespace"]:
        digits = digits.strip()
    if not re.fullmatch(r"[0-9]{10}", digits):
        return -2
    if len(set(digits)) == 1 or digits in ("1234567890", "0123456789"):
        return -4
    total = sum(int(digits[i]) * (10 - i) for i in range(9))
    check = 11 - total % 11
    if check == 11:
        check = 0
    if check == 10 or check != int(digits[9]):
        return -4
    return 1


# UK postcode format (ONS Postcode Directory / BS 7666): letters allowed in each position of the outward code, and
# the inward code's letters (never C, I, K, M, O or V).
_AREA1 = "[ABCDEFGHIJKLMNOPRSTUWYZ]"  # not Q, V, X
_AREA2 = "[ABCDEFGHKLMNOPQRSTUVWXY]"  # not I, J, Z
_OUTWARD = (
    rf"(?:{_AREA1}[0-9][0-9]?|{_AREA1}{_AREA2}[0-9][0-9]?"  # A9, A99, AA9, AA99
    rf"|{_AREA1}[0-9][ABCDEFGHJKPSTUW]|{_AREA1}{_AREA2}[0-9][ABEHMNPRVWXY])"  # A9A, AA9A
)
_INWARD = "[0-9][ABDEFGHJLNPQRSTUWXYZ]{2}"
POSTCODE_RE = re.compile(rf"{_OUTWARD} {_INWARD}")
PSEUDO_RE = re.compile(r"ZZ99 [0-9][A-Z]{2}")  # NHS pseudo-postcodes (no fixed abode, not known, abroad)


def postcode_code(value: str) -> int:
    """C018: a UK postcode, an NHS pseudo-postcode ZZ99 9AA, or GIR 0AA."""
    text = value
    if FLAGS["postcode_compact"]:
        compact = re.sub(r"\s", "", value).upper()
        text = compact[:-3] + " " + compact[-3:]
    ok = POSTCODE_RE.fullmatch(text) or PSEUDO_RE.fullmatch(text) or text == "GIR 0AA"
    return 1 if ok else -2


def _r1_unverified(value: str, info: ListInfo) -> bool:
    return (
        FLAGS["r1_unknown_mapping_unverified"]
        and not info.complete
        and info.r1_status.get(value, "unknown") == "unknown"
    )


def list_code(value: str, info: ListInfo, processing: set[str]) -> int:
    """Defined lists (README §6.2; checks.csv C002-C006)."""
    folded = value.strip().lower()
    if value in info.r2:
        return 1
    if value in processing or (
        FLAGS["processing_value_case_insensitive"] and folded in {p.lower() for p in processing}
    ):
        return -3
    if FLAGS["exact_r1_beats_case_variant"] and value in info.r1:
        return 1 if _r1_unverified(value, info) else -7
    if folded in {v.lower() for v in info.r2}:
        return -3
    if value in info.r1:
        return 1 if _r1_unverified(value, info) else -7
    if FLAGS["r1_case_insensitive"]:
        for r1 in sorted(info.r1):
            if r1.strip().lower() == folded:
                return -3 if _r1_unverified(r1, info) else -7
    return -3 if info.complete else 1


# ------------------------------------------------------------------ status rules (cld_fields.yaml `required`)

# Three-valued logic: True, False, None (unknown: a driving field blank or unrecognised).


def t_and(*xs: bool | None) -> bool | None:
    if any(x is False for x in xs):
        return False
    if any(x is None for x in xs):
        return None
    return True


def t_or(*xs: bool | None) -> bool | None:
    if any(x is True for x in xs):
        return True
    if any(x is None for x in xs):
        return None
    return False


def t_not(x: bool | None) -> bool | None:
    return None if x is None else not x


def _status_key(value: str) -> str:
    """How the status rules compare a value: case-insensitive, trailing spaces ignored (docs/spec.md)."""
    key = value.rstrip() if FLAGS["status_trailing_any_whitespace"] else value.rstrip(" ")
    if FLAGS["status_ignore_leading_spaces"]:
        key = key.lstrip(" ")
    return key.lower()


def driving_value(value: str | None, info: ListInfo | None) -> str | None:
    """The value the status rules see (lower case), or None when blank or unrecognised.

    Release 1 spellings are mapped to Release 2 (docs/validate.md); for a list held only in part an unknown value is
    kept as written.
    """
    if value is None or is_blank(value):
        return None
    key = _status_key(value)
    if info is None:
        return key
    for r2 in info.r2:
        if _status_key(r2) == key:
            return r2.lower()
    for r1 in sorted(info.r1):
        if _status_key(r1) == key:
            status = info.r1_status.get(r1, "unknown")
            target = info.r1_to_r2.get(r1, "")
            if status == "mapped" and target:
                return target.lower()
            if info.complete:
                return None
            if status == "unmappable" and not FLAGS["unmappable_r1_kept_in_incomplete_list"]:
                return None
            return _kept(value)
    return None if info.complete else _kept(value)


def _kept(value: str) -> str:
    """An unknown value of an incomplete list, as the status rules see it."""
    return value.strip().lower() if FLAGS["incomplete_list_kept_value_stripped"] else _status_key(value)


def eq(x: str | None, *values: str) -> bool | None:
    if x is None:
        return None
    return x in {v.lower() for v in values}


def starts(x: str | None, prefix: str) -> bool | None:
    if x is None:
        return None
    return x.startswith(prefix.lower())


def contains(x: str | None, text: str) -> bool | None:
    if x is None:
        return None
    return text.lower() in x


def age_at_period_end(dob: dt.date | None, rpe: dt.date | None) -> int | None:
    """National derived age: whole days / 365.25, floored (docs/validate.md)."""
    if dob is None or rpe is None:
        return None
    return math.floor((rpe - dob).days / 365.25)


M, A, NA, U = 2, 1, 0, -1
KBA = "Unpaid carer known by association"


def _outcomes(rules: list[tuple[bool | None, int]]) -> set[int]:
    """Every status the rules could give, an undecidable rule counting both ways."""
    for i, (cond, status) in enumerate(rules):
        if cond is None:
            return {status} | _outcomes(rules[i + 1 :])
        if cond:
            return {status}
    raise AssertionError("the last rule is always True")


def first_rule(rules: list[tuple[bool | None, int]]) -> int:
    """Rules tried in order: the first that holds gives the status; one that cannot be decided -> Undetermined
    (docs/spec.md), even where either way would give the same status unless the flag says otherwise."""
    if FLAGS["undetermined_only_if_outcomes_differ"]:
        outcomes = _outcomes(rules)
        return outcomes.pop() if len(outcomes) == 1 else U
    for cond, status in rules:
        if cond is None:
            return U
        if cond:
            return status
    raise AssertionError("the last rule is always True")


def statuses(row: dict[str, str], spec: Spec) -> dict[str, int]:
    def d(col: str) -> str | None:
        return driving_value(row.get(col), spec.lists.get(col))

    ct, et, at = d("Client_Type"), d("Event_Type"), d("Assessment_Type")
    rr, psr, dm = d("Review_Reason"), d("Primary_Support_Reason"), d("Delivery_Mechanism")
    st, sc = d("Service_Type"), d("Service_Component")
    kba = eq(ct, KBA)
    service_user = eq(ct, "Service user")
    carer = eq(ct, "Unpaid carer", KBA)
    financial = t_and(eq(et, "Assessment"), starts(at, "Financial"))
    age = age_at_period_end(parse_date(row.get("Date_of_Birth")), parse_date(row.get("Reporting_Period_End_Date")))
    age_18_64 = None if age is None else 18 <= age <= 64
    dod_present = not is_blank(row.get("Date_of_Death"))
    dm_present = not is_blank(row.get("Delivery_Mechanism"))

    out: dict[str, int] = {}
    always_mandatory = [
        "LA_Code", "Reporting_Period_Start_Date", "Reporting_Period_End_Date", "NHS_Number",
        "LA_Person_Unique_Identifier", "Gender", "Ethnicity", "Date_of_Birth", "Client_Type", "Postcode",
        "Accommodation_Status", "Has_Unpaid_Carer",
    ]  # fmt: skip
    for col in always_mandatory:
        out[col] = M
    # First/Last Name: no national status (cld_fields.yaml 'unknown'); status_rules.csv treats them as optional.
    for col in ("First_Name", "Last_Name", "GP_Practice_Name", "GP_Practice_Code", "Date_of_Death"):
        out[col] = A
    # Mandatory unless a request; KBA rows have no event, and the R1 check leaves them not mandatory.
    out["Primary_Support_Reason"] = first_rule([(kba, A), (eq(et, "Request"), A), (True, M)])
    out["Employment_Status"] = first_rule(
        [(t_and(service_user, age_18_64, eq(psr, "Learning disability support")), M), (True, A)]
    )
    for col in ("Autism_Spectrum_Disorder_ASD", "Visual_Impairment", "Hearing_Impairment", "Dementia"):
        out[col] = first_rule([(service_user, A), (True, NA)])
    out["Client_Funding_Status"] = first_rule(
        [(t_and(service_user, t_or(eq(et, "Service", "Review"), financial)), M), (service_user, A), (True, NA)]
    )
    out["Event_Type"] = first_rule([(kba, NA), (True, M)])
    out["Event_Reference"] = first_rule([(kba, NA), (True, A)])
    out["Event_Start_Date"] = first_rule([(kba, NA), (True, M)])
    out["Event_Description"] = first_rule([(kba, NA), (True, A)])
    out["Event_End_Date"] = first_rule([(kba, NA), (dod_present, M), (eq(et, "Service"), A), (True, M)])
    out["Event_Outcome"] = first_rule([(kba, NA), (financial, A), (True, M)])
    out["Request_Route_of_Access"] = first_rule([(kba, NA), (eq(et, "Request"), M), (True, NA)])
    out["Assessment_Type"] = first_rule([(kba, NA), (eq(et, "Assessment"), M), (True, NA)])
    out["Eligible_Needs_Identified"] = first_rule([(kba, NA), (eq(et, "Assessment"), A), (True, NA)])
    out["Method_of_Assessment"] = first_rule([(kba, NA), (financial, A), (eq(et, "Assessment"), M), (True, NA)])
    for col in ("Total_Hrs_Caring_per_week", "No_of_adults_being_cared_for", "Adult_1_Linked_Person_ID",
                "Adult_2_Linked_Person_ID", "Adult_3_Linked_Person_ID"):  # fmt: skip
        out[col] = first_rule([(carer, A), (True, NA)])
    for col in ("Service_Type", "Service_Component"):
        out[col] = first_rule([(kba, NA), (eq(et, "Service"), M), (True, NA)])
    for col in ("Delivery_Mechanism", "Provider_CQC_Location_Name", "Provider_CQC_Location_ID"):
        out[col] = first_rule([(kba, NA), (eq(et, "Service"), A), (True, NA)])
    for col in ("Review_Reason", "Method_of_Review"):
        out[col] = first_rule([(kba, NA), (eq(et, "Review"), M), (True, NA)])
    out["Review_Outcomes_Achieved"] = first_rule(
        [(kba, NA), (t_and(eq(et, "Review"), starts(rr, "Planned")), M), (eq(et, "Review"), A), (True, NA)]
    )
    # Costs: mandatory on services not delivered as CASSR commissioned support that are long term support, unpaid
    # carer support or short term residential/nursing care or carer respite; a blank delivery mechanism does not
    # make them mandatory (R1 check, status_rules.csv note).
    cost_mandatory = t_and(
        eq(et, "Service"),
        dm_present,
        t_not(contains(dm, "CASSR commissioned support")),
        t_or(
            starts(st, "Long term support"),
            starts(st, "Unpaid carer support"),
            eq(sc, "Short term residential care", "Short term nursing care", "Unpaid carer respite"),
        ),
    )
    for col in ("Unit_Cost", "Cost_Frequency_Unit_Type", "Planned_units_per_week"):
        out[col] = first_rule([(kba, NA), (cost_mandatory, M), (eq(et, "Service"), A), (True, NA)])
    missing = set(spec.columns) - set(out)
    assert not missing, missing
    return out


# ------------------------------------------------------------------ validity


def value_code(col: str, value: str, spec: Spec) -> int:
    kind = spec.types[col]
    if col in spec.lists:
        return list_code(value, spec.lists[col], spec.processing_values)
    if kind == "date":
        return date_code(value)
    if kind == "decimal":
        return decimal_code(value)
    if kind == "integer":
        return integer_code(value)
    if col == "NHS_Number":
        return nhs_code(value)
    if col == "Postcode":
        return postcode_code(value)
    return 1  # free text, IDs and codes of external registers: pattern checks are warnings only


def cross_field_code(col: str, row: dict[str, str], spec: Spec) -> int:
    """The cross-field failures of checks.csv (C030-C039), in its order, for a cell whose own value is valid."""
    es, ee = parse_date(row.get("Event_Start_Date")), parse_date(row.get("Event_End_Date"))
    rps, rpe = parse_date(row.get("Reporting_Period_Start_Date")), parse_date(row.get("Reporting_Period_End_Date"))
    dob, dod = parse_date(row.get("Date_of_Birth")), parse_date(row.get("Date_of_Death"))
    if FLAGS["scope_event_type_normalised"]:
        et = driving_value(row.get("Event_Type"), spec.lists["Event_Type"])
    else:
        raw = row.get("Event_Type")
        et = raw.lower() if raw is not None else None
    if col == "Event_End_Date" and ee is not None:
        if es is not None and ee < es:  # C030
            return -5
        if et in ("request", "assessment", "review") and (
            (rps is not None and ee < rps) or (rpe is not None and ee > rpe)
        ):  # C032
            return -6
        if et == "service" and rps is not None and ee < rps:  # C033
            return -6
    if col == "Event_Start_Date" and es is not None and rpe is not None and es > rpe:  # C031
        return -6
    if col == "Reporting_Period_End_Date" and rpe is not None and rps is not None and rpe < rps:  # C035
        return -5
    if col == "Date_of_Death" and dod is not None and dob is not None and dod < dob:  # C038
        return -5
    if col == "Date_of_Birth" and dob is not None and es is not None and dob > es:  # C039
        return -5
    return 1


def row_codes(row: dict[str, str], spec: Spec) -> dict[str, tuple[int, int]]:
    status = statuses(row, spec)
    out: dict[str, tuple[int, int]] = {}
    for col in spec.columns:
        value = row.get(col)
        cond = status[col]
        if is_blank(value):
            undetermined_fails = cond == U and not FLAGS["undetermined_blank_passes"]
            chk = -1 if cond == M or undetermined_fails else 0
        else:
            assert value is not None
            chk = value_code(col, value, spec)
            if chk == 1:
                chk = cross_field_code(col, row, spec)
        out[col] = (cond, chk)
    return out


def reference_codes(rows: list[dict[str, str]], spec: Spec | None = None) -> list[dict[str, tuple[int, int]]]:
    spec = spec or load_reference_spec()
    return [row_codes(row, spec) for row in rows]


def read_return(path: str | Path) -> list[dict[str, str]]:
    """Rows of a CSV return (Windows-1252) as dicts by national column name; the header is the submitted names."""
    fields = _read("fields.csv")
    by_name = {f["name"]: f["column"] for f in fields}
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "rt", newline="", encoding="cp1252") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        cols = [by_name[h] for h in header]
        return [dict(zip(cols, rec, strict=True)) for rec in reader if rec]
