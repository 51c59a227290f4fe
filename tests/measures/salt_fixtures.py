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
    """One local Spark session for the whole run (about 12 s to start)."""
    pytest.importorskip("pyspark")
    from ascld.engine import connect

    return connect("spark")
