"""SALT STS002b: ST-Max for existing clients, high-level count (salt.md §4).

The sequel breakdown of SALT STS002b is not produced: route of access is not available for ST-Max.
"""

from __future__ import annotations

import ibis.expr.types as ir

from ascld.measures.salt import sts002a, tidy
from ascld.measures.salt.common import (
    SaltContext,
    long_term_services,
    match_all,
    open_long_term,
    prefixed,
    sql_concat,
)

MEASURE = "SALT STS002b"
COUNT = sts002a.COUNT


def existing_client_clusters(ctx: SaltContext) -> ir.Table:
    """ST-Max clusters ending in the period whose start is inside an open long-term service (steps 2-3).

    The code keeps clusters by an inner join to `#ONGOING` on (LA, ID, start, end, outcome, count), so a NULL
    cluster outcome drops the cluster.
    """
    events = sts002a.subset(ctx)
    clusters = ctx.stage(sts002a.st_max_clusters(ctx, sts002a.st_max_services(ctx, events)))
    keys = ["LA_Code", "ID", "Cluster_Start_Date", "Cluster_End_Date", "Event_Outcome", COUNT]
    ongoing = prefixed(open_long_term(clusters, long_term_services(events), keys), keys, "__o_")
    joined = clusters.join(ongoing, match_all(clusters, ongoing, keys, "__o_"))
    return ctx.stage(joined.select(*keys))


def build(ctx: SaltContext) -> ir.Table:
    """Per council: `COUNT(DISTINCT CONCAT(ID, ST_MAX_COUNT))`; nationally the sum of councils."""
    existing = existing_client_clusters(ctx)
    existing = existing.mutate(__episode=sql_concat(existing.ID, existing[COUNT]))
    council = tidy.cells(existing, measure=MEASURE, breakdown=tidy.TOTAL, distinct="__episode")
    return tidy.union([council, tidy.national_sum(council)])
