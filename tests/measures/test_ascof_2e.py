"""ASCOF 2E edge rules (ascof.md §3): cohort dates, age at the capped end, deaths, LD, unknowns, rounding."""

from __future__ import annotations

from ascof_fixtures import COMMUNITY, RESIDENTIAL, figures, one, run, service

_ENDING = "who receive long-term support who live in their home or with family (%)"
YOUNG = f"The proportion of people aged 18-64 {_ENDING}"
OLD = f"The proportion of people aged 65+ {_ENDING}"


def client(
    person,
    birth,
    status="Owner occupier or shared ownership scheme",
    start="2023-01-01",
    end=None,
    stype=COMMUNITY,
    gender="Female",
    **extra,
):
    return service(
        person,
        stype,
        start,
        end,
        birth,
        Accommodation_Status_Cleaned=status,
        Gender_Cleaned=gender,
        Service_Component_Cleaned="Home support or domiciliary care",
        **extra,
    )


def measures(rows):
    return run(rows, measures=["2E"]).measures


def test_settled_share_rounds_half_away_from_zero():
    rows = [client(f"S{i}", "1970-01") for i in range(9)]
    rows += [client(f"U{i}", "1970-01", status="Registered care home") for i in range(7)]
    assert figures(measures(rows), "ASCOF 2E", description=YOUNG)["Total"] == (9, 16, "56.3")


def test_age_is_taken_at_the_end_of_the_latest_service_in_the_year():
    # Born 1960-03: 64 at a service ending 2025-02-28, 65 at the year end 2025-03-31.
    ended = [client("A", "1960-03", end="2025-02-28")]
    open_ = [client("A", "1960-03")]
    assert figures(measures(ended), "ASCOF 2E", description=YOUNG)["Total"] == (1, 1, "100.0")
    assert figures(measures(open_), "ASCOF 2E", description=OLD)["Total"] == (1, 1, "100.0")


def test_services_outside_the_year_and_earlier_deaths_are_excluded():
    rows = [
        client("A", "1970-01", end="2024-03-31"),
        client("B", "1970-01", start="2025-04-01"),
        client("C", "1970-01", Date_of_Death="2024-03-31"),
        client("D", "1970-01", Date_of_Death="2024-04-01"),
        client("E", "1970-01", stype="Short term support: Other short term"),
    ]
    assert figures(measures(rows), "ASCOF 2E", description=YOUNG)["Total"] == (1, 1, "100.0")


def test_unknown_age_is_in_the_unknown_count_but_not_in_any_denominator():
    rows = [client("A", None, status="Unknown"), client("B", "1970-01")]
    m = measures(rows)
    assert figures(m, "ASCOF 2E", description=YOUNG)["Total"] == (1, 1, "100.0")
    assert one(m, measure="ASCOF 2E", breakdown="Count")["numerator"] == 1


def test_status_outside_the_reference_table_is_in_the_denominator_only():
    rows = [client("A", "1970-01", status="Somewhere else"), client("B", "1970-01")]
    m = measures(rows)
    assert figures(m, "ASCOF 2E", description=YOUNG)["Total"] == (1, 2, "50.0")
    assert one(m, measure="ASCOF 2E", breakdown="Count")["numerator"] == 1


def test_learning_disability_run_keeps_18_to_64_ld_clients_only():
    rows = [
        client("A", "1970-01", Primary_Support_Reason_Cleaned="LEARNING DISABILITY SUPPORT", gender="Male"),
        client("B", "1950-01", Primary_Support_Reason_Cleaned="Learning disability support", gender="Male"),
        client("C", "1970-01", Primary_Support_Reason_Cleaned="Mental health support", gender="Female"),
    ]
    m = measures(rows)
    assert figures(m, "ASCOF 2E LD") == {"Male": (1, 1, "100.0"), "Total": (1, 1, "100.0")}
    assert figures(m, "ASCOF 2E", description=YOUNG)["Total"] == (2, 2, "100.0")


def test_total_includes_other_and_unknown_genders_which_are_not_output():
    rows = [client("A", "1970-01", gender="Other"), client("B", "1970-01", gender="Male")]
    got = figures(measures(rows), "ASCOF 2E", description=YOUNG)
    assert got == {"Male": (1, 1, "100.0"), "Total": (2, 2, "100.0")}


def test_every_council_in_the_lookup_gets_rows_with_zeros():
    import pyarrow as pa
    from ascof_fixtures import LA_LOOKUP

    lookup = pa.concat_tables(
        [
            LA_LOOKUP,
            pa.table({"LA_Code": ["999"], "LA_Name": ["Other"], "LA_Area_Code": ["E1"], "Region": ["R"]}),
        ]
    )
    m = run([client("A", "1970-01", stype=RESIDENTIAL)], measures=["2E"], la_lookup=lookup).measures
    assert figures(m, "ASCOF 2E", description=YOUNG, la_code="999")["Total"] == (0, 0, "0.0")
    assert figures(m, "ASCOF 2E", description=OLD, la_code="999")["Total"] == (0, 0, "0.0")
