"""ASCOF 2D edge rules (ascof.md §4): SUS filters under NULL logic, long-term support at admission, the
linkage window, the 84-day outcomes, the lagged periods and the input formats."""

from __future__ import annotations

import pyarrow as pa
import pytest
from ascof_fixtures import LA_LOOKUP, RESIDENTIAL, discharges_table, one, pick, run, service, spell, stmax

LATEST = ("2024-07-01", "2025-06-30")  # 2D runs on the previous period: 2024-04-01…2025-03-31


def result(cld, spells, **kw):
    return run(cld, period=LATEST, measures=["2D"], discharges=discharges_table(spells), **kw)


def total(res, part="ASCOF 2D Part 2", la_code="318"):
    r = one(res.measures, measure=part, la_code=la_code, breakdown="Total", group="Total")
    return r["numerator"], r["denominator"], r["value"]


def reablement(person="H1", start="2024-05-12", end="2024-06-01", **extra):
    return stmax(person, start, end, "NFA: Support ended as planned", "1944-01", **extra)


@pytest.mark.parametrize(
    "override",
    [
        {"Discharge_Destination": None},  # NULL fails NOT IN
        {"Discharge_Destination": "79"},
        {"Admission_Method": "82"},
        {"Discharge_Method": "4"},
        {"Treatment_Function_Code": "650"},  # NOT LIKE '65%'
        {"Treatment_Function_Code": "710"},  # NOT LIKE '7%'
        {"Treatment_Function_Code": "424"},
        {"Treatment_Function_Code": None},
        {"APCS_Last_Ep_Ind": 0},
        {"Admission_Date": pa.scalar(None, pa.date32()).as_py()},
        {"Year_of_Birth_SUS": 1960},  # 64 at discharge
        {"UTLA_Code_2023": "W06000001"},  # not England
    ],
)
def test_excluded_episodes_are_not_discharges(override):
    spells = [
        spell("H1", "A1", "2024-05-01", "2024-05-10", "1944-01", "2"),
        spell("H9", "Z1", "2024-05-01", "2024-05-10", "1944-01", "2", **override),
    ]
    assert total(result([reablement()], spells)) == (1, 1, 100.0)


def test_people_in_residential_care_at_admission_are_not_discharges():
    cld = [reablement(), service("H9", RESIDENTIAL, "2024-01-01", None, "1944-01")]
    spells = [
        spell("H1", "A1", "2024-05-01", "2024-05-10", "1944-01", "2"),
        spell("H9", "Z1", "2024-05-01", "2024-05-10", "1944-01", "2"),
    ]
    assert total(result(cld, spells)) == (1, 1, 100.0)


def test_community_support_at_admission_sets_the_client_type():
    cld = [reablement(), service("H1", "Long term support: Community", "2024-01-01", None, "1944-01")]
    res = result(cld, [spell("H1", "A1", "2024-05-01", "2024-05-10", "1944-01", "2")])
    rows = pick(res.measures, measure="ASCOF 2D Part 1", la_code="318", breakdown="Client type")
    assert {r["group"]: r["denominator"] for r in rows} == {"Those in LT community support": 1}


@pytest.mark.parametrize(
    ("discharge", "admission", "linked"),
    [
        ("2024-05-05", "2024-05-01", True),  # start − 7 days
        ("2024-05-04", "2024-05-01", False),  # start − 8
        ("2024-05-15", "2024-05-12", True),  # start + 3, admitted on the start day
        ("2024-05-16", "2024-05-11", False),  # start + 4
        ("2024-05-14", "2024-05-13", False),  # admitted after the reablement started
    ],
)
def test_discharge_links_to_reablement_starting_7_days_after_to_3_days_before(discharge, admission, linked):
    res = result([reablement()], [spell("H1", "A1", admission, discharge, "1944-01", "2")])
    assert total(res) == ((1, 1, 100.0) if linked else (None, 1, None))


def test_latest_discharge_in_the_window_is_the_one_linked():
    spells = [
        spell("H1", "A1", "2024-05-01", "2024-05-06", "1944-01", "2"),
        spell("H1", "A2", "2024-05-07", "2024-05-11", "1944-01", "2"),
    ]
    res = result([reablement()], spells)
    assert total(res) == (1, 2, 50.0)
    assert total(res, "ASCOF 2D Part 1") == (1, 1, 100.0)


@pytest.mark.parametrize(
    ("extra_cld", "extra_spells", "combo"),
    [
        ([], [spell("H1", "R1", "2024-08-02", "2024-08-05", "1944-01", "2")], "010"),  # day 84
        ([], [spell("H1", "R1", "2024-08-03", "2024-08-05", "1944-01", "2")], "000"),  # day 85
        (
            [],
            [spell("H1", "R1", "2024-06-20", "2024-06-25", "1944-01", "2", Der_Management_Type="EL")],
            "000",
        ),
        (
            [],
            [spell("H1", "R1", "2024-06-20", "2024-06-25", "1944-01", "2", Der_Management_Type="ne")],
            "010",
        ),
        ([service("H1", RESIDENTIAL, "2024-08-02", None, "1944-01")], [], "001"),
        ([service("H1", "Long term support: Nursing care", "2024-08-03", None, "1944-01")], [], "000"),
    ],
)
def test_outcomes_within_84_days_of_discharge(extra_cld, extra_spells, combo):
    spells = [spell("H1", "A1", "2024-05-01", "2024-05-10", "1944-01", "2"), *extra_spells]
    res = result([reablement(), *extra_cld], spells)
    expected_num = 1 if combo == "000" else 0
    assert total(res, "ASCOF 2D Part 1")[:2] == (expected_num, 1)


@pytest.mark.parametrize(("death", "died"), [("2024-08-02", 1), ("2024-08-03", 0), ("2024-05-10", 1)])
def test_death_within_84_days_of_discharge(death, died):
    res = result(
        [reablement(Date_of_Death=death)], [spell("H1", "A1", "2024-05-01", "2024-05-10", "1944-01", "2")]
    )
    row = one(res.part1_2d, Area="Testshire", Client_Type="Total", Slice="Total")
    assert (row["Died"], row["Numerator"]) == (died, 1 - died)


def test_reablement_needs_the_reablement_component():
    cld = [reablement(Service_Component_Cleaned="Other short term support")]
    res = result(cld, [spell("H1", "A1", "2024-05-01", "2024-05-10", "1944-01", "2")])
    assert total(res) == (None, 1, None)


def test_england_rows_aggregate_every_area():
    lookup = pa.concat_tables(
        [
            LA_LOOKUP,
            pa.table(
                {"LA_Code": ["999"], "LA_Name": ["Other"], "LA_Area_Code": ["E06000999"], "Region": ["R"]}
            ),
        ]
    )
    cld = [reablement(), reablement("H2", LA_Code="999", LA_Name="Other")]
    spells = [
        spell("H1", "A1", "2024-05-01", "2024-05-10", "1944-01", "2"),
        spell("H2", "B1", "2024-05-01", "2024-05-10", "1944-01", "1", UTLA_Code_2023="E06000999"),
        spell("H3", "C1", "2024-05-01", "2024-05-10", "1944-01", "1", UTLA_Code_2023="E06000998"),
    ]
    res = result(cld, spells, la_lookup=lookup)
    assert total(res, la_code=None) == (2, 3, 66.67)
    assert total(res, la_code="999") == (1, 1, 100.0)


def test_lsoa_lookup_gives_the_area_when_spells_have_none():
    spells = discharges_table([spell("H1", "A1", "2024-05-01", "2024-05-10", "1944-01", "2")]).drop(
        ["UTLA_Code_2023"]
    )
    lsoa = pa.table(
        {"LSOA_Code_2011": ["E01000001"], "UTLA_Code_2023": ["E08000016"], "UTLA_Name_2023": ["T"]}
    )
    res = run([reablement()], period=LATEST, measures=["2D"], discharges=spells, lsoa_lookup=lsoa)
    assert total(res) == (1, 1, 100.0)


def test_two_periods_run_with_the_lag_and_no_eomonth():
    from ascof_fixtures import main_table

    from ascld.engine import connect
    from ascld.measures.ascof import run_ascof

    res = run_ascof(
        main_table([reablement()]),
        period=("2024-10-01", "2025-09-30"),
        measures=["2D"],
        discharges=discharges_table([spell("H1", "A1", "2024-05-01", "2024-05-10", "1944-01", "2")]),
        la_lookup=LA_LOOKUP,
        engine=connect("duckdb"),
    )
    labels = {r["reporting_period"] for r in res.measures.to_pylist()}
    assert labels == {"1 Jul 24 - 30 Jun 25", "1 Apr 24 - 30 Mar 25"}
    part2 = {
        r["reporting_period"]: (r["numerator"], r["denominator"])
        for r in pick(res.measures, measure="ASCOF 2D Part 2", la_code="318", breakdown="Total")
    }
    # The only discharge (10 May 2024) falls in the earlier 2D period only.
    assert part2 == {"1 Jul 24 - 30 Jun 25": (None, None), "1 Apr 24 - 30 Mar 25": (1, 1)}


def test_a_discharge_linked_to_reablement_in_two_councils_counts_twice_and_qa_reports_it():
    from ascld.measures.ascof import ascof_qa_checks

    lookup = pa.concat_tables(
        [
            LA_LOOKUP,
            pa.table(
                {"LA_Code": ["999"], "LA_Name": ["Other"], "LA_Area_Code": ["E06000999"], "Region": ["R"]}
            ),
        ]
    )
    cld = [reablement(), reablement(LA_Code="999", LA_Name="Other")]
    res = result(cld, [spell("H1", "A1", "2024-05-01", "2024-05-10", "1944-01", "2")], la_lookup=lookup)
    assert total(res, la_code=None) == (2, 1, 200.0)  # ascof.md §4.5 caveat
    qa = ascof_qa_checks(res)
    assert qa["2D Reablement_Count > Discharges"] >= 1
    assert qa["Rows where Num > Denom"] == 0


def test_every_episode_with_the_linked_discharge_date_is_kept():
    # ascof.md §4.3: the latest discharge date is found among discharges in [start − 7, start + 3] admitted on or
    # before the cluster start; then the joined rows *with that discharge date* are kept (DHSC #Filter_Date joins
    # on the cluster and the date only). A2 shares A1's discharge date but was admitted after the reablement
    # started: it still comes along, so the cluster also counts in A2's (Male) slice. Total stays one cluster.
    spells = [
        spell("H1", "A1", "2024-05-01", "2024-05-14", "1944-01", "2"),
        spell("H1", "A2", "2024-05-13", "2024-05-14", "1944-01", "1"),
    ]
    res = result([reablement()], spells)
    p1 = {
        r["Slice"]: (r["Numerator"], r["Denominator"])
        for r in pick(res.part1_2d, Area="Testshire", Client_Type="Total")
    }
    assert (p1["Total"], p1["Female"], p1["Male"]) == ((1, 1), (1, 1), (1, 1))


def test_venn_counts_a_cluster_once_per_distinct_linked_row():
    # ascof.md §4.5 Venn table, as DHSC computes it: SUM over the distinct (cluster, client type, gender, age
    # group, flags) rows of #Outcome_Combo_Event, so a cluster linked to two same-date episodes recorded with
    # different sexes is counted twice in the Venn table, while part 1 counts distinct clusters.
    spells = [
        spell("H1", "A1", "2024-05-01", "2024-05-10", "1944-01", "2"),
        spell("H1", "A2", "2024-05-02", "2024-05-10", "1944-01", "1"),
        spell("H1", "A3", "2024-06-20", "2024-06-25", "1944-01", "2"),  # readmitted within 84 days
    ]
    res = result([reablement()], spells)
    venn = one(res.venn_2d, Area="Testshire", Client_Type="Total")
    assert (venn["Total_Readmission"], venn["Readmission_Only"]) == (2, 2)
    assert total(res, "ASCOF 2D Part 1")[:2] == (0, 1)


@pytest.mark.parametrize(
    ("setting", "expected_group"),
    [(RESIDENTIAL, None), ("Long term support: Community", "Those in LT community support")],
)
def test_long_term_support_at_admission_does_not_depend_on_the_spell_identifier(setting, expected_group):
    # ascof.md §4.2: "no LTS row (matched on person only, any LA) ... with Admission_Date BETWEEN Event_Start_Date
    # AND Der_Event_End_Date" — a test on the person and the admission date, so an episode with a NULL APCS_Ident
    # is excluded (residential) or typed (community) like any other.
    cld = [reablement(), service("H1", setting, "2024-01-01", None, "1944-01")]
    res = result(cld, [spell("H1", None, "2024-05-01", "2024-05-10", "1944-01", "2")])
    rows = pick(res.measures, measure="ASCOF 2D Part 1", la_code="318", breakdown="Client type")
    groups = {r["group"] for r in rows if r["denominator"]}
    assert groups == ({expected_group} if expected_group else set())


def test_hospital_spells_link_to_cld_on_the_pseudonym_case_insensitively():
    # ascof.md §4 (linkage on Der_DHSC_Pseudo_NHS_Number = Der_NHS_LA_Combined_Person_ID) under the SQL Server
    # `=` of main-tables.md §0: case-insensitive, trailing spaces ignored.
    spells = [
        spell("h1", "A1", "2024-05-01", "2024-05-10", "1944-01", "2"),
        spell("H1 ", "R1", "2024-06-20", "2024-06-25", "1944-01", "2"),  # readmission within 84 days
        spell("h9", "Z1", "2024-05-01", "2024-05-10", "1944-01", "2"),  # in residential care at admission
    ]
    cld = [reablement(), service("H9", RESIDENTIAL, "2024-01-01", None, "1944-01")]
    res = result(cld, spells)
    assert total(res) == (1, 2, 50.0)  # discharges A1 and R1; Z1 (in residential care) is not a discharge
    row = one(res.part1_2d, Area="Testshire", Client_Type="Total", Slice="Total")
    assert (row["Denominator"], row["Numerator"], row["Readmitted"]) == (1, 0, 1)


def test_spells_in_clear_are_pseudonymised_as_the_store_pseudonymises_nhs_numbers():
    """The store hashes an NHS number's digits (spaces and hyphens out, white space trimmed), so spells carrying
    the number written with spaces must hash to the same pseudonym or they never link."""
    import pyarrow as pa

    from ascld.identity import PseudoKey, Pseudonymiser
    from ascld.identity.pseudonym import NHS_DOMAIN
    from ascld.measures.ascof.synthetic import SPELL_COLUMN_MAP, discharges_from_spells

    pseudo = Pseudonymiser(PseudoKey.from_text("c4" * 32))
    written = ["999 000 0018", "999-000-0018 ", "9990000018", None]
    cols = {src: pa.array([None] * len(written), pa.string()) for src in SPELL_COLUMN_MAP}
    cols["nhs_number"] = pa.array(written, pa.string())
    for src in ("admission_date", "discharge_date"):
        cols[src] = pa.array([None] * len(written), pa.date32())
    for src in ("month_of_birth", "year_of_birth"):
        cols[src] = pa.array([None] * len(written), pa.int64())
    got = discharges_from_spells(pa.table(cols), lambda v: pseudo.pseudonyms(v, NHS_DOMAIN))
    plain = pseudo.pseudonyms(["9990000018"], NHS_DOMAIN)[0]
    assert got.column("Der_DHSC_Pseudo_NHS_Number").to_pylist() == [plain, plain, plain, None]
