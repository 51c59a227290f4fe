"""Differential test: ascld's dashboard tables and waiting times against an independent plain-Python reference
(dashboard_reference.py, written from dashboard.md alone).

Seeded random main tables, deliberately messy, are run through `compute_dashboard` and through the reference:
several councils; people with requests followed by assessments and services at gaps of 0 days to months, ties on
the start date (and on the import date); existing clients whose long- or short-term services end on, just before
and just after the 12- and 3-month look-backs (month ends and a leap day included); ages 23-26 around the minimum
of 25; requests either side of 2023-04-01, 2024-04-01 and 2025-07-01 (the conversation override's end);
conversation flags; NULL outcomes, types, ages, ends and import dates; code values in mixed case and with
trailing spaces; twins (the same event again, spelled differently); people in two councils; scripted sequences
for the assessment blocks and the three overlap rules; services on the edges of the costs quarter. Every
request's links and waits, every median and count, every context count, the request, assessment and review facts
(`LTS_Flag`, `Event_Count`), the services and costs facts, the master table's aliases, the dimensions, the DQ
values and the calendar must agree; a GROUP BY must not split values that compare equal under SQL Server's
collation. The expected values come from the reference only.
"""

from __future__ import annotations

import datetime as dt
import math
import random
from collections import Counter

import ibis
import pyarrow as pa
import pytest
from dashboard_reference import (
    ALIASES,
    COSTS_FACT_COLUMNS,
    EVENT_FACT_COLUMNS,
    SERVICES_FACT_COLUMNS,
    age_band_dimension,
    calendar,
    costs_fact,
    distinct_dimension,
    dq_values,
    event_fact,
    group_key,
    master_table,
    norm,
    services_fact,
    waiting_times,
)

from ascld.measures.dashboard import (
    build_calendar,
    compute_dashboard,
    main_table_from_records,
    waiting_time_medians,
)

D = dt.date.fromisoformat
PERSON = "Der_NHS_LA_Combined_Person_ID"
PERIOD = (D("2025-04-01"), D("2026-03-31"))
QUARTER = (D("2026-01-01"), D("2026-03-31"))
COUNCILS = {"101": "Northshire", "202": "Southby", "303": "Eastwick"}

EVENT_TYPES = {
    "Request": ["Request", "Request", "REQUEST", "request ", "Request"],
    "Assessment": ["Assessment", "Assessment", "assessment", "ASSESSMENT "],
    "Service": ["Service", "Service", "service", "SERVICE "],
    "Review": ["Review", "review "],
}
ASSESSMENT_TYPES = [
    "Long term assessment", "Long term assessment", "Short term assessment", "long term assessment ",
    "SHORT TERM ASSESSMENT", "Financial assessment", "Invalid and not mapped", None,
]  # fmt: skip
LONG_TERM = [
    "Long term support: Nursing care", "Long term support: Residential care", "Long term support: Community",
    "Long term support: Prison",
]  # fmt: skip
SHORT_TERM = ["Short term support: ST-Max", "Short term support: Other short term",
              "Short term support: Ongoing low level"]  # fmt: skip
OTHER_SERVICES = ["Unpaid carer support: Direct to unpaid carer", "Invalid and not mapped", None]
ASSESSMENT_PROGRESS = [
    "Progress to reablement/ST-Max", "Progress to support planning or services", "Continuation of support or services",
]  # fmt: skip
REQUEST_PROGRESS = [
    "Progress to reablement/ST-Max", "Progress to assessment, review or reassessment",
    "Progress to support planning or services", "Continuation of support or services",
    "Release 1 specification only: Not mapped",
]  # fmt: skip
NFA = ["NFA: Support declined", "NFA: Other", "NFA: Information and advice or signposting"]
CLIENT_TYPES = ["Service user"] * 6 + ["Service User", "SERVICE USER ", "Unpaid carer", "Carer", None]
FREQUENCIES = [
    "Weekly", "weekly ", "Fortnightly", "4-weekly", "4-Weekly", "Monthly", "MONTHLY", "Quarterly", "Annually",
    "Hourly", "Daily", "Per session", "One-off", "one-off ", "ONE-OFF", "No charge to client", None,
]  # fmt: skip
GENDERS = ["Male", "Female", "male", "FEMALE ", "Unknown", None]
ETHNICITIES = ["White: English, Welsh, Scottish, Northern Irish or British", "Asian or Asian British: Indian", None]
PSRS = [
    "Physical support: Personal care support",
    "physical support: personal care support",
    "Memory and cognition support",
]
IMPORTS = [dt.datetime(2024, 5, 1, 9), dt.datetime(2024, 5, 1, 9), dt.datetime(2025, 1, 10, 14), None]
# request dates on the boundaries the method tests: the first CLD day, the first reported quarter, the
# conversation override's end, month ends and a leap day (for the calendar-month look-backs)
REQUEST_DAYS = [
    "2023-03-31", "2023-04-01", "2023-06-30", "2024-02-29", "2024-03-31", "2024-04-01", "2024-05-31",
    "2024-08-31", "2024-12-31", "2025-02-28", "2025-03-31", "2025-06-30", "2025-07-01", "2025-11-30",
]  # fmt: skip


def _band(age):
    if age is None:
        return "Unknown"
    return "Under 18" if age < 18 else "18 to 64" if age < 65 else "65 and above"


def _age_band(age):
    if age is None:
        return "Unknown"
    for top, band in ((18, "Under 18"), (25, "18 to 24"), (45, "25 to 44"), (65, "45 to 64"), (75, "65 to 74")):
        if age < top:
            return band
    return "75 to 84" if age < 85 else "85 to 94" if age < 95 else "95 and above"


def _months(d, n):
    """d shifted n calendar months, clamped (an independent copy for the generator)."""
    y, m = divmod(d.year * 12 + d.month - 1 + n, 12)
    day = d.day
    while True:
        try:
            return dt.date(y, m + 1, day)
        except ValueError:
            day -= 1


def _outcome_fields(rng, kind, *, progress):
    """Outcome columns of a scripted request or assessment that does (or does not) progress."""
    if kind == "Request":
        outcome = rng.choice(REQUEST_PROGRESS) if progress else rng.choice(NFA)
    else:
        outcome = rng.choice(ASSESSMENT_PROGRESS) if progress else rng.choice([*NFA, *REQUEST_PROGRESS[1:2]])
    grouped = "NFA" if outcome.startswith("NFA") else outcome
    return {"Event_Outcome_Cleaned": outcome, "Event_Outcome_Grouped": grouped}


def _conversation():
    return {"Der_Conversation": 1, "_outcome": 1, "_progress": True}


_NO = {"_outcome": 1, "_progress": False}
_YES = {"_outcome": 1, "_progress": True}
#: event scripts that exercise the linking rules of §7.3: assessment blocks (§7.2), part-2 suppression and the
#: three overlap rules (a), (b), (c); their dates, ties, types and ages are still random
SCRIPTS = [
    [("Request", {}), ("Assessment", _NO), ("Assessment", _YES), ("Service", {})],
    [("Request", {}), ("Assessment", _NO), ("Assessment", _NO), ("Service", {})],
    [("Request", {}), ("Request", _conversation()), ("Request", {}), ("Assessment", {}), ("Service", {})],
    [("Request", _conversation()), ("Request", {}), ("Assessment", _NO), ("Service", {})],
    [("Request", {}), ("Assessment", _YES), ("Request", {}), ("Assessment", _NO), ("Request", {}), ("Service", {})],
    [("Request", {}), ("Service", {}), ("Request", {}), ("Assessment", _YES), ("Service", {}), ("Request", {})],
    [("Request", _conversation()), ("Assessment", {}), ("Request", _conversation()), ("Service", {})],
]


class World:
    """A seeded random joined/single main table."""

    def __init__(self, seed: int, people: int):
        self.rng = random.Random(seed)
        self.rows: list[dict] = []
        self.ids = list(range(1, 40 * people))
        self.rng.shuffle(self.ids)  # record ids not in row order, so the order ties are broken by them
        self.null_refs = 0
        for p in range(people):
            self.person(f"P{p:04d}")

    def row(self, la, person, kind, start, end=None, age=None, **fields):
        rng = self.rng
        if age is None and rng.random() < 0.9:
            age = self.base_age
        uid = self.ids.pop()
        ref = f"{la}_{uid}"
        if self.null_refs < 3 and rng.random() < 0.01:  # one NULL reference per event type at most
            kinds = {r["_kind"] for r in self.rows if r["Der_Unique_Event_Ref"] is None}
            if kind not in kinds:
                ref, self.null_refs = None, self.null_refs + 1
        band = _band(age)
        if rng.random() < 0.08:  # the band is at the latest age, which may differ from the age at the start
            band = rng.choice(["18 to 64", "65 and above", "Unknown", "Under 18"])
        row = {
            "_kind": kind,
            "LA_Code": la,
            "LA_Name": COUNCILS[la],
            "Ref_Period_Start_Date": D("2023-04-01"),
            "Ref_Period_End_Date": D("2026-03-31"),
            PERSON: person,
            "Event_Type": rng.choice(EVENT_TYPES[kind]),
            "Event_Start_Date": start,
            "Der_Event_End_Date": end,
            "Der_Unique_Event_Ref": ref,
            "Der_Unique_Record_ID": uid,
            "ImportDate": rng.choice(IMPORTS),
            "Client_Type_Cleaned": rng.choice(CLIENT_TYPES),
            "Gender_Cleaned": rng.choice(GENDERS),
            "Ethnicity_Cleaned": rng.choice(ETHNICITIES),
            "Primary_Support_Reason_Cleaned": rng.choice(PSRS),
            "Der_Age_Event_Start_Date": age,
            "Der_Working_Age_Band": band,
            "Der_Age_Band": _age_band(age),
            "Der_Conversation": rng.choice([0, 0, 1, None]),
            "Der_Conversation_1": rng.choice([0, 1, None]),
        }
        if kind == "Request":
            if rng.random() < 0.7:
                outcome = rng.choice(REQUEST_PROGRESS)
                grouped = outcome
            else:
                outcome = rng.choice([*NFA, "Admitted to hospital", None])
                grouped = rng.choice(["NFA", "nfa", "Admitted to hospital", "ADMITTED TO HOSPITAL ", None])
            if outcome and rng.random() < 0.3:
                outcome = rng.choice([outcome.upper(), outcome.lower() + " "])
            row.update(Event_Outcome_Cleaned=outcome, Event_Outcome_Grouped=grouped,
                       Request_Route_of_Access_Cleaned=rng.choice(["Self-referral", "Hospital", None]))  # fmt: skip
        elif kind == "Assessment":
            outcome = rng.choice([*REQUEST_PROGRESS, *NFA, None, "PROGRESS TO SUPPORT PLANNING OR SERVICES "])
            row.update(Assessment_Type_Cleaned=rng.choice(ASSESSMENT_TYPES), Event_Outcome_Cleaned=outcome,
                       Event_Outcome_Grouped=outcome and outcome.split(":")[0],
                       Eligible_Needs_Identified=rng.choice(["Yes", "No", None]))  # fmt: skip
        elif kind == "Review":
            row.update(Review_Reason_Cleaned=rng.choice(["Planned", "Unplanned", None]),
                       Review_Type=rng.choice(["Planned review", None]),
                       Event_Outcome_Cleaned=rng.choice(NFA))  # fmt: skip
        row.update(fields)
        if kind == "Service":
            service_type = row.get("Service_Type_Cleaned")
            grouped = None
            if service_type is not None:
                grouped = service_type.split(":")[0]
                if rng.random() < 0.3:
                    grouped = rng.choice([grouped.upper(), grouped.title(), grouped.lower() + " "])
                if rng.random() < 0.3:
                    row["Service_Type_Cleaned"] = rng.choice([service_type.upper(), service_type.lower() + " "])
            row.setdefault("Service_Type_Grouped", grouped)
            row.setdefault("Service_Component_Cleaned", rng.choice(["Home support or domiciliary care", "Reablement"]))
            row.setdefault("Delivery_Mechanism_Cleaned", rng.choice(["Direct payment", None]))
            row.setdefault("Cost_Frequency_Unit_Type_Cleaned", rng.choice(FREQUENCIES))
            row.setdefault("Unit_Cost", rng.choice([None, 0.0, 12.5, -300.0, 20.0, 99.99]))
            row.setdefault("Planned_Units_Per_Week", rng.choice([None, 0.0, 3.0, -2.0, 10.5]))
            row.setdefault("Event_Outcome_Cleaned", rng.choice(NFA + [None]))
        self.rows.append(row)
        return row

    def service(self, la, person, start, end, **fields):
        rng = self.rng
        service_type = rng.choice(LONG_TERM * 2 + SHORT_TERM * 2 + OTHER_SERVICES)
        return self.row(la, person, "Service", start, end, Service_Type_Cleaned=service_type, **fields)

    def person(self, person):
        rng = self.rng
        la = rng.choice(list(COUNCILS))
        self.base_age = rng.choice([23, 24, 25, 25, 26, 40, 64, 65, 80, 93, None])
        day = (
            D(rng.choice(REQUEST_DAYS))
            if rng.random() < 0.5
            else D("2023-02-01") + dt.timedelta(days=rng.randrange(0, 1100))
        )
        if rng.random() < 0.35:  # an earlier service ending near a look-back boundary of the first request
            months = rng.choice([12, 3])
            boundary = _months(day, -months)
            end = boundary + dt.timedelta(days=rng.choice([-1, 0, 0, 1]))
            if rng.random() < 0.15:
                end = None
            start = end - dt.timedelta(days=rng.choice([1, 30, 400])) if end else day - dt.timedelta(days=200)
            if rng.random() < 0.1:
                start = day  # starting on the request day does not make an existing client
            self.service(la, person, start, end)
        script = (
            rng.choice(SCRIPTS)
            if rng.random() < 0.5
            else [
                (rng.choices(["Request", "Assessment", "Service", "Review"], weights=[5, 3, 3, 1])[0], {})
                for _ in range(rng.choice([1, 2, 3, 4, 5, 7, 9]))
            ]
        )
        if any(fields.get("Der_Conversation") == 1 for _, fields in script) and rng.random() < 0.8:
            day = min(day, D("2025-06-20"))  # conversations count only before 2025-07-01
        if rng.random() < 0.1:  # a service on the edges of the costs quarter (§4)
            edges = [D("2025-12-31"), D("2026-01-01"), D("2026-03-31"), D("2026-04-01")]
            start = rng.choice([*edges, D("2025-06-01")])
            end = rng.choice([None, *[e for e in edges if e >= start]])
            self.service(la, person, start, end)
        if rng.random() < 0.1:  # the same person in another council: its services do not make them existing here
            other = rng.choice([c for c in COUNCILS if c != la])
            self.row(other, person, "Service", day - dt.timedelta(days=30), None,
                     Service_Type_Cleaned=rng.choice(LONG_TERM))  # fmt: skip
            self.row(other, person, "Request", day + dt.timedelta(days=rng.choice([0, 5])), None)
        scripted = script in SCRIPTS
        for kind, fields in script:
            fields = dict(fields)
            if scripted and kind == "Request":  # mostly valid, so that the linking rules are reached
                if "_outcome" not in fields and rng.random() < 0.85:
                    fields.update(_outcome=1, _progress=True)
                if rng.random() < 0.9:
                    fields["Client_Type_Cleaned"] = rng.choice(["Service user", "Service User", "SERVICE USER "])
            if fields.pop("_outcome", None) is not None:
                fields.update(_outcome_fields(rng, kind, progress=fields.pop("_progress")))
            start = day
            if kind != "Request" and rng.random() < 0.03:
                start = None
            age = self.base_age
            if age is not None and rng.random() < 0.1:
                age = age + rng.choice([-1, 1])  # crossing 25 between events
            if kind == "Service":
                end = rng.choice([None, day, day + dt.timedelta(days=rng.choice([7, 45, 200]))])
                self.service(la, person, start, end, age=age, **fields)
            else:
                end = day + dt.timedelta(days=rng.choice([0, 2, 20]))
                self.row(la, person, kind, start, end, age=age, **fields)
            if rng.random() < 0.04:  # a twin: the same event again under another id, spelled differently
                twin = dict(self.rows[-1], Der_Unique_Record_ID=self.ids.pop())
                twin["Der_Unique_Event_Ref"] = f"{la}_{twin['Der_Unique_Record_ID']}"
                for column, value in twin.items():
                    if isinstance(value, str) and column not in ("LA_Code", "LA_Name", PERSON, "_kind"):
                        twin[column] = rng.choice([value.upper(), value.lower() + " ", value])
                self.rows.append(twin)
            day = day + dt.timedelta(days=rng.choice([0, 0, 1, 3, 9, 30, 95, 250]))

    def table(self):
        return main_table_from_records(self.records())

    def dq_codes(self):
        """Per-record DQ codes (§6) for most records (and one record not in the table) of some fields."""
        fields = ["LA_Code", "Reporting_Period_End_Date", "NHS_Number", "Gender", "Client_Type", "Date_of_Death",
                  "Event_Type", "Event_End_Date", "Event_Description", "Event_Outcome", "Request_Route_of_Access",
                  "Eligible_Needs_Identified", "Service_Type", "Unit_Cost", "Planned_units_per_week"]  # fmt: skip
        rng = random.Random(len(self.rows))
        out = []
        for uid in [r["Der_Unique_Record_ID"] for r in self.rows if rng.random() < 0.9] + [10**9]:
            row = {"Der_Unique_Record_ID": uid}
            for field in fields:
                row[f"cond_{field}"] = rng.choice([2, 2, 1, 0, -1, 3, None])
                row[f"chk_{field}"] = rng.choice([5, 1, 1, 0, -1, -2, -4, -6, -7, -8, None])
            out.append(row)
        return out

    def records(self):
        return [{k: v for k, v in r.items() if k != "_kind"} for r in self.rows]


def _diff(name, want: dict, got: dict, limit: int = 15) -> list[str]:
    """Readable differences between two dicts (reference `want`, implementation `got`)."""
    lines = []
    for key in sorted(set(want) | set(got), key=repr):
        w, g = want.get(key, "<absent>"), got.get(key, "<absent>")
        if w != g:
            lines.append(f"{name} {key}:\n    reference      {w}\n    implementation {g}")
    if len(lines) > limit:
        lines = [*lines[:limit], f"... and {len(lines) - limit} more"]
    return lines


LINK_FIELDS = (
    "Der_Unique_Record_ID", "Request_Start_Date", "Request_Band", "Response_Order", "Response_Start_Date",
    "Response_Band", "Response_Event_Type", "Response_Assessment_Type", "Service_Order", "Service_Start_Date",
    "Service_Band", "Service_Type", "Overlap_Excluded", "Wait_First_Response", "Wait_First_Service",
)  # fmt: skip


def _clean(value):
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    return value


SEEDS = [11, 23, 37, 41]


@pytest.fixture(scope="module", params=SEEDS, ids=[f"seed{s}" for s in SEEDS])
def world(request):
    w = World(request.param, people=800)
    result = compute_dashboard(w.table(), w.table(), period=PERIOD, refresh_date=D("2026-05-01"),
                               all_waiting_periods=True, dq=pa.Table.from_pylist(w.dq_codes()))  # fmt: skip
    reference = waiting_times(w.records(), all_periods=True)
    return w, result, reference


def test_waiting_time_links(world):
    w, result, (links, _, _) = world
    want = {key: tuple(link[f] for f in LINK_FIELDS) for key, link in links.items()}
    got = {
        (r["LA_Code"], r[PERSON], r["Request_Order"]): tuple(_clean(r[f]) for f in LINK_FIELDS)
        for r in result.tables["waiting_links"].to_pylist()
    }
    assert sum(1 for v in want.values() if v[-2] is not None) > 120, "the world links too few requests"
    problems = _diff("link", want, got)
    assert not problems, "\n".join(problems)


def _grouped(rows, key, value, name) -> tuple[dict, list[str]]:
    """Implementation rows keyed by `key(row)` (strings `norm`-ed), and the keys that occur more than once:
    values equal under the collation are one group in SQL Server, so such keys are differences too."""
    out, seen, problems = {}, Counter(), []
    for r in rows:
        k = key(r)
        seen[k] += 1
        out[k] = value(r)
    for k, n in seen.items():
        if n > 1:
            problems.append(f"{name} {k}: {n} rows for values that compare equal (one group in SQL Server)")
    return out, problems


def test_waiting_time_medians(world):
    w, result, (_, medians, _) = world
    got, problems = _grouped(
        result.tables["waiting_medians"].to_pylist(),
        lambda r: (r["LA_Code"], r["Metric"], r["Period_Start"], r["Period_End"], norm(r["Age_Band"])),
        lambda r: (r["Median_Waiting_Time"], r["Number_Of_Waiting_Times_Identified"]),
        "median",
    )
    assert any(n % 2 == 0 and n > 1 for _, n in medians.values()), "no even-sized group"
    problems += _diff("median", medians, got)
    assert not problems, "\n".join(problems)
    # §7.4: the dashboard's own output starts from the statistical period 2024-04-01
    shown = waiting_time_medians(ibis.memtable(result.tables["waiting_links"])).to_pyarrow().to_pylist()
    assert {k for k in medians if k[2] >= D("2024-04-01")} == {
        (r["LA_Code"], r["Metric"], r["Period_Start"], r["Period_End"], norm(r["Age_Band"])) for r in shown
    }


def test_waiting_time_context(world):
    w, result, (_, _, context) = world
    got, problems = _grouped(
        result.tables["waiting_context"].to_pylist(),
        lambda r: (
            norm(r["LA_Code"]),
            norm(r["Modified_Working_Age_Band"]),
            r["Period_Start"],
            r["Event_Type_Cleaned"],
            norm(r["Event_Detail"]),
        ),  # fmt: skip
        lambda r: r["Event_Count"],
        "context",
    )
    problems += _diff("context", dict(context), got)
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(("kind", "key"), [("Request", "requests"), ("Assessment", "assessments"),
                                           ("Review", "reviews")])  # fmt: skip
def test_event_facts(world, kind, key):
    w, result, _ = world
    want = event_fact(master_table(w.records()), kind)
    got, problems = _grouped(
        result.tables[key].to_pylist(),
        lambda r: group_key({c: _clean(v) for c, v in r.items()}, EVENT_FACT_COLUMNS[kind]),
        lambda r: r["Event_Count"],
        key,
    )
    assert sum(want.values()) > 50
    problems += _diff(key, dict(want), got)
    assert not problems, "\n".join(problems)


def test_services_fact(world):
    w, result, _ = world
    want = Counter(group_key(r, SERVICES_FACT_COLUMNS) for r in services_fact(master_table(w.records())))
    got = Counter(group_key({c: _clean(v) for c, v in r.items()}, SERVICES_FACT_COLUMNS)
                  for r in result.tables["services"].to_pylist())  # fmt: skip
    problems = _diff("services", dict(want), dict(got))
    assert not problems, "\n".join(problems)


def _cost_key(row):
    key = group_key(row, COSTS_FACT_COLUMNS[:-3])
    return (*key, *(None if row[c] is None else round(row[c], 6) for c in COSTS_FACT_COLUMNS[-3:]))


def test_costs_fact(world):
    w, result, _ = world
    want = Counter(_cost_key(r) for r in costs_fact(services_fact(master_table(w.records())), *QUARTER))
    got = Counter(_cost_key({c: _clean(v) for c, v in r.items()}) for r in result.tables["costs"].to_pylist())
    assert sum(want.values()) > 10
    problems = _diff("costs", dict(want), dict(got))
    assert not problems, "\n".join(problems)


@pytest.mark.parametrize(
    "period",
    [
        ("2023-04-01", "2024-03-31"),  # waiting-times period shifted (first CLD quarter)
        ("2023-06-01", "2024-05-31"),  # still shifted; 2023-06-01 is a Thursday
        ("2023-07-01", "2024-06-30"),  # not shifted; a Saturday start, a Sunday end
        ("2024-04-01", "2025-03-31"),  # a Monday start: no partial first week
        ("2024-09-01", "2025-08-31"),  # a Sunday start: a one-day first week; a Sunday end
        ("2025-04-01", "2026-03-31"),
        ("2027-02-01", "2028-01-31"),  # a leap year; the costs quarter spans a year end
    ],
)
def test_calendar(period):
    start, end = D(period[0]), D(period[1])
    want = {r["Calendar_Date"]: r for r in calendar(start, end, D("2026-05-01"))}
    got = {r["Calendar_Date"]: r for r in build_calendar((start, end), D("2026-05-01")).to_pylist()}
    problems = _diff("calendar", want, got, limit=5)
    assert not problems, "\n".join(problems)


def test_dimensions(world):
    w, result, _ = world
    master = master_table(w.records())
    for key, column in (("psr", "Primary_Support_Reason"), ("gender", "Gender"), ("ethnicity", "Ethnicity"),
                        ("client_type", "Client_Type")):  # fmt: skip
        got = [norm(r[column]) for r in result.tables[key].to_pylist()]
        assert sorted(got, key=repr) == sorted(distinct_dimension(master, column), key=repr), key
    got = [(norm(r["Der_Age_Band"]), r["Sort_Order"]) for r in result.tables["age_band"].to_pylist()]
    assert sorted(got, key=repr) == sorted(age_band_dimension(master), key=repr)


def test_master_table_aliases(world):
    w, result, _ = world
    want = {m["Der_Unique_Record_ID"]: m for m in master_table(w.records())}
    got = {r["Der_Unique_Record_ID"]: r for r in result.tables["master"].to_pylist()}
    assert sorted(want) == sorted(got)
    problems = []
    for uid, m in want.items():
        for column in (*ALIASES, *ALIASES.values(), "LA_Code", PERSON, "Event_Start_Date", "Unit_Cost"):
            w_value, g_value = m.get(column), _clean(got[uid].get(column))
            if (norm(w_value) if isinstance(w_value, str) else w_value) != (
                norm(g_value) if isinstance(g_value, str) else g_value
            ):
                problems.append(f"master {uid} {column}: reference {w_value!r}, implementation {g_value!r}")
    assert not problems, "\n".join(problems[:15])


# ---------------------------------------------------------------------------------------------------------------
# Regressions found by the differential test: GROUP BY / DISTINCT under SQL Server's collation (main-tables.md §0)
# put values that compare equal in one group, whether or not they are in a specification list.


def _wt_rows(person, band, assessment_type, start):
    """A valid request of `person` and an assessment len(person) days later."""
    progress = "Progress to support planning or services"
    common = {
        "LA_Code": "101",
        "LA_Name": "Northshire",
        PERSON: person,
        "Der_Working_Age_Band": band,
        "Der_Age_Event_Start_Date": 70,
        "Client_Type_Cleaned": "Service user",
        "Event_Outcome_Cleaned": progress,
        "Event_Outcome_Grouped": progress,
    }
    request = dict(common, Event_Type="Request", Event_Start_Date=D(start), Der_Unique_Record_ID=len(person) * 2)
    assessment = dict(
        common,
        Event_Type="Assessment",
        Event_Start_Date=D(start) + dt.timedelta(days=len(person)),
        Der_Unique_Record_ID=len(person) * 2 + 1,
        Assessment_Type_Cleaned=assessment_type,
    )
    return [request, assessment]


def test_waiting_times_group_bands_and_types_case_insensitively():
    # §7.4: the two waits are in one LA x period x band group ('65 and above' = '65 AND ABOVE ' under the
    # collation), so the median is of both: (1 + 3) / 2 = 2.0 over 2 waits; the context has one row per type.
    rows = _wt_rows("A", "65 and above", "Long term assessment", "2024-05-01")
    rows += _wt_rows("BBB", "65 AND ABOVE ", "LONG TERM ASSESSMENT ", "2024-05-02")
    single = main_table_from_records(rows)
    result = compute_dashboard(single, single, period=PERIOD, refresh_date=D("2026-05-01"))
    medians = result.tables["waiting_medians"].to_pylist()
    assert [(norm(r["Age_Band"]), r["Median_Waiting_Time"], r["Number_Of_Waiting_Times_Identified"])
            for r in medians] == [("65 and above", 2.0, 2)]  # fmt: skip
    context = result.tables["waiting_context"].to_pylist()
    got = sorted((r["Event_Type_Cleaned"], norm(r["Event_Detail"]), r["Event_Count"]) for r in context)
    assert got == [("Assessment", "long term assessment", 2), ("Request", None, 2)]
    assert {norm(r["Modified_Working_Age_Band"]) for r in context} == {"65 and above"}


def test_facts_and_dimensions_group_unlisted_values_case_insensitively():
    # §3 step 5 and §5: two requests equal but for the spelling of values in no list (a derived age band, a free
    # gender text) are one fact row with Event_Count 2, one gender and one age band with its sort order.
    base = {"LA_Code": "101", "LA_Name": "Northshire", PERSON: "P1", "Event_Type": "Request",
            "Event_Start_Date": D("2025-06-01")}  # fmt: skip
    rows = [
        dict(base, Der_Unique_Event_Ref="101_1", Der_Unique_Record_ID=1, Der_Age_Band="Unknown",
             Gender_Cleaned="Not stated here"),
        dict(base, Der_Unique_Event_Ref="101_2", Der_Unique_Record_ID=2, Der_Age_Band="UNKNOWN ",
             Gender_Cleaned="NOT STATED HERE"),
    ]  # fmt: skip
    single = main_table_from_records(rows)
    result = compute_dashboard(single, period=PERIOD, refresh_date=D("2026-05-01"))
    assert [r["Event_Count"] for r in result.tables["requests"].to_pylist()] == [2]
    assert [norm(r["Gender"]) for r in result.tables["gender"].to_pylist()] == ["not stated here"]
    assert [(norm(r["Der_Age_Band"]), r["Sort_Order"]) for r in result.tables["age_band"].to_pylist()] == [
        ("unknown", 9)
    ]


def test_dq_values_group_unlisted_values_case_insensitively():
    # §6: the count by council, field, status, validity and value is a GROUP BY: values equal under the collation
    # ('Not stated here', 'NOT STATED HERE ') are one row with Count 2; England has the same count.
    base = {"LA_Code": "101", "LA_Name": "Northshire", PERSON: "P1", "Event_Type": "Request"}
    rows = [
        dict(base, Der_Unique_Record_ID=1, Gender_Cleaned="Not stated here", Event_Start_Date=D("2025-06-01")),
        dict(base, Der_Unique_Record_ID=2, Gender_Cleaned="NOT STATED HERE ", Event_Start_Date=D("2025-06-02")),
    ]
    codes = pa.table(
        {
            "Der_Unique_Record_ID": pa.array([1, 2], pa.int64()),
            "cond_Gender": pa.array([2, 2], pa.int16()),
            "chk_Gender": pa.array([1, 1], pa.int16()),
        }
    )
    single = main_table_from_records(rows)
    result = compute_dashboard(single, period=PERIOD, dq=codes, refresh_date=D("2026-05-01"))
    got = sorted((r["LA_Code"], norm(r["Value"]), r["Count"]) for r in result.tables["dq_values"].to_pylist())
    assert got == [("101", "not stated here", 2), ("99999", None, 2)]


def test_dq_values(world):
    w, result, _ = world
    want = dq_values(master_table(w.records()), w.dq_codes())
    assert {k[3] for k in want if k[6] is not None} >= {"Unit_Cost", "Event_End_Date", "Gender", "NHS_Number"}
    got, problems = _grouped(
        result.tables["dq_values"].to_pylist(),
        lambda r: (
            norm(r["LA_Name"]),
            norm(r["LA_Code"]),
            r["Module"],
            r["DataField"],
            r["FieldStatus"],
            r["FieldValidity"],
            norm(r["Value"]),
        ),  # fmt: skip
        lambda r: r["Count"],
        "dq_values",
    )
    problems += _diff("dq_values", dict(want), got)
    assert not problems, "\n".join(problems)
