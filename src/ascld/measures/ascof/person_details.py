"""The latest person details table (ascof.md §0.4): one row per (LA_Code, person) with the person's latest
known characteristics, built from every row of the joined main table.

It is built once with the *latest* reporting period (which only affects `Der_Age_End_Of_Period` and the
unpaid-carer evidence window) and reused for every period of the run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import ibis
import ibis.expr.types as ir

from ascld.measures.ascof.common import (
    PERSON,
    ReportingPeriod,
    Stage,
    age_band,
    age_years,
    asc_nulls_first,
    ci_case,
    ci_eq,
    ci_in,
    desc_nulls_last,
    fold,
    format_d_mmm_yy,
    has_unpaid_carer_cleaned,
    invalid_value,
    join_on,
    no_stage,
    open_end_date,
    proxy_birth_date,
)
from ascld.measures.ascof.reference import load_reference

KEY = ("LA_Code", PERSON)

#: Output columns, in order (ascof.md §0.4).
PERSON_DETAILS_COLUMNS = (
    "Reporting_Period_End_Date",
    "LA_Code",
    PERSON,
    "LA_Person_Unique_Identifier_Latest",
    "LA_Person_Unique_Identifier_Concat",
    "Accommodation_Status",
    "Accommodation_Status_Group",
    "Employment_Status",
    "Gender",
    "Ethnicity",
    "Der_Birth_Year",
    "Der_Birth_Month",
    "Der_Birth_Date",
    "Der_Age_End_Of_Period",
    "Der_Working_Age_Band_End_Of_Period",
    "Date_of_Death",
    "Has_Unpaid_Carer",
    "Primary_Support_Reason",
    "Client_Funding_Status",
)

UNKNOWN = "Unknown"
NOT_USEFUL = "Not useful"
CARER_CLIENT_TYPES = ("Unpaid carer", "Unpaid carer known by association")  # §0.4 override, only these two
FUNDING_KNOWN = ("Fully social care funded", "Joint client and social care funded", "Fully client funded")
ETHNICITY_UNDECLARED = "No data: Undeclared or not known"
ETHNICITY_REFUSED = "No data: Refused"
PSR_NOT_KNOWN = (UNKNOWN, "Invalid and not mapped", "Social support: Support to unpaid carer")


def _cld(main: ir.Table) -> ir.Table:
    """`#CLD`: open end dates set to 9999-01-01 and NULL cleaned categorical values set to invalid."""
    inv = ibis.literal(invalid_value())
    return main.select(
        "LA_Code",
        PERSON,
        "LA_Person_Unique_Identifier",
        "Event_Start_Date",
        "Ref_Period_End_Date",
        "Der_Birth_Year",
        "Der_Birth_Month",
        "Date_of_Death",
        "Adult_1_Linked_Person_ID",
        "Adult_2_Linked_Person_ID",
        "Adult_3_Linked_Person_ID",
        End=ibis.coalesce(main.Der_Event_End_Date, open_end_date()),
        Client_Type=ibis.coalesce(main.Client_Type_Cleaned, inv),
        PSR=ibis.coalesce(main.Primary_Support_Reason_Cleaned, inv),
        Ethnicity=ibis.coalesce(main.Ethnicity_Cleaned, inv),
        Funding=ibis.coalesce(main.Client_Funding_Status_Cleaned, inv),
        Employment=ibis.coalesce(main.Employment_Status_Cleaned, inv),
        Accommodation=ibis.coalesce(main.Accommodation_Status_Cleaned, inv),
        Unpaid_Carer=has_unpaid_carer_cleaned(main.Has_Unpaid_Carer),
        Gender=ibis.coalesce(main.Gender_Cleaned, inv),
        Event_Type=ibis.coalesce(main.Event_Type, inv),
        Service_Type=ibis.coalesce(main.Service_Type_Cleaned, inv),
        Service_Component=ibis.coalesce(main.Service_Component_Cleaned, inv),
    )


def _rank(t: ir.Table, *order: Any) -> ir.IntegerValue:
    """DENSE_RANK within (LA_Code, person); 0 is rank 1 (Ibis ranks start at 0)."""
    return ibis.dense_rank().over(ibis.window(group_by=list(KEY), order_by=list(order)))


def _generic_order(t: ir.Table, known: ir.Value) -> tuple:
    """The generic "latest known value" order (ascof.md §0.4): known DESC, Ref_Period_End_Date DESC, end DESC
    (open first), Event_Start_Date DESC."""
    return (
        desc_nulls_last(known),
        desc_nulls_last(t.Ref_Period_End_Date),
        desc_nulls_last(t.End),
        desc_nulls_last(t.Event_Start_Date),
    )


def _latest_attributes(
    cld: ir.Table, attributes: Mapping[str, tuple[Any, Any, str]], extra_rows: ir.Table
) -> ir.Table:
    """Apply the generic latest-known rule to several attributes in one pass over the person's rows.

    For each attribute (value, known flag, conflict value): DENSE_RANK the person's rows by the generic order,
    keep rank 1, and give the conflict value when rank 1 holds more than one distinct value. Computing every
    attribute over the same (LA_Code, person) partition lets an engine sort each person's rows once.
    """
    t = cld.mutate(**{f"v_{k}": v(cld) for k, (v, _, _) in attributes.items()})
    t = t.mutate(**{f"k_{k}": known(t) for k, (_, known, _) in attributes.items()})
    t = t.mutate(**{f"r_{k}": _rank(t, *_generic_order(t, t[f"k_{k}"])) for k in attributes})
    t = extra_rows(t)
    aggs = {}
    for k in attributes:
        first = t[f"r_{k}"] == 0
        aggs[f"n_{k}"] = t[f"v_{k}"].nunique(where=first)
        aggs[f"m_{k}"] = t[f"v_{k}"].max(where=first)
    aggs["Der_Birth_Year"] = t.Der_Birth_Year.min(where=t.r_birth == 0)
    aggs["Der_Birth_Month"] = t.Der_Birth_Month.min(where=t.r_birth == 0)
    aggs["Date_of_Death"] = t.Date_of_Death.max(where=t.r_death == 0)
    g = t.group_by(list(KEY)).aggregate(**aggs)
    return g.select(
        *KEY,
        "Der_Birth_Year",
        "Der_Birth_Month",
        "Date_of_Death",
        **{
            k: ibis.cases((g[f"n_{k}"] > 1, ibis.literal(conflict)), else_=g[f"m_{k}"])
            for k, (_, _, conflict) in attributes.items()
        },
    )


def _birth_and_death_ranks(t: ir.Table) -> ir.Table:
    """Birth year/month: both known first, latest reference period, earliest birth date. Date of death: known
    first, latest reference period, latest date."""
    both = ibis.cases((t.Der_Birth_Year.notnull() & t.Der_Birth_Month.notnull(), 2), else_=1)
    has_death = ibis.cases((t.Date_of_Death.isnull(), 1), else_=2)
    return t.mutate(
        r_birth=_rank(
            t,
            desc_nulls_last(both),
            desc_nulls_last(t.Ref_Period_End_Date),
            asc_nulls_first(t.Der_Birth_Year),
            asc_nulls_first(t.Der_Birth_Month),
        ),
        r_death=_rank(
            t,
            desc_nulls_last(has_death),
            desc_nulls_last(t.Ref_Period_End_Date),
            desc_nulls_last(t.Date_of_Death),
        ),
    )


def _accommodation_group(status: ir.StringValue) -> ir.IntegerValue:
    groups = load_reference().accommodation_groups
    return ci_case(status, dict(groups)).cast("int32")


def _completed_accommodation(cld: ir.Table, unknown_people: ir.Table) -> ir.Table:
    """Accommodation status completion from services for people whose latest status is Unknown (§0.4)."""
    ref = load_reference()
    rules = ref.accommodation_from_services
    mappable = [r["service_component"] for r in rules if r["service_component"] not in ("*", "<NULL>")]
    hier = {v: i for i, v in enumerate(ref.service_hierarchy, start=1)}
    other = ref.int_parameter("service_unmatched_rank")

    services = cld.filter(ci_eq(cld.Event_Type, "Service")).select(
        *KEY, "Service_Type", "Service_Component", "Event_Start_Date", "End"
    )
    j = join_on(unknown_people, services, list(KEY), how="left")
    j = j.mutate(End=ibis.coalesce(j.End, open_end_date()))
    j = j.mutate(
        hierarchy=ibis.coalesce(ci_case(j.Service_Type, hier), ibis.literal(other)),
        mappable=ibis.cases((ci_in(j.Service_Component, mappable), 1), else_=0),
    )
    order = [
        desc_nulls_last(j.End),
        j.hierarchy.asc(),
        desc_nulls_last(j.mappable),
        desc_nulls_last(j.Event_Start_Date),
    ]
    j = j.mutate(rank=ibis.dense_rank().over(ibis.window(group_by=list(KEY), order_by=order)))
    j = j.filter(j["rank"] == 0)
    j = j.mutate(
        type_=ibis.cases((j.hierarchy == other, ibis.literal(NOT_USEFUL)), else_=j.Service_Type),
        comp=ibis.cases((j.mappable == 1, j.Service_Component), else_=ibis.literal(NOT_USEFUL)),
    )
    useful_type = j.type_ != NOT_USEFUL
    useful_comp = j.comp != NOT_USEFUL
    g = j.group_by(list(KEY)).aggregate(
        n_type=j.type_.nunique(where=useful_type),
        max_type=j.type_.max(where=useful_type),
        n_comp=j.comp.nunique(where=useful_comp),
        max_comp=j.comp.max(where=useful_comp),
    )
    g = g.select(
        *KEY,
        stype=ibis.cases((g.n_type == 1, g.max_type), else_=ibis.null("string")),
        scomp=ibis.cases((g.n_comp == 1, g.max_comp), else_=ibis.null("string")),
    )
    branches = []
    for r in rules:
        cond = ibis.literal(True)
        if r["service_type"] != "*":
            cond = cond & ci_eq(g.stype, r["service_type"])
        if r["service_component"] == "<NULL>":
            cond = cond & g.scomp.isnull()
        elif r["service_component"] != "*":
            cond = cond & ci_eq(g.scomp, r["service_component"])
        branches.append((cond, ibis.literal(r["accommodation_status"])))
    status = ibis.cases(*branches, else_=ibis.literal(UNKNOWN))
    return g.select(*KEY, Completed_Accommodation=status)


def _people_with_unpaid_carer(cld: ir.Table, period: ReportingPeriod) -> ir.Table:
    """People named as a linked adult on an unpaid-carer row with an event in the period (§0.4 override)."""
    carers = cld.filter(
        ci_in(cld.Client_Type, CARER_CLIENT_TYPES),
        cld.End >= ibis.literal(period.start),
        cld.Event_Start_Date <= ibis.literal(period.end),
    )
    links = [
        carers.filter(carers[c].notnull()).select("LA_Code", Linked=carers[c])
        for c in ("Adult_1_Linked_Person_ID", "Adult_2_Linked_Person_ID", "Adult_3_Linked_Person_ID")
    ]
    linked = ibis.union(*links, distinct=True)
    ids = (
        cld.filter(cld.LA_Person_Unique_Identifier.notnull())
        .select(*KEY, folded=fold(cld.LA_Person_Unique_Identifier))
        .distinct()
    )
    hit = linked.join(ids, (linked.LA_Code == ids.LA_Code) & (fold(linked.Linked) == ids.folded))
    return hit.select(ids.LA_Code, ids[PERSON]).distinct()


def build_person_details(
    main: ir.Table, period: ReportingPeriod, *, sorted_concat: bool = True, stage: Stage = no_stage
) -> ir.Table:
    """Build the latest person details table (ascof.md §0.4) as an Ibis expression.

    Args:
        main: the prepared joined main table (`prepare_main_table`).
        period: the *latest* reporting period of the run.
        sorted_concat: list a person's LA identifiers in sorted order (the same on every engine); False uses a
            plain string aggregate (`STRING_AGG` in T-SQL, which has no array functions), in no fixed order.
        stage: materialises intermediate tables (the prepared rows and the latest values).

    Returns:
        One row per (LA_Code, Der_NHS_LA_Combined_Person_ID) with `PERSON_DETAILS_COLUMNS`.
    """
    inv = invalid_value()
    cld = stage(_cld(main), "pd_cld")

    def unknown_if(col: str, values: tuple[str, ...]) -> Any:
        return lambda t: ibis.cases((ci_in(t[col], values), ibis.literal(UNKNOWN)), else_=t[col])

    def known_unless(col: str, values: tuple[str, ...]) -> Any:
        return lambda t: ibis.cases((ci_in(t[col], values), 0), else_=1)

    def eth_rank(t: ir.Table) -> ir.Value:
        v = t.v_Ethnicity
        return ibis.cases((ci_eq(v, ETHNICITY_UNDECLARED), 0), (ci_eq(v, ETHNICITY_REFUSED), 1), else_=2)

    def funding_value(t: ir.Table) -> ir.Value:
        return ibis.cases((ci_in(t.Funding, FUNDING_KNOWN), t.Funding), else_=ibis.literal(UNKNOWN))

    def id_value(t: ir.Table) -> ir.Value:
        ident = t.LA_Person_Unique_Identifier
        return ibis.cases(
            (ident.isnull(), ibis.literal(UNKNOWN)),
            (ci_in(ident, (UNKNOWN, inv)), ibis.literal(UNKNOWN)),
            else_=ident,
        )

    # value(t), known(t) (after values are added), conflict
    attributes: dict[str, tuple[Any, Any, str]] = {
        "Accommodation": (
            unknown_if("Accommodation", (inv,)),
            known_unless("Accommodation", (UNKNOWN, inv)),
            UNKNOWN,
        ),
        "Employment": (lambda t: t.Employment, known_unless("Employment", (UNKNOWN, inv)), UNKNOWN),
        "Gender": (unknown_if("Gender", (UNKNOWN, inv)), known_unless("v_Gender", (UNKNOWN,)), UNKNOWN),
        "Ethnicity": (
            lambda t: ibis.cases(
                (ci_eq(t.Ethnicity, inv), ibis.literal(ETHNICITY_UNDECLARED)), else_=t.Ethnicity
            ),
            eth_rank,
            ETHNICITY_UNDECLARED,
        ),
        "Funding": (
            funding_value,
            lambda t: ibis.cases((ci_in(t.Funding, FUNDING_KNOWN), 1), else_=0),
            UNKNOWN,
        ),
        "PSR": (unknown_if("PSR", (inv,)), known_unless("PSR", PSR_NOT_KNOWN), UNKNOWN),
        "Unpaid_Carer": (
            unknown_if("Unpaid_Carer", (UNKNOWN, inv)),
            known_unless("v_Unpaid_Carer", (UNKNOWN,)),
            UNKNOWN,
        ),
    }
    latest = stage(_latest_attributes(cld, attributes, _birth_and_death_ranks), "pd_latest")

    # LA_Person_Unique_Identifier_Latest: the generic order plus the number of rows with that identifier.
    ids = cld.mutate(value=id_value(cld))
    ids = ids.mutate(id_rows=ids[PERSON].count().over(ibis.window(group_by=[*KEY, "value"])))
    ids = ids.mutate(known=ibis.cases((ids.value == UNKNOWN, 0), else_=1))
    ids = ids.mutate(rank=_rank(ids, *_generic_order(ids, ids.known), desc_nulls_last(ids.id_rows)))
    ids = ids.filter(ids["rank"] == 0)
    id_latest = ids.group_by(list(KEY)).aggregate(n=ids.value.nunique(), v=ids.value.max())
    id_latest = id_latest.select(
        *KEY,
        LA_Person_Unique_Identifier_Latest=ibis.cases(
            (id_latest.n > 1, ibis.literal(UNKNOWN)), else_=id_latest.v
        ),
    )
    concat_src = cld.filter(cld.LA_Person_Unique_Identifier.notnull())
    if sorted_concat:
        identifiers = concat_src.LA_Person_Unique_Identifier.collect(distinct=True).sort().join(", ")
        id_concat = concat_src.group_by(list(KEY)).aggregate(LA_Person_Unique_Identifier_Concat=identifiers)
    else:
        concat_src = concat_src.select(*KEY, "LA_Person_Unique_Identifier").distinct()
        id_concat = concat_src.group_by(list(KEY)).aggregate(
            LA_Person_Unique_Identifier_Concat=concat_src.LA_Person_Unique_Identifier.group_concat(", ")
        )

    # Accommodation status completion from services where the latest status is Unknown.
    unknown_people = latest.filter(ci_eq(latest.Accommodation, UNKNOWN)).select(*KEY)
    completed = _completed_accommodation(cld, unknown_people)
    out = join_on(latest, completed, list(KEY), how="left")
    out = out.mutate(
        Accommodation_Status=ibis.cases(
            (ci_eq(out.Accommodation, UNKNOWN), out.Completed_Accommodation), else_=out.Accommodation
        )
    )
    out = out.mutate(Accommodation_Status_Group=_accommodation_group(out.Accommodation_Status))

    # Has unpaid carer: Yes for anyone named as a linked adult by an unpaid carer with an event in the period.
    linked = _people_with_unpaid_carer(cld, period).mutate(linked=ibis.literal(1))
    out = join_on(out, linked, list(KEY), how="left")
    out = join_on(out, id_latest, list(KEY), how="left")
    out = join_on(out, id_concat, list(KEY), how="left")

    dob = proxy_birth_date(out.Der_Birth_Year, out.Der_Birth_Month)
    age = age_years(dob, ibis.literal(period.end))
    out = out.mutate(
        Reporting_Period_End_Date=ibis.literal(format_d_mmm_yy(period.end)),
        Employment_Status=out.Employment,
        Gender=out.Gender,
        Ethnicity=out.Ethnicity,
        Client_Funding_Status=out.Funding,
        Primary_Support_Reason=out.PSR,
        Has_Unpaid_Carer=ibis.cases((out.linked == 1, ibis.literal("Yes")), else_=out.Unpaid_Carer),
        Der_Birth_Date=dob,
        Der_Age_End_Of_Period=age,
        Der_Working_Age_Band_End_Of_Period=age_band(age, "working_age_from_1"),
    )
    return out.select(*PERSON_DETAILS_COLUMNS)
