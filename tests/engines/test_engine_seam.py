from __future__ import annotations

import subprocess
import sys

import ibis
import pytest

from ascld import engine
from ascld.errors import UsageError


def _expr():
    t = ibis.memtable({"la": ["501", "502", "501", None], "n": [1, 2, 3, 4]})
    return t.group_by("la").agg(total=t.n.sum(), rows=t.count()).order_by(ibis.asc("la", nulls_first=True))


def test_duckdb_opens_by_default():
    con = engine.connect()
    assert con.execute(ibis.literal(40) + 2) == 42


def test_unknown_engine_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown engine 'sqlserver'"):
        engine.connect("sqlserver")


def test_engine_chosen_from_environment(monkeypatch):
    monkeypatch.setenv("ASCLD_ENGINE", "DuckDB")
    assert engine.resolve_engine_name() == "duckdb"


def test_missing_spark_gives_install_hint():
    # A real interpreter in which importing pyspark fails, as on a core-only install.
    code = (
        "import sys; sys.modules['pyspark'] = None; sys.modules['pyspark.sql'] = None\n"
        "from ascld import engine\n"
        "try:\n    engine.connect('spark')\nexcept ImportError as e:\n    print(e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert 'pip install "ascld[spark]"' in out


def test_run_step_names_step_and_engine():
    with pytest.raises(Exception, match="Step `divide` failed on duckdb"):
        engine.run_step("divide", "duckdb", lambda: 1 / 0)


def test_mssql_sql_is_emitted():
    assert "GROUP BY" in engine.to_sql(_expr(), "mssql")


@pytest.mark.spark
def test_trivial_expression_same_on_duckdb_and_spark():
    duck = engine.connect("duckdb").to_pyarrow(_expr()).to_pylist()
    spark = engine.connect("spark").to_pyarrow(_expr()).to_pylist()
    assert (
        duck
        == spark
        == [
            {"la": None, "total": 4, "rows": 1},
            {"la": "501", "total": 4, "rows": 2},
            {"la": "502", "total": 2, "rows": 1},
        ]
    )


@pytest.mark.spark
def test_parquet_files_read_as_one_table_on_both_engines(tmp_path):
    """Several Parquet files (columns in another order, one missing) read as one table, the same on DuckDB and
    Spark (Ibis gives Spark a list of paths as one glob pattern, which fails)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    a, b = tmp_path / "a.parquet", tmp_path / "b.parquet"
    pq.write_table(pa.table({"x": [1, 2], "y": ["p", "q"]}), a)
    pq.write_table(pa.table({"y": ["r"], "x": [3], "z": [True]}), b)
    results = []
    for name in ("duckdb", "spark"):
        con = engine.connect(name)
        t = engine.read_parquet_files(con, [a, b])
        rows = con.to_pyarrow(t.select("x", "y").order_by("x")).to_pylist()
        results.append(rows)
        assert "z" in t.columns
    assert results[0] == results[1] == [{"x": 1, "y": "p"}, {"x": 2, "y": "q"}, {"x": 3, "y": "r"}]
