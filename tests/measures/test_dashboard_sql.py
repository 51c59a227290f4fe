"""The emitted dashboard SQL (`--emit-sql`) gives the scenario figures when run step by step on DuckDB, and
compiles for SQL Server and Spark."""

from __future__ import annotations

import duckdb
import pytest
from test_dashboard_scenarios import D2, D2_EXPECTED, PERSON, D, d3_rows

from ascld.measures.dashboard import main_table_from_records
from ascld.measures.dashboard.sql import dashboard_sql


def _run(con, sql, steps):
    for step in steps:
        con.execute(f"CREATE OR REPLACE TABLE {step} AS {sql[step]}")


def test_emitted_duckdb_sql_gives_the_d3_medians():
    sql = dashboard_sql("2025-03-31", "duckdb")
    con = duckdb.connect()
    joined_table = main_table_from_records(d3_rows())  # noqa: F841 - read by DuckDB by name
    con.execute("CREATE TABLE joined_table AS SELECT * FROM joined_table")
    _run(con, sql, ["waiting_time_events", "waiting_time_links", "waiting_time_medians"])
    got = {
        (metric, str(start)): (median, n)
        for metric, start, median, n in con.execute(
            "SELECT Metric, Period_Start, Median_Waiting_Time, Number_Of_Waiting_Times_Identified "
            "FROM waiting_time_medians WHERE Age_Band = '65 and above'"
        ).fetchall()
    }
    assert got == {
        ("WT1", "2024-04-01"): (19, 1),
        ("WT1", "2024-07-01"): (2.0, 2),
        ("WT1", "2024-10-01"): (9, 1),
        ("WT2", "2024-04-01"): (45, 1),
        ("WT2", "2024-07-01"): (9, 1),
        ("WT2", "2024-10-01"): (19, 1),
    }


def test_emitted_duckdb_sql_gives_the_d2_costs():
    rows = []
    for n, (service, freq, cost, units, start, end) in enumerate(D2, start=1):
        rows.append(
            {
                "LA_Code": "318",
                "Event_Type": "Service",
                "Service_Type_Cleaned": "Long term support: Community",
                "Service_Type_Grouped": "Long term support",
                "Service_Component_Cleaned": service,
                "Cost_Frequency_Unit_Type_Cleaned": freq,
                "Unit_Cost": cost,
                "Planned_Units_Per_Week": units,
                "Event_Start_Date": D(start),
                "Der_Event_End_Date": D(end) if end else None,
                PERSON: f"P{n}",
                "Der_Unique_Event_Ref": f"318_{n}",
            }
        )
    sql = dashboard_sql("2026-03-31", "duckdb")
    con = duckdb.connect()
    single_table = main_table_from_records(rows)  # noqa: F841 - read by DuckDB by name
    con.execute("CREATE TABLE single_table AS SELECT * FROM single_table")
    _run(con, sql, ["master_table", "services_fact", "costs_fact"])
    got = dict(con.execute("SELECT Service_Component, Total_Cost_Period FROM costs_fact").fetchall())
    assert sorted(got) == sorted(D2_EXPECTED)
    for service, (_, _, total) in D2_EXPECTED.items():
        assert got[service] == pytest.approx(total, abs=0.01)


@pytest.mark.parametrize("dialect", ["mssql", "pyspark"])
def test_dashboard_sql_compiles(dialect):
    sql = dashboard_sql("2026-03-31", dialect)
    assert {"master_table", "requests_fact", "costs_fact", "dq_values", "waiting_time_medians"} <= set(sql)
    assert "single_table" in sql["master_table"] and "dq_codes" in sql["dq_values"]
