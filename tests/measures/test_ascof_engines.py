"""DuckDB and Spark give identical ASCOF outputs (DESIGN.md principle 2) on a seeded synthetic multi-council
store, and Spark reproduces the scenario figures on its own."""

from __future__ import annotations

import pyarrow as pa
import pytest
from ascof_fixtures import (
    figures,
    main_table,
    scenario_2a_1,
    scenario_3d_1,
    scenario_3d_2,
    synthetic_store,
    synthetic_store_inputs,
)

from ascld.engine import connect
from ascld.measures.ascof import run_ascof

PERIOD = ("2024-07-01", "2025-06-30")
SCENARIO_LA = {"2A": ("901", "Scenario 2A"), "3D": ("902", "Scenario 3D")}


def _store() -> dict:
    main, spells = synthetic_store()
    extra = [
        {**row, "LA_Code": SCENARIO_LA["2A"][0], "LA_Name": SCENARIO_LA["2A"][1]} for row in scenario_2a_1()
    ]
    extra += [
        {**row, "LA_Code": SCENARIO_LA["3D"][0], "LA_Name": SCENARIO_LA["3D"][1]}
        for row in scenario_3d_1() + scenario_3d_2()
    ]
    inputs = synthetic_store_inputs()
    lookup = pa.concat_tables(
        [
            inputs["la_lookup"],
            pa.table(
                {
                    "LA_Code": [c for c, _ in SCENARIO_LA.values()],
                    "LA_Name": [n for _, n in SCENARIO_LA.values()],
                    "LA_Area_Code": [None, None],
                    "Region": [None, None],
                },
                schema=inputs["la_lookup"].schema,
            ),
        ]
    )
    return {
        "main": pa.concat_tables([main, main_table(extra)]),
        "discharges": spells,
        "la_lookup": lookup,
        "populations": inputs["populations"],
    }


def _run(engine) -> object:
    s = _store()
    return run_ascof(
        s["main"],
        period=PERIOD,
        discharges=s["discharges"],
        la_lookup=s["la_lookup"],
        populations=s["populations"],
        engine=engine,
    )


def _sorted(table: pa.Table) -> list[dict]:
    return sorted(table.to_pylist(), key=lambda r: tuple("" if v is None else str(v) for v in r.values()))


@pytest.fixture(scope="module")
def duckdb_result():
    return _run(connect("duckdb"))


@pytest.fixture(scope="module")
def spark_result():
    pytest.importorskip("pyspark")
    from ascld.engine import spark_session

    spark_session().conf.set("spark.sql.execution.arrow.pyspark.enabled", "true")
    return _run(connect("spark"))


def test_the_fixture_exercises_every_measure(duckdb_result):
    rows = duckdb_result.measures.to_pylist()
    with_counts = {r["measure"] for r in rows if r["numerator"]}
    assert with_counts >= {
        "ASCOF 2A",
        "ASCOF 2C",
        "ASCOF 2D Part 1",
        "ASCOF 2D Part 2",
        "ASCOF 2E",
        "ASCOF 2E LD",
        "ASCOF 3D (Clients)",
        "ASCOF 3D (Carers)",
    }
    # latest, previous (= 2D latest) and the 2D previous period
    assert {r["reporting_period"] for r in rows} == {
        "1 Jul 24 - 30 Jun 25",
        "1 Apr 24 - 31 Mar 25",
        "1 Jan 24 - 31 Dec 24",
    }


@pytest.mark.spark
@pytest.mark.slow
def test_duckdb_and_spark_outputs_are_identical(duckdb_result, spark_result):
    assert spark_result.measures.schema == duckdb_result.measures.schema
    assert _sorted(spark_result.measures) == _sorted(duckdb_result.measures)
    assert _sorted(spark_result.disaggregated_2a) == _sorted(duckdb_result.disaggregated_2a)
    assert _sorted(spark_result.part1_2d) == _sorted(duckdb_result.part1_2d)
    assert _sorted(spark_result.venn_2d) == _sorted(duckdb_result.venn_2d)


@pytest.mark.spark
@pytest.mark.slow
def test_spark_reproduces_the_scenario_figures(spark_result):
    m = spark_result.measures.filter(
        pa.compute.equal(spark_result.measures["reporting_period"], "1 Apr 24 - 31 Mar 25")
    )
    assert figures(m, "ASCOF 2A", la_code="901") == {
        "18 to 64": (0, 1, "0.0"),
        "65 and above": (2, 2, "100.0"),
        "Total": (2, 3, "66.7"),
    }
    dp_2a = "2a - The proportion of clients who use services who receive direct payments (%)"
    assert figures(m, "ASCOF 3D (Clients)", la_code="902", description=dp_2a)["Total"] == (1, 4, "25.0")
    dp_1b = "1b - The proportion of carers who use services who receive self-directed support (%)"
    assert figures(m, "ASCOF 3D (Carers)", la_code="902", description=dp_1b)["Total"] == (1, 2, "50.0")


def test_council_mode_gives_the_council_its_national_figures(duckdb_result):
    """One council's own main table through the same path gives that council's rows of the national run
    (for the per-council measures; 2D part 2 and the national grids depend on other councils' data)."""
    s = _store()
    council = s["main"].filter(pa.compute.equal(s["main"]["LA_Code"], "503"))
    lookup = s["la_lookup"].filter(pa.compute.equal(s["la_lookup"]["LA_Code"], "503"))
    own = run_ascof(
        council,
        period=PERIOD,
        populations=s["populations"],
        la_lookup=lookup,
        engine=connect("duckdb"),
        measures=["2A", "2BC", "2E", "3D"],
    ).measures

    def cells(table):
        return {
            (r["measure"], r["description"], r["reporting_period"], r["breakdown"], r["group"]): (
                r["la_name"],
                r["numerator"],
                r["denominator"],
                r["value"],
            )
            for r in table.to_pylist()
            if r["la_code"] == "503"
            and (r["group"] == "Total" or r["measure"] in ("ASCOF 2A", "ASCOF 2B", "ASCOF 2C"))
        }

    national = cells(duckdb_result.measures)
    mine = cells(own)
    assert {k[0] for k in mine} == {
        "ASCOF 2A",
        "ASCOF 2B",
        "ASCOF 2C",
        "ASCOF 2E",
        "ASCOF 2E LD",
        "ASCOF 3D (Clients)",
        "ASCOF 3D (Carers)",
    }
    assert set(mine) <= set(national)
    assert {k: national[k] for k in mine} == mine
