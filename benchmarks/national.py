"""Benchmark: building the national main tables (joined and single) from a national store.

* store: a synthetic national store made here in DuckDB SQL (seeded, `make_store`): ``--councils`` councils
  (the synthetic councils of `ascld synth`, with their LA codes), ``--people`` people with three events each,
  chained in time along a few journeys (request -> assessment -> long-term service, request -> reablement ->
  long-term support or a later request, unpaid carers' support, ...), attributes from weighted spec values, a
  third of the councils in Release 1 values; rolling 12-month files for ``--quarters`` quarters (each event
  repeated in every file whose window it falls in, as councils' rolling extracts do). It writes the store
  directly, without `ascld national ingest` (too slow at this scale), and is also the input of
  `benchmarks/measures.py`, so every ASCOF and SALT measure finds people in it.
* baseline: a bare scan of the same store in DuckDB (every column read: MIN of each column);
* builds: `build_main_tables` for the joined table (all quarters) and the single table (the last 12 months),
  each in a fresh child process so its peak RSS is its own, DuckDB backed by a file in the work folder.

Prints wall seconds, the ratio to the baseline scan and peak RSS (target <= 8 GB) and writes them to
``benchmarks/out/national.json``. Run by hand: ``uv run python benchmarks/national.py [--people N]``; the
national scale of DESIGN.md is ``--councils 153 --people 1500000 --quarters 8``.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import duckdb

HERE = Path(__file__).resolve().parent
OUT = HERE / "out" / "national.json"
LAST_QUARTER_END = dt.date(2026, 3, 31)
MEMORY_LIMIT = os.environ.get("ASCLD_BENCH_MEMORY_LIMIT", "5GB")

#: Every RELEASE_1_EVERY-th council (la % RELEASE_1_EVERY == RELEASE_1_EVERY - 1) submits Release 1 values
#: (the spec's R1 spelling of each value below, NULL where Release 1 had no equivalent); the rest Release 2.
RELEASE_1_EVERY = 3

#: Weighted Release 2 values, by spec list. Person attributes:
GENDERS = ((45, "Male"), (53, "Female"), (2, "Unknown"))
ETHNICITIES = (
    (78, "White: English, Welsh, Scottish, Northern Irish or British"),
    (3, "White: Irish"),
    (5, "Asian or Asian British: Indian"),
    (3, "Asian or Asian British: Pakistani"),
    (4, "Black, Black British, Caribbean or African: Caribbean"),
    (4, "No data: Undeclared or not known"),
    (3, "No data: Refused"),
)
SUPPORT_REASONS = (
    (40, "Physical support: Personal care support"),
    (12, "Physical support: Access and mobility only"),
    (12, "Support with memory and cognition"),
    (12, "Learning disability support"),
    (12, "Mental health support"),
    (3, "Sensory support: Support for visual impairment"),
    (4, "Social support: Support for social isolation or other reason"),
    (2, "Social support: Substance misuse support"),
    (3, "Unknown"),
)
ACCOMMODATION = (
    (35, "Owner occupier or shared ownership scheme"),
    (15, "Tenant: Local authority or other social housing provider"),
    (8, "Tenant: Private landlord"),
    (12, "Settled mainstream housing with family or friends"),
    (6, "Supported accommodation, supported lodgings or supported group home"),
    (8, "Registered care home"),
    (4, "Registered nursing home"),
    (4, "Sheltered housing, extra care housing or other sheltered housing"),
    (8, "Unknown"),
)
EMPLOYMENT = (
    (60, "Not in paid employment: Not actively seeking work or retired"),
    (5, "Paid: Less than 16 hours a week"),
    (5, "Paid: 16 or more hours a week"),
    (5, "Not in paid employment: Seeking work"),
    (3, "Not in paid employment: Voluntary work only"),
    (22, "Unknown"),
)
UNPAID_CARER = ((25, "Yes"), (55, "No"), (20, "Unknown"))
#: Route of access: Release 1 values for every council (the spec has no Release 2 list for it).
ROUTES = (
    (55, "Community / Other route"),
    (20, "Discharge from Hospital"),
    (5, "Diversion from Hospital Services"),
    (5, "Planned Entry (Transition)"),
    (5, "Self-Funder"),
    (5, "Discharge from Reablement"),
    (3, "Transfer from Other LA"),
    (2, "Prison"),
)
#: Events. Outcomes of a closed event, by what it is:
REQUEST_NFA = (
    (60, "NFA: Information and advice or signposting"),
    (15, "NFA: Support declined"),
    (10, "NFA: Other"),
    (15, "NFA: Referral to other service within the local authority"),
)
LONG_TERM_END = (
    (40, "NFA: Support ended for other reason"),
    (30, "NFA: Deceased"),
    (10, "NFA: Responsibility moved to another local authority"),
    (20, "NFA: Self-funded client or under 12wk disregard"),
)
#: ST-Max outcomes: (upper bound of the person's uniform number, outcome); below 0.30 long-term support
#: follows, and a death on the last day goes with `NFA: Deceased`.
REABLEMENT_END = (
    (0.30, "Progress to support planning or services"),
    (0.60, "NFA: Support ended as planned"),
    (0.68, "NFA: Other"),
    (0.76, "Admitted to hospital"),
    (0.80, "NFA: Deceased"),
    (0.88, "Continuation of support or services"),
    (0.94, "NFA: Support declined"),
    (1.00, "NFA: Referral to NHS services or NHS funded social care"),
)
#: Assessment types of assessment events (the dashboard's waiting times follow long-term ones).
ASSESSMENT_TYPES = ((75, "Long term assessment"), (25, "Short term assessment"))
COMMUNITY_COMPONENTS = (
    (55, "Home support or domiciliary care"),
    (15, "Direct payment"),
    (10, "Day support"),
    (8, "Community supported living"),
    (6, "Extra care housing"),
    (3, "Shared Lives"),
    (3, "Meals"),
)

#: store column -> spec list, for the Release 1 spellings.
SPEC_LISTS = {
    "gender": "gender",
    "ethnicity": "ethnicity",
    "client_type": "client_type",
    "psr": "primary_support_reason",
    "accommodation": "accommodation_status",
    "employment": "employment_status",
    "unpaid_carer": "has_unpaid_carer",
    "outcome": "event_outcome",
    "service_type": "service_type",
    "component": "service_component",
    "mechanism": "delivery_mechanism",
    "assessment_type": "assessment_type",
}
PERSON_COLUMNS = ("gender", "ethnicity", "client_type", "psr", "accommodation", "employment", "unpaid_carer")


def quarter_ends(quarters: int) -> list[dt.date]:
    from ascld.national.main_tables.sql import add_months

    ends = []
    for k in range(quarters):
        first_of_next = add_months(dt.date(2026, 4, 1), -3 * k)
        ends.append(first_of_next - dt.timedelta(days=1))
    return sorted(ends)


def _lit(value: str | None) -> str:
    return "NULL" if value is None else "'" + value.replace("'", "''") + "'"


def pick_sql(u: str, weighted: tuple[tuple[float, str], ...]) -> str:
    """SQL choosing one value by a uniform number `u` in [0, 1), with the given weights."""
    total = sum(w for w, _ in weighted)
    acc, parts = 0.0, []
    for weight, value in weighted[:-1]:
        acc += weight / total
        parts.append(f"WHEN {u} < {acc:.6f} THEN {_lit(value)}")
    return f"CASE {' '.join(parts)} ELSE {_lit(weighted[-1][1])} END"


def days_sql(u: str, low: int, high: int) -> str:
    """SQL: a whole number of days from `low` to `high` by a uniform number `u`."""
    return f"CAST({low} + floor({u} * {high - low + 1}) AS INTEGER)"


def release_1_spellings(con: duckdb.DuckDBPyConnection) -> dict[str, dict[str, str | None]]:
    """For each generated column (of `pp` or `e`), Release 2 value -> the spec's Release 1 value (None where
    Release 1 had none).

    Raises:
        ValueError: a generated value is not in its spec list (the generator and the spec disagree).
    """
    from ascld.spec import load_spec

    spec = load_spec()
    mapping: dict[str, dict[str, str | None]] = {}
    for column, list_name in SPEC_LISTS.items():
        lst = spec.lists[list_name]
        back: dict[str, str] = {}
        for r1 in lst.r1_values:  # the spec's order: the canonical spelling first
            r2 = lst.r1_to_r2.get(r1) or lst.r2_by_fold().get(r1.rstrip().casefold())
            if r2 is not None:
                back.setdefault(r2, r1)
        table = "pp" if column in PERSON_COLUMNS else "e"
        used = {v for (v,) in con.execute(f"SELECT DISTINCT {column} FROM {table}").fetchall() if v is not None}
        unknown = sorted(used - set(lst.r2_values))
        if unknown:
            raise ValueError(f"benchmark store: {column} values not in the spec list {list_name}: {unknown}")
        mapping[column] = {v: back.get(v) for v in sorted(used)}
    route = set(spec.lists["request_route_of_access"].r1_values)
    bad = sorted(v for _, v in ROUTES if v not in route)
    if bad:
        raise ValueError(f"benchmark store: routes of access not in the spec: {bad}")
    return mapping


def _to_release_1(column: str, mapping: dict[str, str | None]) -> str:
    cases = " ".join(f"WHEN {_lit(r2)} THEN {_lit(r1)}" for r2, r1 in mapping.items())
    return f"CASE {column} {cases} END"


def _people_sql(councils: int, people: int, first: dt.date, span: int, seed: str) -> str:
    """One row per person: council, release, journey, attributes, and the uniforms the events use."""

    def u(tag: str) -> str:
        return f"((hash(p, '{tag}{seed}') % 1000003) / 1000003.0)"

    carer = "p % 7 = 0"
    return f"""
        CREATE TABLE pp AS
        SELECT p AS person, p % {councils} AS la,
               (p % {councils}) % {RELEASE_1_EVERY} = {RELEASE_1_EVERY - 1} AS r1,
               CASE WHEN {carer} THEN 4 WHEN {u("j")} < 0.30 THEN 0 WHEN {u("j")} < 0.55 THEN 1
                    WHEN {u("j")} < 0.75 THEN 2 ELSE 3 END AS journey,
               DATE '{first}' + {days_sql(u("s0"), 0, span)} AS s0,
               {u("d0")} AS d0, {u("d1")} AS d1, {u("d2")} AS d2,
               {u("g1")} AS g1, {u("g2")} AS g2,
               {u("o0")} AS o0, {u("o1")} AS o1, {u("o2")} AS o2,
               {u("k0")} AS k0, {u("k2")} AS k2, {u("c0")} AS c0, {u("c2")} AS c2,
               {u("m0")} AS m0, {u("m2")} AS m2, {u("death")} AS udeath,
               {pick_sql(u("gender"), GENDERS)} AS gender,
               {pick_sql(u("ethnicity"), ETHNICITIES)} AS ethnicity,
               CASE WHEN {carer} THEN 'Unpaid carer' ELSE 'Service user' END AS client_type,
               CASE WHEN NOT ({carer}) THEN {pick_sql(u("psr"), SUPPORT_REASONS)} END AS psr,
               {pick_sql(u("accommodation"), ACCOMMODATION)} AS accommodation,
               {pick_sql(u("employment"), EMPLOYMENT)} AS employment,
               CASE WHEN NOT ({carer}) THEN {pick_sql(u("carer"), UNPAID_CARER)} END AS unpaid_carer
        FROM range({people}) t(p)
    """


def _events_sql() -> str:
    """Three events per person, chained in time by journey:

    0 assessed into long-term support: request -> assessment -> long-term service (often still open);
    1 reablement: request -> ST-Max -> long-term community support (when the ST-Max progressed to it) or a
      later request;
    2 information and advice: request (NFA) -> a later request -> assessment;
    3 existing long-term client: long-term service -> review -> short-term service (ST-Max, other short
      term or ongoing low level);
    4 unpaid carer: request -> assessment -> carer support service.
    """
    lt_type = (
        "CASE WHEN k0 < 0.70 THEN 'Long term support: Community' WHEN k0 < 0.88 "
        "THEN 'Long term support: Residential care' ELSE 'Long term support: Nursing care' END"
    )
    reablement = _pick_bounds("o1", REABLEMENT_END)
    return f"""
        CREATE TABLE e AS
        WITH d AS (
            SELECT *,
                   CASE WHEN journey = 3 THEN s0 - 400 ELSE s0 END AS st0,
                   CASE WHEN journey = 3 AND o0 < 0.8 THEN NULL
                        WHEN journey = 3 THEN s0 - 400 + {days_sql("d0", 200, 700)}
                        ELSE s0 + {days_sql("d0", 0, 14)} END AS e0,
                   CASE journey WHEN 2 THEN e0 + {days_sql("g1", 90, 400)} WHEN 3 THEN st0 + {days_sql("g1", 180, 540)}
                        ELSE e0 + {days_sql("g1", 0, 5)} END AS st1,
                   CASE journey WHEN 2 THEN st1 + {days_sql("d1", 0, 14)} WHEN 3 THEN st1 + {days_sql("d1", 1, 14)}
                        ELSE st1 + {days_sql("d1", 7, 42)} END AS e1,
                   CASE journey WHEN 1 THEN (CASE WHEN o1 < 0.30 THEN e1 + {days_sql("g2", 0, 3)}
                                                  ELSE e1 + {days_sql("g2", 60, 400)} END)
                        WHEN 3 THEN st1 + {days_sql("g2", 30, 300)}
                        ELSE e1 + {days_sql("g2", 0, 5)} END AS st2,
                   CASE WHEN journey = 0 AND o2 < 0.65 THEN NULL
                        WHEN journey = 1 AND o1 < 0.30 AND o2 < 0.65 THEN NULL
                        WHEN journey = 4 AND o2 < 0.40 THEN NULL
                        WHEN journey = 0 OR (journey = 1 AND o1 < 0.30) THEN st2 + {days_sql("d2", 60, 600)}
                        WHEN journey = 4 THEN st2 + {days_sql("d2", 90, 365)}
                        WHEN journey = 3 AND k2 < 0.40 THEN st2 + {days_sql("d2", 7, 42)}
                        WHEN journey = 3 THEN st2 + {days_sql("d2", 14, 60)}
                        ELSE st2 + {days_sql("d2", 0, 14)} END AS e2,
                   {reablement} AS reablement_outcome
            FROM pp
        ),
        events AS (
            SELECT person, 0 AS ev, CASE WHEN journey = 3 THEN 'Service' ELSE 'Request' END AS event_type,
                   st0 AS start_date, e0 AS end_date,
                   CASE journey WHEN 0 THEN 'Progress to assessment, review or reassessment'
                        WHEN 1 THEN 'Progress to reablement/ST-Max' WHEN 2 THEN {pick_sql("o0", REQUEST_NFA)}
                        WHEN 3 THEN {pick_sql("o2", LONG_TERM_END)}
                        ELSE (CASE WHEN o0 < 0.3 THEN 'NFA: Information and advice or signposting'
                                   ELSE 'Progress to assessment, review or reassessment' END) END AS outcome,
                   CASE WHEN journey = 3 THEN {lt_type} END AS service_type,
                   k0 AS k, c0 AS c, m0 AS m
            FROM d
            UNION ALL
            SELECT person, 1, CASE journey WHEN 1 THEN 'Service' WHEN 2 THEN 'Request' WHEN 3 THEN 'Review'
                                  ELSE 'Assessment' END,
                   st1, e1,
                   CASE journey WHEN 0 THEN 'Progress to support planning or services' WHEN 1 THEN reablement_outcome
                        WHEN 2 THEN 'Progress to assessment, review or reassessment'
                        WHEN 3 THEN (CASE WHEN o1 < 0.85 THEN 'Continuation of support or services'
                                          ELSE 'Progress to support planning or services' END)
                        ELSE (CASE WHEN o1 < 0.8 THEN 'Progress to support planning or services'
                                   ELSE 'NFA: Information and advice or signposting' END) END,
                   CASE WHEN journey = 1 THEN 'Short term support: ST-Max' END, 0.0, 0.0, 0.0
            FROM d
            UNION ALL
            SELECT person, 2,
                   CASE WHEN journey = 1 AND o1 >= 0.30 THEN 'Request' WHEN journey = 2 THEN 'Assessment'
                        ELSE 'Service' END,
                   st2, e2,
                   CASE WHEN journey = 1 AND o1 >= 0.30 THEN (CASE WHEN o2 < 0.5
                             THEN 'NFA: Information and advice or signposting'
                             ELSE 'Progress to assessment, review or reassessment' END)
                        WHEN journey = 2 THEN (CASE WHEN o2 < 0.4 THEN 'Progress to support planning or services'
                             WHEN o2 < 0.7 THEN 'NFA: No services offered for other reason'
                             ELSE 'NFA: Self-funded client or under 12wk disregard' END)
                        WHEN journey IN (0, 1) THEN {pick_sql("o0", LONG_TERM_END)}
                        WHEN journey = 3 AND k2 < 0.40 AND o2 < 0.4 THEN 'Continuation of support or services'
                        ELSE 'NFA: Support ended as planned' END,
                   CASE WHEN journey = 0 THEN {lt_type.replace("k0", "k2")}
                        WHEN journey = 1 AND o1 < 0.30 THEN 'Long term support: Community'
                        WHEN journey = 3 AND k2 < 0.40 THEN 'Short term support: ST-Max'
                        WHEN journey = 3 AND k2 < 0.85 THEN 'Short term support: Other short term'
                        WHEN journey = 3 THEN 'Short term support: Ongoing low level'
                        WHEN journey = 4 AND k2 < 0.80 THEN 'Unpaid carer support: Direct to unpaid carer'
                        WHEN journey = 4 THEN 'Unpaid carer support: Support involving the person cared-for'
                   END,
                   k2, c2, m2
            FROM d
        ),
        detailed AS (
            SELECT *,
                   CASE service_type
                        WHEN 'Long term support: Community' THEN {pick_sql("c", COMMUNITY_COMPONENTS)}
                        WHEN 'Long term support: Residential care' THEN 'Long term residential care'
                        WHEN 'Long term support: Nursing care' THEN 'Long term nursing care'
                        WHEN 'Short term support: ST-Max' THEN 'Reablement'
                        WHEN 'Short term support: Other short term' THEN (CASE WHEN c < 0.5 THEN 'Equipment'
                             WHEN c < 0.8 THEN 'Short term residential care' ELSE 'Other short term support' END)
                        WHEN 'Short term support: Ongoing low level' THEN 'Equipment'
                        WHEN 'Unpaid carer support: Direct to unpaid carer' THEN (CASE WHEN c < 0.35
                             THEN 'Direct payment' WHEN c < 0.70 THEN 'Unpaid carer respite'
                             ELSE 'Other unpaid carer support' END)
                        WHEN 'Unpaid carer support: Support involving the person cared-for'
                             THEN 'Unpaid carer respite'
                   END AS component
            FROM events
        )
        SELECT person, ev, event_type, start_date, end_date, outcome, service_type, component,
               CASE WHEN service_type IS NULL THEN NULL
                    WHEN component = 'Direct payment' THEN 'Direct payment'
                    WHEN service_type IN ('Long term support: Community',
                                          'Unpaid carer support: Direct to unpaid carer')
                         AND m < 0.20 THEN 'CASSR managed personal budget'
                    WHEN service_type = 'Long term support: Community' AND m < 0.32 THEN 'Direct payment'
                    ELSE 'CASSR commissioned support' END AS mechanism,
               CASE WHEN event_type = 'Assessment'
                    THEN {pick_sql("((hash(person, ev, 'assessment') % 1000003) / 1000003.0)", ASSESSMENT_TYPES)}
               END AS assessment_type,
               k AS u
        FROM detailed
    """


def _pick_bounds(u: str, bounded: tuple[tuple[float, str], ...]) -> str:
    parts = " ".join(f"WHEN {u} < {bound} THEN {_lit(value)}" for bound, value in bounded[:-1])
    return f"CASE {parts} ELSE {_lit(bounded[-1][1])} END"


def _column_sql(name: str, kind: str, councils: int) -> str:
    """The SELECT expression of one store column over events `e`, people `p`, councils `c` and file `q`."""
    linked = f"CASE WHEN p.journey = 4 THEN md5('p' || CAST(p.person + {councils} AS VARCHAR)) END"
    # main-tables.md §0: FLOOR(DATEDIFF(DAY, proxy date of birth, date) / 365.25), the proxy being the 1st of
    # the birth month (Der_Birth_Year and Der_Birth_Month below).
    proxy_dob = "make_date(1925 + p.person % 80, 1 + p.person % 12, 1)"

    def age(at: str) -> str:
        return f"floor(datediff('day', {proxy_dob}, {at}) / 365.25)"

    known = {
        "LA_Code": "c.la_code",
        "LA_Name": "c.la_name",
        "ImportDate": "q.imported",
        "ImportFileId": "c.la_code || '-' || CAST(q.k AS VARCHAR)",
        "Reporting_Period_Start_Date": "q.window_start",
        "Reporting_Period_End_Date": "q.quarter_end",
        "Der_NHS_Number_Traced_Pseudo": "CASE WHEN p.person % 10 < 8 THEN md5('t' || p.person::VARCHAR) END",
        "Der_NHS_Number_Pseudo": "CASE WHEN p.person % 10 = 8 THEN md5('n' || p.person::VARCHAR) END",
        "LA_Person_Unique_Identifier": "md5('p' || CAST(p.person AS VARCHAR))",
        "Der_Birth_Year": "CAST(1925 + p.person % 80 AS INTEGER)",
        "Der_Birth_Month": "CAST(1 + p.person % 12 AS INTEGER)",
        "Der_Age_Event_Start_Date": age("e.start_date"),
        "Der_Age_Reporting_Period_End_Date": age("q.quarter_end"),
        "Date_of_Death": "CASE WHEN p.death <= q.quarter_end THEN p.death END",
        "Gender": "p.gender",
        "Ethnicity": "p.ethnicity",
        "Client_Type": "p.client_type",
        "Primary_Support_Reason": "p.psr",
        "Accommodation_Status": "p.accommodation",
        "Employment_Status": "p.employment",
        "Has_Unpaid_Carer": "p.unpaid_carer",
        "Event_Type": "e.event_type",
        "Event_Start_Date": "e.start_date",
        "Event_End_Date": "CASE WHEN e.end_date <= q.quarter_end THEN e.end_date END",
        "Event_Outcome": "CASE WHEN e.end_date <= q.quarter_end THEN e.outcome END",
        "Request_Route_of_Access": "CASE WHEN e.event_type = 'Request' THEN e.route END",
        "Assessment_Type": "e.assessment_type",
        "Service_Type": "e.service_type",
        "Service_Component": "e.component",
        "Delivery_Mechanism": "e.mechanism",
        "Unit_Cost": "CASE WHEN e.event_type = 'Service' THEN round(e.u * 500, 3) END",
        "Cost_Frequency_Unit_Type": "CASE WHEN e.event_type = 'Service' THEN 'Weekly' END",
        "Planned_units_per_week": "CASE WHEN e.event_type = 'Service' THEN 1.0 END",
        "Adult_1_Linked_Person_ID": linked,
        "Der_Unique_Record_ID": "q.first_record_id + row_number() OVER ()",
        "Der_Conversation": "CAST(p.person % 2 AS INTEGER)",
    }
    sql_type = {
        "string": "VARCHAR",
        "timestamp": "TIMESTAMP",
        "date": "DATE",
        "int32": "INTEGER",
        "int64": "BIGINT",
        "float64": "DOUBLE",
    }[kind]
    return f'CAST({known.get(name, "NULL")} AS {sql_type}) AS "{name}"'


def _councils_sql(councils: int) -> str:
    """Council index -> LA code and name: the synthetic councils of `ascld synth` (so the bundled synthetic
    LA lookup and population estimates cover them), then made-up codes beyond them."""
    from ascld.synth import load_councils

    known = list(load_councils())
    rows = [f"({i}, {_lit(c.la_code)}, {_lit(c.la_name)})" for i, c in enumerate(known[:councils])] + [
        f"({i}, 'Z{i:03d}', 'Council {i}')" for i in range(len(known), councils)
    ]
    return f"CREATE TABLE c AS SELECT * FROM (VALUES {', '.join(rows)}) t(la, la_code, la_name)"


def make_store(folder: Path, councils: int, people: int, quarters: int, seed: float = 0.42) -> dict:
    """Write the synthetic store (one Parquet file per quarter's files) and return its size figures.

    People are spread evenly over the councils (the first 153 are the synthetic councils of `ascld synth`,
    with their LA codes). Each person has three events chained in time by a journey (`_events_sql`) and
    attributes from weighted lists; every `RELEASE_1_EVERY`-th council writes Release 1 values. Each quarter's
    file of a council repeats every event whose dates overlap its 12-month window (open events end in a
    later file; end dates and outcomes after the quarter end are not yet known). Values come from hashes of
    the person number and `seed`, so a store is the same whatever the thread count.
    """
    from ascld.national.main_tables import national_store_schema

    folder.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    ends = quarter_ends(quarters)
    first = ends[0].replace(day=1) - dt.timedelta(days=365 * 2)
    span = (ends[-1] - first).days
    tag = f"/{seed}"
    con.execute(_councils_sql(councils))
    con.execute(_people_sql(councils, people, first, span, tag))
    con.execute(_events_sql())
    route = pick_sql(f"((hash(person, ev, 'route{tag}') % 1000003) / 1000003.0)", ROUTES)
    con.execute(f"ALTER TABLE e ADD COLUMN route VARCHAR; UPDATE e SET route = {route}")
    # Deaths: after an ST-Max or long-term service that ended with `NFA: Deceased`, else 1 in 50 people
    # some time after their first event.
    con.execute(f"""
        ALTER TABLE pp ADD COLUMN death DATE;
        UPDATE pp SET death = d.death FROM (
            SELECT person, min(end_date) AS death FROM e WHERE outcome = 'NFA: Deceased' GROUP BY person
        ) d WHERE pp.person = d.person;
        UPDATE pp SET death = s0 + {days_sql("udeath", 30, 700)} WHERE death IS NULL AND udeath < 0.02;
    """)
    spellings = release_1_spellings(con)
    for column in PERSON_COLUMNS:
        con.execute(f"UPDATE pp SET {column} = {_to_release_1(column, spellings[column])} WHERE r1")
    con.execute(f"""
        UPDATE e SET outcome = {_to_release_1("outcome", spellings["outcome"])},
                     service_type = {_to_release_1("service_type", spellings["service_type"])},
                     component = {_to_release_1("component", spellings["component"])},
                     mechanism = {_to_release_1("mechanism", spellings["mechanism"])},
                     assessment_type = {_to_release_1("assessment_type", spellings["assessment_type"])}
        FROM pp WHERE pp.person = e.person AND pp.r1
    """)
    select = ", ".join(_column_sql(n, str(t).split("(")[0], councils) for n, t in national_store_schema().items())
    rows = 0
    for k, qe in enumerate(ends):
        window = dt.date(qe.year - 1, qe.month, 1) + dt.timedelta(days=32)
        window = window.replace(day=1)
        imported = dt.datetime(qe.year, qe.month, 1) + dt.timedelta(days=75, hours=9)
        con.execute(f"""
            CREATE OR REPLACE TEMP VIEW q AS SELECT {k} AS k, DATE '{qe}' AS quarter_end,
                DATE '{window}' AS window_start, TIMESTAMP '{imported}' AS imported,
                {rows} AS first_record_id
        """)
        path = folder / f"quarter_{k}.parquet"
        con.execute(f"""
            COPY (SELECT {select} FROM e JOIN pp p ON p.person = e.person JOIN c ON c.la = p.la, q
                  WHERE e.start_date <= q.quarter_end
                    AND (e.end_date IS NULL OR e.end_date >= q.window_start))
            TO '{path}' (FORMAT parquet, ROW_GROUP_SIZE 122880)
        """)
        rows += con.execute(f"SELECT count(*) FROM read_parquet('{path}')").fetchall()[0][0]
    size = sum(p.stat().st_size for p in folder.glob("*.parquet"))
    return {"rows": rows, "bytes": size, "quarter_ends": [str(x) for x in ends], "seed": seed}


def phase_scan(store: str) -> dict:
    """Bare scan: read every column of every row once."""
    from ascld.national.main_tables import national_store_schema

    con = duckdb.connect()
    con.execute(f"SET memory_limit = '{MEMORY_LIMIT}'")
    cols = ", ".join(f'min("{c}")' for c in national_store_schema().names)
    t = time.perf_counter()
    con.execute(f"SELECT count(*), {cols} FROM read_parquet('{store}/*.parquet')").fetchall()
    return {"seconds": time.perf_counter() - t}


def phase_build(store: str, work: str, mode: str, start: str, end: str, as_of: str) -> dict:
    from ascld.engine import connect
    from ascld.national.main_tables import BuildParams, build_main_tables

    work_dir = Path(work) / mode
    work_dir.mkdir(parents=True, exist_ok=True)
    con = connect(
        "duckdb", path=work_dir / "build.duckdb", memory_limit=MEMORY_LIMIT, temp_directory=work_dir / "spill"
    )
    params = BuildParams(mode, dt.date.fromisoformat(start), dt.date.fromisoformat(end), dt.date.fromisoformat(as_of))
    t = time.perf_counter()
    result = build_main_tables(store, params, con=con, out_dir=work_dir / "out", hash_inputs=False)
    return {
        "seconds": time.perf_counter() - t,
        "row_counts": result.row_counts,
        "table": result.table_name,
        "main_table": str(result.outputs["main_table"]),
    }


def phase_store(folder: str, councils: int, people: int, quarters: int) -> dict:
    """`make_store` timed, for `run_child` (so its memory is its own)."""
    t = time.perf_counter()
    made = make_store(Path(folder), councils, people, quarters)
    return made | {"seconds": time.perf_counter() - t}


PHASES = {"store": phase_store, "scan": phase_scan, "build": phase_build}


def run_child(phase: str, *args: object) -> dict:
    """Run a phase in a fresh Python process; return its figures plus its own peak RSS."""
    code = (
        "import json, sys; sys.path.insert(0, sys.argv[1]); import national as b; "
        "r = b.PHASES[sys.argv[2]](*json.loads(sys.argv[3])); "
        "from rss import peak_rss_mb; r['peak_rss_mb'] = peak_rss_mb(); print(json.dumps(r))"
    )
    proc = subprocess.run(
        [sys.executable, "-c", code, str(HERE), phase, json.dumps(list(args))],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise SystemExit(f"benchmark phase {phase} failed:\n{proc.stderr[-4000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--councils", type=int, default=153)
    ap.add_argument("--people", type=int, default=150_000, help="people in the store (national: 1,500,000)")
    ap.add_argument("--quarters", type=int, default=8)
    ap.add_argument("--work", type=Path, default=None, help="working folder (default: a temporary one)")
    ap.add_argument("--out", type=Path, default=OUT)
    args = ap.parse_args()
    work = args.work or Path(tempfile.mkdtemp(prefix="ascld-bench-national-"))
    store = work / "store"

    t = time.perf_counter()
    made = make_store(store, args.councils, args.people, args.quarters)
    made["seconds"] = time.perf_counter() - t
    print(
        f"store: {made['rows']:,} rows, {made['bytes'] / 1e6:.0f} MB, {args.councils} councils, "
        f"{args.people:,} people, {args.quarters} quarters (made in {made['seconds']:.1f}s)"
    )

    scan = run_child("scan", str(store))
    print(f"baseline bare scan: {scan['seconds']:.2f}s, peak RSS {scan['peak_rss_mb']:.0f} MB")

    ends = [dt.date.fromisoformat(x) for x in made["quarter_ends"]]
    last = ends[-1]
    as_of = (last + dt.timedelta(days=90)).isoformat()
    single_start = (dt.date(last.year - 1, last.month, 1) + dt.timedelta(days=32)).replace(day=1)
    joined_start = (dt.date(ends[0].year - 1, ends[0].month, 1) + dt.timedelta(days=32)).replace(day=1)
    builds = {}
    for mode, start in (("joined", joined_start), ("single", single_start)):
        res = run_child("build", str(store), str(work), mode, start.isoformat(), last.isoformat(), as_of)
        res["ratio_to_scan"] = res["seconds"] / scan["seconds"]
        builds[mode] = res
        print(
            f"{mode:<6} {res['table']}: {res['seconds']:.2f}s = {res['ratio_to_scan']:.1f} x scan, "
            f"peak RSS {res['peak_rss_mb']:.0f} MB ({res['peak_rss_mb'] / 1024:.2f} GB; target <= 8 GB), "
            f"{res['row_counts']['main_table']:,} rows out"
        )

    report = {
        "benchmark": "national main tables",
        "machine": platform.platform(),
        "cpus": os.cpu_count(),
        "duckdb_memory_limit": MEMORY_LIMIT,
        "store": made,
        "parameters": vars(args) | {"work": str(work)},
        "baseline_scan": scan,
        "builds": builds,
        "peak_rss_mb_children": resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024,
        "target_peak_rss_gb": 8,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
