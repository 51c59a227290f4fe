"""An independent, deliberately plain reference of the DHSC dashboard tables and waiting times (dashboard.md).

Written from /work/shared/methodology/dashboard.md (and the SQL conventions of main-tables.md §0) only, row by
row in pure Python, for the differential test (test_dashboard_differential.py). It shares no code with
`ascld.measures.dashboard`. Every step cites the section of dashboard.md it follows; where the document is
open, the choice of docs/measures-dashboard.md ("Choices where dashboard.md is open", numbered) is followed
and cited as "choice N".

Input: a list of dicts with the main-table columns (`datetime.date` for dates, `datetime.datetime` for
`ImportDate`, None for NULL). Code values may come in any case and with trailing spaces: every `=`/`IN` goes
through `eq`/`isin` (case-insensitive, trailing spaces ignored, NULL never equal), every `LIKE` through `like`
(case-insensitive, NULL never matches).
"""

from __future__ import annotations

import datetime as dt
from collections import Counter, defaultdict

# ---------------------------------------------------------------------------------------------------------------
# SQL semantics (main-tables.md §0)


def norm(value):
    """The collation key of a string: case-insensitive, trailing spaces ignored (main-tables.md §0 '=')."""
    return None if value is None else value.rstrip(" ").casefold()


def eq(value, literal) -> bool:
    """`value = literal`: NULL is never equal."""
    return value is not None and norm(value) == norm(literal)


def isin(value, literals) -> bool:
    """`value IN (...)`: NULL is never in."""
    return value is not None and any(eq(value, x) for x in literals)


def like(value, pattern: str) -> bool:
    """`value LIKE pattern` for the patterns used here ('%x%', 'x%'): case-insensitive, NULL never matches."""
    if value is None:
        return False
    v, p = value.casefold(), pattern.casefold()
    if p.startswith("%") and p.endswith("%"):
        return p[1:-1] in v
    if p.endswith("%"):
        return v.startswith(p[:-1])
    return v == p


def add_months(d: dt.date, n: int) -> dt.date:
    """`DATEADD(MONTH, n, d)`: calendar shift clamped to the target month's last day (main-tables.md §0)."""
    month0 = d.year * 12 + d.month - 1 + n
    year, month = divmod(month0, 12)
    month += 1
    day = d.day
    while True:
        try:
            return dt.date(year, month, day)
        except ValueError:
            day -= 1


def eomonth(d: dt.date, n: int = 0) -> dt.date:
    """`EOMONTH(d, n)`."""
    first = add_months(dt.date(d.year, d.month, 1), n + 1)
    return first - dt.timedelta(days=1)


def quarter_start(d: dt.date) -> dt.date:
    """First day of the calendar quarter of `d`."""
    return dt.date(d.year, 3 * ((d.month - 1) // 3) + 1, 1)


def lt(a, b) -> bool:
    """`a < b`: unknown (False) when either side is NULL."""
    return a is not None and b is not None and a < b


def ge(a, b) -> bool:
    """`a >= b`: unknown (False) when either side is NULL."""
    return a is not None and b is not None and a >= b


def le(a, b) -> bool:
    """`a <= b`: unknown (False) when either side is NULL."""
    return a is not None and b is not None and a <= b


def gt(a, b) -> bool:
    """`a > b`: unknown (False) when either side is NULL."""
    return a is not None and b is not None and a > b


# ---------------------------------------------------------------------------------------------------------------
# §1 master table, §2 services fact, §3 requests/assessments/reviews facts, §4 costs fact

ALIASES = {  # §1: plain name -> cleaned column
    "Gender": "Gender_Cleaned",
    "Ethnicity": "Ethnicity_Cleaned",
    "Service_Type": "Service_Type_Cleaned",
    "Event_End_Date": "Der_Event_End_Date",
    "Event_Outcome": "Event_Outcome_Cleaned",
    "Client_Type": "Client_Type_Cleaned",
    "Primary_Support_Reason": "Primary_Support_Reason_Cleaned",
    "Service_Component": "Service_Component_Cleaned",
    "Delivery_Mechanism": "Delivery_Mechanism_Cleaned",
    "Cost_Frequency_Unit_Type": "Cost_Frequency_Unit_Type_Cleaned",
    "Request_Route_of_Access": "Request_Route_of_Access_Cleaned",
    "Assessment_Type": "Assessment_Type_Cleaned",
    "Review_Reason": "Review_Reason_Cleaned",
    "Review_Outcomes_Achieved": "Review_Outcomes_Achieved_Cleaned",
}

SERVICES_FACT_COLUMNS = (  # §2
    "LA_Code", "LA_Name", "Client_Type", "Gender", "Ethnicity", "Der_Age_Band", "Der_Working_Age_Band",
    "Primary_Support_Reason", "Event_Start_Date", "Event_End_Date", "Event_Outcome", "Event_Outcome_Grouped",
    "Date_of_Death", "Service_Type", "Service_Type_Grouped", "Service_Component", "Delivery_Mechanism",
    "Unit_Cost", "Cost_Frequency_Unit_Type", "Planned_Units_Per_Week", "Der_NHS_LA_Combined_Person_ID",
)  # fmt: skip

EVENT_FACT_COLUMNS = {  # §3 step 5
    "Request": (
        "LA_Code", "LA_Name", "Client_Type", "Gender", "Ethnicity", "Primary_Support_Reason", "Event_Start_Date",
        "Event_End_Date", "Event_Outcome", "Event_Outcome_Grouped", "Request_Route_of_Access", "Der_Age_Band",
        "Der_Working_Age_Band", "Der_NHS_LA_Combined_Person_ID", "LTS_Flag",
    ),
    "Assessment": (
        "Event_Type", "LA_Code", "LA_Name", "Client_Type", "Gender", "Ethnicity", "Primary_Support_Reason",
        "Event_Start_Date", "Event_End_Date", "Assessment_Type", "Event_Outcome", "Event_Outcome_Grouped",
        "Eligible_Needs_Identified", "Der_Age_Band", "Der_Working_Age_Band", "Der_NHS_LA_Combined_Person_ID",
        "LTS_Flag", "Der_Conversation", "Der_Conversation_1",
    ),
    "Review": (
        "LA_Code", "LA_Name", "Client_Type", "Gender", "Ethnicity", "Primary_Support_Reason", "Event_Outcome",
        "Event_Start_Date", "Event_End_Date", "Review_Reason", "Review_Type", "Review_Outcomes_Achieved",
        "Der_Age_Band", "Der_Working_Age_Band", "Der_NHS_LA_Combined_Person_ID", "LTS_Flag",
    ),
}  # fmt: skip

COSTS_FACT_COLUMNS = (  # §4 step 6
    "LA_Code", "LA_Name", "Client_Type", "Gender", "Ethnicity", "Der_Age_Band", "Der_Working_Age_Band",
    "Primary_Support_Reason", "Event_Outcome", "Event_Outcome_Grouped", "Service_Type", "Service_Type_Grouped",
    "Service_Component", "Der_NHS_LA_Combined_Person_ID", "Cost_Per_Week", "Weeks_of_Service", "Total_Cost_Period",
)  # fmt: skip

PERSON = "Der_NHS_LA_Combined_Person_ID"


def master_table(single: list[dict]) -> list[dict]:
    """§1: every column of the single table plus the plain-name aliases of the cleaned values.

    The values are kept as they come (`build_master_table(..., canonicalise=False)`; choice 1 only changes
    spelling, which the case-insensitive comparisons of the facts do not see).
    """
    out = []
    for row in single:
        m = dict(row)
        for alias, column in ALIASES.items():
            m[alias] = row.get(column)
        out.append(m)
    return out


def services_fact(master: list[dict]) -> list[dict]:
    """§2: master-table rows with `Event_Type = 'Service'`, the listed columns, no aggregation."""
    return [{c: m.get(c) for c in SERVICES_FACT_COLUMNS} for m in master if eq(m.get("Event_Type"), "Service")]


def lts_flag(event: dict, services: list[dict]) -> str:
    """§3 steps 2-4: 'Yes' if any long-term service of the same (LA, person) is open at the event start."""
    start = event.get("Event_Start_Date")
    for s in services:
        if not eq(s["Service_Type_Grouped"], "Long term support"):  # §3 step 2
            continue
        # §3 step 3: join on LA_Code and person (NULL never joins)
        if not (eq(s["LA_Code"], event.get("LA_Code")) and eq(s[PERSON], event.get(PERSON))):
            continue
        s_start, s_end = s["Event_Start_Date"], s["Event_End_Date"]
        if s_end is not None and ge(start, s_start) and le(start, s_end):  # between, inclusive
            return "Yes"
        if s_end is None and ge(start, s_start):  # >= start with NULL end
            return "Yes"
    return "No"  # also when the person has no long-term service (§3 step 3)


def event_fact(master: list[dict], kind: str) -> Counter:
    """§3: the fact of `kind` ('Request', 'Assessment', 'Review') as a Counter of output rows -> Event_Count.

    Rows are keyed by the output columns with strings normalised by `norm`: SQL Server's GROUP BY merges values
    that compare equal (choice 1), so this is what the grouping is, whatever spelling is shown.
    """
    services = services_fact(master)
    # §3 step 1 and step 4: one row per event reference (NULL refs one group ''), preferring 'Yes'; among
    # rows of one reference the first in input order is kept (choice 2: ties broken by the row's position).
    kept: dict[str, dict] = {}
    for m in master:
        if not eq(m.get("Event_Type"), kind):
            continue
        row = dict(m)
        row["LTS_Flag"] = lts_flag(m, services)
        ref = m.get("Der_Unique_Event_Ref")
        key = norm("" if ref is None else ref)
        if key not in kept or (kept[key]["LTS_Flag"] == "No" and row["LTS_Flag"] == "Yes"):
            kept[key] = row
    # §3 step 5: COUNT(*) grouped by all output columns
    return Counter(group_key(r, EVENT_FACT_COLUMNS[kind]) for r in kept.values())


def group_key(row: dict, columns) -> tuple:
    """The GROUP BY key of `row` on `columns` (strings compared case-insensitively, trailing spaces ignored)."""
    return tuple(norm(row.get(c)) if isinstance(row.get(c), str) else row.get(c) for c in columns)


def _per_week(frequency, planned):
    """§4 step 3: planned units per week from the frequency (case-insensitive prefix), else ABS(planned)."""
    for prefix, units in (
        ("week%", 1.0),
        ("fortnight%", 1 / 2),
        ("4-week%", 1 / 4),
        ("month%", 12 / 52),
        ("quarter%", 4 / 52),
        ("annual%", 1 / 52),
    ):
        if like(frequency, prefix):
            return units
    return None if planned is None else abs(planned)


def costs_fact(services: list[dict], qs: dt.date, qe: dt.date) -> list[dict]:
    """§4: the costs fact of the quarter `qs`..`qe`, as a list of rows (the §4 step 6 columns)."""
    out = []
    for s in services:
        start, end = s["Event_Start_Date"], s["Event_End_Date"]
        if not ((end is None or ge(end, qs)) and le(start, qe)):  # §4 step 1
            continue
        cost = None if s["Unit_Cost"] is None else abs(s["Unit_Cost"])  # §4 step 2
        frequency = s["Cost_Frequency_Unit_Type"]
        units = _per_week(frequency, s["Planned_Units_Per_Week"])  # §4 step 3
        one_off = eq(frequency, "one-off")
        if cost is None or cost == 0:  # §4 step 4
            continue
        if not (one_off or (units is not None and units != 0)):
            continue
        row = {c: s.get(c) for c in COSTS_FACT_COLUMNS[:-3]}
        if one_off:  # §4 step 5, one-off
            row.update(Cost_Per_Week=None, Weeks_of_Service=None, Total_Cost_Period=cost)
        else:  # §4 step 5 (NULL frequency counts as not one-off); the four cases literally
            per_week = cost * units
            if start >= qs and end is not None and end <= qe:
                weeks = ((end - start).days + 1) / 7.0
            elif start < qs and end is not None and end <= qe:
                weeks = ((end - qs).days + 1) / 7.0
            elif start >= qs:  # end > QE or NULL
                weeks = ((qe - start).days + 1) / 7.0
            else:  # start < QS and (end > QE or NULL)
                weeks = ((qe - qs).days + 1) / 7.0
            row.update(Cost_Per_Week=per_week, Weeks_of_Service=weeks, Total_Cost_Period=per_week * weeks)
        out.append(row)
    return out


# ---------------------------------------------------------------------------------------------------------------
# §5 dimensions

MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August", "September", "October",
          "November", "December")  # fmt: skip
AGE_BAND_ORDER = {"95 and above": 1, "85 to 94": 2, "75 to 84": 3, "65 to 74": 4, "45 to 64": 5, "25 to 44": 6,
                  "18 to 24": 7, "Under 18": 8, "Unknown": 9}  # fmt: skip


def mmm_yy(d: dt.date) -> str:
    """`MMM yy` (choice 4), e.g. 'Apr 25'."""
    return f"{MONTHS[d.month - 1][:3]} {d.year % 100:02d}"


def calendar(start: dt.date, end: dt.date, refresh: dt.date) -> list[dict]:
    """§5 calendar: one row per day of the period."""
    qs = dt.date(end.year, end.month, 1)
    qs = add_months(qs, -2)  # choice 3: the costs quarter starts two months before the end month
    wt_start = add_months(start, 3) if dt.date(2023, 4, 1) <= start <= dt.date(2023, 6, 30) else start
    rows = []
    d = start
    while d <= end:
        sunday = d + dt.timedelta(days=(6 - d.weekday()) % 7)  # the next Sunday on/after the date
        week_end = sunday
        first_month = (d.year, d.month) == (start.year, start.month)
        if first_month and d.day <= 7 and (sunday.year, sunday.month) == (d.year, d.month) and sunday.day <= 6:
            week_end = None  # partial first week
        if sunday > end:
            week_end = None  # partial last week
        fy = d.year if d.month >= 4 else d.year - 1  # financial year starting in April
        quarter = {4: 1, 5: 1, 6: 1, 7: 2, 8: 2, 9: 2, 10: 3, 11: 3, 12: 3, 1: 4, 2: 4, 3: 4}[d.month]
        rows.append({
            "Calendar_Date": d,
            "Month_Name": MONTHS[d.month - 1],
            "Month_Num": d.month,
            "Year": d.year,
            "Last_Day_of_Quarter": eomonth(quarter_start(d), 2),  # calendar quarter end
            "Last_Day_of_Month": eomonth(d),
            "Last_Day_of_Week": week_end,
            "Quarter_Name": f"Q{quarter}",
            "Quarter_Name_Year": f"{fy % 100:02d}-{(fy + 1) % 100:02d}_Q{quarter}",
            "Reporting_Period_Start_Date": start,
            "Reporting_Period_End_Date": end,
            "Current_Reporting_Period": f"{mmm_yy(start)} - {mmm_yy(end)}",
            "Costs_Reporting_period": f"{mmm_yy(qs)} - {mmm_yy(end)}",
            "Waiting_Times_Period_Covered": f"{mmm_yy(wt_start)} - {mmm_yy(end)}",
            "ASCOF_Period_Covered": "Apr 23 - Apr 24",
            "Refresh_Date": refresh,
        })  # fmt: skip
        d += dt.timedelta(days=1)
    return rows


def distinct_dimension(master: list[dict], column: str) -> set:
    """§5: the distinct values of `column` in the master table (compared case-insensitively, choice 1)."""
    return {norm(m.get(column)) for m in master}


def age_band_dimension(master: list[dict]) -> set:
    """§5: distinct `Der_Age_Band` with its sort order (a CASE of `=` tests: case-insensitive; NULL/unlisted
    bands have none), bands compared case-insensitively (choice 1)."""
    order = {norm(band): n for band, n in AGE_BAND_ORDER.items()}
    return {(norm(m.get("Der_Age_Band")), order.get(norm(m.get("Der_Age_Band")))) for m in master}


# ---------------------------------------------------------------------------------------------------------------
# §7 waiting times

CLD_START = dt.date(2023, 4, 1)
CONVERSATION_END = dt.date(2025, 7, 1)
REPORT_FROM = dt.date(2024, 4, 1)
ASSESSMENT_TYPES = ("Short term assessment", "Long term assessment")
LONG_TERM = (
    "Long term support: Nursing care",
    "Long term support: Residential care",
    "Long term support: Community",
    "Long term support: Prison",
)
SHORT_TERM_EXISTING = ("Short term support: ST-Max", "Short term support: Other short term")
SHORT_TERM = (*SHORT_TERM_EXISTING, "Short term support: Ongoing low level")
ASSESSMENT_PROGRESS = (
    "Progress to reablement/ST-Max",
    "Progress to support planning or services",
    "Continuation of support or services",
)
REQUEST_PROGRESS = (
    "Progress to reablement/ST-Max",
    "Progress to assessment, review or reassessment",
    "Progress to support planning or services",
    "Continuation of support or services",
    "Release 1 specification only: Not mapped",
)
REPORTED_BANDS = ("25 to 64", "65 and above")
TYPE_PRIORITY = {"Request": 1, "Assessment": 2, "Service": 3}


def event_type_cleaned(event_type):
    """§7.1 step 1: CASE in the listed order; anything else (or NULL) is NULL."""
    for pattern, name in (("%service%", "Service"), ("%assessment%", "Assessment"), ("%request%", "Request"),
                          ("%review%", "Review")):  # fmt: skip
        if like(event_type, pattern):
            return name
    return None


def modified_band(band):
    """§7.1 step 3: `25 to 64` for `18 to 64`, else the working-age band as it is."""
    return "25 to 64" if eq(band, "18 to 64") else band


def _age_25(row) -> bool:
    """`Der_Age_Event_Start_Date >= 25` (NULL is not)."""
    return ge(row.get("Der_Age_Event_Start_Date"), 25)


def _person(row) -> tuple:
    """Choice 7: a person is (LA_Code, Der_NHS_LA_Combined_Person_ID), compared case-insensitively."""
    return (norm(row.get("LA_Code")), norm(row.get(PERSON)))


def is_existing_client(request: dict, services: list[dict]) -> bool:
    """§7.1 step 4: the person has a selected service started before the request that makes them existing."""
    start = request["Event_Start_Date"]
    for s in services:
        if not lt(s["Event_Start_Date"], start):  # started **before** the request start
            continue
        end = s.get("Der_Event_End_Date")
        # choice 8: calendar months, clamped
        long_term = isin(s.get("Service_Type_Cleaned"), LONG_TERM)
        if long_term and (end is None or ge(end, add_months(start, -12))):
            return True
        short_term = isin(s.get("Service_Type_Cleaned"), SHORT_TERM_EXISTING)
        if short_term and (end is None or ge(end, add_months(start, -3))):
            return True
    return False


def _desc_nulls_last(value):
    """Sort key for `value DESC` with NULLs last (choice 9)."""
    if value is None:
        return (1, 0)
    if isinstance(value, dt.datetime):
        return (0, -value.timestamp())
    return (0, -value)


def waiting_event_set(joined: list[dict]) -> dict[tuple, list[dict]]:
    """§7.1 steps 1-6: person -> the numbered event set (dicts with `order` 1..n), before step 7."""
    rows = []
    for r in joined:
        e = dict(r)
        e["type"] = event_type_cleaned(r.get("Event_Type"))  # §7.1 step 1
        e["band"] = modified_band(r.get("Der_Working_Age_Band"))  # §7.1 steps 3 and 6
        rows.append(e)
    by_person = defaultdict(list)
    for e in rows:
        by_person[_person(e)].append(e)

    event_sets = {}
    for person, events in by_person.items():
        # §7.1 step 2: selected assessments and services, any client type, any date (and any age, for step 4)
        services = [e for e in events if e["type"] == "Service"
                    and isin(e.get("Service_Type_Cleaned"), LONG_TERM + SHORT_TERM)]  # fmt: skip
        assessments = [e for e in events if e["type"] == "Assessment"
                       and isin(e.get("Assessment_Type_Cleaned"), ASSESSMENT_TYPES)]  # fmt: skip
        chosen = []
        for e in events:
            if e["type"] != "Request":
                continue
            # §7.1 step 3
            if not (eq(e.get("Client_Type_Cleaned"), "Service user") and ge(e.get("Event_Start_Date"), CLD_START)
                    and _age_25(e)):  # fmt: skip
                continue
            if is_existing_client(e, services):  # §7.1 step 4
                continue
            # §7.1 step 5: NOT IN is not true for NULL
            grouped = e.get("Event_Outcome_Grouped")
            if grouped is None or isin(grouped, ("NFA", "Admitted to hospital")):
                continue
            chosen.append(e)
        # §7.1 step 6: valid requests and the selected assessments and services aged >= 25
        chosen += [e for e in assessments + services if _age_25(e)]
        if person[0] is None or person[1] is None:
            # a NULL LA or person cannot be joined to anything; the main tables never have them (§5.2)
            raise ValueError("the reference expects an LA code and a person ID on every row")
        chosen.sort(
            key=lambda e: (
                (0, dt.date.min) if e.get("Event_Start_Date") is None else (1, e["Event_Start_Date"]),  # NULL first
                TYPE_PRIORITY[e["type"]],
                _desc_nulls_last(e.get("ImportDate")),
                _desc_nulls_last(e.get("Der_Unique_Record_ID")),
            )
        )
        for n, e in enumerate(chosen, start=1):
            e["order"] = n
        if chosen:
            event_sets[person] = chosen
    return event_sets


def waiting_links(event_sets: dict[tuple, list[dict]]) -> dict[tuple, dict]:
    """§7.1 step 7, §7.2, §7.3: (LA, person, request order) -> the request's links and waits."""
    links = {}
    for events in event_sets.values():
        if not any(e["type"] == "Request" for e in events):  # §7.1 step 7
            continue
        # §7.2: assessment blocks = running count of non-assessment events up to the row
        block_of, block_progress, running = {}, defaultdict(int), 0
        for e in events:
            if e["type"] != "Assessment":
                running += 1
            block_of[e["order"]] = running
            if e["type"] == "Assessment" and isin(e.get("Event_Outcome_Cleaned"), ASSESSMENT_PROGRESS):
                block_progress[running] = 1

        prev_latest = None  # §7.3 step 5(a): the previous request's latest linked event number
        max_response = max_service = 0  # §7.3 step 5(b)/(c): earlier maxima default to 0
        for r in (e for e in events if e["type"] == "Request"):
            later = [e for e in events if e["order"] > r["order"]]
            next_assessment = next((e for e in later if e["type"] == "Assessment"), None)  # §7.3 step 1
            next_service = next((e for e in later if e["type"] == "Service"), None)
            # §7.3 step 2: conversation override (Release 1 period only)
            if (
                (next_assessment is None or lt(r["Event_Start_Date"], next_assessment["Event_Start_Date"]))
                and r.get("Der_Conversation") == 1
                and isin(r.get("Event_Outcome_Cleaned"), REQUEST_PROGRESS)
                and lt(r["Event_Start_Date"], CONVERSATION_END)
            ):
                response = r
            else:
                response = next_assessment
            # §7.3 step 3: service as first response
            if next_service is not None and (response is None or response["order"] > next_service["order"]):
                response = next_service
            # §7.3 step 4: part-2 suppression
            service = next_service
            is_assessment = response is not None and response["type"] == "Assessment"
            if is_assessment and block_progress[block_of[response["order"]]] == 0:
                service = None
            response_n = None if response is None else response["order"]
            service_n = None if service is None else service["order"]
            # §7.3 step 5: overlapping requests
            excluded = (
                (prev_latest is not None and prev_latest > r["order"])  # (a)
                or (response_n is not None and response_n <= max_response)  # (b)
                or (service_n is not None and service_n <= max_service)  # (c)
            )
            linked = [n for n in (response_n, service_n) if n is not None]
            prev_latest = max(linked) if linked else None
            max_response = max(max_response, response_n or 0)
            max_service = max(max_service, service_n or 0)
            # §7.3 step 6: waits in days (none for an excluded request)
            wait1 = wait2 = None
            if not excluded:
                if response is not None:
                    wait1 = (response["Event_Start_Date"] - r["Event_Start_Date"]).days
                if service is not None:
                    wait2 = (service["Event_Start_Date"] - r["Event_Start_Date"]).days
            links[(r["LA_Code"], r[PERSON], r["order"])] = {
                "Der_Unique_Record_ID": r.get("Der_Unique_Record_ID"),
                "Request_Start_Date": r["Event_Start_Date"],
                "Request_Band": r["band"],
                "Response_Order": response_n,
                "Response_Start_Date": None if response is None else response["Event_Start_Date"],
                "Response_Band": None if response is None else response["band"],
                "Response_Event_Type": None if response is None else response["type"],
                "Response_Assessment_Type": (
                    response.get("Assessment_Type_Cleaned")
                    if response is not None and response["type"] == "Assessment"
                    else None
                ),
                "Service_Order": service_n,
                "Service_Start_Date": None if service is None else service["Event_Start_Date"],
                "Service_Band": None if service is None else service["band"],
                "Service_Type": None if service is None else service.get("Service_Type_Cleaned"),
                "Overlap_Excluded": int(excluded),
                "Wait_First_Response": wait1,
                "Wait_First_Service": wait2,
                "LA_Name": r.get("LA_Name"),
            }
    return links


def continuous_median(values: list[int]) -> float:
    """`PERCENTILE_CONT(0.5)`: linear interpolation at position 0.5 * (n - 1) of the sorted values (§7.4)."""
    s = sorted(values)
    position = 0.5 * (len(s) - 1)
    lower = int(position)
    fraction = position - lower
    if fraction == 0:
        return float(s[lower])
    return s[lower] + fraction * (s[lower + 1] - s[lower])


def waiting_medians(links: dict[tuple, dict], *, all_periods: bool = False) -> dict[tuple, tuple]:
    """§7.4: (LA, metric, period start, period end, band) -> (median, count).

    The band in the key is `norm`-ed: SQL Server's GROUP BY puts bands that compare equal in one group.
    """
    waits = defaultdict(list)
    names = {}
    for (la, _person_id, _order), link in links.items():
        for metric, start, band, wait in (
            ("WT1", link["Response_Start_Date"], link["Response_Band"], link["Wait_First_Response"]),
            ("WT2", link["Service_Start_Date"], link["Service_Band"], link["Wait_First_Service"]),
        ):
            if wait is None:  # only non-NULL waits
                continue
            if not isin(band, REPORTED_BANDS):  # only the two bands
                continue
            period = quarter_start(start)  # statistical period: quarter of the response / service start
            if not all_periods and period < REPORT_FROM:
                continue
            key = (la, metric, period, eomonth(period, 2), norm(band))  # GROUP BY under the collation
            waits[key].append(wait)
            names[key] = link["LA_Name"]
    return {key: (continuous_median(values), len(values)) for key, values in waits.items()}


def waiting_context(event_sets: dict[tuple, list[dict]]) -> Counter:
    """§7.4 context (choice 10): events of the event set (before step 7) by council, band, start quarter from
    2023-04-01, event type and the assessment or service type."""
    counts = Counter()
    for events in event_sets.values():
        for e in events:
            start = e.get("Event_Start_Date")
            if start is None or quarter_start(start) < CLD_START:
                continue
            detail = {
                "Assessment": e.get("Assessment_Type_Cleaned"),
                "Service": e.get("Service_Type_Cleaned"),
            }.get(e["type"])
            counts[(norm(e["LA_Code"]), norm(e["band"]), quarter_start(start), e["type"], norm(detail))] += 1
    return counts


def waiting_times(joined: list[dict], *, all_periods: bool = False):
    """§7 end to end: (links, medians, context)."""
    event_sets = waiting_event_set(joined)
    links = waiting_links(event_sets)
    return links, waiting_medians(links, all_periods=all_periods), waiting_context(event_sets)


# ---------------------------------------------------------------------------------------------------------------
# §6 data quality values

DQ_MODULES = {  # §6: module -> fields
    "Submission information": ("LA_Code", "Reporting_Period_End_Date", "Reporting_Period_Start_Date"),
    "Person details": (
        "NHS_Number", "LA_Person_Unique_Identifier", "GP_Practice_Code", "Gender", "Ethnicity", "Date_of_Birth",
        "Date_of_Death", "Client_Type", "Primary_Support_Reason", "Postcode", "Accommodation_Status",
        "Employment_Status", "Has_Unpaid_Carer", "Autism_Spectrum_Disorder_ASD", "Visual_Impairment",
        "Hearing_Impairment", "Dementia", "Client_Funding_Status",
    ),
    "Events (all)": ("Event_Type", "Event_Reference", "Event_Start_Date", "Event_End_Date", "Event_Description",
                     "Event_Outcome"),
    "Events (requests only)": ("Request_Route_of_Access",),
    "Events (assessments only)": ("Assessment_Type", "Eligible_Needs_Identified", "Method_of_Assessment"),
    "Carers and linked service users": ("Total_Hrs_Caring_per_week", "No_of_adults_being_cared_for",
                                        "Adult_1_Linked_Person_ID", "Adult_2_Linked_Person_ID",
                                        "Adult_3_Linked_Person_ID"),
    "Events (services only)": ("Service_Type", "Service_Component", "Delivery_Mechanism", "Provider_CQC_Location_ID"),
    "Events (reviews only)": ("Review_Reason", "Review_Outcomes_Achieved", "Method_of_Review"),
    "Costs (services only)": ("Unit_Cost", "Cost_Frequency_Unit_Type", "Planned_units_per_week"),
}  # fmt: skip
DQ_PID = {"NHS_Number", "LA_Person_Unique_Identifier", "Date_of_Birth", "Postcode", "Adult_1_Linked_Person_ID",
          "Adult_2_Linked_Person_ID", "Adult_3_Linked_Person_ID"}  # fmt: skip
DQ_NULL = {"Event_Description", "Event_Reference"}  # choice 6: Event_Reference is not in the main tables
DQ_PERIOD = {"Reporting_Period_End_Date": "Ref_Period_End_Date", "Reporting_Period_Start_Date": "Ref_Period_Start_Date"}


def field_status(code):
    """§6 `FieldStatus` from `cond_`; other codes and NULL have no label."""
    return {2: "Mandatory", 1: "Applicable but not mandatory", 0: "Not applicable", -1: "Undetermined"}.get(code)


def field_validity(code):
    """§6 `FieldValidity` from `chk_`."""
    if code is None:
        return None
    if code >= 1:
        return "Passed: Valid"
    if code == 0:
        return "Passed: Blank (Not Mandatory)"
    if code == -1:
        return "Failed: Blank (Mandatory)"
    if -6 <= code <= -2:
        return "Failed: Invalid"
    if code == -7:
        return "Failed: Release 1"
    return None


def _lookup(row: dict, name: str):
    """(found, value) of column `name` in `row`, matched case-insensitively (SQL Server identifiers)."""
    for column, value in row.items():
        if column.casefold() == name.casefold():
            return True, value
    return False, None


def dq_value(master_row: dict, field: str):
    """Choice 6: the master table's value of the field as text."""
    if field in DQ_PID:
        return "N/A - PID"
    if field in DQ_NULL:
        return None
    # the alias where one exists, else the cleaned column, else the carried column
    names = [field] if field in ALIASES else [f"{field}_Cleaned", DQ_PERIOD.get(field, field)]
    for name in names:
        found, value = _lookup(master_row, name)
        if found:
            if value is None:
                return None
            return value.isoformat() if isinstance(value, dt.date) else str(value)
    return None


def dq_values(master: list[dict], codes: list[dict]) -> Counter:
    """§6: Counter of (LA_Name, LA_Code, Module, DataField, FieldStatus, FieldValidity, Value) -> count, with the
    England copy (`England`, `99999`, Value NULL); strings `norm`-ed (GROUP BY under the collation)."""
    by_record = {c["Der_Unique_Record_ID"]: c for c in codes}
    counts = Counter()
    for m in master:
        c = by_record.get(m.get("Der_Unique_Record_ID"))  # joined on Der_Unique_Record_ID (inner)
        if c is None or m.get("LA_Code") is None:  # rows with NULL LA dropped
            continue
        for module, fields in DQ_MODULES.items():
            for field in fields:
                has_cond, cond = _lookup(c, f"cond_{field}")
                has_chk, chk = _lookup(c, f"chk_{field}")
                if not (has_cond and has_chk):
                    continue
                status, validity = field_status(cond), field_validity(chk)
                value = dq_value(m, field)
                counts[(norm(m["LA_Name"]), norm(m["LA_Code"]), module, field, status, validity, norm(value))] += 1
                counts[("england", "99999", module, field, status, validity, None)] += 1
    return counts
