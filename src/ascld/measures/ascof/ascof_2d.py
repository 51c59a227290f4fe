"""ASCOF 2D — older people discharged from hospital into reablement (ascof.md §4).

Part 1: of the reablement clusters (people 65+) that follow a hospital discharge, the share with no death,
readmission or entry to long-term residential/nursing care within 12 weeks of the discharge. Part 2: of the
hospital discharges of people 65+, the share followed by reablement. CLD is linked to hospital discharge
spells on the pseudonymised NHS number (`Der_DHSC_Pseudo_NHS_Number` = CLD `Der_NHS_LA_Combined_Person_ID`),
compared as SQL Server `=` does (case-insensitive, trailing spaces ignored; main-tables.md §0).

Areas are keyed by code: part 1 by the reablement council's `LA_Code`; part 2 by the patient's upper-tier
authority code (UTLA 2023), which the pipeline maps to councils through the LA lookup's `LA_Area_Code`.
DHSC matches on names with a list of spelling fixes; codes give the same pairs without the list.
"""

from __future__ import annotations

from dataclasses import dataclass

import ibis
import ibis.expr.types as ir

from ascld.measures.ascof.ascof_2a import outcome_hierarchy
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
    ci_like,
    ci_not_in,
    ci_not_like,
    days_between,
    fold,
    join_on,
    no_stage,
    open_end_date,
    proxy_birth_date,
)
from ascld.measures.ascof.reference import load_reference

ST_MAX = "Short term support: ST-Max"
RES_NURS_PRISON = (
    "Long term support: Nursing care",
    "Long term support: Residential care",
    "Long term support: Prison",
)
RES_NURS = ("Long term support: Residential care", "Long term support: Nursing care")
COMMUNITY = "Long term support: Community"
IN_COMMUNITY = "Those in LT community support"
NOT_IN_LTS = "Those not in any LTS"
TOTAL = "Total"
SLICES = ("Total", "65-74", "75-84", "85+", "Female", "Male")
GENDER_SLICES = ("Female", "Male")
COMBOS = ("100", "110", "101", "010", "011", "001", "111")


@dataclass(frozen=True)
class Ascof2DTables:
    """The 2D aggregates as Ibis expressions (area code NULL = England, client type `Total` = all)."""

    part1: (
        ir.Table
    )  # Area_Code, Client_Type, Slice, Denominator, Numerator, Died, Readmitted, Entered_LT_ResNurs
    part2_discharges: ir.Table  # UTLA_Code, Client_Type, Slice, Discharges
    venn: ir.Table  # Area_Code, Client_Type, Outcome_Combo, Clusters


def _cld_2d(main: ir.Table, person_details: ir.Table, period: ReportingPeriod) -> ir.Table:
    pd = person_details.select("LA_Code", PERSON, DOD_Latest=person_details.Date_of_Death)
    t = join_on(main, pd, ["LA_Code", PERSON], how="left")
    t = t.filter(
        ci_eq(t.Client_Type_Cleaned, "Service User"),
        (t.DOD_Latest >= ibis.literal(period.start)) | t.DOD_Latest.isnull(),
        (t.Der_Event_End_Date >= t.Event_Start_Date) | t.Der_Event_End_Date.isnull(),
        t[PERSON].notnull(),
    )
    return t.mutate(End=ibis.coalesce(t.Der_Event_End_Date, open_end_date()))


def _reablement_clusters(cld: ir.Table) -> ir.Table:
    r = cld.filter(
        ci_eq(cld.Event_Type, "service"),
        ci_eq(cld.Service_Type_Cleaned, ST_MAX),
        ci_like(cld.Service_Component_Cleaned, "Reablement"),
    ).mutate(Hierarchy=outcome_hierarchy(cld.Event_Outcome_Cleaned, penalised=False))
    r = assign_clusters(r)
    return r.group_by(["Cluster_Key", "LA_Code", "LA_Name", PERSON]).aggregate(
        Cluster_Start=r.Event_Start_Date.min(), Cluster_End=r.End.max(), Date_of_Death=r.DOD_Latest.max()
    )


def _open_at(lts: ir.Table, types: tuple[str, ...] | str, admission: ir.DateValue) -> ir.BooleanValue:
    types = (types,) if isinstance(types, str) else types
    return ci_in(lts.Service_Type_Cleaned, types) & admission.between(lts.Event_Start_Date, lts.End)


def hospital_discharges(
    discharges: ir.Table, lts: ir.Table, period: ReportingPeriod, lsoa_lookup: ir.Table | None
) -> ir.Table:
    """Discharges of people 65+ in the period (the part 2 denominator, ascof.md §4.2).

    Returns:
        Distinct rows of Der_DHSC_Pseudo_NHS_Number, APCS_Ident, Admission_Date, Discharge_Date, Age,
        Age_Group, Gender, UTLA_Code, Client_Type.
    """
    ref = load_reference()
    codes = ref.sus_codes
    s = discharges
    dob = proxy_birth_date(s.Year_of_Birth_SUS, s.Month_of_Birth_SUS)
    s = s.mutate(Age=age_years(dob, s.Discharge_Date))
    tfc = s.Treatment_Function_Code
    tfc_ok = ci_not_in(tfc, codes["treatment_function_excluded"])
    for prefix in codes["treatment_function_prefix_excluded"]:
        tfc_ok = tfc_ok & ci_not_like(tfc, f"{prefix}%")
    s = s.filter(
        s.Age >= ref.int_parameter("sus_min_age"),
        ci_not_in(s.Admission_Method, codes["admission_method_excluded"]),
        ci_not_in(s.Discharge_Method, codes["discharge_method_excluded"]),
        ci_not_in(s.Discharge_Destination, codes["discharge_destination_excluded"]),
        tfc_ok,
        s.Admission_Date >= ibis.literal(ref.date_parameter("cld_start_date")),
        s.Admission_Date < s.Discharge_Date,
        s.Discharge_Date.between(ibis.literal(period.start), ibis.literal(period.end)),
        s.APCS_Last_Ep_Ind == 1,
        s.Der_DHSC_Pseudo_NHS_Number.notnull(),
    )
    # Not in long-term nursing, residential or prison support at admission (matched on person, any LA). The test
    # depends on the person and the admission date only (a NOT EXISTS), so an episode without an APCS_Ident is
    # excluded like any other.
    in_care = lts.filter(ci_in(lts.Service_Type_Cleaned, RES_NURS_PRISON))
    s = s.anti_join(
        in_care,
        [
            fold(s.Der_DHSC_Pseudo_NHS_Number) == fold(in_care[PERSON]),
            s.Admission_Date.between(in_care.Event_Start_Date, in_care.End),
        ],
    )
    s = s.mutate(Gender=ibis.coalesce(ci_case(s.Sex, dict(ref.sus_sex)), s.Sex))
    s = s.select(
        "Der_DHSC_Pseudo_NHS_Number",
        "Admission_Date",
        "Discharge_Date",
        "APCS_Ident",
        "Der_Postcode_LSOA_2011_Code",
        "Age",
        "Gender",
        *(["UTLA_Code_2023"] if "UTLA_Code_2023" in s.columns else []),
    ).distinct()
    if "UTLA_Code_2023" in s.columns:
        s = s.rename(UTLA_Code="UTLA_Code_2023")
    else:
        if lsoa_lookup is None:
            raise ValueError("2D needs UTLA_Code_2023 on the discharges or an LSOA lookup")
        lk = lsoa_lookup.select(Der_Postcode_LSOA_2011_Code="LSOA_Code_2011", UTLA_Code="UTLA_Code_2023")
        s = join_on(s, lk, "Der_Postcode_LSOA_2011_Code")
    s = s.filter(ci_like(s.UTLA_Code, "E%"))  # England only; unmatched LSOAs are dropped
    s = s.mutate(Age_Group=age_band(s.Age, "sus_65_plus", unknown=None))
    community = lts.filter(ci_eq(lts.Service_Type_Cleaned, COMMUNITY))
    # An EXISTS on the person and the admission date (an episode without an APCS_Ident included).
    in_comm = (
        s.join(
            community,
            [
                fold(s.Der_DHSC_Pseudo_NHS_Number) == fold(community[PERSON]),
                s.Admission_Date.between(community.Event_Start_Date, community.End),
            ],
        )
        .select(_Comm_Person=s.Der_DHSC_Pseudo_NHS_Number, _Comm_Admission=s.Admission_Date)
        .distinct()
    )
    s = s.left_join(
        in_comm,
        [
            s.Der_DHSC_Pseudo_NHS_Number == in_comm._Comm_Person,
            s.Admission_Date == in_comm._Comm_Admission,
        ],
    )
    s = s.mutate(
        Client_Type=ibis.cases(
            (s._Comm_Person.notnull(), ibis.literal(IN_COMMUNITY)), else_=ibis.literal(NOT_IN_LTS)
        )
    )
    return s.select(
        "Der_DHSC_Pseudo_NHS_Number",
        "APCS_Ident",
        "Admission_Date",
        "Discharge_Date",
        "Age",
        "Age_Group",
        "Gender",
        "UTLA_Code",
        "Client_Type",
    ).distinct()


def _sliced(t: ir.Table) -> ir.Table:
    """Each row once per slice it belongs to: Total, its age group, its gender (Female/Male)."""
    total = t.mutate(Slice=ibis.literal(TOTAL))
    age = t.filter(t.Age_Group.notnull()).mutate(Slice=t.Age_Group)
    gender = t.filter(ci_in(t.Gender, GENDER_SLICES)).mutate(
        Slice=ibis.cases(*[(ci_eq(t.Gender, g), ibis.literal(g)) for g in GENDER_SLICES])
    )
    return ibis.union(total, age, gender, distinct=False)


def _rollups(t: ir.Table, area: str, keys: tuple[str, ...], **metrics) -> ir.Table:
    """GROUP BY ROLLUP(area), ROLLUP(Client_Type), keys: area NULL means England, client type `Total`."""
    out = []
    for by_area in (True, False):
        for by_type in (True, False):
            groups = [*([area] if by_area else []), *(["Client_Type"] if by_type else []), *keys]
            fixed = {}
            if not by_area:
                fixed[area] = ibis.null("string")
            if not by_type:
                fixed["Client_Type"] = ibis.literal(TOTAL)
            g = t.group_by(groups).aggregate(**{k: f(t) for k, f in metrics.items()})
            g = g.mutate(**fixed) if fixed else g
            out.append(g.select(area, "Client_Type", *keys, *metrics))
    return ibis.union(*out, distinct=False)


def ascof_2d_tables(
    main: ir.Table,
    person_details: ir.Table,
    discharges: ir.Table,
    period: ReportingPeriod,
    *,
    lsoa_lookup: ir.Table | None = None,
    stage: Stage = no_stage,
) -> Ascof2DTables:
    """Build the 2D aggregates for one period (ascof.md §4.1–§4.5).

    Args:
        main: prepared joined main table.
        person_details: the latest person details table (§0.4).
        discharges: hospital discharge spells in the documented layout (`read_discharges`).
        period: the (lagged) 2D reporting period.
        lsoa_lookup: LSOA 2011 → UTLA 2023, needed when the discharges carry no `UTLA_Code_2023`.
        stage: materialises intermediate tables.
    """
    ref = load_reference()
    follow = ref.int_parameter("follow_up_days")
    cld = stage(_cld_2d(main, person_details, period), "2d_cld")
    lts = stage(
        cld.filter(ci_like(cld.Service_Type_Cleaned, "Long%"))
        .select(PERSON, "Service_Type_Cleaned", "Event_Start_Date", "End")
        .distinct(),
        "2d_lts",
    )
    clusters = stage(_reablement_clusters(cld), "2d_clusters")
    all_dis = stage(hospital_discharges(discharges, lts, period, lsoa_lookup), "2d_discharges")

    # §4.3: per cluster, the latest discharge in [start − 7, start + 3] admitted on or before the start.
    j = all_dis.join(clusters, fold(all_dis.Der_DHSC_Pseudo_NHS_Number) == fold(clusters[PERSON]))
    j = j.select(
        all_dis,
        clusters.Cluster_Key,
        clusters.LA_Code,
        clusters.Cluster_Start,
        clusters.Cluster_End,
        clusters.Date_of_Death,
    )
    lag = days_between(j.Cluster_Start, j.Discharge_Date)
    in_window = (
        (lag >= -ref.int_parameter("discharge_link_days_before"))
        & (lag <= ref.int_parameter("discharge_link_days_after"))
        & (j.Admission_Date <= j.Cluster_Start)
    )
    latest = j.filter(in_window).group_by("Cluster_Key").aggregate(Max_Discharge=j.Discharge_Date.max())
    linked = join_on(j, latest, "Cluster_Key")
    linked = stage(
        linked.filter(linked.Discharge_Date == linked.Max_Discharge).drop("Max_Discharge"), "2d_linked"
    )

    # §4.4: outcomes within 84 days of the discharge (a cluster's linked rows share one discharge date).
    clus = linked.select(
        "Cluster_Key", "Der_DHSC_Pseudo_NHS_Number", "Cluster_Start", "Discharge_Date", "Date_of_Death"
    ).distinct()
    codes = ref.sus_codes
    d = discharges
    readm = d.filter(
        d.Admission_Date < d.Discharge_Date,
        ci_in(d.Der_Management_Type, codes["readmission_management_type"]),
        ci_not_in(d.Discharge_Method, codes["readmission_discharge_method_excluded"]),
        d.APCS_Last_Ep_Ind == 1,
        d.Admission_Date >= ibis.literal(period.start),
    ).select(Readm_Person=d.Der_DHSC_Pseudo_NHS_Number, Readm_Date=d.Admission_Date)
    rj = clus.join(readm, fold(clus.Der_DHSC_Pseudo_NHS_Number) == fold(readm.Readm_Person))
    readmitted = (
        rj.filter(
            rj.Readm_Date > rj.Cluster_Start,
            rj.Readm_Date > rj.Discharge_Date,
            days_between(rj.Discharge_Date, rj.Readm_Date) <= follow,
        )
        .select("Cluster_Key")
        .distinct()
        .mutate(R=ibis.literal(1))
    )
    res = lts.filter(ci_in(lts.Service_Type_Cleaned, RES_NURS))
    lj = clus.join(res, fold(clus.Der_DHSC_Pseudo_NHS_Number) == fold(res[PERSON]))
    entered = (
        lj.filter(
            lj.Event_Start_Date >= lj.Discharge_Date,
            days_between(lj.Discharge_Date, lj.Event_Start_Date) <= follow,
        )
        .select("Cluster_Key")
        .distinct()
        .mutate(L=ibis.literal(1))
    )
    flags = clus.select("Cluster_Key", "Discharge_Date", "Date_of_Death").distinct()
    died = (
        flags.Date_of_Death.notnull()
        & (flags.Date_of_Death >= flags.Discharge_Date)
        & (days_between(flags.Discharge_Date, flags.Date_of_Death) <= follow)
    )
    flags = flags.mutate(D=ibis.cases((died, 1), else_=0)).select("Cluster_Key", "D")
    flags = join_on(flags, readmitted, "Cluster_Key", how="left")
    flags = join_on(flags, entered, "Cluster_Key", how="left")
    flags = flags.select(
        "Cluster_Key", Died=flags.D, Readmitted=flags.R.fill_null(0), Entered=flags.L.fill_null(0)
    )
    flags = flags.group_by("Cluster_Key").aggregate(
        Died=flags.Died.max(), Readmitted=flags.Readmitted.max(), Entered=flags.Entered.max()
    )
    ev = join_on(linked, flags, "Cluster_Key")
    ev = ev.mutate(
        Outcome_Combo=ev.Died.cast("string").concat(ev.Readmitted.cast("string"), ev.Entered.cast("string"))
    )
    events = ev.select(
        "Cluster_Key",
        "Der_DHSC_Pseudo_NHS_Number",
        "Client_Type",
        "Gender",
        "Age_Group",
        "Died",
        "Readmitted",
        "Entered",
        "Outcome_Combo",
        Area_Code=ev.LA_Code,
    ).distinct()
    events = stage(events, "2d_events")

    sliced = _sliced(events)

    def clusters_where(cond):
        return lambda t: t.Cluster_Key.nunique(where=cond(t))

    part1 = _rollups(
        sliced,
        "Area_Code",
        ("Slice",),
        Denominator=lambda t: t.Cluster_Key.nunique(),
        Numerator=clusters_where(lambda t: t.Outcome_Combo == "000"),
        Died=clusters_where(lambda t: t.Died == 1),
        Readmitted=clusters_where(lambda t: t.Readmitted == 1),
        Entered_LT_ResNurs=clusters_where(lambda t: t.Entered == 1),
    )
    part2 = _rollups(_sliced(all_dis), "UTLA_Code", ("Slice",), Discharges=lambda t: t.APCS_Ident.nunique())
    non_zero = events.filter(events.Outcome_Combo != "000")
    venn = _rollups(non_zero, "Area_Code", ("Outcome_Combo",), Clusters=lambda t: t.count())
    return Ascof2DTables(part1=part1, part2_discharges=part2, venn=venn)
