"""ASCOF 2B/2C edge rules (ascof.md §2): new-admission test, bands, NULL components, case, population."""

from __future__ import annotations

import pytest
from ascof_fixtures import POPULATION_2BC, RESIDENTIAL, figures, run, service


def admission(person, start, birth, end=None, component="Long term residential care", **extra):
    return service(person, RESIDENTIAL, start, end, birth, Service_Component_Cleaned=component, **extra)


def rates(rows):
    m = run(rows, measures=["2BC"], populations=POPULATION_2BC).measures
    return figures(m, "ASCOF 2B")["18 to 64"][0], figures(m, "ASCOF 2C")["65 and above"][0]


@pytest.mark.parametrize(("earlier_end", "new"), [("2023-06-02", True), ("2023-06-03", False)])
def test_earlier_service_ending_365_days_before_is_not_a_previous_admission(earlier_end, new):
    rows = [
        admission("A", "2023-01-01", "1950-01", end=earlier_end),
        admission(
            "A", "2024-06-01", "1950-01"
        ),  # 2023-06-02 is 365 days earlier (2024 is a leap year); 06-03 364
    ]
    assert rates(rows) == (0, 1 if new else 0)


def test_open_earlier_service_makes_the_admission_existing():
    rows = [admission("A", "2023-01-01", "1950-01"), admission("A", "2024-06-01", "1950-01")]
    assert rates(rows) == (0, 0)


def test_an_admission_counts_once_per_person_however_many_rows():
    rows = [
        admission("A", "2024-06-01", "1950-01"),
        admission("A", "2024-06-01", "1950-01", component="Long term nursing care"),
        admission("B", "2024-06-01", "1980-01"),
    ]
    assert rates(rows) == (1, 1)


def test_null_component_and_short_term_components_are_excluded():
    rows = [
        admission("A", "2024-06-01", "1950-01", component=None),
        admission("B", "2024-06-01", "1950-01", component="Short term nursing care"),
        admission("C", "2024-06-01", "1950-01", component="Other long term support"),
    ]
    assert rates(rows) == (0, 0)


def test_self_funded_outcome_is_matched_case_insensitively_and_null_outcome_counts():
    rows = [
        admission(
            "A",
            "2024-06-01",
            "1950-01",
            Event_Outcome_Cleaned="nfa: self-funded client or under 12wk disregard",
        ),
        admission("B", "2024-06-01", "1950-01", Event_Outcome_Cleaned=None),
    ]
    assert rates(rows) == (0, 1)


def test_death_before_the_period_excludes_and_unknown_birth_excludes():
    rows = [
        admission("A", "2024-06-01", "1950-01", Date_of_Death="2024-03-31"),
        admission("B", "2024-06-01", None),
        admission("C", "2024-06-01", "2010-01"),  # 14 at admission
    ]
    assert rates(rows) == (0, 0)


def test_rate_is_rounded_half_away_from_zero():
    # 1 / 200000 x 100000 = 0.5 exactly; 3 / 50000 x 100000 = 6.0
    rows = [admission(p, "2024-06-01", "1950-01") for p in ("A", "B", "C")]
    m = run(rows, measures=["2BC"], populations=POPULATION_2BC).measures
    assert figures(m, "ASCOF 2C")["65 and above"] == (3, 50000, "6.0")
    assert figures(m, "ASCOF 2B")["18 to 64"] == (0, 200000, "0.0")


def test_bcf_extract_shows_small_counts_as_zero_and_adds_the_region():
    rows = [admission(p, "2024-06-01", "1950-01") for p in ("A", "B")]
    (bcf,) = run(rows, measures=["2BC"], populations=POPULATION_2BC).bcf_2c.to_pylist()
    assert (bcf["numerator"], bcf["numerator_suppressed"], bcf["denominator_suppressed"], bcf["region"]) == (
        2,
        0,
        50000,
        "Yorkshire and The Humber",
    )


def test_bcf_extract_leaves_out_the_first_cld_year():
    result = run([], period=("2023-04-01", "2024-03-31"), measures=["2BC"], populations=POPULATION_2BC)
    assert result.bcf_2c.num_rows == 0
    assert result.measures.num_rows == 2


def test_qa_checks_are_zero_on_a_clean_run():
    from ascof_fixtures import scenario_2bc_1

    from ascld.measures.ascof import ascof_qa_checks

    result = run(scenario_2bc_1(), measures=["2BC", "2A", "2E", "3D"], populations=POPULATION_2BC)
    assert set(ascof_qa_checks(result).values()) == {0}


def test_person_ids_differing_only_in_case_or_trailing_spaces_are_one_person():
    # main-tables.md §0: joins compare text case-insensitively, ignoring trailing spaces; the open earlier
    # service of `A` makes `a `'s admission an existing client's.
    rows = [admission("A", "2023-01-01", "1950-01"), admission("a ", "2024-06-01", "1950-01")]
    assert rates(rows) == (0, 0)


def test_council_code_is_joined_to_the_la_lookup_ignoring_case_and_trailing_spaces():
    # main-tables.md §0: string equality in joins is case-insensitive and ignores trailing spaces, so the
    # main table's `318 ` is the lookup's council `318` (ascof.md §0.1 LA lists): A (born 1950-01, 74 at
    # admission) is a new 65+ admission there; 1 / 50,000 × 100,000 = 2.0.
    rows = [admission("A", "2024-06-01", "1950-01", LA_Code="318 ")]
    m = run(rows, measures=["2BC"], populations=POPULATION_2BC).measures
    assert figures(m, "ASCOF 2C") == {"65 and above": (1, 50000, "2.0")}
