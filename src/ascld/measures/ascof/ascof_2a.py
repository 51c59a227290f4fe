"""ASCOF 2A — short-term services (reablement) for new clients with no further request for ongoing support
(ascof.md §1).

Unit: ST-Max clusters ending in the period for new clients. The result of `ascof_2a_clusters` is one row per
cluster with its age band, sequel type and final outcome; `ascof_2a_disaggregated` counts them the way
`ASCOF_2A_Disaggregated` does.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from ascld.measures.ascof.clustering import assign_clusters
from ascld.measures.ascof.common import (
    PERSON,
    ReportingPeriod,
    Stage,
    age_band,
    age_years,
    ci_case,
    ci_eq,
    ci_in,
    ci_ne,
    days_between,
    desc_nulls_last,
    invalid_value,
    join_on,
    no_stage,
    open_end_date,
)
from ascld.measures.ascof.reference import load_reference

ST_MAX = "Short term support: ST-Max"
LONG_TERM_TYPES = (
    "Long term support: Nursing care",
    "Long term support: Residential care",
    "Long term support: Community",
    "Long term support: Prison",
)
OTHER_SHORT_TERM = "Short term support: Other short term"
SHORT_TERM_RES_NURS_COMPONENTS = ("Short term residential care", "Short term nursing care")
SHORT_TERM_RES_NURS = "Short term support: Residential or Nursing care"
ONGOING_LOW_LEVEL = "Short term support: Ongoing low level"
DECEASED = "NFA: Deceased"
HOSPITAL = "Admitted to hospital"
ENDED_AS_PLANNED = "NFA: Support ended as planned"
EQUIPMENT = "Equipment"
NESTED_TYPES = ("Assessment", "Review")

DISAGGREGATED_COLUMNS = (
    "LA_Code",
    "Age_Band",
    "Sequel_Type",
    "Final_Outcome",
    "Included_In_Denom",
    "Included_In_Num",
    "Incl_In_Unable_To_Classify",
    "ST_Max_Count",
)


def outcome_hierarchy(outcome: ir.StringValue, *, penalised: bool) -> ir.IntegerValue:
    """Event-outcome hierarchy of a cleaned outcome; NULL/unmatched 999.

    With `penalised`, non-concluding outcomes get +100 (ascof.md §1.1 step 2); without, it is the main-table
    `Event_Outcome_Hierarchy` with NULL as 999 (as 2D orders its rows).
    """
    ref = load_reference()
    penalty = ref.int_parameter("outcome_penalty") if penalised else 0
    penalised_fold = {v.casefold() for v in ref.penalised_outcomes}
    ranks = {
        v: i + (penalty if v.casefold() in penalised_fold else 0)
        for i, v in enumerate(ref.outcome_hierarchy, start=1)
    }
    return ibis.coalesce(ci_case(outcome, ranks), ibis.literal(ref.int_parameter("outcome_unmatched_rank")))


def outcome_for_hierarchy(hierarchy: ir.IntegerValue) -> ir.StringValue:
    """The (penalised) hierarchy back to its outcome; 999 and unmatched -> `Invalid and not mapped`."""
    ref = load_reference()
    penalty = ref.int_parameter("outcome_penalty")
    penalised_fold = {v.casefold() for v in ref.penalised_outcomes}
    branches = [
        (hierarchy == i + (penalty if v.casefold() in penalised_fold else 0), ibis.literal(v))
        for i, v in enumerate(ref.outcome_hierarchy, start=1)
    ]
    return ibis.cases(*branches, else_=ibis.literal(invalid_value()))


def _build(main: ir.Table) -> ir.Table:
    """§1.1: service-user rows with a person, a start and an end not before the start; open end 9999-01-01."""
    t = main.filter(
        ci_eq(main.Client_Type_Cleaned, "Service User"),
        main[PERSON].notnull(),
        main.Event_Start_Date.notnull(),
        (main.Der_Event_End_Date >= main.Event_Start_Date) | main.Der_Event_End_Date.isnull(),
    )
    return t.select(
        "LA_Code",
        "LA_Name",
        PERSON,
        "Event_Type",
        "Event_Start_Date",
        "Service_Type_Cleaned",
        "Service_Component_Cleaned",
        "Der_Unique_Record_ID",
        End=ibis.coalesce(t.Der_Event_End_Date, open_end_date()),
        Event_Outcome=ibis.coalesce(t.Event_Outcome_Cleaned, ibis.literal(invalid_value())),
        Hierarchy=outcome_hierarchy(t.Event_Outcome_Cleaned, penalised=True),
    )


def _clusters(build: ir.Table, period: ReportingPeriod) -> ir.Table:
    """§1.2: cluster the ST-Max rows; outcome of the latest-ending row; keep clusters ending in the period."""
    st = build.filter(ci_eq(build.Event_Type, "Service"), ci_eq(build.Service_Type_Cleaned, ST_MAX))
    st = assign_clusters(st)
    w = ibis.window(
        group_by="Cluster_Key",
        order_by=[desc_nulls_last(st.End), st.Hierarchy.asc(), desc_nulls_last(st.Der_Unique_Record_ID)],
    )
    st = st.mutate(_pick=ibis.row_number().over(w))
    chosen = st.filter(st._pick == 0).select(
        "Cluster_Key", Cluster_Outcome=st.Event_Outcome, Cluster_Hierarchy=st.Hierarchy
    )
    spans = st.group_by(["Cluster_Key", "LA_Code", "LA_Name", PERSON]).aggregate(
        Cluster_Start=st.Event_Start_Date.min(), Cluster_End=st.End.max()
    )
    c = join_on(spans, chosen, "Cluster_Key")
    return c.filter(c.Cluster_End.between(ibis.literal(period.start), ibis.literal(period.end)))


def ascof_2a_clusters(
    main: ir.Table, person_details: ir.Table, period: ReportingPeriod, *, stage: Stage = no_stage
) -> ir.Table:
    """One row per counted ST-Max cluster with its final outcome (ascof.md §1.2–§1.4).

    Args:
        main: prepared joined main table.
        person_details: the latest person details table (§0.4).
        period: the reporting period.
        stage: materialises an intermediate table (the pipeline caches; SQL emission leaves them inline).

    Returns:
        Columns LA_Code, LA_Name, person, Cluster_Key, Cluster_Start, Cluster_End, Age_Band, Sequel_Type,
        Final_Outcome.
    """
    ref = load_reference()
    window_days = ref.int_parameter("sequel_window_days")
    usable = ref.int_parameter("outcome_penalty")  # a hierarchy below the penalty is a concluding outcome
    build = stage(_build(main), "2a_build")
    clusters = stage(_clusters(build, period), "2a_clusters")

    # §1.3: age at cluster end, under-18s and earlier deaths dropped.
    pd = person_details.select("LA_Code", PERSON, "Der_Birth_Date", "Date_of_Death")
    c = join_on(clusters, pd, ["LA_Code", PERSON], how="left")
    age = age_years(c.Der_Birth_Date, c.Cluster_End)
    c = c.mutate(Age_Band=age_band(age, "working_age"), _age=age)
    c = c.filter(
        (c._age >= 18) | c.Der_Birth_Date.isnull(),
        (c.Date_of_Death >= c.Cluster_Start) | c.Date_of_Death.isnull(),
    ).drop("_age")

    # The person's other rows; the cluster's own ST-Max rows never act as sequels or evidence.
    ev = join_on(
        c.select("Cluster_Key", "LA_Code", PERSON, "Cluster_Start", "Cluster_End"),
        build.drop("LA_Name"),
        ["LA_Code", PERSON],
    )
    own = (
        ev.Event_Start_Date.between(ev.Cluster_Start, ev.Cluster_End)
        & ci_eq(ev.Event_Type, "Service")
        & ci_eq(ev.Service_Type_Cleaned, ST_MAX)
    )
    ev = ev.filter(~ibis.cases((own, True), else_=False))

    # New-client test: a long-term service started before the cluster and ended < 91 days before it (or open).
    # "A service of type ..." (§1.3 step 5): a Service event; a service type on another event does not count.
    existing = (
        ev.filter(
            ci_eq(ev.Event_Type, "Service"),
            ci_in(ev.Service_Type_Cleaned, LONG_TERM_TYPES),
            ev.Event_Start_Date < ev.Cluster_Start,
            days_between(ev.End, ev.Cluster_Start) < ref.int_parameter("new_client_days"),
        )
        .select("Cluster_Key")
        .distinct()
    )
    c = stage(c.anti_join(existing, "Cluster_Key"), "2a_new_clusters")
    ev = stage(ev.semi_join(c.select("Cluster_Key"), "Cluster_Key"), "2a_events")

    # Step 1 deceased, step 2 hospital.
    c = c.mutate(
        _is1=ibis.cases((days_between(c.Cluster_End, c.Date_of_Death) <= window_days, True), else_=False),
        _is2=ibis.cases((ci_eq(c.Cluster_Outcome, HOSPITAL), True), else_=False),
    )

    # Window events (steps 3-4): start in the reablement or <= 7 days after its end, and go on past its end.
    win = ev.filter(
        ev.Event_Start_Date >= ev.Cluster_Start,
        ev.End > ev.Cluster_End,
        days_between(ev.Cluster_End, ev.Event_Start_Date) <= window_days,
    )
    first_stmax = (
        win.filter(ci_eq(win.Service_Type_Cleaned, ST_MAX))
        .group_by("Cluster_Key")
        .aggregate(First_STMax_Start=win.Event_Start_Date.min())
    )
    win = join_on(win, first_stmax, "Cluster_Key", how="left")
    win = win.filter(win.First_STMax_Start.isnull() | (win.Event_Start_Date < win.First_STMax_Start))
    win = stage(win, "2a_window_events")
    has_window = win.select("Cluster_Key").distinct().mutate(_has_window=ibis.literal(1))

    # Step 3: the top service sequel (hierarchy, then short-term residential/nursing components first). A window
    # row that is not a Service event ranks 99 whatever service type it carries ("non-services 99", §1.4 step 3);
    # it is a step 4 candidate instead.
    other = ref.int_parameter("service_unmatched_rank")
    service_rank = ibis.cases(
        (
            ci_eq(win.Event_Type, "Service"),
            ibis.coalesce(
                ci_case(win.Service_Type_Cleaned, {v: i for i, v in enumerate(ref.service_hierarchy, start=1)}),
                ibis.literal(other),
            ),
        ),
        else_=ibis.literal(other),
    )
    preferred = ibis.cases((ci_in(win.Service_Component_Cleaned, SHORT_TERM_RES_NURS_COMPONENTS), 0), else_=1)
    svc = win.mutate(_score=service_rank * 2 + preferred).filter(service_rank != other)
    svc = svc.group_by("Cluster_Key").aggregate(_best=svc._score.min())
    best_rank = (svc._best / 2).floor().cast("int64")
    type_branches = [(best_rank == i, ibis.literal(v)) for i, v in enumerate(ref.service_hierarchy, start=1)]
    other_short = {v.casefold(): i for i, v in enumerate(ref.service_hierarchy, start=1)}[
        OTHER_SHORT_TERM.casefold()
    ]
    svc = svc.select(
        "Cluster_Key",
        Step3_Outcome=ibis.cases(
            (svc._best == other_short * 2, ibis.literal(SHORT_TERM_RES_NURS)), *type_branches
        ),
    )

    # Step 4 candidates: (4a) cluster outcome, (4b) non-service window rows, (4c) nested assessments/reviews.
    c = join_on(c, has_window, "Cluster_Key", how="left")
    c = join_on(c, svc, "Cluster_Key", how="left")
    c = stage(c, "2a_steps_1_3")
    remaining = c.filter(~c._is1, ~c._is2, c.Step3_Outcome.isnull()).select(
        "Cluster_Key", "Cluster_Hierarchy", "_has_window"
    )

    cand_a_nowin = remaining.filter(
        remaining._has_window.isnull(), remaining.Cluster_Hierarchy < usable
    ).select("Cluster_Key", H=remaining.Cluster_Hierarchy, Source=ibis.literal(1))
    w4 = join_on(win, remaining.select("Cluster_Key", "Cluster_Hierarchy"), "Cluster_Key")
    w4 = w4.filter(
        ci_ne(w4.Event_Type, "Service"),
        ci_ne(w4.Event_Outcome, ENDED_AS_PLANNED),
        (w4.Cluster_Hierarchy < usable) | (w4.Hierarchy < usable),
    )
    cand_a_win = w4.select("Cluster_Key", H=w4.Cluster_Hierarchy, Source=ibis.literal(1)).distinct()
    cand_b = w4.filter(w4.Hierarchy < usable).select("Cluster_Key", H=w4.Hierarchy, Source=ibis.literal(2))
    nested = ev.semi_join(remaining, "Cluster_Key")
    nested = nested.filter(
        ci_in(nested.Event_Type, NESTED_TYPES),
        nested.Event_Start_Date >= nested.Cluster_Start,
        nested.End > nested.Cluster_Start,
        nested.End <= nested.Cluster_End,
        days_between(nested.End, nested.Cluster_End) < ref.int_parameter("nested_review_days"),
        nested.Hierarchy < usable,
    )
    # Combined nested outcome: the latest-ending row, ties to the lowest hierarchy.
    nested = nested.mutate(_latest=nested.End.max().over(ibis.window(group_by="Cluster_Key")))
    nested = nested.filter(nested.End == nested._latest)
    cand_c = nested.group_by("Cluster_Key").aggregate(H=nested.Hierarchy.min()).mutate(Source=ibis.literal(3))
    cands = ibis.union(
        cand_a_nowin.select("Cluster_Key", "H", "Source"),
        cand_a_win.select("Cluster_Key", "H", "Source"),
        cand_b.select("Cluster_Key", "H", "Source"),
        cand_c.select("Cluster_Key", "H", "Source"),
        distinct=False,
    )
    cands = cands.mutate(_min=cands.H.min().over(ibis.window(group_by="Cluster_Key")))
    step4 = (
        cands.filter(cands._min == cands.H)
        .group_by("Cluster_Key")
        .aggregate(Step4_H=cands._min.min(), Step4_Source=cands.Source.min())
    )
    step4 = step4.select(
        "Cluster_Key",
        Step4_Outcome=outcome_for_hierarchy(step4.Step4_H),
        Step4_Type=ibis.cases((step4.Step4_Source == 1, "4a"), (step4.Step4_Source == 2, "4b"), else_="4c"),
    )

    # Step 5: a nested equipment service.
    eq = ev.semi_join(remaining, "Cluster_Key")
    eq = (
        eq.filter(
            eq.Event_Start_Date >= eq.Cluster_Start,
            eq.End > eq.Cluster_Start,
            eq.End <= eq.Cluster_End,
            ci_eq(eq.Event_Type, "Service"),
            ci_eq(eq.Service_Component_Cleaned, EQUIPMENT),
        )
        .select("Cluster_Key")
        .distinct()
        .mutate(_equipment=ibis.literal(1))
    )

    c = join_on(c, step4, "Cluster_Key", how="left")
    c = join_on(c, eq, "Cluster_Key", how="left")
    is1, is2 = c._is1, c._is2
    final = ibis.cases(
        (is1, ibis.literal(DECEASED)),
        (is2, c.Cluster_Outcome),
        (c.Step3_Outcome.notnull(), c.Step3_Outcome),
        (c.Step4_Outcome.notnull(), c.Step4_Outcome),
        (c._equipment == 1, ibis.literal(ONGOING_LOW_LEVEL)),
        else_=c.Cluster_Outcome,
    )
    sequel = ibis.cases(
        (is1, "1"),
        (is2, "2"),
        (c.Step3_Outcome.notnull(), "3"),
        (c.Step4_Outcome.notnull(), c.Step4_Type),
        (c._equipment == 1, "5"),
        else_="6",
    )
    return c.select(
        "LA_Code",
        "LA_Name",
        PERSON,
        "Cluster_Key",
        "Cluster_Start",
        "Cluster_End",
        "Age_Band",
        Sequel_Type=sequel,
        Final_Outcome=final,
    )


def ascof_2a_disaggregated(clusters: ir.Table) -> ir.Table:
    """Counts of clusters by LA, age band, sequel type, final outcome and the three Y/N flags (§1.5)."""
    rows = load_reference().final_outcomes

    def flag(column: str) -> ir.StringValue:
        values = [r["final_outcome"] for r in rows if r[column] == "Y"]
        return ibis.cases((ci_in(clusters.Final_Outcome, values), "Y"), else_="N")

    t = clusters.mutate(
        Included_In_Denom=flag("in_denominator"),
        Included_In_Num=flag("in_numerator"),
        Incl_In_Unable_To_Classify=flag("unable_to_classify"),
    )
    g = t.group_by(
        [
            "LA_Code",
            "Age_Band",
            "Sequel_Type",
            "Final_Outcome",
            "Included_In_Denom",
            "Included_In_Num",
            "Incl_In_Unable_To_Classify",
        ]
    ).aggregate(ST_Max_Count=t.count())
    return g.select(*DISAGGREGATED_COLUMNS)
