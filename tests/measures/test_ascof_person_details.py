"""Latest person details (ascof.md §0.4): the latest-known rule per attribute, birth and death, the
unpaid-carer override, and accommodation status completed from services."""

from __future__ import annotations

import datetime as dt

import pytest
from ascof_fixtures import COMMUNITY, RESIDENTIAL, event, one, service, steps

from ascld.measures.ascof.person_details import PERSON_DETAILS_COLUMNS

PERIOD = ("2024-04-01", "2025-03-31")


def details(rows, person="X") -> dict:
    con, _, pd = steps(rows, PERIOD)
    table = con.to_pyarrow(pd)
    assert tuple(table.column_names) == PERSON_DETAILS_COLUMNS
    return one(table, Der_NHS_LA_Combined_Person_ID=person)


def req(start, end, ref="2025-03-31", birth="1950-01", person="X", **values):
    return event(person, "Request", start, end, None, birth, Ref_Period_End_Date=ref, **values)


def test_conflicting_values_on_the_latest_rows_give_unknown():
    rows = [
        req("2025-01-01", "2025-01-02", Gender_Cleaned="Male"),
        req("2025-01-01", "2025-01-02", Gender_Cleaned="Female"),
    ]
    assert details(rows)["Gender"] == "Unknown"


def test_known_value_beats_a_later_unknown():
    rows = [
        req("2025-01-01", "2025-01-02", Gender_Cleaned="Unknown"),
        req("2024-06-01", "2024-06-02", Gender_Cleaned="Female"),
    ]
    assert details(rows)["Gender"] == "Female"


def test_later_reference_period_beats_a_later_event():
    rows = [
        req("2024-05-01", "2024-05-02", ref="2025-03-31", Gender_Cleaned="Male"),
        req("2024-06-01", "2024-06-02", ref="2024-06-30", Gender_Cleaned="Female"),
    ]
    assert details(rows)["Gender"] == "Male"


def test_ethnicity_prefers_known_then_refused_then_undeclared():
    rows = [
        req("2025-01-01", "2025-01-02", Ethnicity_Cleaned="No data: Undeclared or not known"),
        req("2024-12-01", "2024-12-02", Ethnicity_Cleaned="No data: Refused"),
    ]
    assert details(rows)["Ethnicity"] == "No data: Refused"
    rows.append(req("2024-05-01", "2024-05-02", Ethnicity_Cleaned="White: Irish"))
    assert details(rows)["Ethnicity"] == "White: Irish"
    assert details([req("2025-01-01", "2025-01-02")])["Ethnicity"] == "No data: Undeclared or not known"


def test_support_to_unpaid_carer_is_not_a_known_primary_support_reason():
    rows = [
        req(
            "2025-01-01",
            "2025-01-02",
            Primary_Support_Reason_Cleaned="Social support: Support to unpaid carer",
        ),
        req("2024-05-01", "2024-05-02", Primary_Support_Reason_Cleaned="Mental health support"),
    ]
    assert details(rows)["Primary_Support_Reason"] == "Mental health support"


def test_funding_outside_the_three_known_values_is_unknown_and_employment_keeps_invalid():
    got = details([req("2025-01-01", "2025-01-02", Client_Funding_Status_Cleaned="Unknown")])
    assert got["Client_Funding_Status"] == "Unknown"
    assert got["Employment_Status"] == "Invalid and not mapped"


def test_birth_is_the_earliest_complete_birth_in_the_latest_reference_period():
    rows = [
        req("2025-01-01", "2025-01-02", birth="1950-03"),
        req("2025-02-01", "2025-02-02", birth="1949-12"),
        req("2024-05-01", "2024-05-02", ref="2024-06-30", birth="1940-01"),
        req("2025-03-01", "2025-03-02", Der_Birth_Year=1930, Der_Birth_Month=None),
    ]
    got = details(rows)
    assert (got["Der_Birth_Year"], got["Der_Birth_Month"], got["Der_Birth_Date"]) == (
        1949,
        12,
        dt.date(1949, 12, 1),
    )
    assert (got["Der_Age_End_Of_Period"], got["Der_Working_Age_Band_End_Of_Period"]) == (75, "65 and above")


def test_age_band_at_period_end():
    got = details([req("2025-01-01", "2025-01-02", birth="2010-01")])
    assert (got["Der_Age_End_Of_Period"], got["Der_Working_Age_Band_End_Of_Period"]) == (15, "Under 18")


def test_date_of_death_is_the_latest_in_the_latest_reference_period():
    rows = [
        req("2025-01-01", "2025-01-02", Date_of_Death="2025-01-05"),
        req("2025-01-01", "2025-01-03", Date_of_Death="2025-01-09"),
        req("2024-05-01", "2024-05-02", ref="2024-06-30", Date_of_Death="2025-02-01"),
        req("2025-02-01", "2025-02-02", Date_of_Death=None),
    ]
    assert details(rows)["Date_of_Death"] == dt.date(2025, 1, 9)


@pytest.mark.parametrize(("carer_end", "expected"), [("2024-04-01", "Yes"), ("2024-03-31", "No")])
def test_people_named_by_an_unpaid_carer_in_the_period_have_an_unpaid_carer(carer_end, expected):
    rows = [
        req("2025-01-01", "2025-01-02", Has_Unpaid_Carer="No", LA_Person_Unique_Identifier="lp1"),
        event(
            "K",
            "Assessment",
            "2024-03-01",
            carer_end,
            None,
            "1960-01",
            Client_Type_Cleaned="Unpaid carer",
            Adult_1_Linked_Person_ID="LP1",
            LA_Person_Unique_Identifier="k1",
        ),
    ]
    assert details(rows)["Has_Unpaid_Carer"] == expected


def test_identifiers_latest_and_concat():
    rows = [
        req("2025-01-01", "2025-01-02", LA_Person_Unique_Identifier="b2"),
        req("2025-01-01", "2025-01-02", LA_Person_Unique_Identifier="a1"),
        req("2025-01-01", "2025-01-02", LA_Person_Unique_Identifier="a1"),
    ]
    got = details(rows)
    assert got["LA_Person_Unique_Identifier_Latest"] == "a1"  # more rows carry it
    assert got["LA_Person_Unique_Identifier_Concat"] == "a1, b2"


def lts(stype, component, start="2024-01-01", end=None, person="X"):
    return service(
        person,
        stype,
        start,
        end,
        "1950-01",
        Service_Component_Cleaned=component,
        Accommodation_Status_Cleaned="Unknown",
    )


@pytest.mark.parametrize(
    ("services", "status", "group"),
    [
        ([lts(COMMUNITY, "Home support or domiciliary care")], "Unknown: Presumed at home", 1),
        ([lts(COMMUNITY, "Day support")], "Unknown: Presumed in community", 0),
        (
            [lts(COMMUNITY, "Shared Lives"), lts(COMMUNITY, "Extra care housing")],
            "Unknown: Presumed in community",
            0,
        ),
        (
            [lts(COMMUNITY, "Extra care housing")],
            "Sheltered housing, extra care housing or other sheltered housing",
            1,
        ),
        (
            [lts("Short term support: Other short term", "Community supported living")],
            "Supported accommodation, supported lodgings or supported group home",
            1,
        ),
        (
            [lts("Long term support: Prison", None)],
            "Prison, young offenders institution or detention centre",
            0,
        ),
        (
            [lts(RESIDENTIAL, None), lts(COMMUNITY, "Home support or domiciliary care", end="2024-12-31")],
            "Registered care home",
            0,
        ),
        ([], "Unknown", 0),
    ],
)
def test_unknown_accommodation_is_completed_from_the_latest_services(services, status, group):
    rows = [req("2025-01-01", "2025-01-02", Accommodation_Status_Cleaned="Invalid and not mapped"), *services]
    got = details(rows)
    assert (got["Accommodation_Status"], got["Accommodation_Status_Group"]) == (status, group)


def test_known_accommodation_is_not_overridden_by_services():
    rows = [
        req("2025-01-01", "2025-01-02", Accommodation_Status_Cleaned="Tenant: Private landlord"),
        lts(RESIDENTIAL, None),
    ]
    rows[1]["Accommodation_Status_Cleaned"] = None
    got = details(rows)
    assert (got["Accommodation_Status"], got["Accommodation_Status_Group"]) == ("Tenant: Private landlord", 1)


@pytest.mark.parametrize(
    ("client_type", "expected"),
    [("Unpaid carer known by association", "Yes"), ("Carer", "No"), ("Service user", "No")],
)
def test_only_unpaid_carer_client_types_give_the_override(client_type, expected):
    # ascof.md §0.4: the override looks at rows with Client_Type_Cleaned in (`Unpaid carer`,
    # `Unpaid carer known by association`) only; any other client type (even a Release 1 spelling) does not.
    rows = [
        req("2025-01-01", "2025-01-02", Has_Unpaid_Carer="No", LA_Person_Unique_Identifier="lp1"),
        event(
            "K",
            "Assessment",
            "2024-05-01",
            "2024-05-02",
            None,
            "1960-01",
            Client_Type_Cleaned=client_type,
            Adult_2_Linked_Person_ID="lp1",
            LA_Person_Unique_Identifier="k1",
        ),
    ]
    assert details(rows)["Has_Unpaid_Carer"] == expected
