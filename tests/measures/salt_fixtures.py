"""Shared synthetic inputs for the SALT tests (no real records; every value is made up).

`row(...)` builds one raw-store row with the defaults of scenarios.md Part C: council 318, one submission per
event imported 2024-01-15 09:00 (inside both submission windows of Q3 2023/24), stated reporting period
2023-01-01..2023-12-31, a traced NHS number and a birth date for everyone, client type `Service User`.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

import pyarrow as pa
import pytest

from ascld.measures.salt import SALT_INPUT_COLUMNS, SaltPeriod

PS = date(2023, 4, 1)
PE = date(2023, 12, 31)
TODAY = date(2024, 6, 30)
PERIOD = SaltPeriod.for_period(PS, PE, today=TODAY)
IMPORTED = datetime(2024, 1, 15, 9, 0)

_ARROW_TYPES = {
    "string": pa.string(),
    "timestamp": pa.timestamp("us"),
    "date": pa.date32(),
    "int64": pa.int64(),
}
SCHEMA = pa.schema([(name, _ARROW_TYPES[dtype]) for name, dtype in SALT_INPUT_COLUMNS.items()])


def d(text: str) -> date:
    return date.fromisoformat(text)


def row(
    person: str,
    event_type: str | None,
    start: str | date | None,
    end: str | date | None = None,
    *,
    age: int | None = 40,
    la: str = "318",
    **fields: Any,
) -> dict[str, Any]:
    """One input row for `person` (traced NHS number `N-<person>`, LA id `L-<person>`).

    `age` sets the birth year and month (January of PE.year - age) so that the SALT age at PE is `age`;
    `age=None` leaves both unknown. Any input column can be overridden by keyword.
    """
    out: dict[str, Any] = {name: None for name in SALT_INPUT_COLUMNS}
    out.update(
        LA_Code=la,
        LA_Name=f"Council {la}",
        ImportDate=IMPORTED,
        Reporting_Period_Start_Date=date(2023, 1, 1),
        Reporting_Period_End_Date=PE,
        Der_NHS_Number_Traced_Pseudo=f"N-{person}",
        LA_Person_Unique_Identifier=f"L-{person}",
        Der_Birth_Year=None if age is None else PE.year - age,
        Der_Birth_Month=None if age is None else 1,
        Client_Type="Service User",
        Event_Type=event_type,
        Event_Start_Date=d(start) if isinstance(start, str) else start,
        Event_End_Date=d(end) if isinstance(end, str) else end,
    )
    unknown = set(fields) - set(SALT_INPUT_COLUMNS)
    if unknown:
        raise KeyError(f"not SALT input columns: {sorted(unknown)}")
    for key, value in fields.items():
        is_date = SALT_INPUT_COLUMNS[key] == "date"
        out[key] = d(value) if is_date and isinstance(value, str) else value
    return out


def request(person: str, start: str, end: str | None, outcome: str, **fields: Any) -> dict[str, Any]:
    fields.setdefault("Request_Route_of_Access", "Community / Other route")
    return row(person, "Request", start, end, Event_Outcome=outcome, **fields)


def service(
    person: str, service_type: str, start: str, end: str | None = None, **fields: Any
) -> dict[str, Any]:
    return row(person, "Service", start, end, Service_Type=service_type, **fields)


def frame(rows: list[dict[str, Any]]) -> pa.Table:
    """The rows as an Arrow table with the SALT input schema (so all-NULL columns keep their type)."""
    return pa.Table.from_pylist(rows, schema=SCHEMA)


def cells(result: Any, measure: str, breakdown: str, la_code: str | None = "318") -> dict[str, int]:
    """{group: numerator} for one measure, breakdown and council (None = national) of a computed table."""
    sel = result[(result.measure == measure) & (result.breakdown == breakdown)]
    sel = sel[sel.la_code.isna()] if la_code is None else sel[sel.la_code == la_code]
    return {g: int(n) for g, n in zip(sel.group, sel.numerator, strict=True)}


@pytest.fixture(scope="session")
def spark_backend():
    """One local Spark session for the whole run (about 12 s to start).

    Arrow transfer is switched on for speed: SALT stores each intermediate step (`SaltContext.materialize`),
    and without Arrow every stored step is read back through Python worker processes.
    """
    pytest.importorskip("pyspark")
    from ascld.engine import connect, spark_session

    spark_session().conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
    return connect("spark")


# ------------------------------------------------------------------------------------------------------------
# A seeded multi-council raw store (for engine comparisons)
# ------------------------------------------------------------------------------------------------------------

_OUTCOMES = (
    "Progress to Reablement/ST-Max",
    "Progress to Assessment",
    "Admitted to hospital",
    "Progress to Support Planning / Services",
    "NFA - Deceased",
    "NFA - Support declined",
    "NFA - Information & Advice / Signposting only",
    "NFA- Other",
    "Service ended as planned",
    "NFA - Moved to another LA",
    "No change in package",
    "progress to assessment",
    "Local outcome",
    None,
)
_SERVICES = (
    "Long Term Support: Community",
    "Long Term Support: Residential Care",
    "Long Term Support: Nursing Care",
    "Long Term Support: Prison",
    "Short Term Support: ST-Max",
    "Short Term Support: ST-Max",
    "Short Term Support: Ongoing Low Level",
    "Short Term Support: Other Short Term",
    "long term support: community",
)
_MECHANISMS = (
    "Direct Payment",
    "CASSR Managed Personal Budget",
    "CASSR Commissioned Support",
    " direct payment",
    None,
)
_PSR = (
    "Mental Health Support",
    "Learning Disability Support",
    "Physical Support: Personal care support",
    "Unknown",
    None,
    "Local reason",
)
_ETHNICITY = (
    "White - Irish",
    "Asian or Asian British - Indian",
    "No data - Undeclared or Not known",
    None,
    "Other",
)
_EMPLOYMENT = (
    "Paid: 16 or more hours a week",
    "Not in Paid Employment (seeking work)",
    "Unknown",
    None,
    "Working",
)
_ACCOMMODATION = ("Tenant", "Registered care home", "Shared Lives scheme", "Unknown", None, " Tenant ")
_ROUTES = ("Community / Other route", "Discharge from Hospital", "community / other route", None)


def synthetic_store(
    seed: int = 7, councils: tuple[str, ...] = ("101", "202", "303"), people: int = 30
) -> pa.Table:
    """A small made-up raw store: people with request -> assessment -> service journeys, carers, several
    submissions per council (an event's end date can change between files), case variants, NULLs and
    invalid values. Deterministic for a given seed."""
    import random
    from datetime import timedelta

    rng = random.Random(seed)
    day0 = date(2022, 9, 1)
    files = (
        (datetime(2023, 10, 15, 10, 0), date(2022, 10, 1), date(2023, 9, 30)),
        (datetime(2024, 1, 20, 14, 30), date(2023, 1, 1), date(2023, 12, 31)),
        (datetime(2024, 2, 10, 9, 0), date(2023, 1, 1), date(2023, 12, 31)),
    )
    rows: list[dict[str, Any]] = []

    def when(offset: int) -> date:
        return day0 + timedelta(days=offset)

    for la in councils:
        for n in range(people):
            person = f"{la}-{n}"
            carer = rng.random() < 0.15
            age = rng.choice([17, 25, 40, 64, 65, 80, None]) if rng.random() < 0.95 else None
            traced = None if rng.random() < 0.1 else f"N-{person if rng.random() < 0.95 else 'shared'}"
            common = {
                "Der_NHS_Number_Traced_Pseudo": traced,
                "LA_Person_Unique_Identifier": f"L-{person}",
                "Gender": rng.choice(["Male", "Female", "Other", "Unknown", "male"]),
                "Ethnicity": rng.choice(_ETHNICITY),
                "Primary_Support_Reason": rng.choice(_PSR),
                "Employment_Status": rng.choice(_EMPLOYMENT),
                "Accommodation_Status": rng.choice(_ACCOMMODATION),
                "Has_Unpaid_Carer": rng.choice(["Yes", "No", "Unknown", None]),
                "Client_Type": rng.choice(["Carer", "Carer known by association"])
                if carer
                else rng.choice(["Service User", "Service User", "service user"]),
                "Date_of_Death": when(rng.randint(300, 500)) if rng.random() < 0.05 else None,
            }
            events = []
            t = rng.randint(0, 420)
            for _ in range(rng.randint(1, 5)):
                kind = rng.choice(["Request", "Assessment", "Service", "Service", "Review"])
                length = rng.randint(0, 60)
                end = None if rng.random() < 0.2 else when(t + length)
                event = {
                    "Event_Type": kind,
                    "Event_Start_Date": when(t),
                    "Event_End_Date": end,
                    "Event_Outcome": rng.choice(_OUTCOMES),
                }
                if kind == "Request":
                    event["Request_Route_of_Access"] = rng.choice(_ROUTES)
                if kind == "Service":
                    if carer:
                        event["Service_Type"] = rng.choice(
                            [
                                "Carer Support: Direct to Carer",
                                "Carer Support: Support involving the person cared-for",
                            ]
                        )
                    else:
                        event["Service_Type"] = rng.choice(_SERVICES)
                    event["Delivery_Mechanism"] = rng.choice(_MECHANISMS)
                    event["Service_Component"] = rng.choice(["Direct Payment", "Reablement", None])
                events.append(event)
                t += length + rng.choice([0, 1, 2, 3, 4, 5, 10, 30])
            if not carer and rng.random() < 0.4:
                # A request that leads to ST-Max (STS001 -> STS002a cohort), sometimes then long-term support.
                s0 = rng.randint(200, 450)
                events.append(
                    {
                        "Event_Type": "Request",
                        "Event_Start_Date": when(s0),
                        "Event_End_Date": when(s0 + 3),
                        "Event_Outcome": "Progress to Reablement/ST-Max",
                        "Request_Route_of_Access": rng.choice(_ROUTES[:2]),
                    }
                )
                st_end = None if rng.random() < 0.1 else when(s0 + rng.randint(10, 40))
                events.append(
                    {
                        "Event_Type": "Service",
                        "Service_Type": "Short Term Support: ST-Max",
                        "Event_Start_Date": when(s0 + 5),
                        "Event_End_Date": st_end,
                        "Event_Outcome": rng.choice(_OUTCOMES[:-1]),
                    }
                )
                if st_end is not None and rng.random() < 0.5:
                    follow = when(st_end.toordinal() - day0.toordinal() + rng.randint(1, 5))
                    events.append(
                        {
                            "Event_Type": rng.choice(["Service", "Review"]),
                            "Service_Type": rng.choice(_SERVICES[:4]),
                            "Event_Start_Date": follow,
                            "Event_End_Date": None,
                            "Event_Outcome": rng.choice(_OUTCOMES),
                        }
                    )
            if not carer and rng.random() < 0.25:
                # A long-term client since before the year, with ST-Max during it (STS002b, LTS001c).
                events.append(
                    {
                        "Event_Type": "Service",
                        "Service_Type": rng.choice(_SERVICES[:3]),
                        "Event_Start_Date": when(rng.randint(0, 60)),
                        "Event_End_Date": None,
                        "Delivery_Mechanism": rng.choice(_MECHANISMS),
                        "Event_Outcome": None,
                    }
                )
                s1 = rng.randint(250, 450)
                events.append(
                    {
                        "Event_Type": "Service",
                        "Service_Type": "Short Term Support: ST-Max",
                        "Event_Start_Date": when(s1),
                        "Event_End_Date": when(s1 + rng.randint(5, 30)),
                        "Event_Outcome": rng.choice(_OUTCOMES[:-1]),
                    }
                )
            for file_no, (imported, rps, rpe) in enumerate(files):
                for event in events:
                    if file_no == 0 and rng.random() < 0.3:
                        continue
                    version = dict(event)
                    if file_no == 0 and version["Event_End_Date"] is not None and rng.random() < 0.3:
                        version["Event_End_Date"] = None  # open in the older file, closed later
                    fields = {
                        **common,
                        **version,
                        "ImportDate": imported,
                        "Reporting_Period_Start_Date": rps,
                        "Reporting_Period_End_Date": rpe,
                    }
                    start = fields.pop("Event_Start_Date")
                    end = fields.pop("Event_End_Date")
                    kind = fields.pop("Event_Type")
                    rows.append(row(person, kind, start, end, age=age, la=la, **fields))
    return frame(rows)
