"""SALT STS001: requests for support from new clients, by sequel (salt.md §2).

Also builds the STS002a cohort (§2 step 8): the ST-Max sequel rows of record-type-2 requests.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from ascld.measures.salt import reference, tidy
from ascld.measures.salt.common import (
    SaltContext,
    age_at,
    age_band,
    alive_on,
    assign_person_id,
    birth_known,
    eq_ci,
    in_ci,
    islands,
    latest_end_rows,
    latest_versions,
    long_term_services,
    map_ci,
    match_all,
    min_outcome_hierarchy_rows,
    open_long_term,
    plus,
    prefixed,
    proxy_dob,
    request_key,
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

MEASURE = "SALT STS001"
COUNT = "REQUEST_COUNT"
FINAL_COLUMNS = (
    "LA_Code",
    "ID",
    "AGE",
    "ROUTE_Of_ACCESS",
    "FINAL_OUTCOME",
    "FINAL_OUTCOME_MAPPED",
    "Record_Type",
)


def rules() -> SequelRules:
    return SequelRules(
        count_name=COUNT,
        carry=("Der_Age_EndDate", "Request_Route_of_Access"),
        first_days=reference.parameter_int("sts001_first_days"),
        break_column="Sequel_Event_Type",
        break_value=reference.value("request"),
        service_rank=reference.service_hierarchy("sts001"),
        out_of_scope_columns=(
            "LA_Code",
            "ID",
            "Der_Age_EndDate",
            "Request_Route_of_Access",
            "Cluster_Start_Date",
            "Cluster_End_Date",
            "Event_Outcome",
        ),
    )


def _mapping() -> tuple[dict[str, int], dict[str, str]]:
    rows = reference.read_table("sts001_sequel_mapping")
    return (
        {r["event_outcome"]: int(r["mapping_code"]) for r in rows},
        {r["event_outcome"]: r["mapping_description"] for r in rows},
    )


def all_events(ctx: SaltContext) -> ir.Table:
    """Step 1: all event types started by PE, birth known, alive at PS, service users; ID; latest versions."""
    raw, p = ctx.raw, ctx.period
    t = raw.filter(
        in_ci(raw.Event_Type, reference.values("event_types")),
        raw.Event_Start_Date <= ibis.date(p.end),
        birth_known(raw),
        alive_on(raw, p.start),
        eq_ci(raw.Client_Type, reference.value("service_user")),
    )
    t = assign_person_id(t.mutate(Der_Age_EndDate=age_at(proxy_dob(t), p.end)))
    request, service = reference.value("request"), reference.value("service")
    requests = latest_versions(t.filter(eq_ci(t.Event_Type, request)), request_key, p.event_window_close)
    services = latest_versions(t.filter(eq_ci(t.Event_Type, service)), service_key, p.event_window_close)
    others = t.filter(~in_ci(t.Event_Type, [service, request]))
    return requests.union(services).union(others)


def request_clusters(ctx: SaltContext, events: ir.Table) -> ir.Table:
    """Steps 2-3: request islands (g = 4); the latest in-period end of each island; row per outcome/route."""
    p = ctx.period
    req = events.filter(eq_ci(events.Event_Type, reference.value("request")))
    req = req.select(
        "LA_Code",
        "ID",
        "Der_Age_EndDate",
        "Event_Start_Date",
        Event_End_Date=req.Event_End_Date.fill_null(ibis.date(p.today)),
        Request_Route_of_Access=req.Request_Route_of_Access,
        Event_Outcome=req.Event_Outcome,
    )
    clustered = islands(
        req,
        gap=reference.parameter_int("request_gap_days"),
        start="Event_Start_Date",
        end="Event_End_Date",
        count_name=COUNT,
        start_name="MIN_START_DATE",
    )
    in_period = clustered.filter(clustered.Event_End_Date.between(ibis.date(p.start), ibis.date(p.end)))
    latest = latest_end_rows(in_period, count_name=COUNT, end="Event_End_Date")
    return latest.select(
        "LA_Code",
        "ID",
        "Der_Age_EndDate",
        Cluster_Start_Date=latest.MIN_START_DATE,
        Cluster_End_Date=latest.Event_End_Date,
        Request_Route_of_Access=latest.Request_Route_of_Access,
        Event_Outcome=latest.Event_Outcome,
        REQUEST_COUNT=latest[COUNT],
    ).distinct()


def new_client_clusters(clusters: ir.Table, events: ir.Table) -> ir.Table:
    """Step 4: drop clusters starting inside an open long-term service (join also on route and outcome)."""
    keys = [
        "LA_Code",
        "ID",
        "Cluster_Start_Date",
        "Cluster_End_Date",
        "Request_Route_of_Access",
        "Event_Outcome",
        COUNT,
    ]
    ongoing = prefixed(open_long_term(clusters, long_term_services(events), keys), keys, "__o_")
    return clusters.anti_join(ongoing, match_all(clusters, ongoing, keys, "__o_"))


def _final_columns(t: ir.Table, final_outcome: ir.Value, mapped: ir.Value, record_type: str) -> ir.Table:
    return t.select(
        LA_Code=t.LA_Code,
        ID=t.ID,
        AGE=t.Der_Age_EndDate,
        ROUTE_Of_ACCESS=t.Request_Route_of_Access,
        FINAL_OUTCOME=final_outcome.cast("string"),
        FINAL_OUTCOME_MAPPED=mapped.cast("string"),
        Record_Type=ibis.literal(record_type),
    )


def final_table(ctx: SaltContext) -> ir.Table:
    """`#STS001`: one row per request cluster (more where the code duplicates), record types 1-5."""
    return ctx.memo("sts001.final", lambda: _build(ctx)[0])


def sts002a_cohort(ctx: SaltContext) -> ir.Table:
    """`SALT_STS002a_Cohort`: (LA, ID, ..., Sequel_Event_Start_Date) of kept ST-Max sequels (type 2)."""
    return ctx.memo("sts001.cohort", lambda: _build(ctx)[1])


def _build(ctx: SaltContext) -> tuple[ir.Table, ir.Table]:
    cached = ctx.cache.get("sts001.built")
    if cached is not None:
        return cached
    r = rules()
    codes, descriptions = _mapping()
    chrono = reference.value("no_chronology_prefix")
    events = ctx.stage(all_events(ctx))
    requests = ctx.stage(request_clusters(ctx, events))
    clusters = ctx.stage(
        min_outcome_hierarchy_rows(
            new_client_clusters(requests, events), count_name=COUNT, also_equal=["Request_Route_of_Access"]
        ).drop("Event_Outcome_Hierarchy")
    )
    sequels = ctx.stage(sequel_rows(clusters, events, r))
    chained = ctx.stage(chain(sequels, r))
    scoped = ctx.stage(in_scope(chained, r))
    other = ctx.stage(other_found(scoped, r))
    nfa = ctx.stage(
        nfa_found(other, r, lambda t: map_ci(t.Sequel_Event_Outcome, codes) == 1, count_all_rows_at_rank=True)
    )

    t1 = no_chronology(clusters, sequels, r)
    description = map_ci(t1.Event_Outcome, descriptions)
    type1 = _final_columns(
        t1,
        plus(chrono, t1.Event_Outcome),
        ibis.cases(
            (description.notnull(), plus(chrono, description)), else_=reference.value("unable_to_classify")
        ),
        "1",
    )
    t2 = services_found(scoped, r)
    type2 = _final_columns(t2, t2.FINAL_OUTCOME, t2.FINAL_OUTCOME, "2")
    single = nfa.NFA_Count == 1
    type3 = _final_columns(
        nfa,
        ibis.cases((single, nfa.Sequel_Event_Outcome), else_=reference.value("nfa_other")),
        ibis.cases(
            (single, map_ci(nfa.Sequel_Event_Outcome, descriptions)),
            else_=descriptions[reference.value("nfa_other")],
        ),
        "3",
    ).distinct()
    t4 = nothing_usable(other, nfa, r)
    found = reference.value("no_service_found_prefix")
    type4 = _final_columns(
        t4,
        plus(found, t4.Event_Outcome),
        ibis.cases(
            (map_ci(t4.Event_Outcome, codes) == 1, plus(found, map_ci(t4.Event_Outcome, descriptions))),
            else_=reference.value("no_service_found"),
        ),
        "4",
    )
    t5 = out_of_scope(chained, scoped, r)
    type5 = _final_columns(
        t5, plus(chrono, t5.Event_Outcome), plus(chrono, map_ci(t5.Event_Outcome, descriptions)), "5"
    )
    final = ctx.stage(type1.union(type2).union(type3).union(type4).union(type5))

    st_max = reference.value("st_max")
    unmatched = reference.parameter_int("unmatched_hierarchy")
    top = scoped.filter(
        (scoped["__best"] != unmatched) & (scoped.Hierarchy == scoped["__best"]),
        eq_ci(scoped.Sequel_Service_Type, st_max),
    )
    cohort = ctx.stage(
        top.select(
            "LA_Code",
            "ID",
            "Cluster_Start_Date",
            "Cluster_End_Date",
            "Event_Outcome",
            COUNT,
            "Sequel_Event_Start_Date",
            FINAL_OUTCOME=top.Sequel_Service_Type,
        ).distinct()
    )
    ctx.cache["sts001.built"] = (final, cohort)
    return final, cohort


def build(ctx: SaltContext) -> ir.Table:
    """STS001 in the long layout: Total, by sequel, by age band, by route of access, by record type."""
    final = final_table(ctx)
    final = final.mutate(Age_Band=age_band(final.AGE))
    banded = final.filter(final.Age_Band.notnull())
    council = tidy.union(
        [
            tidy.cells(final, measure=MEASURE, breakdown=tidy.TOTAL),
            tidy.cells(final, measure=MEASURE, breakdown="Sequel", dims=["FINAL_OUTCOME_MAPPED"]),
            tidy.cells(
                banded,
                measure=MEASURE,
                breakdown="Age band | Sequel",
                dims=["Age_Band", "FINAL_OUTCOME_MAPPED"],
            ),
            tidy.cells(
                final,
                measure=MEASURE,
                breakdown="Route of access | Sequel",
                dims=["ROUTE_Of_ACCESS", "FINAL_OUTCOME_MAPPED"],
            ),
            tidy.cells(
                final,
                measure=MEASURE,
                breakdown="Record type | Final outcome | Sequel",
                dims=["Record_Type", "FINAL_OUTCOME", "FINAL_OUTCOME_MAPPED"],
            ),
        ]
    )
    return tidy.union([council, tidy.national_sum(council)])
