"""Emitted SQL: every step parses as T-SQL and Spark SQL; the DuckDB script run by hand reproduces the build.

Councils and processors who run their own servers get the same method as SQL (`--emit-sql`).
"""

from __future__ import annotations

import re

import duckdb
import pyarrow.parquet as pq
import pytest
import sqlglot
from click.testing import CliRunner
from sqlglot import exp

from ascld.cli import cli
from ascld.national.main_tables import BuildParams, build_main_tables, emit_sql, pipeline_steps, write_sql
from ascld.national.main_tables.pipeline import make_context
from conftest import D

PARAMS = {
    "single": BuildParams("single", D(2024, 7, 1), D(2025, 6, 30), D(2025, 10, 1)),
    "joined": BuildParams("joined", D(2023, 4, 1), D(2025, 9, 30), D(2025, 12, 1)),
}
STEPS = [s.name for s in pipeline_steps(make_context(PARAMS["joined"]))]


@pytest.mark.parametrize("mode", ["single", "joined"])
def test_every_step_parses_as_tsql_and_writes_its_table(mode):
    statements = emit_sql("mssql", PARAMS[mode])
    assert [name for name, _ in statements] == STEPS
    written: set[str] = {"cld_raw"}
    for name, sql in statements:
        trees = sqlglot.parse(sql, read="tsql", error_level=sqlglot.ErrorLevel.RAISE)
        assert len(trees) == 1, name
        tree = trees[0]
        into = tree.args.get("into")
        assert into is not None and into.this.name == f"__ascld_{name}", name
        read = {t.name.lower() for t in tree.find_all(exp.Table)} - {f"__ascld_{name}"}
        ctes = {c.alias.lower() for c in tree.find_all(exp.CTE)}
        assert read - ctes <= written, (
            f"step {name} reads a table no earlier step wrote: {read - ctes - written}"
        )
        written.add(f"__ascld_{name}")


def test_tsql_keeps_null_unknown_in_negated_like():
    """Ibis renders NOT as IIF(x, 1, 0) = 0, which would make a NULL event type a non-service: the emitted
    filter must guard it (main-tables.md §4: a NULL event type satisfies neither branch)."""
    sql = dict(emit_sql("mssql", PARAMS["single"]))["events_in_period"]
    negated = list(re.finditer(r"IIF\(LOWER\(\[t0\]\.\[Event_Type\]\) LIKE '%service%', 1, 0\) = 0", sql))
    assert negated
    for match in negated:
        before = sql[max(0, match.start() - 200) : match.start()]
        assert "NOT [t0].[Event_Type] IS NULL" in before


@pytest.mark.parametrize("mode", ["single", "joined"])
def test_every_step_parses_as_spark_sql(mode):
    for name, sql in emit_sql("pyspark", PARAMS[mode]):
        assert sqlglot.parse(sql, read="spark", error_level=sqlglot.ErrorLevel.RAISE), name


@pytest.mark.parametrize("mode", ["single", "joined"])
def test_duckdb_script_reproduces_the_build(mode, synthetic_store, tmp_path, duck):
    result = build_main_tables(
        synthetic_store, PARAMS[mode], con=duck, out_dir=tmp_path / "built", hash_inputs=False
    )
    built = pq.read_table(result.outputs["main_table"])
    con = duckdb.connect()
    con.execute(f"CREATE VIEW CLD_Raw AS SELECT * FROM read_parquet('{synthetic_store}/*.parquet')")
    for _, sql in emit_sql("duckdb", PARAMS[mode]):
        con.execute(sql)
    scripted = con.execute('SELECT * FROM "__ascld_main_table"').to_arrow_table()
    assert scripted.column_names == built.column_names
    key = [(c, "ascending") for c in built.column_names]
    assert scripted.sort_by(key).to_pylist() == built.sort_by(key).to_pylist()


def test_write_sql_writes_one_file_per_step_and_a_script(tmp_path):
    paths = write_sql(tmp_path, "mssql", PARAMS["single"], raw_table="DHSC_ASC.CLD_Raw")
    assert [p.name for p in paths] == [f"{n:02d}_{s}.sql" for n, s in enumerate(STEPS, 1)] + ["all_steps.sql"]
    assert "[DHSC_ASC].[CLD_Raw]" in paths[0].read_text(encoding="utf-8")


def test_cli_sql_only_needs_no_store(tmp_path):
    result = CliRunner().invoke(
        cli,
        [
            "national",
            "build",
            "--as-of",
            "2026-05-05",
            "--period",
            "2025-04-01:2026-03-31",
            "--mode",
            "single",
            "--out",
            str(tmp_path),
            "--emit-sql",
            "mssql",
            "--sql-only",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "sql" / "mssql" / "all_steps.sql").exists()
