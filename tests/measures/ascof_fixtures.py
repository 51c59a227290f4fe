"""Shared helpers for the ASCOF tests: small main-table fixtures built directly from the scenarios.

The tests never depend on the main-tables builder: rows here carry exactly the main-table columns
(main-tables.md §6.3) that ASCOF reads, with NULL for anything a scenario leaves out.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

import pyarrow as pa

from ascld.measures.ascof.common import MAIN_TABLE_COLUMNS

_ARROW = {"string": pa.string(), "date": pa.date32(), "int64": pa.int64()}

DEFAULTS: Mapping[str, Any] = {
    "LA_Code": "318",
    "LA_Name": "Testshire",
    "Ref_Period_End_Date": dt.date(2025, 3, 31),
    "Client_Type_Cleaned": "Service user",
}


def d(text: str | None) -> dt.date | None:
    """ISO text to a date (None stays None)."""
    return None if text is None else dt.date.fromisoformat(text)


def main_table(rows: Iterable[Mapping[str, Any]], **defaults: Any) -> pa.Table:
    """A main table with every ASCOF column; missing values take DEFAULTS/`defaults`, else NULL.

    Date values may be given as ISO strings. Each row gets a distinct Der_Unique_Record_ID unless given.
    """
    base = {**DEFAULTS, **defaults}
    cols: dict[str, list[Any]] = {c: [] for c in MAIN_TABLE_COLUMNS}
    for i, row in enumerate(rows, start=1):
        unknown = set(row) - set(MAIN_TABLE_COLUMNS)
        if unknown:
            raise KeyError(f"not a main-table column: {sorted(unknown)}")
        for c, dtype in MAIN_TABLE_COLUMNS.items():
            v = row.get(c, base.get(c))
            if c == "Der_Unique_Record_ID" and v is None:
                v = i
            if dtype == "date" and isinstance(v, str):
                v = d(v)
            cols[c].append(v)
    return pa.table({c: pa.array(v, type=_ARROW[MAIN_TABLE_COLUMNS[c]]) for c, v in cols.items()})


# --------------------------------------------------------------------------------------------------
# Running the measures on a fixture

PERIOD = ("2024-04-01", "2025-03-31")
LA_LOOKUP = pa.table(
    {
        "LA_Code": ["318"],
        "LA_Name": ["Testshire"],
        "LA_Area_Code": ["E08000016"],
        "Region": ["Yorkshire and The Humber"],
    }
)


def run(rows: Iterable[Mapping[str, Any]] | pa.Table, *, period=PERIOD, measures=None, con=None, **kwargs):
    """run_ascof on DuckDB (or `con`) for the latest period only, with the one-council lookup by default."""
    from ascld.engine import connect
    from ascld.measures.ascof import run_ascof

    table = rows if isinstance(rows, pa.Table) else main_table(rows)
    kwargs.setdefault("la_lookup", LA_LOOKUP)
    return run_ascof(
        table,
        period=period,
        include_previous=False,
        measures=measures,
        engine=con or connect("duckdb"),
        **kwargs,
    )


def pick(table: pa.Table, **where: Any) -> list[dict[str, Any]]:
    """Rows of a result table whose columns equal the given values."""
    return [r for r in table.to_pylist() if all(r[k] == v for k, v in where.items())]


def one(table: pa.Table, **where: Any) -> dict[str, Any]:
    """The single row matching; fails the test if there is not exactly one."""
    rows = pick(table, **where)
    assert len(rows) == 1, f"{len(rows)} rows match {where}"
    return rows[0]


def figures(table: pa.Table, measure: str, **where: Any) -> dict[str, tuple]:
    """group -> (numerator, denominator, value as text) for a measure (the excluded-count rows left out)."""
    out = {}
    for r in pick(table, measure=measure, **where):
        if r["breakdown"] == "Count" and "breakdown" not in where:
            continue
        value = None if r["value"] is None else repr(r["value"])
        out[r["group"]] = (r["numerator"], r["denominator"], value)
    return out


def steps(rows: Iterable[Mapping[str, Any]], period=PERIOD, con=None):
    """(connection, prepared main table, person details) for calling the step functions directly."""
    from ascld.engine import connect
    from ascld.measures.ascof.common import ReportingPeriod, engine_stage, prepare_main_table
    from ascld.measures.ascof.inputs import table_on
    from ascld.measures.ascof.person_details import build_person_details

    con = con or connect("duckdb")
    stage = engine_stage(con)  # materialised, as the pipeline does: small queries compile and plan fast
    main = stage(prepare_main_table(table_on(con, main_table(rows), "main")), "main")
    pd = build_person_details(main, ReportingPeriod.of(*period), stage=stage)
    return con, main, stage(pd, "person_details")


# --------------------------------------------------------------------------------------------------
# The scenarios of scenarios.md Part B as main-table rows

SERVICE = "Service"
ST_MAX = "Short term support: ST-Max"
COMMUNITY = "Long term support: Community"
RESIDENTIAL = "Long term support: Residential care"
NURSING = "Long term support: Nursing care"


def born(year_month: str | None) -> dict[str, Any]:
    if year_month is None:
        return {"Der_Birth_Year": None, "Der_Birth_Month": None}
    y, m = year_month.split("-")
    return {"Der_Birth_Year": int(y), "Der_Birth_Month": int(m)}


def stmax(
    person: str, start: str, end: str | None, outcome: str | None, birth: str | None, **extra: Any
) -> dict:
    return {
        "Der_NHS_LA_Combined_Person_ID": person,
        "Event_Type": SERVICE,
        "Service_Type_Cleaned": ST_MAX,
        "Service_Component_Cleaned": "Reablement",
        "Event_Start_Date": start,
        "Der_Event_End_Date": end,
        "Event_Outcome_Cleaned": outcome,
        **born(birth),
        **extra,
    }


def service(person: str, stype: str, start: str, end: str | None, birth: str | None, **extra: Any) -> dict:
    return {
        "Der_NHS_LA_Combined_Person_ID": person,
        "Event_Type": SERVICE,
        "Service_Type_Cleaned": stype,
        "Event_Start_Date": start,
        "Der_Event_End_Date": end,
        **born(birth),
        **extra,
    }


def event(
    person: str, kind: str, start: str, end: str | None, outcome: str | None, birth: str | None, **extra
):
    return {
        "Der_NHS_LA_Combined_Person_ID": person,
        "Event_Type": kind,
        "Event_Start_Date": start,
        "Der_Event_End_Date": end,
        "Event_Outcome_Cleaned": outcome,
        **born(birth),
        **extra,
    }


def scenario_2a_1() -> list[dict]:
    """A-2A-1: five people, period 2024-04-01…2025-03-31."""
    return [
        stmax("P1", "2024-05-01", "2024-05-20", "NFA: Support ended as planned", "1940-01"),
        stmax("P2", "2024-06-01", "2024-06-20", "Progress to support planning or services", "1970-05"),
        stmax("P2", "2024-06-25", "2024-07-10", "NFA: Support ended as planned", "1970-05"),
        service(
            "P2",
            COMMUNITY,
            "2024-07-15",
            None,
            "1970-05",
            Service_Component_Cleaned="Home support or domiciliary care",
        ),
        service("P3", RESIDENTIAL, "2023-06-01", "2024-02-15", "1950-01"),
        stmax("P3", "2024-05-01", "2024-05-30", "NFA: Other", "1950-01"),
        stmax(
            "P4",
            "2024-09-01",
            "2024-09-20",
            "NFA: Support ended for other reason",
            "1945-03",
            Date_of_Death="2024-09-25",
        ),
        stmax("P5", "2024-10-01", "2024-10-31", "Progress to support planning or services", "1950-02"),
        event(
            "P5",
            "Review",
            "2024-10-20",
            "2024-10-25",
            "NFA: Information and advice or signposting",
            "1950-02",
        ),
    ]


def scenario_2a_2() -> list[dict]:
    """A-2A-2: person Q, three ST-Max rows forming two clusters."""
    return [
        stmax("Q", "2024-04-02", "2024-04-10", "Progress to support planning or services", "1960-01"),
        stmax("Q", "2024-04-17", "2024-05-01", "NFA: Support ended as planned", "1960-01"),
        stmax("Q", "2024-05-09", "2024-05-20", "NFA: Other", "1960-01"),
    ]


def scenario_2bc_1() -> list[dict]:
    """A-2BC-1: seven people with residential/nursing rows."""

    def res(person, stype, component, start, end, birth, **extra):
        return service(person, stype, start, end, birth, Service_Component_Cleaned=component, **extra)

    return [
        res("Q1", RESIDENTIAL, "Long term residential care", "2024-06-10", None, "1952-09"),
        res("Q2", NURSING, "Long term nursing care", "2024-11-01", None, "1980-01"),
        res("Q2", RESIDENTIAL, "Long term residential care", "2023-08-01", "2024-02-01", "1980-01"),
        res("Q3", RESIDENTIAL, "Short term residential care", "2024-05-01", None, "1975-04"),
        res("Q4", RESIDENTIAL, None, "2024-07-01", None, "1990-02"),
        res(
            "Q5",
            RESIDENTIAL,
            "Long term residential care",
            "2024-12-01",
            None,
            "1962-03",
            Event_Outcome_Cleaned="NFA: Self-funded client or under 12wk disregard",
        ),
        res("Q6", RESIDENTIAL, "Long term residential care", "2025-02-01", None, "1960-02"),
        res("Q7", NURSING, "Long term nursing care", "2025-03-01", None, "1960-03"),
    ]


POPULATION_2BC = pa.table(
    {
        "Code": ["E08000016", "E08000016", "E08000016", "E12000003"],
        "Name": ["Testshire", "Testshire", "Testshire", "Yorkshire and The Humber"],
        "Geography": ["Local Authority", "Local Authority", "Local Authority", "Region"],
        "Gender": ["All", "All", "Male", "All"],
        "Age_Band": ["18 to 64", "65 and above", "18 to 64", "18 to 64"],
        "Population": [200000, 50000, 99000, 3000000],
    }
)


def scenario_pd_1(variant: int = 0) -> list[dict]:
    """A-PD-1: person F; variant 1: row 2 Unknown; variant 2: a conflicting second residential row."""
    rows = [
        event(
            "F",
            "Request",
            "2025-02-01",
            "2025-02-10",
            None,
            "1950-03",
            Accommodation_Status_Cleaned="Tenant: Private landlord",
            Ref_Period_End_Date="2025-03-31",
        ),
        service(
            "F",
            RESIDENTIAL,
            "2024-01-01",
            None,
            "1950-03",
            Service_Component_Cleaned="Long term residential care",
            Accommodation_Status_Cleaned="Unknown"
            if variant == 1
            else "Owner occupier or shared ownership scheme",
            Ref_Period_End_Date="2025-03-31",
        ),
        event(
            "F",
            "Review",
            "2024-04-20",
            "2024-05-01",
            None,
            "1950-03",
            Accommodation_Status_Cleaned="Registered care home",
            Ref_Period_End_Date="2024-06-30",
        ),
    ]
    if variant == 2:
        rows.append(
            service(
                "F",
                RESIDENTIAL,
                "2024-01-01",
                None,
                "1950-03",
                Service_Component_Cleaned="Other long term support",
                Accommodation_Status_Cleaned="Tenant: Private landlord",
                Ref_Period_End_Date="2025-03-31",
            )
        )
    return rows


def scenario_2e_1() -> list[dict]:
    """A-2E-1: six people; person-details values arise from their rows (E3/E4 statuses from services)."""

    def lts(
        person,
        stype,
        start,
        end,
        birth,
        gender,
        psr,
        accommodation,
        component="Home support or domiciliary care",
    ):
        return service(
            person,
            stype,
            start,
            end,
            birth,
            Gender_Cleaned=gender,
            Primary_Support_Reason_Cleaned=psr,
            Accommodation_Status_Cleaned=accommodation,
            Service_Component_Cleaned=component,
        )

    return [
        lts(
            "E1",
            COMMUNITY,
            "2022-06-01",
            None,
            "1970-01",
            "Male",
            "Learning disability support",
            "Owner occupier or shared ownership scheme",
        ),
        lts(
            "E2",
            RESIDENTIAL,
            "2023-01-01",
            "2024-08-15",
            "1945-06",
            "Female",
            "Physical support: Personal care support",
            "Registered care home",
            "Long term residential care",
        ),
        lts("E3", COMMUNITY, "2023-01-01", None, "1985-03", "Female", "Mental health support", "Unknown"),
        lts(
            "E4",
            COMMUNITY,
            "2023-01-01",
            None,
            "1950-01",
            "Male",
            "Physical support: Personal care support",
            "Unknown",
            "Day support",
        ),
        lts(
            "E5",
            COMMUNITY,
            "2023-05-01",
            "2024-03-20",
            "1990-05",
            "Female",
            "Mental health support",
            "Tenant: Private landlord",
        ),
        lts(
            "E6",
            COMMUNITY,
            "2023-01-01",
            None,
            "2008-01",
            "Male",
            "Learning disability support",
            "Owner occupier or shared ownership scheme",
        ),
    ]


def scenario_3d_1() -> list[dict]:
    """A-3D-1: clients C1-C6, snapshot 2025-03-31."""

    def ltc(person, stype, birth, mech=None, comp=None, end=None):
        return service(
            person,
            stype,
            "2024-01-01",
            end,
            birth,
            Delivery_Mechanism_Cleaned=mech,
            Service_Component_Cleaned=comp,
        )

    return [
        ltc("C1", COMMUNITY, "1955-01", "Direct payment"),
        ltc("C1", RESIDENTIAL, "1955-01", None, "Long term residential care"),
        ltc("C2", COMMUNITY, "1975-06", None, "Direct payment"),
        ltc("C3", COMMUNITY, "1945-02", "CASSR managed personal budget"),
        ltc("C4", COMMUNITY, "1985-07", "CASSR commissioned support"),
        ltc("C5", COMMUNITY, None, None, "Home support or domiciliary care"),
        ltc("C6", COMMUNITY, "1960-09", "Direct payment", end="2025-03-30"),
    ]


def scenario_3d_2() -> list[dict]:
    """A-3D-2: carers K1-K4 in 2024-04-01…2025-03-31 (client type Unpaid carer)."""
    carer = {"Client_Type_Cleaned": "Unpaid carer"}
    direct = "Unpaid carer support: Direct to unpaid carer"
    return [
        service(
            "K1",
            direct,
            "2024-06-01",
            "2024-06-01",
            "1980-04",
            Delivery_Mechanism_Cleaned="Direct payment",
            **carer,
        ),
        event(
            "K1",
            "Assessment",
            "2024-05-01",
            "2024-05-10",
            "Progress to support planning or services",
            "1980-04",
            **carer,
        ),
        service(
            "K2",
            direct,
            "2024-07-01",
            "2024-07-01",
            "1955-08",
            Delivery_Mechanism_Cleaned="CASSR commissioned support",
            Service_Component_Cleaned="Other unpaid carer support",
            **carer,
        ),
        service(
            "K3",
            direct,
            "2024-08-01",
            "2024-08-01",
            "1995-01",
            Delivery_Mechanism_Cleaned="CASSR managed personal budget",
            **carer,
        ),
        event(
            "K4",
            "Request",
            "2024-09-01",
            "2024-09-02",
            "NFA: Information and advice or signposting",
            "1970-01",
            **carer,
        ),
    ]


def scenario_2d_1() -> tuple[list[dict], pa.Table]:
    """A-2D-1: CLD reablement for H1 and H2, and SUS episodes A1, A2, B1, C1 (UTLA = the council's area)."""
    cld = [
        stmax("H1", "2024-05-12", "2024-06-01", "NFA: Support ended as planned", "1944-01"),
        stmax("H2", "2024-07-09", "2024-07-30", "NFA: Support ended as planned", "1954-03"),
    ]
    spells = discharges_table(
        [
            spell("H1", "A1", "2024-05-01", "2024-05-10", "1944-01", "2"),
            spell("H1", "A2", "2024-06-20", "2024-06-25", "1944-01", "2"),
            spell("H2", "B1", "2024-07-01", "2024-07-08", "1954-03", "1"),
            spell("H3", "C1", "2024-08-01", "2024-08-10", "1934-05", "2"),
        ]
    )
    return cld, spells


def spell(person, ident, admission, discharge, birth, sex, **extra) -> dict:
    y, m = birth.split("-")
    row = {
        "Der_DHSC_Pseudo_NHS_Number": person,
        "APCS_Ident": ident,
        "APCS_Last_Ep_Ind": 1,
        "Admission_Date": d(admission),
        "Discharge_Date": d(discharge),
        "Month_of_Birth_SUS": int(m),
        "Year_of_Birth_SUS": int(y),
        "Sex": sex,
        "Der_Postcode_LSOA_2011_Code": "E01000001",
        "Admission_Method": "21",
        "Discharge_Method": "1",
        "Discharge_Destination": "19",
        "Der_Management_Type": "EM",
        "Treatment_Function_Code": "300",
        "UTLA_Code_2023": "E08000016",
    }
    row.update(extra)
    return row


def discharges_table(rows: list[dict]) -> pa.Table:
    from ascld.measures.ascof.inputs import DISCHARGE_COLUMNS, DISCHARGE_OPTIONAL

    schema = pa.schema(list({**DISCHARGE_COLUMNS, **DISCHARGE_OPTIONAL}.items()))
    return pa.Table.from_pylist(rows, schema=schema)


# --------------------------------------------------------------------------------------------------
# A seeded synthetic multi-council store (for engine comparisons): varied, messy, never real.

COUNCILS = (
    ("318", "Testshire", "E08000016"),
    ("503", "Northwold", "E06000201"),
    ("704", "Eastmere", "E09000301"),
)
_REFS = ("2024-03-31", "2024-06-30", "2024-12-31", "2025-03-31", "2025-06-30")
_OUTCOMES = (
    "NFA: Support ended as planned",
    "NFA: Other",
    "Progress to support planning or services",
    "Progress to assessment, review or reassessment",
    "NFA: Information and advice or signposting",
    "Admitted to hospital",
    "NFA: Deceased",
    "NFA: Support declined",
    "Continuation of support or services",
    "nfa: other ",
    "Invalid and not mapped",
    None,
)
_LTS = (
    COMMUNITY,
    COMMUNITY,
    RESIDENTIAL,
    NURSING,
    "Long term support: Prison",
    "LONG TERM SUPPORT: COMMUNITY",
)
_COMPONENTS = (
    "Home support or domiciliary care",
    "Direct payment",
    "Day support",
    "Long term residential care",
    "Long term nursing care",
    "Short term residential care",
    "Shared Lives",
    "Extra care housing",
    "Community supported living",
    "Equipment",
    None,
)
_MECHANISMS = (
    "Direct payment",
    "CASSR managed personal budget",
    "CASSR commissioned support",
    "direct payment",
    None,
)
_ACCOMMODATION = (
    "Owner occupier or shared ownership scheme",
    "Tenant: Private landlord",
    "Registered care home",
    "Unknown",
    "Invalid and not mapped",
    None,
    "Settled mainstream housing with family or friends",
)
_PSR = (
    "Learning disability support",
    "Physical support: Personal care support",
    "Mental health support",
    None,
)


def synthetic_store(seed: int = 20250630, people_per_council: int = 40) -> tuple[pa.Table, pa.Table]:
    """A main table for three councils and matching hospital discharge spells from a seeded generator."""
    import random

    r = random.Random(seed)
    base = dt.date(2023, 4, 1)

    def day(lo: int, hi: int) -> dt.date:
        return base + dt.timedelta(days=r.randint(lo, hi))

    rows: list[dict] = []
    spells: list[dict] = []
    for la, name, area in COUNCILS:
        for i in range(people_per_council):
            pid = f"P{la}{i:03d}" if r.random() > 0.05 else f"P318{i:03d}"  # a few people in two councils
            y = r.choice([None] + list(range(1925, 2009)))
            birth = None if y is None else f"{y}-{r.randint(1, 12):02d}"
            person = {
                "LA_Code": la,
                "LA_Name": name,
                "Gender_Cleaned": r.choice(("Male", "Female", "female", "Unknown", None)),
                "Accommodation_Status_Cleaned": r.choice(_ACCOMMODATION),
                "Primary_Support_Reason_Cleaned": r.choice(_PSR),
                "Date_of_Death": day(300, 800) if r.random() < 0.1 else None,
                "LA_Person_Unique_Identifier": f"L{la}{i}",
            }
            t = r.randint(0, 600)
            for _ in range(r.randint(1, 5)):
                kind = r.random()
                ref = r.choice(_REFS)
                start = day(t, t + 20)
                length = r.randint(0, 60)
                end = None if r.random() < 0.15 else start + dt.timedelta(days=length)
                common = {
                    **person,
                    **born(birth),
                    "Der_NHS_LA_Combined_Person_ID": pid,
                    "Ref_Period_End_Date": ref,
                }
                if kind < 0.35:
                    rows.append(
                        stmax(
                            pid,
                            start.isoformat(),
                            end and end.isoformat(),
                            r.choice(_OUTCOMES),
                            birth,
                            **{k: v for k, v in common.items() if k != "Der_NHS_LA_Combined_Person_ID"},
                        )
                    )
                    if r.random() < 0.6 and y is not None:
                        dis = start - dt.timedelta(days=r.randint(-3, 9))
                        spells.append(
                            spell(
                                pid,
                                f"S{la}{i}{len(spells)}",
                                (dis - dt.timedelta(days=r.randint(1, 20))).isoformat(),
                                dis.isoformat(),
                                birth,
                                r.choice("1290"),
                                Discharge_Destination=r.choice(("19", "19", "79", None)),
                                Treatment_Function_Code=r.choice(("300", "300", "650", "710")),
                                Der_Management_Type=r.choice(("EM", "NE", "EL")),
                                UTLA_Code_2023=area if r.random() < 0.9 else "E06000999",
                            )
                        )
                elif kind < 0.65:
                    rows.append(
                        service(
                            pid,
                            r.choice(_LTS),
                            start.isoformat(),
                            end and end.isoformat(),
                            birth,
                            Service_Component_Cleaned=r.choice(_COMPONENTS),
                            Delivery_Mechanism_Cleaned=r.choice(_MECHANISMS),
                            Event_Outcome_Cleaned=r.choice(_OUTCOMES),
                            **{
                                k: v
                                for k, v in common.items()
                                if k
                                not in ("Der_NHS_LA_Combined_Person_ID", "Der_Birth_Year", "Der_Birth_Month")
                            },
                        )
                    )
                elif kind < 0.85:
                    rows.append(
                        event(
                            pid,
                            r.choice(("Request", "Assessment", "Review")),
                            start.isoformat(),
                            (end or start).isoformat(),
                            r.choice(_OUTCOMES),
                            birth,
                            **{
                                k: v
                                for k, v in common.items()
                                if k
                                not in ("Der_NHS_LA_Combined_Person_ID", "Der_Birth_Year", "Der_Birth_Month")
                            },
                        )
                    )
                else:
                    carer_rows = {
                        k: v
                        for k, v in common.items()
                        if k not in ("Der_NHS_LA_Combined_Person_ID", "Der_Birth_Year", "Der_Birth_Month")
                    }
                    carer_rows["Client_Type_Cleaned"] = r.choice(("Unpaid carer", "unpaid CARER"))
                    carer_rows["Adult_1_Linked_Person_ID"] = f"L{la}{r.randint(0, people_per_council)}"
                    rows.append(
                        service(
                            f"C{pid}",
                            "Unpaid carer support: Direct to unpaid carer",
                            start.isoformat(),
                            (end or start).isoformat(),
                            birth,
                            Delivery_Mechanism_Cleaned=r.choice(_MECHANISMS),
                            Service_Component_Cleaned=r.choice(
                                ("Other unpaid carer support", "Direct payment", None)
                            ),
                            **carer_rows,
                        )
                    )
                t += r.randint(0, 120)
            if r.random() < 0.3 and y is not None:  # readmissions and unlinked discharges
                a = day(t, t + 60)
                spells.append(
                    spell(
                        pid,
                        f"R{la}{i}",
                        a.isoformat(),
                        (a + dt.timedelta(days=4)).isoformat(),
                        birth,
                        "2",
                        Der_Management_Type=r.choice(("EM", "ne")),
                        UTLA_Code_2023=area,
                    )
                )
    return main_table(rows), discharges_table(spells)


def synthetic_store_inputs() -> dict[str, pa.Table]:
    """The LA lookup and populations for the councils of `synthetic_store`."""
    lookup = pa.table(
        {
            "LA_Code": [c[0] for c in COUNCILS],
            "LA_Name": [c[1] for c in COUNCILS],
            "LA_Area_Code": [c[2] for c in COUNCILS],
            "Region": ["R"] * len(COUNCILS),
        }
    )
    pop_rows = [
        (area, name, "Local Authority", "All", band, value)
        for (_, name, area), (a, b) in zip(
            COUNCILS, ((180000, 40000), (90000, 25000), (250000, 33333)), strict=True
        )
        for band, value in (("18 to 64", a), ("65 and above", b))
    ]
    population = pa.table(
        {
            k: [r[i] for r in pop_rows]
            for i, k in enumerate(("Code", "Name", "Geography", "Gender", "Age_Band", "Population"))
        }
    )
    return {"la_lookup": lookup, "populations": population}
