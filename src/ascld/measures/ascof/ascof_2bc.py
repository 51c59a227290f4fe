"""ASCOF 2B and 2C — new permanent admissions to residential and nursing care per 100,000 (ascof.md §2).

`ascof_2bc_numerators` counts people with a new admission per LA and age band; the rate per 100,000 is formed
with the ONS population in exact decimal arithmetic by the pipeline.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from ascld.measures.ascof.common import (
    PERSON,
    ReportingPeriod,
    age_years,
    ci_eq,
    ci_in,
    ci_like,
    ci_ne,
    ci_not_like,
    days_between,
    join_on,
)
from ascld.measures.ascof.reference import load_reference

RES_NURS_TYPES = ("Long term support: Residential care", "Long term support: Nursing care")
SELF_FUNDED = "NFA: Self-funded client or under 12wk disregard"
BAND_18_64 = "18 to 64"
BAND_65 = "65 and above"


def ascof_2bc_numerators(main: ir.Table, person_details: ir.Table, period: ReportingPeriod) -> ir.Table:
    """People with a new long-term residential/nursing admission in the period, per LA and age band.

    Args:
        main: prepared joined main table.
        person_details: the latest person details table (§0.4).
        period: the reporting period.

    Returns:
        Columns LA_Code, Age_Band (`18 to 64` / `65 and above`), Numerator.
    """
    new_days = load_reference().int_parameter("res_nurs_new_admission_days")
    pd = person_details.select("LA_Code", PERSON, "Der_Birth_Date", DOD_Latest=person_details.Date_of_Death)
    t = join_on(main, pd, ["LA_Code", PERSON], how="left")
    comp = t.Service_Component_Cleaned
    # With a NULL component the last condition is unknown, so NULL-component rows are excluded (§2 step 1).
    build = t.filter(
        ci_eq(t.Event_Type, "Service"),
        ci_eq(t.Client_Type_Cleaned, "Service User"),
        ci_in(t.Service_Type_Cleaned, RES_NURS_TYPES),
        t.Der_Birth_Date.notnull(),
        (t.DOD_Latest >= ibis.literal(period.start)) | t.DOD_Latest.isnull(),
        comp.isnull() | ci_like(comp, "%Residential%") | ci_like(comp, "%Nursing%"),
        ci_not_like(comp, "%Short%"),
    ).select(
        "LA_Code",
        PERSON,
        "Event_Start_Date",
        "Der_Event_End_Date",
        "Event_Outcome_Cleaned",
        Age=age_years(t.Der_Birth_Date, t.Event_Start_Date),
    )
    adm = (
        build.filter(
            build.Event_Start_Date.between(ibis.literal(period.start), ibis.literal(period.end)),
            build.Event_Outcome_Cleaned.isnull() | ci_ne(build.Event_Outcome_Cleaned, SELF_FUNDED),
        )
        .select("LA_Code", PERSON, "Event_Start_Date", "Age")
        .distinct()
    )

    earlier = build.select(
        "LA_Code", PERSON, Earlier_Start=build.Event_Start_Date, Earlier_End=build.Der_Event_End_Date
    )
    j = join_on(adm, earlier, ["LA_Code", PERSON])
    not_new = (
        j.filter(
            j.Earlier_Start < j.Event_Start_Date,
            (days_between(j.Earlier_End, j.Event_Start_Date) < new_days) | j.Earlier_End.isnull(),
        )
        .select("LA_Code", PERSON, "Event_Start_Date", "Age")
        .distinct()
    )
    new = adm.anti_join(
        not_new,
        [
            adm.LA_Code == not_new.LA_Code,
            adm[PERSON] == not_new[PERSON],
            adm.Event_Start_Date == not_new.Event_Start_Date,
        ],
    )
    new = new.filter(new.Age >= 18)
    band = ibis.cases(
        (new.Age.between(18, 64), ibis.literal(BAND_18_64)),
        (new.Age > 64, ibis.literal(BAND_65)),
        else_=ibis.null("string"),
    )
    # A person with new admissions in both bands counts once, in the alphabetical MIN: `18 to 64`.
    per_person = new.group_by(["LA_Code", PERSON]).aggregate(Age_Band=band.min())
    return per_person.group_by(["LA_Code", "Age_Band"]).aggregate(Numerator=per_person[PERSON].nunique())
