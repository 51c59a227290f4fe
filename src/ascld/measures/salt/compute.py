"""Run the SALT tables: build the Ibis expressions, execute them on an engine, or emit their SQL."""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from types import MappingProxyType
from typing import Any

import ibis
import ibis.expr.types as ir

from ascld.engine import connect, resolve_engine_name, run_step, to_sql
from ascld.errors import UsageError
from ascld.measures.output import MEASURE_COLUMNS
from ascld.measures.salt import lts001a, lts001b, lts001c, lts003, lts004, sts001, sts002a, sts002b, tidy
from ascld.measures.salt.common import SALT_INPUT_COLUMNS, SaltContext, SaltPeriod, prepare_input

#: Measure id -> builder of its long table, in publication order.
BUILDERS: Mapping[str, Callable[[SaltContext], ir.Table]] = MappingProxyType(
    {
        sts001.MEASURE: sts001.build,
        sts002a.MEASURE: sts002a.build,
        sts002a.ASCOF_2A_R1: sts002a.build_ascof_2a,
        sts002b.MEASURE: sts002b.build,
        lts001a.MEASURE: lts001a.build,
        lts001b.MEASURE: lts001b.build,
        lts001c.MEASURE: lts001c.build,
        lts003.MEASURE: lts003.build,
        lts004.MEASURE: lts004.build,
    }
)

SALT_MEASURES: tuple[str, ...] = tuple(BUILDERS)


def _chosen(measures: Iterable[str] | None) -> tuple[str, ...]:
    if measures is None:
        return SALT_MEASURES
    chosen = tuple(measures)
    unknown = sorted(set(chosen) - set(BUILDERS))
    if unknown:
        raise UsageError(
            f"SALT: unknown measure(s) {', '.join(f'`{m}`' for m in unknown)}. "
            f"Choose from: {', '.join(BUILDERS)}."
        )
    return chosen


def build_salt(
    input_table: Any,
    *,
    period: SaltPeriod | tuple[date | str, date | str],
    measures: Iterable[str] | None = None,
) -> dict[str, ir.Table]:
    """The SALT tables as lazy Ibis expressions in the tidy layout, one per measure (for SQL or inspection).

    Args:
        input_table: the SALT input (`SALT_INPUT_COLUMNS`): an Ibis table, pandas DataFrame or pyarrow Table.
        period: a `SaltPeriod`, or a (start, end) pair (other dates then take their defaults).
        measures: measure ids to build (default: all of `SALT_MEASURES`).

    Returns:
        Measure id -> Ibis table with the `MEASURE_COLUMNS`.
    """
    chosen = _chosen(measures)
    ctx = SaltContext(raw=prepare_input(input_table), period=SaltPeriod.coerce(period))
    names = tidy.la_names(ctx.raw)
    return {m: tidy.finish(BUILDERS[m](ctx), ctx, names) for m in chosen}


def compute_salt(
    input_table: Any,
    *,
    period: SaltPeriod | tuple[date | str, date | str],
    engine: str | Any | None = None,
    measures: Iterable[str] | None = None,
) -> Any:
    """Compute the SALT tables and return them as one pandas DataFrame in the tidy layout.

    National mode passes the national raw store (all councils); council mode passes one council's own
    returns prepared with `council_input`. The same expressions run on either engine. Intermediate steps are
    stored between queries, as the NHS England scripts store `#temp` tables (`SaltContext.materialize`).

    Args:
        input_table: the SALT input (see `SALT_INPUT_COLUMNS`).
        period: a `SaltPeriod` or a (start, end) pair.
        engine: "duckdb", "spark", an Ibis backend, or None for $ASCLD_ENGINE / DuckDB. An input that is
            already an Ibis table bound to a backend runs there when `engine` is None.
        measures: measure ids (default: all).

    Returns:
        pandas DataFrame with `MEASURE_COLUMNS`, ordered by measure (publication order), council (national
        first), breakdown and group. `disclosure_flag` is empty: apply
        `ascld.release.apply_disclosure_control` before anything leaves the secure setting.

    Raises:
        UsageError: bad period, unknown measure or missing input columns.
        EngineError: a step failed on the engine (the message names the measure and engine).

    Examples:
        >>> import pandas as pd
        >>> from ascld.measures.salt import SALT_INPUT_COLUMNS
        >>> empty = pd.DataFrame({c: pd.Series([], dtype="object") for c in SALT_INPUT_COLUMNS})
        >>> compute_salt(empty, period=("2023-04-01", "2023-12-31"), engine="duckdb").empty
        True
    """
    import pandas as pd

    chosen = _chosen(measures)
    salt_period = SaltPeriod.coerce(period)
    if engine is None and isinstance(input_table, ir.Table) and _is_bound(input_table):
        backend = input_table._find_backend()
    elif engine is None or isinstance(engine, str):
        backend = connect(resolve_engine_name(engine))
    else:
        backend = engine
    name = getattr(backend, "name", "engine")

    materialize = _materializer(backend)
    ctx = run_step(
        "SALT input",
        name,
        lambda: SaltContext(
            raw=materialize(prepare_input(input_table)), period=salt_period, materialize=materialize
        ),
    )
    names = run_step("SALT council names", name, lambda: materialize(tidy.la_names(ctx.raw)))

    def run_measure(measure: str) -> Any:
        return backend.execute(tidy.finish(BUILDERS[measure](ctx), ctx, names))

    frames = [run_step(m, name, functools.partial(run_measure, m)) for m in chosen]
    non_empty = [f for f in frames if len(f)]
    out = pd.concat(non_empty, ignore_index=True) if non_empty else frames[0].iloc[0:0]
    return normalise(out, order=chosen)


def _materializer(backend: Any) -> Callable[[ir.Table], ir.Table]:
    """How intermediate steps are stored. DuckDB: a temporary table, kept by the engine (within its memory
    limit, spilled to its temporary folder beyond it), so a national store never passes through Python. Other
    engines: an in-memory Arrow table (a Spark plan that reuses its steps would otherwise grow with each use).
    """
    if getattr(backend, "name", "") == "duckdb":

        def to_temp_table(expr: ir.Table) -> ir.Table:
            return backend.create_table(f"__ascld_salt_{uuid.uuid4().hex[:12]}", expr, temp=True)

        return to_temp_table

    def to_memory(expr: ir.Table) -> ir.Table:
        return ibis.memtable(backend.to_pyarrow(expr))

    return to_memory


def _is_bound(table: ir.Table) -> bool:
    try:
        table._find_backend()
    except Exception:  # noqa: BLE001 - unbound (e.g. a memtable or ibis.table): run on the default engine
        return False
    return True


def normalise(frame: Any, *, order: tuple[str, ...] = SALT_MEASURES) -> Any:
    """Give an executed tidy table the same dtypes and row order whatever engine produced it."""
    import pandas as pd

    out = frame.loc[:, list(MEASURE_COLUMNS)].copy()
    for col in (
        "measure",
        "description",
        "reporting_period",
        "la_code",
        "la_name",
        "breakdown",
        "group",
        "disclosure_flag",
    ):
        out[col] = out[col].astype("object").where(out[col].notna(), None)
    for col in ("period_start", "period_end"):
        out[col] = [None if pd.isna(v) else pd.Timestamp(v).date() for v in out[col]]
    for col in ("numerator", "denominator"):
        out[col] = out[col].astype("Int64")
    out["value"] = out["value"].astype("float64")
    rank = {m: i for i, m in enumerate(order)}
    out["__order"] = out["measure"].map(rank)
    out["__national"] = out["la_code"].isna().map({True: 0, False: 1})
    out = out.sort_values(["__order", "__national", "la_code", "breakdown", "group"], na_position="first")
    return out.drop(columns=["__order", "__national"]).reset_index(drop=True)


def salt_sql(
    *,
    period: SaltPeriod | tuple[date | str, date | str],
    dialect: str = "mssql",
    measures: Iterable[str] | None = None,
    input_name: str = "salt_input",
) -> dict[str, str]:
    """The SQL of each SALT table in a dialect ("mssql" for T-SQL, "pyspark", "duckdb"), over a table named
    `input_name` with the `SALT_INPUT_COLUMNS`.

    Examples:
        >>> sql = salt_sql(period=("2023-04-01", "2023-12-31"), dialect="mssql", measures=["SALT STS002b"])
        >>> "DENSE_RANK" in sql["SALT STS002b"]
        True
    """
    source = ibis.table(SALT_INPUT_COLUMNS, name=input_name)
    tables = build_salt(source, period=period, measures=measures)
    return {measure: to_sql(expr, dialect) for measure, expr in tables.items()}
