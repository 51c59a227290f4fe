"""DuckDB and Spark give identical dashboard tables (DESIGN.md principle 2), and Spark reproduces the D-3
waiting-time medians of scenarios.md on its own."""

from __future__ import annotations

import pyarrow as pa
import pytest
from salt_fixtures import spark_backend  # noqa: F401 - a fixture
from test_dashboard_scenarios import D2, PERSON, D, _d1_rows, d3_rows

from ascld.engine import connect
from ascld.measures.dashboard import compute_dashboard, main_table_from_records

PERIOD = ("2025-04-01", "2026-03-31")


def _single() -> pa.Table:
    rows = _d1_rows(with_residential=True)
    for n, (service, freq, cost, units, start, end) in enumerate(D2, start=1):
        rows.append(
            {
                "LA_Code": "318",
                "LA_Name": "Council 318",
                "Event_Type": "Service",
                "Service_Type_Cleaned": "Long term support: Community",
                "Service_Type_Grouped": "Long Term Support",
                "Service_Component_Cleaned": service,
                "Cost_Frequency_Unit_Type_Cleaned": freq,
                "Unit_Cost": cost,
                "Planned_Units_Per_Week": units,
                "Event_Start_Date": D(start),
                "Der_Event_End_Date": D(end) if end else None,
                PERSON: f"K{n}",
                "Der_Unique_Event_Ref": f"318_K{n}",
                "Der_Unique_Record_ID": 100 + n,
            }
        )
    return main_table_from_records(rows)


def _normalised(table: pa.Table):
    cols = sorted(table.column_names)
    frame = table.select(cols).to_pandas()
    return frame.astype(str).sort_values(cols).reset_index(drop=True)


def _run(engine, single, joined):
    return compute_dashboard(single, joined, period=PERIOD, engine=engine, refresh_date="2026-05-19")


@pytest.mark.spark
@pytest.mark.slow
def test_duckdb_and_spark_give_identical_dashboard_tables(spark_backend):  # noqa: F811
    inputs = (_single(), main_table_from_records(d3_rows()))  # the same record ids for both engines
    on_duckdb, on_spark = _run(connect("duckdb"), *inputs), _run(spark_backend, *inputs)
    assert on_duckdb.tables.keys() == on_spark.tables.keys()
    for key, table in on_duckdb.tables.items():
        assert table.num_rows == on_spark.tables[key].num_rows, key
        assert _normalised(table).equals(_normalised(on_spark.tables[key])), key
    assert on_duckdb.rows == on_spark.rows
    medians = {(r["measure"], r["period_start"]): (r["value"], r["numerator"]) for r in on_spark.rows}
    assert medians == {
        ("Dashboard WT1", "2024-04-01"): (19, 1),
        ("Dashboard WT1", "2024-07-01"): (2.0, 2),
        ("Dashboard WT1", "2024-10-01"): (9, 1),
        ("Dashboard WT2", "2024-04-01"): (45, 1),
        ("Dashboard WT2", "2024-07-01"): (9, 1),
        ("Dashboard WT2", "2024-10-01"): (19, 1),
    }


@pytest.mark.spark
@pytest.mark.slow
def test_an_arrow_main_table_with_null_decimal_costs_runs_on_spark(spark_backend):  # noqa: F811
    """The main tables store Unit_Cost and Planned_Units_Per_Week as decimal(18, 2), NULL where not given. Handed
    over as an Arrow table, Spark got it through an Ibis memtable (pandas), which raised TypeError on the NULL."""
    table = _single()
    costs = table.column("Unit_Cost").to_pylist()
    costs[-1] = None
    for name, values in (("Unit_Cost", costs), ("Planned_Units_Per_Week", table.column("Planned_Units_Per_Week"))):
        decimals = pa.array(values, pa.float64()).cast(pa.decimal128(18, 2))
        table = table.set_column(table.schema.get_field_index(name), name, decimals)
    assert table.column("Unit_Cost").null_count >= 1
    on_duckdb, on_spark = _run(connect("duckdb"), table, None), _run(spark_backend, table, None)
    for key, want in on_duckdb.tables.items():
        assert _normalised(on_spark.tables[key]).equals(_normalised(want)), key
    services = len(D2) + sum(1 for r in _d1_rows(True) if r["Event_Type"] == "Service")
    assert on_spark.tables["services"].num_rows == services
