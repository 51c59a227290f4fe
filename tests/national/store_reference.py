"""An independent plain-Python reference of what `ascld national ingest` stores for each submitted row.

Written from the documents alone, before reading src/ascld/national/ingest.py or src/ascld/identity/:

* docs/national-store.md: "Stored columns" (the contract), "Pseudonymisation and the key", "Tracing: the
  demographic index", "Postcode lookup";
* docs/validate.md: "Dates", "Numbers, lists, identity" (what blank, a date and an NHS number are);
* shared/methodology/main-tables.md §0 (the age formula, SQL Server semantics), §1 (the raw table), §5.5;
* shared/spec/README.md §3 (NULL text), §6.2 (value rules), §8 (the Der_ fields), §10.8 (conversation flags).

The only library function used is the pseudonym itself (`Pseudonymiser.pseudonym(value, domain)`); which value
is pseudonymised, how it is normalised and in which domain is decided here.

Where the documents leave a point open, the decision is a named flag below (reported with the test).
"""

from __future__ import annotations

import csv
import datetime as dt
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ascld.identity import Pseudonymiser

# ---- decisions on points the documents leave open ---------------------------------------------------------

# A cell is blank when empty, only white space, or the text NULL in any case, also with spaces around it
# (validate.md "Blank means empty, only white space, or the literal text NULL (any case)").
BLANK_NULL_TEXT_WITH_SPACES = True
# Pass-through text is stored "as submitted": spaces around a non-blank value and its case are kept.
PASS_THROUGH_KEEPS_SPACES = True
# A date is stored only when written exactly dd/mm/yyyy and real (validate.md "Dates", C007/C008); a real
# dd/mm/yyyy date that fails a later check (year outside 1900-2099, C009; in the future; end before start) is
# still that date and is kept: "anything else becomes NULL" names the format only.
DATE_KEEPS_YEARS_OUTSIDE_1900_2099 = True
# Unit Cost / Planned units per week: a plain number (optional leading minus, digits, one optional decimal
# point: validate.md "Numbers"); an exponent, currency sign, thousands separator, NaN or infinity is
# unparseable. Spaces around the number do not make it unparseable (SQL Server's conversion trims them).
NUMBER_TRIMS_SPACES = True
# More than two decimals and negative amounts are failed by the validator (C011, C012) but stored as the
# submitted number (neither rounded nor made positive).
NUMBER_KEPT_AS_SUBMITTED = True
# No. of adults being cared for: a whole number is written with digits only (optional leading minus), spaces
# around allowed; '2.0' is not a whole number as written (SQL Server TRY_CAST('2.0' AS INT) is NULL); a value
# outside the 32-bit range is NULL.
WHOLE_NUMBER_DIGITS_ONLY = True
# NHS placeholders are all-same-digit numbers and 1234567890 / 0123456789 (validate.md C015).
NHS_PLACEHOLDERS = frozenset({d * 10 for d in "0123456789"} | {"1234567890", "0123456789"})
# Postcodes: white space anywhere is ignored (the directory and the index are "any spacing"); the inward
# code is the last three characters; the outward code is a UK outward code.
POSTCODE_IGNORES_WHITE_SPACE = True
# ZZ99 pseudo-postcodes get no sector but are looked up in the directory like any postcode.
PSEUDO_POSTCODES_LOOKED_UP = True
# A "real county" in the directory: a non-blank oscty that is not a pseudo code (E99999999, W99999999 ...).
REAL_COUNTY = re.compile(r"^(?![A-Z]99999999$)[A-Z][0-9]{8}$")
# Trace: a gender outside Male/Female/Other/Unknown (and M/F/1/2/0/9), e.g. 'Not stated'. "unknown" (ascld's
# decision, docs/national-store.md "Tracing"): it says nothing about the person's gender, so it is read as
# Unknown, compatible with either; "value": a value of its own, compatible only with Other/Unknown (the rule
# read literally); "missing": no gender, so No match.
UNRECOGNISED_GENDER = "unknown"
# Trace: the given name is normalised as the family name (upper case, accents stripped, letters only).
GIVEN_NAME_NORMALISED_AS_FAMILY = True
# Conversation flags: "conversation 1" / "conversation one" / "first conversation" as whole words (so
# "Conversation 10" is not the first conversation), white space between the words of any length; with
# CONVERSATION_1_WORDS_MAY_TOUCH "Conversation1" (no space, as case-system templates write it) names it too.
CONVERSATION_1_WORDS_MAY_TOUCH = True
CONVERSATION_1 = re.compile(
    r"\bconversation" + (r"\s*" if CONVERSATION_1_WORDS_MAY_TOUCH else r"\s+") + r"(?:1|one)\b"
    r"|\bfirst\s+conversation\b",
    re.IGNORECASE,
)
# Record ids of the first import of a new store are 1, 2, 3 ... in source row order.
RECORD_IDS_START_AT_ONE = True

TRACE_MATCH, TRACE_POTENTIAL, TRACE_NONE, TRACE_MANY = "Match", "Potential match", "No match", "Many matches"

# ---- columns --------------------------------------------------------------------------------------------

PASS_THROUGH = (
    "Gender", "Ethnicity", "GP_Practice_Name", "GP_Practice_Code", "Client_Type", "Primary_Support_Reason",
    "Accommodation_Status", "Employment_Status", "Has_Unpaid_Carer", "Autism_Spectrum_Disorder_ASD",
    "Visual_Impairment", "Hearing_Impairment", "Dementia", "Client_Funding_Status", "Event_Type",
    "Event_Outcome", "Request_Route_of_Access", "Assessment_Type", "Eligible_Needs_Identified",
    "Method_of_Assessment", "Total_Hrs_Caring_per_week", "Service_Type", "Service_Component",
    "Delivery_Mechanism", "Provider_CQC_Location_Name", "Provider_CQC_Location_ID", "Review_Reason",
    "Review_Outcomes_Achieved", "Method_of_Review", "Cost_Frequency_Unit_Type",
)
DROPPED = ("NHS_Number", "First_Name", "Last_Name", "Date_of_Birth", "Postcode", "Event_Description",
           "Event_Reference")
LINKED = ("Adult_1_Linked_Person_ID", "Adult_2_Linked_Person_ID", "Adult_3_Linked_Person_ID")
POSTCODE_AREAS = {  # stored column -> directory column(s), first present wins
    "Der_Postcode_LSOA_Code": ("lsoa21",),
    "Der_Postcode_MSOA_Code": ("msoa21",),
    "Der_Postcode_yr2011_LSOA": ("lsoa11",),
    "Der_Postcode_yr2011_MSOA": ("msoa11",),
    "Der_Postcode_Electoral_Ward": ("osward",),
    "Der_Postcode_District_Unitary_Authority": ("oslaua",),
    "Der_Postcode_Constituency_Code": ("pcon",),
    "Der_Postcode_CCG_Code": ("sicbl", "ccg"),
}
# column -> Arrow type name as stored (national-store.md "Stored columns": int is 32-bit as in the main
# tables' contract, national_store_schema()).
TEXT, DATE, INT, DOUBLE = "string", "date32[day]", "int32", "double"
STORED_TYPES: dict[str, str] = {
    "LA_Code": TEXT, "LA_Name": TEXT, "ImportDate": "timestamp[ms]", "ImportFileId": TEXT,
    "Reporting_Period_Start_Date": DATE, "Reporting_Period_End_Date": DATE,
    "Der_NHS_Number_Pseudo": TEXT, "Der_NHS_Number_Traced_Pseudo": TEXT, "Der_DBS_Check_Status": TEXT,
    "LA_Person_Unique_Identifier": TEXT, "Der_LA_Person_Unique_Identifier_Pseudo": TEXT,
    **{c: TEXT for c in LINKED}, **{f"Der_{c}_Pseudo": TEXT for c in LINKED},
    "Der_Birth_Year": INT, "Der_Birth_Month": INT,
    "Der_Age_Event_Start_Date": INT, "Der_Age_Reporting_Period_End_Date": INT,
    "Der_Postcode_Sector": TEXT, **{c: TEXT for c in POSTCODE_AREAS}, "Der_Postcode_Local_Authority": TEXT,
    "Date_of_Death": DATE, "Event_Start_Date": DATE, "Event_End_Date": DATE,
    "Unit_Cost": DOUBLE, "Planned_units_per_week": DOUBLE, "No_of_adults_being_cared_for": INT,
    "Der_Conversation": INT, "Der_Conversation_1": INT, "Der_Unique_Record_ID": "int64",
    **{c: TEXT for c in PASS_THROUGH},
}
STORED_COLUMNS = tuple(STORED_TYPES)

# ---- cell rules -----------------------------------------------------------------------------------------


def is_blank(value: str | None) -> bool:
    """Empty, only white space, or the text NULL (any case)."""
    if value is None or value.strip() == "":
        return True
    text = value.strip() if BLANK_NULL_TEXT_WITH_SPACES else value
    return text.upper() == "NULL"


def text(value: str | None) -> str | None:
    """A pass-through text cell: as submitted; blank and NULL text become NULL."""
    if is_blank(value):
        return None
    return value if PASS_THROUGH_KEEPS_SPACES else value.strip()


DATE_SHAPE = re.compile(r"^([0-9]{2})/([0-9]{2})/([0-9]{4})$")


def date(value: str | None) -> dt.date | None:
    """A date written exactly dd/mm/yyyy that exists; anything else NULL."""
    if value is None:
        return None
    m = DATE_SHAPE.match(value)
    if not m:
        return None
    day, month, year = (int(g) for g in m.groups())
    if not DATE_KEEPS_YEARS_OUTSIDE_1900_2099 and not 1900 <= year <= 2099:
        return None
    try:
        return dt.date(year, month, day)
    except ValueError:
        return None


PLAIN_NUMBER = re.compile(r"^-?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)$")
WHOLE_NUMBER = re.compile(r"^-?[0-9]+$")


def number(value: str | None) -> float | None:
    if is_blank(value):
        return None
    assert value is not None
    v = value.strip() if NUMBER_TRIMS_SPACES else value
    if not PLAIN_NUMBER.match(v):
        return None
    x = float(v)
    if not NUMBER_KEPT_AS_SUBMITTED:
        x = abs(round(x, 2))
    return x


def whole_number(value: str | None) -> int | None:
    if is_blank(value):
        return None
    assert value is not None
    v = value.strip()
    if WHOLE_NUMBER_DIGITS_ONLY:
        if not WHOLE_NUMBER.match(v):
            return None
        n = int(v)
    else:
        x = number(v)
        if x is None or x != int(x):
            return None
        n = int(x)
    return n if -(2**31) <= n < 2**31 else None


def nhs_digits(value: str | None) -> str | None:
    """The 10 digits of a valid NHS number (spaces and hyphens removed), else None."""
    if value is None:
        return None
    digits = value.replace(" ", "").replace("-", "")
    if not re.fullmatch(r"[0-9]{10}", digits) or digits in NHS_PLACEHOLDERS:
        return None
    check = 11 - sum(int(d) * w for d, w in zip(digits[:9], range(10, 1, -1), strict=True)) % 11
    if check == 11:
        check = 0
    if check == 10 or check != int(digits[9]):
        return None
    return digits


def person_id(value: str | None) -> str | None:
    """An LA person ID or linked ID as it is pseudonymised: upper case, surrounding spaces removed."""
    if is_blank(value):
        return None
    assert value is not None
    return value.strip(" ").upper()


def age(dob: dt.date | None, on: dt.date | None) -> int | None:
    """FLOOR(DATEDIFF(DAY, proxy DOB, date) / 365.25), proxy DOB on the 1st of the birth month."""
    if dob is None or on is None:
        return None
    days = (on - dob.replace(day=1)).days
    return (days * 4) // 1461  # floor(days / 365.25) in exact integer arithmetic


OUTWARD = r"[A-Z]{1,2}[0-9][A-Z0-9]?"
POSTCODE = re.compile(rf"^({OUTWARD})([0-9][A-Z]{{2}})$")


def postcode_key(value: str | None) -> str | None:
    """Upper case without white space, or None for a blank."""
    if is_blank(value):
        return None
    assert value is not None
    return re.sub(r"\s+", "", value).upper() if POSTCODE_IGNORES_WHITE_SPACE else value.strip().upper()


def postcode_sector(value: str | None) -> str | None:
    key = postcode_key(value)
    if key is None:
        return None
    m = POSTCODE.match(key)
    if not m or m.group(1).startswith("ZZ99"):
        return None
    return f"{m.group(1)} {m.group(2)[0]}"


def conversation(desc: str | None) -> tuple[int | None, int | None]:
    if is_blank(desc):
        return None, None
    assert desc is not None
    return int("conversation" in desc.lower()), int(bool(CONVERSATION_1.search(desc)))


# ---- the demographic index and the trace ----------------------------------------------------------------


def name_key(value: str | None) -> str:
    """Upper case, accents stripped, letters only ('' when nothing is left)."""
    if value is None:
        return ""
    decomposed = unicodedata.normalize("NFKD", value)
    return "".join(c for c in decomposed if not unicodedata.combining(c) and c.isalpha()).upper()


GENDERS = {"MALE": "M", "M": "M", "1": "M", "FEMALE": "F", "F": "F", "2": "F",
           "OTHER": "X", "UNKNOWN": "X", "0": "X", "9": "X"}


def gender_key(value: str | None) -> str | None:
    """M, F, X (Other/Unknown: compatible with anything), another value as written, or None (missing)."""
    if is_blank(value):
        return None
    assert value is not None
    g = GENDERS.get(value.strip().upper())
    if g is None and UNRECOGNISED_GENDER == "value":
        return "?" + value.strip().upper()
    if g is None and UNRECOGNISED_GENDER == "unknown":
        return "X"
    return g


@dataclass(frozen=True)
class IndexPerson:
    nhs: str
    family: str
    given: str
    dob: dt.date
    gender: str | None
    postcode: str | None


def read_index(path: Path) -> list[IndexPerson]:
    people = []
    with path.open(newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            nhs = nhs_digits((r["nhs_number"] or "").replace(" ", ""))
            if nhs is None:
                continue  # rows without a valid number are ignored
            people.append(IndexPerson(
                nhs=nhs, family=name_key(r["family_name"]), given=name_key(r["given_name"]),
                dob=dt.date.fromisoformat(r["date_of_birth"]), gender=gender_key(r["gender"]),
                postcode=postcode_key(r["postcode"]),
            ))
    return people


def trace(index: list[IndexPerson], row: dict[str, str]) -> tuple[str, str | None]:
    """(outcome, traced NHS number or None) for one submitted row (national-store.md "Tracing")."""
    dob = date(row["Date_of_Birth"])
    nhs = nhs_digits(row["NHS_Number"])
    if nhs is not None and dob is not None:
        for p in index:
            if p.nhs == nhs and p.dob == dob:
                return TRACE_MATCH, p.nhs
    family = name_key(row["Last_Name"]) if not is_blank(row["Last_Name"]) else ""
    gender = gender_key(row["Gender"])
    if not family or dob is None or gender is None:
        return TRACE_NONE, None
    candidates = [
        p for p in index
        if p.family == family and p.dob == dob and (p.gender == gender or "X" in (p.gender, gender))
    ]
    if not candidates:
        return TRACE_NONE, None
    given = name_key(row["First_Name"]) if not is_blank(row["First_Name"]) else ""
    if not GIVEN_NAME_NORMALISED_AS_FAMILY:
        given = (row["First_Name"] or "").strip().upper()
    postcode = postcode_key(row["Postcode"])
    agreeing = [p for p in candidates if postcode is not None and p.postcode == postcode]
    pool, found = (agreeing, TRACE_MATCH) if agreeing else (candidates, TRACE_POTENTIAL)
    if len(pool) > 1:
        pool = [p for p in pool if given and p.given == given]
        if len(pool) != 1:
            return TRACE_MANY, None
    return found, (pool[0].nhs if found == TRACE_MATCH else None)


# ---- the postcode directory -----------------------------------------------------------------------------


@dataclass
class Directory:
    areas: dict[str, dict[str, str | None]] = field(default_factory=dict)


def read_directory(path: Path) -> Directory:
    """The ONSPD-layout CSV: one row per normalised postcode, a live row (no doterm) winning a tie."""
    out = Directory()
    live: dict[str, bool] = {}
    with path.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        for r in reader:
            key = postcode_key(r.get("pcds") or r.get("pcd7") or r.get("pcd8") or r.get("pcd"))
            if key is None:
                continue
            is_live = not (r.get("doterm") or "").strip()
            if key in out.areas and (live[key] or not is_live):
                continue
            values: dict[str, str | None] = {}
            for stored, sources in POSTCODE_AREAS.items():
                values[stored] = next((r[s] or None for s in sources if s in r), None)
            county = (r.get("oscty") or "").strip()
            values["Der_Postcode_Local_Authority"] = (
                county if REAL_COUNTY.match(county) else values["Der_Postcode_District_Unitary_Authority"]
            )
            out.areas[key] = values
            live[key] = is_live
    return out


def postcode_areas(directory: Directory, value: str | None) -> dict[str, str | None]:
    empty = dict.fromkeys([*POSTCODE_AREAS, "Der_Postcode_Local_Authority"])
    key = postcode_key(value)
    if key is None:
        return empty
    if not PSEUDO_POSTCODES_LOOKED_UP and key.startswith("ZZ99"):
        return empty
    return directory.areas.get(key, empty)


# ---- one row --------------------------------------------------------------------------------------------


def expected_rows(
    rows: list[dict[str, str]],
    *,
    pseudonymiser: Pseudonymiser,
    index: list[IndexPerson] | None,
    directory: Directory,
    la_names: dict[str, str],
    import_date: dt.datetime,
    import_file_id: str = "00000001",
    first_record_id: int = 1,
) -> list[dict[str, Any]]:
    """The stored row of every submitted row, in source order."""
    out = []
    for n, row in enumerate(rows):
        la = row["LA_Code"].strip()
        domain = f"la_person:{la}"

        def pid(v: str | None, domain: str = domain) -> str | None:
            key = person_id(v)
            return None if key is None else pseudonymiser.pseudonym(key, domain)

        def nhs_pseudo(digits: str | None) -> str | None:
            return None if digits is None else pseudonymiser.pseudonym(digits, "nhs")

        dob = date(row["Date_of_Birth"])
        period_end = date(row["Reporting_Period_End_Date"])
        start = date(row["Event_Start_Date"])
        outcome, traced = trace(index, row) if index is not None else (None, None)
        conv, conv1 = conversation(row["Event_Description"])
        e: dict[str, Any] = {
            "LA_Code": la,
            "LA_Name": la_names.get(la, la),
            "ImportDate": import_date,
            "ImportFileId": import_file_id,
            "Reporting_Period_Start_Date": date(row["Reporting_Period_Start_Date"]),
            "Reporting_Period_End_Date": period_end,
            "Der_NHS_Number_Pseudo": nhs_pseudo(nhs_digits(row["NHS_Number"])),
            "Der_NHS_Number_Traced_Pseudo": nhs_pseudo(traced),
            "Der_DBS_Check_Status": outcome,
            "LA_Person_Unique_Identifier": pid(row["LA_Person_Unique_Identifier"]),
            "Der_LA_Person_Unique_Identifier_Pseudo": pid(row["LA_Person_Unique_Identifier"]),
            "Der_Birth_Year": dob.year if dob else None,
            "Der_Birth_Month": dob.month if dob else None,
            "Der_Age_Event_Start_Date": age(dob, start),
            "Der_Age_Reporting_Period_End_Date": age(dob, period_end),
            "Der_Postcode_Sector": postcode_sector(row["Postcode"]),
            **postcode_areas(directory, row["Postcode"]),
            "Date_of_Death": date(row["Date_of_Death"]),
            "Event_Start_Date": start,
            "Event_End_Date": date(row["Event_End_Date"]),
            "Unit_Cost": number(row["Unit_Cost"]),
            "Planned_units_per_week": number(row["Planned_units_per_week"]),
            "No_of_adults_being_cared_for": whole_number(row["No_of_adults_being_cared_for"]),
            "Der_Conversation": conv,
            "Der_Conversation_1": conv1,
            "Der_Unique_Record_ID": first_record_id + n,
        }
        for c in LINKED:
            e[c] = pid(row[c])
            e[f"Der_{c}_Pseudo"] = pid(row[c])
        for c in PASS_THROUGH:
            e[c] = text(row[c])
        out.append(e)
    return out
