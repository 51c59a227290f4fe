"""An independent, deliberately plain reference implementation of the ASCOF measures (ascof.md).

Written from /work/shared/methodology/ascof.md (and the SQL conventions of main-tables.md §0) only, row by
row in pure Python, for the differential test (test_ascof_differential.py). It shares no code with
`ascld.measures.ascof`. Every step cites the section of ascof.md it follows.

Input: a list of dicts with the main-table columns (main-tables.md §6.3; `datetime.date` for dates, None for
NULL). Cleaned code values may come in any case and with trailing spaces: every comparison goes through
`eq`/`isin` (case-insensitive, trailing spaces ignored, NULL never equal: main-tables.md §0), `LIKE` through
`like` (case-insensitive, trailing spaces significant, NULL never matches).

Output: a dict keyed by (measure, description, la_code, group) -> (numerator, denominator, value), value as
`decimal.Decimal` rounded half away from zero (ascof.md §0.3), or None.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

OPEN = dt.date(9999, 1, 1)  # §0.4 / §1.1 / §3 step 1: NULL Der_Event_End_Date -> 9999-01-01
INVALID = "Invalid and not mapped"

# ---------------------------------------------------------------------------------------------------------------
# SQL semantics (main-tables.md §0)


def norm(value):
    """The collation key of a string: case-insensitive, trailing spaces ignored (main-tables.md §0 '=')."""
    return None if value is None else value.rstrip(" ").casefold()


def eq(value, literal) -> bool:
    """`value = literal` under SQL Server: NULL is never equal."""
    return value is not None and norm(value) == norm(literal)


def ne(value, literal) -> bool:
    """`value <> literal` as a WHERE condition: false when value is NULL (main-tables.md §0)."""
    return value is not None and not eq(value, literal)


def isin(value, literals) -> bool:
    """`value IN (...)`; NULL is never in."""
    return value is not None and any(eq(value, x) for x in literals)


def like(value, pattern) -> bool | None:
    """`value LIKE pattern` for patterns made of literal text and `%` only; None (unknown) when value is NULL.

    main-tables.md §0: case-insensitive; trailing spaces are not ignored.
    """
    if value is None:
        return None
    v = value.casefold()
    parts = pattern.casefold().split("%")
    if len(parts) == 1:
        return v == parts[0]
    if not v.startswith(parts[0]):
        return False
    pos = len(parts[0])
    for middle in parts[1:-1]:
        found = v.find(middle, pos)
        if found < 0:
            return False
        pos = found + len(middle)
    last = parts[-1]
    return len(v) - pos >= len(last) and v.endswith(last)


def not_like(value, pattern) -> bool:
    """`value NOT LIKE pattern` as a WHERE/CASE condition: false when value is NULL (unknown)."""
    r = like(value, pattern)
    return r is False


def days(a: dt.date, b: dt.date) -> int:
    """DATEDIFF(DAY, a, b) = b - a."""
    return (b - a).days


def age(dob: dt.date | None, on: dt.date | None) -> int | None:
    """FLOOR(DATEDIFF(DAY, dob, on) / 365.25) (main-tables.md §0); NULL if either is NULL."""
    if dob is None or on is None:
        return None
    return math.floor(Decimal(days(dob, on)) / Decimal("365.25"))


def round_half_away(numerator: int, denominator: int, scale: int, places: int) -> Decimal:
    """ROUND(scale * num / den, places), half away from zero, in exact decimals (§0.3)."""
    q = Decimal(scale * numerator) / Decimal(denominator)
    return q.quantize(Decimal(1).scaleb(-places), rounding=ROUND_HALF_UP)


def _desc(value):
    """Sort key (for min()) giving DESC order with NULLs last (main-tables.md §0): larger values first."""
    if value is None:
        return (1, 0)
    if isinstance(value, dt.date):
        return (0, -value.toordinal())
    return (0, -value)


def _end(row):
    return row["Der_Event_End_Date"] if row["Der_Event_End_Date"] is not None else OPEN


# ---------------------------------------------------------------------------------------------------------------
# Reference lists

# main-tables.md §5.1: REF_Event_Outcome_Hierarchy_R2
OUTCOME_HIERARCHY = {
    "Progress to reablement/ST-Max": 1,
    "Progress to assessment, review or reassessment": 2,
    "Release 1 specification only: Not mapped": 3,
    "Progress to support planning or services": 4,
    "Continuation of support or services": 5,
    "Admitted to hospital": 6,
    "NFA: Responsibility moved to another local authority": 7,
    "NFA: Referral to NHS services or NHS funded social care": 8,
    "NFA: Self-funded client or under 12wk disregard": 9,
    "NFA: Information and advice or signposting": 10,
    "NFA: Referral to other service within the local authority": 11,
    "NFA: Support declined": 12,
    "NFA: Deceased": 13,
    "NFA: Support ended as planned": 14,
    "NFA: Support ended for other reason": 15,
    "NFA: No services offered for other reason": 16,
    "NFA: Other": 17,
}
# §1.1 step 2: +100 for the non-concluding outcomes
NON_CONCLUDING = (
    "Continuation of support or services",
    "Progress to support planning or services",
    "Progress to assessment, review or reassessment",
    "Progress to reablement/ST-Max",
    "Release 1 specification only: Not mapped",
    INVALID,
)

NURSING = "Long term support: Nursing care"
RESIDENTIAL = "Long term support: Residential care"
COMMUNITY = "Long term support: Community"
PRISON = "Long term support: Prison"
ST_MAX = "Short term support: ST-Max"
LONG_TERM = (NURSING, RESIDENTIAL, COMMUNITY, PRISON)
# §0.4 (accommodation completion) and §1.4 step 3: the service-type hierarchy
SERVICE_HIERARCHY = {
    NURSING: 1,
    RESIDENTIAL: 2,
    COMMUNITY: 3,
    PRISON: 4,
    ST_MAX: 5,
    "Short term support: Ongoing low level": 6,
    "Short term support: Other short term": 7,
}


def service_hierarchy(service_type) -> int:
    for name, h in SERVICE_HIERARCHY.items():
        if eq(service_type, name):
            return h
    return 99


# §0.4: Accommodation_Status_Group (and §3 step 5: the same table for 2E)
ACCOMMODATION_GROUP = {
    "Owner occupier or shared ownership scheme": 1,
    "Tenant: Local authority or other social housing provider": 1,
    "Tenant: Private landlord": 1,
    "Settled mainstream housing with family or friends": 1,
    "Supported accommodation, supported lodgings or supported group home": 1,
    "Shared Lives scheme": 1,
    "Approved premises for offenders released from prison or under probation supervision": 1,
    "Sheltered housing, extra care housing or other sheltered housing": 1,
    "Mobile accommodation for Gypsy, Roma and Traveller communities": 1,
    "Unknown: Presumed at home": 1,
    "Rough sleeper or squatting": 0,
    "Night shelter, emergency hostel or direct access hostel": 0,
    "Refuge": 0,
    "Placed in temporary accommodation by the council (inc. homelessness resettlement)": 0,
    "Staying with family or friends as a short term guest": 0,
    "Acute hospital or long term healthcare residential facility": 0,
    "Registered care home": 0,
    "Registered nursing home": 0,
    "Prison, young offenders institution or detention centre": 0,
    "Other temporary accommodation": 0,
    "Unknown": 0,
    "Unknown: Presumed in community": 0,
}


def accommodation_group(status):
    """§0.4 table / §3 step 5: the group, or None for a status not in the table (case-insensitive)."""
    for name, g in ACCOMMODATION_GROUP.items():
        if eq(status, name):
            return g
    return None


def outcome_hierarchy_2a(outcome) -> int:
    """§1.1 step 2: R2 hierarchy, +100 for non-concluding outcomes, unmatched 999."""
    for name, h in OUTCOME_HIERARCHY.items():
        if eq(outcome, name):
            return h + 100 if isin(name, NON_CONCLUDING) else h
    return 999


def outcome_hierarchy_main(outcome) -> int:
    """§4.1 step 3 (2D clustering): the main-table hierarchy, NULL/unmatched sorted as 999."""
    for name, h in OUTCOME_HIERARCHY.items():
        if eq(outcome, name):
            return h
    return 999


# ---------------------------------------------------------------------------------------------------------------
# §0.4 Latest person details


def _latest_value(rows, value_of, known_of, conflict, extra_key=None):
    """§0.4 generic rule: DENSE_RANK by known DESC, Ref_Period_End_Date DESC, end DESC, start DESC; rank-1
    rows; one distinct value -> it, several -> the conflict value."""

    def key(r):
        k = (
            _desc(known_of(r)),
            _desc(r["Ref_Period_End_Date"]),
            _desc(_end(r)),
            _desc(r["Event_Start_Date"]),
        )
        if extra_key is not None:
            k = k + (_desc(extra_key(r)),)
        return k

    best = min(key(r) for r in rows)
    values = {}
    for r in rows:
        if key(r) == best:
            v = value_of(r)
            values[norm(v)] = v
    if len(values) > 1:
        return conflict
    return next(iter(values.values()))


def _cld(v):
    """§0.4 #CLD: NULL cleaned categorical value -> 'Invalid and not mapped'."""
    return INVALID if v is None else v


def _accommodation_from_services(rows):
    """§0.4 'Accommodation status completion from services' steps 1-4 for one (LA, person)."""
    services = [r for r in rows if eq(r["Event_Type"], "Service")]
    if not services:
        stype = component = None
    else:
        mappable = (
            "Shared Lives",
            "Community supported living",
            "Extra care housing",
            "Home support or domiciliary care",
        )

        def key(r):
            # end DESC (open first), hierarchy ASC, mappable first, start DESC
            return (
                _desc(_end(r)),
                service_hierarchy(r["Service_Type_Cleaned"]),
                0 if isin(_cld(r["Service_Component_Cleaned"]), mappable) else 1,
                _desc(r["Event_Start_Date"]),
            )

        best = min(key(r) for r in services)
        top = [r for r in services if key(r) == best]
        types, comps = {}, {}
        for r in top:
            t = r["Service_Type_Cleaned"]
            t = "Not useful" if service_hierarchy(t) == 99 else t
            c = _cld(r["Service_Component_Cleaned"])
            c = c if isin(c, mappable) else "Not useful"
            if not eq(t, "Not useful"):
                types[norm(t)] = t
            if not eq(c, "Not useful"):
                comps[norm(c)] = c
        stype = next(iter(types.values())) if len(types) == 1 else None
        component = next(iter(comps.values())) if len(comps) == 1 else None
    # step 4, first match wins
    if eq(stype, NURSING):
        return "Registered nursing home"
    if eq(stype, RESIDENTIAL):
        return "Registered care home"
    if eq(component, "Shared Lives"):
        return "Shared Lives scheme"
    if eq(component, "Extra care housing"):
        return "Sheltered housing, extra care housing or other sheltered housing"
    if eq(component, "Community supported living"):
        return "Supported accommodation, supported lodgings or supported group home"
    if eq(stype, COMMUNITY) and eq(component, "Home support or domiciliary care"):
        return "Unknown: Presumed at home"
    if eq(stype, COMMUNITY) and component is None:
        return "Unknown: Presumed in community"
    if eq(stype, PRISON):
        return "Prison, young offenders institution or detention centre"
    return "Unknown"


UNDECLARED, REFUSED = "No data: Undeclared or not known", "No data: Refused"
FUNDED = ("Fully social care funded", "Joint client and social care funded", "Fully client funded")


def person_details(main_rows, period_end: dt.date, period_start: dt.date | None = None):
    """§0.4: one dict per (LA_Code, person) from all rows; keyed by (LA_Code, person).

    Built with the latest period (period_start defaults to the 12-month period ending period_end); only the age at
    the period end and the unpaid-carer evidence window depend on it."""
    if period_start is None:
        period_start = dateadd_months(period_end + dt.timedelta(days=1), -12)
    by_person = defaultdict(list)
    for r in main_rows:
        by_person[(r["LA_Code"], r["Der_NHS_LA_Combined_Person_ID"])].append(r)
    out = {}
    unknown_or_invalid = ("Unknown", INVALID)
    for key, rows in by_person.items():
        d = {}
        # Accommodation_Status
        d["Accommodation_Status"] = _latest_value(
            rows,
            lambda r: (
                "Unknown"
                if isin(_cld(r["Accommodation_Status_Cleaned"]), (INVALID,))
                else r["Accommodation_Status_Cleaned"]
            ),
            lambda r: 0 if isin(_cld(r["Accommodation_Status_Cleaned"]), unknown_or_invalid) else 1,
            "Unknown",
        )
        if eq(d["Accommodation_Status"], "Unknown"):
            d["Accommodation_Status"] = _accommodation_from_services(rows)
        d["Accommodation_Status_Group"] = accommodation_group(d["Accommodation_Status"])
        d["Employment_Status"] = _latest_value(
            rows,
            lambda r: _cld(r["Employment_Status_Cleaned"]),
            lambda r: 0 if isin(_cld(r["Employment_Status_Cleaned"]), unknown_or_invalid) else 1,
            "Unknown",
        )

        def gender(r):
            g = _cld(r["Gender_Cleaned"])
            return "Unknown" if isin(g, unknown_or_invalid) else g

        d["Gender"] = _latest_value(rows, gender, lambda r: 0 if eq(gender(r), "Unknown") else 1, "Unknown")

        def ethnicity(r):
            e = _cld(r["Ethnicity_Cleaned"])
            return UNDECLARED if eq(e, INVALID) else e

        d["Ethnicity"] = _latest_value(
            rows,
            ethnicity,
            lambda r: 0 if eq(ethnicity(r), UNDECLARED) else 1 if eq(ethnicity(r), REFUSED) else 2,
            UNDECLARED,
        )
        d["Client_Funding_Status"] = _latest_value(
            rows,
            lambda r: (
                r["Client_Funding_Status_Cleaned"] if isin(r["Client_Funding_Status_Cleaned"], FUNDED) else "Unknown"
            ),
            lambda r: 1 if isin(r["Client_Funding_Status_Cleaned"], FUNDED) else 0,
            "Unknown",
        )
        d["Primary_Support_Reason"] = _latest_value(
            rows,
            lambda r: (
                "Unknown"
                if eq(_cld(r["Primary_Support_Reason_Cleaned"]), INVALID)
                else r["Primary_Support_Reason_Cleaned"]
            ),
            lambda r: (
                0
                if isin(
                    _cld(r["Primary_Support_Reason_Cleaned"]),
                    ("Unknown", INVALID, "Social support: Support to unpaid carer"),
                )
                else 1
            ),
            "Unknown",
        )

        # Birth year/month: both non-NULL first, Ref_Period_End_Date DESC, year ASC, month ASC (NULLs first ASC)
        def birth_key(r):
            y, m = r["Der_Birth_Year"], r["Der_Birth_Month"]
            both = 1 if (y is not None and m is not None) else 0
            return (
                -both,
                _desc(r["Ref_Period_End_Date"]),
                (0,) if y is None else (1, y),
                (0,) if m is None else (1, m),
            )

        top = min(rows, key=birth_key)
        y, m = top["Der_Birth_Year"], top["Der_Birth_Month"]
        d["Der_Birth_Date"] = dt.date(y, m, 1) if (y is not None and m is not None) else None
        d["Der_Age_End_Of_Period"] = age(d["Der_Birth_Date"], period_end)
        a = d["Der_Age_End_Of_Period"]
        d["Der_Working_Age_Band_End_Of_Period"] = (
            "Under 18"
            if a is not None and 1 <= a <= 17
            else "18 to 64"
            if a is not None and 18 <= a <= 64
            else "65 and above"
            if a is not None and a >= 65
            else "Unknown"
        )

        # Date of death: non-NULL first, Ref_Period_End_Date DESC, Date_of_Death DESC
        def death_key(r):
            dod = r["Date_of_Death"]
            return (0 if dod is not None else 1, _desc(r["Ref_Period_End_Date"]), _desc(dod))

        d["Date_of_Death"] = min(rows, key=death_key)["Date_of_Death"]

        # Has_Unpaid_Carer through the mapping (Yes/No/Unknown; anything else unmatched -> invalid)
        def unpaid(r):
            raw = r["Has_Unpaid_Carer"]
            mapped = next((v for v in ("Yes", "No", "Unknown") if eq(raw, v)), INVALID)
            return "Unknown" if isin(mapped, unknown_or_invalid) else mapped

        d["Has_Unpaid_Carer"] = _latest_value(rows, unpaid, lambda r: 0 if eq(unpaid(r), "Unknown") else 1, "Unknown")

        # LA_Person_Unique_Identifier_Latest: extra final key = number of the person's rows with that identifier
        def identifier(r):
            i = r["LA_Person_Unique_Identifier"]
            return "Unknown" if i is None or isin(i, unknown_or_invalid) else i

        d["LA_Person_Unique_Identifier_Latest"] = _latest_value(
            rows,
            identifier,
            lambda r: 0 if eq(identifier(r), "Unknown") else 1,
            "Unknown",
            extra_key=lambda r, rows=rows: sum(1 for q in rows if norm(identifier(q)) == norm(identifier(r))),
        )
        ids = {norm(r["LA_Person_Unique_Identifier"]) for r in rows if r["LA_Person_Unique_Identifier"] is not None}
        d["LA_Person_Unique_Identifier_Concat"] = ids or None  # STRING_AGG over no non-NULL value is NULL
        out[key] = d

    # Has unpaid carer override (latest period's window): identifiers named as linked adults on carer rows
    linked = set()
    for r in main_rows:
        if (
            isin(r["Client_Type_Cleaned"], ("Unpaid carer", "Unpaid carer known by association"))
            and _end(r) >= period_start
            and r["Event_Start_Date"] is not None
            and r["Event_Start_Date"] <= period_end
        ):
            for c in ("Adult_1_Linked_Person_ID", "Adult_2_Linked_Person_ID", "Adult_3_Linked_Person_ID"):
                if r[c] is not None:
                    linked.add((r["LA_Code"], norm(r[c])))
    for r in main_rows:
        if (
            r["LA_Person_Unique_Identifier"] is not None
            and (r["LA_Code"], norm(r["LA_Person_Unique_Identifier"])) in linked
        ):
            out[(r["LA_Code"], r["Der_NHS_LA_Combined_Person_ID"])]["Has_Unpaid_Carer"] = "Yes"
    return out


# ---------------------------------------------------------------------------------------------------------------
# §1 ASCOF 2A


DESC_2A = (
    "The proportion of people who received short-term services during the year - who previously were not "
    "receiving services - where no further request was made for ongoing support (%)"
)
DEN_2A = (
    "Long term support: Community",
    "Long term support: Nursing care",
    "Long term support: Residential care",
    "Long term support: Prison",
    "Short term support: Residential or Nursing care",
)
NUM_2A = (
    "Short term support: Ongoing low level",
    "Short term support: Other short term",
    "NFA: Information and advice or signposting",
    "NFA: Support ended as planned",
    "NFA: Responsibility moved to another local authority",
    "NFA: Other",
    "NFA: No services offered for other reason",
    "NFA: Support ended for other reason",
    "NFA: Referral to other service within the local authority",
)


def _outcome_name(h):
    if h == 999:
        return INVALID
    for name, base in OUTCOME_HIERARCHY.items():
        if (base + 100 if isin(name, NON_CONCLUDING) else base) == h:
            return name
    raise AssertionError(h)


def cluster_st_max(rows, hierarchy):
    """§1.2 steps 2-4 on one (LA, person)'s ST-Max rows: list of clusters (dicts with rows/start/end/outcome)."""
    ordered = sorted(
        rows,
        key=lambda r: (r["Event_Start_Date"], _end(r), hierarchy(r), -r["Der_Unique_Record_ID"]),
    )
    clusters = []
    running_max = None
    for r in ordered:
        if running_max is None or days(running_max, r["Event_Start_Date"]) > 7:
            clusters.append([r])
        else:
            clusters[-1].append(r)
        running_max = _end(r) if running_max is None else max(running_max, _end(r))
    out = []
    for c in clusters:
        last = min(c, key=lambda r: (_desc(_end(r)), hierarchy(r), _desc(r["Der_Unique_Record_ID"])))
        out.append(
            {
                "rows": c,
                "start": min(r["Event_Start_Date"] for r in c),
                "end": max(_end(r) for r in c),
                "outcome_row": last,
            }
        )
    return out


def ascof_2a(main_rows, details, start, end):
    """§1: list of per-cluster results (la, band, final outcome, sequel type)."""
    # §1.1 step 1
    build = [
        r
        for r in main_rows
        if eq(r["Client_Type_Cleaned"], "Service User")
        and r["Der_NHS_LA_Combined_Person_ID"] is not None
        and r["Event_Start_Date"] is not None
        and (r["Der_Event_End_Date"] is None or r["Der_Event_End_Date"] >= r["Event_Start_Date"])
    ]

    def h(r):  # §1.1 step 2
        return outcome_hierarchy_2a(_cld(r["Event_Outcome_Cleaned"]))

    per_person = defaultdict(list)
    for r in build:
        per_person[(r["LA_Code"], r["Der_NHS_LA_Combined_Person_ID"])].append(r)
    results = []
    for (la, person), rows in sorted(per_person.items()):
        stmax = [r for r in rows if eq(r["Event_Type"], "Service") and eq(r["Service_Type_Cleaned"], ST_MAX)]
        if not stmax:
            continue
        det = details[(la, person)]
        for c in cluster_st_max(stmax, h):
            cs, ce = c["start"], c["end"]
            if not (start <= ce <= end):  # §1.2 step 5
                continue
            a = age(det["Der_Birth_Date"], ce)  # §1.3 step 2
            band = "Unknown" if a is None else "Under 18" if a < 18 else "18 to 64" if a <= 64 else "65 and above"
            dod = det["Date_of_Death"]
            if band == "Under 18" or (dod is not None and dod < cs):  # §1.3 step 3
                continue
            # §1.3 step 4: the cluster's own ST-Max rows are blanked
            own = {id(r) for r in stmax if cs <= r["Event_Start_Date"] <= ce}
            others = [r for r in rows if id(r) not in own]
            # §1.3 step 5: new client test
            existing = any(
                isin(r["Service_Type_Cleaned"], LONG_TERM)
                and eq(r["Event_Type"], "Service")
                and r["Event_Start_Date"] < cs
                and days(_end(r), cs) < 91
                for r in others
            )
            if existing:
                continue
            c_outcome = _cld(c["outcome_row"]["Event_Outcome_Cleaned"])
            c_h = h(c["outcome_row"])
            final = stype = None
            # §1.4 step 1
            if dod is not None and days(ce, dod) <= 7:
                final, stype = "NFA: Deceased", "1"
            # step 2
            elif eq(c_outcome, "Admitted to hospital"):
                final, stype = "Admitted to hospital", "2"
            if final is None:
                window = [
                    r
                    for r in others
                    if r["Event_Start_Date"] >= cs and _end(r) > ce and days(ce, r["Event_Start_Date"]) <= 7
                ]
                st_starts = [
                    r["Event_Start_Date"]
                    for r in window
                    if eq(r["Event_Type"], "Service") and eq(r["Service_Type_Cleaned"], ST_MAX)
                ]
                if st_starts:
                    window = [r for r in window if r["Event_Start_Date"] < min(st_starts)]

                # step 3
                # step 3: "anything else (incl. unpaid carer support, non-services) 99": a row that is not a
                # Service event is 99 whatever service type it carries
                def seq_h(r):
                    return service_hierarchy(r["Service_Type_Cleaned"]) if eq(r["Event_Type"], "Service") else 99

                services = [r for r in window if seq_h(r) != 99]
                if services:
                    st_resnurs = ("Short term residential care", "Short term nursing care")
                    top = min(
                        services,
                        key=lambda r: (
                            seq_h(r),
                            0 if isin(r["Service_Component_Cleaned"], st_resnurs) else 1,
                        ),
                    )
                    final = top["Service_Type_Cleaned"]
                    if eq(final, "Short term support: Other short term") and isin(
                        top["Service_Component_Cleaned"], st_resnurs
                    ):
                        final = "Short term support: Residential or Nursing care"
                    stype = "3"
                else:
                    # step 4
                    candidates = []  # (hierarchy, source)
                    if not window:
                        if c_h < 100:
                            candidates.append((c_h, 1))
                    else:
                        eligible = [
                            r
                            for r in window
                            if ne(r["Event_Type"], "Service")  # "not services": Event_Type <> 'Service'; NULL is not
                            and not eq(_cld(r["Event_Outcome_Cleaned"]), "NFA: Support ended as planned")
                            and (c_h < 100 or h(r) < 100)
                        ]
                        if eligible:
                            candidates.append((c_h, 1))
                            candidates += [(h(r), 2) for r in eligible if h(r) < 100]
                    nested = [
                        r
                        for r in others
                        if isin(r["Event_Type"], ("Assessment", "Review"))
                        and r["Event_Start_Date"] >= cs
                        and _end(r) > cs
                        and _end(r) <= ce
                        and days(_end(r), ce) < 14
                        and h(r) < 100
                    ]
                    if nested:
                        top = min(nested, key=lambda r: (_desc(_end(r)), h(r), _desc(r["Der_Unique_Record_ID"])))
                        candidates.append((h(top), 3))
                    if candidates:
                        best = min(x for x, _ in candidates)
                        final = _outcome_name(best)
                        sources = {s for x, s in candidates if x == best}
                        stype = "4a" if 1 in sources else "4b" if 2 in sources else "4c"
                    else:
                        # step 5
                        equipment = any(
                            r["Event_Start_Date"] >= cs
                            and _end(r) > cs
                            and _end(r) <= ce
                            and eq(r["Event_Type"], "Service")
                            and eq(r["Service_Component_Cleaned"], "Equipment")
                            for r in others
                        )
                        if equipment:
                            final, stype = "Short term support: Ongoing low level", "5"
                        else:
                            final, stype = c_outcome, "6"
            results.append(
                {
                    "la": la,
                    "person": person,
                    "band": band,
                    "start": cs,
                    "end": ce,
                    "final": final,
                    "sequel_type": stype,
                    "den": isin(final, DEN_2A + NUM_2A),
                    "num": isin(final, NUM_2A),
                }
            )
    return results


def figures_2a(clusters, la_codes):
    """§1.5: per LA x (18 to 64, 65 and above, Total)."""
    out = {}
    for la in la_codes:
        for group in ("18 to 64", "65 and above", "Total"):
            mine = [c for c in clusters if c["la"] == la and (group == "Total" or c["band"] == group)]
            num = sum(c["num"] for c in mine)
            den = sum(c["den"] for c in mine)
            value = round_half_away(num, den, 100, 1) if den else Decimal("0.0")
            out[("ASCOF 2A", DESC_2A, la, group)] = (num, den, value)
    return out


# ---------------------------------------------------------------------------------------------------------------
# §2 ASCOF 2B and 2C

DESC_2B = (
    "The number of adults whose long-term support needs are met by admission to residential and nursing "
    "care homes, for 18-64yrs (per 100,000 population)"
)
DESC_2C = (
    "The number of adults whose long-term support needs are met by admission to residential and nursing "
    "care homes, for 65 and over (per 100,000 population)"
)


def ascof_2bc(main_rows, details, start, end, population):
    """§2 steps 1-5. population: {la_code: {'18 to 64': n, '65 and above': n}} (LAs with a population row)."""
    build = []
    for r in main_rows:  # step 1
        det = details[(r["LA_Code"], r["Der_NHS_LA_Combined_Person_ID"])]
        comp = r["Service_Component_Cleaned"]
        component_ok = (comp is None or like(comp, "%Residential%") or like(comp, "%Nursing%")) and not_like(
            comp, "%Short%"
        )
        if (
            eq(r["Event_Type"], "Service")
            and eq(r["Client_Type_Cleaned"], "Service user")
            and isin(r["Service_Type_Cleaned"], (RESIDENTIAL, NURSING))
            and det["Der_Birth_Date"] is not None
            and (det["Date_of_Death"] is None or det["Date_of_Death"] >= start)
            and component_ok
        ):
            build.append((r, age(det["Der_Birth_Date"], r["Event_Start_Date"])))
    admissions = set()  # step 2
    for r, a in build:
        s = r["Event_Start_Date"]
        o = r["Event_Outcome_Cleaned"]
        if (
            s is not None
            and start <= s <= end
            and (o is None or not eq(o, "NFA: Self-funded client or under 12wk disregard"))
        ):
            admissions.add((r["Der_NHS_LA_Combined_Person_ID"], r["LA_Code"], s, a))
    new = []
    for person, la, s, a in admissions:  # step 3
        earlier = any(
            r["LA_Code"] == la
            and r["Der_NHS_LA_Combined_Person_ID"] == person
            and r["Event_Start_Date"] is not None
            and r["Event_Start_Date"] < s
            and (r["Der_Event_End_Date"] is None or days(r["Der_Event_End_Date"], s) < 365)
            for r, _ in build
        )
        if not earlier:
            new.append((person, la, s, a))
    bands = {}  # step 4
    for person, la, _s, a in new:
        if a is None or a < 18:
            continue
        band = "18 to 64" if a <= 64 else "65 and above"
        bands[(la, person)] = min(bands.get((la, person), band), band)
    out = {}
    for la, pops in population.items():  # step 5
        for measure, desc, band in (("ASCOF 2B", DESC_2B, "18 to 64"), ("ASCOF 2C", DESC_2C, "65 and above")):
            if band not in pops:
                continue
            num = sum(1 for (l2, _p), b in bands.items() if l2 == la and b == band)
            value = round_half_away(num, pops[band], 100000, 1) if num else Decimal("0.0")
            out[(measure, desc, la, band)] = (num, pops[band], value)
    return out


# ---------------------------------------------------------------------------------------------------------------
# §3 ASCOF 2E

_ENDING_2E = "who receive long-term support who live in their home or with family (%)"
DESC_2E = {
    "18 to 64": f"The proportion of people aged 18-64 {_ENDING_2E}",
    "65 and above": f"The proportion of people aged 65+ {_ENDING_2E}",
}
DESC_2E_UNK = "Accommodation status = unknown or invalid"


def ascof_2e(main_rows, details, start, end, la_codes, ld: bool):
    measure = "ASCOF 2E LD" if ld else "ASCOF 2E"
    per_person = defaultdict(list)
    for r in main_rows:  # step 1
        if (
            eq(r["Client_Type_Cleaned"], "Service user")
            and eq(r["Event_Type"], "Service")
            and isin(r["Service_Type_Cleaned"], LONG_TERM)
            and r["Der_NHS_LA_Combined_Person_ID"] is not None
            and r["Event_Start_Date"] is not None
            and (r["Der_Event_End_Date"] is None or r["Der_Event_End_Date"] >= r["Event_Start_Date"])
            and r["Event_Start_Date"] <= end
            and (r["Der_Event_End_Date"] is None or r["Der_Event_End_Date"] >= start)
        ):
            per_person[(r["LA_Code"], r["Der_NHS_LA_Combined_Person_ID"])].append(r)
    cohort = []
    for key, rows in per_person.items():
        det = details[key]
        capped = max(min(_end(r), end) for r in rows)  # step 2
        if det["Date_of_Death"] is not None and det["Date_of_Death"] < start:  # step 3
            continue
        if ld and not eq(det["Primary_Support_Reason"], "Learning Disability Support"):
            continue
        a = age(det["Der_Birth_Date"], capped)  # step 4
        if a is not None and a < 18:
            continue
        band = "Unknown" if a is None else "18 to 64" if a <= 64 else "65 and above"
        if ld and band != "18 to 64":
            continue
        cohort.append(
            {
                "la": key[0],
                "band": band,
                "gender": det["Gender"],
                "status": det["Accommodation_Status"],
                "group": accommodation_group(det["Accommodation_Status"]),
            }
        )  # step 5
    counts = {}
    for p in cohort:  # step 6
        if p["band"] == "Unknown":
            continue
        groups = ["Total"]
        if eq(p["gender"], "Male"):
            groups.append("Male")
        elif eq(p["gender"], "Female"):
            groups.append("Female")
        for g in groups:
            num, den = counts.get((p["la"], p["band"], g), (0, 0))
            counts[(p["la"], p["band"], g)] = (num + (p["group"] == 1), den + 1)
    # step 7: every LA x the run's descriptions (§3: both bands, LD 18 to 64 only) x the groups present
    # nationally in that run's denominators (one set of groups for the run)
    present = {g for (_la, _band, g) in counts}
    bands = ("18 to 64",) if ld else ("18 to 64", "65 and above")
    out = {}
    for la in la_codes:
        for band, g in ((b, g) for b in bands for g in present):
            num, den = counts.get((la, band, g), (0, 0))
            value = round_half_away(num, den, 100, 1) if den else Decimal("0.0")
            out[(measure, DESC_2E[band], la, g)] = (num, den, value)
        # step 8: unknown/invalid statuses among the cohort (unknown ages included)
        unknown = ("Unknown", "Unknown: presumed at home", "Unknown: presumed in community")
        n = sum(
            1
            for p in cohort
            if p["la"] == la and (p["status"] is None or isin(p["status"], unknown) or p["group"] is None)
        )
        out[(measure, DESC_2E_UNK, la, "Total")] = (n, None, Decimal(n))
    return out


# ---------------------------------------------------------------------------------------------------------------
# §5 ASCOF 3D

DESC_3D = {
    "1a": "1a - The proportion of clients who use services who receive self-directed support (%)",
    "2a": "2a - The proportion of clients who use services who receive direct payments (%)",
    "1b": "1b - The proportion of carers who use services who receive self-directed support (%)",
    "2b": "2b - The proportion of carers who use services who receive direct payments (%)",
}
DESC_3D_UNK = "Unknown or invalid delivery mechanism, or unable to deduce from service component"
DP, MPB, COMM = "Direct payment", "CASSR managed personal budget", "CASSR commissioned support"


def _band_3d(a):
    return "Unknown" if a is None else "Under 18" if a < 18 else "18 to 64" if a <= 64 else "65 and above"


def ascof_3d_clients(main_rows, details, start, end):
    """§5.1: {(la, person): (band, numerator 1a, numerator 2a, unknown mech)} for the community persons."""
    per_person = defaultdict(list)
    for r in main_rows:  # step 1
        key = (r["LA_Code"], r["Der_NHS_LA_Combined_Person_ID"])
        det = details[key]
        if (
            isin(r["Service_Type_Cleaned"], LONG_TERM)
            and eq(r["Client_Type_Cleaned"], "Service user")
            and r["Event_Start_Date"] is not None
            and r["Event_Start_Date"] <= end
            and r["Der_NHS_LA_Combined_Person_ID"] is not None
            and (r["Der_Event_End_Date"] is None or r["Der_Event_End_Date"] >= r["Event_Start_Date"])
            and (r["Der_Event_End_Date"] is None or r["Der_Event_End_Date"] >= end)
            and (det["Date_of_Death"] is None or det["Date_of_Death"] >= end)
        ):
            mech = DP if eq(r["Service_Component_Cleaned"], DP) else r["Delivery_Mechanism_Cleaned"]  # step 2
            stype = r["Service_Type_Cleaned"]
            valid = (eq(stype, COMMUNITY) and isin(mech, (DP, MPB, COMM))) or (
                eq(stype, PRISON) and isin(mech, (MPB, COMM))
            )
            mech = mech if valid else ""  # step 3
            if eq(stype, NURSING):  # step 4
                hier = 1
            elif eq(stype, RESIDENTIAL):
                hier = 2
            elif eq(stype, COMMUNITY):
                hier = 3 if eq(mech, DP) else 4 if eq(mech, MPB) else 5 if eq(mech, COMM) else 6
            else:
                hier = 7 if eq(mech, MPB) else 8 if eq(mech, COMM) else 9
            per_person[key].append((hier, stype, mech, r["Service_Component_Cleaned"]))
    out = {}
    for key, rows in per_person.items():  # step 5
        top = min(h for h, *_ in rows)
        kept = [x for x in rows if x[0] == top]
        band = _band_3d(age(details[key]["Der_Birth_Date"], end))
        if band == "Under 18":
            continue
        community = [x for x in kept if eq(x[1], COMMUNITY)]  # step 6
        if not community:
            continue
        n1a = any(eq(m, DP) or eq(c, DP) or eq(m, MPB) for _h, _t, m, c in community)
        n2a = any(eq(m, DP) or eq(c, DP) for _h, _t, m, c in community)
        unk = any(m == "" and not eq(c, DP) for _h, _t, m, c in community)  # step 8
        out[key] = (band, n1a, n2a, unk)
    return out


SUPPORT_HIERARCHY = {
    "Direct Payment only": 1,
    "CASSR Managed Personal Budget": 2,
    "CASSR Commissioned Support only": 3,
    "Support Direct to Carer: Unknown Delivery Mech": 4,
    "Information, Advice and Other Universal Services / Signposting": 5,
    "No Direct Support Provided to Carer": 6,
}


def support_provided(r):
    """§5.2 step 2, CASE in order with SQL NULL logic."""
    dtc = eq(r["Service_Type_Cleaned"], "Unpaid carer support: Direct to unpaid carer")
    mech, comp = r["Delivery_Mechanism_Cleaned"], r["Service_Component_Cleaned"]
    outcome = _cld(r["Event_Outcome_Cleaned"])
    comp_not_dp = not_like(comp, "Direct payment")
    if dtc and (eq(mech, DP) or eq(comp, DP)):
        return "Direct Payment only"
    if dtc and eq(mech, MPB) and comp_not_dp:
        return "CASSR Managed Personal Budget"
    if dtc and eq(mech, COMM) and comp_not_dp:
        return "CASSR Commissioned Support only"
    if dtc and mech is not None and not isin(mech, (DP, MPB, COMM)) and comp_not_dp:
        return "Support Direct to Carer: Unknown Delivery Mech"
    if dtc and mech is None and comp_not_dp:
        return "Support Direct to Carer: Unknown Delivery Mech"
    if eq(r["Service_Type_Cleaned"], "Unpaid carer support: Support involving the person cared-for"):
        return "No Direct Support Provided to Carer"
    ar = isin(r["Event_Type"], ("Assessment", "Review"))
    if ar and not_like(outcome, "NFA: Information and advice or signposting"):
        return "No Direct Support Provided to Carer"
    if ar and outcome is None:
        return "No Direct Support Provided to Carer"
    if ar and eq(outcome, "NFA: Information and advice or signposting"):
        return "Information, Advice and Other Universal Services / Signposting"
    if eq(r["Event_Type"], "Request"):
        return "Information, Advice and Other Universal Services / Signposting"
    return None


def ascof_3d_carers(main_rows, details, start, end):
    """§5.2: {(la, person): (band, kept support)}."""
    per_person = defaultdict(list)
    carer_types = ("Carer", "Unpaid carer", "Carer known by association", "Unpaid carer known by association")
    for r in main_rows:  # step 1
        key = (r["LA_Code"], r["Der_NHS_LA_Combined_Person_ID"])
        det = details[key]
        st = r["Service_Type_Cleaned"]
        if not (
            isin(r["Client_Type_Cleaned"], carer_types)
            and r["Event_Start_Date"] is not None
            and r["Event_Start_Date"] <= end
            and r["Der_NHS_LA_Combined_Person_ID"] is not None
            and (r["Der_Event_End_Date"] is None or r["Der_Event_End_Date"] >= start)
            and (r["Der_Event_End_Date"] is None or r["Der_Event_End_Date"] >= r["Event_Start_Date"])
            and (det["Date_of_Death"] is None or det["Date_of_Death"] >= start)
            and (
                (st is None and eq(r["Event_Outcome_Cleaned"], "NFA: Information and advice or signposting"))
                or isin(
                    st,
                    (
                        "Unpaid carer support: Direct to unpaid carer",
                        "Unpaid carer support: Support involving the person cared-for",
                    ),
                )
                or (isin(r["Event_Type"], ("Assessment", "Review")) and st is None)
            )
        ):
            continue
        support = support_provided(r)  # step 2
        if support is None:
            continue
        per_person[key].append(support)
    out = {}
    for key, supports in per_person.items():  # step 3
        top = min(SUPPORT_HIERARCHY[s] for s in supports)
        kept = next(s for s in supports if SUPPORT_HIERARCHY[s] == top)
        band = _band_3d(age(details[key]["Der_Birth_Date"], end))
        if band == "Under 18":
            continue
        out[key] = (band, kept)
    return out


def figures_3d(clients, carers, la_codes):
    """§5.1 steps 6-8, §5.2 steps 4-5 and the output grid."""
    counts = defaultdict(lambda: [0, 0])  # (measure, desc key, la, group) -> [num, den]
    unknown = defaultdict(int)
    for (la, _p), (band, n1a, n2a, unk) in clients.items():
        for g in (band, "Total"):
            for d, n in (("1a", n1a), ("2a", n2a)):
                c = counts[("ASCOF 3D (Clients)", d, la, g)]
                c[0] += n
                c[1] += 1
        unknown[("ASCOF 3D (Clients)", la)] += unk
    for (la, _p), (band, kept) in carers.items():
        if kept == "Support Direct to Carer: Unknown Delivery Mech":
            unknown[("ASCOF 3D (Carers)", la)] += 1
        if kept not in ("Direct Payment only", "CASSR Managed Personal Budget", "CASSR Commissioned Support only"):
            continue
        for g in (band, "Total"):
            for d, n in (
                ("1b", kept in ("Direct Payment only", "CASSR Managed Personal Budget")),
                ("2b", kept == "Direct Payment only"),
            ):
                c = counts[("ASCOF 3D (Carers)", d, la, g)]
                c[0] += n
                c[1] += 1
    # §5.2 'Output grid': every LA x the four descriptions x the groups present (one set over all four;
    # Unknown is never output, §5.1 step 7)
    present = {g for (_m, _d, _la, g) in counts if g != "Unknown"}
    four = (
        ("ASCOF 3D (Clients)", "1a"),
        ("ASCOF 3D (Clients)", "2a"),
        ("ASCOF 3D (Carers)", "1b"),
        ("ASCOF 3D (Carers)", "2b"),
    )
    out = {}
    for la in la_codes:
        for m, d, g in ((m, d, g) for m, d in four for g in present):
            num, den = counts.get((m, d, la, g), (0, 0))
            value = round_half_away(num, den, 100, 1) if den else Decimal("0.0")
            out[(m, DESC_3D[d], la, g)] = (num, den, value)
        for m in ("ASCOF 3D (Clients)", "ASCOF 3D (Carers)"):
            n = unknown.get((m, la), 0)
            out[(m, DESC_3D_UNK, la, "Total")] = (n, None, Decimal(n))
    return out


# ---------------------------------------------------------------------------------------------------------------
# Everything


def reference_ascof(main_rows, start: dt.date, end: dt.date, la_codes, population, details_end=None):
    """All figures of 2A, 2B/2C, 2E, 2E LD and 3D for one period.

    details_end: the period end the person details are built with (§0.4: the latest period), default `end`.
    """
    details = person_details(main_rows, details_end or end)
    out = {}
    out.update(figures_2a(ascof_2a(main_rows, details, start, end), la_codes))
    out.update(ascof_2bc(main_rows, details, start, end, population))
    out.update(ascof_2e(main_rows, details, start, end, la_codes, ld=False))
    out.update(ascof_2e(main_rows, details, start, end, la_codes, ld=True))
    out.update(
        figures_3d(
            ascof_3d_clients(main_rows, details, start, end), ascof_3d_carers(main_rows, details, start, end), la_codes
        )
    )
    return out


# ---------------------------------------------------------------------------------------------------------------
# §4 ASCOF 2D


def _sus_age(e, on):
    y, m = e["Year_of_Birth_SUS"], e["Month_of_Birth_SUS"]
    return None if y is None or m is None else age(dt.date(y, m, 1), on)


def _open_at(row, day) -> bool:
    """`day BETWEEN Event_Start_Date AND Der_Event_End_Date` (open end = 9999-01-01); NULLs never match."""
    return day is not None and row["Event_Start_Date"] is not None and row["Event_Start_Date"] <= day <= _end(row)


SEX = {"1": "Male", "2": "Female", "9": "Not specified", "0": "Not known"}


def ascof_2d(main_rows, details, episodes, start, end, area_to_la):
    """§4: {(part, la_code or None for England, client type or 'Total', slice): (numerator, denominator)}.

    episodes: SUS rows (dicts with the DISCHARGE columns and UTLA_Code_2023); area_to_la: UTLA code -> LA codes.
    """
    # §4.1 step 1
    cld = []
    for r in main_rows:
        det = details[(r["LA_Code"], r["Der_NHS_LA_Combined_Person_ID"])]
        if (
            eq(r["Client_Type_Cleaned"], "Service user")
            and (det["Date_of_Death"] is None or det["Date_of_Death"] >= start)
            and (
                r["Der_Event_End_Date"] is None
                or (r["Event_Start_Date"] is not None and r["Der_Event_End_Date"] >= r["Event_Start_Date"])
            )
            and r["Der_NHS_LA_Combined_Person_ID"] is not None
        ):
            cld.append(r)
    lts = [r for r in cld if like(r["Service_Type_Cleaned"], "Long%")]  # step 2
    # step 3: reablement clusters (§1.2 steps 2-3), per (LA, person)
    reab = defaultdict(list)
    for r in cld:
        if (
            eq(r["Event_Type"], "Service")
            and eq(r["Service_Type_Cleaned"], ST_MAX)
            and eq(r["Service_Component_Cleaned"], "Reablement")
        ):
            reab[(r["LA_Code"], r["Der_NHS_LA_Combined_Person_ID"])].append(r)
    clusters = []
    for (la, person), rows in sorted(reab.items()):
        ordered = sorted(
            rows,
            key=lambda r: (
                (0,) if r["Event_Start_Date"] is None else (1, r["Event_Start_Date"]),  # NULLs first
                _end(r),
                outcome_hierarchy_main(r["Event_Outcome_Cleaned"]),
                -r["Der_Unique_Record_ID"],
            ),
        )
        groups, running_max = [], None
        for r in ordered:
            s = r["Event_Start_Date"]
            if running_max is None or s is None or days(running_max, s) > 7:  # unknown -> new cluster
                groups.append([r])
            else:
                groups[-1].append(r)
            running_max = _end(r) if running_max is None else max(running_max, _end(r))
        for g in groups:
            starts = [r["Event_Start_Date"] for r in g if r["Event_Start_Date"] is not None]
            clusters.append(
                {
                    "id": len(clusters),
                    "la": la,
                    "person": person,
                    "start": min(starts) if starts else None,
                    "dod": details[(la, person)]["Date_of_Death"],
                }
            )

    # §4.2 discharges
    excluded_tfc = (
        "199",
        "223",
        "290",
        "291",
        "331",
        "344",
        "345",
        "346",
        "424",
        "499",
        "501",
        "504",
        "560",
        "660",
        "661",
        "662",
        "840",
        "920",
    )
    discharges = {}
    for e in episodes:
        a = _sus_age(e, e["Discharge_Date"])
        adm, dis = e["Admission_Date"], e["Discharge_Date"]
        tfc = e["Treatment_Function_Code"]
        if not (
            a is not None
            and a >= 65
            and e["Admission_Method"] is not None
            and not isin(e["Admission_Method"], ("31", "32", "82", "83"))
            and e["Discharge_Method"] is not None
            and not isin(e["Discharge_Method"], ("4", "5"))
            and e["Discharge_Destination"] is not None
            and not isin(e["Discharge_Destination"], ("49", "50", "51", "52", "79", "87", "88"))
            and tfc is not None
            and not isin(tfc, excluded_tfc)
            and not_like(tfc, "65%")
            and not_like(tfc, "7%")
            and adm is not None
            and dis is not None
            and adm >= dt.date(2023, 4, 1)
            and adm < dis
            and start <= dis <= end
            and e["APCS_Last_Ep_Ind"] == 1
            and e["Der_DHSC_Pseudo_NHS_Number"] is not None
            and like(e["UTLA_Code_2023"], "E%")
        ):
            continue
        person = e["Der_DHSC_Pseudo_NHS_Number"]
        mine = [r for r in lts if r["Der_NHS_LA_Combined_Person_ID"] == person]
        if any(isin(r["Service_Type_Cleaned"], (NURSING, RESIDENTIAL, PRISON)) and _open_at(r, adm) for r in mine):
            continue
        client = (
            "Those in LT community support"
            if any(eq(r["Service_Type_Cleaned"], COMMUNITY) and _open_at(r, adm) for r in mine)
            else "Those not in any LTS"
        )
        sex = e["Sex"]
        gender = SEX.get(sex.rstrip(" ") if sex is not None else None, sex)
        group = "65-74" if a <= 74 else "75-84" if a <= 84 else "85+"
        row = dict(e, Gender=gender, Age_Group=group, Client_Type=client)
        discharges[tuple(sorted((k, str(v)) for k, v in row.items()))] = row  # distinct episodes
    discharges = list(discharges.values())

    # §4.3 linking and §4.4 outcomes
    linked = []  # (cluster, discharge row, combo)
    for c in clusters:
        cs = c["start"]
        mine = [d for d in discharges if d["Der_DHSC_Pseudo_NHS_Number"] == c["person"]]
        qualifying = [
            d["Discharge_Date"]
            for d in mine
            if cs is not None
            and cs - dt.timedelta(days=7) <= d["Discharge_Date"] <= cs + dt.timedelta(days=3)
            and d["Admission_Date"] <= cs
        ]
        if not qualifying:
            continue
        latest = max(qualifying)
        rows = [d for d in mine if d["Discharge_Date"] == latest]
        flags = [0, 0, 0]
        for d in rows:
            dd = d["Discharge_Date"]
            limit = dd + dt.timedelta(days=84)
            if c["dod"] is not None and dd <= c["dod"] <= limit:
                flags[0] = 1
            for e in episodes:
                if (
                    e["Der_DHSC_Pseudo_NHS_Number"] == c["person"]
                    and e["Admission_Date"] is not None
                    and e["Discharge_Date"] is not None
                    and e["Admission_Date"] < e["Discharge_Date"]
                    and isin(e["Der_Management_Type"], ("EM", "NE"))
                    and e["Discharge_Method"] is not None
                    and not isin(e["Discharge_Method"], ("5",))
                    and e["APCS_Last_Ep_Ind"] == 1
                    and e["Admission_Date"] >= start
                    and e["Admission_Date"] > cs
                    and e["Admission_Date"] > dd
                    and e["Admission_Date"] <= limit
                ):
                    flags[1] = 1
            for r in lts:
                if (
                    r["Der_NHS_LA_Combined_Person_ID"] == c["person"]
                    and isin(r["Service_Type_Cleaned"], (RESIDENTIAL, NURSING))
                    and r["Event_Start_Date"] is not None
                    and dd <= r["Event_Start_Date"] <= limit
                ):
                    flags[2] = 1
        linked += [(c, d) for d in rows]
        c["combo"] = "".join(map(str, flags))

    out = defaultdict(lambda: [set(), set()])  # key -> [numerator ids, denominator ids]

    def slices(d):
        yield "Total"
        yield d["Age_Group"]
        if d["Gender"] in ("Male", "Female"):
            yield d["Gender"]

    for c, d in linked:  # §4.5 part 1: distinct clusters
        for area in (c["la"], None):
            for client in ("Total", d["Client_Type"]):
                for s in slices(d):
                    cell = out[("ASCOF 2D Part 1", area, client, s)]
                    cell[1].add(c["id"])
                    if c["combo"] == "000":
                        cell[0].add(c["id"])
    result = {k: (len(v[0]), len(v[1])) for k, v in out.items()}
    part2 = defaultdict(set)  # part 2 denominators: distinct APCS_Ident per UTLA (as LA) x client type x slice
    for d in discharges:
        areas = [None] + list(area_to_la.get(d["UTLA_Code_2023"].rstrip(" "), ()))
        for area in areas:
            for client in ("Total", d["Client_Type"]):
                for s in slices(d):
                    part2[(area, client, s)].add(d["APCS_Ident"])
    # §4.5 says "every LA (plus England) x client type x slice" without naming the set of client types. Documented
    # choice (docs/measures-ascof.md, 2D breakdowns): the client types present among linked discharges (part 1),
    # as the DHSC grid is built; part 2 rows of another client type are not published (its discharges still count
    # in the Total rows).
    linked_types = {"Total"} | {k[2] for k in result if k[0] == "ASCOF 2D Part 1"}
    cells = {k for k in part2 if k[1] in linked_types} | {k[1:] for k in result if k[0] == "ASCOF 2D Part 1"}
    for area, client, s in cells:
        num = result.get(("ASCOF 2D Part 1", area, client, s), (0, 0))[1]
        result[("ASCOF 2D Part 2", area, client, s)] = (num, len(part2.get((area, client, s), ())))
    return result


# ---------------------------------------------------------------------------------------------------------------
# §0.2 reporting periods


def dateadd_months(d: dt.date, n: int) -> dt.date:
    """DATEADD(MONTH, n, d): calendar shift, clamped to the last day of the target month (main-tables.md §0)."""
    y, m = divmod(d.month - 1 + n, 12)
    year, month = d.year + y, m + 1
    return dt.date(year, month, min(d.day, eomonth(dt.date(year, month, 1)).day))


def eomonth(d: dt.date) -> dt.date:
    nxt = dt.date(d.year + (d.month == 12), d.month % 12 + 1, 1)
    return nxt - dt.timedelta(days=1)


def periods(start: dt.date, end: dt.date):
    """§0.2: (latest, previous, 2D latest, 2D previous) as (start, end) pairs."""
    previous = (dateadd_months(start, -3), eomonth(dateadd_months(end, -3)))
    previous_2d = (dateadd_months(previous[0], -3), dateadd_months(previous[1], -3))  # no EOMONTH
    return (start, end), previous, previous, previous_2d
