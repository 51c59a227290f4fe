"""Edge rules of each SALT table (salt.md §2-§10): ties, NULLs, case-insensitive matching, boundaries.

Each case is a separate council (la code E01, E02, ...) so one run per table checks them all; every expected
value is worked out by hand from salt.md (the reasoning is in the comment above each case).
"""

from __future__ import annotations

from datetime import date

import pytest
from salt_fixtures import PERIOD, PS, TODAY, cells, frame, request, row, service

from ascld.measures.salt import SaltPeriod, compute_salt

LT_COMMUNITY = "Long Term Support: Community"
LT_RESIDENTIAL = "Long Term Support: Residential Care"
ST_MAX = "Short Term Support: ST-Max"
OLL = "Short Term Support: Ongoing Low Level"
PLANNING = "Progress to Support Planning / Services"


def run(rows, *measures, period=PERIOD):
    return compute_salt(frame(rows), period=period, engine="duckdb", measures=list(measures))


# ------------------------------------------------------------------------------------------------------------
# STS001
# ------------------------------------------------------------------------------------------------------------


def sts001_rows():
    r = []
    # E01: the second request starts on the cluster end date and is the cluster itself (deleted), so the
    # Rn = 1 row is gone and the 28-day test is skipped: a service 45 days later is still the sequel.
    r += [
        request("p1", "2023-06-01", "2023-06-05", "Progress to Assessment", la="E01"),
        request("p1", "2023-06-05", "2023-06-05", "Progress to Assessment", la="E01"),
        service("p1", LT_COMMUNITY, "2023-07-20", "2023-08-31", la="E01"),
    ]
    # E02: two requests of one cluster end on the same day; the outcome with the lower hierarchy wins
    # (End of Life 6 beats NFA - Deceased 11).
    r += [
        request("p2", "2023-06-01", "2023-06-05", "NFA - Deceased", la="E02"),
        request("p2", "2023-06-02", "2023-06-05", "Progress to End of Life Care", la="E02"),
    ]
    # E03: a NULL route of access drops the request at the outcome tie-break join.
    r += [request("p3", "2023-06-01", "2023-06-05", "NFA - Deceased", la="E03", Request_Route_of_Access=None)]
    # E04: values in other capitalisations and with trailing spaces still match.
    r += [
        row(
            "p4",
            "REQUEST",
            "2023-06-01",
            "2023-06-05",
            la="E04",
            Client_Type="service user ",
            Event_Outcome="nfa - support declined",
            Request_Route_of_Access="Prison",
        )
    ]
    # E05: two rows at the latest sequel end (an NFA and a non-NFA): STS001 counts any row at that rank
    # -> NFA- Other.
    r += [
        request("p5", "2023-06-01", "2023-06-05", "Progress to Assessment", la="E05"),
        row("p5", "Assessment", "2023-06-07", "2023-06-20", la="E05", Event_Outcome="NFA - Deceased"),
        row("p5", "Review", "2023-06-08", "2023-06-20", la="E05", Event_Outcome=PLANNING),
    ]
    # E06: the chain has no service and no usable outcome; request outcome code 2 -> 'No Service Found'.
    r += [
        request("p6", "2023-06-01", "2023-06-05", "Progress to Assessment", la="E06"),
        row("p6", "Assessment", "2023-06-07", "2023-06-20", la="E06", Event_Outcome=PLANNING),
    ]
    # E07: as E06 but the request outcome has code 1 -> 'No Service Found_' + its description.
    r += [
        request("p7", "2023-06-01", "2023-06-05", "NFA - Support declined", la="E07"),
        row("p7", "Assessment", "2023-06-07", "2023-06-20", la="E07", Event_Outcome=PLANNING),
    ]
    # E08: out of scope (first onward event 57 days later) with an unmapped outcome: 'No_Chronology_' + NULL.
    r += [
        request("p8", "2023-06-01", "2023-06-05", "Local outcome", la="E08"),
        service("p8", OLL, "2023-08-01", "2023-08-10", la="E08"),
    ]
    # E09: died before the period start: excluded.
    r += [request("p9", "2023-06-01", "2023-06-05", "NFA - Deceased", la="E09", Date_of_Death="2023-03-01")]
    # E10: an open request ends "today" (after PE): not counted.
    r += [request("p10", "2023-12-20", None, "Progress to Assessment", la="E10")]
    # E11: a request island that starts before PS and ends in the period counts once.
    r += [
        request("p11", "2023-03-20", "2023-03-30", "Progress to Assessment", la="E11"),
        request("p11", "2023-04-02", "2023-04-05", "NFA - Deceased", la="E11"),
    ]
    # E12: a gap of 5 days (> 3) between the assessment and the service breaks the chain: no service found.
    r += [
        request("p12", "2023-06-01", "2023-06-05", "Progress to Assessment", la="E12"),
        row("p12", "Assessment", "2023-06-07", "2023-06-20", la="E12", Event_Outcome=PLANNING),
        service("p12", LT_COMMUNITY, "2023-06-25", la="E12"),
    ]
    # E13: two services in the chain: ST-Max (1) beats residential care (3).
    r += [
        request("p13", "2023-06-01", "2023-06-05", "Progress to Reablement/ST-Max", la="E13"),
        service("p13", ST_MAX, "2023-06-07", "2023-06-20", la="E13"),
        service("p13", LT_RESIDENTIAL, "2023-06-21", la="E13"),
    ]
    # E14: first onward event exactly 28 days after the request end: in scope.
    r += [
        request("p14", "2023-06-01", "2023-06-05", "Progress to Assessment", la="E14"),
        service("p14", OLL, "2023-07-03", "2023-07-10", la="E14"),
    ]
    # E15: 29 days after: out of scope; 'Progress to Assessment' maps to Unable_To_Classify.
    r += [
        request("p15", "2023-06-01", "2023-06-05", "Progress to Assessment", la="E15"),
        service("p15", OLL, "2023-07-04", "2023-07-10", la="E15"),
    ]
    # E16: a later request breaks the first request's chain (type 5); the later request gets the service.
    r += [
        request("p16", "2023-06-01", "2023-06-05", "Progress to Assessment", la="E16"),
        request("p16", "2023-06-12", "2023-06-14", "NFA - Deceased", la="E16"),
        service("p16", LT_COMMUNITY, "2023-06-15", la="E16"),
    ]
    # E17: the request starts on the last day of a closed long-term service (BETWEEN is inclusive): not new.
    r += [
        service("p17", LT_COMMUNITY, "2023-01-01", "2023-06-01", la="E17"),
        request("p17", "2023-06-01", "2023-06-05", "NFA - Deceased", la="E17"),
    ]
    # E18: the long-term service ended the day before: new client.
    r += [
        service("p18", LT_COMMUNITY, "2023-01-01", "2023-05-31", la="E18"),
        request("p18", "2023-06-01", "2023-06-05", "NFA - Deceased", la="E18"),
    ]
    # E19: aged 70 at PE -> 65+ band; E20: aged 17 -> in no band (but in the total).
    r += [request("p19", "2023-06-01", "2023-06-05", "NFA - Deceased", la="E19", age=70)]
    r += [request("p20", "2023-06-01", "2023-06-05", "NFA - Deceased", la="E20", age=17)]
    return r


@pytest.fixture(scope="module")
def sts001():
    return run(sts001_rows(), "SALT STS001")


SEQUEL_CASES = {
    "E01": {"Long Term Support: Community": 1},
    "E02": {"No_Chronology_End of Life": 1},
    "E03": {},
    "E04": {"No_Chronology_No Services Provided - other reason": 1},
    "E05": {"No Services Provided - other reason": 1},
    "E06": {"No Service Found": 1},
    "E07": {"No Service Found_No Services Provided - other reason": 1},
    "E08": {"(null)": 1},
    "E09": {},
    "E10": {},
    "E11": {"No_Chronology_No Services Provided - Deceased": 1},
    "E12": {"No Service Found": 1},
    "E13": {"Short Term Support: ST-Max": 1},
    "E14": {"Short Term Support: Ongoing Low Level": 1},
    "E15": {"No_Chronology_Unable_To_Classify": 1},
    "E16": {"No_Chronology_Unable_To_Classify": 1, "Long Term Support: Community": 1},
    "E17": {},
    "E18": {"No_Chronology_No Services Provided - Deceased": 1},
}


@pytest.mark.parametrize(("la", "expected"), SEQUEL_CASES.items(), ids=list(SEQUEL_CASES))
def test_sts001_edge_sequels(sts001, la, expected):
    assert cells(sts001, "SALT STS001", "Sequel", la_code=la) == expected


def test_sts001_nfa_other_record(sts001):
    assert cells(sts001, "SALT STS001", "Record type | Final outcome | Sequel", la_code="E05") == {
        "3 | NFA- Other | No Services Provided - other reason": 1
    }


def test_sts001_unmapped_outcome_keeps_its_text_in_final_outcome(sts001):
    assert cells(sts001, "SALT STS001", "Record type | Final outcome | Sequel", la_code="E08") == {
        "5 | No_Chronology_Local outcome | (null)": 1
    }


def test_sts001_age_bands(sts001):
    assert cells(sts001, "SALT STS001", "Age band | Sequel", la_code="E19") == {
        "65+ | No_Chronology_No Services Provided - Deceased": 1
    }
    assert cells(sts001, "SALT STS001", "Age band | Sequel", la_code="E20") == {}
    assert cells(sts001, "SALT STS001", "Total", la_code="E20") == {"Total": 1}


def test_sts001_national_rows_add_up_councils(sts001):
    national = cells(sts001, "SALT STS001", "Total", la_code=None)["Total"]
    council_total = sts001[(sts001.breakdown == "Total") & sts001.la_code.notna()].numerator.sum()
    # One request row for each case with a row in SEQUEL_CASES (E16 two), plus E19 and E20.
    assert national == council_total == 17


# ------------------------------------------------------------------------------------------------------------
# STS002a and ASCOF 2A (Release 1)
# ------------------------------------------------------------------------------------------------------------


def st_max_journey(person, la, st_max_rows, later=()):
    """A request resolved to ST-Max by STS001 (ends 2 days before the first ST-Max), its ST-Max rows, and
    later events."""
    first = date.fromisoformat(st_max_rows[0][0])
    end = date.fromordinal(first.toordinal() - 2)
    start = date.fromordinal(end.toordinal() - 3)
    rows = [request(person, start.isoformat(), end.isoformat(), "Progress to Reablement/ST-Max", la=la)]
    rows += [service(person, ST_MAX, s, e, la=la, Event_Outcome=o) for s, e, o in st_max_rows]
    rows += [row(person, kind, s, e, la=la, Event_Outcome=o) for kind, s, e, o in later]
    return rows


def sts002a_rows():
    r = []
    # S01: review in scope, no NFA, ST-Max outcome 'Service ended as planned' -> type 4 with a *hyphen*.
    r += st_max_journey(
        "q1",
        "S01",
        [("2023-06-10", "2023-06-30", "Service ended as planned")],
        [("Review", "2023-07-02", "2023-07-05", PLANNING)],
    )
    # S02: the only onward event starts 10 days later: out of scope; 'Service ended as planned' -> en dash.
    r += st_max_journey(
        "q2",
        "S02",
        [("2023-06-10", "2023-06-30", "Service ended as planned")],
        [("Review", "2023-07-10", "2023-07-12", "NFA - Deceased")],
    )
    # S03: two NFA rows at the latest end -> NFA- Other -> 'No services provided – other'.
    r += st_max_journey(
        "q3",
        "S03",
        [("2023-06-10", "2023-06-30", PLANNING)],
        [
            ("Review", "2023-07-01", "2023-07-05", "NFA - Deceased"),
            ("Assessment", "2023-07-02", "2023-07-05", "NFA - Moved to another LA"),
        ],
    )
    # S04: an NFA and a non-NFA row at the latest end: STS002a counts only NFA rows -> the NFA's mapping.
    r += st_max_journey(
        "q4",
        "S04",
        [("2023-06-10", "2023-06-30", PLANNING)],
        [
            ("Review", "2023-07-01", "2023-07-05", "NFA - Deceased"),
            ("Assessment", "2023-07-02", "2023-07-05", PLANNING),
        ],
    )
    # S05: a second ST-Max 3 days after the first ends (> 1 day: its own cluster) breaks the first cluster's
    # chain (type 5, unmapped outcome); the second has no onward events (type 1, 'Service ended as planned').
    r += st_max_journey(
        "q5",
        "S05",
        [("2023-06-10", "2023-06-20", PLANNING), ("2023-06-23", "2023-06-30", "Service ended as planned")],
    )
    # S06: an ST-Max that no request led to is not in the cohort.
    r += [
        service("q6", ST_MAX, "2023-06-10", "2023-06-30", la="S06", Event_Outcome="Service ended as planned")
    ]
    # S07: an open ST-Max ends "today", after PE.
    r += st_max_journey("q7", "S07", [("2023-11-10", None, "Service ended as planned")])
    return r


@pytest.fixture(scope="module")
def sts002a():
    return run(sts002a_rows(), "SALT STS002a", "ASCOF 2A (Release 1)")


STS002A_CASES = {
    "S01": {"No services provided - other": 1},
    "S02": {"No services provided – other": 1},
    "S03": {"No services provided – other": 1},
    "S04": {
        "Early cessation of service (not leading to long term support) - 100% NHS funded care/End of Life/"
        "deceased": 1
    },
    "S05": {"No_Chronology_Unable_To_Classify": 1, "No services provided – other": 1},
    "S06": {},
    "S07": {},
}


@pytest.mark.parametrize(("la", "expected"), STS002A_CASES.items(), ids=list(STS002A_CASES))
def test_sts002a_edge_sequels(sts002a, la, expected):
    assert cells(sts002a, "SALT STS002a", "Sequel", la_code=la) == expected


def test_ascof_2a_release_1_ignores_the_hyphen_variant(sts002a):
    ascof = sts002a[sts002a.measure == "ASCOF 2A (Release 1)"].set_index("la_code")
    assert "S01" not in ascof.index  # its only row is the hyphen variant: denominator 0, no row
    assert (ascof.loc["S02", "numerator"], ascof.loc["S02", "denominator"], ascof.loc["S02", "value"]) == (
        1,
        1,
        100.0,
    )
    national = ascof.loc[ascof.index.isna()].iloc[0]
    assert (national.numerator, national.denominator) == (3, 3)  # S02, S03, S05 cluster 2


# ------------------------------------------------------------------------------------------------------------
# STS002b
# ------------------------------------------------------------------------------------------------------------


def test_sts002b_edges():
    rows = [
        # B01: NULL ST-Max outcome: the inner join to #ONGOING on the outcome fails.
        service("b1", LT_COMMUNITY, "2023-01-01", la="B01"),
        service("b1", ST_MAX, "2023-05-01", "2023-05-20", la="B01"),
        # B02: the long-term service ended before the ST-Max started.
        service("b2", LT_COMMUNITY, "2023-01-01", "2023-04-30", la="B02"),
        service("b2", ST_MAX, "2023-05-01", "2023-05-20", la="B02", Event_Outcome="Service ended as planned"),
        # B03: an open long-term service starting the same day as the ST-Max: existing client.
        service("b3", LT_COMMUNITY, "2023-05-01", la="B03"),
        service("b3", ST_MAX, "2023-05-01", "2023-05-20", la="B03", Event_Outcome="service ended AS planned"),
    ]
    result = run(rows, "SALT STS002b")
    assert {la: cells(result, "SALT STS002b", "Total", la_code=la) for la in ("B01", "B02", "B03")} == {
        "B01": {},
        "B02": {},
        "B03": {"Total": 1},
    }


# ------------------------------------------------------------------------------------------------------------
# LTS001a / LTS001b / LTS001c
# ------------------------------------------------------------------------------------------------------------

PSR_BREAKDOWN = "Age band | Primary support reason | Service type | Delivery mechanism"
MH = "Mental Health Support"


def lts001_rows():
    return [
        # L01: other capitalisations match and are published in the list's spelling.
        service(
            "l1",
            "long term support: community",
            "2023-05-01",
            la="L01",
            Delivery_Mechanism="direct payment",
            Primary_Support_Reason="mental health support",
        ),
        # L02: a PSR not in the list -> Invalid/NULL.
        service("l2", LT_COMMUNITY, "2023-05-01", la="L02", Primary_Support_Reason="Some local reason"),
        # L03: a known PSR on an earlier row beats 'Unknown' on a later row.
        service("l3", LT_COMMUNITY, "2023-02-01", la="L03", Primary_Support_Reason=MH),
        service("l3", LT_COMMUNITY, "2023-06-01", la="L03", Primary_Support_Reason="Unknown"),
        # L04: the delivery mechanism is matched after trimming spaces.
        service(
            "l4",
            LT_COMMUNITY,
            "2023-05-01",
            la="L04",
            Delivery_Mechanism="  Direct Payment ",
            Primary_Support_Reason=MH,
        ),
        # L05: nursing care never keeps a delivery mechanism; L06: prison has no direct payment row.
        service(
            "l5",
            "Long Term Support: Nursing Care",
            "2023-05-01",
            la="L05",
            Delivery_Mechanism="Direct Payment",
            Primary_Support_Reason=MH,
        ),
        service(
            "l6",
            "Long Term Support: Prison",
            "2023-05-01",
            la="L06",
            Delivery_Mechanism="Direct Payment",
            Primary_Support_Reason=MH,
        ),
        # L07: unknown birth month: excluded.
        service("l7", LT_COMMUNITY, "2023-05-01", la="L07", Primary_Support_Reason=MH, Der_Birth_Month=None),
        # L08: NULL and 'Unknown' PSR on the same date (both unknown): two categories -> conflict -> Unknown.
        service("l8", LT_COMMUNITY, "2023-05-01", la="L08", Primary_Support_Reason=None),
        service("l8", LT_COMMUNITY, "2023-05-01", la="L08", Primary_Support_Reason="Unknown"),
        # L09: in long-term support since 2022 with an unlisted PSR: LTS001c keeps the raw PSR.
        service("l9", LT_COMMUNITY, "2022-01-01", la="L09", Primary_Support_Reason="Some local reason"),
    ]


@pytest.fixture(scope="module")
def lts001():
    return run(lts001_rows(), "SALT LTS001a", "SALT LTS001c")


LTS001A_CASES = {
    "L01": {"18-64 | Mental Health Support | Long Term Support: Community | Direct Payment": 1},
    "L02": {"18-64 | Invalid/NULL | Long Term Support: Community | ": 1},
    "L03": {"18-64 | Mental Health Support | Long Term Support: Community | ": 1},
    "L04": {"18-64 | Mental Health Support | Long Term Support: Community | Direct Payment": 1},
    "L05": {"18-64 | Mental Health Support | Long Term Support: Nursing Care | ": 1},
    "L06": {"18-64 | Mental Health Support | Long Term Support: Prison | ": 1},
    "L07": {},
    "L08": {"18-64 | Unknown | Long Term Support: Community | ": 1},
}


@pytest.mark.parametrize(("la", "expected"), LTS001A_CASES.items(), ids=list(LTS001A_CASES))
def test_lts001a_edges(lts001, la, expected):
    assert cells(lts001, "SALT LTS001a", PSR_BREAKDOWN, la_code=la) == expected


def test_lts001c_keeps_the_raw_psr(lts001):
    assert cells(lts001, "SALT LTS001c", PSR_BREAKDOWN, la_code="L09") == {
        "18-64 | Some local reason | Long Term Support: Community | ": 1
    }
    assert cells(lts001, "SALT LTS001a", PSR_BREAKDOWN, la_code="L09") == {
        "18-64 | Invalid/NULL | Long Term Support: Community | ": 1
    }


@pytest.mark.parametrize(("month", "expected"), [(12, {}), (11, {"18-64": 1})])
def test_lts001a_age_is_365_25_days_not_calendar(month, expected):
    # PE 2023-12-01. Born December 2005 (proxy DOB 2005-12-01): 6574 days / 365.25 = 17.998 -> 17, although
    # the calendar age is 18. Born November 2005: 6604 / 365.25 = 18.08 -> 18.
    period = SaltPeriod.for_period(PS, date(2023, 12, 1), today=TODAY)
    rows = [
        service(
            "a",
            LT_COMMUNITY,
            "2023-05-01",
            age=None,
            Der_Birth_Year=2005,
            Der_Birth_Month=month,
            Primary_Support_Reason=MH,
        )
    ]
    assert cells(run(rows, "SALT LTS001a", period=period), "SALT LTS001a", "Age band") == expected


def test_lts001b_conflicts_and_other_genders():
    rows = [
        # Two community rows on the same date with conflicting carer and ethnicity answers.
        service(
            "m",
            LT_COMMUNITY,
            "2023-05-01",
            la="L10",
            Gender="Male",
            Has_Unpaid_Carer="Yes",
            Ethnicity="White - Irish",
            Primary_Support_Reason=MH,
        ),
        service(
            "m",
            LT_COMMUNITY,
            "2023-05-01",
            la="L10",
            Gender="Male",
            Has_Unpaid_Carer="no",
            Ethnicity="Asian or Asian British - Indian",
            Primary_Support_Reason=MH,
        ),
        service(
            "o",
            LT_COMMUNITY,
            "2023-05-01",
            la="L10",
            Gender="Other",
            Has_Unpaid_Carer="Maybe",
            Primary_Support_Reason=MH,
        ),
    ]
    result = run(rows, "SALT LTS001b")
    assert cells(result, "SALT LTS001b", "Has unpaid carer | Service type | Delivery mechanism", "L10") == {
        "Unknown | Long Term Support: Community | ": 1,  # m: Yes and No
        "Invalid/NULL | Long Term Support: Community | ": 1,  # o: not Yes/No/Invalid
    }
    assert cells(result, "SALT LTS001b", "Gender | Ethnicity | Service type | Delivery mechanism", "L10") == {
        "Male | No data - Undeclared or Not known | Long Term Support: Community | ": 1
    }
    assert cells(result, "SALT LTS001b", "Gender", "L10") == {"Male": 1, "Other or Unknown": 1}


# ------------------------------------------------------------------------------------------------------------
# LTS003
# ------------------------------------------------------------------------------------------------------------

DIRECT = "Carer Support: Direct to Carer"
INFO = "NFA - Information & Advice / Signposting only"


def test_lts003_edges():
    carer = {"Client_Type": "Carer"}
    rows = [
        service(
            "c1", DIRECT, "2023-05-01", la="C01", Delivery_Mechanism="Self-Funder Metering Only", **carer
        ),
        service(
            "c2", DIRECT, "2023-05-01", la="C02", Delivery_Mechanism="cassr commissioned SUPPORT", **carer
        ),
        # C03: a service event with no service type: allowed into the cohort but in no category.
        row("c3", "Service", "2023-05-01", "2023-05-02", la="C03", Event_Outcome=INFO, **carer),
        row("c4", "Request", "2023-05-01", "2023-05-02", la="C04", Event_Outcome=INFO, **carer),
        service("c5", DIRECT, "2023-05-01", la="C05", Delivery_Mechanism="Direct Payment", **carer),
        row("c5", "Request", "2023-05-01", "2023-05-02", la="C05", Event_Outcome=INFO, **carer),
        row(
            "c6",
            "Request",
            "2023-05-01",
            "2023-05-02",
            la="C06",
            age=None,
            Event_Outcome=INFO,
            Client_Type="Carer known by association",
        ),
        row("c7", "Request", "2023-05-01", "2023-05-02", la="C07", age=17, Event_Outcome=INFO, **carer),
        row("c8", "Request", "2023-05-01", "2023-05-02", la="C08", Event_Outcome=INFO, **carer),
        row("c8", "Request", "2023-05-01", "2023-05-02", la="C09", Event_Outcome=INFO, **carer),
    ]
    result = run(rows, "SALT LTS003")
    support = {
        la: cells(result, "SALT LTS003", "Support provided", la) for la in ("C01", "C02", "C03", "C04", "C05")
    }
    assert support == {
        "C01": {"Support Direct to Carer: Unknown Delivery Mech": 1},
        "C02": {"CASSR Commissioned Support only": 1},
        "C03": {},
        "C04": {"Information, Advice and Other Universal Services / Signposting": 1},
        "C05": {"Direct Payment only": 1},
    }
    assert cells(result, "SALT LTS003", "Age band | Support provided", "C06") == {
        "Unknown | Information, Advice and Other Universal Services / Signposting": 1
    }
    assert cells(result, "SALT LTS003", "Age band | Support provided", "C07") == {
        "Carer aged under 18 | Information, Advice and Other Universal Services / Signposting": 1
    }
    # The same carer in two councils: counted by each council, once nationally.
    assert (
        cells(result, "SALT LTS003", "Total", "C08")
        == cells(result, "SALT LTS003", "Total", "C09")
        == {"Total": 1}
    )
    assert cells(result, "SALT LTS003", "Total", la_code=None) == {"Total": 7}  # c1, c2, c4, c5, c6, c7, c8


# ------------------------------------------------------------------------------------------------------------
# LTS004
# ------------------------------------------------------------------------------------------------------------


def test_lts004_edges():
    ld = {"Primary_Support_Reason": "Learning Disability Support", "Gender": "Male"}
    rows = [
        # D01/D02: the same person in two councils; the latest start date is taken per person across councils,
        # so only the D02 row is used.
        service(
            "z", LT_COMMUNITY, "2023-05-01", la="D01", Employment_Status="Paid: 16 or more hours a week", **ld
        ),
        service("z", LT_COMMUNITY, "2023-08-01", la="D02", Employment_Status="Unknown", **ld),
        # D03: aged 65; D04: aged 17: outside 18-64.
        service("d3", LT_COMMUNITY, "2023-05-01", la="D03", age=65, Employment_Status="Unknown", **ld),
        service("d4", LT_COMMUNITY, "2023-05-01", la="D04", age=17, Employment_Status="Unknown", **ld),
        # D05: spaces around a valid accommodation status; PSR in lower case.
        service(
            "d5",
            LT_COMMUNITY,
            "2023-05-01",
            la="D05",
            Accommodation_Status=" Tenant ",
            Employment_Status="Unknown",
            Gender="Female",
            Primary_Support_Reason="learning disability support",
        ),
    ]
    result = run(rows, "SALT LTS004")
    employment = {
        la: cells(result, "SALT LTS004", "Gender | Employment status", la)
        for la in ("D01", "D02", "D03", "D04", "D05")
    }
    assert employment == {
        "D01": {},
        "D02": {"Male | Unknown": 1},
        "D03": {},
        "D04": {},
        "D05": {"Female | Unknown": 1},
    }
    assert cells(result, "SALT LTS004", "Gender | Settled accommodation status", "D05") == {
        "Female | Tenant": 1
    }


def test_lts004_conflict_with_null_gender_keeps_both_statuses():
    # salt.md §10 step 2.3 is the code's join of the staging table to its duplicates on (LA, ID, Gender, date,
    # known flag); with main-tables.md §0 a NULL gender never matches in that join, so a person with no gender
    # and two statuses on the latest date keeps both (one count under each) instead of `Unknown`. A person with
    # a gender gets `Unknown` as usual.
    ld = {"Primary_Support_Reason": "Learning Disability Support", "Accommodation_Status": "Tenant"}
    rows = [
        service("g0", LT_COMMUNITY, "2023-05-01", la="D06", Employment_Status="Paid: Less than 16 hours a week", **ld),
        service("g0", LT_COMMUNITY, "2023-05-01", la="D06", Employment_Status="Paid: 16 or more hours a week", **ld),
        service(
            "g1",
            LT_COMMUNITY,
            "2023-05-01",
            la="D07",
            Gender="Male",
            Employment_Status="Paid: Less than 16 hours a week",
            **ld,
        ),
        service(
            "g1",
            LT_COMMUNITY,
            "2023-05-01",
            la="D07",
            Gender="Male",
            Employment_Status="Paid: 16 or more hours a week",
            **ld,
        ),
    ]
    result = run(rows, "SALT LTS004")
    assert cells(result, "SALT LTS004", "Gender | Employment status", "D06") == {
        "(null) | Paid: Less than 16 hours a week": 1,
        "(null) | Paid: 16 or more hours a week": 1,
    }
    assert cells(result, "SALT LTS004", "Gender | Employment status", "D07") == {"Male | Unknown": 1}
    assert cells(result, "SALT LTS004", "Gender | Settled accommodation status", "D06") == {"(null) | Tenant": 1}


# ------------------------------------------------------------------------------------------------------------
# LIKE without a wildcard keeps trailing spaces significant, also for known values (main-tables.md §0)
# ------------------------------------------------------------------------------------------------------------


def test_lts003_not_like_sees_a_trailing_space_on_a_known_outcome():
    # salt.md §9 step 2: an assessment with outcome `NFA - Information & Advice / Signposting only ` (trailing
    # space) is in the cohort (`=` ignores the space, and its service type is NULL), but `NOT LIKE` keeps the
    # space significant, so the rule "outcome NOT LIKE '...Signposting only'" matches first: No Direct Support.
    # Without the space the same row is Information, Advice and Other Universal Services / Signposting.
    carer = {"Client_Type": "Carer"}
    rows = [
        row("t1", "Assessment", "2023-05-01", "2023-05-02", la="T01", Event_Outcome=f"{INFO} ", **carer),
        row("t2", "Assessment", "2023-05-01", "2023-05-02", la="T02", Event_Outcome=INFO, **carer),
    ]
    result = run(rows, "SALT LTS003")
    assert {la: cells(result, "SALT LTS003", "Support provided", la) for la in ("T01", "T02")} == {
        "T01": {"No Direct Support Provided to Carer": 1},
        "T02": {"Information, Advice and Other Universal Services / Signposting": 1},
    }


def test_sts001_break_is_a_like_test_on_the_event_type():
    # salt.md §1.7 step 4: Break = 0 for a `Request` sequel, tested with `LIKE 'Request'`. A later request typed
    # `Request ` (trailing space) is still a request for `=` (it forms its own cluster, 7 days later), but not
    # for LIKE: it does not break the first request's chain, which reaches the community service (1 day after
    # the second request ends) -> both clusters have the service as sequel. With `Request` the first cluster is
    # out of scope (case E16).
    rows = [
        request("u1", "2023-06-01", "2023-06-05", "Progress to Assessment", la="U01"),
        row(
            "u1",
            "Request ",
            "2023-06-12",
            "2023-06-14",
            la="U01",
            Event_Outcome="NFA - Deceased",
            Request_Route_of_Access="Community / Other route",
        ),
        service("u1", LT_COMMUNITY, "2023-06-15", la="U01"),
    ]
    result = run(rows, "SALT STS001")
    assert cells(result, "SALT STS001", "Sequel", la_code="U01") == {"Long Term Support: Community": 2}


def test_council_code_spellings_are_one_council():
    # main-tables.md §0: the scripts partition, join and group on LA_CODE under SQL Server's collation, so a
    # council code in another case or with trailing spaces is the same council.
    # 318: one person in the latest file with a nursing row under `318` and a community row under `318 `;
    # salt.md §5 step 3.1 keeps the lowest setting per (LA, ID): counted once, under nursing.
    nursing = "Long Term Support: Nursing Care"
    rows = [
        service("q1", nursing, "2023-05-01", None),
        service("q1", LT_COMMUNITY, "2023-06-01", None, la="318 ", LA_Name="Council 318",
                Delivery_Mechanism="Direct Payment"),
    ]
    # E07: a request under `e07` starts inside a long-term service submitted under `E07`: not a new client
    # (salt.md §2 step 4), so STS001 has no row for E07 at all.
    rows += [
        service("q2", LT_RESIDENTIAL, "2023-01-01", None, la="E07"),
        request("q2", "2023-06-01", "2023-06-05", "NFA - Support declined", la="e07", LA_Name="Council E07"),
    ]
    result = run(rows, "SALT LTS001a", "SALT STS001")
    assert sorted(set(result.la_code.dropna())) == ["318", "E07"]
    assert cells(result, "SALT LTS001a", "Age band") == {"18-64": 1}
    detail = "Age band | Primary support reason | Service type | Delivery mechanism"
    assert cells(result, "SALT LTS001a", detail) == {f"18-64 | Invalid/NULL | {nursing} | ": 1}
    assert cells(result, "SALT STS001", "Total", la_code=None) == {}
