"""SALT LTS003: carers supported during the year, high-level totals (salt.md §9)."""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from ascld.measures.salt import long_term, reference, tidy
from ascld.measures.salt.common import (
    SaltContext,
    age_at,
    alive_on,
    assign_person_id,
    eq_ci,
    in_ci,
    like_ci,
    map_ci,
    proxy_dob,
    trailing_flag,
)
from ascld.spec import load_spec

MEASURE = "SALT LTS003"
SUPPORT_HIERARCHY = "delivery_mechanism.carer_support_provided_SALT_LTS003"


def cohort(ctx: SaltContext) -> ir.Table:
    """Step 1: carers' events in the year of the three kinds LTS003 allows, from the latest submission; ID."""
    p = ctx.period
    t = long_term.latest_submission(ctx)
    info = reference.value("nfa_information_advice")
    carer_services = [reference.value("carer_direct"), reference.value("carer_involving")]
    t = t.filter(
        in_ci(t.Client_Type, reference.values("carer_client_types")),
        t.Event_Start_Date <= ibis.date(p.end),
        (t.Event_End_Date >= ibis.date(p.start)) | t.Event_End_Date.isnull(),
        alive_on(t, p.start),
        in_ci(t.Event_Type, reference.values("event_types")),
        (t.Service_Type.isnull() & eq_ci(t.Event_Outcome, info))
        | in_ci(t.Service_Type, carer_services)
        | (in_ci(t.Event_Type, reference.values("assessment_review")) & t.Service_Type.isnull()),
    )
    dummy = reference.parameter_date("dummy_dob")
    # The code tests the birth year twice and never the month: a known year with no month would fail the CAST
    # in SQL Server; here it gives no date of birth (and so no age band).
    dob = ibis.cases((t.Der_Birth_Year.isnull(), ibis.date(dummy)), else_=proxy_dob(t))
    t = t.mutate(Der_DOB=dob)
    t = t.mutate(Der_Age_EndDate=age_at(t.Der_DOB, p.end))
    return ctx.stage(assign_person_id(t))


def support_provided(t: ir.Table) -> ir.StringValue:
    """Step 2: the support category, first matching rule (SQL CASE: an unknown test falls through)."""
    dp, managed, commissioned, unknown_dm, info_label, no_direct = load_spec().hierarchies[SUPPORT_HIERARCHY]
    direct = eq_ci(t.Service_Type, reference.value("carer_direct"))
    mechanisms = [reference.value(k) for k in ("dm_direct_payment", "dm_managed_budget", "dm_commissioned")]
    assessment_review = in_ci(t.Event_Type, reference.values("assessment_review"))
    info = reference.value("nfa_information_advice")
    return ibis.cases(
        (direct & eq_ci(t.Delivery_Mechanism, mechanisms[0]), dp),
        (direct & eq_ci(t.Delivery_Mechanism, mechanisms[1]), managed),
        (direct & eq_ci(t.Delivery_Mechanism, mechanisms[2]), commissioned),
        (direct & ~in_ci(t.Delivery_Mechanism, mechanisms), unknown_dm),
        (direct & t.Delivery_Mechanism.isnull(), unknown_dm),
        (eq_ci(t.Service_Type, reference.value("carer_involving")), no_direct),
        (assessment_review & ~like_ci(t.Event_Outcome, info, trailing=t[trailing_flag("Event_Outcome")]), no_direct),
        (assessment_review & t.Event_Outcome.isnull(), no_direct),
        (assessment_review & eq_ci(t.Event_Outcome, info), info_label),
        (eq_ci(t.Event_Type, reference.value("request")), info_label),
        else_=ibis.null("string"),
    )


def age_band(t: ir.Table) -> ir.StringValue:
    """Optional carer age bands at PE (the dummy date of birth gives `Unknown`)."""
    dummy = reference.parameter_date("dummy_dob")
    cases: list[tuple[ir.BooleanValue, str]] = []
    for row in reference.read_table("lts003_age_bands"):
        low, high = row["min_age"], row["max_age"]
        if not low and not high:
            cases.insert(0, (t.Der_DOB == ibis.date(dummy), row["label"]))
        elif not low:
            cases.append((t.Der_Age_EndDate <= int(high), row["label"]))
        elif not high:
            cases.append((t.Der_Age_EndDate >= int(low), row["label"]))
        else:
            cases.append((t.Der_Age_EndDate.between(int(low), int(high)), row["label"]))
    return ibis.cases(*cases, else_=ibis.null("string"))


def final_table(ctx: SaltContext) -> ir.Table:
    """`#LTS003` with ages: distinct (LA, ID, support, DOB, age) at each carer's lowest hierarchy."""
    t = cohort(ctx)
    ranks = load_spec().hierarchy_rank(SUPPORT_HIERARCHY)
    t = t.mutate(Support_Provided=support_provided(t))
    t = t.mutate(Hierarchy=map_ci(t.Support_Provided, dict(ranks)).cast("int64"))
    t = t.mutate(__min=t.Hierarchy.min().over(group_by=["LA_Code", "ID"]))
    kept = t.filter(t.Hierarchy == t["__min"])
    final = kept.select("LA_Code", "ID", "Support_Provided", "Der_DOB", "Der_Age_EndDate").distinct()
    return ctx.stage(final.mutate(Age_Band=age_band(final)))


def build(ctx: SaltContext) -> ir.Table:
    """Distinct carers: total, by support, by age band and support; nationally distinct across councils."""
    final = final_table(ctx)
    parts = []
    for national in (False, True):
        parts += [
            tidy.cells(final, measure=MEASURE, breakdown=tidy.TOTAL, distinct="ID", national=national),
            tidy.cells(
                final,
                measure=MEASURE,
                breakdown="Support provided",
                dims=["Support_Provided"],
                distinct="ID",
                national=national,
            ),
            tidy.cells(
                final,
                measure=MEASURE,
                breakdown="Age band | Support provided",
                dims=["Age_Band", "Support_Provided"],
                distinct="ID",
                national=national,
            ),
        ]
    return tidy.union(parts)
