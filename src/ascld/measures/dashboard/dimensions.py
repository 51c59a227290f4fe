"""Dimension tables of the dashboard (dashboard.md §5): calendar, geography, age bands and the distinct
values of primary support reason, gender, ethnicity and client type.

The calendar depends only on the reporting period, so it is built directly as an Arrow table; the others
are Ibis expressions over the master table.
"""

from __future__ import annotations

import calendar
import datetime as dt
from typing import Any

import ibis
import ibis.expr.types as ir
import pyarrow as pa

from ascld.measures.ascof.common import add_months, ci_eq, end_of_month
from ascld.measures.dashboard import reference as ref
from ascld.measures.dashboard.collation import group_by_collation
from ascld.measures.dashboard.facts import costs_quarter

#: dimension table -> master-table column whose distinct values it lists
DISTINCT_DIMENSIONS = {
    "psr": "Primary_Support_Reason",
    "gender": "Gender",
    "ethnicity": "Ethnicity",
    "client_type": "Client_Type",
}


def _mmm_yy(d: dt.date) -> str:
    """SQL Server FORMAT(d, 'MMM yy') in English, e.g. `Apr 25`."""
    return f"{calendar.month_abbr[d.month]} {d.year % 100:02d}"


def _financial_quarter(d: dt.date) -> tuple[str, str]:
    """(`Q1`..`Q4`, `25-26_Q1`): financial quarters, Q1 = April to June."""
    number = (d.month - 4) % 12 // 3 + 1
    first_year = d.year if d.month >= 4 else d.year - 1
    name = f"Q{number}"
    return name, f"{first_year % 100:02d}-{(first_year + 1) % 100:02d}_{name}"


def _week_end(d: dt.date, first: dt.date, last: dt.date) -> dt.date | None:
    """The Sunday on or after `d`; NULL in a partial first or last week of the period (dashboard.md §5)."""
    sunday = d + dt.timedelta(days=(ref.parameter_int("week_ends_on") - d.weekday()) % 7)
    first_week_partial = (
        (d.year, d.month) == (first.year, first.month)
        and d.day <= 7
        and (sunday.year, sunday.month) == (first.year, first.month)
        and 1 <= sunday.day <= 6
    )
    if first_week_partial or sunday > last:
        return None
    return sunday


def waiting_times_period(start: dt.date, end: dt.date) -> str:
    """`Waiting_Times_Period_Covered`: the period as `MMM yy - MMM yy`, its start moved on 3 months when it
    starts in April to June 2023 (the first CLD quarter)."""
    shifted = start
    if ref.parameter_date("waiting_times_shift_from") <= start <= ref.parameter_date("waiting_times_shift_to"):
        shifted = add_months(start, ref.parameter_int("waiting_times_shift_months"))
    return f"{_mmm_yy(shifted)} - {_mmm_yy(end)}"


def build_calendar(period: tuple[dt.date, dt.date], refresh_date: dt.date) -> pa.Table:
    """`LA_PBI_Calendar_Dim`: one row per day of the 12-month period (dashboard.md §5).

    Examples:
        >>> t = build_calendar((dt.date(2025, 4, 1), dt.date(2026, 3, 31)), dt.date(2026, 5, 19))
        >>> t.num_rows, t.column("Quarter_Name_Year")[0].as_py(), t.column("Current_Reporting_Period")[0].as_py()
        (365, '25-26_Q1', 'Apr 25 - Mar 26')
    """
    start, end = period
    qs, qe = costs_quarter(end)
    rows: list[dict[str, Any]] = []
    day = start
    while day <= end:
        quarter_end_month = ((day.month - 1) // 3) * 3 + 3
        quarter, quarter_year = _financial_quarter(day)
        rows.append(
            {
                "Calendar_Date": day,
                "Month_Name": calendar.month_name[day.month],
                "Month_Num": day.month,
                "Year": day.year,
                "Last_Day_of_Quarter": end_of_month(dt.date(day.year, quarter_end_month, 1)),
                "Last_Day_of_Month": end_of_month(day),
                "Last_Day_of_Week": _week_end(day, start, end),
                "Quarter_Name": quarter,
                "Quarter_Name_Year": quarter_year,
                "Reporting_Period_Start_Date": start,
                "Reporting_Period_End_Date": end,
                "Current_Reporting_Period": f"{_mmm_yy(start)} - {_mmm_yy(end)}",
                "Costs_Reporting_period": f"{_mmm_yy(qs)} - {_mmm_yy(qe)}",
                "Waiting_Times_Period_Covered": waiting_times_period(start, end),
                "ASCOF_Period_Covered": ref.parameter("ascof_period_covered"),
                "Refresh_Date": refresh_date,
            }
        )
        day += dt.timedelta(days=1)
    schema = pa.schema(
        [
            ("Calendar_Date", pa.date32()),
            ("Month_Name", pa.string()),
            ("Month_Num", pa.int32()),
            ("Year", pa.int32()),
            ("Last_Day_of_Quarter", pa.date32()),
            ("Last_Day_of_Month", pa.date32()),
            ("Last_Day_of_Week", pa.date32()),
            ("Quarter_Name", pa.string()),
            ("Quarter_Name_Year", pa.string()),
            ("Reporting_Period_Start_Date", pa.date32()),
            ("Reporting_Period_End_Date", pa.date32()),
            ("Current_Reporting_Period", pa.string()),
            ("Costs_Reporting_period", pa.string()),
            ("Waiting_Times_Period_Covered", pa.string()),
            ("ASCOF_Period_Covered", pa.string()),
            ("Refresh_Date", pa.date32()),
        ]
    )
    return pa.Table.from_pylist(rows, schema=schema)


def build_geography(master: ir.Table, la_lookup: pa.Table | None = None) -> pa.Table:
    """Geography: the LA -> region lookup (`LA_Code`, `LA_Name`, `Region`) plus the England row.

    Without a lookup, the councils of the master table are listed with an empty region.
    """
    if la_lookup is not None:
        base = la_lookup.select(["LA_Code", "LA_Name", "Region"]).cast(
            pa.schema([("LA_Code", pa.string()), ("LA_Name", pa.string()), ("Region", pa.string())])
        )
    else:
        councils = master.select("LA_Code", "LA_Name").distinct().order_by("LA_Code").to_pyarrow()
        base = pa.table(
            {
                "LA_Code": councils.column("LA_Code").cast(pa.string()),
                "LA_Name": councils.column("LA_Name").cast(pa.string()),
                "Region": pa.nulls(councils.num_rows, pa.string()),
            }
        )
    england = pa.table(
        {
            "LA_Code": [ref.parameter("england_code")],
            "LA_Name": [ref.parameter("england_name")],
            "Region": [ref.parameter("england_region")],
        }
    )
    return pa.concat_tables([base, england])


def build_distinct_dimension(master: ir.Table, column: str) -> ir.Table:
    """The distinct values of one master-table column (PSR, gender, ethnicity, client type), compared
    case-insensitively (SQL Server's collation)."""
    return group_by_collation(master, [column]).order_by(column)


def build_age_bands(master: ir.Table) -> ir.Table:
    """Distinct `Der_Age_Band` with the dashboard's sort order (95 and above first; Unknown last)."""
    bands = group_by_collation(master, ["Der_Age_Band"])
    order = ibis.cases(
        *[(ci_eq(bands.Der_Age_Band, band), n) for band, n in ref.age_band_order().items()], else_=ibis.null("int64")
    )
    return bands.mutate(Sort_Order=order).order_by(["Sort_Order", "Der_Age_Band"])
