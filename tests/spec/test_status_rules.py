"""The field-status rules, evaluated on rows described in the national terms (values already in R2 spelling)."""

from __future__ import annotations

import pytest

from ascld.spec import INVALID


def status_of(spec, column, row):
    """First rule that holds gives the status; an unknown condition before that gives undetermined."""
    for rule in spec.status_rules[column]:
        result = rule.condition.evaluate(row.get)
        if result is None:
            return "undetermined"
        if result:
            return rule.status
    raise AssertionError("rules must end with always")


SU_SERVICE = {
    "Client_Type": "Service user",
    "Event_Type": "Service",
    "Delivery_Mechanism": "Direct payment",
    "Service_Type": "Long term support: Community",
    "Service_Component": "Direct payment",
}


@pytest.mark.parametrize(
    ("column", "row", "expected"),
    [
        ("Gender", {}, "mandatory"),
        ("Event_Type", {"Client_Type": "Unpaid carer known by association"}, "not_applicable"),
        ("Event_Type", {"Client_Type": "Service user"}, "mandatory"),
        ("Event_Type", {}, "undetermined"),  # driving field blank
        ("Event_Type", {"Client_Type": INVALID}, "undetermined"),  # driving field invalid
        ("Primary_Support_Reason", {"Client_Type": "Service user", "Event_Type": "Request"}, "applicable"),
        ("Primary_Support_Reason", {"Client_Type": "Service user", "Event_Type": "Review"}, "mandatory"),
        ("Event_End_Date", {"Client_Type": "Service user", "Event_Type": "Service"}, "applicable"),
        (
            "Event_End_Date",
            {"Client_Type": "Service user", "Event_Type": "Service", "Date_of_Death": "x"},
            "mandatory",
        ),
        ("Event_End_Date", {"Client_Type": "Unpaid carer", "Event_Type": "Assessment"}, "mandatory"),
        (
            "Event_Outcome",
            {
                "Client_Type": "Service user",
                "Event_Type": "Assessment",
                "Assessment_Type": "Financial assessment",
            },
            "applicable",
        ),
        (
            "Event_Outcome",
            {
                "Client_Type": "Service user",
                "Event_Type": "Assessment",
                "Assessment_Type": "Long term assessment",
            },
            "mandatory",
        ),
        ("Method_of_Assessment", {"Client_Type": "Service user", "Event_Type": "Review"}, "not_applicable"),
        (
            "Employment_Status",
            {
                "Client_Type": "Service user",
                "age_at_period_end": 40,
                "Primary_Support_Reason": "Learning disability support",
            },
            "mandatory",
        ),
        (
            "Employment_Status",
            {
                "Client_Type": "Service user",
                "age_at_period_end": 70,
                "Primary_Support_Reason": "Learning disability support",
            },
            "applicable",
        ),
        (
            "Employment_Status",
            {"Client_Type": "Service user", "Primary_Support_Reason": "Learning disability support"},
            "undetermined",
        ),
        ("Employment_Status", {"Client_Type": "Unpaid carer"}, "applicable"),
        ("Dementia", {"Client_Type": "Unpaid carer"}, "not_applicable"),
        ("Adult_1_Linked_Person_ID", {"Client_Type": "Unpaid carer known by association"}, "applicable"),
        ("Adult_1_Linked_Person_ID", {"Client_Type": "Service user"}, "not_applicable"),
        ("Unit_Cost", SU_SERVICE, "mandatory"),
        ("Unit_Cost", {**SU_SERVICE, "Delivery_Mechanism": "CASSR commissioned support"}, "applicable"),
        (
            "Unit_Cost",
            {**SU_SERVICE, "Delivery_Mechanism": None},
            "applicable",
        ),  # R1 rule: blank DM not mandatory
        (
            "Unit_Cost",
            {**SU_SERVICE, "Service_Type": "Short term support: ST-Max", "Service_Component": "Reablement"},
            "applicable",
        ),
        (
            "Unit_Cost",
            {
                **SU_SERVICE,
                "Service_Type": "Short term support: Other short term",
                "Service_Component": "Short term residential care",
            },
            "mandatory",
        ),
        (
            "Review_Outcomes_Achieved",
            {"Client_Type": "Service user", "Event_Type": "Review", "Review_Reason": "Planned review"},
            "mandatory",
        ),
        (
            "Review_Outcomes_Achieved",
            {
                "Client_Type": "Service user",
                "Event_Type": "Review",
                "Review_Reason": "Review of short term support",
            },
            "applicable",
        ),
        ("Client_Funding_Status", {"Client_Type": "Service user", "Event_Type": "Request"}, "applicable"),
        ("Client_Funding_Status", {"Client_Type": "Service user", "Event_Type": "Review"}, "mandatory"),
        ("Client_Funding_Status", {"Client_Type": "Unpaid carer", "Event_Type": "Review"}, "not_applicable"),
    ],
)
def test_status_follows_the_national_rules(spec, column, row, expected):
    assert status_of(spec, column, row) == expected


def test_comparisons_ignore_case_and_trailing_spaces(spec):
    assert (
        status_of(spec, "Event_Type", {"Client_Type": "UNPAID CARER KNOWN BY ASSOCIATION  "})
        == "not_applicable"
    )
