"""Differential test: the real main-tables build against the plain reference of main_tables_reference.py.

A seeded generator writes messy synthetic stores (several councils and quarters, rolling resubmissions,
overlapping periods, events repeated across files and within a file, mixed case and trailing spaces in code
values, the literal text NULL, blanks, Release 1 values, boundary dates incl. leap days and month ends, deaths
inside and after events, open services, equal sort keys down to the record ID). Both sides build the same
table and every row and column must agree. The reference never calls the code under test.

Raw -> cleaned mapping tables are not published (main-tables.md §5.1); the vocabulary below pairs each value
the generator uses with its cleaned value as stated by main-tables.md (§5.1 lists, §10 correspondences) or by
the specification's Release 2 lists (shared/spec/cld_defined_lists.yaml).
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from main_tables_reference import OUTPUT_COLUMNS, add_months, build_reference

from ascld.national.main_tables import (
    BuildParams,
    build_main_tables,
    national_store_schema,
    store_table_from_records,
)
from conftest import write_store

D, T = dt.date, dt.datetime
STORE_COLUMNS = tuple(national_store_schema().names)
INVALID = "Invalid and not mapped"

# field -> {raw value: cleaned value}; values not listed are "new invalid values" (§5.1).
VOCAB: dict[str, dict[str, str]] = {
    "Gender": {"Male": "Male", "Female": "Female", "Other": "Other", "Unknown": "Unknown"},
    "Ethnicity": {
        "White: Irish": "White: Irish",
        "White - Irish": "White: Irish",
        "Asian or Asian British: Indian": "Asian or Asian British: Indian",
        "Black, Black British, Caribbean or African - African": "Black, Black British, Caribbean or African: African",
        "No data - Undeclared or Not known": "No data: Undeclared or not known",
        "No data: Refused": "No data: Refused",
        "Other ethnic group: Arab": "Other ethnic group: Arab",
        "Mixed or multiple ethnic groups: White and Asian": "Mixed or multiple ethnic groups: White and Asian",
    },
    "Service_Type": {
        "Long term support: Community": "Long term support: Community",
        "Long Term Support: Nursing Care": "Long term support: Nursing care",
        "Long term support: Residential care": "Long term support: Residential care",
        "Short Term Support: ST-Max": "Short term support: ST-Max",
        "Short term support: Ongoing low level": "Short term support: Ongoing low level",
        "Carer Support: Direct to Carer": "Unpaid carer support: Direct to unpaid carer",
    },
    "Event_Outcome": {
        "NFA: Other": "NFA: Other",
        "NFA - Deceased": "NFA: Deceased",
        "NFA: Support declined": "NFA: Support declined",
        "Progress to support planning or services": "Progress to support planning or services",
        "Progress to Reablement/ST-Max": "Progress to reablement/ST-Max",
        "Progress to financial assessment": "Release 1 specification only: Not mapped",
        "Service ended as planned": "NFA: Support ended as planned",
        "Admitted to hospital": "Admitted to hospital",
        "Continuation of support or services": "Continuation of support or services",
    },
    "Review_Reason": {"Review of short term support": "Review of short term support"},
    "Client_Type": {"Service user": "Service user", "Service User": "Service user", "Carer": "Unpaid carer"},
    "Delivery_Mechanism": {
        "Direct payment": "Direct payment",
        "Direct Payment": "Direct payment",
        "CASSR Commissioned Support": "CASSR commissioned support",
        "CASSR managed personal budget": "CASSR managed personal budget",
    },
    "Cost_Frequency_Unit_Type": {"Weekly": "Weekly", "Hourly": "Hourly", "4-weekly": "4-weekly"},
    "Assessment_Type": {
        "Long term assessment": "Long term assessment",
        "Short Term Assessment": "Short term assessment",
    },
    "Service_Component": {
        "Reablement": "Reablement",
        "Home support or domiciliary care": "Home support or domiciliary care",
        "Equipment": "Equipment",
    },
    "Primary_Support_Reason": {
        "Learning disability support": "Learning disability support",
        "Mental health support": "Mental health support",
    },
    "Accommodation_Status": {
        "Registered care home": "Registered care home",
        "Tenant: Private landlord": "Tenant: Private landlord",
    },
    "Employment_Status": {
        "Unknown": "Unknown",
        "Paid: 16 or more hours a week": "Paid: 16 or more hours a week",
    },
    "Client_Funding_Status": {
        "Fully social care funded": "Fully social care funded",
        "Fully Social Care Funded": "Fully social care funded",
    },
    "Visual_Impairment": {"No visual impairment": "No visual impairment"},
    "Hearing_Impairment": {"Hard of hearing": "Hard of hearing"},
    "Review_Outcomes_Achieved": {"Fully met": "Fully met", "Partially Met": "Partially met"},
    "Request_Route_of_Access": {},
    "Method_of_Assessment": {},
    "Method_of_Review": {},
    "Total_Hrs_Caring_per_week": {},
}
# Release 2 lists the specification marks complete (cld_defined_lists.yaml, `r2.complete: true`).
COMPLETE = {
    "Ethnicity",
    "Service_Type",
    "Event_Outcome",
    "Client_Type",
    "Primary_Support_Reason",
    "Accommodation_Status",
    "Employment_Status",
}
# Values not in any mapping row (new invalid values) and other messy text.
JUNK = ("NULL", "Zz made up", "", "  ", "n/a")
EXTRA_RAW = {
    "Review_Reason": ("Planned", "Unplanned - Carer related", "Unplanned - Other Reason", "planned review"),
    "Request_Route_of_Access": ("Discharge from Hospital", "Community / Other route"),
    "Method_of_Assessment": ("Service user only",),
    "Method_of_Review": ("Carer only",),
    "Total_Hrs_Caring_per_week": ("20-49",),
}


def groupings() -> dict[str, dict[str, str]]:
    """§5.1's published grouping tables, for the cleaned values that can occur here."""
    ethnicity = {}
    for cleaned in [*VOCAB["Ethnicity"].values(), INVALID]:
        group = cleaned.split(":")[0]
        ethnicity[cleaned] = {"No data": "No data", "Invalid and not mapped": "Unknown"}.get(group, group)
    service = {c: c.split(":")[0] if ":" in c else "Unknown" for c in [*VOCAB["Service_Type"].values(), INVALID]}
    outcome = {c: "NFA" if c.startswith("NFA:") else c for c in [*VOCAB["Event_Outcome"].values(), INVALID]}
    return {"Ethnicity": ethnicity, "Service_Type": service, "Event_Outcome": outcome}


def fallbacks(policy: str) -> dict[str, str]:
    """What a non-blank raw value in no mapping row becomes. `null` is §5.1 as written (the DHSC tables before
    an analyst adds the value); under ascld's documented `auto` policy (docs/main-tables.md "Mapping tables")
    it is `Invalid and not mapped` for a complete Release 2 list, else the right-trimmed raw value."""
    if policy == "null":
        return {f: "null" for f in VOCAB}
    return {f: "invalid" if f in COMPLETE else "keep" for f in VOCAB}


# ---- the generator ---------------------------------------------------------------------------------------


def messy(rng: random.Random, value: str | None) -> str | None:
    """The same value as councils send it: sometimes upper/lower case or with trailing spaces."""
    if value is None:
        return None
    roll = rng.random()
    if roll < 0.12:
        return value.upper()
    if roll < 0.22:
        return value.lower()
    if roll < 0.32:
        return value + "  "
    if roll < 0.34:
        return " " + value  # a leading space is significant in SQL Server's `=`
    if roll < 0.35:
        return value + "\t"  # so is a trailing tab (RTRIM and `=` ignore spaces only)
    return value


def pick(rng: random.Random, field: str, junk: float = 0.15, none: float = 0.1) -> str | None:
    roll = rng.random()
    if roll < none:
        return None
    if roll < none + junk:
        return rng.choice(JUNK)
    return messy(rng, rng.choice([*VOCAB[field], *EXTRA_RAW.get(field, ())]))


EVENT_TYPES = ("Request", "Assessment", "Service", "Review")
ODD_EVENT_TYPES = (
    "service",
    "REVIEW ",
    "request  ",
    " Review",
    "",
    "  ",
    "NULL",
    None,
    "Referral",
    "Service\t",
    "Service request",
    "Assessment review",
)


def interesting_dates(s: dt.date, e: dt.date) -> list[dt.date]:
    """Quarter and month boundaries (±1 day), leap days and ordinary days around the period."""
    out = {D(2024, 2, 28), D(2024, 2, 29), D(2024, 3, 1), D(2023, 2, 28), D(2025, 2, 28), D(2025, 3, 1)}
    d = D(s.year - 1, s.month, 1)
    while d <= e + dt.timedelta(days=120):
        nxt = D(d.year + (d.month == 12), d.month % 12 + 1, 1)
        out |= {d, d + dt.timedelta(days=1), nxt - dt.timedelta(days=1), nxt - dt.timedelta(days=2), d.replace(day=15)}
        d = nxt
    return sorted(out)


def make_person(rng: random.Random, la: str, n: int) -> dict[str, Any]:
    kind = rng.random()
    year = rng.choice([None, 1926, 1930, 1940, 1950, 1957, 1960, 1961, 1980, 2000, 2006, 2007, 2008])
    return {
        "Der_NHS_Number_Traced_Pseudo": f"T{la}-{n}" if kind < 0.5 else ("" if kind > 0.985 else None),
        "Der_NHS_Number_Pseudo": f"N{la}-{n}" if 0.4 < kind < 0.7 else None,
        "LA_Person_Unique_Identifier": f"p{n}" if kind < 0.9 else ("" if kind < 0.94 else None),
        "Der_Birth_Year": year,
        "Der_Birth_Month": rng.choice([None, 0, 13] if rng.random() < 0.06 else [1, 2, 3, 6, 9, 10, 12]),
        "Gender": pick(rng, "Gender"),
        "Ethnicity": pick(rng, "Ethnicity"),
        "Client_Type": pick(rng, "Client_Type", junk=0.05, none=0.03),
        "Primary_Support_Reason": pick(rng, "Primary_Support_Reason"),
        "Accommodation_Status": pick(rng, "Accommodation_Status"),
        "Employment_Status": pick(rng, "Employment_Status"),
        "Client_Funding_Status": pick(rng, "Client_Funding_Status"),
        "Visual_Impairment": pick(rng, "Visual_Impairment"),
        "Hearing_Impairment": pick(rng, "Hearing_Impairment"),
        "Has_Unpaid_Carer": rng.choice(["Yes", "no ", None]),
        "Dementia": rng.choice(["Yes", "No", None]),
        "GP_Practice_Code": rng.choice(["G1", None]),
        "Der_Postcode_Sector": rng.choice(["AB1 2", None]),
    }


def make_event(rng: random.Random, person: dict[str, Any], dates: list[dt.date], n: int) -> dict[str, Any]:
    etype = rng.choice(EVENT_TYPES) if rng.random() < 0.85 else rng.choice(ODD_EVENT_TYPES)
    etype = messy(rng, etype) if etype in EVENT_TYPES else etype
    start = rng.choice(dates) if rng.random() < 0.95 else None
    is_service = etype is not None and "service" in etype.lower()
    if start is None:
        end = rng.choice(dates)
    elif is_service and rng.random() < 0.55 or rng.random() < 0.05:
        end = None
    else:
        end = start + dt.timedelta(days=rng.choice([0, 0, 1, 13, 27, 29, 31, 59, 90, 91, 92, 200]))
    death = None
    if start is not None and rng.random() < 0.18:
        base = rng.choice([start, end or start])
        death = base + dt.timedelta(days=rng.choice([-1, 0, 0, 1, 5, 40, 400]))
    row = dict(person)
    row.update(
        Event_Type=etype,
        Event_Start_Date=start,
        Event_End_Date=end,
        Date_of_Death=death,
        Event_Outcome=pick(rng, "Event_Outcome"),
        Request_Route_of_Access=pick(rng, "Request_Route_of_Access"),
        Assessment_Type=pick(rng, "Assessment_Type"),
        Method_of_Assessment=pick(rng, "Method_of_Assessment"),
        Service_Type=pick(rng, "Service_Type"),
        Service_Component=pick(rng, "Service_Component"),
        Delivery_Mechanism=pick(rng, "Delivery_Mechanism"),
        Unit_Cost=rng.choice([None, 150.0, 150.004, 150.005, 18.5, 10.0049999, 0.005, 99.995, -1.005, -0.004, 2.675]),
        Cost_Frequency_Unit_Type=pick(rng, "Cost_Frequency_Unit_Type"),
        Planned_units_per_week=rng.choice([None, 1.0, 1.004, 10.0, 2.675]),
        Review_Reason=pick(rng, "Review_Reason", junk=0.1, none=0.15),
        Review_Outcomes_Achieved=pick(rng, "Review_Outcomes_Achieved"),
        Method_of_Review=pick(rng, "Method_of_Review"),
        Total_Hrs_Caring_per_week=pick(rng, "Total_Hrs_Caring_per_week"),
        Der_Conversation=rng.choice([None, 0, 1, 1]),
        Der_Conversation_1=rng.choice([None, 0, 1]),
        Provider_CQC_Location_ID=rng.choice(["1-23", None]),
        Der_Age_Event_Start_Date=rng.choice([None, 44]),
    )
    return row


def filler(rng: random.Random, first: dt.date, last: dt.date, per_month: int, tag: str) -> list[dict[str, Any]]:
    """Closed events ending in each month of [first, last] so the file's derived period (§2) covers it; a
    random month may get very few rows or fewer event types, so the 2 % and T-1 tests of §2.5 bite."""
    rows = []
    d = D(first.year, first.month, 1)
    thin = rng.choice([None, "count", "types"])
    months = []
    while d <= last:
        months.append(d)
        d = D(d.year + (d.month == 12), d.month % 12 + 1, 1)
    thin_month = rng.choice(months[1:-1] if len(months) > 2 and rng.random() < 0.85 else months)
    for m in months:
        count = per_month
        types = EVENT_TYPES
        if m == thin_month and thin == "count":
            count = 1
        if m == thin_month and thin == "types":
            types = ("Request", "Request ", "request")  # one type in any case/spacing
        for i in range(count):
            end = m.replace(day=rng.choice([1, 14, 28]))
            rows.append(
                {
                    "Event_Type": types[i % len(types)],
                    "Event_Start_Date": end - dt.timedelta(days=3),
                    "Event_End_Date": end,
                    "LA_Person_Unique_Identifier": f"F{tag}{m:%y%m}{i}",
                    "Client_Type": "Service user",
                    "Der_Birth_Year": 1970,
                    "Der_Birth_Month": 5,
                }
            )
    return rows


def quarter_ends(s: dt.date, e: dt.date) -> list[dt.date]:
    out = []
    d = s
    while True:
        nxt = D(d.year + (d.month > 9), (d.month + 2) % 12 + 1, 1)
        end = nxt - dt.timedelta(days=1)
        if end > e + dt.timedelta(days=1):
            break
        out.append(end)
        d = nxt
    return out


COUNCILS = (("318", "Northshire"), ("503", "Southby"), ("714", "Westby"))


def make_store(seed: int, s: dt.date, e: dt.date, as_of: dt.date) -> list[dict[str, Any]]:
    """Rolling 12-month quarterly files for three councils with resubmissions and late or excluded files."""
    rng = random.Random(seed)
    dates = interesting_dates(s, e)
    records: list[dict[str, Any]] = []
    used_imports: set[dt.datetime] = set()

    def import_time(day: dt.date, hour: int) -> dt.datetime:
        t = T(day.year, day.month, day.day, hour, rng.randrange(60), rng.randrange(60), rng.randrange(1000) * 1000)
        while t in used_imports:
            t += dt.timedelta(milliseconds=7)
        used_imports.add(t)
        return t

    for la, name in COUNCILS:
        people = [make_person(rng, la, n) for n in range(25)]
        pool: list[dict[str, Any]] = []
        for q, q_end in enumerate(quarter_ends(add_months(s, -6), e)):
            window_start = add_months(q_end + dt.timedelta(days=1), -12)
            new = [make_event(rng, rng.choice(people), dates, n) for n in range(rng.randrange(12, 30))]
            pool += new
            changed = []
            for ev in pool:
                roll = rng.random()
                if roll < 0.1 and ev["Event_End_Date"] is None and ev["Event_Start_Date"] is not None:
                    ev = dict(
                        ev, Event_End_Date=max(ev["Event_Start_Date"], q_end - dt.timedelta(days=rng.randrange(0, 70)))
                    )
                elif roll < 0.2:
                    ev = dict(ev, Event_Outcome=pick(rng, "Event_Outcome"), Der_Conversation=rng.choice([None, 0, 1]))
                elif roll < 0.25:
                    ev = dict(
                        ev,
                        Unit_Cost=rng.choice([None, 150.0, 151.0]),
                        Delivery_Mechanism=pick(rng, "Delivery_Mechanism"),
                    )
                changed.append(ev)
            pool = [
                ev
                for ev in changed
                if (ev["Event_End_Date"] is None or ev["Event_End_Date"] >= window_start - dt.timedelta(days=40))
                and (ev["Event_Start_Date"] is None or ev["Event_Start_Date"] <= q_end + dt.timedelta(days=20))
            ]
            body = list(pool)
            # Some events twice in one file (another outcome or conversation flag).
            body += [
                dict(ev, Der_Conversation=rng.choice([None, 0, 1]), Event_Outcome=pick(rng, "Event_Outcome"))
                for ev in pool
                if rng.random() < 0.12
            ]
            # A carer known by association: no event fields.
            body.append(dict(rng.choice(people), Client_Type="Carer known by association", Event_Type=None))
            per_month = rng.choice([1, 2, 9])  # < 100 or >= 100 eligible events
            rows = filler(rng, window_start, q_end, per_month, f"{la}{q}") + body
            # When the file arrives: usually 5-8 weeks after the quarter; sometimes on the quarter-end day
            # (after midnight counts, §0), exactly at midnight after it, or on/after the as-of date.
            roll = rng.random()
            if roll < 0.1:
                imported = import_time(q_end, 9)
            elif roll < 0.15:
                imported = T(q_end.year, q_end.month, q_end.day)
                if imported in used_imports:
                    imported = import_time(q_end + dt.timedelta(days=3), 10)
                used_imports.add(imported)
            elif roll < 0.2 and q_end + dt.timedelta(days=80) > as_of:
                imported = import_time(as_of + dt.timedelta(days=rng.choice([0, 1])), 23)
            else:
                imported = import_time(q_end + dt.timedelta(days=rng.randrange(20, 40)), rng.randrange(7, 19))
            la_name = name + " Council" if (la == "714" and q >= 6) else name
            if rng.random() < 0.15:
                la_name = name.upper()
            elif rng.random() < 0.1:
                la_name = name + " "
            stamp = {
                "LA_Code": la,
                "LA_Name": la_name,
                "ImportDate": imported,
                "ImportFileId": f"{la}-{q}",
                "Reporting_Period_Start_Date": window_start,
                "Reporting_Period_End_Date": q_end,
            }
            records += [{**r, **stamp} for r in rows]
            if rng.random() < 0.3:  # a few rows of the file spell the council's name in another case (§0, §1)
                for rec in records[-len(rows) :]:
                    if rng.random() < 0.05:
                        rec["LA_Name"] = rng.choice([la_name.upper(), la_name.lower() + "  "])
            if rng.random() < 0.3:  # a resubmission of the same quarter, part of the rows, a few days later
                again = dict(
                    stamp,
                    ImportDate=import_time(imported.date() + dt.timedelta(days=rng.randrange(1, 9)), 11),
                    ImportFileId=f"{la}-{q}b",
                )
                records += [{**r, **again} for r in rows if rng.random() < 0.7]
        if rng.random() < 0.5:
            # A late file covering one quarter only (its derived period is that quarter, §2): it wins that
            # quarter, so the council's earlier file can be chosen for the quarters either side of it and its
            # reference period spans this one (§3.3); cropping (§5.4) then sees overlapping periods.
            q_end = rng.choice(quarter_ends(s, e))
            q_start = add_months(q_end + dt.timedelta(days=1), -3)
            body = [dict(ev) for ev in pool if rng.random() < 0.5]
            for ev in body:
                if ev["Event_End_Date"] is not None and not q_start <= ev["Event_End_Date"] <= q_end:
                    ev["Event_End_Date"] = None if "service" in (ev["Event_Type"] or "").lower() else q_end
            stamp = {
                "LA_Code": la,
                "LA_Name": name,
                "ImportDate": import_time(min(as_of, q_end + dt.timedelta(days=rng.randrange(60, 200))), 8),
                "ImportFileId": f"{la}-patch",
                "Reporting_Period_Start_Date": q_start,
                "Reporting_Period_End_Date": q_end,
            }
            records += [{**r, **stamp} for r in filler(rng, q_start, q_end, 1, f"{la}p") + body]
    # The excluded file (§3.1) when the period reaches it.
    bad = T(2026, 4, 23, 13, 28, 24, 253000)
    if e < bad.date() <= as_of:
        rows = filler(rng, D(2025, 4, 1), D(2026, 3, 31), 1, "bad")
        records += [
            {
                **r,
                "LA_Code": "503",
                "LA_Name": "Southby",
                "ImportDate": bad,
                "ImportFileId": "bad",
                "Reporting_Period_Start_Date": D(2025, 4, 1),
                "Reporting_Period_End_Date": D(2026, 3, 31),
            }
            for r in rows
        ]
    # Record IDs: unique, in a random order (larger = loaded later, but not in file order).
    ids = rng.sample(range(1, 10 * len(records) + 1), len(records))
    for rec, rid in zip(records, ids, strict=True):
        rec["Der_Unique_Record_ID"] = rid
    return records


# ---- the comparison --------------------------------------------------------------------------------------


def normal(value: Any) -> Any:
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, Decimal):
        return value.normalize() if value != 0 else Decimal(0)
    return value


def differences(actual: list[dict], expected: list[dict], columns: list[str]) -> list[str]:
    out: list[str] = []
    by_id_a = {r["Der_Unique_Record_ID"]: r for r in actual}
    by_id_e = {r["Der_Unique_Record_ID"]: r for r in expected}
    if len(by_id_a) != len(actual):
        out.append("the build output repeats a Der_Unique_Record_ID")

    def brief(r: dict) -> str:
        keys = (
            "LA_Name",
            "ImportFileId",
            "Event_Type",
            "Event_Start_Date",
            "Event_End_Date_Raw",
            "Der_Event_End_Date",
            "Date_of_Death",
            "Ref_Period_Start_Date",
            "Der_NHS_LA_Combined_Person_ID",
        )
        return ", ".join(f"{k}={r.get(k)!r}" for k in keys)

    for rid in sorted(by_id_e.keys() - by_id_a.keys()):
        out.append(f"missing from the build: record {rid}: {brief(by_id_e[rid])}")
    for rid in sorted(by_id_a.keys() - by_id_e.keys()):
        out.append(f"extra in the build: record {rid}: {brief(by_id_a[rid])}")
    for rid in sorted(by_id_a.keys() & by_id_e.keys()):
        a, e = by_id_a[rid], by_id_e[rid]
        for c in columns:
            if c == "Der_Unique_Event_Ref":
                continue
            if normal(a.get(c)) != normal(e.get(c)):
                out.append(f"record {rid} column {c}: build {a.get(c)!r}, reference {e.get(c)!r} ({brief(e)})")

    # §5.3: only equality of references matters; compare the grouping of output rows and the LA prefix.
    def groups(rows: list[dict]) -> set[frozenset]:
        g: dict[str, set] = {}
        for r in rows:
            g.setdefault(r["Der_Unique_Event_Ref"], set()).add(r["Der_Unique_Record_ID"])
        return {frozenset(v) for v in g.values()}

    if groups(actual) != groups(expected):
        out.append(
            "rows share Der_Unique_Event_Ref differently: "
            + repr(sorted(map(sorted, groups(actual) ^ groups(expected)))[:5])
        )
    for r in actual:
        if not str(r["Der_Unique_Event_Ref"]).startswith(f"{r['LA_Code']}_"):
            out.append(f"record {r['Der_Unique_Record_ID']}: reference {r['Der_Unique_Event_Ref']!r} lacks the LA code")
    return out


def write_decimal_store(folder, records: list[dict[str, Any]]):
    """The store with Unit_Cost and Planned_units_per_week as DECIMAL(18,7), which the contract allows (a
    text or DECIMAL column on SQL Server); values are the submitted decimals."""
    table = store_table_from_records(records)
    for column in ("Unit_Cost", "Planned_units_per_week"):
        values = [None if v is None else Decimal(repr(v)) for v in table.column(column).to_pylist()]
        index = table.schema.get_field_index(column)
        table = table.set_column(index, column, pa.array(values, pa.decimal128(18, 7)))
    folder.mkdir(parents=True)
    pq.write_table(table, folder / "part-0.parquet")
    return folder


CASES = [
    # (seed, mode, period start, period end, as of, unmapped policy, costs as DECIMAL, period basis)
    (11, "joined", D(2024, 4, 1), D(2025, 9, 30), D(2025, 11, 5), "null", False, "derived"),
    # files chosen on their stated periods (§3.1 'Stated' mode)
    (12, "single", D(2024, 10, 1), D(2025, 9, 30), D(2025, 11, 5), "null", True, "stated"),
    (13, "joined", D(2024, 4, 1), D(2026, 3, 31), D(2026, 5, 5), "auto", True, "derived"),
    (21, "single", D(2025, 4, 1), D(2026, 3, 31), D(2026, 5, 5), "auto", False, "derived"),
    # a period that starts on a month end: quarters shift with DATEADD's clamping (§0, §3.3)
    (15, "joined", D(2024, 5, 31), D(2025, 11, 29), D(2026, 1, 5), "auto", False, "derived"),
]


@pytest.mark.parametrize(("seed", "mode", "start", "end", "as_of", "policy", "decimal", "basis"), CASES)
def test_build_matches_the_plain_reference(tmp_path, duck, seed, mode, start, end, as_of, policy, decimal, basis):
    records = make_store(seed, start, end, as_of)
    for n, rec in enumerate(records):
        rec.setdefault("Der_Unique_Record_ID", n + 1)
    raw = [{c: r.get(c) for c in STORE_COLUMNS} for r in records]
    if decimal:
        store = write_decimal_store(tmp_path / "store", records)
        for r in raw:
            for column in ("Unit_Cost", "Planned_units_per_week"):
                r[column] = None if r[column] is None else Decimal(repr(r[column]))
    else:
        store = write_store(tmp_path / "store", records)
    params = BuildParams(mode, start, end, as_of, basis=basis, unmapped=policy)
    result = build_main_tables(store, params, con=duck, keep_tables=True, hash_inputs=False)
    actual = result.tables["main_table"].to_pyarrow().to_pylist()
    expected = build_reference(raw, mode, start, end, as_of, VOCAB, groupings(), fallbacks(policy), basis=basis)
    columns = [c for c in OUTPUT_COLUMNS if c in expected[0]] if expected else list(OUTPUT_COLUMNS)
    assert len(expected) > 100, "the generator should give a rich table"
    assert list(actual[0]) == columns, "output columns differ from §6.3"
    diffs = differences(actual, expected, columns)
    assert not diffs, f"{len(diffs)} differences:\n" + "\n".join(diffs[:40])


# ---- regressions found by the differential test -----------------------------------------------------------


def test_one_file_is_one_submission_whatever_the_case_of_its_la_name(build):
    """§1/§0: a submission is (LA_Code, LA_Name, ImportDate) under a case-insensitive collation that ignores
    trailing spaces, so GROUP BY in §2 sees one file even when some of its rows spell the council's name in
    another case. Here only the October row says "WESTBY "; grouped apart, neither part's derived period would
    cover 2024-10-01..2025-09-30 and the council would have no file. One row a month, so N < 100 and every
    month is included (§2.5): derived period 2024-10-01..2025-09-30, the file is chosen and its twelve requests
    (each ending inside the period, distinct people) are all in the table."""
    rows = []
    for k in range(12):
        month = add_months(D(2024, 10, 1), k)
        rows.append(
            {
                "LA_Code": "714",
                "LA_Name": "WESTBY " if k == 0 else "Westby",
                "ImportDate": T(2025, 10, 20, 10, 0, 0),
                "ImportFileId": "W1",
                "Event_Type": "Request",
                "Event_Start_Date": month,
                "Event_End_Date": month.replace(day=10),
                "LA_Person_Unique_Identifier": f"w{k}",
            }
        )
    actual, _ = build(rows, "single", D(2024, 10, 1), D(2025, 9, 30), D(2025, 11, 5))
    assert len(actual) == 12
    assert {r["Ref_Period_Start_Date"] for r in actual} == {D(2024, 10, 1)}


def test_an_event_type_naming_a_service_and_a_request_is_a_service_event(build):
    """§5.3 lists the components per event type but not for a type matching two of the patterns of §1. §4, §5.5
    and §6.2 decide "service or not" by LIKE '%service%' alone, so ascld (docs/main-tables.md, "ascld's own
    choices") reads such a row as a service in §5.3 too: its reference ignores the end date. The same package
    sent open and then closed in one file is then one event, and §6.2 keeps the open row (NULL end first)."""
    base = {
        "LA_Code": "318",
        "LA_Name": "Northshire",
        "ImportDate": T(2025, 10, 20, 10, 0, 0),
        "ImportFileId": "N1",
        "Event_Type": "Service request",
        "Event_Start_Date": D(2025, 1, 6),
        "LA_Person_Unique_Identifier": "s1",
        "Service_Type": "Long term support: Community",
        "Service_Component": "Home support or domiciliary care",
    }
    rows = [
        dict(base, Event_End_Date=None, Der_Unique_Record_ID=1),
        dict(base, Event_End_Date=D(2025, 6, 30), Der_Unique_Record_ID=2),
    ]
    # Twelve one-a-month requests so the file's derived period is 2024-10..2025-09 (§2.5, N < 100).
    for k in range(12):
        month = add_months(D(2024, 10, 1), k)
        rows.append(
            {
                **{c: base[c] for c in ("LA_Code", "LA_Name", "ImportDate", "ImportFileId")},
                "Event_Type": "Request",
                "Event_Start_Date": month,
                "Event_End_Date": month.replace(day=10),
                "LA_Person_Unique_Identifier": f"r{k}",
                "Der_Unique_Record_ID": 100 + k,
            }
        )
    actual, _ = build(rows, "single", D(2024, 10, 1), D(2025, 9, 30), D(2025, 11, 5))
    services = [r for r in actual if r["Event_Type"] == "Service request"]
    assert [(r["Der_Unique_Record_ID"], r["Der_Event_End_Date"]) for r in services] == [(1, None)]
