"""The sequel search shared by STS001 and STS002a (salt.md §1.7).

Each step is one table of the NHS England scripts, written as an Ibis expression, so that their join keys,
DISTINCT lists and window frames (and therefore their duplicates) are the code's:

* `sequel_rows`      -> `#REQUEST_SEQUELS` / `#ST_MAX_SEQUELS` after deleting the cluster itself;
* `no_chronology`    -> `#NO_SEQUEL_CHRONOLOGY` (record type 1);
* `chain`            -> `#CLUSTER` (Flag, In_Chain, In_Scope) plus the break flag;
* `in_scope`         -> `#REQUESTS_WITH_BREAKS` / `#ST_MAX_WITH_BREAKS`;
* `services_found`   -> `#FIND_NEXT_SERVICES` (record type 2);
* `other_found`      -> `#FIND_NEXT_OTHER` (no service in the chain);
* `nfa_found`        -> `#FIND_NEXT_OTHER_NFA` (record type 3);
* `nothing_usable`   -> `#FIND_NEXT_OTHER_No_Outcome` (record type 4);
* `out_of_scope`     -> `#FIND_NEXT_OUT_OF_SCOPE` (record type 5).

`LAG` over rows tied on the sequel start date is not deterministic in SQL Server; here ties are ordered by the
sequel end date (NULLs first), so the row with the latest end is the "previous row" of the next start date.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from ascld.measures.salt import reference
from ascld.measures.salt.common import (
    canonical,
    days_between,
    eq_ci,
    is_true,
    like_ci,
    map_ci,
    match_all,
    prefixed,
    trailing_flag,
)

SEQUEL_COLUMNS = (
    "Sequel_Event_Start_Date",
    "Sequel_Event_End_Date",
    "Sequel_Event_Type",
    "Sequel_Service_Type",
    "Sequel_Event_Outcome",
)


@dataclass(frozen=True)
class SequelRules:
    """The parameters that differ between STS001 and STS002a.

    Attributes:
        count_name: the cluster number column (`REQUEST_COUNT`, `ST_MAX_COUNT`).
        carry: extra cluster columns kept through the search (STS001: age and route of access).
        first_days: maximum days from the cluster end to the first onward event (28 or 3).
        break_column: sequel column that marks a "break" event (`Sequel_Event_Type` or `Sequel_Service_Type`).
        break_value: its value (`Request`, `Short Term Support: ST-Max`).
        service_rank: sequel service hierarchy (service type -> rank).
        out_of_scope_columns: the DISTINCT list of `#FIND_NEXT_OUT_OF_SCOPE`.
    """

    count_name: str
    carry: tuple[str, ...]
    first_days: int
    break_column: str
    break_value: str
    service_rank: Mapping[str, int]
    out_of_scope_columns: tuple[str, ...]

    @property
    def partition(self) -> list[str]:
        return ["LA_Code", "ID", self.count_name]

    @property
    def cluster_columns(self) -> list[str]:
        return [
            "LA_Code",
            "ID",
            *self.carry,
            "Cluster_Start_Date",
            "Cluster_End_Date",
            "Event_Outcome",
            self.count_name,
        ]


def sequel_rows(clusters: ir.Table, events: ir.Table, rules: SequelRules) -> ir.Table:
    """Every event of the same (LA, ID) starting on or after the cluster end, ranked by start (`Rn`, from 0).

    Rows that are the cluster itself (a break-type event with the cluster's start or end date) are then
    deleted, and `Rn` is not recomputed.
    """
    ev = events.select(
        __la="LA_Code",
        __id="ID",
        Sequel_Event_Start_Date="Event_Start_Date",
        Sequel_Event_End_Date="Event_End_Date",
        Sequel_Event_Type="Event_Type",
        Sequel_Service_Type="Service_Type",
        Sequel_Event_Outcome="Event_Outcome",
        **{
            trailing_flag("Sequel_Event_Type"): trailing_flag("Event_Type"),
            trailing_flag("Sequel_Service_Type"): trailing_flag("Service_Type"),
        },
    )
    joined = clusters.join(
        ev,
        (clusters.LA_Code == ev["__la"])
        & (ev["__id"] == clusters.ID)
        & (ev.Sequel_Event_Start_Date >= clusters.Cluster_End_Date),
    ).drop("__la", "__id")
    ranked = joined.mutate(
        Rn=ibis.dense_rank().over(
            ibis.window(
                group_by=rules.partition, order_by=ibis.asc("Sequel_Event_Start_Date", nulls_first=True)
            )
        )
    )
    itself = eq_ci(ranked[rules.break_column], rules.break_value) & (
        (ranked.Cluster_Start_Date == ranked.Sequel_Event_Start_Date)
        | (ranked.Cluster_End_Date == ranked.Sequel_Event_End_Date)
    )
    return ranked.filter(~is_true(itself))


def no_chronology(clusters: ir.Table, sequels: ir.Table, rules: SequelRules) -> ir.Table:
    """Clusters with no remaining sequel row, matched on (LA, ID, start, end, outcome, count): type 1.

    A NULL cluster outcome never matches, so such a cluster lands here even when it has sequels.
    """
    keys = ["LA_Code", "ID", "Cluster_Start_Date", "Cluster_End_Date", "Event_Outcome", rules.count_name]
    right = prefixed(sequels, keys, "__m_")
    return clusters.anti_join(right, match_all(clusters, right, keys, "__m_"))


def chain(sequels: ir.Table, rules: SequelRules) -> ir.Table:
    """`#CLUSTER` plus the break flags: Flag, In_Chain, In_Scope, Break, No_Break (salt.md §1.7 step 4)."""
    gap = reference.parameter_int("sequel_chain_gap_days")
    by_start = [
        ibis.asc("Sequel_Event_Start_Date", nulls_first=True),
        ibis.asc("Sequel_Event_End_Date", nulls_first=True),
    ]
    lagged = sequels.mutate(
        __prev_end=sequels.Sequel_Event_End_Date.lag().over(
            ibis.window(group_by=rules.partition, order_by=by_start)
        )
    )
    flagged = lagged.mutate(
        Flag=ibis.cases(
            (days_between(lagged["__prev_end"], lagged.Sequel_Event_Start_Date) > gap, 0), else_=1
        )
    ).drop("__prev_end")
    # Running MIN without a frame is RANGE UNBOUNDED PRECEDING .. CURRENT ROW: rows tied on the start date
    # count together.
    running = ibis.range_window(
        preceding=None, following=0, group_by=rules.partition, order_by="Sequel_Event_Start_Date"
    )
    first_row = flagged.Rn == 0
    in_chain = flagged.mutate(
        In_Chain=ibis.cases(
            (flagged.Sequel_Event_End_Date.isnull() & first_row, 1),
            (
                (days_between(flagged.Cluster_End_Date, flagged.Sequel_Event_Start_Date) > rules.first_days)
                & first_row,
                0,
            ),
            else_=flagged.Flag.min().over(running),
        )
    )
    scoped = in_chain.mutate(In_Scope=in_chain.In_Chain.min().over(running))
    broken = scoped.mutate(
        Break=ibis.cases(
            (
                like_ci(
                    scoped[rules.break_column],
                    rules.break_value,
                    trailing=scoped[trailing_flag(rules.break_column)],
                ),
                0,
            ),
            else_=1,
        )
    )
    return broken.mutate(No_Break=broken.Break.min().over(running))


def in_scope(chained: ir.Table, rules: SequelRules) -> ir.Table:
    """Rows still in the chain before any break, with the sequel service hierarchy (unmatched = 99)."""
    unmatched = reference.parameter_int("unmatched_hierarchy")
    kept = chained.filter((chained.In_Scope == 1) & (chained.No_Break == 1))
    kept = kept.mutate(
        Hierarchy=map_ci(kept.Sequel_Service_Type, rules.service_rank, else_=unmatched).cast("int64")
    )
    return kept.mutate(__best=kept.Hierarchy.min().over(group_by=rules.partition))


def services_found(scoped: ir.Table, rules: SequelRules) -> ir.Table:
    """Clusters whose chain holds a service: the service type(s) with the lowest hierarchy (record type 2).

    The service type is written in the hierarchy table's spelling (case variants are one value in SQL Server).
    """
    unmatched = reference.parameter_int("unmatched_hierarchy")
    top = scoped.filter((scoped["__best"] != unmatched) & (scoped.Hierarchy == scoped["__best"]))
    return top.select(
        *rules.cluster_columns,
        FINAL_OUTCOME=canonical(top.Sequel_Service_Type, list(rules.service_rank)),
    ).distinct()


def other_found(scoped: ir.Table, rules: SequelRules) -> ir.Table:
    """Chains with no service: distinct sequel rows, `Rn2` = dense rank by sequel end DESC (NULLs last)."""
    unmatched = reference.parameter_int("unmatched_hierarchy")
    top = scoped.filter((scoped["__best"] == unmatched) & (scoped.Hierarchy == scoped["__best"]))
    rows = top.select(
        *rules.cluster_columns,
        "Sequel_Event_Type",
        "Sequel_Event_Start_Date",
        "Sequel_Event_End_Date",
        "Sequel_Event_Outcome",
    ).distinct()
    return rows.mutate(
        Rn2=ibis.dense_rank().over(
            ibis.window(
                group_by=rules.partition, order_by=ibis.desc("Sequel_Event_End_Date", nulls_first=False)
            )
        )
    )


def nfa_found(
    other: ir.Table,
    rules: SequelRules,
    usable: Callable[[ir.Table], ir.BooleanValue],
    *,
    count_all_rows_at_rank: bool,
) -> ir.Table:
    """Rows at the lowest `Rn2` holding a usable NFA outcome, with `NFA_Count` (record type 3).

    Args:
        other: `other_found` rows.
        rules: the script's rules.
        usable: the usable-outcome test (STS001: mapping code 1; STS002a: `LIKE 'NFA%'`).
        count_all_rows_at_rank: STS001 keeps (and counts) every row at that rank; STS002a only the NFA rows.
    """
    part = rules.partition
    usable_rows = other.filter(usable(other))
    best = usable_rows.group_by(part).aggregate(__best_rn=usable_rows.Rn2.min())
    best = best.rename({f"__b_{k}": k for k in part})
    joined = other.join(best, match_all(other, best, part, "__b_") & (other.Rn2 == best["__best_rn"]))
    joined = joined.drop(*[f"__b_{k}" for k in part], "__best_rn")
    if not count_all_rows_at_rank:
        joined = joined.filter(usable(joined))
    return joined.mutate(NFA_Count=joined.ID.count().over(group_by=part))


def nothing_usable(other: ir.Table, nfa: ir.Table, rules: SequelRules) -> ir.Table:
    """Chains with no service and no usable NFA outcome: distinct (LA, ID, carry, count, outcome), type 4."""
    part = rules.partition
    right = prefixed(nfa, part, "__n_")
    left = other.anti_join(right, match_all(other, right, part, "__n_"))
    return left.select("LA_Code", "ID", *rules.carry, rules.count_name, "Event_Outcome").distinct()


def out_of_scope(chained: ir.Table, scoped: ir.Table, rules: SequelRules) -> ir.Table:
    """Clusters with onward events but none in scope, matched on (LA, ID, start, end, outcome): type 5."""
    keys = ["LA_Code", "ID", "Cluster_Start_Date", "Cluster_End_Date", "Event_Outcome"]
    right = prefixed(scoped, keys, "__s_")
    left = chained.anti_join(right, match_all(chained, right, keys, "__s_"))
    return left.select(*rules.out_of_scope_columns).distinct()
