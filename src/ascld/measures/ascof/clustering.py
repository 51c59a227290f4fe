"""ST-Max (reablement) clustering shared by ASCOF 2A and 2D (ascof.md §1.2, §4.1 step 3)."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from ascld.measures.ascof.common import PERSON, asc_nulls_first, days_between, desc_nulls_last
from ascld.measures.ascof.reference import load_reference

CLUSTER_PARTITION = ("LA_Code", "LA_Name", PERSON)


def assign_clusters(rows: ir.Table) -> ir.Table:
    """Number each person's ST-Max rows into clusters.

    Rows are ordered per (LA_Code, LA_Name, person) by `Event_Start_Date`, `End`, `Hierarchy` ASC,
    `Der_Unique_Record_ID` DESC. `Previous_End_Date` is the running maximum end date of all *earlier* rows
    (a ROWS frame ending one row back); a row starts a new cluster unless
    `DATEDIFF(DAY, Previous_End_Date, Event_Start_Date) <= 7`, so a person's first row always starts one.

    Args:
        rows: ST-Max rows with LA_Code, LA_Name, person, Event_Start_Date, End (open = 9999-01-01),
            Hierarchy (NULL already 999) and Der_Unique_Record_ID.

    Returns:
        `rows` plus `Cluster_Key`, a text key unique to (LA_Code, LA_Name, person, cluster number). DHSC
        numbers clusters with one global running count; a per-person count keyed by the partition identifies
        the same clusters without a global sort.
    """
    gap = load_reference().int_parameter("cluster_gap_days")
    order = [
        asc_nulls_first(rows.Event_Start_Date),
        asc_nulls_first(rows.End),
        rows.Hierarchy.asc(),
        desc_nulls_last(rows.Der_Unique_Record_ID),
    ]
    earlier = ibis.window(group_by=list(CLUSTER_PARTITION), order_by=order, rows=(None, -1))
    upto = ibis.window(group_by=list(CLUSTER_PARTITION), order_by=order, rows=(None, 0))
    rows = rows.mutate(Previous_End_Date=rows.End.max().over(earlier))
    starts = ibis.cases((days_between(rows.Previous_End_Date, rows.Event_Start_Date) <= gap, 0), else_=1)
    rows = rows.mutate(_start=starts)
    rows = rows.mutate(_n=rows._start.sum().over(upto))
    key = ibis.literal("").concat(
        rows.LA_Code.cast("string"),
        "\x1f",
        rows.LA_Name.cast("string").fill_null(""),
        "\x1f",
        rows[PERSON],
        "\x1f",
        rows._n.cast("string"),
    )
    return rows.mutate(Cluster_Key=key).drop("_start", "_n")
