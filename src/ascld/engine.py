"""The engine seam: the only module that opens DuckDB or Spark connections.

Tabular logic elsewhere is written once as Ibis expressions and runs on whichever engine this module hands out.
DuckDB is the embedded default; Spark (local mode, bound to 127.0.0.1, UI off) comes with `pip install
"ascld[spark]"` and is imported only when asked for.

Engine differences are declared here as data rather than as if/else scattered through the code.
"""

from __future__ import annotations

import importlib
import os
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from ascld.errors import EngineError, EngineNotInstalled, UsageError

ENGINE_ENV = "ASCLD_ENGINE"
DEFAULT_ENGINE = "duckdb"


@dataclass(frozen=True)
class EngineInfo:
    name: str
    install_hint: str
    sql_dialect: str  # sqlglot / Ibis dialect name for emitted SQL
    # Known behaviours to design around (DESIGN.md principle 2): keep these in one place.
    notes: tuple[str, ...]
    # SQL run on every new connection to make a built-in function behave as on the other engines and SQL Server.
    session_sql: tuple[str, ...] = ()


ENGINES: Mapping[str, EngineInfo] = MappingProxyType(
    {
        "duckdb": EngineInfo(
            "duckdb",
            'pip install "ascld"',
            "duckdb",
            ("ibis row_number() starts at 0",),
            (
                # RTRIM(x) with one argument also strips trailing Unicode space separators (a no-break space
                # U+00A0, U+3000 ...) on DuckDB, but only U+0020 spaces on Spark and SQL Server, whose `=` ignores
                # trailing spaces only (main-tables.md §0). A connection-local macro of the same name restores
                # that; the two-argument form is kept for Ibis's own rstrip().
                "CREATE OR REPLACE TEMP MACRO rtrim(x) AS system.main.rtrim(x, ' '), "
                "(x, characters) AS system.main.rtrim(x, characters)",
            ),
        ),
        "spark": EngineInfo(
            "spark",
            'pip install "ascld[spark]" (and a Java 17+ runtime)',
            "pyspark",
            (
                "date - date gives an interval; use day deltas",
                "division by zero raises an error; guard denominators",
                "delta(unit='month') counts differ from DuckDB; use explicit month arithmetic",
            ),
        ),
    }
)


def engine_names() -> tuple[str, ...]:
    return tuple(ENGINES)


def resolve_engine_name(name: str | None = None) -> str:
    chosen = (name or os.environ.get(ENGINE_ENV) or DEFAULT_ENGINE).strip().lower()
    if chosen not in ENGINES:
        raise UsageError(f"unknown engine {chosen!r}. Choose one of: {', '.join(ENGINES)}.")
    return chosen


def duckdb_connection(
    path: str | Path | None = None,
    *,
    threads: int | None = None,
    memory_limit: str | None = None,
    temp_directory: str | Path | None = None,
) -> Any:
    """A plain DuckDB connection (no Ibis) with the same settings `connect("duckdb", ...)` applies.

    For code that only runs SQL, such as the validator: importing Ibis costs ~25 MB of memory and ~0.5 s, which
    matters in the landing service's checker process.
    """
    import duckdb

    config: dict[str, Any] = {}
    if threads is not None:
        config["threads"] = threads
    if memory_limit is not None:
        config["memory_limit"] = memory_limit
    con = duckdb.connect(str(path) if path else ":memory:", config=config)
    con.execute("SET TimeZone = 'UTC'")
    for sql in ENGINES["duckdb"].session_sql:
        con.execute(sql)
    if temp_directory:
        con.execute(f"SET temp_directory = '{Path(temp_directory).as_posix()}'")
    return con


def _duckdb(path: str | Path | None, **options: Any) -> Any:
    import ibis

    database = str(path) if path else ":memory:"
    config = {"threads": options.pop("threads", None), "memory_limit": options.pop("memory_limit", None)}
    con = ibis.duckdb.connect(database, **{k: v for k, v in config.items() if v is not None})
    for sql in ENGINES["duckdb"].session_sql:
        con.raw_sql(sql)
    temp = options.pop("temp_directory", None)
    if temp:
        con.raw_sql(f"SET temp_directory = '{Path(temp).as_posix()}'")
    return con


_SPARK_SESSION: Any = None


def spark_session() -> Any:
    """One local Spark session per process, bound to loopback with the UI off."""
    global _SPARK_SESSION
    try:
        pyspark_sql = importlib.import_module("pyspark.sql")
    except ImportError as err:
        raise EngineNotInstalled(f"the spark engine needs PySpark: {ENGINES['spark'].install_hint}") from err
    if _SPARK_SESSION is None:
        os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
        os.environ.setdefault("PYSPARK_PYTHON", os.environ.get("PYSPARK_PYTHON", "python3"))
        warehouse = tempfile.mkdtemp(prefix="ascld-spark-")
        builder = (
            pyspark_sql.SparkSession.builder.master("local[2]")
            .appName("ascld")
            .config("spark.driver.host", "127.0.0.1")
            .config("spark.driver.bindAddress", "127.0.0.1")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.session.timeZone", "UTC")
            .config("spark.sql.shuffle.partitions", "4")
            .config("spark.sql.warehouse.dir", warehouse)
            .config("spark.sql.ansi.enabled", "false")
            # Arrow moves results between the JVM and Python several times faster than row pickling.
            .config("spark.sql.execution.arrow.pyspark.enabled", "true")
        )
        _SPARK_SESSION = builder.getOrCreate()
        _SPARK_SESSION.sparkContext.setLogLevel("ERROR")
    return _SPARK_SESSION


def _spark(path: str | Path | None, **options: Any) -> Any:
    try:
        import ibis

        importlib.import_module("pyspark")
    except ImportError as err:
        raise EngineNotInstalled(f"the spark engine needs PySpark: {ENGINES['spark'].install_hint}") from err
    return ibis.pyspark.connect(spark_session())


_OPENERS: Mapping[str, Callable[..., Any]] = MappingProxyType({"duckdb": _duckdb, "spark": _spark})


def connect(name: str | None = None, path: str | Path | None = None, **options: Any) -> Any:
    """Open an Ibis connection by engine name.

    Args:
        name: "duckdb" (default, or $ASCLD_ENGINE) or "spark".
        path: DuckDB database file; None for in-memory. Ignored by Spark.
        **options: engine settings (DuckDB: threads, memory_limit, temp_directory).

    Raises:
        UsageError: the name is not an engine.
        EngineNotInstalled: the engine's extra is not installed; the message gives the install command.

    Examples:
        >>> con = connect("duckdb")
        >>> import ibis
        >>> con.execute(ibis.literal(2) + 3)
        5
    """
    chosen = resolve_engine_name(name)
    return _OPENERS[chosen](path, **options)


def parquet_footer_reads(path: str | Path) -> bool:
    """Whether a file's Parquet footer reads: False for a damaged file or one that is not Parquet, whose engine
    error would be a multi-line dump (callers refuse such a file in one line before any work)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        pq.read_schema(path)
    except (pa.ArrowException, OSError):
        return False
    return True


def read_parquet_files(con: Any, files: Sequence[str | Path]) -> Any:
    """Several Parquet files as one Ibis table on `con`, columns matched by name, on either engine.

    DuckDB reads the list itself; Ibis hands Spark a list of paths as one glob pattern, which fails, so Spark's
    reader is given the paths one by one (schemas merged) and the result is a temporary view.
    """
    paths = [str(f) for f in files]
    if getattr(con, "name", "") == "pyspark":
        import uuid

        name = f"__ascld_parquet_{uuid.uuid4().hex[:12]}"
        con._session.read.option("mergeSchema", "true").parquet(*paths).createOrReplaceTempView(name)
        return con.table(name)
    return con.read_parquet(paths, union_by_name=True)


def run_step(step: str, engine: str, fn: Callable[[], Any]) -> Any:
    """Run one pipeline step, re-raising any engine failure with the step and engine named."""
    try:
        return fn()
    except (EngineNotInstalled, UsageError):
        raise
    except Exception as exc:  # noqa: BLE001 - we re-raise with context
        raise EngineError(f"Step `{step}` failed on {engine}: {type(exc).__name__}: {exc}") from exc


def to_sql(expr: Any, dialect: str) -> str:
    """Compile an Ibis expression to SQL in a dialect ("duckdb", "pyspark", "mssql", ...)."""
    import ibis

    return str(ibis.to_sql(expr, dialect=dialect))
