"""A plain, row-by-row reference implementation of the national main-tables method (main-tables.md).

Written from shared/methodology/main-tables.md alone, step by step, to check the real build against
(test_main_tables_differential.py). It is deliberately slow and literal: lists of dicts, loops, no SQL.
Every function cites the section it follows.

The raw -> cleaned mapping tables are not published (§5.1), so they are an input here: `mappings` maps a
field name to {raw value: cleaned value}; `groupings` maps a field to {cleaned value: grouped value}.
Where the method is silent and ascld documented a choice (docs/main-tables.md, "ascld's own choices"), the
reference follows that documented choice and says so.
"""

from __future__ import annotations

import datetime as dt
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

Row = dict[str, Any]

# §3.1: files with known major issues (configurable data).
EXCLUDED_IMPORTS = (dt.datetime(2026, 4, 23, 13, 28, 24, 253000),)

# §5.1: REF_Event_Outcome_Hierarchy_R2.
OUTCOME_HIERARCHY = {
    "Progress to reablement/ST-Max": 1,
    "Progress to assessment, review or reassessment": 2,
    "Release 1 specification only: Not mapped": 3,
    "Progress to support planning or services": 4,
    "Continuation of support or services": 5,
    "Admitted to hospital": 6,
    "NFA: Responsibility moved to another local authority": 7,
    "NFA: Referral to NHS services or NHS funded social care": 8,
    "NFA: Self-funded client or under 12wk disregard": 9,
    "NFA: Information and advice or signposting": 10,
    "NFA: Referral to other service within the local authority": 11,
    "NFA: Support declined": 12,
    "NFA: Deceased": 13,
    "NFA: Support ended as planned": 14,
    "NFA: Support ended for other reason": 15,
    "NFA: No services offered for other reason": 16,
    "NFA: Other": 17,
}

FIRST_PASS = ("Gender", "Ethnicity", "Service_Type", "Event_Outcome", "Review_Reason")
GROUPED = ("Ethnicity", "Service_Type", "Event_Outcome")
# §5.1 second pass, with the output spelling of §6.3 (store column -> output stem).
SECOND_PASS = {
    "Client_Funding_Status": "Client_Funding_Status",
    "Client_Type": "Client_Type",
    "Delivery_Mechanism": "Delivery_Mechanism",
    "Assessment_Type": "Assessment_Type",
    "Hearing_Impairment": "Hearing_Impairment",
    "Method_of_Assessment": "Method_of_Assessment",
    "Method_of_Review": "Method_of_Review",
    "Primary_Support_Reason": "Primary_Support_Reason",
    "Request_Route_of_Access": "Request_Route_of_Access",
    "Review_Outcomes_Achieved": "Review_Outcomes_Achieved",
    "Accommodation_Status": "Accommodation_Status",
    "Cost_Frequency_Unit_Type": "Cost_Frequency_Unit_Type",
    "Employment_Status": "Employment_Status",
    "Service_Component": "Service_Component",
    "Total_Hrs_Caring_per_week": "Total_Hrs_Caring_per_week",
    "Visual_Impairment": "Visual_Impairment",
}

# §6.3, in order.
OUTPUT_COLUMNS = [
    "LA_Code",
    "LA_Name",
    "Ref_Period_Start_Date",
    "Ref_Period_End_Date",
    "GP_Practice_Name",
    "GP_Practice_Code",
    "Gender_Raw",
    "Gender_Cleaned",
    "Ethnicity_Raw",
    "Ethnicity_Cleaned",
    "Ethnicity_Grouped",
    "Date_of_Death",
    "Client_Type_Raw",
    "Client_Type_Cleaned",
    "Primary_Support_Reason_Raw",
    "Primary_Support_Reason_Cleaned",
    "Accommodation_Status_Raw",
    "Accommodation_Status_Cleaned",
    "Employment_Status_Raw",
    "Employment_Status_Cleaned",
    "Has_Unpaid_Carer",
    "Autism_Spectrum_Disorder_ASD",
    "Visual_Impairment_Raw",
    "Visual_Impairment_Cleaned",
    "Hearing_Impairment_Raw",
    "Hearing_Impairment_Cleaned",
    "Dementia",
    "Client_Funding_Status_Raw",
    "Client_Funding_Status_Cleaned",
    "Event_Type",
    "Event_Start_Date",
    "Event_End_Date_Raw",
    "Der_Event_End_Date",
    "Der_Unique_Event_Ref",
    "Event_Outcome_Raw",
    "Event_Outcome_Cleaned",
    "Event_Outcome_Hierarchy",
    "Event_Outcome_Grouped",
    "Request_Route_of_Access_Raw",
    "Request_Route_of_Access_Cleaned",
    "Der_Conversation",
    "Der_Conversation_1",
    "Assessment_Type_Raw",
    "Assessment_Type_Cleaned",
    "Eligible_Needs_Identified",
    "Method_of_Assessment_Raw",
    "Method_of_Assessment_Cleaned",
    "Total_Hrs_Caring_per_week_Raw",
    "Total_Hrs_Caring_per_week_Cleaned",
    "No_of_adults_being_cared_for",
    "Adult_1_Linked_Person_ID",
    "Adult_2_Linked_Person_ID",
    "Adult_3_Linked_Person_ID",
    "Service_Type_Raw",
    "Service_Type_Cleaned",
    "Service_Type_Grouped",
    "Service_Component_Raw",
    "Service_Component_Cleaned",
    "Delivery_Mechanism_Raw",
    "Delivery_Mechanism_Cleaned",
    "Provider_CQC_Location_Name",
    "Provider_CQC_Location_ID",
    "Unit_Cost",
    "Cost_Frequency_Unit_Type_Raw",
    "Cost_Frequency_Unit_Type_Cleaned",
    "Planned_Units_Per_Week",
    "Review_Reason_Raw",
    "Review_Reason_Cleaned",
    "Review_Type",
    "Review_Outcomes_Achieved_Raw",
    "Review_Outcomes_Achieved_Cleaned",
    "Method_of_Review_Raw",
    "Method_of_Review_Cleaned",
    "Der_DBS_Check_Status",
    "Der_NHS_Number_Pseudo",
    "Der_NHS_Number_Traced_Pseudo",
    "LA_Person_Unique_Identifier",
    "Der_NHS_LA_Combined_Person_ID",
    "Der_Birth_Year",
    "Der_Birth_Month",
    "Der_Age_Event_Start_Date",
    "Der_Age_Reporting_Period_End_Date",
    "Der_Latest_Age",
    "Der_Age_Band",
    "Der_Working_Age_Band",
    "Der_Postcode_Sector",
    "Der_Postcode_Constituency_Code",
    "Der_Postcode_District_Unitary_Authority",
    "Der_Postcode_Electoral_Ward",
    "Der_Postcode_Local_Authority",
    "Der_Postcode_CCG_Code",
    "Der_Postcode_LSOA_Code",
    "Der_Postcode_MSOA_Code",
    "Der_Postcode_yr2011_LSOA",
    "Der_Postcode_yr2011_MSOA",
    "Der_Unique_Record_ID",
    "ImportFileId",
    "ImportDate",
]
COST_COLUMNS = (
    "Unit_Cost",
    "Cost_Frequency_Unit_Type_Raw",
    "Cost_Frequency_Unit_Type_Cleaned",
    "Planned_Units_Per_Week",
)


# ---- §0 SQL Server behaviours ---------------------------------------------------------------------------


def ci(value: str | None) -> str | None:
    """§0: the key a case-insensitive collation compares: case folded, trailing spaces ignored by `=`."""
    if value is None:
        return None
    return value.rstrip(" ").lower()


def eq(a: str | None, b: str | None) -> bool:
    """§0 `a = b`: false when either side is NULL."""
    if a is None or b is None:
        return False
    return ci(a) == ci(b)


def contains(value: str | None, part: str) -> bool | None:
    """§0 `value LIKE '%part%'`, case-insensitive; None (unknown) for NULL."""
    if value is None:
        return None
    return part.lower() in value.lower()


def starts(value: str | None, part: str) -> bool | None:
    """§0 `value LIKE 'part%'`, case-insensitive; None (unknown) for NULL."""
    if value is None:
        return None
    return value.lower().startswith(part.lower())


def first_of_month(d: dt.date) -> dt.date:
    return dt.date(d.year, d.month, 1)


def eomonth(d: dt.date) -> dt.date:
    """§0 EOMONTH(d)."""
    nxt = dt.date(d.year + 1, 1, 1) if d.month == 12 else dt.date(d.year, d.month + 1, 1)
    return nxt - dt.timedelta(days=1)


def add_months(d: dt.date, n: int) -> dt.date:
    """§0 DATEADD(MONTH, n, d): calendar shift clamped to the end of the target month."""
    index = d.year * 12 + (d.month - 1) + n
    year, month = divmod(index, 12)
    last = eomonth(dt.date(year, month + 1, 1)).day
    return dt.date(year, month + 1, min(d.day, last))


def midnight(d: dt.date) -> dt.datetime:
    return dt.datetime(d.year, d.month, d.day)


def floor_age(dob: dt.date, at: dt.date) -> int:
    """§0 FLOOR(DATEDIFF(DAY, dob, at) / 365.25), exactly: floor(4 * days / 1461)."""
    days = (at - dob).days
    return (4 * days) // 1461


def round2(value: Any) -> Decimal | None:
    """§6 conversion to NUMERIC(18,2): round half away from zero (a double is read as its shortest decimal
    text, the choice documented in docs/main-tables.md)."""
    if value is None:
        return None
    d = value if isinstance(value, Decimal) else Decimal(repr(float(value)))
    return d.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)


# ---- §2 reporting periods --------------------------------------------------------------------------------


def file_key(row: Row) -> tuple:
    """§1: a submission is (LA_Code, LA_Name, ImportDate), compared case-insensitively (§0)."""
    return (ci(row["LA_Code"]), ci(row["LA_Name"]), row["ImportDate"])


def reporting_periods(raw: list[Row]) -> dict[tuple, dict[str, Any]]:
    """§2, per submission: stated MIN/MAX and the derived period."""
    files: dict[tuple, list[Row]] = {}
    for row in raw:
        files.setdefault(file_key(row), []).append(row)
    out = {}
    for key, rows in files.items():
        starts_ = [r["Reporting_Period_Start_Date"] for r in rows if r["Reporting_Period_Start_Date"] is not None]
        ends_ = [r["Reporting_Period_End_Date"] for r in rows if r["Reporting_Period_End_Date"] is not None]
        imported = rows[0]["ImportDate"]
        import_month = dt.date(imported.year, imported.month, 1)
        # §2.2 eligible rows: non-NULL end date before the first day of the import month.
        months: dict[dt.date, list[Row]] = {}
        for r in rows:
            end = r["Event_End_Date"]
            if end is not None and end < import_month:
                months.setdefault(first_of_month(end), []).append(r)
        # §2.3 n_M and types_M (COUNT(DISTINCT Event_Type): NULL is not a value; case-insensitive).
        n = {m: len(rs) for m, rs in months.items()}
        types = {m: len({ci(r["Event_Type"]) for r in rs if r["Event_Type"] is not None}) for m, rs in months.items()}
        # §2.4
        total = sum(n.values())
        most_types = max(types.values()) if types else 0
        # §2.5
        included = []
        for m in months:
            if total >= 100:
                if 100 * n[m] >= 2 * total and types[m] >= most_types - 1:
                    included.append(m)
            else:
                included.append(m)
        # §2.6
        out[key] = {
            "stated_start": min(starts_) if starts_ else None,
            "stated_end": max(ends_) if ends_ else None,
            "der_start": min(included) if included else None,
            "der_end": eomonth(max(included)) if included else None,
            "LA_Name": rows[0]["LA_Name"],
            "LA_Code": rows[0]["LA_Code"],
            "ImportDate": imported,
        }
    return out


# ---- §3 selection ----------------------------------------------------------------------------------------


def get_submissions(
    periods: dict[tuple, dict[str, Any]], s: dt.date, e: dt.date, as_of: dt.date, basis: str, excluded: tuple
) -> list[dict[str, Any]]:
    """§3.1: per LA_Name the latest qualifying file."""
    best: dict[str | None, dict[str, Any]] = {}
    for p in periods.values():
        start, end = (p["der_start"], p["der_end"]) if basis == "derived" else (p["stated_start"], p["stated_end"])
        if start is None or end is None or not (start <= s and end >= e):
            continue
        if not p["ImportDate"] > midnight(e):
            continue
        if not p["ImportDate"].date() <= as_of:
            continue
        if p["ImportDate"] in excluded:
            continue
        name = ci(p["LA_Name"])
        # Ties are arbitrary in the method; the generator never makes them.
        if name not in best or p["ImportDate"] > best[name]["ImportDate"]:
            best[name] = p
    return list(best.values())


def quarters(s: dt.date, e: dt.date) -> list[tuple[dt.date, dt.date]]:
    """§3.3: consecutive 3-month reference periods; a final partial one is dropped."""
    out = []
    r_s = s
    while True:
        r_e = add_months(r_s, 3) - dt.timedelta(days=1)
        if not r_e <= e:
            break
        out.append((r_s, r_e))
        r_s = add_months(r_s, 3)
    return out


def select(raw: list[Row], mode: str, s: dt.date, e: dt.date, as_of: dt.date, basis: str, excluded: tuple):
    """§3.2-§3.3: chosen files -> (Ref_Period_Start_Date, Ref_Period_End_Date)."""
    periods = reporting_periods(raw)
    chosen: dict[tuple, list[tuple[dt.date, dt.date]]] = {}
    windows = [(s, e)] if mode == "single" else quarters(s, e)
    for r_s, r_e in windows:
        for p in get_submissions(periods, r_s, r_e, as_of, basis, excluded):
            chosen.setdefault((ci(p["LA_Name"]), p["ImportDate"]), []).append((r_s, r_e))
    return {key: (min(a for a, _ in qs), max(b for _, b in qs)) for key, qs in chosen.items()}


# ---- §4 events in the reference period ------------------------------------------------------------------


def der_event_end(row: Row) -> dt.date | None:
    """§4.1 the death-corrected end date."""
    dod, start, end = row["Date_of_Death"], row["Event_Start_Date"], row["Event_End_Date"]
    if dod is not None and start is not None and end is not None and start <= dod <= end:
        return dod
    if dod is not None and start is not None and dod > start and end is None:
        return dod
    return end


def in_period(row: Row) -> bool:
    """§4.2-§4.3, against the row's own file's reference period."""
    rs, re_ = row["Ref_Period_Start_Date"], row["Ref_Period_End_Date"]
    start, end, dod = row["Event_Start_Date"], row["Der_Event_End_Date"], row["Date_of_Death"]
    service = contains(row["Event_Type"], "service")
    if service is None:  # NULL event type: neither branch
        return False
    if start is None:
        return False
    if service:
        keep = start <= re_ and (end is None or end >= rs)
    else:
        keep = end is not None and rs <= end <= re_ and start <= re_
    if not keep:
        return False
    return dod is None or (dod >= rs and dod >= start)


# ---- §5 cleaning and derived fields ---------------------------------------------------------------------


def map_value(table: dict[str, str], raw: str | None, fallback: str = "null") -> str | None:
    """§5.1 left join on the raw value (case-insensitive `=`): no match -> NULL.

    `fallback` is ascld's documented `--unmapped` policy for a non-blank raw value in no row (docs/main-tables.md,
    "Mapping tables"): "null" (§5.1 as written), "invalid" (`Invalid and not mapped`) or "keep" (the raw value,
    right-trimmed). A blank raw value matches no row and stays NULL."""
    if raw is None:
        return None
    for k, v in table.items():
        if eq(k, raw):
            return v
    if raw.strip(" ") == "" or fallback == "null":
        return None
    return "Invalid and not mapped" if fallback == "invalid" else raw.rstrip(" ")


def review_type(row: Row) -> str | None:
    """§5.1 Review_Type, the conditions in order (an unknown condition falls through, §0)."""
    reason = row["Review_Reason_Cleaned"]
    is_review = eq(row["Event_Type"], "Review")
    if starts(reason, "Unplanned") and is_review:
        return "Unplanned"
    if starts(reason, "Planned") and is_review:
        return "Planned review of long term support"
    if eq(reason, "Review of short term support") and is_review:
        return "Review of short term support"
    if eq(reason, "Invalid and not mapped") and is_review:
        return "Review Type Unknown"
    if (reason is None or eq(reason, "")) and is_review:
        return None
    not_review = contains(row["Event_Type"], "review")
    if not_review is not None and not not_review:
        return None
    return "Review Type Unknown"


def event_tuple(row: Row) -> tuple:
    """§5.3 the components of the unique event reference (case-insensitive, NULL = NULL).

    An event type matching none of the four gets start, end, client type, person and event type; one matching
    several takes the first of service, request, assessment, review (both ascld's documented choices in
    docs/main-tables.md; the method is silent, and §4/§5.5/§6.2 call every type containing `service` a
    service)."""
    etype = row["Event_Type"]
    base = [row["Event_Start_Date"], ci(row["Client_Type_Raw"]), ci(row["Der_NHS_LA_Combined_Person_ID"]), ci(etype)]
    if contains(etype, "service"):
        return (*base, None, ci(row["Service_Type_Raw"]), ci(row["Service_Component_Raw"]))
    if contains(etype, "request"):
        return (*base, row["Der_Event_End_Date"], ci(row["Request_Route_of_Access_Raw"]))
    if contains(etype, "assessment"):
        return (*base, row["Der_Event_End_Date"], ci(row["Assessment_Type_Raw"]))
    return (*base, row["Der_Event_End_Date"])


def age_band(age: int | None) -> str:
    """§5.5 Der_Age_Band."""
    if age is None:
        return "Unknown"
    for upper, label in (
        (17, "Under 18"),
        (24, "18 to 24"),
        (44, "25 to 44"),
        (64, "45 to 64"),
        (74, "65 to 74"),
        (84, "75 to 84"),
        (94, "85 to 94"),
    ):
        if age <= upper:
            return label
    return "95 and above"


def working_age_band(age: int | None) -> str:
    """§5.5 Der_Working_Age_Band."""
    if age is None:
        return "Unknown"
    if age < 18:
        return "Under 18"
    if age <= 64:
        return "18 to 64"
    return "65 and above"


def latest_age(row: Row) -> int | None:
    """§5.5 Der_Latest_Age from the proxy date of birth (1st of the birth month)."""
    year, month = row["Der_Birth_Year"], row["Der_Birth_Month"]
    if year is None or month is None or not 1 <= month <= 12:
        # NULL month: DATEFROMPARTS gives NULL; a month outside 1-12 gives NULL (ascld's documented choice).
        return None
    dob = dt.date(year, month, 1)
    if contains(row["Event_Type"], "service") and row["Der_Event_End_Date"] is None:
        return floor_age(dob, row["Ref_Period_End_Date"])
    if row["Der_Event_End_Date"] is None:
        return None
    return floor_age(dob, row["Der_Event_End_Date"])


# ---- the whole method ------------------------------------------------------------------------------------


def build_reference(
    raw: list[Row],
    mode: str,
    s: dt.date,
    e: dt.date,
    as_of: dt.date,
    mappings: dict[str, dict[str, str]],
    groupings: dict[str, dict[str, str]],
    fallbacks: dict[str, str] | None = None,
    basis: str = "derived",
    excluded: tuple = EXCLUDED_IMPORTS,
) -> list[Row]:
    """The main table (§2-§6) as a list of dicts with the §6.3 columns."""

    def fallback(field: str) -> str:
        return (fallbacks or {}).get(field, "null")

    # §2-§3
    chosen = select(raw, mode, s, e, as_of, basis, excluded)
    # §3.4 all rows of each chosen file, matched on (LA_Name, ImportDate)
    rows: list[Row] = []
    for r in raw:
        key = (ci(r["LA_Name"]), r["ImportDate"])
        if key in chosen:
            row = dict(r)
            row["Ref_Period_Start_Date"], row["Ref_Period_End_Date"] = chosen[key]
            rows.append(row)

    # §4
    kept = []
    for row in rows:
        row["Event_End_Date_Raw"] = row["Event_End_Date"]
        row["Der_Event_End_Date"] = der_event_end(row)
        if in_period(row):
            kept.append(row)
    rows = kept

    # §5.1 first pass
    for row in rows:
        for field in FIRST_PASS:
            row[f"{field}_Raw"] = row[field]
            row[f"{field}_Cleaned"] = map_value(mappings.get(field, {}), row[field], fallback(field))
        for field in GROUPED:
            cleaned = row[f"{field}_Cleaned"]
            row[f"{field}_Grouped"] = map_value(groupings.get(field, {}), cleaned)
        hierarchy = None
        for spec_value, level in OUTCOME_HIERARCHY.items():
            if eq(row["Event_Outcome_Cleaned"], spec_value):
                hierarchy = level
        row["Event_Outcome_Hierarchy"] = hierarchy
        row["Review_Type"] = review_type(row)

    # §5.2 combined person ID; rows with none of the three are dropped
    kept = []
    for row in rows:
        traced, pseudo, local = (
            row["Der_NHS_Number_Traced_Pseudo"],
            row["Der_NHS_Number_Pseudo"],
            row["LA_Person_Unique_Identifier"],
        )
        if traced is None and pseudo is None and local is None:
            continue
        if traced is not None:
            row["Der_NHS_LA_Combined_Person_ID"] = traced
        elif pseudo is not None:
            row["Der_NHS_LA_Combined_Person_ID"] = pseudo
        else:
            row["Der_NHS_LA_Combined_Person_ID"] = row["LA_Code"] + "_" + local
        kept.append(row)
    rows = kept
    # The raw values of the second-pass fields are needed by §5.3 under their _Raw names.
    for row in rows:
        for field, stem in SECOND_PASS.items():
            row[f"{stem}_Raw"] = row[field]

    # §5.3 the unique event reference: LA code + a number per distinct tuple within the LA code.
    numbers: dict[tuple, int] = {}
    for row in rows:
        key = (ci(row["LA_Code"]), event_tuple(row))
        if key not in numbers:
            numbers[key] = len(numbers) + 1
        row["Der_Unique_Event_Ref"] = f"{row['LA_Code']}_{numbers[key]}"

    # §5.4 cropping (joined tables)
    if mode == "joined":
        last_start: dict[str | None, dt.date] = {}
        for row in rows:
            name = ci(row["LA_Name"])
            if name not in last_start or row["Ref_Period_Start_Date"] > last_start[name]:
                last_start[name] = row["Ref_Period_Start_Date"]
        in_periods = {(ci(row["Der_Unique_Event_Ref"]), row["Ref_Period_Start_Date"]) for row in rows}
        for row in rows:
            prior = row["Ref_Period_Start_Date"] != last_start[ci(row["LA_Name"])]
            end = row["Der_Event_End_Date"]
            if prior and (end is None or end > row["Ref_Period_End_Date"]):
                next_start = row["Ref_Period_End_Date"] + dt.timedelta(days=1)
                if (ci(row["Der_Unique_Event_Ref"]), next_start) not in in_periods:
                    row["Der_Event_End_Date"] = row["Ref_Period_End_Date"]

    # §5.5 ages, then §5.1 second pass
    for row in rows:
        age = latest_age(row)
        row["Der_Latest_Age"] = age
        row["Der_Age_Band"] = age_band(age)
        row["Der_Working_Age_Band"] = working_age_band(age)
        for field, stem in SECOND_PASS.items():
            row[f"{stem}_Cleaned"] = map_value(mappings.get(field, {}), row[field], fallback(field))

    # §6 de-duplication
    for row in rows:
        row["Unit_Cost"] = round2(row["Unit_Cost"])
        row["Planned_Units_Per_Week"] = round2(row["Planned_units_per_week"])

    def partition(row: Row) -> tuple:
        key: tuple = (ci(row["Der_Unique_Event_Ref"]),)
        if mode == "single" and contains(row["Event_Type"], "service"):
            key += (
                ci(row["Delivery_Mechanism_Cleaned"] or ""),
                "" if row["Unit_Cost"] is None else row["Unit_Cost"],
                ci(row["Cost_Frequency_Unit_Type_Cleaned"] or ""),
                "" if row["Planned_Units_Per_Week"] is None else row["Planned_Units_Per_Week"],
            )
        return key

    def better(a: Row, b: Row) -> bool:
        """True when `a` sorts before `b` (§6.1 keys; key 1 is constant in single tables)."""
        keys_a = sort_keys(a)
        keys_b = sort_keys(b)
        return keys_a < keys_b

    def sort_keys(row: Row) -> tuple:
        end = row["Der_Event_End_Date"] or dt.date(9999, 1, 1)
        hierarchy = 999 if row["Event_Outcome_Hierarchy"] is None else row["Event_Outcome_Hierarchy"]
        conversation = row["Der_Conversation"]
        # descending with NULLs last: NULL after every value
        conv_key = (1, 0) if conversation is None else (0, -conversation)
        return (
            -row["Ref_Period_End_Date"].toordinal(),
            -end.toordinal(),
            hierarchy,
            conv_key,
            -row["Der_Unique_Record_ID"],
        )

    winners: dict[tuple, Row] = {}
    for row in rows:
        key = partition(row)
        if key not in winners or better(row, winners[key]):
            winners[key] = row

    columns = [c for c in OUTPUT_COLUMNS if not (mode == "joined" and c in COST_COLUMNS)]
    out = []
    for row in winners.values():
        out.append({c: row[c] for c in columns})
    return out
