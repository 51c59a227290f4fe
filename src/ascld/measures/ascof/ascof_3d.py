"""ASCOF 3D — self-directed support and direct payments (ascof.md §5): clients 1a/2a (a snapshot at the
period end) and carers 1b/2b (in the year).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from ascld.measures.ascof.common import (
    PERSON,
    ReportingPeriod,
    age_band,
    age_years,
    ci_eq,
    ci_in,
    ci_not_in,
    ci_not_like,
    join_on,
)
from ascld.measures.ascof.reference import load_reference

LONG_TERM_TYPES = (
    "Long term support: Nursing care",
    "Long term support: Residential care",
    "Long term support: Community",
    "Long term support: Prison",
)
COMMUNITY = "Long term support: Community"
PRISON = "Long term support: Prison"
DIRECT_PAYMENT = "Direct payment"
MANAGED_BUDGET = "CASSR managed personal budget"
COMMISSIONED = "CASSR commissioned support"
CARER_CLIENT_TYPES = (
    "Carer",
    "Unpaid carer",
    "Carer known by association",
    "Unpaid carer known by association",
)
DIRECT_TO_CARER = "Unpaid carer support: Direct to unpaid carer"
INVOLVING_CARED_FOR = "Unpaid carer support: Support involving the person cared-for"
INFO_ADVICE = "NFA: Information and advice or signposting"
ASSESSMENT_REVIEW = ("Assessment", "Review")
KEPT_BANDS = ("18 to 64", "65 and above", "Unknown")

# Support_Provided categories (spec hierarchy delivery_mechanism.carer_support_provided_SALT_LTS003).
DP_ONLY = "Direct Payment only"
MANAGED = "CASSR Managed Personal Budget"
COMMISSIONED_ONLY = "CASSR Commissioned Support only"
UNKNOWN_MECH = "Support Direct to Carer: Unknown Delivery Mech"
INFORMATION = "Information, Advice and Other Universal Services / Signposting"
NO_DIRECT = "No Direct Support Provided to Carer"


def _with_age(main: ir.Table, person_details: ir.Table, period: ReportingPeriod) -> ir.Table:
    pd = person_details.select(
        "LA_Code",
        PERSON,
        Der_Birth_Date_Latest=person_details.Der_Birth_Date,
        Date_of_Death_Latest=person_details.Date_of_Death,
    )
    t = join_on(main, pd, ["LA_Code", PERSON], how="left")
    return t.mutate(Der_Age_Reporting_End=age_years(t.Der_Birth_Date_Latest, ibis.literal(period.end)))


def ascof_3d_clients(main: ir.Table, person_details: ir.Table, period: ReportingPeriod) -> ir.Table:
    """Clients kept after the setting hierarchy (`#ASCOF_3D_Clients_Final`), one row per distinct
    (LA, person, band, service type, component, mechanism) at the person's top setting.

    Returns:
        Columns LA_Code, person, Age_Band, Service_Type, Service_Component, Delivery_Mechanism.
    """
    ref = load_reference()
    t = _with_age(main, person_details, period)
    end = ibis.literal(period.end)
    t = t.filter(
        ci_in(t.Service_Type_Cleaned, LONG_TERM_TYPES),
        ci_eq(t.Client_Type_Cleaned, "Service User"),
        t.Event_Start_Date <= end,
        t[PERSON].notnull(),
        t.Event_Start_Date.notnull(),
        (t.Der_Event_End_Date >= t.Event_Start_Date) | t.Der_Event_End_Date.isnull(),
        (t.Der_Event_End_Date >= end) | t.Der_Event_End_Date.isnull(),
        (t.Date_of_Death_Latest >= end) | t.Date_of_Death_Latest.isnull(),
    )
    mech = ibis.cases(
        (ci_eq(t.Service_Component_Cleaned, DIRECT_PAYMENT), ibis.literal(DIRECT_PAYMENT)),
        else_=t.Delivery_Mechanism_Cleaned,
    )
    t = t.mutate(
        Service_Type=t.Service_Type_Cleaned,
        Service_Component=t.Service_Component_Cleaned,
        Mechanism=mech,
        Age_Band=age_band(t.Der_Age_Reporting_End, "working_age"),
    )
    # Keep a mechanism only if (type, mechanism) is in the setting table and the type is community or prison.
    listed = ibis.literal(False)
    for r in ref.client_settings:
        if r["delivery_mechanism"]:
            listed = listed | (
                ci_eq(t.Service_Type, r["service_type"]) & ci_eq(t.Mechanism, r["delivery_mechanism"])
            )
    keep = listed & ci_in(t.Service_Type, (COMMUNITY, PRISON))
    t = t.mutate(Delivery_Mechanism=ibis.cases((keep, t.Mechanism), else_=ibis.literal("")))
    branches = [
        (ci_eq(t.Service_Type, COMMUNITY) & ci_eq(t.Service_Component, DIRECT_PAYMENT), ibis.literal(3)),
    ]
    for r in ref.client_settings:
        mech_match = (
            ci_eq(t.Delivery_Mechanism, r["delivery_mechanism"])
            if r["delivery_mechanism"]
            else t.Delivery_Mechanism == ""
        )
        branches.append(
            (ci_eq(t.Service_Type, r["service_type"]) & mech_match, ibis.literal(int(r["hierarchy"])))
        )
    t = t.mutate(Hierarchy=ibis.cases(*branches, else_=ibis.null("int64")))
    t = t.mutate(_min=t.Hierarchy.min().over(ibis.window(group_by=["LA_Code", PERSON])))
    t = t.filter(t._min.notnull(), t.Hierarchy == t._min, ci_in(t.Age_Band, KEPT_BANDS))
    return t.select(
        "LA_Code", PERSON, "Age_Band", "Service_Type", "Service_Component", "Delivery_Mechanism"
    ).distinct()


def ascof_3d_client_counts(clients: ir.Table) -> ir.Table:
    """1a and 2a numerators and the shared denominator per LA and age band (Unknown kept: it feeds Total).

    Returns:
        Columns LA_Code, Age_Band, Denominator, Numerator_1a, Numerator_2a, Unknown_Mechanism.
    """
    c = clients.filter(ci_eq(clients.Service_Type, COMMUNITY))
    dp = ci_eq(c.Delivery_Mechanism, DIRECT_PAYMENT) | ci_eq(c.Service_Component, DIRECT_PAYMENT)
    sds = ibis.cases((dp | ci_eq(c.Delivery_Mechanism, MANAGED_BUDGET), True), else_=False)
    dp = ibis.cases((dp, True), else_=False)
    unknown = (c.Delivery_Mechanism == "") & (
        ci_not_in(c.Service_Component, (DIRECT_PAYMENT,)) | c.Service_Component.isnull()
    )
    c = c.mutate(
        _sds=ibis.cases((sds, c[PERSON]), else_=ibis.null("string")),
        _dp=ibis.cases((dp, c[PERSON]), else_=ibis.null("string")),
        _unknown=ibis.cases((unknown, c[PERSON]), else_=ibis.null("string")),
    )
    return _band_and_total(
        c,
        Denominator=lambda x: x[PERSON].nunique(),
        Numerator_1a=lambda x: x._sds.nunique(),
        Numerator_2a=lambda x: x._dp.nunique(),
        Unknown_Mechanism=lambda x: x._unknown.nunique(),
    )


def _band_and_total(t: ir.Table, **metrics) -> ir.Table:
    by_band = t.group_by(["LA_Code", "Age_Band"]).aggregate(**{k: f(t) for k, f in metrics.items()})
    total = t.group_by("LA_Code").aggregate(
        Age_Band=ibis.literal("Total"), **{k: f(t) for k, f in metrics.items()}
    )
    cols = ["LA_Code", "Age_Band", *metrics]
    return ibis.union(by_band.select(*cols), total.select(*cols), distinct=False)


def ascof_3d_carers(main: ir.Table, person_details: ir.Table, period: ReportingPeriod) -> ir.Table:
    """Carers with their kept support category (`#ASCOF_3D_Carers_Final`).

    Returns:
        Columns LA_Code, person, Age_Band, Support_Provided.
    """
    ref = load_reference()
    t = _with_age(main, person_details, period)
    start, end = ibis.literal(period.start), ibis.literal(period.end)
    stype = t.Service_Type_Cleaned
    outcome_raw = t.Event_Outcome_Cleaned
    t = t.filter(
        ci_in(t.Client_Type_Cleaned, CARER_CLIENT_TYPES),
        t.Event_Start_Date <= end,
        t[PERSON].notnull(),
        t.Event_Start_Date.notnull(),
        (t.Der_Event_End_Date >= start) | t.Der_Event_End_Date.isnull(),
        (t.Der_Event_End_Date >= t.Event_Start_Date) | t.Der_Event_End_Date.isnull(),
        (t.Date_of_Death_Latest >= start) | t.Date_of_Death_Latest.isnull(),
        (stype.isnull() & ci_eq(outcome_raw, INFO_ADVICE))
        | ci_in(stype, (DIRECT_TO_CARER, INVOLVING_CARED_FOR))
        | (ci_in(t.Event_Type, ASSESSMENT_REVIEW) & stype.isnull()),
    )
    outcome = ibis.coalesce(
        t.Event_Outcome_Cleaned, ibis.literal(load_reference().parameter("invalid_value"))
    )
    direct = ci_eq(t.Service_Type_Cleaned, DIRECT_TO_CARER)
    mech, comp = t.Delivery_Mechanism_Cleaned, t.Service_Component_Cleaned
    not_dp_comp = ci_not_like(comp, DIRECT_PAYMENT)
    # CASE order and NULL logic as ascof.md §5.2 step 2: with a NULL component rules 2-5 are never true.
    support = ibis.cases(
        (direct & (ci_eq(mech, DIRECT_PAYMENT) | ci_eq(comp, DIRECT_PAYMENT)), ibis.literal(DP_ONLY)),
        (direct & ci_eq(mech, MANAGED_BUDGET) & not_dp_comp, ibis.literal(MANAGED)),
        (direct & ci_eq(mech, COMMISSIONED) & not_dp_comp, ibis.literal(COMMISSIONED_ONLY)),
        (
            direct & ci_not_in(mech, (DIRECT_PAYMENT, MANAGED_BUDGET, COMMISSIONED)) & not_dp_comp,
            ibis.literal(UNKNOWN_MECH),
        ),
        (direct & mech.isnull() & not_dp_comp, ibis.literal(UNKNOWN_MECH)),
        (ci_eq(t.Service_Type_Cleaned, INVOLVING_CARED_FOR), ibis.literal(NO_DIRECT)),
        (ci_in(t.Event_Type, ASSESSMENT_REVIEW) & ci_not_like(outcome, INFO_ADVICE), ibis.literal(NO_DIRECT)),
        (ci_in(t.Event_Type, ASSESSMENT_REVIEW) & outcome.isnull(), ibis.literal(NO_DIRECT)),
        (ci_in(t.Event_Type, ASSESSMENT_REVIEW) & ci_eq(outcome, INFO_ADVICE), ibis.literal(INFORMATION)),
        (ci_eq(t.Event_Type, "Request"), ibis.literal(INFORMATION)),
        else_=ibis.null("string"),
    )
    t = t.mutate(Support_Provided=support)
    hierarchy = {v: i for i, v in enumerate(ref.carer_support_hierarchy, start=1)}
    rank = ibis.cases(
        *[(ci_eq(t.Support_Provided, v), ibis.literal(i)) for v, i in hierarchy.items()],
        else_=ibis.null("int64"),
    )
    t = t.mutate(Hierarchy=rank)
    w = ibis.window(group_by=["LA_Code", PERSON])
    t = t.mutate(_min=t.Hierarchy.min().over(w), _min_age=t.Der_Age_Reporting_End.min().over(w))
    t = t.mutate(Age_Band=age_band(t._min_age, "working_age"))
    t = t.filter(t._min.notnull(), t.Hierarchy == t._min, ci_in(t.Age_Band, KEPT_BANDS))
    return t.select("LA_Code", PERSON, "Age_Band", "Support_Provided").distinct()


def ascof_3d_carer_counts(carers: ir.Table) -> ir.Table:
    """1b and 2b numerators and the shared denominator per LA and age band (Unknown kept: it feeds Total).

    Only carers whose kept support is a direct payment, a managed personal budget or commissioned support
    are counted, so a band with none of them has no row (as in the method).

    Returns:
        Columns LA_Code, Age_Band, Denominator, Numerator_1b, Numerator_2b.
    """
    t = carers.filter(ci_in(carers.Support_Provided, (DP_ONLY, MANAGED, COMMISSIONED_ONLY)))
    t = t.mutate(
        _1b=ibis.cases((ci_in(t.Support_Provided, (DP_ONLY, MANAGED)), t[PERSON]), else_=ibis.null("string")),
        _2b=ibis.cases((ci_eq(t.Support_Provided, DP_ONLY), t[PERSON]), else_=ibis.null("string")),
    )
    return _band_and_total(
        t,
        Denominator=lambda x: x[PERSON].nunique(),
        Numerator_1b=lambda x: x._1b.nunique(),
        Numerator_2b=lambda x: x._2b.nunique(),
    )


def ascof_3d_carer_unknown_counts(carers: ir.Table) -> ir.Table:
    """Carers per LA whose kept support is `Support Direct to Carer: Unknown Delivery Mech` (§5.2 step 5).

    Returns:
        Columns LA_Code, Count.
    """
    u = carers.filter(ci_eq(carers.Support_Provided, UNKNOWN_MECH))
    return u.group_by("LA_Code").aggregate(Count=u[PERSON].nunique())
