"""The SALT worked scenarios of scenarios.md Part C, each as a test (expected values from the document)."""

from __future__ import annotations

import pytest
from salt_fixtures import PERIOD, cells, frame, request, row, service

from ascld.measures.salt import compute_salt

LT_COMMUNITY = "Long Term Support: Community"
LT_RESIDENTIAL = "Long Term Support: Residential Care"
ST_MAX = "Short Term Support: ST-Max"


def run(rows, *measures):
    return compute_salt(frame(rows), period=PERIOD, engine="duckdb", measures=list(measures))


# ----------------------------------------------------------------------------------------------------
# S-STS001-1
# ----------------------------------------------------------------------------------------------------

STS001_ROWS = [
    request("A", "2023-06-01", "2023-06-05", "Progress to Assessment"),
    row(
        "A", "Assessment", "2023-06-10", "2023-06-20", Event_Outcome="Progress to Support Planning / Services"
    ),
    service("A", LT_COMMUNITY, "2023-06-22"),
    request("B", "2023-07-01", "2023-07-03", "Progress to Assessment"),
    row("B", "Assessment", "2023-07-05", "2023-07-20", Event_Outcome="NFA - Support declined"),
    request("C", "2023-08-01", "2023-08-02", "NFA - Information & Advice / Signposting only"),
    service("C", "Short Term Support: Ongoing Low Level", "2023-09-15", "2023-10-01"),
    request("D", "2023-08-01", "2023-08-02", "Progress to Reablement/ST-Max"),
    service("D", ST_MAX, "2023-10-01"),
    service("E", LT_RESIDENTIAL, "2022-05-01"),
    request("E", "2023-09-01", "2023-09-05", "Progress to Assessment"),
    request("F", "2023-10-02", "2023-10-03", "Progress to Assessment"),
    request("F", "2023-10-07", "2023-10-09", "NFA - Deceased"),
    request("F", "2023-10-15", "2023-10-16", "NFA- Other"),
]


@pytest.fixture(scope="module")
def sts001():
    return run(STS001_ROWS, "SALT STS001")


def test_sts001_scenario_counts_each_sequel_once(sts001):
    assert cells(sts001, "SALT STS001", "Sequel") == {
        "Long Term Support: Community": 1,  # A
        "No Services Provided - other reason": 1,  # B
        "No_Chronology_Universal Services/ Signposted to other services": 1,  # C
        "Short Term Support: ST-Max": 1,  # D
        "No_Chronology_No Services Provided - Deceased": 1,  # F cluster 1
        "No_Chronology_No Services Provided - other reason": 1,  # F cluster 2
    }


def test_sts001_scenario_total_excludes_existing_client(sts001):
    # Six requests: E's request starts inside an open long-term service.
    assert cells(sts001, "SALT STS001", "Total") == {"Total": 6}


def test_sts001_scenario_record_types(sts001):
    assert cells(sts001, "SALT STS001", "Record type | Final outcome | Sequel") == {
        "2 | Long Term Support: Community | Long Term Support: Community": 1,
        "3 | NFA - Support declined | No Services Provided - other reason": 1,
        "5 | No_Chronology_NFA - Information & Advice / Signposting only | "
        "No_Chronology_Universal Services/ Signposted to other services": 1,
        "2 | Short Term Support: ST-Max | Short Term Support: ST-Max": 1,
        "5 | No_Chronology_NFA - Deceased | No_Chronology_No Services Provided - Deceased": 1,
        "1 | No_Chronology_NFA- Other | No_Chronology_No Services Provided - other reason": 1,
    }


def test_sts001_scenario_national_equals_single_council(sts001):
    assert cells(sts001, "SALT STS001", "Sequel", la_code=None) == cells(sts001, "SALT STS001", "Sequel")


def test_sts001_scenario_everyone_is_18_to_64(sts001):
    assert sum(cells(sts001, "SALT STS001", "Age band | Sequel").values()) == 6
    assert all(g.startswith("18-64 | ") for g in cells(sts001, "SALT STS001", "Age band | Sequel"))


# ----------------------------------------------------------------------------------------------------
# S-STS002a-1 and ASCOF 2A (Release 1)
# ----------------------------------------------------------------------------------------------------

# Each person's request resolves to ST-Max in STS001 (the ST-Max starts within 28 days of the request end), so
# their ST-Max rows are in the STS002a cohort.
STS002A_ROWS = [
    request("G", "2023-06-01", "2023-06-08", "Progress to Reablement/ST-Max"),
    service("G", ST_MAX, "2023-06-10", "2023-06-30", Event_Outcome="Service ended as planned"),
    service("G", ST_MAX, "2023-07-01", "2023-07-20", Event_Outcome="NFA - Support ended: Other reason"),
    request("H", "2023-07-20", "2023-07-30", "Progress to Reablement/ST-Max"),
    service("H", ST_MAX, "2023-08-05", "2023-08-31", Event_Outcome="Progress to Support Planning / Services"),
    service("H", LT_RESIDENTIAL, "2023-09-02"),
    request("J", "2023-08-20", "2023-08-28", "Progress to Reablement/ST-Max"),
    service("J", ST_MAX, "2023-09-04", "2023-09-30", Event_Outcome="Progress to Support Planning / Services"),
    row("J", "Review", "2023-10-02", "2023-10-05", Event_Outcome="NFA - Deceased"),
    request("K", "2023-09-20", "2023-09-25", "Progress to Reablement/ST-Max"),
    service(
        "K", ST_MAX, "2023-10-03", "2023-10-20", Event_Outcome="NFA - Information & Advice / Signposting only"
    ),
    request("L", "2023-10-25", "2023-10-30", "Progress to Reablement/ST-Max"),
    service("L", ST_MAX, "2023-11-03", "2023-11-25", Event_Outcome="Service ended as planned"),
]


@pytest.fixture(scope="module")
def sts002a():
    return run(STS002A_ROWS, "SALT STS002a", "ASCOF 2A (Release 1)")


def test_sts002a_scenario_sequels(sts002a):
    assert cells(sts002a, "SALT STS002a", "Sequel") == {
        "No_Chronology_No services provided – other": 1,  # G: two rows, one cluster
        "Long Term Support (any setting)": 1,  # H
        "Early cessation of service (not leading to long term support) - 100% NHS funded care/End of Life/"
        "deceased": 1,  # J
        "No_Chronology_No Services Provided – Universal Services / signposted to other services": 1,  # K
        "No services provided – other": 1,  # L
    }


def test_sts002a_scenario_record_types(sts002a):
    types = {
        g.split(" | ")[0] for g in cells(sts002a, "SALT STS002a", "Record type | Final outcome | Sequel")
    }
    assert types == {"1", "2", "3"}
    assert cells(sts002a, "SALT STS002a", "Total") == {"Total": 5}


def test_ascof_2a_release_1_scenario_is_fifty_percent(sts002a):
    row_ = sts002a[(sts002a.measure == "ASCOF 2A (Release 1)") & (sts002a.la_code == "318")].iloc[0]
    assert (row_.numerator, row_.denominator, row_.value) == (1, 2, 50.0)


# ----------------------------------------------------------------------------------------------------
# S-STS002b-1
# ----------------------------------------------------------------------------------------------------


def test_sts002b_scenario_counts_three_episodes():
    rows = [
        service("M", LT_COMMUNITY, "2023-01-01"),
        service("M", ST_MAX, "2023-05-01", "2023-05-20", Event_Outcome="Service ended as planned"),
        service("N", ST_MAX, "2023-06-01", "2023-06-15", Event_Outcome="Service ended as planned"),
        service("M2", LT_COMMUNITY, "2023-01-01"),
        service("M2", ST_MAX, "2023-06-01", "2023-06-10", Event_Outcome="Service ended as planned"),
        service("M2", ST_MAX, "2023-06-12", "2023-06-20", Event_Outcome="Service ended as planned"),
    ]
    result = run(rows, "SALT STS002b")
    assert cells(result, "SALT STS002b", "Total") == {"Total": 3}
    assert cells(result, "SALT STS002b", "Total", la_code=None) == {"Total": 3}


# ----------------------------------------------------------------------------------------------------
# S-LTS001a-1, S-LTS001b-1, S-LTS001c-1
# ----------------------------------------------------------------------------------------------------

PSR_BREAKDOWN = "Age band | Primary support reason | Service type | Delivery mechanism"


def test_lts001a_scenario():
    rows = [
        service(
            "P",
            LT_COMMUNITY,
            "2023-01-01",
            age=70,
            Delivery_Mechanism="Direct Payment",
            Primary_Support_Reason="Physical Support: Personal care support",
        ),
        service(
            "P",
            LT_RESIDENTIAL,
            "2023-09-01",
            "2023-11-30",
            age=70,
            Delivery_Mechanism="Direct Payment",
            Primary_Support_Reason="Unknown",
        ),
        service("Q2", LT_COMMUNITY, "2023-02-01", Primary_Support_Reason="Mental Health Support"),
        service("Q2", LT_COMMUNITY, "2023-05-01", Primary_Support_Reason="Learning Disability Support"),
        service("Q2b", LT_COMMUNITY, "2023-05-01", Primary_Support_Reason="Mental Health Support"),
        service("Q2b", LT_COMMUNITY, "2023-05-01", Primary_Support_Reason="Learning Disability Support"),
        service(
            "R2",
            LT_COMMUNITY,
            "2023-03-01",
            age=30,
            Delivery_Mechanism="CASSR Managed Personal Budget",
            Primary_Support_Reason="Sensory Support: Support for visual impairment",
        ),
    ]
    result = run(rows, "SALT LTS001a")
    assert cells(result, "SALT LTS001a", PSR_BREAKDOWN) == {
        "65+ | Unknown | Long Term Support: Residential Care | ": 1,  # P
        "18-64 | Learning Disability Support | Long Term Support: Community | ": 1,  # Q2
        "18-64 | Unknown | Long Term Support: Community | ": 1,  # Q2'
        "18-64 | Sensory Support: Support for visual impairment | Long Term Support: Community | "
        "CASSR Managed Personal Budget": 1,  # R2
    }
    assert cells(result, "SALT LTS001a", "Age band") == {"18-64": 3, "65+": 1}


def test_lts001b_scenario_snapshot():
    rows = [
        service(
            "S",
            LT_COMMUNITY,
            "2023-06-01",
            age=55,
            Delivery_Mechanism="Direct Payment",
            Primary_Support_Reason="Mental Health Support",
        ),
        service(
            "S",
            LT_COMMUNITY,
            "2023-07-01",
            age=55,
            Delivery_Mechanism="CASSR Managed Personal Budget",
            Primary_Support_Reason="Mental Health Support",
        ),
        service(
            "T", LT_COMMUNITY, "2023-01-01", "2023-12-30", Primary_Support_Reason="Mental Health Support"
        ),
    ]
    result = run(rows, "SALT LTS001b")
    assert cells(result, "SALT LTS001b", PSR_BREAKDOWN) == {
        "18-64 | Mental Health Support | Long Term Support: Community | Direct Payment": 1
    }


def test_lts001c_scenario_twelve_month_chains():
    rows = [
        service(
            "U", LT_COMMUNITY, "2022-03-01", "2023-06-30", Primary_Support_Reason="Mental Health Support"
        ),
        service("U", LT_RESIDENTIAL, "2023-07-01", Primary_Support_Reason="Mental Health Support"),
        service(
            "V2", LT_COMMUNITY, "2022-03-01", "2023-06-30", Primary_Support_Reason="Mental Health Support"
        ),
        service("V2", LT_COMMUNITY, "2023-07-02", Primary_Support_Reason="Mental Health Support"),
        service("W2", LT_COMMUNITY, "2022-12-31", Primary_Support_Reason="Mental Health Support"),
    ]
    result = run(rows, "SALT LTS001c")
    assert cells(result, "SALT LTS001c", PSR_BREAKDOWN) == {
        "18-64 | Mental Health Support | Long Term Support: Residential Care | ": 1
    }


# ----------------------------------------------------------------------------------------------------
# S-LTS003-1
# ----------------------------------------------------------------------------------------------------


def test_lts003_scenario_one_carer_per_category():
    carer = {"Client_Type": "Carer"}
    direct = "Carer Support: Direct to Carer"
    rows = [
        service("CA", direct, "2023-05-01", Delivery_Mechanism="Direct Payment", **carer),
        row(
            "CA",
            "Assessment",
            "2023-04-10",
            "2023-04-20",
            Event_Outcome="Progress to Support Planning / Services",
            **carer,
        ),
        service("CB", direct, "2023-05-01", **carer),
        row(
            "CC",
            "Assessment",
            "2023-06-01",
            "2023-06-10",
            Event_Outcome="NFA - Information & Advice / Signposting only",
            **carer,
        ),
        row(
            "CD",
            "Review",
            "2023-06-01",
            "2023-06-10",
            Event_Outcome="Progress to Support Planning / Services",
            **carer,
        ),
        service(
            "CF",
            direct,
            "2023-05-01",
            Delivery_Mechanism="CASSR Commissioned Support",
            Service_Component="Direct Payment",
            **carer,
        ),
    ]
    result = run(rows, "SALT LTS003")
    expected = {
        "Direct Payment only": 1,
        "Support Direct to Carer: Unknown Delivery Mech": 1,
        "Information, Advice and Other Universal Services / Signposting": 1,
        "No Direct Support Provided to Carer": 1,
        "CASSR Commissioned Support only": 1,
    }
    assert cells(result, "SALT LTS003", "Support provided") == expected
    assert cells(result, "SALT LTS003", "Support provided", la_code=None) == expected
    assert cells(result, "SALT LTS003", "Total") == {"Total": 5}


# ----------------------------------------------------------------------------------------------------
# S-LTS004-1
# ----------------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def lts004():
    ld = {"Primary_Support_Reason": "Learning Disability Support"}
    rows = [
        service(
            "X1",
            LT_COMMUNITY,
            "2023-02-01",
            age=30,
            Gender="Male",
            Employment_Status="Paid: 16 or more hours a week",
            Accommodation_Status="Tenant",
            **ld,
        ),
        service(
            "X1",
            LT_COMMUNITY,
            "2023-08-01",
            age=30,
            Gender="Male",
            Employment_Status="Unknown",
            Accommodation_Status="Unknown",
            **ld,
        ),
        service(
            "X1",
            LT_COMMUNITY,
            "2023-08-01",
            age=30,
            Gender="Male",
            Employment_Status="Not in Paid Employment (seeking work)",
            Accommodation_Status="Shared Lives scheme",
            **ld,
        ),
        service(
            "X2",
            LT_COMMUNITY,
            "2023-05-01",
            age=50,
            Gender="Female",
            Employment_Status="Paid: Less than 16 hours a week",
            Accommodation_Status="Registered care home",
            **ld,
        ),
        service(
            "X2",
            LT_COMMUNITY,
            "2023-05-01",
            age=50,
            Gender="Female",
            Employment_Status="Paid: 16 or more hours a week",
            Accommodation_Status="Registered care home",
            **ld,
        ),
        service(
            "X3",
            LT_COMMUNITY,
            "2023-05-01",
            age=30,
            Gender="Male",
            Employment_Status="Working",
            Accommodation_Status="Tenant",
            **ld,
        ),
    ]
    return run(rows, "SALT LTS004")


def test_lts004_scenario_employment(lts004):
    assert cells(lts004, "SALT LTS004", "Gender | Employment status") == {
        "Male | Not in Paid Employment (seeking work)": 1,  # X1: latest date, known preferred
        "Female | Unknown": 1,  # X2: two statuses on the same date
        "Male | NULL/Invalid": 1,  # X3
    }


def test_lts004_scenario_accommodation(lts004):
    assert cells(lts004, "SALT LTS004", "Gender | Settled accommodation status") == {
        "Male | Shared Lives scheme": 1,  # X1
        "Male | Tenant": 1,  # X3 (valid accommodation)
    }
    assert cells(lts004, "SALT LTS004", "Gender | Unsettled accommodation status") == {
        "Female | Registered care home": 1  # X2
    }
