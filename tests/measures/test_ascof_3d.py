"""ASCOF 3D edge rules (ascof.md §5): snapshot and in-year windows, the setting hierarchy, delivery-mechanism
blanking, carer support categories under SQL NULL logic, rounding."""

from __future__ import annotations

import pytest
from ascof_fixtures import COMMUNITY, NURSING, figures, one, run, service

CLIENTS_1A = "1a - The proportion of clients who use services who receive self-directed support (%)"
CLIENTS_2A = "2a - The proportion of clients who use services who receive direct payments (%)"
CARERS_1B = "1b - The proportion of carers who use services who receive self-directed support (%)"
CARERS_2B = "2b - The proportion of carers who use services who receive direct payments (%)"
DIRECT = "Unpaid carer support: Direct to unpaid carer"


def client(
    person, mech=None, comp=None, stype=COMMUNITY, start="2024-01-01", end=None, birth="1970-01", **extra
):
    return service(
        person,
        stype,
        start,
        end,
        birth,
        Delivery_Mechanism_Cleaned=mech,
        Service_Component_Cleaned=comp,
        **extra,
    )


def carer(
    person, mech=None, comp=None, stype=DIRECT, start="2024-06-01", end="2024-06-01", birth="1970-01", **extra
):
    return service(
        person,
        stype,
        start,
        end,
        birth,
        Delivery_Mechanism_Cleaned=mech,
        Service_Component_Cleaned=comp,
        Client_Type_Cleaned="Unpaid carer",
        **extra,
    )


def measures(rows):
    return run(rows, measures=["3D"]).measures


def test_direct_payment_share_rounds_half_away_from_zero():
    rows = [client(f"D{i}", "Direct payment") for i in range(9)]
    rows += [client(f"C{i}", "CASSR commissioned support") for i in range(7)]
    assert figures(measures(rows), "ASCOF 3D (Clients)", description=CLIENTS_2A)["Total"] == (9, 16, "56.3")


@pytest.mark.parametrize(("end", "counted"), [("2025-03-31", True), ("2025-03-30", False), (None, True)])
def test_clients_are_a_snapshot_at_the_period_end(end, counted):
    m = measures([client("A", "Direct payment", end=end), client("B", "CASSR commissioned support")])
    assert figures(m, "ASCOF 3D (Clients)", description=CLIENTS_2A)["Total"] == (
        (1, 2, "50.0") if counted else (0, 1, "0.0")
    )


def test_death_before_the_snapshot_excludes_the_client():
    m = measures([client("A", "Direct payment", Date_of_Death="2025-03-30"), client("B", "Direct payment")])
    assert figures(m, "ASCOF 3D (Clients)", description=CLIENTS_2A)["Total"] == (1, 1, "100.0")


def test_nursing_outranks_community_so_the_client_leaves_the_denominator():
    m = measures(
        [client("A", "Direct payment"), client("A", None, stype=NURSING), client("B", "Direct payment")]
    )
    assert figures(m, "ASCOF 3D (Clients)", description=CLIENTS_2A)["Total"] == (1, 1, "100.0")


def test_direct_payment_outranks_other_mechanisms_for_one_client():
    m = measures([client("A", "CASSR commissioned support"), client("A", "Direct payment")])
    assert figures(m, "ASCOF 3D (Clients)", description=CLIENTS_2A)["Total"] == (1, 1, "100.0")


def test_unexpected_mechanism_is_blanked_and_counted_as_unknown():
    # A direct payment on a prison service is not in the setting table: blanked (and prison is not community).
    rows = [
        client("A", "Something else"),
        client("B", "Direct payment", stype="Long term support: Prison"),
        client("C", None, comp="Direct payment"),
    ]
    m = measures(rows)
    assert figures(m, "ASCOF 3D (Clients)", description=CLIENTS_1A)["Total"] == (1, 2, "50.0")
    assert one(m, measure="ASCOF 3D (Clients)", breakdown="Count")["numerator"] == 1


def test_mechanisms_match_case_insensitively():
    m = measures([client("A", "DIRECT PAYMENT "), client("B", "cassr managed personal budget")])
    assert figures(m, "ASCOF 3D (Clients)", description=CLIENTS_1A)["Total"] == (2, 2, "100.0")
    assert figures(m, "ASCOF 3D (Clients)", description=CLIENTS_2A)["Total"] == (1, 2, "50.0")


@pytest.mark.parametrize(
    ("mech", "comp", "den", "num_1b", "unknown"),
    [
        ("Direct payment", None, 1, 1, 0),  # rule 1 holds even with a NULL component
        (None, "Direct payment", 1, 1, 0),  # rule 1 via the component
        ("CASSR managed personal budget", "Other unpaid carer support", 1, 1, 0),  # rule 2
        ("CASSR managed personal budget", None, 0, 0, 0),  # NULL component: rules 2-5 unknown -> ignored
        ("Something else", "Other unpaid carer support", 0, 0, 1),  # rule 4
        (None, "Other unpaid carer support", 0, 0, 1),  # rule 5
        (None, None, 0, 0, 0),  # NULL component again: ignored
    ],
)
def test_carer_support_categories_follow_sql_null_logic(mech, comp, den, num_1b, unknown):
    m = measures([carer("K", mech, comp)])
    got = figures(m, "ASCOF 3D (Carers)", description=CARERS_1B)
    assert got.get("Total", (0, 0, "0.0"))[:2] == (num_1b, den)
    assert one(m, measure="ASCOF 3D (Carers)", breakdown="Count")["numerator"] == unknown


def test_carer_in_year_window_and_the_highest_support_wins():
    rows = [
        carer("K1", "CASSR commissioned support", "Other unpaid carer support"),
        carer("K1", "Direct payment", start="2024-09-01", end="2024-09-01"),
        carer("K2", "Direct payment", start="2024-03-01", end="2024-03-31"),  # ended before the year
        carer("K3", "Direct payment", start="2025-04-01", end="2025-04-01"),  # starts after it
    ]
    m = measures(rows)
    assert figures(m, "ASCOF 3D (Carers)", description=CARERS_2B)["Total"] == (1, 1, "100.0")


def test_carer_age_band_uses_the_minimum_age_and_under_18s_are_dropped():
    rows = [
        carer("K1", "Direct payment", birth="2008-01"),  # 17 at the period end
        carer("K2", "Direct payment", birth="1958-01"),  # 67
    ]
    assert figures(measures(rows), "ASCOF 3D (Carers)", description=CARERS_2B) == {
        "65 and above": (1, 1, "100.0"),
        "Total": (1, 1, "100.0"),
    }


def test_council_code_is_joined_to_the_la_lookup_ignoring_case_and_trailing_spaces():
    # main-tables.md §0: joins compare text case-insensitively, ignoring trailing spaces, so rows coded `318 `
    # belong to the lookup's council `318` (ascof.md §0.1): one 18-64 community client with a direct payment
    # (§5.1) and one 18-64 carer with a direct payment (§5.2, rule 1).
    m = measures(
        [client("C1", mech="Direct payment", LA_Code="318 "), carer("K1", mech="Direct payment", LA_Code="318 ")]
    )
    assert figures(m, "ASCOF 3D (Clients)", description=CLIENTS_2A)["Total"] == (1, 1, "100.0")
    assert figures(m, "ASCOF 3D (Carers)", description=CARERS_2B)["Total"] == (1, 1, "100.0")
