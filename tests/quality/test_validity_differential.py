"""Differential test: every cell's field status and validity from `validate_return` against an independent
plain-Python reference (tests/quality/validity_reference.py), on seeded messy returns.

The generator starts from clean sample rows (`ascld.quality.sample`) and mutates cells from a menu of the shapes
real returns hold: case variants, Release 1 values, surrounding spaces and tabs, NULL in its spellings, dates of
every odd shape, numbers with too many decimals or exponents, NHS numbers and postcodes odd and valid, and values
of the fields that decide which others are mandatory. Every value is synthetic (NHS numbers are made up and
checked only for their check digit; no real person).
"""

from __future__ import annotations

import csv
import datetime as dt
import random
from collections import Counter
from pathlib import Path

import duckdb
import pytest
import validity_reference as ref

from ascld.quality import validate_return
from ascld.quality.sample import sample_rows, write_rows
from ascld.spec import load_spec

SUBMISSION = dt.date(2025, 10, 20)
PERIOD_END = dt.date(2025, 9, 30)
SEEDS = (1, 2, 3, 4, 5, 6, 7, 8)
ROWS = 500

SPEC = ref.load_reference_spec()
HEADERS = [f["name"] for f in ref._read("fields.csv")]

BLANKS = ["", " ", "  ", "\t", "NULL", "null", "Null", " NULL ", "NULL\t", "\xa0", " \t ", "\x0b", "NULL\x0c", "\r\n"]
# Windows-1252 characters from 0x80-0x9F (the validator transcodes such files) and other odd text.
ODD_TEXT = [
    "O\u2019Neil",
    "caf\xe9",
    "\u20ac5",
    "NFA \u2013 Other",
    "Service user\r",
    "Request\n",
    "x" * 300,
    '"quoted"',
    'O"Brien',
    "\\N",
    "NaN",
    "None",
    "nan",
    "TRUE",
    "0",
]


def _nhs(rng: random.Random, *, valid: bool = True) -> str:
    while True:
        digits = [rng.randrange(10) for _ in range(9)]
        total = sum(d * (10 - i) for i, d in enumerate(digits))
        check = 11 - total % 11
        check = 0 if check == 11 else check
        if check == 10:
            continue
        if not valid:
            check = (check + rng.randrange(1, 10)) % 10
        return "".join(map(str, digits)) + str(check)


def _fmt(d: dt.date) -> str:
    return d.strftime("%d/%m/%Y")


def _dates(rng: random.Random) -> list[str]:
    near = PERIOD_END + dt.timedelta(days=rng.randrange(-800, 200))
    return [
        "1/7/2025", "01/7/2025", "1/07/2025", "01/07/25", "31/02/2024", "29/02/2024", "29/02/2023", "31/04/2025",
        "2025-07-01", "01/07/2025 00:00", "01/01/1899", "31/12/1899", "01/01/1900", "31/12/2099", "01/01/2100",
        "00/01/2020", "01/00/2020", "01/13/2020", "32/01/2020", " 01/07/2025", "01/07/2025 ", "01-07-2025",
        "01.07.2025", "01/07/2025\t", "01/07/0000", "29/02/1900", "29/02/2000", "29/02/2100", "1st July",
        "01/07/20255", _fmt(near), _fmt(near),
        _fmt(PERIOD_END), _fmt(PERIOD_END + dt.timedelta(days=1)), _fmt(dt.date(2024, 10, 1)),
        _fmt(dt.date(2024, 9, 30)),
    ]  # fmt: skip


def _dobs() -> list[str]:
    """Dates of birth around the 18 and 65 boundaries of the Employment Status rule."""
    out = []
    for years in (17, 18, 64, 65):
        for delta in (-1, 0, 1):
            try:
                d = PERIOD_END.replace(year=PERIOD_END.year - years)
            except ValueError:
                d = PERIOD_END.replace(year=PERIOD_END.year - years, day=28)
            out.append(_fmt(d + dt.timedelta(days=delta)))
    return out


DECIMALS = [
    "1.234", "1e3", " 12", "12 ", "-1", "-5.5", "-1.234", "007", "12.50", "12.5", "0", "-0", "-0.00", ".5", "5.",
    "1,000", "£12", "12345678901234567", "1234567890123456", "1234567890123456.12", "1.230", "1.2.3", "abc",
    "12.", "0.00", "\t3",
]  # fmt: skip
INTEGERS = [
    "1",
    "007",
    "-1",
    "1.0",
    "1.5",
    " 2",
    "2 ",
    "two",
    "-1.5",
    "0",
    "3",
    "1e1",
    "-0",
    "123456789012345678",
    "1234567890123456789",
]
POSTCODES = [
    "LS1 4AP", "ls1 4ap", "LS14AP", "LS1  4AP", " LS1 4AP", "LS1 4AP ", "ZZ99 3VZ", "ZZ99 3WZ", "zz99 3vz",
    "ZZ993VZ", "W1A 0AX", "EC1A 1BB", "GIR 0AA", "A1 1AA", "LS1 4A", "12345", "M1 1AE", "SW1A 2AA", "B33 8TH",
    "LS1\t4AP", "ZZ99 9ZZ", "QQ1 1QQ",
]  # fmt: skip


def _text_variants(value: str) -> list[str]:
    return [
        value.upper(), value.lower(), value.swapcase(), value + " ", " " + value, value + "\t", value + "  ",
        value.title(), value.capitalize(),
    ]  # fmt: skip


def _list_menu(col: str, rng: random.Random) -> list[str]:
    info = SPEC.lists[col]
    r2 = sorted(info.r2)
    r1 = sorted(info.r1)
    menu: list[str] = []
    if r2:
        v = rng.choice(r2)
        menu += [v, v, *_text_variants(v)]
    if r1:
        v = rng.choice(r1)
        menu += [v, v, *_text_variants(v)]
    menu += ["Invalid and not mapped", "invalid and not mapped", "Unknown: Presumed at home", "Something else", "?"]
    other = rng.choice(sorted(SPEC.lists))
    if SPEC.lists[other].r2:
        menu.append(rng.choice(sorted(SPEC.lists[other].r2)))
    return menu


DRIVERS = {
    "Client_Type": ["Service user", "Unpaid carer", ref.KBA, "Service User", "Carer", "Carer known by association",
                    "service user", "UNPAID CARER", "unpaid carer known by association ", " Service user", "Carer ",
                    "Client"],
    "Event_Type": ["Request", "Assessment", "Service", "Review", "request", "SERVICE", "Review ", " Assessment",
                   "Referral", "Reviews"],
    "Assessment_Type": ["Short term assessment", "Long term assessment", "Financial Assessment",
                        "Financial assessment", "financial assessment", "Financial", "Long Term Assessment",
                        "Short term assessment "],
    "Review_Reason": ["Planned", "planned", "Planned review", "Review of short term support",
                      "Unplanned - Carer related", "Planned ", " Planned", "Unplanned: Other reason"],
    "Delivery_Mechanism": ["Direct payment", "CASSR managed personal budget", "CASSR commissioned support",
                           "CASSR Commissioned Support", "cassr commissioned support", "Self-Funder Metering Only",
                           "Something else", "Direct Payment"],
    "Service_Type": ["Long term support: Community", "Long Term Support: Community", "long term support: nursing care",
                     "Short term support: ST-Max", "Unpaid carer support: Direct to unpaid carer",
                     "Carer Support: Direct to Carer", "Long term support", "Short Term Support: ST-Max"],
    "Service_Component": ["Short term residential care", "Short Term Nursing Care", "Carer Respite",
                          "Unpaid carer respite", "Reablement", "short term residential care", "Equipment", "Respite"],
    "Primary_Support_Reason": ["Learning disability support", "Learning Disability Support",
                               "learning disability support", "Mental health support", "Learning disability",
                               "Learning disability support "],
}  # fmt: skip


def _menu(col: str, rng: random.Random) -> list[str]:
    kind = SPEC.types[col]
    menu = list(BLANKS) + ODD_TEXT
    if col in DRIVERS:
        menu += DRIVERS[col] * 2
    if col in SPEC.lists:
        menu += _list_menu(col, rng)
    elif kind == "date":
        menu += _dates(rng)
        if col == "Date_of_Birth":
            menu += _dobs()
    elif kind == "decimal":
        menu += DECIMALS
    elif kind == "integer":
        menu += INTEGERS
    elif col == "NHS_Number":
        good = _nhs(rng)
        menu += [
            good, good, _nhs(rng, valid=False), f"{good[:3]} {good[3:6]} {good[6:]}",
            f"{good[:3]}-{good[3:6]}-{good[6:]}", " " + good, good + " ", good + "\t", good[:9], good + "1",
            "0000000000", "1111111111", "1234567890",
            "0123456789", "9999999999", "999 999 9999", "ABC1234567", "12345 67890",
        ]  # fmt: skip
    elif col == "Postcode":
        menu += POSTCODES
    else:
        menu += ["X123", "  padded  ", "12", "a\nb"]
    return menu


def _pick(rng: random.Random, values: list[str]) -> str:
    return rng.choice(values + ["", "NULL"])


def _scenario(row: dict[str, str], rng: random.Random) -> None:
    """Rewrite the fields that decide one status rule together, so each rule's branches (and its unknowns) occur."""
    kind = rng.choice(("cost", "employment", "financial", "association", "review", "death"))
    if kind == "cost":  # Unit Cost, Cost Frequency, Planned units per week
        row["Client_Type"] = _pick(rng, ["Service user", "Service user", "Unpaid carer", " Service user"])
        row["Event_Type"] = _pick(rng, ["Service", "Service", "service", "Review"])
        row["Delivery_Mechanism"] = _pick(rng, DRIVERS["Delivery_Mechanism"])
        row["Service_Type"] = _pick(rng, DRIVERS["Service_Type"])
        row["Service_Component"] = _pick(rng, DRIVERS["Service_Component"])
        for col in ("Unit_Cost", "Planned_units_per_week"):
            row[col] = _pick(rng, ["12.50", "3", "1.234"])
        row["Cost_Frequency_Unit_Type"] = _pick(rng, ["Weekly", "Hourly", "weekly"])
    elif kind == "employment":  # Employment Status: service users aged 18-64 with learning disability support
        row["Client_Type"] = _pick(rng, ["Service user", "Service User", "Unpaid carer"])
        row["Primary_Support_Reason"] = _pick(rng, DRIVERS["Primary_Support_Reason"])
        row["Date_of_Birth"] = _pick(rng, _dobs() + ["31/02/1990", "1/1/1990"])
        row["Employment_Status"] = _pick(rng, sorted(SPEC.lists["Employment_Status"].r2))
    elif kind == "financial":  # Event Outcome, Method of Assessment, Client Funding Status
        row["Client_Type"] = _pick(rng, ["Service user", "Unpaid carer", "Service User"])
        row["Event_Type"] = _pick(rng, ["Assessment", "Assessment", "assessment", "Request"])
        row["Assessment_Type"] = _pick(rng, DRIVERS["Assessment_Type"])
        for col in ("Event_Outcome", "Method_of_Assessment", "Client_Funding_Status"):
            row[col] = rng.choice(["", "NULL", row[col] or "Something"])
    elif kind == "association":  # carers known by association carry no event fields
        row["Client_Type"] = _pick(rng, [ref.KBA, "Carer known by association", ref.KBA.upper(), ref.KBA + " "])
        for col in rng.sample(SPEC.columns[24:50], 6):
            row[col] = rng.choice(["", "NULL", " "])
        row["Date_of_Death"] = _pick(rng, ["01/08/2025", "31/02/2025"])
    elif kind == "review":  # Review Outcomes Achieved: mandatory on planned reviews
        row["Client_Type"] = _pick(rng, ["Service user", "Unpaid carer"])
        row["Event_Type"] = _pick(rng, ["Review", "Review", "REVIEW", "Service"])
        row["Review_Reason"] = _pick(rng, DRIVERS["Review_Reason"])
        row["Review_Outcomes_Achieved"] = _pick(rng, ["Fully met", "Partially Met", "fully met"])
    else:  # a date of death makes the end date mandatory
        row["Date_of_Death"] = _pick(rng, ["01/08/2025", "01/08/1920", "2025-08-01", " ", "01/08/2025 "])
        row["Event_Type"] = _pick(rng, ["Service", "Request", "Review", "Assessment"])
        row["Event_End_Date"] = _pick(rng, ["01/08/2025", "15/09/2025", "01/09/2024"])


def messy_rows(seed: int, n: int = ROWS) -> list[dict[str, str]]:
    rng = random.Random(seed)
    rows = sample_rows(n, seed=seed)
    columns = SPEC.columns
    fixed = ("LA_Code", "Reporting_Period_Start_Date", "Reporting_Period_End_Date")
    weighted = [c for c in columns if c not in fixed]
    weighted += list(DRIVERS) * 3 + ["Date_of_Death", "Date_of_Birth", "Event_End_Date", "Event_Start_Date"] * 2
    for row in rows:
        if rng.random() < 0.4:
            _scenario(row, rng)
        for _ in range(rng.choice((0, 1, 2, 3, 4, 6))):
            col = rng.choice(weighted)
            row[col] = rng.choice(_menu(col, rng))
        # One LA and one stated period per file (T013, T014): only blanks or invalid shapes there.
        if rng.random() < 0.03:
            row["LA_Code"] = rng.choice(BLANKS)
        for col in ("Reporting_Period_Start_Date", "Reporting_Period_End_Date"):
            if rng.random() < 0.03:
                row[col] = rng.choice(BLANKS + ["30/9/2025", "2025-09-30", "31/09/2025", "01/10/2024 ", "1/10/2024"])
        if seed % 5 == 0 and not ref.is_blank(row["Reporting_Period_Start_Date"]):
            row["Reporting_Period_Start_Date"] = "01/10/2025"  # a period that ends before it starts (C035)
    return rows


def write_messy(path: Path, rows: list[dict[str, str]], seed: int) -> Path:
    """Write the rows as a return, varying what the reader sees by seed: plain ASCII, Latin-1 range only, or any
    Windows-1252 text (bytes 0x80-0x9F make the validator transcode); CRLF or LF line ends; minimal or full
    quoting; gzip for one seed."""
    mode = seed % 3
    if mode != 2:
        limit = 0x80 if mode == 0 else 0x100
        rows = [{k: "".join(ch if ord(ch) < limit else " " for ch in v) for k, v in r.items()} for r in rows]
    if seed % 4 == 3:
        with open(path, "w", newline="", encoding="cp1252") as fh:
            writer = csv.writer(fh, lineterminator="\n", quoting=csv.QUOTE_ALL)
            writer.writerow(HEADERS)
            writer.writerows([r[c] for c in SPEC.columns] for r in rows)
        return path
    if seed % 8 == 6:
        path = path.with_suffix(".csv.gz")
    return write_rows(path, rows)


def validator_codes(path: Path, dq: Path) -> tuple[dict, list[dict[str, tuple[int, int]]]]:
    result = validate_return(path, submission_date=SUBMISSION, dq_out=dq, max_problems=10)
    assert result.exit_code in (0, 1), [p.message for p in result.problems[:5]]
    return result.summary, read_dq(dq)


def summary_counts(summary: dict) -> dict[str, Counter]:
    """The summary's counts by field x status x validity."""
    return {
        f["field"]: Counter({(c["status_code"], c["validity_code"]): c["count"] for c in f["counts"]})
        for f in summary["fields"]
    }


def read_dq(dq: Path) -> list[dict[str, tuple[int, int]]]:
    """The `--dq-out` Parquet as one dict per row: column -> (cond, chk)."""
    table = duckdb.sql(f"SELECT * FROM read_parquet('{dq}') ORDER BY __row").fetchall()
    names = duckdb.sql(f"DESCRIBE SELECT * FROM read_parquet('{dq}')").fetchall()
    cols = [n[0] for n in names]
    out = []
    for i, rec in enumerate(table):
        d = dict(zip(cols, rec, strict=True))
        assert d["__row"] == i + 2  # the spreadsheet row: the header is row 1
        out.append({c: (d[f"cond_{c}"], d[f"chk_{c}"]) for c in SPEC.columns})
    return out


def differences(rows, ours, theirs) -> list[tuple]:
    diffs = []
    for i, (row, a, b) in enumerate(zip(rows, ours, theirs, strict=True)):
        for col in SPEC.columns:
            if a[col] != b[col]:
                diffs.append((i + 2, col, row[col], a[col], b[col]))
    return diffs


def describe(diffs: list[tuple]) -> str:
    """A summary by field and code pair; values of identifying fields are not shown."""
    ident = {"NHS_Number", "Postcode", "Date_of_Birth", "Date_of_Death", "First_Name", "Last_Name",
             "LA_Person_Unique_Identifier", "Adult_1_Linked_Person_ID", "Adult_2_Linked_Person_ID",
             "Adult_3_Linked_Person_ID"}  # fmt: skip
    counts = Counter((col, ours, ref_) for _, col, _, ours, ref_ in diffs)
    examples = {}
    for row, col, value, ours, ref_ in diffs:
        examples.setdefault((col, ours, ref_), (row, "N/A - PID" if col in ident else repr(value)))
    lines = [f"{col}: validator (cond, chk)={ours} reference={ref_} x{n}, e.g. row {examples[(col, ours, ref_)]}"
             for (col, ours, ref_), n in counts.most_common(40)]  # fmt: skip
    return "\n".join(lines)


@pytest.mark.parametrize("seed", SEEDS)
def test_status_and_validity_match_the_reference(seed: int, tmp_path: Path) -> None:
    path = write_messy(tmp_path / "messy.csv", messy_rows(seed), seed)
    summary, ours = validator_codes(path, tmp_path / "dq.parquet")
    rows = ref.read_return(path)
    theirs = ref.reference_codes(rows, SPEC)
    assert len(ours) == len(rows) == len(theirs) == summary["row_count"]
    diffs = differences(rows, ours, theirs)
    assert not diffs, f"{len(diffs)} cells differ:\n" + describe(diffs)
    # The summary's counts (decoded from the scan's packed codes by another path) agree cell for cell.
    expected = {c: Counter(codes[c] for codes in theirs) for c in SPEC.columns}
    assert summary_counts(summary) == expected


def test_the_generator_reaches_every_code() -> None:
    """The messy returns exercise every status and every validity code, so the comparison means something."""
    seen_cond, seen_chk = Counter(), Counter()
    for seed in SEEDS:
        for codes in ref.reference_codes(messy_rows(seed), SPEC):
            for cond, chk in codes.values():
                seen_cond[cond] += 1
                seen_chk[chk] += 1
    assert set(seen_cond) == {2, 1, 0, -1}
    assert set(seen_chk) == {1, 0, -1, -2, -3, -4, -5, -6, -7}


OVERLAY = """list,value,r1_value
review_reason,Planned review,Planned
review_reason,Unplanned: Hospital,Unplanned - Hospital (Planned and unplanned episodes)
review_reason,Review of short term support,
assessment_type,Short term assessment,Short Term Assessment
assessment_type,Long term assessment,Long Term Assessment
assessment_type,Financial assessment,Financial Assessment
delivery_mechanism,Direct payment,
delivery_mechanism,CASSR managed personal budget,
delivery_mechanism,CASSR commissioned support,
request_route_of_access,Community or other route,Community / Other route
gender,Male,
gender,Female,
service_component,Reablement,
service_component,Short term residential care,
service_component,Short term nursing care,
service_component,Unpaid carer respite,Carer Respite
service_component,Equipment,
"""


@pytest.mark.parametrize("seed", (21, 22))
def test_status_and_validity_match_the_reference_with_an_overlay(seed: int, tmp_path: Path) -> None:
    """An overlay of official lists (docs/spec.md "Overlay") completes lists that drive status rules (Assessment
    Type, Review Reason, Delivery Mechanism, Service Component): unknown values there become unrecognised."""
    overlay = tmp_path / "official.csv"
    overlay.write_text(OVERLAY, encoding="utf-8")
    path = write_messy(tmp_path / "messy.csv", messy_rows(seed), seed)
    result = validate_return(
        path, submission_date=SUBMISSION, dq_out=tmp_path / "dq.parquet", spec=load_spec(overlay), max_problems=10
    )
    assert result.exit_code in (0, 1)
    ours = read_dq(tmp_path / "dq.parquet")
    rows = ref.read_return(path)
    theirs = ref.reference_codes(rows, ref.load_reference_spec(overlay))
    diffs = differences(rows, ours, theirs)
    assert not diffs, f"{len(diffs)} cells differ:\n" + describe(diffs)
