"""Fixtures for the main-tables tests: tiny stores from scenario rows, engines, a synthetic national store.

Every row is synthetic. Scenario tests write a few dicts to Parquet and run the real build on them; the
cross-engine test uses `synthetic_store`, a seeded multi-council, multi-quarter store full of the edge cases
the method cares about (case differences, blanks, deaths, Release 1 values, resubmissions, open services).
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from ascld.engine import connect
from ascld.national.main_tables import BuildParams, build_main_tables, store_table_from_records

D, T = dt.date, dt.datetime

# A long-term service row of the main-table tests (cost fields added by each test).
SERVICE = {
    "Der_NHS_Number_Traced_Pseudo": "Q",
    "Client_Type": "Service user",
    "Event_Type": "Service",
    "Event_Start_Date": D(2024, 5, 1),
    "Service_Type": "Long term support: Community",
    "Service_Component": "Home support or domiciliary care",
    "Delivery_Mechanism": "Direct payment",
    "Cost_Frequency_Unit_Type": "Weekly",
}


def month_starts(first: dt.date, last: dt.date) -> list[dt.date]:
    """First days of the months from `first`'s month to `last`'s month."""
    out, y, m = [], first.year, first.month
    while (y, m) <= (last.year, last.month):
        out.append(D(y, m, 1))
        y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return out


def covering_rows(
    first: dt.date, last: dt.date, person: str = "FILL", per_month: int = 1
) -> list[dict[str, Any]]:
    """Closed events ending in every month; with one a month a small file (< 100 events) derives exactly this
    period (main-tables.md §2 step 5). More a month cycle through the four event types."""
    types = ("Request", "Assessment", "Review", "Service")
    return [
        {
            "Event_Type": types[i % 4] if per_month > 1 else "Request",
            "Event_Start_Date": m.replace(day=10),
            "Event_End_Date": m.replace(day=12),
            "LA_Person_Unique_Identifier": f"{person}{m:%y%m}{i}",
            "Client_Type": "Service user",
        }
        for m in month_starts(first, last)
        for i in range(per_month)
    ]


def submission(
    rows: Iterable[Mapping[str, Any]],
    *,
    la_code: str = "318",
    la_name: str = "X",
    imported: dt.datetime,
    file_id: str,
    start: dt.date | None = None,
    end: dt.date | None = None,
) -> list[dict[str, Any]]:
    """Stamp rows with one file's submission fields."""
    out = []
    for r in rows:
        row = {
            "LA_Code": la_code,
            "LA_Name": la_name,
            "ImportDate": imported,
            "ImportFileId": file_id,
            "Reporting_Period_Start_Date": start,
            "Reporting_Period_End_Date": end,
        }
        row.update(r)
        out.append(row)
    return out


def write_store(folder: Path, records: Iterable[Mapping[str, Any]]) -> Path:
    """A one-file Parquet store with the national columns; unspecified columns are NULL. Record IDs are
    numbered in order unless given."""
    rows = []
    for n, r in enumerate(records, start=1):
        row = dict(r)
        row.setdefault("Der_Unique_Record_ID", n)
        rows.append(row)
    folder.mkdir(parents=True, exist_ok=True)
    pq.write_table(store_table_from_records(rows), folder / "part-0.parquet")
    return folder


@pytest.fixture(scope="session")
def duck():
    return connect("duckdb")


@pytest.fixture(scope="session")
def spark_con():
    pytest.importorskip("pyspark")
    return connect("spark")


@pytest.fixture
def build(tmp_path, duck):
    """build(records, mode, start, end, as_of, **options) -> (main table as a list of dicts, BuildResult)."""

    def run(records, mode, start, end, as_of, con=None, engine="duckdb", **options):
        store = write_store(tmp_path / f"store-{len(list(tmp_path.iterdir()))}", records)
        params = BuildParams(mode, start, end, as_of, **options)
        result = build_main_tables(
            store, params, engine=engine, con=con or duck, keep_tables=True, hash_inputs=False
        )
        rows = result.tables["main_table"].to_pyarrow().to_pylist()
        return rows, result

    return run


# ---- the synthetic multi-council, multi-quarter store ---------------------------------------------------

COUNCILS = (("318", "Northshire"), ("503", "Southby"), ("714", "City of Westminster"), ("906", "Isles"))
OUTCOMES = (
    "NFA: Other",
    "Progress to support planning or services",
    "NFA - Deceased",
    "NFA: Support declined",
    "Progress to financial assessment",
    "nfa: support ended as planned",
    "Made up outcome",
    None,
    "",
)
SERVICES = (
    ("Long term support: Community", "Home support or domiciliary care"),
    ("Short Term Support: ST-Max", "Reablement"),
    ("long term support: residential care", "Long term residential care"),
    ("Carer Support: Direct to Carer", "Carer Respite"),
    ("Long term support: Nursing care", None),
)
MECHANISMS = ("Direct payment", "CASSR Commissioned Support", "cassr managed personal budget", None, "")
EVENT_TYPES = ("Request", "Assessment", "Service", "Review", "service", "REVIEW ", None)


def _person(rng: random.Random, la: str, n: int) -> dict[str, Any]:
    kind = rng.random()
    return {
        "Der_NHS_Number_Traced_Pseudo": f"T{la}{n}" if kind < 0.55 else None,
        "Der_NHS_Number_Pseudo": f"N{la}{n}" if 0.45 < kind < 0.75 else None,
        "LA_Person_Unique_Identifier": f"P{n}" if kind < 0.93 else ("" if kind < 0.96 else None),
        "Der_Birth_Year": rng.choice([None, *range(1925, 2007)]),
        "Der_Birth_Month": rng.randint(1, 12),
        "Gender": rng.choice(["Male", "female", "Unknown", "Not a gender", None]),
        "Ethnicity": rng.choice(
            ["White: Irish", "White - Irish", "asian or asian british: indian", "Mixed: odd", None]
        ),
        "Client_Type": rng.choice(
            ["Service user", "Service User", "SERVICE USER  ", "Carer", "Unpaid carer"]
        ),
        "Accommodation_Status": rng.choice(["Tenant", "Registered care home", "Somewhere", None]),
    }


def _event(rng: random.Random, start: dt.date, person: dict[str, Any]) -> dict[str, Any]:
    etype = rng.choice(EVENT_TYPES)
    ev_start = start + dt.timedelta(days=rng.randrange(-200, 360))
    ev_end = (
        None
        if (etype or "").strip().lower() == "service" and rng.random() < 0.6
        else (ev_start + dt.timedelta(days=rng.randrange(0, 120)))
    )
    service_type, component = rng.choice(SERVICES)
    row = dict(person)
    row.update(
        Event_Type=etype,
        Event_Start_Date=ev_start,
        Event_End_Date=ev_end,
        Event_Outcome=rng.choice(OUTCOMES),
        Request_Route_of_Access=rng.choice(["Discharge from Hospital", None]),
        Assessment_Type=rng.choice(["Long term assessment", "Short Term Assessment", None]),
        Service_Type=service_type,
        Service_Component=component,
        Delivery_Mechanism=rng.choice(MECHANISMS),
        Unit_Cost=rng.choice([None, 150.0, 150.004, 150.005, 18.5, 10.0049999]),
        Cost_Frequency_Unit_Type=rng.choice(["Weekly", "weekly", "Hourly", None]),
        Planned_units_per_week=rng.choice([None, 1.0, 1.004, 10.0]),
        Review_Reason=rng.choice(
            ["Planned", "Unplanned - Carer related", "Review of short term support", None]
        ),
        Der_Conversation=rng.choice([None, 0, 1]),
        Date_of_Death=rng.choice([None] * 8 + [ev_start + dt.timedelta(days=rng.randrange(-30, 60))]),
    )
    return row


def synthetic_records(
    seed: int = 7, people_per_council: int = 60, events_per_quarter: int = 50
) -> list[dict]:
    """Quarterly rolling 12-month files (2023-04 .. 2025-09) for four councils, with resubmissions.

    Each later file repeats most earlier events (with some changes), as councils' rolling extracts do.
    """
    rng = random.Random(seed)
    records: list[dict[str, Any]] = []
    for la, name in COUNCILS:
        people = [_person(rng, la, n) for n in range(people_per_council)]
        pool: list[dict[str, Any]] = []
        for q, quarter_end in enumerate(
            [
                D(2024, 3, 31),
                D(2024, 6, 30),
                D(2024, 9, 30),
                D(2024, 12, 31),
                D(2025, 3, 31),
                D(2025, 6, 30),
                D(2025, 9, 30),
            ]
        ):
            period_start = D(quarter_end.year - 1, quarter_end.month % 12 + 1, 1)
            new = [_event(rng, period_start, rng.choice(people)) for _ in range(events_per_quarter)]
            # Some events are recorded twice in one file (another outcome or conversation flag).
            new += [
                dict(e, Event_Outcome=rng.choice(OUTCOMES), Der_Conversation=rng.choice([None, 0, 1]))
                for e in new
                if rng.random() < 0.1
            ]
            pool += new
            changed = []
            for ev in pool:
                if rng.random() < 0.1 and ev["Event_End_Date"] is None:
                    ev = dict(ev, Event_End_Date=quarter_end - dt.timedelta(days=rng.randrange(0, 60)))
                changed.append(ev)
            # A rolling 12-month extract: events ending before the window or starting after it are left out.
            pool = [
                ev
                for ev in changed
                if (ev["Event_End_Date"] is None or ev["Event_End_Date"] >= period_start)
                and ev["Event_Start_Date"] <= quarter_end
            ]
            imported = T(quarter_end.year, quarter_end.month, 1) + dt.timedelta(
                days=rng.randrange(40, 60), hours=rng.randrange(8, 18)
            )
            rows = covering_rows(period_start, quarter_end, person=f"F{la}", per_month=8) + pool
            name_variant = name.upper() if (q == 3 and la == "503") else name
            records += submission(
                rows,
                la_code=la,
                la_name=name_variant,
                imported=imported,
                file_id=f"{la}-{q}",
                start=period_start,
                end=quarter_end,
            )
            if q == 5 and la == "318":  # a resubmission of the same quarter a week later
                records += submission(
                    rows[: len(rows) // 2],
                    la_code=la,
                    la_name=name,
                    imported=imported + dt.timedelta(days=7),
                    file_id=f"{la}-{q}b",
                    start=period_start,
                    end=quarter_end,
                )
    return records


@pytest.fixture(scope="session")
def synthetic_store(tmp_path_factory) -> Path:
    return write_store(tmp_path_factory.mktemp("synthetic") / "store", synthetic_records())
