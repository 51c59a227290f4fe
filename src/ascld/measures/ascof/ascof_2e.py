"""ASCOF 2E — long-term support clients living in their own home or with family (ascof.md §3), for all
clients (`ASCOF 2E`) and for learning-disability support 18–64 (`ASCOF 2E LD`).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from ascld.measures.ascof.common import (
    PERSON,
    ReportingPeriod,
    age_band,
    age_years,
    ci_case,
    ci_eq,
    ci_in,
    join_on,
    open_end_date,
)
from ascld.measures.ascof.reference import load_reference

LONG_TERM_TYPES = (
    "Long term support: Nursing care",
    "Long term support: Residential care",
    "Long term support: Community",
    "Long term support: Prison",
)
LD_PSR = "Learning Disability Support"
BAND_18_64 = "18 to 64"
UNKNOWN_STATUSES = ("Unknown", "Unknown: presumed at home", "Unknown: presumed in community")


def ascof_2e_people(
    main: ir.Table, person_details: ir.Table, period: ReportingPeriod, *, learning_disability: bool
) -> ir.Table:
    """One row per person in the 2E cohort (`#ASCOF_2E_Final`), including unknown ages.

    Returns:
        Columns LA_Code, person, Accommodation_Status, Gender, Person_Age, Age_Band,
        Accommodation_Status_Group (1 settled, 0 not, NULL for a status not in the reference table).
    """
    t = main.filter(
        ci_eq(main.Client_Type_Cleaned, "Service user"),
        ci_eq(main.Event_Type, "Service"),
        ci_in(main.Service_Type_Cleaned, LONG_TERM_TYPES),
        main[PERSON].notnull(),
        main.Event_Start_Date.notnull(),
        (main.Der_Event_End_Date >= main.Event_Start_Date) | main.Der_Event_End_Date.isnull(),
        main.Event_Start_Date <= ibis.literal(period.end),
        (main.Der_Event_End_Date >= ibis.literal(period.start)) | main.Der_Event_End_Date.isnull(),
    ).select("LA_Code", PERSON, End=ibis.coalesce(main.Der_Event_End_Date, open_end_date()))
    pd = person_details.select(
        "LA_Code",
        PERSON,
        "Accommodation_Status",
        "Gender",
        "Der_Birth_Date",
        "Date_of_Death",
        "Primary_Support_Reason",
    )
    t = join_on(t, pd, ["LA_Code", PERSON], how="left")
    end = ibis.literal(period.end)
    capped = ibis.cases((t.End >= end, end), else_=t.End)
    t = t.mutate(Capped_End=capped)
    t = t.mutate(Person_Capped_End=t.Capped_End.max().over(ibis.window(group_by=["LA_Code", PERSON])))
    t = t.filter((t.Date_of_Death >= ibis.literal(period.start)) | t.Date_of_Death.isnull())
    if learning_disability:
        t = t.filter(ci_eq(t.Primary_Support_Reason, LD_PSR))
    age = age_years(t.Der_Birth_Date, t.Person_Capped_End)
    t = t.mutate(Person_Age=age)
    t = t.filter((t.Person_Age >= 18) | t.Person_Age.isnull())
    t = t.mutate(Age_Band=age_band(t.Person_Age, "working_age_from_1"))
    if learning_disability:
        t = t.filter(t.Age_Band == BAND_18_64)
    t = t.filter(t.Age_Band != "Under 18")
    groups = dict(load_reference().accommodation_groups)
    t = t.mutate(Accommodation_Status_Group=ci_case(t.Accommodation_Status, groups).cast("int32"))
    return t.select(
        "LA_Code",
        PERSON,
        "Accommodation_Status",
        "Gender",
        "Person_Age",
        "Age_Band",
        "Accommodation_Status_Group",
    ).distinct()


def ascof_2e_counts(people: ir.Table) -> ir.Table:
    """Numerators and denominators per LA × age band × gender (with a `Total` gender rollup).

    Returns:
        Columns LA_Code, Age_Band, Gender (a gender value or `Total`), Numerator, Denominator.
    """
    known = people.filter(people.Age_Band != "Unknown")
    settled = ibis.cases((known.Accommodation_Status_Group == 1, known[PERSON]), else_=ibis.null("string"))
    known = known.mutate(_settled=settled)
    by_gender = known.group_by(["LA_Code", "Age_Band", "Gender"]).aggregate(
        Numerator=known._settled.nunique(), Denominator=known[PERSON].nunique()
    )
    total = known.group_by(["LA_Code", "Age_Band"]).aggregate(
        Gender=ibis.literal("Total"), Numerator=known._settled.nunique(), Denominator=known[PERSON].nunique()
    )
    cols = ["LA_Code", "Age_Band", "Gender", "Numerator", "Denominator"]
    return ibis.union(by_gender.select(*cols), total.select(*cols), distinct=False)


def ascof_2e_unknown_counts(people: ir.Table) -> ir.Table:
    """People per LA whose status is unknown, presumed, NULL or not in the reference table (§3 step 8).

    Returns:
        Columns LA_Code, Count.
    """
    unknown = (
        ci_in(people.Accommodation_Status, UNKNOWN_STATUSES)
        | people.Accommodation_Status_Group.isnull()
        | people.Accommodation_Status.isnull()
    )
    u = people.filter(unknown)
    return u.group_by("LA_Code").aggregate(Count=u[PERSON].nunique())
