"""ASCOF 2A edge rules (ascof.md §1): clustering, ties, NULLs, case, ages, the sequel steps in order."""

from __future__ import annotations

import datetime as dt

import pytest
from ascof_fixtures import PERIOD, event, figures, run, service, steps, stmax

from ascld.measures.ascof.ascof_2a import ascof_2a_clusters, ascof_2a_disaggregated
from ascld.measures.ascof.common import ReportingPeriod, engine_stage

PLANNING = "Progress to support planning or services"


def clusters(rows) -> list[dict]:
    con, main, pd = steps(rows)
    out = con.to_pyarrow(ascof_2a_clusters(main, pd, ReportingPeriod.of(*PERIOD), stage=engine_stage(con)))
    return sorted(out.to_pylist(), key=lambda r: (r["Der_NHS_LA_Combined_Person_ID"], r["Cluster_Start"]))


def sequel(rows) -> tuple[str, str]:
    (c,) = clusters(rows)
    return c["Sequel_Type"], c["Final_Outcome"]


def test_clusters_join_on_the_running_maximum_end_not_the_previous_row():
    rows = [
        stmax("A", "2024-04-01", "2024-06-30", PLANNING, "1950-01"),
        stmax("A", "2024-04-10", "2024-04-20", PLANNING, "1950-01"),
        stmax("A", "2024-07-05", "2024-07-20", "NFA: Other", "1950-01"),  # 5 days after 30 June
    ]
    (c,) = clusters(rows)
    assert (c["Cluster_Start"], c["Cluster_End"]) == (dt.date(2024, 4, 1), dt.date(2024, 7, 20))
    assert (c["Sequel_Type"], c["Final_Outcome"]) == ("4a", "NFA: Other")


def test_a_gap_of_eight_days_starts_a_new_cluster():
    rows = [
        stmax("A", "2024-05-01", "2024-05-10", "NFA: Other", "1950-01"),
        stmax("A", "2024-05-18", "2024-05-30", "NFA: Other", "1950-01"),
    ]
    assert len(clusters(rows)) == 2


def test_cluster_outcome_ties_go_to_the_lowest_penalised_hierarchy():
    # Same end date: 'Progress to support planning' ranks 4 in the R2 hierarchy but 104 once penalised, so
    # 'NFA: Other' (17) is the cluster outcome and concludes the cluster at step 4a.
    rows = [
        stmax("A", "2024-05-01", "2024-05-20", PLANNING, "1950-01"),
        stmax("A", "2024-05-03", "2024-05-20", "NFA: Other", "1950-01"),
    ]
    assert sequel(rows) == ("4a", "NFA: Other")


def test_null_outcome_is_unable_to_classify_and_out_of_the_denominator():
    rows = [stmax("A", "2024-05-01", "2024-05-20", None, "1950-01")]
    assert sequel(rows) == ("6", "Invalid and not mapped")
    result = run(rows, measures=["2A"])
    (d,) = result.disaggregated_2a.to_pylist()
    assert (d["Included_In_Denom"], d["Incl_In_Unable_To_Classify"]) == ("N", "Y")
    assert figures(result.measures, "ASCOF 2A")["Total"] == (0, 0, "0.0")


def test_values_match_case_insensitively():
    rows = [
        stmax(
            "A",
            "2024-05-01",
            "2024-05-20",
            "nfa: OTHER",
            "1950-01",
            Client_Type_Cleaned="SERVICE USER",
            Service_Type_Cleaned="short term support: st-max",
            Event_Type="service",
        )
    ]
    assert figures(run(rows, measures=["2A"]).measures, "ASCOF 2A")["Total"] == (1, 1, "100.0")


@pytest.mark.parametrize(
    ("birth", "band"),
    [("2006-08", "18 to 64"), ("2006-09", None), (None, "Unknown")],  # 18.0014 years; 17.9 years; unknown
)
def test_age_at_cluster_end_removes_under_18s_and_keeps_unknown(birth, band):
    rows = [stmax("A", "2024-07-01", "2024-08-01", "NFA: Other", birth)]
    got = clusters(rows)
    assert [c["Age_Band"] for c in got] == ([band] if band else [])


def test_unknown_age_counts_only_in_total():
    result = run([stmax("A", "2024-07-01", "2024-08-01", "NFA: Other", None)], measures=["2A"])
    assert figures(result.measures, "ASCOF 2A") == {
        "18 to 64": (0, 0, "0.0"),
        "65 and above": (0, 0, "0.0"),
        "Total": (1, 1, "100.0"),
    }


@pytest.mark.parametrize(
    ("death", "expected"),
    [
        ("2024-04-30", None),  # died before the cluster started: dropped
        ("2024-05-27", ("1", "NFA: Deceased")),  # cluster end + 7 days
        ("2024-05-28", ("4a", "NFA: Other")),  # + 8 days
    ],
)
def test_death_rules(death, expected):
    rows = [stmax("A", "2024-05-01", "2024-05-20", "NFA: Other", "1950-01", Date_of_Death=death)]
    got = clusters(rows)
    assert [(c["Sequel_Type"], c["Final_Outcome"]) for c in got] == ([expected] if expected else [])


def test_admitted_to_hospital_is_step_2():
    rows = [stmax("A", "2024-05-01", "2024-05-20", "Admitted to hospital", "1950-01")]
    assert sequel(rows) == ("2", "Admitted to hospital")


def test_short_term_residential_component_gives_its_own_sequel():
    rows = [
        stmax("A", "2024-05-01", "2024-05-20", PLANNING, "1950-01"),
        service(
            "A",
            "Short term support: Other short term",
            "2024-05-23",
            "2024-06-30",
            "1950-01",
            Service_Component_Cleaned="Short term residential care",
        ),
        service(
            "A",
            "Short term support: Other short term",
            "2024-05-22",
            "2024-06-30",
            "1950-01",
            Service_Component_Cleaned="Day support",
        ),
    ]
    assert sequel(rows) == ("3", "Short term support: Residential or Nursing care")
    d = ascof_2a_flags(rows)
    assert (d["Included_In_Denom"], d["Included_In_Num"]) == ("Y", "N")


def test_service_sequel_takes_the_highest_setting():
    rows = [
        stmax("A", "2024-05-01", "2024-05-20", PLANNING, "1950-01"),
        service("A", "Short term support: Ongoing low level", "2024-05-21", None, "1950-01"),
        service("A", "Long term support: Residential care", "2024-05-27", None, "1950-01"),
    ]
    assert sequel(rows) == ("3", "Long term support: Residential care")


def test_window_event_outcome_is_step_4b():
    rows = [
        stmax("A", "2024-05-01", "2024-05-20", PLANNING, "1950-01"),
        event("A", "Review", "2024-05-22", "2024-05-30", "NFA: Support declined", "1950-01"),
    ]
    assert sequel(rows) == ("4b", "NFA: Support declined")
    assert ascof_2a_flags(rows)["Included_In_Denom"] == "N"


def test_support_ended_as_planned_on_a_window_event_is_ignored():
    rows = [
        stmax("A", "2024-05-01", "2024-05-20", PLANNING, "1950-01"),
        event("A", "Review", "2024-05-22", "2024-05-30", "NFA: Support ended as planned", "1950-01"),
    ]
    assert sequel(rows) == ("6", PLANNING)


def test_lowest_hierarchy_wins_across_sources_and_ties_prefer_the_cluster_outcome():
    rows = [
        stmax("A", "2024-05-01", "2024-05-20", "NFA: Other", "1950-01"),
        event(
            "A", "Review", "2024-05-22", "2024-05-30", "NFA: Information and advice or signposting", "1950-01"
        ),
    ]
    assert sequel(rows) == ("4b", "NFA: Information and advice or signposting")
    rows[1]["Event_Outcome_Cleaned"] = "NFA: Other"
    assert sequel(rows) == ("4a", "NFA: Other")


@pytest.mark.parametrize(
    ("review_end", "expected"), [("2024-05-07", ("4c", "NFA: Other")), ("2024-05-06", None)]
)
def test_nested_review_must_end_fewer_than_14_days_before_the_cluster_end(review_end, expected):
    rows = [
        stmax("A", "2024-05-01", "2024-05-20", PLANNING, "1950-01"),
        event("A", "Review", "2024-05-02", review_end, "NFA: Other", "1950-01"),
    ]
    assert sequel(rows) == (expected or ("6", PLANNING))


def test_nested_equipment_is_step_5():
    rows = [
        stmax("A", "2024-05-01", "2024-05-20", PLANNING, "1950-01"),
        service(
            "A",
            "Short term support: Other short term",
            "2024-05-02",
            "2024-05-10",
            "1950-01",
            Service_Component_Cleaned="Equipment",
        ),
    ]
    assert sequel(rows) == ("5", "Short term support: Ongoing low level")


def test_open_cluster_is_never_counted():
    assert clusters([stmax("A", "2024-05-01", None, "NFA: Other", "1950-01")]) == []


def test_cluster_ending_after_the_period_is_not_counted():
    assert clusters([stmax("A", "2025-03-20", "2025-04-01", "NFA: Other", "1950-01")]) == []


def ascof_2a_flags(rows) -> dict:
    con, main, pd = steps(rows)
    (d,) = con.to_pyarrow(
        ascof_2a_disaggregated(ascof_2a_clusters(main, pd, ReportingPeriod.of(*PERIOD)))
    ).to_pylist()
    return d
