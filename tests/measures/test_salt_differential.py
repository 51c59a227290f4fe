"""Differential test: every SALT cell from `compute_salt` against the plain reference of salt_reference.py.

The inputs are random, messy, made-up raw stores from a seeded generator: several councils and files per
council (imports on both sides of PE, W and the submission window close, stated periods that do not cover the
year), people with chains of requests, assessments, reviews and services around the period boundaries, open
events, ties in dates, deaths, NULLs, shared and untraced identifiers, case and trailing-space variants of
Release 1 values, invalid values, and ages on the band edges. Expected values come from the reference only.
"""

from __future__ import annotations

import random
from datetime import date, datetime, timedelta
from decimal import Decimal

import pytest
from salt_fixtures import SCHEMA
from salt_reference import ascof_2a_value, group_key, reference_salt

from ascld.measures.salt import SALT_INPUT_COLUMNS, SaltPeriod, compute_salt

PERIODS = {
    # Q3 2023/24 as in the code.
    "q3": SaltPeriod.for_period(
        date(2023, 4, 1),
        date(2023, 12, 31),
        event_window_close=date(2024, 2, 1),
        submission_window_close=date(2024, 3, 1),
        year_start=date(2023, 4, 1),
        today=date(2024, 6, 30),
    ),
    # A period ending on a leap day (LTS001c: PE - 12 months = 2023-02-28).
    "leap": SaltPeriod.for_period(
        date(2023, 4, 1),
        date(2024, 2, 29),
        event_window_close=date(2024, 4, 1),
        submission_window_close=date(2024, 5, 1),
        year_start=date(2023, 4, 1),
        today=date(2024, 5, 20),
    ),
}


def variant(rng: random.Random, value: str | None) -> str | None:
    """A value as a council might submit it: case and trailing-space variants now and then."""
    if value is None:
        return None
    x = rng.random()
    if x < 0.12:
        return value.lower()
    if x < 0.2:
        return value.upper()
    if x < 0.3:
        return value + " "
    if x < 0.33:
        return value + "  "
    return value


OUTCOMES = [
    "Progress to Reablement/ST-Max",
    "Progress to Assessment",
    "Admitted to hospital",
    "Progress to Re-assessment / Unplanned Review",
    "Progress to Support Planning / Services",
    "Progress to End of Life Care",
    "No change in package",
    "Service ended as planned",
    "Progress to financial assessment",
    "Provision of service",
    "NFA - Deceased",
    "NFA - Moved to another LA",
    "NFA - 100% NHS funded care",
    "NFA - Information & Advice / Signposting only",
    "NFA - Self-funded client (Inc. 12wk disregard)",
    "NFA - Support declined",
    "NFA - Support ended: Other reason",
    "NFA - No services offered: Other reason",
    "NFA- Other",
    "NFA - local",
    "Local outcome",
    None,
]
SERVICES = [
    "Long Term Support: Nursing Care",
    "Long Term Support: Residential Care",
    "Long Term Support: Community",
    "Long Term Support: Community",
    "Long Term Support: Prison",
    "Short Term Support: ST-Max",
    "Short Term Support: ST-Max",
    "Short Term Support: Ongoing Low Level",
    "Short Term Support: Other Short Term",
    "Local service",
    None,
]
CARER_SERVICES = ["Carer Support: Direct to Carer", "Carer Support: Support involving the person cared-for", None]
MECHANISMS = [
    "Direct Payment",
    "CASSR Managed Personal Budget",
    "CASSR Commissioned Support",
    " Direct Payment",
    "Cash",
    None,
]
ROUTES = ["Community / Other route", "Discharge from Hospital", "Self-funder", None]
PSRS = [
    "Learning Disability Support",
    "Learning Disability Support",
    "Mental Health Support",
    "Physical Support: Personal care support",
    "Unknown",
    "Local reason",
    None,
]
ETHNICITIES = [
    "White - Irish",
    "Asian or Asian British - Indian",
    "No data - Refused",
    "No data - Undeclared or Not known",
    "Other",
    None,
]
EMPLOYMENT = [
    "Paid: Less than 16 hours a week",
    "Paid: 16 or more hours a week",
    "Not in Paid Employment (seeking work)",
    " Unknown",
    "Unknown",
    "Working",
    None,
]
ACCOMMODATION = [
    "Tenant",
    "Owner occupier or shared ownership scheme",
    "Registered care home",
    "Refuge",
    "Unknown",
    " Tenant ",
    "Castle",
    None,
]
GENDERS = ["Male", "Female", "Other", "Unknown", "Male ", "female", None]
CARER = ["Yes", "No", "Invalid", "Unknown", "Maybe", None]


def journey(rng: random.Random, ps: date, pe: date) -> list[dict]:
    """A request followed (or not) by ST-Max and what came after it, with gaps on the window edges."""
    start = ps + timedelta(days=rng.randint(-20, (pe - ps).days))
    req_end = start + timedelta(days=rng.choice([0, 1, 3, 7]))
    out = [
        {
            "Event_Type": variant(rng, "Request"),
            "Event_Start_Date": start,
            "Event_End_Date": req_end if rng.random() < 0.9 else None,
            "Event_Outcome": variant(rng, rng.choice(["Progress to Reablement/ST-Max"] * 3 + OUTCOMES)),
            "Request_Route_of_Access": variant(rng, rng.choice(ROUTES)),
        }
    ]
    t = req_end + timedelta(days=rng.choice([0, 1, 3, 4, 27, 28, 29]))
    for _ in range(rng.randint(1, 4)):
        kind = rng.choice(["ST-Max", "ST-Max", "Assessment", "Review", "Service", "Request"])
        length = rng.choice([0, 2, 14, 42])
        end = None if rng.random() < 0.12 else t + timedelta(days=length)
        ev = {
            "Event_Type": variant(rng, "Service" if kind in ("ST-Max", "Service") else kind),
            "Event_Start_Date": t,
            "Event_End_Date": end,
            "Event_Outcome": variant(rng, rng.choice(OUTCOMES)),
        }
        if kind == "ST-Max":
            ev["Service_Type"] = variant(rng, "Short Term Support: ST-Max")
        elif kind == "Service":
            ev["Service_Type"] = variant(rng, rng.choice(SERVICES))
            ev["Delivery_Mechanism"] = variant(rng, rng.choice(MECHANISMS))
        elif kind == "Request":
            ev["Request_Route_of_Access"] = variant(rng, rng.choice(ROUTES))
        out.append(ev)
        if end is None:
            break
        t = end + timedelta(days=rng.choice([0, 1, 2, 3, 4, 5]))
    return out


def generate(seed: int, period: SaltPeriod, councils: int = 4, people: int = 40) -> list[dict]:
    rng = random.Random(seed)
    ps, pe = period.start, period.end
    anchors = [ps, pe, period.year_start, pe - timedelta(days=365), date(2024, 2, 29), date(2023, 2, 28)]

    def near() -> date:
        return rng.choice(anchors) + timedelta(days=rng.choice([-30, -5, -4, -3, -1, 0, 0, 1, 2, 3, 4, 5, 20, 60]))

    def anywhere() -> date:
        return ps + timedelta(days=rng.randint(-500, 330))

    rows: list[dict] = []
    shared = [f"NX{k}" for k in range(6)]  # NHS numbers of people known to several councils
    histories: dict[str, list[dict]] = {}
    for c in range(councils):
        la = f"E0{c}"
        name = f"Council {c}"
        day_after = datetime.combine(pe, datetime.min.time())
        files = [  # (ImportDate, stated start, stated end)
            (day_after - timedelta(days=40), period.year_start, pe - timedelta(days=60)),
            (day_after, period.year_start, pe),  # midnight of PE: not after PE
            (day_after + timedelta(hours=9), period.year_start - timedelta(days=90), pe),
            (datetime.combine(period.event_window_close, datetime.min.time()), period.year_start, pe),
            (
                datetime.combine(period.event_window_close, datetime.min.time()) + timedelta(hours=8),
                period.year_start,
                pe + timedelta(days=31),
            ),
            (
                datetime.combine(period.submission_window_close, datetime.min.time()) + timedelta(hours=17),
                period.year_start,
                pe,
            ),
            (
                datetime.combine(period.submission_window_close, datetime.min.time()) + timedelta(days=3),
                period.year_start,
                pe,
            ),
            (day_after + timedelta(days=10), period.year_start + timedelta(days=1), pe),
        ]
        files = rng.sample(files, rng.randint(3, len(files)))
        for n in range(people):
            carer = rng.random() < 0.2
            traced = None if rng.random() < 0.12 else (rng.choice(shared) if rng.random() < 0.15 else f"N{c}-{n}")
            la_id = f"L{c}-{n}" if rng.random() < 0.9 else f"L{rng.randrange(councils)}-{rng.randrange(people)}"
            if rng.random() < 0.03:
                la_id = None
            age = rng.choice([17, 18, 25, 26, 40, 63, 64, 65, 84, 85, 90])
            birth = pe - timedelta(days=int(age * 365.25) + rng.choice([-2, -1, 0, 1, 2, 40, 200]))
            year, month = birth.year, birth.month
            if rng.random() < 0.05:
                month = None
            if rng.random() < 0.04:
                year = None
            person = {
                "Der_NHS_Number_Traced_Pseudo": traced,
                "LA_Person_Unique_Identifier": la_id,
                "Der_Birth_Year": year,
                "Der_Birth_Month": month,
                "Date_of_Death": near() if rng.random() < 0.08 else None,
                "Gender": rng.choice(GENDERS),
                "Ethnicity": variant(rng, rng.choice(ETHNICITIES)),
                "Client_Type": variant(rng, rng.choice(["Carer", "Carer known by association"]))
                if carer
                else variant(rng, "Service User" if rng.random() < 0.95 else "Self-funder"),
                "Primary_Support_Reason": variant(rng, rng.choice(PSRS)),
                "Accommodation_Status": variant(rng, rng.choice(ACCOMMODATION)),
                "Employment_Status": variant(rng, rng.choice(EMPLOYMENT)),
                "Has_Unpaid_Carer": variant(rng, rng.choice(CARER)),
            }
            events: list[dict] = []
            t = near() if rng.random() < 0.5 else anywhere()
            for _ in range(rng.randint(1, 7)):
                kind = rng.choice(["Request", "Request", "Assessment", "Service", "Service", "Service", "Review"])
                length = rng.choice([0, 0, 1, 2, 3, 5, 10, 30, 90, 400])
                start = t
                end = None if rng.random() < 0.15 else start + timedelta(days=length)
                if rng.random() < 0.08 and end is not None:
                    end = rng.choice([ps, pe, ps - timedelta(days=1), pe + timedelta(days=1)])
                    if end < start:
                        end = start
                ev = {
                    "Event_Type": variant(rng, kind),
                    "Event_Start_Date": start if rng.random() > 0.02 else None,
                    "Event_End_Date": end,
                    "Event_Outcome": variant(rng, rng.choice(OUTCOMES)),
                }
                if kind == "Request":
                    ev["Request_Route_of_Access"] = variant(rng, rng.choice(ROUTES))
                if kind == "Service":
                    ev["Service_Type"] = variant(rng, rng.choice(CARER_SERVICES if carer else SERVICES))
                    ev["Delivery_Mechanism"] = variant(rng, rng.choice(MECHANISMS))
                    ev["Service_Component"] = rng.choice(["Reablement", "Direct Payment", None])
                events.append(ev)
                step = rng.choice([0, 0, 1, 2, 3, 4, 5, 6, 28, 29, 40])
                t = (end or start) + timedelta(days=step) if rng.random() < 0.85 else start + timedelta(days=step)
            if not carer and rng.random() < 0.5:
                events.extend(journey(rng, ps, pe))
            if not carer and rng.random() < 0.3:
                # a long-term client since long before the year (LTS001c chains, STS002b existing clients)
                lt_start = ps - timedelta(days=rng.choice([100, 270, 274, 275, 400, 700]))
                for _ in range(rng.randint(1, 3)):
                    lt_end = None if rng.random() < 0.4 else lt_start + timedelta(days=rng.choice([30, 200, 300, 600]))
                    events.append(
                        {
                            "Event_Type": variant(rng, "Service"),
                            "Service_Type": variant(rng, rng.choice(SERVICES[:5])),
                            "Delivery_Mechanism": variant(rng, rng.choice(MECHANISMS)),
                            "Service_Component": rng.choice(["Direct Payment", None]),
                            "Event_Start_Date": lt_start,
                            "Event_End_Date": lt_end,
                            "Event_Outcome": variant(rng, rng.choice(OUTCOMES)),
                        }
                    )
                    if lt_end is None:
                        break
                    lt_start = lt_end + timedelta(days=rng.choice([0, 1, 2]))
            if rng.random() < 0.25:
                events.append(dict(rng.choice(events)))  # an exact repeat in the same file (ties)
            if traced in shared:
                # a person known to several councils, often with the same dated events in each (salt.md §1.6
                # step 5: islands are joined back without the council)
                if traced in histories and rng.random() < 0.7:
                    events = [dict(ev) for ev in histories[traced]]
                histories.setdefault(traced, events)
            for imported, stated_start, stated_end in files:
                if rng.random() < 0.2:
                    continue
                la_name = variant(rng, name) if rng.random() < 0.1 else name
                if rng.random() < 0.01:
                    la_name = None  # §1.5: a file with no council name is never chosen
                for ev in events:
                    if rng.random() < 0.1:
                        continue
                    version = dict(ev)
                    if version["Event_End_Date"] is not None and rng.random() < 0.15:
                        version["Event_End_Date"] = None  # open in this file
                    if rng.random() < 0.1:
                        version["Event_Outcome"] = variant(rng, rng.choice(OUTCOMES))
                    out = {col: None for col in SALT_INPUT_COLUMNS}
                    out.update(person)
                    out.update(version)
                    out.update(
                        LA_Code=la,
                        LA_Name=la_name,
                        ImportDate=imported,
                        Reporting_Period_Start_Date=stated_start,
                        Reporting_Period_End_Date=stated_end,
                    )
                    rows.append(out)
    return rows


def implementation_cells(result) -> tuple[dict, list[str]]:
    cells: dict = {}
    clashes: list[str] = []
    import pandas as pd

    for r in result.itertuples(index=False):
        la = None if pd.isna(r.la_code) else r.la_code
        key = (r.measure, la, r.breakdown, group_key(r.group))
        den = None if pd.isna(r.denominator) else int(r.denominator)
        value = (int(r.numerator), den)
        if key in cells:
            clashes.append(f"two groups SQL Server would group together: {key} ({r.group!r})")
        cells[key] = value
    return cells, clashes


def describe(expected: dict, actual: dict, clashes: list[str]) -> str:
    lines = list(clashes)
    for key in sorted(set(expected) | set(actual), key=lambda k: tuple(str(x) for x in k)):
        e, a = expected.get(key), actual.get(key)
        if e != a:
            measure, la, breakdown, group = key
            lines.append(
                f"{measure} | la={la or 'England'} | {breakdown} | {' | '.join(group)}: "
                f"reference={e} implementation={a}"
            )
    return "\n".join(lines[:60]) + (f"\n... {len(lines) - 60} more" if len(lines) > 60 else "")


@pytest.mark.parametrize(("seed", "period_name"), [(1, "q3"), (2, "leap"), (3, "q3")])
def test_every_salt_cell_matches_the_reference(seed, period_name):
    import pyarrow as pa

    period = PERIODS[period_name]
    rows = generate(seed, period)
    expected = reference_salt([dict(r) for r in rows], period)
    result = compute_salt(pa.Table.from_pylist(rows, schema=SCHEMA), period=period, engine="duckdb")
    actual, clashes = implementation_cells(result)
    assert len(expected) > 150, "the generated store should fill many cells"
    assert not clashes and expected == actual, "\n" + describe(expected, actual, clashes)
    ascof = result[result.measure == "ASCOF 2A (Release 1)"]
    assert len(ascof) > 0
    for r in ascof.itertuples(index=False):
        assert Decimal(str(r.value)) == ascof_2a_value(int(r.numerator), int(r.denominator)), r


# ------------------------------------------------------------------------------------------------------------
# Differences found by the differential test, pinned one by one
# ------------------------------------------------------------------------------------------------------------


def test_sts002a_service_with_trailing_space_uses_only_its_latest_version():
    """salt.md §3 step 1: latest versions of services only, other event types all kept. `Service ` (trailing
    space) is a service (`=` ignores trailing spaces, main-tables.md §0), so its older open version (imported
    2023-10-01) must not come back as an "other" event and stretch the ST-Max cluster to today."""
    from salt_fixtures import PERIOD, cells, frame, request, service

    rows = [
        request("A", "2023-06-01", "2023-06-03", "Progress to Reablement/ST-Max"),
        service(
            "A",
            "Short Term Support: ST-Max",
            "2023-06-05",
            "2023-06-20",
            Event_Type="Service ",
            Event_Outcome="NFA - Support declined",
        ),
        service(
            "A",
            "Short Term Support: ST-Max",
            "2023-06-05",
            None,
            Event_Type="Service ",
            Event_Outcome="NFA - Support declined",
            ImportDate=datetime(2023, 10, 1, 9, 0),
        ),
    ]
    result = compute_salt(frame(rows), period=PERIOD, engine="duckdb", measures=["SALT STS001", "SALT STS002a"])
    assert cells(result, "SALT STS001", "Sequel") == {"Short Term Support: ST-Max": 1}
    assert cells(result, "SALT STS002a", "Sequel") == {
        "No_Chronology_No services provided – needs identified but support declined": 1
    }


def test_unlisted_values_group_as_sql_server_groups_them():
    """main-tables.md §0: GROUP BY, DISTINCT and PARTITION BY compare text case-insensitively and ignore trailing
    spaces, for values outside the defined lists too. Two new clients' requests with the unlisted outcome `Local
    outcome` / `local outcome ` and route `Self-funder` / `SELF-FUNDER` are one STS001 group of 2 (salt.md §2
    step 9); a long-term client whose rows say `Local reason` and `local reason ` has one PSR, not a conflict
    (salt.md §7 step 5)."""
    from salt_fixtures import PERIOD, cells, frame, request, service

    rows = [
        request("A", "2023-06-01", "2023-06-03", "Local outcome", Request_Route_of_Access="Self-funder"),
        request("B", "2023-06-01", "2023-06-03", "local outcome ", Request_Route_of_Access="SELF-FUNDER"),
        service("C", "Long Term Support: Community", "2021-01-01", Primary_Support_Reason="Local reason"),
        service("C", "Long Term Support: Community", "2021-01-01", Primary_Support_Reason="local reason "),
    ]
    result = compute_salt(frame(rows), period=PERIOD, engine="duckdb", measures=["SALT STS001", "SALT LTS001c"])
    outcome = cells(result, "SALT STS001", "Record type | Final outcome | Sequel")
    assert {group.casefold(): n for group, n in outcome.items()} == {
        "1 | no_chronology_local outcome | no_chronology_unable_to_classify": 2
    }
    route = cells(result, "SALT STS001", "Route of access | Sequel")
    assert {group.casefold(): n for group, n in route.items()} == {"self-funder | no_chronology_unable_to_classify": 2}
    psr = cells(result, "SALT LTS001c", "Age band | Primary support reason | Service type | Delivery mechanism")
    assert {group.casefold().rstrip(): n for group, n in psr.items()} == {
        "18-64 | local reason | long term support: community |": 1
    }


def test_latest_version_key_keeps_spaces_inside_the_concatenation():
    """salt.md §1.4: the request key is CONCAT(LA_CODE, ID, CLIENT_TYPE, EVENT_START_DATE, route). SQL Server
    ignores only the trailing spaces of the whole key, so `Service User ` in the middle of it makes another key
    than `Service User` (main-tables.md §0: CONCAT, trailing spaces). Both versions are then the latest of their
    key, and the lower outcome hierarchy (§1.8: Progress to Assessment 2 < NFA - Support declined 16) wins."""
    from salt_fixtures import PERIOD, cells, frame, request

    rows = [
        request(
            "A",
            "2023-06-01",
            "2023-06-03",
            "Progress to Assessment",
            Client_Type="Service User ",
            ImportDate=datetime(2024, 1, 10, 9, 0),
        ),
        request("A", "2023-06-01", "2023-06-03", "NFA - Support declined"),  # imported 2024-01-15
    ]
    result = compute_salt(frame(rows), period=PERIOD, engine="duckdb", measures=["SALT STS001"])
    assert cells(result, "SALT STS001", "Record type | Final outcome | Sequel") == {
        "1 | No_Chronology_Progress to Assessment | No_Chronology_Unable_To_Classify": 1
    }
