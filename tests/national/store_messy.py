"""A seeded generator of messy CLD returns, with a demographic index and a postcode directory, for the store
differential test (test_store_differential.py).

Every value is synthetic: NHS numbers in the 999 test range (from `make_nhs_number`), invented names, invented
postcodes in the made-up ZX area (plus ZZ99 pseudo-postcodes). Each row's cells are drawn from variants a
council's extract could hold: spaces around values, other case, the text NULL, blanks, NHS numbers that are
placeholders or fail the check digit, dates in other shapes or impossible, numbers written oddly.
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from ingest_fixtures import blank_row

from ascld.identity import make_nhs_number

D = dt.date
PERIOD_START, PERIOD_END = D(2024, 4, 1), D(2025, 3, 31)
IMPORT_DATE = dt.datetime(2025, 5, 12, 9, 30, 15, 123000)

GIVEN = ["Olwen", "Rhys", "Siân", "Tomasz", "Zainab", "Kwame", "Ngozi", "Hamish", "Mirela", "Nuala", "Oisín",
         "Roisin", "Søren", "Chloë"]
FAMILY = ["Pritchard", "Kowalski", "O'Neill", "Thornton", "Llewellyn-Jones", "Rahman", "Nuñez",
          "Nguyen", "Ó Briain", "Vaughan", "Hargreaves", "Quigley", "Müller", "Ogunleye"]
# Postcodes of the made-up directory: outward codes of 3 and 4 characters.
POSTCODES = [f"ZX{d} {i}{a}" for d in (1, 2, 14) for i in (1, 2) for a in ("WT", "UX", "RS")]
UNKNOWN_POSTCODES = ["ZX9 9QQ", "ZY12 3AB", "ZX1A 2WT"]
PSEUDO_POSTCODES = ["ZZ99 3VZ", "ZZ99 3WZ"]
TERMINATED_ONLY = "ZX3 1AA"  # only a terminated row in the directory
TWICE = "ZX3 2BB"  # a terminated and a live row with different areas
DESCRIPTIONS = ["Conversation", "CONVERSATION 1", "first conversation", "conversation one", "conversations",
                "Conversation 10", "Home visit", "conversation 1 with family", "Conversation  1",
                "second conversation", "  ", "NULL", "", "Phone call about the first conversation",
                "reconversation", "conversation 11", "Conversation one-off", "Conversation1", "\t"]
UNIT_COSTS = ["12.345", " 12", "1e3", "-5", "123.45", "", "NULL", "£12.50", "NaN", ".5", "1,200", "Infinity",
              "12.", "0", "7.10", "null", " 99.99 ", "12.5.1", "1 000", "0012.50", "-0.75", "1_000", "0x10"]
ADULTS = ["2.0", " 3 ", "1", "", "NULL", "2.5", "-1", "99999999999", "two", "0", "07", "1e1", "0x10", "1_0",
          ".5", "3.", "0b11"]
TEXT_VALUES = {
    "Ethnicity": ["White: Irish", "Asian or Asian British: Indian", "Other ethnic group: Arab"],
    "Client_Type": ["Service user"],
    "Accommodation_Status": ["Registered care home", "Tenant"],
    "Has_Unpaid_Carer": ["No", "Yes"],
    "Primary_Support_Reason": ["Physical support: Personal care support", "Learning disability support"],
    "GP_Practice_Code": ["Y12345", "X99999"],
    "GP_Practice_Name": ["Riverside Surgery", "The Elms Practice"],
    "Event_Outcome": ["NFA: Other", "Progress to support planning or services"],
    "Employment_Status": ["Retired", "Unemployed and seeking work"],
    "Client_Funding_Status": ["Fully funded by the local authority"],
    "Dementia": ["Yes", "No"],
}


@dataclass
class Person:
    nhs: str
    first: str
    last: str
    dob: D
    gender: str
    postcode: str
    la_pid: str


def without_accents(value: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", value) if not unicodedata.combining(c))


def messy_text(rng: random.Random, value: str, p: float = 0.35) -> str:
    """The value, or with probability p one of its messy variants."""
    if rng.random() > p:
        return value
    return rng.choice([f" {value} ", f"{value}  ", value.lower(), value.upper(), "NULL", "null", " NULL ", "",
                       "   ", f"\t{value}"])


def fmt(d: D) -> str:
    return d.strftime("%d/%m/%Y")


def messy_date(rng: random.Random, d: D, p: float = 0.2) -> str:
    if rng.random() > p:
        return fmt(d)
    return rng.choice([
        f"{d.day}/{d.month}/{d.year}", d.isoformat(), f" {fmt(d)}", f"{fmt(d)} ", "31/02/2024", "30/02/2025",
        "29/02/2023", "00/01/2025", "01/13/2024", d.strftime("%d/%m/%y"), d.strftime("%d-%m-%Y"),
        f"{fmt(d)} 00:00", "NULL", "", "12/05/2026", "01/01/1890", "31/12/2099",
    ])


def messy_nhs(rng: random.Random, nhs: str) -> str:
    if rng.random() < 0.55:
        return nhs
    bad = nhs[:9] + str((int(nhs[9]) + 1) % 10)
    return rng.choice([
        f"{nhs[:3]} {nhs[3:6]} {nhs[6:]}", f"{nhs[:3]}-{nhs[3:6]}-{nhs[6:]}", f" {nhs} ", f"{nhs}  ",
        "0000000000", "9999999999", "1234567890", "0123456789", bad, nhs[:9], "", "NULL", "null",
        f"{nhs[:3]} {nhs[3:6]}-{nhs[6:]}",
    ])


def messy_postcode(rng: random.Random, pc: str) -> str:
    if rng.random() < 0.5:
        return pc
    return rng.choice([
        pc.lower(), pc.replace(" ", ""), f" {pc} ", pc.replace(" ", "   "), pc.lower().replace(" ", ""),
        *PSEUDO_POSTCODES, "zz993vz", *UNKNOWN_POSTCODES, "ZX1", "12345", "ZX1 1WTT", "Z 1WT", "", "NULL",
        TERMINATED_ONLY, TWICE.lower(),
    ])


def birth_date(rng: random.Random) -> D:
    kind = rng.random()
    year = rng.randrange(1925, 2008)
    if kind < 0.15:
        return D(year, rng.randrange(1, 13), 1)
    if kind < 0.3:
        m = rng.randrange(1, 13)
        return (D(year + (m == 12), m % 12 + 1, 1)) - dt.timedelta(days=1)
    if kind < 0.4:
        return D(rng.choice([1940, 1948, 1952, 1960, 2004, 2008]), 2, 29)
    if kind < 0.6:  # 18 or 65 within a few days or months of the period end / an event
        years = rng.choice([18, 65])
        anchor = PERIOD_END if rng.random() < 0.5 else PERIOD_START + dt.timedelta(days=rng.randrange(0, 360))
        d = anchor - dt.timedelta(days=round(years * 365.25) + rng.randrange(-45, 45))
        return d
    return D(year, 1, 1) + dt.timedelta(days=rng.randrange(0, 365))


@dataclass
class Messy:
    rows: list[dict[str, str]]
    index_rows: list[list[str]]
    lookup_rows: list[dict[str, str]]
    lookup_columns: list[str]
    la_code: str
    la_names: dict[str, str]


def make_messy(seed: int, n_people: int = 45) -> Messy:
    rng = random.Random(seed)
    la = ["503", "714", "318"][seed % 3]
    la_written = f" {la} " if seed % 4 == 1 else la
    people: list[Person] = []
    stem = 5000 + seed * 1000
    while len(people) < n_people:
        stem += 1
        nhs = make_nhs_number(stem)
        if not nhs:
            continue
        people.append(Person(
            nhs=nhs, first=rng.choice(GIVEN), last=rng.choice(FAMILY), dob=birth_date(rng),
            gender=rng.choice(["Male", "Female"]), postcode=rng.choice(POSTCODES + [TWICE, TERMINATED_ONLY]),
            la_pid=f"p{la}-{len(people):04d}x",
        ))

    index_rows: list[list[str]] = []

    def index_row(p: Person, nhs: str | None = None, **changes: str) -> None:
        row = {"nhs_number": nhs or p.nhs, "family_name": p.last, "given_name": p.first,
               "date_of_birth": p.dob.isoformat(), "gender": p.gender, "postcode": p.postcode,
               "date_of_death": rng.choice(["", "", "", "2024-09-30"])}  # read, not used by the trace
        row.update(changes)
        index_rows.append(list(row.values()))

    def other_nhs() -> str:
        nonlocal stem
        while True:
            stem += 1
            n = make_nhs_number(stem)
            if n:
                return n

    # Each person's place in the index decides their trace outcome (together with the messy cells).
    as_submitted: list[Person] = []
    for p in people:
        kind = rng.random()
        if kind < 0.45:  # in the index as submitted, with other case/spacing
            as_submitted.append(p)
            index_row(p, nhs=rng.choice([p.nhs, f"{p.nhs[:3]} {p.nhs[3:6]} {p.nhs[6:]}", f" {p.nhs} "]),
                      family_name=rng.choice([p.last, p.last.upper(), p.last.lower(), f" {p.last} ",
                                              without_accents(p.last).upper()]),
                      given_name=rng.choice([p.first, p.first.upper(), without_accents(p.first).lower()]),
                      postcode=rng.choice([p.postcode, p.postcode.lower().replace(" ", "")]),
                      gender=rng.choice([p.gender, p.gender[0], {"Male": "1", "Female": "2"}[p.gender]]))
        elif kind < 0.55:  # in the index under another NHS number (the submitted one is unknown)
            index_row(p, nhs=other_nhs(), family_name=p.last.upper().replace("'", "").replace("-", " "))
        elif kind < 0.63:  # in the index, elsewhere now (postcode disagrees or unknown): potential match
            index_row(p, nhs=other_nhs(), postcode=rng.choice(POSTCODES + [""]))
        elif kind < 0.73:  # a twin with the same family name and date of birth: many matches / given decides
            index_row(p, nhs=other_nhs())
            twin_first = rng.choice([p.first, rng.choice(GIVEN)])
            index_row(p, nhs=other_nhs(), given_name=twin_first,
                      postcode=rng.choice([p.postcode, rng.choice(POSTCODES)]), gender=rng.choice(["Unknown",
                                                                                                   p.gender]))
        elif kind < 0.78:  # the index holds the number with another date of birth
            index_row(p, date_of_birth=(p.dob + dt.timedelta(days=rng.choice([-1, 31, 365]))).isoformat())
        elif kind < 0.82:  # the index row has an invalid number (ignored)
            index_row(p, nhs=p.nhs[:9] + str((int(p.nhs[9]) + 1) % 10))
        elif kind < 0.86:  # another gender in the index
            index_row(p, gender={"Male": "Female", "Female": "Male"}[p.gender])
        # else: not in the index at all (no match)
    # Decoys: other people of the index.
    for _ in range(10):
        q = Person(other_nhs(), rng.choice(GIVEN), rng.choice(FAMILY), birth_date(rng), rng.choice(["Male", "F"]),
                   rng.choice(POSTCODES), "")
        index_row(q)

    rows: list[dict[str, str]] = []
    for p in people:
        for _k in range(rng.choice([1, 1, 2, 3])):
            rows.append(_row(rng, p, la_written))
    # Carers with linked IDs (spaces, case) of service users in the file.
    for i in range(8):
        carer = people[rng.randrange(len(people))]
        linked = rng.sample(people, 3)
        r = _row(rng, carer, la_written)
        known_by_association = i % 2 == 0
        if known_by_association:
            for c in ("Event_Type", "Event_Start_Date", "Event_End_Date", "Event_Description", "Event_Outcome",
                      "Unit_Cost", "Planned_units_per_week", "Service_Type", "Service_Component",
                      "Event_Reference"):
                r[c] = ""
        r["Client_Type"] = "Unpaid carer known by association" if known_by_association else "Unpaid carer"
        for c, q in zip(("Adult_1_Linked_Person_ID", "Adult_2_Linked_Person_ID", "Adult_3_Linked_Person_ID"),
                        linked, strict=True):
            r[c] = rng.choice([q.la_pid, f" {q.la_pid} ", q.la_pid.upper(), f"{q.la_pid}  ", "", "NULL"])
        r["No_of_adults_being_cared_for"] = rng.choice(ADULTS)
        r["Total_Hrs_Caring_per_week"] = messy_text(rng, "20-49", 0.4)
        rows.append(r)
    rows += probe_rows(rng, as_submitted, people, la_written)
    rows += [dict(r) for r in rng.sample(rows, 2)]  # exact duplicate rows are stored as rows of their own
    rng.shuffle(rows)

    lookup_columns = ["pcd7", "pcd8", "pcds", "dointr", "doterm", "oslaua", "osward", "pcon", "lsoa11",
                      "msoa11", "lsoa21", "msoa21", "ctry", "rgn"]
    lookup_columns += ["oscty", "sicbl"] if seed % 2 else ["ccg"]
    if seed % 4 == 3:  # an extract without pcds: the postcode comes from pcd7 (ZX141WT) or pcd8
        lookup_columns.remove("pcds")
    if seed % 4 == 0:  # an older directory without the 2021 areas: their columns are NULL
        lookup_columns.remove("lsoa21")
        lookup_columns.remove("msoa21")
    lookup: list[dict[str, str]] = []

    def lookup_row(pc: str, i: int, doterm: str = "") -> None:
        outward, inward = pc.split(" ")
        values = {
            "pcd7": outward.ljust(4) + inward if len(outward) < 4 else outward + inward,
            "pcd8": outward.ljust(5) + inward, "pcds": pc, "dointr": "199001", "doterm": doterm,
            "oslaua": f"E0600{i % 4:04d}", "osward": f"E0500{i:04d}", "pcon": f"E1400{i % 2:04d}",
            "lsoa11": f"E0101{i:04d}", "msoa11": f"E0201{i:04d}", "lsoa21": f"E0102{i:04d}",
            "msoa21": f"E0202{i:04d}", "ctry": "E92000001", "rgn": "E12000001",
            "oscty": ["E10000023", "E99999999", "", "E10000024"][i % 4], "sicbl": f"E38{i:06d}",
            "ccg": f"E38{i:06d}",
        }
        lookup.append({c: values[c] for c in lookup_columns})

    for i, pc in enumerate(POSTCODES):
        lookup_row(pc, i)
    lookup_row(TERMINATED_ONLY, 40, doterm="201204")
    lookup_row(TWICE, 41, doterm="200906")
    lookup_row(TWICE, 42)
    for j, pc in enumerate(PSEUDO_POSTCODES):
        lookup_row(pc, 50 + j)
    rng.shuffle(lookup)
    la_names = {"503": "Southby", "318": "Northshire"}  # 714 is not named: the code is its name
    return Messy(rows, index_rows, lookup, lookup_columns, la, la_names)


def _row(rng: random.Random, p: Person, la_written: str) -> dict[str, str]:
    r = blank_row()
    ev = rng.choice(["Request", "Assessment", "Service", "Review"])
    if rng.random() < 0.15:  # an event on a birthday
        year = rng.choice([2024, 2025])
        try:
            start = p.dob.replace(year=year)
        except ValueError:
            start = D(year, 3, 1)
        start = min(max(start, PERIOD_START), PERIOD_END)
    else:
        start = PERIOD_START + dt.timedelta(days=rng.randrange(0, 360))
    end = start + dt.timedelta(days=rng.randrange(0, 40))
    r.update(
        LA_Code=la_written,
        Reporting_Period_Start_Date=fmt(PERIOD_START),
        Reporting_Period_End_Date=fmt(PERIOD_END),
        NHS_Number=messy_nhs(rng, p.nhs),
        LA_Person_Unique_Identifier=rng.choice([p.la_pid] * 4 + [f" {p.la_pid} ", p.la_pid.upper(),
                                                                  f"{p.la_pid}   ", "NULL", "", "null", " NULL "]),
        First_Name=messy_text(rng, p.first, 0.3),
        Last_Name=messy_text(rng, rng.choice([p.last, p.last, without_accents(p.last)]), 0.3),
        Gender=rng.choice([p.gender] * 6 + [p.gender.lower(), f" {p.gender} ", p.gender.upper(), "Unknown",
                                            "Other", "NULL", "", "Not stated", "null", " NULL ", p.gender[0]]),
        Date_of_Birth=messy_date(rng, p.dob, 0.15),
        Postcode=messy_postcode(rng, p.postcode),
        Event_Type=messy_text(rng, ev, 0.15),
        Event_Reference=f"R{rng.randrange(10**6)}",
        Event_Start_Date=messy_date(rng, start),
        Event_End_Date="" if ev == "Service" and rng.random() < 0.5 else messy_date(rng, end),
        Event_Description=rng.choice(DESCRIPTIONS),
        Date_of_Death=rng.choice([""] * 8 + [fmt(end), messy_date(rng, end, 1.0)]),
        Unit_Cost=rng.choice(UNIT_COSTS) if ev == "Service" or rng.random() < 0.2 else "",
        Planned_units_per_week=rng.choice(UNIT_COSTS) if ev == "Service" else "",
        Cost_Frequency_Unit_Type=messy_text(rng, "Weekly") if ev == "Service" else "",
        Service_Type=messy_text(rng, "Long term support: Community") if ev == "Service" else "",
        Service_Component=messy_text(rng, "Home support or domiciliary care") if ev == "Service" else "",
        Provider_CQC_Location_ID=messy_text(rng, "1-123456789") if ev == "Service" else "",
        Provider_CQC_Location_Name=messy_text(rng, rng.choice(["Hillview House", "Café Court – Ward 2",
                                                               "Elm Lodge, \"The Annex\""]))
        if ev == "Service" else "",
        Delivery_Mechanism=messy_text(rng, "Direct payment") if ev == "Service" else "",
        Request_Route_of_Access=messy_text(rng, "Community or other route") if ev == "Request" else "",
        Assessment_Type=messy_text(rng, "Long term assessment") if ev == "Assessment" else "",
        Method_of_Assessment=messy_text(rng, "Face to face") if ev == "Assessment" else "",
        Eligible_Needs_Identified=messy_text(rng, "Yes") if ev == "Assessment" else "",
        Review_Reason=messy_text(rng, "Planned") if ev == "Review" else "",
        Review_Outcomes_Achieved=messy_text(rng, "Fully") if ev == "Review" else "",
        Method_of_Review=messy_text(rng, "Face to face") if ev == "Review" else "",
        Autism_Spectrum_Disorder_ASD=messy_text(rng, "No"),
        Visual_Impairment=messy_text(rng, "No"),
        Hearing_Impairment=messy_text(rng, "No"),
    )
    for c, values in TEXT_VALUES.items():
        r[c] = messy_text(rng, rng.choice(values))
    return r


def second_file(rows: list[dict[str, str]], n: int) -> list[dict[str, str]]:
    """A later, smaller file of the same council: its first n rows with the stated reporting period written
    with one-digit days and months (as a spreadsheet saving d/m/yyyy would), which is not dd/mm/yyyy."""
    return [dict(r, Reporting_Period_Start_Date=f"{PERIOD_START.day}/{PERIOD_START.month}/{PERIOD_START.year}",
                 Reporting_Period_End_Date=f"{PERIOD_END.day}/{PERIOD_END.month}/{PERIOD_END.year}")
            for r in rows[:n]]


def probe_rows(rng: random.Random, indexed: list[Person], people: list[Person], la_written: str
               ) -> list[dict[str, str]]:
    """Rows every seed holds, each with one case of its own (the rest of the row plain), so each case the
    differential test lists is reached whatever the seed draws. The people are in the index as submitted, so
    a trace that should fail on a bad detail would otherwise match."""
    short = next(p for p in indexed if p.dob.day < 10 or p.dob.month < 10)
    cases: list[dict[str, str]] = [
        {"NHS_Number": "", "Gender": "NULL"},
        {"NHS_Number": "", "Gender": " null "},
        {"NHS_Number": "", "Gender": "Not stated"},
        {"NHS_Number": "", "Gender": ""},
        {"Date_of_Birth": "dob_spaces"},
        {"Date_of_Birth": "dob_yy"},
        {"Date_of_Birth": "dob_short", "person": "short"},
        {"Event_Start_Date": "5/5/2024", "Event_End_Date": " 19/10/2024", "Date_of_Death": "13/11/24"},
        {"Event_Start_Date": "16/09/24", "Event_End_Date": "9/12/2024 ", "Date_of_Death": " 22/05/2024"},
        {"Event_Start_Date": " 01/06/2024", "Event_End_Date": "01/07/24", "Date_of_Death": "1/8/2024"},
        {"LA_Person_Unique_Identifier": "NULL", "Adult_1_Linked_Person_ID": "null",
         "Adult_2_Linked_Person_ID": " NULL ", "Adult_3_Linked_Person_ID": "NULL"},
        {"LA_Person_Unique_Identifier": " null "},
        {"Unit_Cost": "NaN", "Planned_units_per_week": "Infinity"},
        {"Unit_Cost": "1e3", "Planned_units_per_week": "nan"},
        {"Unit_Cost": "inf", "Planned_units_per_week": "2E1"},
        {"No_of_adults_being_cared_for": "2.5"},
        {"No_of_adults_being_cared_for": "2.0"},
        {"No_of_adults_being_cared_for": "0x10", "Unit_Cost": "1_000"},
        {"No_of_adults_being_cared_for": "1e1"},
        # white space other than spaces: a tab-only cell is blank (validate.md: "only white space")
        {"Ethnicity": "\t", "Employment_Status": " \t NULL", "Event_Description": "\t ",
         "Adult_1_Linked_Person_ID": "\t", "Client_Type": "Unpaid carer"},
        # born after the event started: negative ages are floored (-1), and 0 within the birth month
        {"Date_of_Birth": "15/06/2024", "Event_Start_Date": "01/05/2024"},
        {"Date_of_Birth": "20/05/2024", "Event_Start_Date": "05/05/2024"},
        {"Date_of_Birth": "31/03/2025", "Event_Start_Date": "01/04/2024"},
    ]
    out = []
    for i, case in enumerate(cases):
        p = short if case.pop("person", None) == "short" else indexed[i % len(indexed)]
        r = _row(rng, p, la_written)
        # plain person details, so only the probed cell is odd
        r.update(NHS_Number=p.nhs, First_Name=p.first, Last_Name=p.last, Gender=p.gender,
                 Date_of_Birth=fmt(p.dob), Postcode=p.postcode, LA_Person_Unique_Identifier=p.la_pid,
                 Event_Start_Date=fmt(PERIOD_START + dt.timedelta(days=30 + i)),
                 Event_End_Date=fmt(PERIOD_START + dt.timedelta(days=40 + i)), Date_of_Death="")
        dob = {"dob_spaces": f" {fmt(p.dob)} ", "dob_yy": p.dob.strftime("%d/%m/%y"),
               "dob_short": f"{p.dob.day}/{p.dob.month}/{p.dob.year}"}
        r.update({k: dob.get(v, v) for k, v in case.items()})
        out.append(r)
    return out


def write_index_csv(path: Path, rows: list[list[str]]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.writer(fh)
        w.writerow(["nhs_number", "family_name", "given_name", "date_of_birth", "gender", "postcode",
                    "date_of_death"])
        w.writerows(rows)
    return path


def write_lookup_csv(path: Path, rows: list[dict[str, str]], columns: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=columns)
        w.writeheader()
        w.writerows(rows)
    return path
