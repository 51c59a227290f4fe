"""Seeded synthetic people, returns, demographic index and postcode lookup for the national-store tests.

Small and self-contained so the store tests do not depend on the full generator; every identifier is synthetic
(NHS numbers in the 999 test range, invented names, postcodes from a made-up lookup).
"""

from __future__ import annotations

import csv
import datetime as dt
import random
import re
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow.parquet as pq

from ascld.identity.nhs_number import make_nhs_number
from ascld.identity.postcodes import LOOKUP_COLUMNS
from ascld.identity.tracing import INDEX_COLUMNS
from ascld.spec import load_spec

# Names avoid being made only of the letters a-f, so a scan can tell them from hex pseudonyms.
GIVEN = ["Olwen", "Rhys", "Siân", "Tomasz", "Wiktor", "Yusuf", "Zainab", "Priya", "Kwame", "Ngozi", "Lowri",
         "Hamish", "Iwan", "Joanna", "Mirela", "Nuala", "Oisin", "Quentin", "Roisin", "Sorcha"]
FAMILY = ["Pritchard", "Kowalski", "Oyelaran", "Thornton", "Whitmore", "Llewellyn", "Rahman", "Szymanski",
          "Nguyen", "Murphy", "Ogunleye", "Vaughan", "Jankowski", "Hargreaves", "Quigley", "Sutherland"]
POSTCODES = [f"ZX{d} {i}{a}{b}" for d in range(1, 4) for i in range(1, 4) for a, b in ("WT", "UX", "RS")]
EVENTS = ["Request", "Assessment", "Service", "Review"]


@dataclass(frozen=True)
class Person:
    nhs: str
    first: str
    last: str
    dob: dt.date
    gender: str
    postcode: str
    la_pid: str


def make_people(n: int, seed: int = 1, la_code: str = "503", start: int = 0) -> list[Person]:
    rng = random.Random(seed)
    people = []
    stem = start * 3 + 1000
    while len(people) < n:
        stem += 1
        nhs = make_nhs_number(stem)
        if not nhs:
            continue
        people.append(
            Person(
                nhs=nhs,
                first=rng.choice(GIVEN),
                last=rng.choice(FAMILY) + ("" if rng.random() < 0.7 else "-" + rng.choice(FAMILY)),
                dob=dt.date(1930, 1, 1) + dt.timedelta(days=rng.randrange(0, 365 * 75)),
                gender=rng.choice(["Male", "Female"]),
                postcode=rng.choice(POSTCODES),
                la_pid=f"CMX{la_code}{len(people) + start:05d}",
            )
        )
    return people


def blank_row() -> dict[str, str]:
    return {c: "" for c in load_spec().columns}


def return_rows(
    people: list[Person], la_code: str = "503", period_end: dt.date = dt.date(2025, 3, 31), seed: int = 2,
    rows_per_person: int = 2,
) -> list[dict[str, str]]:
    """Rows of a return in national column names, dates dd/mm/yyyy, as a council would submit them."""
    rng = random.Random(seed)
    period_start = dt.date(period_end.year - 1, period_end.month % 12 + 1, 1)
    rows = []
    for p in people:
        for k in range(rows_per_person):
            r = blank_row()
            ev = EVENTS[(k + rng.randrange(4)) % 4]
            start = period_start + dt.timedelta(days=rng.randrange(0, 300))
            end = start + dt.timedelta(days=rng.randrange(1, 40))
            r.update(
                LA_Code=la_code,
                Reporting_Period_Start_Date=period_start.strftime("%d/%m/%Y"),
                Reporting_Period_End_Date=period_end.strftime("%d/%m/%Y"),
                NHS_Number=p.nhs,
                LA_Person_Unique_Identifier=p.la_pid,
                First_Name=p.first,
                Last_Name=p.last,
                Gender=p.gender,
                Ethnicity="White: Irish",
                Date_of_Birth=p.dob.strftime("%d/%m/%Y"),
                Client_Type="Service user",
                Postcode=p.postcode,
                Accommodation_Status="Registered care home",
                Has_Unpaid_Carer="No",
                Event_Type=ev,
                Event_Reference=f"REF-{p.la_pid}-{k}",
                Event_Start_Date=start.strftime("%d/%m/%Y"),
                Event_End_Date="" if ev == "Service" else end.strftime("%d/%m/%Y"),
                Event_Description=rng.choice(
                    ["Conversation 1 with family", "conversation", "Home visit", ""]
                ),
                Unit_Cost="123.45" if ev == "Service" else "",
            )
            rows.append(r)
    return rows


def carer_row(carer: Person, cared_for: Person, la_code: str = "503") -> dict[str, str]:
    r = return_rows([carer], la_code, rows_per_person=1)[0]
    for c in ("Event_Type", "Event_Reference", "Event_Start_Date", "Event_End_Date", "Event_Description",
              "Unit_Cost"):
        r[c] = ""
    r.update(Client_Type="Unpaid carer known by association", Adult_1_Linked_Person_ID=cared_for.la_pid,
             No_of_adults_being_cared_for="1")
    return r


def load_rows(con: duckdb.DuckDBPyConnection, rows: list[dict[str, str]], table: str = "raw") -> str:
    """A DuckDB table as the return reader makes it: every column TEXT, plus `__row` (header = row 1)."""
    cols = load_spec().columns
    con.execute(
        f"CREATE OR REPLACE TABLE {table} (__row BIGINT, " + ", ".join(f'"{c}" VARCHAR' for c in cols) + ")"
    )
    con.executemany(
        f"INSERT INTO {table} VALUES (" + ", ".join(["?"] * (len(cols) + 1)) + ")",
        [[i + 2, *[r.get(c, "") for c in cols]] for i, r in enumerate(rows)],
    )
    return table


def write_return_csv(path: Path, rows: list[dict[str, str]]) -> Path:
    """A return file with the exact submitted headers, Windows-1252, CRLF."""
    spec = load_spec()
    with path.open("w", newline="", encoding="cp1252") as fh:
        w = csv.writer(fh, lineterminator="\r\n")
        w.writerow(spec.headers)
        for r in rows:
            w.writerow([r.get(c, "") for c in spec.columns])
    return path


def write_index(path: Path, people: list[Person]) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(INDEX_COLUMNS)
        for p in people:
            w.writerow([p.nhs, p.last, p.first, p.dob.isoformat(), p.gender, p.postcode, ""])
    return path


def write_lookup(path: Path) -> Path:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(LOOKUP_COLUMNS)
        for i, pc in enumerate(POSTCODES):
            values = {
                "pcd7": pc.replace(" ", ""), "pcd8": pc, "pcds": pc, "dointr": "199001", "doterm": "",
                "oslaua": f"E0600{i % 3:04d}", "osward": f"E0500{i:04d}", "pcon": f"E1400{i % 2:04d}",
                "lsoa11": f"E0101{i:04d}", "msoa11": f"E0201{i:04d}", "lsoa21": f"E0102{i:04d}",
                "msoa21": f"E0202{i:04d}", "sicbl": "E38000999", "ctry": "E92000001", "rgn": "E12000001",
            }
            w.writerow([values[c] for c in LOOKUP_COLUMNS])
    return path


def dob_formats(d: dt.date) -> list[str]:
    """A date of birth in the formats a leak could take."""
    return [
        d.strftime("%d/%m/%Y"), d.isoformat(), d.strftime("%d-%m-%Y"), d.strftime("%Y%m%d"),
        d.strftime("%d%m%Y"), d.strftime("%d/%m/%y"), d.strftime("%Y/%m/%d"), d.strftime("%d %b %Y"),
        d.strftime("%-d/%-m/%Y"),
    ]


def run_ingest_job(store_dir: str, work_dir: str, sha: str, n_people: str = "30") -> None:
    """Ingest a seeded return into a store (run in a subprocess by the crash tests)."""
    from ascld.identity import PseudoKey, Pseudonymiser, load_demographic_index
    from ascld.national.ingest import ingest_table
    from ascld.national.store import NationalStore

    work = Path(work_dir)
    people = make_people(int(n_people), seed=7)
    con = duckdb.connect()
    load_rows(con, return_rows(people))
    index = load_demographic_index(write_index(work / f"index-{sha}.csv", people))
    status, record = ingest_table(
        con, "raw", NationalStore(store_dir), pseudonymiser=Pseudonymiser(PseudoKey.from_text("5a" * 32)),
        sha256=sha, load_file_name=f"{sha}.csv", index=index,
    )
    print(status, record.import_id, record.row_count)


HEX64 = re.compile(r"^[0-9a-f]{64}$")


def needles_of(people: list[Person]) -> set[str]:
    """Every form of every identifier of these people that a leak could take (upper case)."""
    needles: set[str] = set()
    for p in people:
        needles |= {p.nhs, f"{p.nhs[:3]} {p.nhs[3:6]} {p.nhs[6:]}", p.first, p.last, p.postcode,
                    p.postcode.replace(" ", ""), p.la_pid, *dob_formats(p.dob), *p.last.split("-")}
    return {n.upper() for n in needles if n}


def scan_store(root: Path, needles: set[str], dobs: set[dt.date]) -> list[str]:
    """Every place in a store folder where an input identifier shows: each distinct value of each column of
    each Parquet file under data/, and the register's JSON, checked against every needle.

    A pseudonym is 64 lower-case hex digits: upper-cased, it holds only 0-9 and A-F, so it can contain a
    needle only if the needle is itself made of those characters (an NHS number, a digits-only date). Random
    hex holds such short runs by chance, so a pseudonym is checked to be exactly hex and not itself a needle;
    integers are checked for equality; every other value (codes, dates, names, text) is searched for every
    needle as a substring. Dates of death equal to a date of birth are reported too.
    """
    found = []
    for f in sorted((root / "data").rglob("*.parquet")):
        table = pq.read_table(f)
        for name in table.column_names:
            for v in table.column(name).unique().to_pylist():
                if v is None:
                    continue
                if isinstance(v, dt.datetime):
                    v = v.date()
                if isinstance(v, dt.date):
                    if name == "Date_of_Death" and v in dobs:
                        found.append(f"{f.parent.name}/{f.name}:{name}")
                    v = v.isoformat()
                text = str(v).upper()
                if isinstance(v, int | float) or HEX64.match(str(v)):
                    hit = text in needles
                else:
                    hit = any(n in text for n in needles)
                if hit:
                    found.append(f"{f.parent.name}/{f.name}:{name}")
    register = " ".join(p.read_text() for p in (root / "_imports").glob("*.json")).upper()
    found += [f"register:{n[:2]}.." for n in needles if not re.fullmatch(r"[0-9A-F]+", n) and n in register]
    return sorted(set(found))
