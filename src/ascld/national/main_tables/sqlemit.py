"""Emit each step's SQL (T-SQL, DuckDB, Spark SQL) for councils and processors who run their own servers.

Every step is compiled from the same Ibis expression the build runs, over unbound tables: the store is
    `CLD_Raw`
(rename to suit) and step N reads the tables written by earlier steps, `__ascld_<step>`.
"""

from __future__ import annotations

import importlib
from pathlib import Path

import ibis
import sqlglot
from sqlglot import exp

from ascld.engine import to_sql
from ascld.errors import EngineNotInstalled, UsageError
from ascld.methodology import MainTablesMethod
from ascld.national.main_tables.pipeline import RAW, BuildParams, make_context, pipeline_steps
from ascld.national.main_tables.schema import national_store_schema
from ascld.spec import Spec

DIALECTS = {"mssql": "tsql", "duckdb": "duckdb", "pyspark": "spark"}  # ascld name -> sqlglot dialect


def step_table(step: str) -> str:
    return f"__ascld_{step}"


def _ensure_dialect(dialect: str) -> None:
    if dialect not in DIALECTS:
        raise UsageError(f"unknown SQL dialect {dialect!r}. Choose one of: {', '.join(DIALECTS)}.")
    if dialect == "pyspark" and ibis.options.pyspark is None:
        # The PySpark compiler reads its options, which exist once the backend module is loaded.
        try:
            backend = importlib.import_module("ibis.backends.pyspark")
        except ImportError as err:
            raise EngineNotInstalled('Spark SQL needs PySpark: pip install "ascld[spark]"') from err
        ibis.options.pyspark = backend.Backend.Options()


def _as_statement(select_sql: str, target: str, dialect: str) -> str:
    """Wrap a SELECT so it writes the step's table: SELECT ... INTO (T-SQL) or CREATE TABLE ... AS."""
    if dialect != "mssql":
        verb = "CREATE OR REPLACE TABLE" if dialect == "duckdb" else "CREATE OR REPLACE TEMPORARY VIEW"
        quote = '"' if dialect == "duckdb" else "`"
        return f"{verb} {quote}{target}{quote} AS\n{select_sql};\n"
    tree = sqlglot.parse_one(select_sql, read="tsql")
    if not isinstance(tree, exp.Select):
        # A top-level UNION: select from it as a derived table (its CTEs, if any, move outside).
        with_ = tree.args.get("with")
        tree.set("with", None)
        tree = exp.select("*").from_(
            exp.Subquery(this=tree, alias=exp.TableAlias(this=exp.to_identifier("q")))
        )
        if with_ is not None:
            tree.set("with", with_)
    tree.set("into", exp.Into(this=exp.to_table(f"[{target}]", dialect="tsql")))
    return tree.sql(dialect="tsql", pretty=True) + ";\n"


def emit_sql(
    dialect: str,
    params: BuildParams,
    *,
    raw_table: str = "CLD_Raw",
    spec: Spec | None = None,
    method: MainTablesMethod | None = None,
) -> list[tuple[str, str]]:
    """(step name, SQL statement) for every step, in order.

    Args:
        dialect: "mssql" (T-SQL), "duckdb" or "pyspark" (Spark SQL).
        params: the build parameters; dates and choices are written into the SQL as literals.
        raw_table: the national raw table on the target server, optionally qualified (`DHSC_ASC.CLD_Raw`).

    Raises:
        UsageError: unknown dialect. EngineNotInstalled: Spark SQL without PySpark.
    """
    _ensure_dialect(dialect)
    ctx = make_context(params, spec, method)
    *qualifiers, name = raw_table.split(".")
    levels = ("catalog", "database")[-len(qualifiers) :] if qualifiers else ()
    where = dict(zip(levels, qualifiers, strict=True))
    tables = {RAW: ibis.table(national_store_schema(), name=name, **where)}
    out = []
    for step in pipeline_steps(ctx):
        expr = step.fn(*(tables[i] for i in step.inputs))
        sql = to_sql(expr, dialect)
        header = f"-- ascld main tables, step `{step.name}`: {step.description}\n"
        out.append((step.name, header + _as_statement(sql, step_table(step.name), dialect)))
        tables[step.name] = ibis.table(expr.schema(), name=step_table(step.name))
    return out


def write_sql(
    folder: str | Path,
    dialect: str,
    params: BuildParams,
    *,
    spec: Spec | None = None,
    method: MainTablesMethod | None = None,
    raw_table: str = "CLD_Raw",
) -> list[Path]:
    """Write `NN_<step>.sql` per step and `all_steps.sql` (the whole script) into a folder."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    statements = emit_sql(dialect, params, raw_table=raw_table, spec=spec, method=method)
    paths = []
    for n, (name, sql) in enumerate(statements, start=1):
        path = folder / f"{n:02d}_{name}.sql"
        path.write_text(sql, encoding="utf-8")
        paths.append(path)
    script = folder / "all_steps.sql"
    script.write_text("\n".join(sql for _, sql in statements), encoding="utf-8")
    return [*paths, script]
