"""scenarios.md Part B (ASCOF, Release 2): every scenario as a test, expecting the document's figures."""

from __future__ import annotations

import datetime as dt

import pytest
from ascof_fixtures import (
    LA_LOOKUP,
    POPULATION_2BC,
    figures,
    one,
    pick,
    run,
    scenario_2a_1,
    scenario_2a_2,
    scenario_2bc_1,
    scenario_2d_1,
    scenario_2e_1,
    scenario_3d_1,
    scenario_3d_2,
    scenario_pd_1,
    service,
    steps,
    stmax,
)

from ascld.measures.ascof.ascof_2a import ascof_2a_clusters
from ascld.measures.ascof.common import ReportingPeriod

A2A = "ASCOF 2A"


def test_a_2a_1_five_people():
    result = run(scenario_2a_1(), measures=["2A"])
    assert figures(result.measures, A2A) == {
        "18 to 64": (0, 1, "0.0"),
        "65 and above": (2, 2, "100.0"),
        "Total": (2, 3, "66.7"),
    }
    disagg = {
        (
            r["Age_Band"],
            r["Sequel_Type"],
            r["Final_Outcome"],
            r["Included_In_Denom"],
            r["Included_In_Num"],
            r["Incl_In_Unable_To_Classify"],
            r["ST_Max_Count"],
        )
        for r in result.disaggregated_2a.to_pylist()
    }
    assert disagg == {
        ("65 and above", "4a", "NFA: Support ended as planned", "Y", "Y", "N", 1),
        ("18 to 64", "3", "Long term support: Community", "Y", "N", "N", 1),
        ("65 and above", "1", "NFA: Deceased", "N", "N", "N", 1),
        ("65 and above", "4c", "NFA: Information and advice or signposting", "Y", "Y", "N", 1),
    }


def test_a_2a_1_existing_client_is_excluded():
    con, main, pd = steps(scenario_2a_1())
    clusters = con.to_pyarrow(ascof_2a_clusters(main, pd, ReportingPeriod.of(*("2024-04-01", "2025-03-31"))))
    people = sorted(clusters.column("Der_NHS_LA_Combined_Person_ID").to_pylist())
    assert people == ["P1", "P2", "P4", "P5"]  # P3 had residential care ending 76 days before


def test_a_2a_2_clustering_gives_two_clusters_for_one_person():
    con, main, pd = steps(scenario_2a_2())
    clusters = con.to_pyarrow(ascof_2a_clusters(main, pd, ReportingPeriod.of("2024-04-01", "2025-03-31")))
    got = sorted(
        (r["Cluster_Start"], r["Cluster_End"], r["Sequel_Type"], r["Final_Outcome"], r["Age_Band"])
        for r in clusters.to_pylist()
    )
    assert got == [
        (dt.date(2024, 4, 2), dt.date(2024, 5, 1), "4a", "NFA: Support ended as planned", "18 to 64"),
        (dt.date(2024, 5, 9), dt.date(2024, 5, 20), "4a", "NFA: Other", "18 to 64"),
    ]
    result = run(scenario_2a_2(), measures=["2A"])
    assert figures(result.measures, A2A)["18 to 64"] == (2, 2, "100.0")


@pytest.mark.parametrize(("lts_end", "counted"), [("2024-01-31", True), ("2024-02-01", False)])
def test_a_2a_2_new_client_boundary_91_days(lts_end, counted):
    rows = [
        service("R", "Long term support: Community", "2023-01-01", lts_end, "1950-01"),
        stmax("R", "2024-05-01", "2024-05-20", "NFA: Other", "1950-01"),
    ]
    result = run(rows, measures=["2A"])
    assert figures(result.measures, A2A)["Total"] == ((1, 1, "100.0") if counted else (0, 0, "0.0"))


def test_a_2bc_1_new_admissions_per_100000():
    result = run(scenario_2bc_1(), measures=["2BC"], populations=POPULATION_2BC)
    assert figures(result.measures, "ASCOF 2B") == {"18 to 64": (1, 200000, "0.5")}
    assert figures(result.measures, "ASCOF 2C") == {"65 and above": (2, 50000, "4.0")}


@pytest.mark.parametrize(
    ("variant", "status", "group"),
    [
        (0, "Owner occupier or shared ownership scheme", 1),
        (1, "Tenant: Private landlord", 1),
        (2, "Registered care home", 0),
    ],
)
def test_a_pd_1_latest_accommodation_status(variant, status, group):
    con, _, pd = steps(scenario_pd_1(variant))
    row = one(con.to_pyarrow(pd), Der_NHS_LA_Combined_Person_ID="F")
    assert (row["Accommodation_Status"], row["Accommodation_Status_Group"]) == (status, group)


def test_a_2e_1_all_clients():
    result = run(scenario_2e_1(), measures=["2E"])
    m = result.measures
    ending = "who receive long-term support who live in their home or with family (%)"
    young = f"The proportion of people aged 18-64 {ending}"
    old = f"The proportion of people aged 65+ {ending}"
    assert figures(m, "ASCOF 2E", description=young) == {
        "Male": (1, 1, "100.0"),
        "Female": (1, 1, "100.0"),
        "Total": (2, 2, "100.0"),
    }
    assert figures(m, "ASCOF 2E", description=old) == {
        "Male": (0, 1, "0.0"),
        "Female": (0, 1, "0.0"),
        "Total": (0, 2, "0.0"),
    }
    unknown = one(m, measure="ASCOF 2E", breakdown="Count")
    assert (unknown["description"], unknown["numerator"]) == ("Accommodation status = unknown or invalid", 2)


def test_a_2e_1_learning_disability():
    result = run(scenario_2e_1(), measures=["2E"])
    rows = pick(result.measures, measure="ASCOF 2E LD", breakdown="Gender") + pick(
        result.measures, measure="ASCOF 2E LD", breakdown="Total"
    )
    # No Female row: no woman is in the LD denominator anywhere in this data.
    assert {r["group"]: (r["numerator"], r["denominator"], r["value"]) for r in rows} == {
        "Male": (1, 1, 100.0),
        "Total": (1, 1, 100.0),
    }


def test_a_3d_1_clients_snapshot():
    result = run(scenario_3d_1() + scenario_3d_2(), measures=["3D"])
    m = result.measures
    dp_1a = "1a - The proportion of clients who use services who receive self-directed support (%)"
    dp_2a = "2a - The proportion of clients who use services who receive direct payments (%)"
    assert figures(m, "ASCOF 3D (Clients)", description=dp_1a) == {
        "18 to 64": (1, 2, "50.0"),
        "65 and above": (1, 1, "100.0"),
        "Total": (2, 4, "50.0"),
    }
    assert figures(m, "ASCOF 3D (Clients)", description=dp_2a) == {
        "18 to 64": (1, 2, "50.0"),
        "65 and above": (0, 1, "0.0"),
        "Total": (1, 4, "25.0"),
    }
    assert one(m, measure="ASCOF 3D (Clients)", breakdown="Count")["numerator"] == 1  # C5


def test_a_3d_2_carers_in_year():
    result = run(scenario_3d_1() + scenario_3d_2(), measures=["3D"])
    m = result.measures
    dp_1b = "1b - The proportion of carers who use services who receive self-directed support (%)"
    dp_2b = "2b - The proportion of carers who use services who receive direct payments (%)"
    assert figures(m, "ASCOF 3D (Carers)", description=dp_1b) == {
        "18 to 64": (1, 1, "100.0"),
        "65 and above": (0, 1, "0.0"),
        "Total": (1, 2, "50.0"),
    }
    assert figures(m, "ASCOF 3D (Carers)", description=dp_2b) == {
        "18 to 64": (1, 1, "100.0"),
        "65 and above": (0, 1, "0.0"),
        "Total": (1, 2, "50.0"),
    }
    assert one(m, measure="ASCOF 3D (Carers)", breakdown="Count")["numerator"] == 0


def _scenario_2d():
    cld, spells = scenario_2d_1()
    lookup = LA_LOOKUP.set_column(1, "LA_Name", [["Barnsley"]])
    # The 2D period 2024-04-01…2025-03-31 is the previous period of the run whose latest is Jul 24 - Jun 25.
    return run(cld, period=("2024-07-01", "2025-06-30"), measures=["2D"], discharges=spells, la_lookup=lookup)


def test_a_2d_1_part_1():
    result = _scenario_2d()
    p1 = {
        r["Slice"]: (
            r["Numerator"],
            r["Denominator"],
            r["Outcome_Percent"],
            r["Died"],
            r["Readmitted"],
            r["Entered_LT_ResNurs"],
        )
        for r in pick(result.part1_2d, Area="Barnsley", Client_Type="Total")
    }
    assert p1["Total"] == (1, 2, 50.0, 0, 1, 0)
    assert p1["65-74"][:3] == (1, 1, 100.0)
    assert p1["75-84"][:3] == (0, 1, 0.0)
    assert p1["Female"][:3] == (0, 1, 0.0)
    assert p1["Male"][:3] == (1, 1, 100.0)
    assert p1["85+"][:3] == (None, None, None)
    assert result.periods.latest_2d == ReportingPeriod.of("2024-04-01", "2025-03-31")
    tidy = one(result.measures, measure="ASCOF 2D Part 1", la_code="318", breakdown="Total", group="Total")
    assert (tidy["numerator"], tidy["denominator"], tidy["value"], tidy["reporting_period"]) == (
        1,
        2,
        50.0,
        "1 Apr 24 - 31 Mar 25",
    )


def test_a_2d_1_part_2():
    result = _scenario_2d()
    p2 = {
        r["group"]: (r["numerator"], r["denominator"], r["value"])
        for r in pick(result.measures, measure="ASCOF 2D Part 2", la_code="318")
        if r["breakdown"] in ("Total", "Age band", "Gender")
    }
    assert p2 == {
        "Total": (2, 4, 50.0),
        "75-84": (1, 2, 50.0),
        "65-74": (1, 1, 100.0),
        "85+": (None, 1, None),
        "Female": (1, 3, 33.33),
        "Male": (1, 1, 100.0),
    }
    venn = one(result.venn_2d, Area="Barnsley", Client_Type="Total")
    assert (venn["Total_Readmission"], venn["Readmission_Only"], venn["Total_Death"], venn["Total_LTS"]) == (
        1,
        1,
        0,
        0,
    )
