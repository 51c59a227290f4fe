"""SALT STS002a: what followed ST-Max for new clients, and ASCOF 2A (Release 1) (salt.md §3)."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from ascld.measures.salt import reference, sts001, tidy
from ascld.measures.salt.common import (
    SaltContext,
    alive_on,
    assign_person_id,
    eq_ci,
    in_ci,
    islands,
    latest_end_rows,
    latest_versions,
    like_prefix_ci,
    map_ci,
    min_outcome_hierarchy_rows,
    plus,
    service_key,
)
from ascld.measures.salt.sequels import (
    SequelRules,
    chain,
    in_scope,
    nfa_found,
    no_chronology,
    nothing_usable,
    other_found,
    out_of_scope,
    sequel_rows,
    services_found,
)

MEASURE = "SALT STS002a"
ASCOF_2A_R1 = "ASCOF 2A (Release 1)"
COUNT = "ST_MAX_COUNT"


def rules() -> SequelRules:
    return SequelRules(
        count_name=COUNT,
        carry=(),
        first_days=reference.parameter_int("sts002a_first_days"),
        break_column="Sequel_Service_Type",
        break_value=reference.value("st_max"),
        service_rank=reference.service_hierarchy("sts002a"),
        out_of_scope_columns=(
            "LA_Code",
            "ID",
            "Cluster_Start_Date",
            "Cluster_End_Date",
            COUNT,
            "Event_Outcome",
        ),
    )


def _mapping() -> dict[str, str]:
    return {r["value"]: r["salt_mapping"] for r in reference.read_table("sts002a_sequel_mapping")}


def subset(ctx: SaltContext) -> ir.Table:
    """Step 1 (also STS002b): all event types started by PE, service users; ID; latest services only."""

    def build() -> ir.Table:
        raw, p = ctx.raw, ctx.period
        t = raw.filter(
            raw.Event_Start_Date <= ibis.date(p.end),
            eq_ci(raw.Client_Type, reference.value("service_user")),
            in_ci(raw.Event_Type, reference.values("event_types")),
        )
        t = assign_person_id(t)
        service = reference.value("service")
        services = latest_versions(t.filter(eq_ci(t.Event_Type, service)), service_key, p.event_window_close)
        # "Other event types all kept" (salt.md §3 step 1): a service is a service whatever its trailing spaces
        # (`=`, main-tables.md §0), so only its latest version is used, as in STS001 (§1.4).
        others = t.filter(~eq_ci(t.Event_Type, service))
        return ctx.stage(services.union(others))

    return ctx.memo("sts002.subset", build)


def st_max_clusters(ctx: SaltContext, rows: ir.Table) -> ir.Table:
    """ST-Max rows -> clusters (g = 1) ending in [PS, PE] (steps 2-3; STS002b step 2).

    `rows` are the ST-Max services to cluster; they are made distinct on (LA, ID, start, end, outcome) before
    the NULL end becomes today, as the code's GROUP BY does.
    """
    p = ctx.period
    build = rows.select("LA_Code", "ID", "Event_Start_Date", "Event_End_Date", "Event_Outcome").distinct()
    build = build.mutate(Event_End_Date=build.Event_End_Date.fill_null(ibis.date(p.today)))
    clustered = islands(
        build,
        gap=reference.parameter_int("st_max_gap_days"),
        start="Event_Start_Date",
        end="Event_End_Date",
        count_name=COUNT,
        start_name="MIN_START_DATE",
    )
    latest = latest_end_rows(clustered, count_name=COUNT, end="Event_End_Date")
    clusters = latest.select(
        "LA_Code",
        "ID",
        Cluster_Start_Date=latest.MIN_START_DATE,
        Cluster_End_Date=latest.Event_End_Date,
        Event_Outcome=latest.Event_Outcome,
        ST_MAX_COUNT=latest[COUNT],
    ).distinct()
    return clusters.filter(clusters.Cluster_End_Date.between(ibis.date(p.start), ibis.date(p.end)))


def st_max_services(ctx: SaltContext, events: ir.Table) -> ir.Table:
    """ST-Max services of people alive at PS."""
    return events.filter(
        eq_ci(events.Event_Type, reference.value("service")),
        eq_ci(events.Service_Type, reference.value("st_max")),
        alive_on(events, ctx.period.start),
    )


def final_table(ctx: SaltContext) -> ir.Table:
    """`#STS002a` (LA_Code, ID, FINAL_OUTCOME, FINAL_OUTCOME_MAPPED, Record_Type)."""
    return ctx.memo("sts002a.final", lambda: _build(ctx))


def _final(t: ir.Table, final_outcome: ir.Value, mapped: ir.Value, record_type: str) -> ir.Table:
    return t.select(
        LA_Code=t.LA_Code,
        ID=t.ID,
        FINAL_OUTCOME=final_outcome.cast("string"),
        FINAL_OUTCOME_MAPPED=mapped.cast("string"),
        Record_Type=ibis.literal(record_type),
    )


def _build(ctx: SaltContext) -> ir.Table:
    r = rules()
    mapping = _mapping()
    chrono = reference.value("no_chronology_prefix")
    unable = reference.value("unable_to_classify")
    other_label = reference.value("sts002a_other")
    planned = reference.value("service_ended_as_planned")
    nfa_prefix = reference.value("nfa_prefix")

    events = subset(ctx)
    cohort = sts001.sts002a_cohort(ctx).select(
        __cla="LA_Code", __cid="ID", __cstart="Sequel_Event_Start_Date"
    )
    st_max = st_max_services(ctx, events)
    in_cohort = st_max.join(
        cohort,
        (st_max.LA_Code == cohort["__cla"])
        & (cohort["__cid"] == st_max.ID)
        & (st_max.Event_Start_Date == cohort["__cstart"]),
    )
    clusters = ctx.stage(
        min_outcome_hierarchy_rows(ctx.stage(st_max_clusters(ctx, in_cohort)), count_name=COUNT).drop(
            "Event_Outcome_Hierarchy"
        )
    )
    sequels = ctx.stage(sequel_rows(clusters, events, r))
    chained = ctx.stage(chain(sequels, r))
    scoped = ctx.stage(in_scope(chained, r))
    other = ctx.stage(other_found(scoped, r))
    nfa = ctx.stage(
        nfa_found(
            other,
            r,
            lambda t: like_prefix_ci(t.Sequel_Event_Outcome, nfa_prefix),
            count_all_rows_at_rank=False,
        )
    )

    def chronology_mapped(outcome: ir.StringValue) -> ir.StringValue:
        salt = map_ci(outcome, mapping)
        return ibis.cases(
            (eq_ci(outcome, planned), other_label),
            (salt.notnull(), plus(chrono, salt)),
            else_=unable,
        )

    t1 = (
        no_chronology(clusters, sequels, r)
        .select("LA_Code", "ID", "Cluster_Start_Date", "Cluster_End_Date", COUNT, "Event_Outcome")
        .distinct()
    )
    type1 = _final(t1, plus(chrono, t1.Event_Outcome), chronology_mapped(t1.Event_Outcome), "1")
    t2 = services_found(scoped, r)
    type2 = _final(t2, t2.FINAL_OUTCOME, map_ci(t2.FINAL_OUTCOME, mapping), "2")
    single = nfa.NFA_Count == 1
    type3 = _final(
        nfa,
        ibis.cases((single, nfa.Sequel_Event_Outcome), else_=reference.value("nfa_other")),
        ibis.cases((single, map_ci(nfa.Sequel_Event_Outcome, mapping)), else_=other_label),
        "3",
    ).distinct()
    t4 = nothing_usable(other, nfa, r)
    type4 = _final(
        t4,
        plus(reference.value("no_service_found_prefix"), t4.Event_Outcome),
        ibis.cases(
            (like_prefix_ci(t4.Event_Outcome, nfa_prefix), map_ci(t4.Event_Outcome, mapping)),
            (eq_ci(t4.Event_Outcome, planned), reference.value("sts002a_other_hyphen")),
            else_=reference.value("no_service_found"),
        ),
        "4",
    )
    t5 = out_of_scope(chained, scoped, r)
    type5 = _final(t5, plus(chrono, t5.Event_Outcome), chronology_mapped(t5.Event_Outcome), "5")
    return ctx.stage(type1.union(type2).union(type3).union(type4).union(type5))


def build(ctx: SaltContext) -> ir.Table:
    """STS002a in the long layout: Total, by sequel, by record type."""
    final = final_table(ctx)
    council = tidy.union(
        [
            tidy.cells(final, measure=MEASURE, breakdown=tidy.TOTAL),
            tidy.cells(final, measure=MEASURE, breakdown="Sequel", dims=["FINAL_OUTCOME_MAPPED"]),
            tidy.cells(
                final,
                measure=MEASURE,
                breakdown="Record type | Final outcome | Sequel",
                dims=["Record_Type", "FINAL_OUTCOME", "FINAL_OUTCOME_MAPPED"],
            ),
        ]
    )
    return tidy.union([council, tidy.national_sum(council)])


def build_ascof_2a(ctx: SaltContext) -> ir.Table:
    """ASCOF 2A (Release 1): per council, numerator and denominator counted from `#STS002a` (salt.md §3).

    Councils appear when their denominator is above zero, as in the code's denominator query.
    """
    final = final_table(ctx)
    mapped = final.FINAL_OUTCOME_MAPPED
    in_den = in_ci(mapped, reference.values("ascof2a_r1_denominator"))
    in_num = in_ci(mapped, reference.values("ascof2a_r1_numerator"))
    counted = final.group_by(la_code=final.LA_Code.cast("string").fill_null(tidy.NULL_LABEL)).aggregate(
        numerator=ibis.cases((in_num, 1), else_=0).sum().cast("int64"),
        denominator=ibis.cases((in_den, 1), else_=0).sum().cast("int64"),
    )
    counted = counted.filter(counted.denominator > 0)
    council = counted.select(
        measure=ibis.literal(ASCOF_2A_R1),
        la_code=counted.la_code,
        breakdown=ibis.literal(tidy.TOTAL),
        group=ibis.literal(tidy.TOTAL),
        numerator=counted.numerator,
        denominator=counted.denominator,
    )
    return tidy.union([council, tidy.national_sum(council)])
