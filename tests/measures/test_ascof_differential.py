"""Differential test: ascld's ASCOF run against an independent plain-Python reference (ascof_reference.py).

Seeded random main tables, deliberately messy (several councils, people with many events, overlapping
services, dates on and around the period boundaries, a leap day, deaths, NULLs, code values in mixed case and
with trailing spaces, birth months that put ages on the 18 and 65 boundaries), are run through both; every
published figure (numerator, denominator, rounded value) must agree exactly, and so must the measure
characteristics of the person details table (§0.4). The expected figures come from the reference only.
"""

from __future__ import annotations

import datetime as dt
import random
from decimal import Decimal

import pyarrow as pa
import pytest
from ascof_fixtures import main_table
from ascof_reference import person_details, reference_ascof

from ascld.engine import connect
from ascld.measures.ascof import run_ascof

START, END = dt.date(2024, 4, 1), dt.date(2025, 3, 31)
COUNCILS = {"101": "Northshire", "202": "Southby", "303": "Eastwick"}
EMPTY_COUNCIL = ("404", "Westmere")  # in the lookup, no rows: every figure is 0
LA_LOOKUP = pa.table(
    {
        "LA_Code": [*COUNCILS, EMPTY_COUNCIL[0]],
        "LA_Name": [*COUNCILS.values(), EMPTY_COUNCIL[1]],
        "LA_Area_Code": ["E06000101", "E06000202", "E06000303", "E06000404"],
        "Region": ["North East"] * 4,
    }
)
# 303 has no population row: 2B/2C are not output for it (§2 step 5)
POPULATION = {
    "101": {"18 to 64": 120000, "65 and above": 40000},
    "202": {"18 to 64": 80001, "65 and above": 16000},
    "404": {"18 to 64": 50000, "65 and above": 12000},
}
POPULATION_TABLE = pa.table(
    {
        "Code": [f"E06000{la}" for la in POPULATION for _ in range(2)],
        "Name": [la for la in POPULATION for _ in range(2)],
        "Geography": ["Local Authority"] * 2 * len(POPULATION),
        "Gender": ["All"] * 2 * len(POPULATION),
        "Age_Band": [b for _ in POPULATION for b in ("18 to 64", "65 and above")],
        "Population": [POPULATION[la][b] for la in POPULATION for b in ("18 to 64", "65 and above")],
    }
)

OUTCOMES = [
    "Progress to reablement/ST-Max",
    "Progress to assessment, review or reassessment",
    "Release 1 specification only: Not mapped",
    "Progress to support planning or services",
    "Continuation of support or services",
    "Admitted to hospital",
    "NFA: Responsibility moved to another local authority",
    "NFA: Referral to NHS services or NHS funded social care",
    "NFA: Self-funded client or under 12wk disregard",
    "NFA: Information and advice or signposting",
    "NFA: Referral to other service within the local authority",
    "NFA: Support declined",
    "NFA: Deceased",
    "NFA: Support ended as planned",
    "NFA: Support ended for other reason",
    "NFA: No services offered for other reason",
    "NFA: Other",
    "Invalid and not mapped",
    None,
]
SERVICE_TYPES = [
    "Long term support: Nursing care",
    "Long term support: Residential care",
    "Long term support: Community",
    "Long term support: Prison",
    "Short term support: ST-Max",
    "Short term support: Ongoing low level",
    "Short term support: Other short term",
    "Unpaid carer support: Direct to unpaid carer",
    "Unpaid carer support: Support involving the person cared-for",
    "Invalid and not mapped",
]
COMPONENTS = [
    "Reablement",
    "Equipment",
    "Short term residential care",
    "Short term nursing care",
    "Long term residential care",
    "Long term nursing care",
    "Home support or domiciliary care",
    "Shared Lives",
    "Community supported living",
    "Extra care housing",
    "Direct payment",
    "Day support",
    "Other long term support",
    "Invalid and not mapped",
    None,
]
MECHANISMS = [
    "Direct payment",
    "CASSR managed personal budget",
    "CASSR commissioned support",
    "Invalid and not mapped",
    None,
]
NON_CONCLUDING = [
    "Progress to reablement/ST-Max",
    "Progress to assessment, review or reassessment",
    "Progress to support planning or services",
    "Continuation of support or services",
]
CLIENT_TYPES = ["Service user"] * 6 + ["Unpaid carer", "Carer", "Carer known by association", None]
ACCOMMODATION = [
    "Owner occupier or shared ownership scheme",
    "Tenant: Private landlord",
    "Registered care home",
    "Registered nursing home",
    "Shared Lives scheme",
    "Rough sleeper or squatting",
    "Unknown",
    "Invalid and not mapped",
    None,
    None,
]
GENDERS = ["Male", "Female", "Unknown", "Other (not listed)", "Invalid and not mapped", None]
PSR = [
    "Learning Disability Support",
    "Physical Support: Personal care support",
    "Mental Health Support",
    "Social support: Support to unpaid carer",
    "Unknown",
    "Invalid and not mapped",
    None,
]
ETHNICITY = [
    "White: Irish",
    "Asian or Asian British: Indian",
    "No data: Refused",
    "No data: Undeclared or not known",
    "Invalid and not mapped",
    None,
]
EMPLOYMENT = ["Paid: 16 or more hours a week", "Unpaid: Retired", "Unknown", "Invalid and not mapped", None]
FUNDING = [
    "Fully social care funded",
    "Fully client funded",
    "Joint client and social care funded",
    "Unknown",
    "Invalid and not mapped",
    None,
]
REF_PERIOD_ENDS = [
    dt.date(2024, 3, 31),
    dt.date(2024, 6, 30),
    dt.date(2024, 12, 31),
    dt.date(2025, 3, 31),
    dt.date(2025, 6, 30),
]
# dates on and around the boundaries (period start/end, the leap day, 91/365 days before the start)
ANCHORS = [
    START,
    END,
    START - dt.timedelta(days=1),
    END + dt.timedelta(days=1),
    dt.date(2024, 2, 29),
    dt.date(2024, 3, 1),
    START - dt.timedelta(days=90),
    START - dt.timedelta(days=91),
    START - dt.timedelta(days=365),
    START - dt.timedelta(days=364),
    END - dt.timedelta(days=7),
    END + dt.timedelta(days=7),
    END + dt.timedelta(days=8),
]


def messy(rng: random.Random, value):
    """The same code value in another case and/or with trailing spaces (main-tables.md §0)."""
    if value is None or rng.random() < 0.6:
        return value
    choice = rng.randrange(4)
    if choice == 0:
        return value.upper()
    if choice == 1:
        return value.lower() + " "
    if choice == 2:
        return value + "  "
    return value.swapcase()


def random_date(rng: random.Random) -> dt.date:
    if rng.random() < 0.25:
        return rng.choice(ANCHORS)
    return dt.date(2023, 4, 1) + dt.timedelta(days=rng.randrange(820))


def birth(rng: random.Random, anchor: dt.date):
    """A birth year/month putting the age at `anchor` near 18 or 65 (or anywhere), sometimes NULL."""
    r = rng.random()
    if r < 0.07:
        return None, None
    if r < 0.1:
        return rng.choice([(1950, None), (None, 5)])
    if r < 0.55:
        years = rng.choice([18, 65, 64, 17])
        base = anchor.year - years
        month = anchor.month + rng.choice([-1, 0, 0, 1])
        year = base + (month - 1) // 12
        return year, (month - 1) % 12 + 1
    return rng.randrange(1925, 2010), rng.randrange(1, 13)


def make_person(rng: random.Random, la: str, pid: str, first_id: int) -> list[dict]:
    rows = []
    by, bm = birth(rng, rng.choice([START, END, random_date(rng)]))
    dod = None
    if rng.random() < 0.15:
        dod = random_date(rng)
    base = {
        "LA_Code": la,
        "LA_Name": COUNCILS[la],
        "Der_NHS_LA_Combined_Person_ID": pid,
        "LA_Person_Unique_Identifier": pid.lower(),
        "Der_Birth_Year": by,
        "Der_Birth_Month": bm,
    }
    stable = {
        "Gender_Cleaned": rng.choice(GENDERS),
        "Accommodation_Status_Cleaned": rng.choice(ACCOMMODATION),
        "Primary_Support_Reason_Cleaned": rng.choice(PSR),
        "Client_Type_Cleaned": rng.choice(CLIENT_TYPES),
    }
    n_events = rng.choice([1, 1, 2, 3, 4, 6, 9])
    cursor = random_date(rng)
    for _ in range(n_events):
        row = dict(base)
        kind = rng.choice(["Service"] * 5 + ["Request", "Assessment", "Review"])
        # the next event: overlapping, adjacent (0-10 days later) or anywhere
        start = cursor + dt.timedelta(days=rng.randrange(-5, 11)) if rng.random() < 0.6 else random_date(rng)
        length = rng.choice([0, 1, 5, 13, 14, 20, 40, 90, 200, 400])
        end = start + dt.timedelta(days=length)
        r = rng.random()
        if r < 0.18:
            end = None
        elif r < 0.21:
            end = start - dt.timedelta(days=3)  # end before start
        elif r < 0.3:
            end = rng.choice(ANCHORS)
        cursor = end if end is not None else start
        row["Event_Type"] = messy(rng, kind) if rng.random() > 0.03 else None
        row["Event_Start_Date"] = start if rng.random() > 0.02 else None
        row["Der_Event_End_Date"] = end
        row["Event_Outcome_Cleaned"] = messy(rng, rng.choice(OUTCOMES))
        if kind != "Service" and rng.random() < 0.15:  # a service type on another event (messy data)
            row["Service_Type_Cleaned"] = messy(rng, rng.choice(SERVICE_TYPES))
        if kind == "Service":
            stype = rng.choice(SERVICE_TYPES + ["Short term support: ST-Max"] * 4)
            row["Service_Type_Cleaned"] = messy(rng, stype)
            comp = rng.choice(COMPONENTS)
            if "ST-Max" in stype and rng.random() < 0.7:
                comp = "Reablement"
            row["Service_Component_Cleaned"] = messy(rng, comp)
            row["Delivery_Mechanism_Cleaned"] = messy(rng, rng.choice(MECHANISMS))
        row["Client_Type_Cleaned"] = messy(
            rng, stable["Client_Type_Cleaned"] if rng.random() < 0.85 else rng.choice(CLIENT_TYPES)
        )
        for col in ("Gender_Cleaned", "Accommodation_Status_Cleaned", "Primary_Support_Reason_Cleaned"):
            row[col] = messy(
                rng,
                stable[col]
                if rng.random() < 0.7
                else rng.choice(
                    {
                        "Gender_Cleaned": GENDERS,
                        "Accommodation_Status_Cleaned": ACCOMMODATION,
                        "Primary_Support_Reason_Cleaned": PSR,
                    }[col]
                ),
            )
        row["Ethnicity_Cleaned"] = messy(rng, rng.choice(ETHNICITY))
        row["Employment_Status_Cleaned"] = messy(rng, rng.choice(EMPLOYMENT))
        row["Client_Funding_Status_Cleaned"] = messy(rng, rng.choice(FUNDING))
        row["Ref_Period_End_Date"] = rng.choice(REF_PERIOD_ENDS)
        row["Date_of_Death"] = dod if rng.random() < 0.8 else None
        if rng.random() < 0.05:  # a different birth month on one row
            row["Der_Birth_Month"] = rng.randrange(1, 13)
        row["Der_Unique_Record_ID"] = first_id + len(rows)
        rows.append(row)
    return rows


def _event(rng, base, kind, start, end, **fields) -> dict:
    row = dict(base)
    row.update(
        Event_Type=messy(rng, kind),
        Event_Start_Date=start,
        Der_Event_End_Date=end,
        Ref_Period_End_Date=rng.choice(REF_PERIOD_ENDS),
        Client_Type_Cleaned=messy(rng, "Service user"),
    )
    row.update({k: messy(rng, v) if isinstance(v, str) else v for k, v in fields.items()})
    return row


def _base(rng, la, pid, anchor):
    by, bm = birth(rng, anchor)
    return {
        "LA_Code": la,
        "LA_Name": COUNCILS[la],
        "Der_NHS_LA_Combined_Person_ID": pid,
        "LA_Person_Unique_Identifier": pid.lower(),
        "Der_Birth_Year": by,
        "Der_Birth_Month": bm,
        "Gender_Cleaned": rng.choice(GENDERS),
        "Accommodation_Status_Cleaned": rng.choice(ACCOMMODATION),
        "Primary_Support_Reason_Cleaned": rng.choice(PSR),
        "Date_of_Death": None,
    }


def make_reablement_person(rng: random.Random, la: str, pid: str) -> list[dict]:
    """ST-Max chains (gaps around 7 days), with sequels, nested assessments/reviews, equipment, prior services."""
    start = rng.choice([START - dt.timedelta(days=20), END - dt.timedelta(days=10), random_date(rng)])
    base = _base(rng, la, pid, start)
    rows = []
    cursor = start
    for _ in range(rng.choice([1, 1, 2, 3])):
        length = rng.choice([0, 6, 13, 14, 30, 42])
        end = cursor + dt.timedelta(days=length) if rng.random() > 0.08 else None
        rows.append(
            _event(
                rng,
                base,
                "Service",
                cursor,
                end,
                Service_Type_Cleaned=ST_MAX_TYPE,
                Service_Component_Cleaned=rng.choice(["Reablement"] * 4 + ["Equipment"]),
                Event_Outcome_Cleaned=rng.choice(OUTCOMES + NON_CONCLUDING * 3),
            )
        )
        if end is None:
            break
        cursor = end + dt.timedelta(days=rng.choice([-3, 0, 6, 7, 8, 15]))
    c_start, c_end = start, max((r["Der_Event_End_Date"] or dt.date(9999, 1, 1)) for r in rows)
    if c_end.year == 9999:
        c_end = start + dt.timedelta(days=30)
    for _ in range(rng.choice([0, 1, 2, 3])):
        what = rng.choice([0, 0, 1, 2, 3, 4])
        if what == 0:  # nested assessment/review ending near the cluster end (13/14 days)
            e = c_end - dt.timedelta(days=rng.choice([0, 1, 13, 14, 20]))
            rows.append(
                _event(
                    rng,
                    base,
                    rng.choice(["Assessment", "Review"]),
                    max(c_start, e - dt.timedelta(days=5)),
                    e,
                    Event_Outcome_Cleaned=rng.choice(OUTCOMES),
                )
            )
        elif what == 1:  # nested equipment service
            rows.append(
                _event(
                    rng,
                    base,
                    "Service",
                    c_start + dt.timedelta(days=1),
                    c_end,
                    Service_Type_Cleaned=rng.choice(SERVICE_TYPES),
                    Service_Component_Cleaned="Equipment",
                    Event_Outcome_Cleaned=rng.choice(OUTCOMES),
                )
            )
        elif what == 2:  # a window event: starts in the cluster or up to 8 days after, continues after it
            s = c_end + dt.timedelta(days=rng.choice([-2, 0, 7, 8]))
            kind = rng.choice(["Service", "Service", "Review", "Assessment", "Request"])
            fields = {"Event_Outcome_Cleaned": rng.choice(OUTCOMES)}
            if kind == "Service":
                fields.update(
                    Service_Type_Cleaned=rng.choice(SERVICE_TYPES[:4] + SERVICE_TYPES[5:]),
                    Service_Component_Cleaned=rng.choice(COMPONENTS),
                )
            rows.append(_event(rng, base, kind, max(c_start, s), s + dt.timedelta(days=rng.choice([1, 30])), **fields))
        elif what == 3:  # a prior long-term service ending 90/91 days before, or open
            gap = rng.choice([89, 90, 91, 92])
            end = None if rng.random() < 0.2 else c_start - dt.timedelta(days=gap)
            rows.append(
                _event(
                    rng,
                    base,
                    "Service",
                    c_start - dt.timedelta(days=200),
                    end,
                    Service_Type_Cleaned=rng.choice(SERVICE_TYPES[:4]),
                    Service_Component_Cleaned=rng.choice(COMPONENTS),
                )
            )
        else:  # death around the cluster
            dod = c_end + dt.timedelta(days=rng.choice([-40, 0, 7, 8, 30]))
            for r in rows:
                r["Date_of_Death"] = dod
            base["Date_of_Death"] = dod
    return rows


def make_residential_person(rng: random.Random, la: str, pid: str) -> list[dict]:
    """Residential/nursing admissions with components, self-funded outcomes, earlier stays ~365 days before."""
    start = rng.choice(
        [
            START,
            END,
            START + dt.timedelta(days=1),
            START + dt.timedelta(days=100),
            random_date(rng),
            dt.date(2024, 2, 29),
        ]
    )
    base = _base(rng, la, pid, start)
    if rng.random() < 0.15:
        base["Date_of_Death"] = rng.choice([START - dt.timedelta(days=1), START, END])
    rows = []
    for i in range(rng.choice([1, 1, 2, 3])):
        s = start if i == 0 else start - dt.timedelta(days=rng.choice([30, 400, 700]))
        gap = rng.choice([364, 365, 365, 366, 10, -5])
        e = None if (i == 0 or rng.random() < 0.2) else start - dt.timedelta(days=gap)
        if i == 0 and rng.random() < 0.3:
            e = s + dt.timedelta(days=rng.choice([10, 100]))
        rows.append(
            _event(
                rng,
                base,
                "Service",
                s,
                e,
                Service_Type_Cleaned=rng.choice([RESIDENTIAL_TYPE, NURSING_TYPE, RESIDENTIAL_TYPE, COMMUNITY_TYPE]),
                Service_Component_Cleaned=rng.choice(
                    [
                        "Long term residential care",
                        "Long term residential care",
                        "Long term residential care",
                        "Long term nursing care",
                        "Long term nursing care",
                        "Short term residential care",
                        None,
                        "Other long term support",
                    ]
                ),
                Event_Outcome_Cleaned=rng.choice(
                    [
                        None,
                        None,
                        "NFA: Self-funded client or under 12wk disregard",
                        "Continuation of support or services",
                    ]
                ),
            )
        )
    return rows


def make_community_person(rng: random.Random, la: str, pid: str) -> list[dict]:
    """Long-term clients around the snapshot (period end) with delivery mechanisms and components."""
    base = _base(rng, la, pid, END)
    if rng.random() < 0.1:
        base["Date_of_Death"] = rng.choice([END - dt.timedelta(days=1), END])
    rows = []
    for _ in range(rng.choice([1, 1, 2, 3])):
        s = rng.choice([START, END, END + dt.timedelta(days=1), random_date(rng)])
        e = rng.choice([None, None, END, END - dt.timedelta(days=1), END + dt.timedelta(days=30)])
        rows.append(
            _event(
                rng,
                base,
                "Service",
                s,
                e,
                Service_Type_Cleaned=rng.choice(SERVICE_TYPES[:4] + [COMMUNITY_TYPE] * 3),
                Service_Component_Cleaned=rng.choice(
                    ["Direct payment", "Home support or domiciliary care", None, "Shared Lives", "Day support"]
                ),
                Delivery_Mechanism_Cleaned=rng.choice(MECHANISMS),
            )
        )
    return rows


def make_carer(rng: random.Random, la: str, pid: str) -> list[dict]:
    """Carers in the year: direct-to-carer services (mechanism/component combinations), assessments, requests."""
    base = _base(rng, la, pid, END)
    rows = []
    for _ in range(rng.choice([1, 2, 3])):
        s = rng.choice([START, END, START - dt.timedelta(days=30), random_date(rng)])
        e = rng.choice([None, s, START - dt.timedelta(days=1), START, s + dt.timedelta(days=20)])
        kind = rng.choice(["Service", "Service", "Assessment", "Review", "Request"])
        fields = {
            "Event_Outcome_Cleaned": rng.choice(
                ["NFA: Information and advice or signposting", None, "Progress to support planning or services"]
            )
        }
        if kind == "Service":
            fields.update(
                Service_Type_Cleaned=rng.choice(SERVICE_TYPES[7:9] + SERVICE_TYPES[7:8]),
                Service_Component_Cleaned=rng.choice(["Direct payment", "Other unpaid carer support", None]),
                Delivery_Mechanism_Cleaned=rng.choice(MECHANISMS + ["Something else"]),
            )
        row = _event(rng, base, kind, s, e, **fields)
        row["Client_Type_Cleaned"] = messy(
            rng,
            rng.choice(["Unpaid carer", "Carer", "Carer known by association", "Unpaid carer known by association"]),
        )
        rows.append(row)
    return rows


def make_tricky_reablement(rng: random.Random, la: str, pid: str) -> list[dict]:
    """§1.2 edges: the running maximum end (a long row covering a short one), equal end dates (outcome tie broken
    by hierarchy, then record id), equal start dates, and a 65th birthday between two admissions (§2 step 4)."""
    start = rng.choice([START + dt.timedelta(days=3), END - dt.timedelta(days=25), random_date(rng)])
    base = _base(rng, la, pid, start)
    pattern = rng.randrange(4)
    rows = []

    def st(s, e, outcome):
        rows.append(
            _event(
                rng,
                base,
                "Service",
                s,
                e,
                Service_Type_Cleaned=ST_MAX_TYPE,
                Service_Component_Cleaned="Reablement",
                Event_Outcome_Cleaned=outcome,
            )
        )

    if pattern == 0:  # long row, short row inside it, third row 8 days after the short one but inside the long
        st(start, start + dt.timedelta(days=30), rng.choice(OUTCOMES))
        st(start + dt.timedelta(days=2), start + dt.timedelta(days=4), rng.choice(OUTCOMES))
        st(start + dt.timedelta(days=rng.choice([12, 37, 38])), start + dt.timedelta(days=45), rng.choice(OUTCOMES))
    elif pattern == 1:  # same end date, different outcomes; same start dates
        e = start + dt.timedelta(days=rng.choice([10, 20]))
        for _ in range(rng.choice([2, 3])):
            st(rng.choice([start, start + dt.timedelta(days=1)]), e, rng.choice(OUTCOMES))
    elif pattern == 3:  # §1.4 step 4c: non-concluding cluster outcome, reviews ending 13/14 days before its end
        e = start + dt.timedelta(days=30)
        st(start, e, rng.choice(NON_CONCLUDING + [None]))
        for back in rng.sample([12, 13, 14, 15], 2):
            rows.append(
                _event(
                    rng,
                    base,
                    rng.choice(["Assessment", "Review"]),
                    start + dt.timedelta(days=1),
                    e - dt.timedelta(days=back),
                    Event_Outcome_Cleaned=rng.choice(OUTCOMES),
                )
            )
    else:  # residential admissions either side of a 65th birthday (and an 18th)
        base["Der_Birth_Year"], base["Der_Birth_Month"] = rng.choice([(1959, 10), (2006, 10), (1960, 1)])
        for s in (dt.date(2024, 6, 1), dt.date(2025, 1, 15)):
            rows.append(
                _event(
                    rng,
                    base,
                    "Service",
                    s,
                    s + dt.timedelta(days=20),
                    Service_Type_Cleaned=rng.choice([RESIDENTIAL_TYPE, NURSING_TYPE]),
                    Service_Component_Cleaned="Long term residential care",
                )
            )
    return rows


ST_MAX_TYPE, RESIDENTIAL_TYPE, NURSING_TYPE, COMMUNITY_TYPE = (
    "Short term support: ST-Max",
    "Long term support: Residential care",
    "Long term support: Nursing care",
    "Long term support: Community",
)
MAKERS = (
    make_reablement_person,
    make_reablement_person,
    make_tricky_reablement,
    make_residential_person,
    make_residential_person,
    make_community_person,
    make_carer,
)


def make_main_rows(seed: int, people_per_council: int = 45) -> list[dict]:
    rng = random.Random(seed)
    rows: list[dict] = []
    shared = [f"N{seed}-{i}" for i in range(6)]  # NHS numbers seen in two councils
    for la in COUNCILS:
        for i in range(people_per_council):
            pid = rng.choice(shared) if rng.random() < 0.1 else f"{la}_{seed}_{i}"
            rows += make_person(rng, la, pid, first_id=len(rows) * 10 + 1)
            if rng.random() < 0.8:  # and a targeted person
                rows += rng.choice(MAKERS)(rng, la, f"{pid}_t")
    for r in list(rows):  # the same event again (another submission), once or twice, under another identifier
        if rng.random() < 0.04:
            for _ in range(rng.choice([1, 2])):
                rows.append(dict(r, LA_Person_Unique_Identifier=r["Der_NHS_LA_Combined_Person_ID"].lower() + "-c"))
    identifiers: dict[str, list[str]] = {}
    for r in rows:  # LA identifiers: sometimes another one, NULL or Unknown on a row (§0.4 identifier rules)
        x = rng.random()
        if x < 0.05:
            r["LA_Person_Unique_Identifier"] = r["Der_NHS_LA_Combined_Person_ID"].lower() + "-b"
        elif x < 0.08:
            r["LA_Person_Unique_Identifier"] = rng.choice([None, "Unknown", "Invalid and not mapped"])
        if r.get("LA_Person_Unique_Identifier"):
            identifiers.setdefault(r["LA_Code"], []).append(r["LA_Person_Unique_Identifier"])
        r["Has_Unpaid_Carer"] = messy(rng, rng.choice(["Yes", "No", "Unknown", None, "Maybe"]))
    for r in rows:  # carers name the people they care for (the unpaid-carer override)
        if "carer" in (r.get("Client_Type_Cleaned") or "").casefold() and rng.random() < 0.6:
            for k in range(1, rng.choice([2, 3, 4])):
                linked = rng.choice(identifiers[r["LA_Code"]])
                r[f"Adult_{k}_Linked_Person_ID"] = linked.upper() if rng.random() < 0.2 else linked
    for i, r in enumerate(rows):
        r["Der_Unique_Record_ID"] = 1000 + i  # unique, in an order unrelated to the dates
    rng.shuffle(rows)
    return rows


def full_rows(rows: list[dict]) -> tuple[pa.Table, list[dict]]:
    """The pyarrow main table and the same rows with every column present (None where missing)."""
    table = main_table(rows)
    return table, table.to_pylist()


def actual_figures(result) -> dict:
    out = {}
    for r in result.measures.to_pylist():
        key = (r["measure"], r["description"], r["la_code"], r["group"])
        assert key not in out, f"duplicate output row {key}"
        value = None if r["value"] is None else Decimal(repr(r["value"]))
        out[key] = (r["numerator"], r["denominator"], value)
    return out


def diff(expected: dict, actual: dict) -> list[str]:
    lines = []
    for key in sorted(set(expected) | set(actual), key=str):
        e, a = expected.get(key), actual.get(key)
        if (
            e is None
            or a is None
            or e[0] != a[0]
            or e[1] != a[1]
            or (e[2] is None) != (a[2] is None)
            or (e[2] is not None and e[2] != a[2])
        ):
            lines.append(f"{key}: reference {e} != ascld {a}")
    return lines


SEEDS = list(range(6))
# §0.2: the previous (revised) period, run with the person details of the latest period (§0.4)
PREVIOUS = (dt.date(2024, 1, 1), dt.date(2024, 12, 31))


def actual_by_period(result) -> dict:
    out: dict = {}
    for r in result.measures.to_pylist():
        period = (r["period_start"], r["period_end"])
        key = (r["measure"], r["description"], r["la_code"], r["group"])
        assert key not in out.setdefault(period, {}), f"duplicate output row {period} {key}"
        value = None if r["value"] is None else Decimal(repr(r["value"]))
        out[period][key] = (r["numerator"], r["denominator"], value)
    return out


@pytest.mark.parametrize("seed", SEEDS)
def test_measures_agree_with_the_reference(seed):
    table, rows = full_rows(make_main_rows(seed))
    la_codes = [*COUNCILS, EMPTY_COUNCIL[0]]
    result = run_ascof(
        table,
        period=(START.isoformat(), END.isoformat()),
        populations=POPULATION_TABLE,
        la_lookup=LA_LOOKUP,
        include_previous=True,
        measures=["2A", "2BC", "2E", "3D"],
        engine=connect("duckdb"),
    )
    actual = actual_by_period(result)
    assert set(actual) == {(START, END), PREVIOUS}
    problems = []
    for start, end in ((START, END), PREVIOUS):
        expected = reference_ascof(rows, start, end, la_codes, POPULATION, details_end=END)
        problems += [f"{start}..{end} {line}" for line in diff(expected, actual[(start, end)])]
    assert not problems, f"seed {seed}: {len(problems)} differences\n" + "\n".join(problems[:40])


DETAIL_COLUMNS = (
    "Accommodation_Status",
    "Accommodation_Status_Group",
    "Employment_Status",
    "Gender",
    "Ethnicity",
    "Der_Birth_Date",
    "Der_Age_End_Of_Period",
    "Der_Working_Age_Band_End_Of_Period",
    "Date_of_Death",
    "Primary_Support_Reason",
    "Client_Funding_Status",
    "Has_Unpaid_Carer",
    "LA_Person_Unique_Identifier_Latest",
    "LA_Person_Unique_Identifier_Concat",
)


def _cmp(value, column=""):
    """Person-details values compared as a case-insensitive collation would (codes), else as they are; the
    identifier list (order unspecified, §0.4) as a set."""
    if column == "LA_Person_Unique_Identifier_Concat" and isinstance(value, str):
        return {v.rstrip(" ").casefold() for v in value.split(", ")}
    return value.rstrip(" ").casefold() if isinstance(value, str) else value


@pytest.mark.parametrize("seed", SEEDS[:2])
def test_person_details_agree_with_the_reference(seed):
    from ascld.measures.ascof.common import ReportingPeriod, engine_stage, prepare_main_table
    from ascld.measures.ascof.inputs import table_on
    from ascld.measures.ascof.person_details import build_person_details

    table, rows = full_rows(make_main_rows(seed))
    expected = person_details(rows, END)
    con = connect("duckdb")
    stage = engine_stage(con)
    main = stage(prepare_main_table(table_on(con, table, "main")), "main")
    actual = build_person_details(main, ReportingPeriod.of(START, END), stage=stage).to_pyarrow().to_pylist()
    problems = []
    assert len(actual) == len(expected)
    for a in actual:
        e = expected[(a["LA_Code"], a["Der_NHS_LA_Combined_Person_ID"])]
        for c in DETAIL_COLUMNS:
            if _cmp(a[c], c) != _cmp(e[c], c):
                problems.append(
                    f"{a['LA_Code']}/{a['Der_NHS_LA_Combined_Person_ID']} {c}: reference {e[c]!r} != ascld {a[c]!r}"
                )
    assert not problems, f"seed {seed}: {len(problems)} differences\n" + "\n".join(problems[:40])


# --------------------------------------------------------------------------------------------------------------
# Regression tests for the differences the differential test found


def _run(rows, measures):
    return run_ascof(
        main_table(rows),
        period=(START.isoformat(), END.isoformat()),
        populations=POPULATION_TABLE,
        la_lookup=LA_LOOKUP,
        include_previous=False,
        measures=measures,
        engine=connect("duckdb"),
    )


def test_3d_grid_has_all_four_descriptions_when_nobody_is_a_carer():
    """§5.2 'Output grid': every LA × the four descriptions × the groups present; missing → 0. A run with
    clients but no carer in any denominator still publishes 1b and 2b (as 0), for every council."""
    rows = [
        {
            "LA_Code": "101",
            "LA_Name": "Northshire",
            "Der_NHS_LA_Combined_Person_ID": "C1",
            "Event_Type": "Service",
            "Service_Type_Cleaned": "Long term support: Community",
            "Delivery_Mechanism_Cleaned": "Direct payment",
            "Event_Start_Date": "2024-01-01",
            "Der_Birth_Year": 1970,
            "Der_Birth_Month": 1,
        }
    ]
    got = actual_figures(_run(rows, ["3D"]))
    for la in [*COUNCILS, EMPTY_COUNCIL[0]]:
        for desc in (
            "1b - The proportion of carers who use services who receive self-directed support (%)",
            "2b - The proportion of carers who use services who receive direct payments (%)",
        ):
            for group in ("18 to 64", "Total"):
                assert got[("ASCOF 3D (Carers)", desc, la, group)] == (0, 0, Decimal("0.0"))
            assert ("ASCOF 3D (Carers)", desc, la, "65 and above") not in got  # no 65+ group anywhere
    one_client = (
        "ASCOF 3D (Clients)",
        "2a - The proportion of clients who use services who receive direct payments (%)",
        "101",
        "Total",
    )
    assert got[one_client] == (1, 1, Decimal("100.0"))


# --------------------------------------------------------------------------------------------------------------
# 2D (§4): CLD reablement linked to synthetic SUS episodes. Run with the latest period 2024-07-01…2025-06-30, so
# 2D (three months behind, §0.2) covers START…END.

PERIOD_2D = ("2024-07-01", "2025-06-30")
UTLAS = ["E06000101", "E06000202", "E06000303", "E06000404", "E09999999", "W06000001", None]


GOOD_EPISODE = {
    "APCS_Last_Ep_Ind": 1,
    "Admission_Method": "21",
    "Discharge_Method": "1",
    "Discharge_Destination": "19",
    "Der_Management_Type": "EM",
    "Treatment_Function_Code": "300",
}
# one failing (or borderline-passing) value per field: §4.2 NOT IN / NOT LIKE, with NULLs failing
BAD_EPISODE = {
    "APCS_Last_Ep_Ind": [0, None],
    "Admission_Method": ["31", "83", None, "11"],
    "Discharge_Method": ["4", "5", None, "2"],
    "Discharge_Destination": ["79", "52", None, "54"],
    "Der_Management_Type": ["EL", "ne", None],
    "Treatment_Function_Code": ["650", "652", "710", "424", None, "430", "1650"],
}


def make_episodes(rng: random.Random, rows: list[dict]) -> list[dict]:
    """SUS episodes of people 65+ around the reablement starts of the CLD people (and some people only in SUS):
    discharges 8 days before to 4 days after a start, readmissions within and beyond 84 days, filter failures."""
    starts: dict[str, list[dt.date]] = {}
    for r in rows:
        s = r["Event_Start_Date"]
        if s is not None and r["Service_Type_Cleaned"] is not None and START <= s <= END + dt.timedelta(days=10):
            reablement = "st-max" in r["Service_Type_Cleaned"].casefold()
            for _ in range(5 if reablement else 1):  # mostly around reablement starts
                starts.setdefault(r["Der_NHS_LA_Combined_Person_ID"], []).append(s)
    people = sorted(starts) + [f"SUS{i}" for i in range(15)]
    episodes = []
    for person in people:
        if rng.random() < 0.1:
            continue
        anchors = starts.get(person, [random_date(rng)])
        years = rng.choice([65, 65, 66, 74, 75, 84, 85, 90, 64])
        by, bm = anchors[0].year - years, rng.choice([anchors[0].month, (anchors[0].month % 12) + 1, 1])
        sex = rng.choice(["1", "2", "2", "9", "0", "1 ", None])
        utla = rng.choice(UTLAS[:4] * 4 + UTLAS)
        for k in range(rng.choice([1, 2, 3, 4])):
            if k == 0 or rng.random() < 0.5:  # a discharge around a (reablement) start
                dis = rng.choice(anchors) + dt.timedelta(days=rng.choice([-8, -7, -3, 0, 3, 4]))
                adm = dis - dt.timedelta(days=rng.choice([1, 1, 5, 30, 0]))
            else:  # a later episode: a readmission 0-90 days after the last discharge
                adm = dis + dt.timedelta(days=rng.choice([0, 1, 40, 84, 85, 90]))
                dis = adm + dt.timedelta(days=rng.choice([1, 5]))
            episode = {
                "Der_DHSC_Pseudo_NHS_Number": person,
                "APCS_Ident": f"{person}-{k}-{rng.randrange(2)}",
                "Admission_Date": adm if rng.random() > 0.03 else None,
                "Discharge_Date": dis,
                "Month_of_Birth_SUS": bm,
                "Year_of_Birth_SUS": by if rng.random() > 0.03 else None,
                "Sex": sex,
                "Der_Postcode_LSOA_2011_Code": "E01000001",
                "UTLA_Code_2023": utla,
                **GOOD_EPISODE,
            }
            if rng.random() < 0.3:
                field = rng.choice(sorted(BAD_EPISODE))
                episode[field] = rng.choice(BAD_EPISODE[field])
            episodes.append(episode)
    return episodes


def _normalise_2d(cells: dict) -> dict:
    """(numerator, denominator) with blanks as 0; cells that are 0/0 left out (the grid is not compared)."""
    out = {}
    for k, (n, d) in cells.items():
        n, d = n or 0, d or 0
        if n or d:
            out[k] = (n, d)
    return out


@pytest.mark.parametrize("seed", SEEDS[:3])
def test_2d_agrees_with_the_reference(seed):
    from ascof_reference import ascof_2d, round_half_away

    from ascld.measures.ascof.inputs import DISCHARGE_COLUMNS, DISCHARGE_OPTIONAL

    rng = random.Random(1000 + seed)
    table, rows = full_rows(make_main_rows(seed))
    episodes = make_episodes(rng, rows)
    spells = pa.Table.from_pylist(episodes, schema=pa.schema(list({**DISCHARGE_COLUMNS, **DISCHARGE_OPTIONAL}.items())))
    result = run_ascof(
        table,
        period=PERIOD_2D,
        discharges=spells,
        la_lookup=LA_LOOKUP,
        include_previous=False,
        measures=["2D"],
        engine=connect("duckdb"),
    )
    area_to_la = {
        a: [la] for la, a in zip(LA_LOOKUP["LA_Code"].to_pylist(), LA_LOOKUP["LA_Area_Code"].to_pylist(), strict=True)
    }
    expected = _normalise_2d(
        ascof_2d(rows, person_details(rows, dt.date(2025, 6, 30)), episodes, START, END, area_to_la)
    )
    actual_rows = [r for r in result.measures.to_pylist() if r["period_start"] == START]
    assert actual_rows and all(r["period_end"] == END for r in actual_rows)
    actual, values = {}, {}
    for r in actual_rows:
        client, _, slice_ = r["group"].partition(" / ")
        if r["breakdown"] in ("Total", "Age band", "Gender"):
            client, slice_ = "Total", r["group"]
        elif r["breakdown"] == "Client type":
            slice_ = "Total"
        key = (r["measure"], r["la_code"], client, slice_)
        assert key not in actual, f"duplicate 2D row {key}"
        actual[key] = (r["numerator"], r["denominator"])
        values[key] = r["value"]
    actual = _normalise_2d(actual)
    problems = diff({k: (*v, None) for k, v in expected.items()}, {k: (*v, None) for k, v in actual.items()})
    for k, (n, d) in expected.items():  # §0.3: ROUND(100.0 * Num / Den, 2)
        if n and d and k in values:
            want = round_half_away(n, d, 100, 2)
            if values[k] is None or Decimal(repr(values[k])) != want:
                problems.append(f"{k}: value reference {want} != ascld {values[k]}")
    assert not problems, f"seed {seed}: {len(problems)} differences\n" + "\n".join(problems[:40])


@pytest.mark.parametrize(
    "latest",
    [
        (dt.date(2025, 4, 1), dt.date(2026, 3, 31)),
        (dt.date(2025, 10, 1), dt.date(2026, 9, 30)),  # 2D previous ends 30 March (no EOMONTH)
        (dt.date(2024, 6, 1), dt.date(2025, 5, 31)),  # via 28 February
        (dt.date(2023, 3, 1), dt.date(2024, 2, 29)),  # leap day
        (dt.date(2024, 9, 1), dt.date(2025, 8, 31)),
    ],
)
def test_periods_agree_with_the_reference(latest):
    from ascof_reference import periods

    from ascld.measures.ascof import ascof_periods

    got = ascof_periods((latest[0].isoformat(), latest[1].isoformat()))
    actual = tuple((p.start, p.end) for p in (got.latest, got.previous, got.latest_2d, got.previous_2d))
    assert actual == periods(*latest)


def _stmax_client(person, **extra):
    return {
        "LA_Code": "101",
        "LA_Name": "Northshire",
        "Der_NHS_LA_Combined_Person_ID": person,
        "Der_Birth_Year": 1950,
        "Der_Birth_Month": 1,
        **extra,
    }


def test_2a_a_service_type_on_another_event_is_not_a_service():
    """§1.3 step 5 ("any joined row is a service of type ...") and §1.4 step 3 ("non-services 99"): a review that
    carries a long-term service type neither makes the client existing nor is a service sequel."""
    reablement = _stmax_client(
        "R1",
        Event_Type="Service",
        Service_Type_Cleaned="Short term support: ST-Max",
        Service_Component_Cleaned="Reablement",
        Event_Start_Date="2024-06-01",
        Der_Event_End_Date="2024-06-30",
        Event_Outcome_Cleaned="Progress to support planning or services",
    )
    earlier_review = _stmax_client(
        "R1",
        Event_Type="Review",
        Service_Type_Cleaned="Long term support: Community",
        Event_Start_Date="2024-01-01",
        Event_Outcome_Cleaned="Continuation of support or services",
    )
    window_review = _stmax_client(
        "R2",
        Event_Type="Review",
        Service_Type_Cleaned="Long term support: Community",
        Event_Start_Date="2024-07-02",
        Der_Event_End_Date="2024-07-20",
        Event_Outcome_Cleaned="NFA: Other",
    )
    rows = [reablement, earlier_review, dict(reablement, Der_NHS_LA_Combined_Person_ID="R2"), window_review]
    result = _run(rows, ["2A"])
    got = actual_figures(result)
    desc = (
        "The proportion of people who received short-term services during the year - who previously were not "
        "receiving services - where no further request was made for ongoing support (%)"
    )
    # R1 is a new client; its cluster has no concluding outcome (unable to classify): not in the denominator.
    # R2's window review is no service sequel; its outcome NFA: Other (step 4b) counts in both.
    assert got[("ASCOF 2A", desc, "101", "65 and above")] == (1, 1, Decimal("100.0"))
    sequels = {(r["Sequel_Type"], r["Final_Outcome"]) for r in result.disaggregated_2a.to_pylist()}
    assert sequels == {("6", "Progress to support planning or services"), ("4b", "NFA: Other")}
