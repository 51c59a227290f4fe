"""Emit the ASCOF steps as SQL (T-SQL, Spark SQL, DuckDB) for councils or analysts who run SQL themselves.

Each step reads named tables: `main_table` (main-tables.md §6.3 columns), `person_details` (the output of the
`person_details` step), and for 2D `discharges` (the documented spell layout, with `UTLA_Code_2023`). The
steps return the counts; the grid of councils × groups and the rounding half away from zero are described in
docs/measures-ascof.md.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import ibis
import pyarrow as pa

from ascld.engine import to_sql
from ascld.measures.ascof.ascof_2a import ascof_2a_clusters, ascof_2a_disaggregated
from ascld.measures.ascof.ascof_2bc import ascof_2bc_numerators
from ascld.measures.ascof.ascof_2d import ascof_2d_tables
from ascld.measures.ascof.ascof_2e import ascof_2e_counts, ascof_2e_people, ascof_2e_unknown_counts
from ascld.measures.ascof.ascof_3d import (
    ascof_3d_carer_counts,
    ascof_3d_carer_unknown_counts,
    ascof_3d_carers,
    ascof_3d_client_counts,
    ascof_3d_clients,
)
from ascld.measures.ascof.common import MAIN_TABLE_COLUMNS, ReportingPeriod, prepare_main_table
from ascld.measures.ascof.inputs import DISCHARGE_COLUMNS, DISCHARGE_OPTIONAL
from ascld.measures.ascof.person_details import build_person_details

_ARROW_TO_IBIS = {pa.string(): "string", pa.date32(): "date", pa.int64(): "int64"}


def ascof_steps(period: ReportingPeriod | Sequence[Any], *, dialect: str = "duckdb") -> dict[str, ibis.Table]:
    """The ASCOF steps for one period as unbound Ibis expressions over `main_table`, `person_details` and
    `discharges`. For T-SQL, values are not canonicalised (the collation is case-insensitive) and identifiers
    are listed with STRING_AGG."""
    p = ReportingPeriod.coerce(period)
    tsql = dialect == "mssql"
    main = prepare_main_table(ibis.table(dict(MAIN_TABLE_COLUMNS), name="main_table"), canonicalise=not tsql)
    pd_expr = build_person_details(main, p, sorted_concat=not tsql)
    pd = ibis.table(pd_expr.schema(), name="person_details")
    dis_schema = {k: _ARROW_TO_IBIS[v] for k, v in {**DISCHARGE_COLUMNS, **DISCHARGE_OPTIONAL}.items()}
    discharges = ibis.table(dis_schema, name="discharges")
    people = ascof_2e_people(main, pd, p, learning_disability=False)
    people_ld = ascof_2e_people(main, pd, p, learning_disability=True)
    carers = ascof_3d_carers(main, pd, p)
    d2 = ascof_2d_tables(main, pd, discharges, p)
    return {
        "person_details": pd_expr,
        "2a_disaggregated": ascof_2a_disaggregated(ascof_2a_clusters(main, pd, p)),
        "2bc_numerators": ascof_2bc_numerators(main, pd, p),
        "2e_counts": ascof_2e_counts(people),
        "2e_unknown_counts": ascof_2e_unknown_counts(people),
        "2e_ld_counts": ascof_2e_counts(people_ld),
        "2e_ld_unknown_counts": ascof_2e_unknown_counts(people_ld),
        "3d_client_counts": ascof_3d_client_counts(ascof_3d_clients(main, pd, p)),
        "3d_carer_counts": ascof_3d_carer_counts(carers),
        "3d_carer_unknown_counts": ascof_3d_carer_unknown_counts(carers),
        "2d_part1": d2.part1,
        "2d_part2_discharges": d2.part2_discharges,
        "2d_venn": d2.venn,
    }


def ascof_sql(period: ReportingPeriod | Sequence[Any], dialect: str = "mssql") -> dict[str, str]:
    """SQL for every ASCOF step in one dialect.

    Args:
        period: the reporting period (for 2D, pass the lagged 2D period).
        dialect: "mssql" (T-SQL), "pyspark" (Spark SQL), "duckdb", or another sqlglot dialect Ibis supports.

    Returns:
        Step name -> SQL text.

    Examples:
        >>> sql = ascof_sql(("2024-04-01", "2025-03-31"), "duckdb")
        >>> "2a_disaggregated" in sql and "main_table" in sql["2a_disaggregated"]
        True
    """
    if dialect == "pyspark":
        ibis.pyspark  # noqa: B018 - loading the backend registers the options its compiler reads
    return {name: to_sql(expr, dialect) for name, expr in ascof_steps(period, dialect=dialect).items()}
