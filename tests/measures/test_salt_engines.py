"""One SALT run, two engines: identical outputs on DuckDB and Spark; SQL emitted for T-SQL and Spark SQL."""

from __future__ import annotations

import pandas as pd
import pyarrow as pa
import pytest
from salt_fixtures import PERIOD, frame, spark_backend, synthetic_store  # noqa: F401 - spark_backend is a fixture
from test_salt_edges import lts001_rows, sts001_rows, sts002a_rows
from test_salt_scenarios import STS001_ROWS, STS002A_ROWS

from ascld.measures.output import MEASURE_COLUMNS
from ascld.measures.salt import SALT_MEASURES, compute_salt, salt_sql


@pytest.fixture(scope="module")
def store() -> pa.Table:
    """Three seeded synthetic councils plus the scenario and edge-case councils."""
    hand_made = frame([*STS001_ROWS, *STS002A_ROWS, *sts001_rows(), *sts002a_rows(), *lts001_rows()])
    return pa.concat_tables([synthetic_store(), hand_made])


@pytest.fixture(scope="module")
def on_duckdb(store):
    return compute_salt(store, period=PERIOD, engine="duckdb")


def test_synthetic_store_exercises_every_measure(on_duckdb):
    assert set(on_duckdb.measure) == set(SALT_MEASURES)
    assert on_duckdb.la_code.nunique() > 30
    assert list(on_duckdb.columns) == list(MEASURE_COLUMNS)


@pytest.mark.spark
@pytest.mark.slow
def test_duckdb_and_spark_give_identical_outputs(store, on_duckdb, spark_backend):  # noqa: F811
    on_spark = compute_salt(store, period=PERIOD, engine=spark_backend)
    pd.testing.assert_frame_equal(on_duckdb, on_spark, check_exact=True)


def _check_sql(sql: dict[str, str]) -> None:
    assert set(sql) == set(SALT_MEASURES)
    for text in sql.values():
        assert "salt_input" in text and "RTRIM" in text.upper()
    assert "DENSE_RANK" in sql["SALT STS001"].upper() and "LAG(" in sql["SALT STS001"].upper()


@pytest.mark.slow
def test_every_table_emits_t_sql():
    sql = salt_sql(period=PERIOD, dialect="mssql")
    _check_sql(sql)
    assert "DATEFROMPARTS" in sql["SALT LTS001a"]  # the proxy date of birth, in T-SQL


@pytest.mark.spark
def test_every_table_emits_spark_sql(spark_backend):  # noqa: F811 - Ibis' Spark compiler needs a session
    _check_sql(salt_sql(period=PERIOD, dialect="pyspark"))
