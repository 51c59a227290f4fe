"""An independent, deliberately plain reference implementation of the SALT tables (salt.md).

Written from /work/shared/methodology/salt.md (and the SQL conventions of main-tables.md §0) only, row by
row in pure Python, for the differential test (test_salt_differential.py). It shares no code with
`ascld.measures.salt`. Each step cites the section of salt.md it follows.

Input: a list of dicts with the SALT input columns (`datetime.date` for dates, `datetime.datetime` for
`ImportDate`, None for NULL) and the period dates. Every string comparison goes through `eq`/`isin`
(case-insensitive, trailing spaces ignored, NULL never equal: main-tables.md §0) or `like`
(case-insensitive, trailing spaces significant). Person identifiers are compared exactly.

Output: {(measure, la_code, breakdown, group): (numerator, denominator)} with la_code None for England.
`group` holds the values of the breakdown's dimensions joined by " | " (NULL written `(null)`), as in
docs/measures-salt.md. Values that SQL Server would group together (case, trailing spaces) are one group
here: the key is made of `norm`-ed values, so compare keys with `group_key`.

Where salt.md leaves a detail open, the choice is the one recorded in docs/measures-salt.md (decisions and
open points) and is marked "choice" below.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal

NULL_LABEL = "(null)"
SEP = " | "

# ---------------------------------------------------------------------------------------------------------------
# SQL semantics (main-tables.md §0)


def norm(value):
    """The collation key of a string: case-insensitive, trailing spaces ignored (main-tables.md §0 '=')."""
    return None if value is None else str(value).rstrip(" ").casefold()


def eq(value, literal) -> bool:
    return value is not None and literal is not None and norm(value) == norm(literal)


def isin(value, literals) -> bool:
    return value is not None and any(eq(value, x) for x in literals)


def like(value, pattern):
    """`value LIKE pattern` for literal text with an optional trailing `%`; None when value is NULL.

    main-tables.md §0: case-insensitive; trailing spaces are not ignored."""
    if value is None:
        return None
    v, p = value.casefold(), pattern.casefold()
    if p.endswith("%"):
        return v.startswith(p[:-1])
    return v == p


def trim_eq(a, b) -> bool:
    """`TRIM(a) = TRIM(b)`: spaces on both sides ignored, case-insensitive."""
    return a is not None and b is not None and a.strip(" ").casefold() == b.strip(" ").casefold()


def concat(*parts) -> str:
    """CONCAT: NULL arguments become ''; dates as yyyy-mm-dd."""
    return "".join("" if p is None else (p.isoformat() if isinstance(p, dt.date) else str(p)) for p in parts)


def plus(a, b):
    """`a + b` on strings: NULL if either is NULL."""
    return None if a is None or b is None else a + b


def midnight(d: dt.date) -> dt.datetime:
    return dt.datetime(d.year, d.month, d.day)


def dob(row):
    """§1.3 proxy date of birth: the 1st of the birth month."""
    if row["Der_Birth_Year"] is None or row["Der_Birth_Month"] is None:
        return None
    return dt.date(int(row["Der_Birth_Year"]), int(row["Der_Birth_Month"]), 1)


def age_at(birth: dt.date | None, on: dt.date):
    """§1.3 FLOOR(DATEDIFF(DAY, DOB, d) / 365.25)."""
    if birth is None:
        return None
    return math.floor((on - birth).days / 365.25)


def salt_band(age):
    """§1.3 SALT age bands: 18-64 and 65+ (> 64)."""
    if age is None:
        return None
    if 18 <= age <= 64:
        return "18-64"
    if age > 64:
        return "65+"
    return None


def minus_months(d: dt.date, months: int) -> dt.date:
    """DATEADD(MONTH, -n, d), clamped to the month end (main-tables.md §0)."""
    y, m = divmod(d.year * 12 + d.month - 1 - months, 12)
    m += 1
    last = (dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(y, m, min(d.day, last))


def birth_known(row) -> bool:
    return row["Der_Birth_Month"] is not None and row["Der_Birth_Year"] is not None


def alive_from(row, d: dt.date) -> bool:
    """(`Date_of_Death >= d` or NULL)."""
    return row["Date_of_Death"] is None or row["Date_of_Death"] >= d


# ---------------------------------------------------------------------------------------------------------------
# §1.1 Release 1 values and §1.8 reference tables

SERVICE_USER = "Service User"
CARERS = ("Carer", "Carer known by association")
EVENT_TYPES = ("Request", "Assessment", "Service", "Review")
LT_NURSING = "Long Term Support: Nursing Care"
LT_RESIDENTIAL = "Long Term Support: Residential Care"
LT_COMMUNITY = "Long Term Support: Community"
LT_PRISON = "Long Term Support: Prison"
LONG_TERM = (LT_NURSING, LT_RESIDENTIAL, LT_COMMUNITY, LT_PRISON)
ST_MAX = "Short Term Support: ST-Max"
ST_LOW = "Short Term Support: Ongoing Low Level"
ST_OTHER = "Short Term Support: Other Short Term"
CARER_DIRECT = "Carer Support: Direct to Carer"
CARER_INVOLVING = "Carer Support: Support involving the person cared-for"
NFA_IA = "NFA - Information & Advice / Signposting only"

OUTCOME_HIERARCHY = {  # §1.8, exactly as listed (unlisted spellings -> 99)
    "Progress to Reablement/ST-Max": 1,
    "Progress to Assessment": 2,
    "Admitted to Hospital": 3,
    "Progress to Re-assessment / Unplanned Review": 4,
    "Progress to Support Planning / Services": 5,
    "Progress to End of Life Care": 6,
    "No change in package": 7,
    "Service ended as planned": 8,
    "Progress to financial assessment": 9,
    "Provision of service": 10,
    "NFA - Deceased": 11,
    "NFA - Moved to another LA": 12,
    "NFA - 100% NHS-funded care": 13,
    "NFA - Information & Advice / Signposting only": 14,
    "NFA - Self-funded client (inc. 12wk disregard)": 15,
    "NFA - Support declined": 16,
    "NFA - Support ended – other reason": 17,
    "NFA - No services offered - other reason": 18,
    "NFA- Other": 19,
}

STS001_MAPPING = {  # §1.8 #REF_SEQUEL_MAPPING: outcome -> (code, description)
    "Progress to Reablement/ST-Max": (2, "Unable_To_Classify"),
    "Progress to Assessment": (2, "Unable_To_Classify"),
    "Admitted to hospital": (2, "Unable_To_Classify"),
    "Progress to Re-assessment / Unplanned Review": (2, "Unable_To_Classify"),
    "Progress to Support Planning / Services": (2, "Unable_To_Classify"),
    "Progress to End of Life Care": (1, "End of Life"),
    "No change in package": (2, "Unable_To_Classify"),
    "Service ended as planned": (2, "Unable_To_Classify"),
    "NFA - Moved to another LA": (1, "No Services Provided - other reason"),
    "NFA - 100% NHS funded care": (1, "100% NHS Funded Care"),
    "NFA - Self-funded client (Inc. 12wk disregard)": (1, "No Services Provided - other reason"),
    "NFA - Support declined": (1, "No Services Provided - other reason"),
    "NFA - Information & Advice / Signposting only": (1, "Universal Services/ Signposted to other services"),
    "NFA - Deceased": (1, "No Services Provided - Deceased"),
    "NFA - No services offered: Other reason": (1, "No Services Provided - other reason"),
    "NFA - Support ended: Other reason": (1, "No Services Provided - other reason"),
    "Progress to financial assessment": (2, "Unable_To_Classify"),
    "Provision of service": (2, "Unable_To_Classify"),
    "NFA- Other": (1, "No Services Provided - other reason"),
}

STS001_SERVICE_H = {ST_MAX: 1, LT_NURSING: 2, LT_RESIDENTIAL: 3, LT_COMMUNITY: 4, LT_PRISON: 5, ST_LOW: 6, ST_OTHER: 7}
STS002A_SERVICE_H = {LT_NURSING: 1, LT_RESIDENTIAL: 2, LT_COMMUNITY: 3, LT_PRISON: 4, ST_LOW: 5, ST_OTHER: 6}

_EARLY = "Early cessation of service (not leading to long term support) - 100% NHS funded care/End of Life/deceased"
_OTHER_EN = "No services provided – other"
STS002A_MAPPING = {  # §1.8 #REF_ST_MAX_Sequel_Mappings
    "NFA - 100% NHS funded care": _EARLY,
    "NFA - Deceased": _EARLY,
    "NFA - Self-funded client (Inc. 12wk disregard)": "No services provided – needs identified but self-funding",
    "NFA - Support declined": "No services provided – needs identified but support declined",
    "NFA - Information & Advice / Signposting only": (
        "No Services Provided – Universal Services / signposted to other services"
    ),
    "NFA - Moved to another LA": _OTHER_EN,
    "NFA- Other": _OTHER_EN,
    "NFA - No services offered: Other reason": _OTHER_EN,
    "NFA - Support ended: Other reason": _OTHER_EN,
    "Progress to End of Life Care": _OTHER_EN,
    "Admitted to hospital": _OTHER_EN,
    LT_NURSING: "Long Term Support (any setting)",
    LT_RESIDENTIAL: "Long Term Support (any setting)",
    LT_COMMUNITY: "Long Term Support (any setting)",
    LT_PRISON: "Long Term Support (any setting)",
    ST_LOW: "Ongoing Low Level Support",
    ST_OTHER: "Short Term Support (other)",
    "No Service Found": "No Service Found",
}

ASCOF_2A_DEN = (  # §3 ASCOF 2A (Release 1)
    "Long Term Support (any setting)",
    "Ongoing Low Level Support",
    "Short Term Support (other)",
    "No Services Provided – Universal Services / signposted to other services",
    "No services provided – other",
)
ASCOF_2A_NUM = ASCOF_2A_DEN[1:]

SETTING_TABLE = (  # §5 step 2: (service type, mechanism, hierarchy)
    (LT_NURSING, "", 1),
    (LT_RESIDENTIAL, "", 2),
    (LT_COMMUNITY, "Direct Payment", 3),
    (LT_COMMUNITY, "CASSR Managed Personal Budget", 4),
    (LT_COMMUNITY, "CASSR Commissioned Support", 5),
    (LT_COMMUNITY, "", 6),
    (LT_PRISON, "CASSR Managed Personal Budget", 7),
    (LT_PRISON, "CASSR Commissioned Support", 8),
    (LT_PRISON, "", 9),
)

PSR_LIST = (  # §5 step 3
    "Physical Support: Access & mobility only",
    "Physical Support: Personal care support",
    "Sensory Support: Support for visual impairment",
    "Sensory Support: Support for hearing impairment",
    "Sensory Support: Support for dual impairment",
    "Support with Memory & Cognition",
    "Learning Disability Support",
    "Mental Health Support",
    "Social Support: Substance misuse support",
    "Social Support: Asylum seeker support",
    "Social Support: Support for Social Isolation/Other",
    "Social Support: Support to Carer",
    "Unknown",
)
CARER_LIST = ("Yes", "No", "Invalid")  # §6 step 3
_MIXED = "Mixed or multiple ethnic groups - "
_ASIAN = "Asian or Asian British - "
_BLACK = "Black, Black British, Caribbean or African - "
ETHNICITY_LIST = (  # §6 step 4
    "White - English, Welsh, Scottish, Northern Irish or British",
    "White - Irish",
    "White - Gypsy or Irish Traveller",
    "White - Roma",
    "White - Any other White background",
    _MIXED + "White and Black Caribbean",
    _MIXED + "White and Black African",
    _MIXED + "White and Asian",
    _MIXED + "Any other Mixed or multiple ethnic background",
    _ASIAN + "Indian",
    _ASIAN + "Pakistani",
    _ASIAN + "Bangladeshi",
    _ASIAN + "Chinese",
    _ASIAN + "Any other Asian background",
    _BLACK + "African",
    _BLACK + "Caribbean",
    _BLACK + "Any other Black, Black British or Caribbean background",
    "Other ethnic group - Arab",
    "Other ethnic group - Any other ethnic group",
    "No data - Refused",
    "No data - Undeclared or Not known",
)
EMPLOYMENT_LIST = (  # §10 step 2
    "Paid: Less than 16 hours a week",
    "Paid: 16 or more hours a week",
    "Paid: Hours per week unknown",
    "Not in Paid Employment (seeking work)",
    "Not in Paid Employment (not actively seeking work / retired)",
    "Not in Paid Employment (voluntary work only)",
    "Unknown",
)
ACCOMMODATION_LIST = (  # main-tables.md §10, R1 order; §10 step 3: the first nine are settled
    "Owner occupier or shared ownership scheme",
    "Tenant",
    "Tenant - private landlord",
    "Settled mainstream housing with family / friends",
    "Supported accommodation / supported lodgings / supported group home",
    "Shared Lives scheme",
    "Approved premises for offenders released from prison or under probation supervision",
    "Sheltered housing / extra care housing / other sheltered housing",
    "Mobile accommodation for Gypsy / Roma and Traveller communities",
    "Rough sleeper / squatting",
    "Night shelter / emergency hostel / direct access hostel",
    "Refuge",
    "Placed in temporary accommodation by the council (inc. homelessness resettlement)",
    "Staying with family / friends as a short-term guest",
    "Acute / long-term healthcare residential facility or hospital",
    "Registered care home",
    "Registered nursing home",
    "Prison / Young offenders institution / detention centre",
    "Other temporary accommodation",
    "Unknown",
)
SETTLED = ACCOMMODATION_LIST[:9]

UNKNOWN_MECH = "Support Direct to Carer: Unknown Delivery Mech"
NO_DIRECT = "No Direct Support Provided to Carer"
INFORMATION = "Information, Advice and Other Universal Services / Signposting"
LTS003_HIERARCHY = {  # §9 step 3
    "Direct Payment only": 1,
    "CASSR Managed Personal Budget": 2,
    "CASSR Commissioned Support only": 3,
    "Support Direct to Carer: Unknown Delivery Mech": 4,
    "Information, Advice and Other Universal Services / Signposting": 5,
    "No Direct Support Provided to Carer": 6,
}


def lookup(table: dict, value):
    """A case-insensitive join to a reference table (unmatched or NULL -> None)."""
    if value is None:
        return None
    for key, out in table.items():
        if eq(value, key):
            return out
    return None


def outcome_h(outcome) -> int:
    """§1.8 event outcome hierarchy; not matched -> 99."""
    h = lookup(OUTCOME_HIERARCHY, outcome)
    return 99 if h is None else h


# ---------------------------------------------------------------------------------------------------------------
# §1.2 person identifier, §1.4 latest versions, §1.5 latest single submission, §1.6 islands


def assign_ids(rows: list[dict]) -> list[dict]:
    """§1.2: traced NHS number; else the LA id if no row of the working set with a traced number has it (whole
    set, not per LA); else the row is deleted. Returns copies with `ID`."""
    linked = {
        r["LA_Person_Unique_Identifier"]
        for r in rows
        if r["Der_NHS_Number_Traced_Pseudo"] is not None and r["LA_Person_Unique_Identifier"] is not None
    }
    out = []
    for r in rows:
        if r["Der_NHS_Number_Traced_Pseudo"] is not None:
            pid = r["Der_NHS_Number_Traced_Pseudo"]
        elif r["LA_Person_Unique_Identifier"] is not None and r["LA_Person_Unique_Identifier"] not in linked:
            pid = r["LA_Person_Unique_Identifier"]
        else:
            continue  # step 3: no ID -> deleted
        out.append({**r, "ID": pid})
    return out


def request_key(r) -> str:
    """§1.4 request key."""
    return concat(r["LA_Code"], r["ID"], r["Client_Type"], r["Event_Start_Date"], r["Request_Route_of_Access"])


def service_key(r) -> str:
    """§1.4 service key."""
    return concat(
        r["LA_Code"],
        r["ID"],
        r["Client_Type"],
        r["Event_Start_Date"],
        r["Service_Type"],
        r["Service_Component"],
        r["Delivery_Mechanism"],
    )


def latest_versions(rows: list[dict], window: dt.date, key) -> list[dict]:
    """§1.4: among rows imported up to W (midnight), all rows whose ImportDate is the latest of their key (keys
    compared as SQL strings: case-insensitive, trailing spaces ignored)."""
    kept = [r for r in rows if r["ImportDate"] is not None and r["ImportDate"] <= midnight(window)]
    latest: dict = {}
    for r in kept:
        k = norm(key(r))
        latest[k] = max(latest.get(k, r["ImportDate"]), r["ImportDate"])
    return [r for r in kept if r["ImportDate"] == latest[norm(key(r))]]


def latest_submission(raw: list[dict], p) -> list[dict]:
    """§1.5: per (LA_Name, LA_Code) the file with the latest ImportDate among files whose stated MIN(start) <=
    year start, MAX(end) >= PE, ImportDate > PE (midnight), date(ImportDate) <= window close, LA_Name not NULL;
    its rows are those matching (LA_Name, ImportDate)."""
    files: dict = defaultdict(list)
    for r in raw:
        if r["LA_Name"] is None or r["ImportDate"] is None:
            continue
        files[(norm(r["LA_Name"]), norm(r["LA_Code"]), r["ImportDate"])].append(r)
    best: dict = {}
    for (name, code, imported), rs in files.items():
        starts = [r["Reporting_Period_Start_Date"] for r in rs if r["Reporting_Period_Start_Date"] is not None]
        ends = [r["Reporting_Period_End_Date"] for r in rs if r["Reporting_Period_End_Date"] is not None]
        if not starts or not ends or min(starts) > p.year_start or max(ends) < p.end:
            continue
        if not (imported > midnight(p.end) and imported.date() <= p.submission_window_close):
            continue
        if (name, code) not in best or imported > best[(name, code)]:
            best[(name, code)] = imported
    chosen = {(name, imported) for (name, _code), imported in best.items()}
    out = []
    for r in raw:
        if r["LA_Name"] is None:
            continue
        # one copy per chosen file it matches on (LA_Name, ImportDate)
        out.extend(r for pair in chosen if pair == (norm(r["LA_Name"]), r["ImportDate"]))
    return out


def islands(rows: list[dict], start: str, end: str, gap: int) -> list[dict]:
    """§1.6 islands and gaps per (LA_CODE, ID) on distinct (start, end) (NULL end already replaced).

    Returns rows of the islands table: {LA_Code, ID, start, end, island}. Step 2: LAG on the previous row in
    (start, end) order; step 3: a row continues the island if previous end >= start - g; island number = running
    count of island starts over (start, end) with ties together."""
    per: dict = defaultdict(set)
    for r in rows:
        per[(r["LA_Code"], r["ID"])].add((r[start], r[end]))
    out = []
    for (la, pid), pairs in per.items():
        ordered = sorted(pairs)
        flags = {}
        prev_end = None
        for i, (s, e) in enumerate(ordered):
            new = i == 0 or not (prev_end >= s - dt.timedelta(days=gap))
            flags[(s, e)] = 1 if new else 0
            prev_end = e
        running = 0
        for s, e in ordered:
            running += flags[(s, e)]
            out.append({"LA_Code": la, "ID": pid, "start": s, "end": e, "island": running})
    return out


def join_islands(rows: list[dict], isl: list[dict], start: str, end: str) -> list[dict]:
    """§1.6 step 5: the island number joined back on (ID, start, end), without LA_CODE (a row can match islands
    of the same person in another council)."""
    index: dict = defaultdict(list)
    for i in isl:
        index[(i["ID"], i["start"], i["end"])].append(i["island"])
    out = []
    for r in rows:
        for n in index.get((r["ID"], r[start], r[end]), []):
            out.append({**r, "island": n})
    return out


def open_long_term_at(services: list[dict], la, pid, d: dt.date) -> bool:
    """§2 step 4 / §4 step 3: a long-term service of (LA, ID) with start <= d <= end, or start <= d, end NULL."""
    for s in services:
        if s["LA_Code"] != la or s["ID"] != pid or not isin(s["Service_Type"], LONG_TERM):
            continue
        if s["Event_Start_Date"] is None or s["Event_Start_Date"] > d:
            continue
        if s["Event_End_Date"] is None or d <= s["Event_End_Date"]:
            return True
    return False


# ---------------------------------------------------------------------------------------------------------------
# §1.7 sequel search


def sequel_rows(rows_a: list[dict], events: list[dict], *, is_itself) -> list[dict]:
    """§1.7 steps 1-2 for one cluster (LA, ID, count): every cluster row (all share the cluster start and end)
    joined to every event of the person starting on or after the cluster end; `Rn` = DENSE_RANK by sequel start;
    rows that are the cluster itself deleted afterwards (`Rn` not recomputed).

    salt.md does not say how "break-type" is tested in step 2; the source deletes with `=` there and flags
    breaks with `LIKE` in step 4 (docs/measures-salt.md), so trailing spaces matter in step 4 only."""
    ce = rows_a[0]["Cluster_End_Date"]
    following = [e for e in events if e["Event_Start_Date"] is not None and e["Event_Start_Date"] >= ce]
    rn = {s: i + 1 for i, s in enumerate(sorted({e["Event_Start_Date"] for e in following}))}
    out = []
    for a in rows_a:
        for e in following:
            itself = is_itself(e) and (
                e["Event_Start_Date"] == a["Cluster_Start_Date"]
                or (e["Event_End_Date"] is not None and e["Event_End_Date"] == a["Cluster_End_Date"])
            )
            if not itself:
                out.append({"a": a, "e": e, "Rn": rn[e["Event_Start_Date"]]})
    return out


def chain(seq: list[dict], *, first: int, is_break) -> list[dict]:
    """§1.7 step 4 over one cluster's sequel rows: Flag (LAG of the sequel end; ties on the start ordered by the
    sequel end, NULLs first: the choice in docs/measures-salt.md), In_Chain, In_Scope, Break, No_Break, running
    over rows with sequel start <= this row's (ties included). Returns the rows kept (In_Scope = 1, No_Break = 1).
    """
    seq = sorted(
        seq,
        key=lambda r: (
            r["e"]["Event_Start_Date"],
            r["e"]["Event_End_Date"] is not None,
            r["e"]["Event_End_Date"] or dt.date.min,
        ),
    )
    prev = None
    for i, r in enumerate(seq):
        e = r["e"]
        if i == 0 or prev is None:
            r["Flag"] = 1
        else:
            r["Flag"] = 0 if (e["Event_Start_Date"] - prev).days > 3 else 1
        prev = e["Event_End_Date"]
    for r in seq:
        e = r["e"]
        upto = [x for x in seq if x["e"]["Event_Start_Date"] <= e["Event_Start_Date"]]
        if e["Event_End_Date"] is None and r["Rn"] == 1:
            r["In_Chain"] = 1
        elif (e["Event_Start_Date"] - r["a"]["Cluster_End_Date"]).days > first and r["Rn"] == 1:
            r["In_Chain"] = 0
        else:
            r["In_Chain"] = min(x["Flag"] for x in upto)
        r["Break"] = 0 if is_break(e) else 1
    for r in seq:
        upto = [x for x in seq if x["e"]["Event_Start_Date"] <= r["e"]["Event_Start_Date"]]
        r["In_Scope"] = min(x["In_Chain"] for x in upto)
        r["No_Break"] = min(x["Break"] for x in upto)
    return [r for r in seq if r["In_Scope"] == 1 and r["No_Break"] == 1]


def distinct(rows: list[dict], key) -> list[dict]:
    """SELECT DISTINCT on `key(row)` (strings compared as SQL Server does)."""
    seen, out = set(), []
    for r in rows:
        k = tuple(norm(x) if isinstance(x, str) else x for x in key(r))
        if k not in seen:
            seen.add(k)
            out.append(r)
    return out


def find_sequels(clusters: dict, by_person: dict, *, first, is_break, is_itself, service_h, usable, nfa_only):
    """§1.7 steps 1-7 for every cluster ({(LA, ID, count): cluster rows}).

    The record types are built as the tables of salt.md §2 step 7 / §3 step 6, at the grain the limitations of
    salt.md §2 describe ("NULL outcomes break joins; duplicates can make sequel counts exceed request counts"):
    the no-chronology and out-of-scope tests match a cluster on its outcome (a NULL outcome never matches, main-
    tables.md §0), and sequel rows are compared as distinct (type, start, end, outcome) rows with the cluster row
    they belong to. Returns {type: [(cluster row, extra)]} plus the kept service rows per cluster."""
    out: dict = {1: [], 2: [], 3: [], 4: [], 5: []}
    all_seq, all_kept = [], []
    top_services: dict = {}
    for k, rows_a in clusters.items():
        seq = sequel_rows(rows_a, by_person[(k[0], k[1])], is_itself=is_itself)
        all_seq.extend(seq)
        # step 3: cluster rows with no sequel row matching (start, end, outcome, count) -> type 1
        for a in rows_a:
            if not any(eq(r["a"]["Event_Outcome"], a["Event_Outcome"]) for r in seq):
                out[1].append((a, None))
        kept = chain(seq, first=first, is_break=is_break)
        all_kept.extend(kept)
        if not kept:
            continue
        h = {id(r): lookup(service_h, r["e"]["Service_Type"]) or 99 for r in kept}
        best = min(h.values())
        if best != 99:  # step 5: the service type(s) with the lowest hierarchy -> type 2
            top = [r for r in kept if h[id(r)] == best]
            top_services[k] = top
            for r in distinct(top, lambda r: (*a_key(r["a"]), r["e"]["Service_Type"])):
                out[2].append((r["a"], r["e"]["Service_Type"]))
            continue
        # step 6: distinct sequel rows, Rn2 = dense rank by sequel end DESC, NULLs last
        other = distinct(
            kept,
            lambda r: (
                *a_key(r["a"]),
                r["e"]["Event_Type"],
                r["e"]["Event_Start_Date"],
                r["e"]["Event_End_Date"],
                r["e"]["Event_Outcome"],
            ),
        )
        ends = sorted({r["e"]["Event_End_Date"] for r in other if r["e"]["Event_End_Date"] is not None}, reverse=True)
        rank = {d: i + 1 for i, d in enumerate(ends)}
        rank[None] = len(ends) + 1
        usable_ranks = [rank[r["e"]["Event_End_Date"]] for r in other if usable(r["e"]["Event_Outcome"])]
        if usable_ranks:
            low = min(usable_ranks)
            at = [r for r in other if rank[r["e"]["Event_End_Date"]] == low]
            if nfa_only:
                at = [r for r in at if usable(r["e"]["Event_Outcome"])]
            for r in at:
                out[3].append((r["a"], (r["e"]["Event_Outcome"], len(at))))
        else:
            for r in other:
                out[4].append((r["a"], None))
    # step 7: cluster rows with sequel rows but none kept (matched on LA, ID, start, end, outcome) -> type 5
    for r in all_seq:
        a = r["a"]
        if not any(
            x["a"]["LA_Code"] == a["LA_Code"]
            and x["a"]["ID"] == a["ID"]
            and x["a"]["Cluster_Start_Date"] == a["Cluster_Start_Date"]
            and x["a"]["Cluster_End_Date"] == a["Cluster_End_Date"]
            and eq(x["a"]["Event_Outcome"], a["Event_Outcome"])
            for x in all_kept
        ):
            out[5].append((a, None))
    return out, top_services


def a_key(a: dict) -> tuple:
    """The cluster columns carried through the sequel tables."""
    return (
        a["LA_Code"],
        a["ID"],
        a.get("AGE"),
        a.get("Request_Route_of_Access"),
        a["Cluster_Start_Date"],
        a["Cluster_End_Date"],
        a["Event_Outcome"],
        a["key"][2],
    )


# ---------------------------------------------------------------------------------------------------------------
# §2 STS001


def _sts001(raw: list[dict], p):
    """Returns (final rows, STS002a cohort set of (LA, ID, sequel start))."""
    # step 1: all-events set
    rows = [
        r
        for r in raw
        if isin(r["Event_Type"], EVENT_TYPES)
        and r["Event_Start_Date"] is not None
        and r["Event_Start_Date"] <= p.end
        and birth_known(r)
        and alive_from(r, p.start)
        and eq(r["Client_Type"], SERVICE_USER)
    ]
    rows = assign_ids(rows)
    for r in rows:
        r["AGE"] = age_at(dob(r), p.end)
    requests = [r for r in rows if eq(r["Event_Type"], "Request")]
    services = [r for r in rows if eq(r["Event_Type"], "Service")]
    others = [r for r in rows if not eq(r["Event_Type"], "Request") and not eq(r["Event_Type"], "Service")]
    events = (
        latest_versions(requests, p.event_window_close, request_key)
        + latest_versions(services, p.event_window_close, service_key)
        + others
    )
    by_person: dict = defaultdict(list)
    for e in events:
        by_person[(e["LA_Code"], e["ID"])].append(e)

    # step 2: request clusters (NULL end -> today), g = 4
    reqs = [{**e, "End": e["Event_End_Date"] or p.today} for e in events if eq(e["Event_Type"], "Request")]
    isl = islands(reqs, "Event_Start_Date", "End", 4)
    island_start: dict = defaultdict(lambda: dt.date.max)
    joined = join_islands(reqs, isl, "Event_Start_Date", "End")
    for r in joined:  # §1.6 step 4: island start = MIN start of the island
        k = (r["LA_Code"], r["ID"], r["island"])
        island_start[k] = min(island_start[k], r["Event_Start_Date"])
    # step 3: rows ending in [PS, PE]; per (LA, ID, REQUEST_COUNT) the rows with the latest end
    inperiod = [r for r in joined if p.start <= r["End"] <= p.end]
    groups: dict = defaultdict(list)
    for r in inperiod:
        groups[(r["LA_Code"], r["ID"], r["island"])].append(r)
    clusters = []
    for k, rs in groups.items():
        last = max(r["End"] for r in rs)
        for r in rs:
            if r["End"] == last:
                clusters.append({**r, "Cluster_Start_Date": island_start[k], "Cluster_End_Date": last, "key": k})
    # the cluster table holds distinct (LA, ID, age, start, end, route, outcome, count)
    clusters = distinct(
        clusters,
        lambda c: (
            c["LA_Code"],
            c["ID"],
            c["AGE"],
            c["Cluster_Start_Date"],
            c["Cluster_End_Date"],
            c["Request_Route_of_Access"],
            c["Event_Outcome"],
            c["key"][2],
        ),
    )
    # step 4: new clients (removal fails when route or outcome is NULL)
    kept = []
    for c in clusters:
        existing = open_long_term_at(by_person[(c["LA_Code"], c["ID"])], c["LA_Code"], c["ID"], c["Cluster_Start_Date"])
        if existing and c["Request_Route_of_Access"] is not None and c["Event_Outcome"] is not None:
            continue
        kept.append(c)
    # step 5: lowest outcome hierarchy per cluster, joined back on route: NULL route dropped; one copy per row of
    # the minimum set with the same route
    per_cluster: dict = defaultdict(list)
    for c in kept:
        per_cluster[c["key"]].append(c)
    final_rows = []
    for cs in per_cluster.values():
        low = min(outcome_h(c["Event_Outcome"]) for c in cs)
        mins = [c for c in cs if outcome_h(c["Event_Outcome"]) == low]
        for a in mins:
            for b in mins:
                if eq(a["Request_Route_of_Access"], b["Request_Route_of_Access"]):
                    final_rows.append(a)
    # step 6: sequels (§1.7) with first = 28, break = any Request, STS001 service hierarchy
    per: dict = defaultdict(list)
    for c in final_rows:
        per[c["key"]].append(c)
    found, top = find_sequels(
        per,
        by_person,
        first=28,
        is_break=lambda e: like(e["Event_Type"], "Request") is True,
        is_itself=lambda e: eq(e["Event_Type"], "Request"),
        service_h=STS001_SERVICE_H,
        usable=lambda o: (lookup(STS001_MAPPING, o) or (0, ""))[0] == 1,
        nfa_only=False,
    )
    # step 8: STS002a cohort: the kept ST-Max rows of clusters whose chosen service is ST-Max
    cohort = set()
    for rows in top.values():
        for r in rows:
            if eq(r["e"]["Service_Type"], ST_MAX):
                cohort.add((r["a"]["LA_Code"], r["a"]["ID"], r["e"]["Event_Start_Date"]))
    # step 7: #STS001
    out = []

    def emit(a, fo, fm, rtype):
        out.append(
            {
                "LA_Code": a["LA_Code"],
                "ID": a["ID"],
                "AGE": a["AGE"],
                "ROUTE": a["Request_Route_of_Access"],
                "FINAL_OUTCOME": fo,
                "FINAL_OUTCOME_MAPPED": fm,
                "Record_Type": rtype,
            }
        )

    def described(o):
        m = lookup(STS001_MAPPING, o)
        return None if m is None else m[1]

    for a, _ in found[1]:
        d = described(a["Event_Outcome"])
        emit(
            a,
            plus("No_Chronology_", a["Event_Outcome"]),
            "No_Chronology_Unable_To_Classify" if d is None else "No_Chronology_" + d,
            1,
        )
    for a, service in found[2]:
        emit(a, service, service, 2)
    type3 = []
    for a, (o, count) in found[3]:
        fo, fm = (o, described(o)) if count == 1 else ("NFA- Other", "No Services Provided - other reason")
        type3.append((a, fo, fm))
    for a, fo, fm in distinct(
        type3, lambda t: (t[0]["LA_Code"], t[0]["ID"], t[0]["AGE"], t[0]["Request_Route_of_Access"], t[1], t[2])
    ):
        emit(a, fo, fm, 3)
    for a, _ in distinct(
        found[4],
        lambda t: (
            t[0]["LA_Code"],
            t[0]["ID"],
            t[0]["AGE"],
            t[0]["Request_Route_of_Access"],
            t[0]["key"][2],
            t[0]["Event_Outcome"],
        ),
    ):
        m = lookup(STS001_MAPPING, a["Event_Outcome"])
        fm = "No Service Found_" + m[1] if m is not None and m[0] == 1 else "No Service Found"
        emit(a, plus("No Service Found_", a["Event_Outcome"]), fm, 4)
    for a, _ in distinct(
        found[5],
        lambda t: (
            t[0]["LA_Code"],
            t[0]["ID"],
            t[0]["AGE"],
            t[0]["Request_Route_of_Access"],
            t[0]["Cluster_Start_Date"],
            t[0]["Cluster_End_Date"],
            t[0]["Event_Outcome"],
        ),
    ):
        emit(a, plus("No_Chronology_", a["Event_Outcome"]), plus("No_Chronology_", described(a["Event_Outcome"])), 5)
    return out, cohort


# ---------------------------------------------------------------------------------------------------------------
# §3 STS002a and §4 STS002b


def _sts002_subset(raw: list[dict], p) -> list[dict]:
    """§3 step 1: four event types, start <= PE, Service User; ID; latest versions of services only."""
    rows = [
        r
        for r in raw
        if isin(r["Event_Type"], EVENT_TYPES)
        and r["Event_Start_Date"] is not None
        and r["Event_Start_Date"] <= p.end
        and eq(r["Client_Type"], SERVICE_USER)
    ]
    rows = assign_ids(rows)
    services = [r for r in rows if eq(r["Event_Type"], "Service")]
    others = [r for r in rows if not eq(r["Event_Type"], "Service")]
    return latest_versions(services, p.event_window_close, service_key) + others


def _st_max_clusters(st_rows: list[dict], p) -> list[dict]:
    """§3 steps 2-3 / §4 step 2: distinct (LA, ID, start, end, outcome), NULL end -> today, islands g = 1;
    cluster end = latest end, outcome(s) of the row(s) with that end, cluster start = island start; clusters
    ending in [PS, PE]."""
    unique: dict = {}
    for r in st_rows:
        end = r["Event_End_Date"] or p.today
        k = (r["LA_Code"], r["ID"], r["Event_Start_Date"], end, norm(r["Event_Outcome"]))
        unique.setdefault(
            k,
            {
                "LA_Code": r["LA_Code"],
                "ID": r["ID"],
                "Event_Start_Date": r["Event_Start_Date"],
                "End": end,
                "Event_Outcome": r["Event_Outcome"],
            },
        )
    rows = list(unique.values())
    joined = join_islands(rows, islands(rows, "Event_Start_Date", "End", 1), "Event_Start_Date", "End")
    groups: dict = defaultdict(list)
    for r in joined:
        groups[(r["LA_Code"], r["ID"], r["island"])].append(r)
    out = []
    for k, rs in groups.items():
        last = max(r["End"] for r in rs)
        if not (p.start <= last <= p.end):
            continue
        first = min(r["Event_Start_Date"] for r in rs)
        for r in rs:
            if r["End"] == last:
                out.append({**r, "Cluster_Start_Date": first, "Cluster_End_Date": last, "key": k})
    return distinct(
        out,
        lambda c: (
            c["LA_Code"],
            c["ID"],
            c["Cluster_Start_Date"],
            c["Cluster_End_Date"],
            c["Event_Outcome"],
            c["key"][2],
        ),
    )


def _sts002a(raw: list[dict], p, cohort: set) -> list[dict]:
    subset = _sts002_subset(raw, p)
    by_person: dict = defaultdict(list)
    for e in subset:
        by_person[(e["LA_Code"], e["ID"])].append(e)
    # step 2: ST-Max rows in the STS001 cohort
    st = [
        r
        for r in subset
        if eq(r["Event_Type"], "Service")
        and eq(r["Service_Type"], ST_MAX)
        and alive_from(r, p.start)
        and (r["LA_Code"], r["ID"], r["Event_Start_Date"]) in cohort
    ]
    clusters = _st_max_clusters(st, p)
    # step 4: outcome tie-break per (LA, ID, ST_MAX_COUNT)
    per: dict = defaultdict(list)
    for c in clusters:
        per[c["key"]].append(c)
    rows = []
    for cs in per.values():
        low = min(outcome_h(c["Event_Outcome"]) for c in cs)
        rows.extend(c for c in cs if outcome_h(c["Event_Outcome"]) == low)
    # step 5: sequels (first = 3, break = another ST-Max service, STS002a hierarchy)
    per = defaultdict(list)
    for c in rows:
        per[c["key"]].append(c)
    found, _top = find_sequels(
        per,
        by_person,
        first=3,
        is_break=lambda e: like(e["Service_Type"], ST_MAX) is True,
        is_itself=lambda e: eq(e["Service_Type"], ST_MAX),
        service_h=STS002A_SERVICE_H,
        usable=lambda o: like(o, "NFA%") is True,
        nfa_only=True,
    )
    # step 6: #STS002a
    out = []

    def emit(a, fo, fm, rtype):
        out.append(
            {
                "LA_Code": a["LA_Code"],
                "ID": a["ID"],
                "FINAL_OUTCOME": fo,
                "FINAL_OUTCOME_MAPPED": fm,
                "Record_Type": rtype,
            }
        )

    def chrono(a, rtype):
        o = a["Event_Outcome"]
        mapped = lookup(STS002A_MAPPING, o)
        if eq(o, "Service Ended As Planned"):
            fm = _OTHER_EN
        elif mapped is not None:
            fm = "No_Chronology_" + mapped
        else:
            fm = "No_Chronology_Unable_To_Classify"
        emit(a, plus("No_Chronology_", o), fm, rtype)

    def cols(t):
        return (
            t[0]["LA_Code"],
            t[0]["ID"],
            t[0]["Cluster_Start_Date"],
            t[0]["Cluster_End_Date"],
            t[0]["key"][2],
            t[0]["Event_Outcome"],
        )

    for a, _ in distinct(found[1], cols):
        chrono(a, 1)
    for a, service in found[2]:
        emit(a, service, lookup(STS002A_MAPPING, service), 2)
    type3 = []
    for a, (o, count) in found[3]:
        fo, fm = (o, lookup(STS002A_MAPPING, o)) if count == 1 else ("NFA- Other", _OTHER_EN)
        type3.append((a, fo, fm))
    for a, fo, fm in distinct(type3, lambda t: (t[0]["LA_Code"], t[0]["ID"], t[1], t[2])):
        emit(a, fo, fm, 3)
    for a, _ in distinct(found[4], lambda t: (t[0]["LA_Code"], t[0]["ID"], t[0]["key"][2], t[0]["Event_Outcome"])):
        o = a["Event_Outcome"]
        if like(o, "NFA%") is True:
            fm = lookup(STS002A_MAPPING, o)
        elif eq(o, "Service Ended as Planned"):
            fm = "No services provided - other"
        else:
            fm = "No Service Found"
        emit(a, plus("No Service Found_", o), fm, 4)
    for a, _ in distinct(found[5], cols):
        chrono(a, 5)
    return out


#: Decided (docs/measures-salt.md, "STS002b and a NULL ST-Max outcome"): the source code's inner join on the
#: outcome drops a cluster with a NULL outcome (test_salt_edges B01). False gives the other reading of salt.md §4
#: step 3 (an existing client by the long-term service alone).
STS002B_NULL_OUTCOME_DROPS = True


def _sts002b(raw: list[dict], p, null_outcome_drops: bool | None = None) -> list[dict]:
    subset = _sts002_subset(raw, p)
    st = [
        r for r in subset if eq(r["Event_Type"], "Service") and eq(r["Service_Type"], ST_MAX) and alive_from(r, p.start)
    ]
    clusters = _st_max_clusters(st, p)
    out = []
    for c in clusters:
        drops = STS002B_NULL_OUTCOME_DROPS if null_outcome_drops is None else null_outcome_drops
        if drops and c["Event_Outcome"] is None:
            continue
        if open_long_term_at(subset, c["LA_Code"], c["ID"], c["Cluster_Start_Date"]):  # step 3
            out.append({"LA_Code": c["LA_Code"], "episode": concat(c["ID"], c["island"])})  # step 4
    return out


# ---------------------------------------------------------------------------------------------------------------
# §5-§7 LTS001a/b/c


def blank_mechanism(r):
    """§5 step 2: (service type, mechanism, hierarchy) from the setting table; the mechanism is kept only if the
    trimmed pair is in the table and the type is community or prison, else ''."""
    st, mech = r["Service_Type"], r["Delivery_Mechanism"]
    m = ""
    if isin(st, (LT_COMMUNITY, LT_PRISON)):
        for t, tm, _h in SETTING_TABLE:
            if tm and trim_eq(st, t) and trim_eq(mech, tm):
                m = tm
    for t, tm, h in SETTING_TABLE:
        if trim_eq(st, t) and tm == m:
            return t, m, h
    raise AssertionError(st)


def one_per_person(rows: list[dict], known: str, value: str, valid, conflict: str) -> list[dict]:
    """§5 step 3 (per table): min hierarchy per (LA, ID); max known flag; latest start; value checked against the
    list (valid None: raw value kept, §7 step 5); more than one distinct value for (LA, ID, type, mechanism) ->
    the conflict value. Returns one record per remaining (LA, ID, value, type, mechanism)."""
    per: dict = defaultdict(list)
    for r in rows:
        per[(r["LA_Code"], r["ID"])].append(r)
    out = []
    for (la, pid), rs in per.items():
        h = min(r["H"] for r in rs)
        rs = [r for r in rs if r["H"] == h]
        k = max(r[known] for r in rs)
        rs = [r for r in rs if r[known] == k]
        s = max(r["Event_Start_Date"] for r in rs)
        rs = [r for r in rs if r["Event_Start_Date"] == s]
        vals = []
        for r in rs:
            v = r[value] if valid is None else (r[value] if isin(r[value], valid) else "Invalid/NULL")
            vals.append((r, v))
        sub: dict = defaultdict(list)
        for r, v in vals:
            sub[(norm(r["ST"]), r["DM"].casefold())].append((r, v))
        for _k, items in sub.items():
            values = {norm(v) for _r, v in items}  # DISTINCT: NULLs equal (main-tables.md §0)
            if len(values) > 1:
                items = [(items[0][0], conflict)]
            seen = set()
            for r, v in items:
                key = norm(v)
                if key in seen:
                    continue
                seen.add(key)
                out.append({"LA_Code": la, "ID": pid, "Category": v, "ST": r["ST"], "DM": r["DM"], "AGE": r["AGE"]})
    return out


def _long_term_rows(raw, p, *, end_from, death_from, with_end_filter=True):
    rows = [
        r
        for r in latest_submission(raw, p)
        if isin(r["Service_Type"], LONG_TERM)
        and eq(r["Client_Type"], SERVICE_USER)
        and r["Event_Start_Date"] is not None
        and r["Event_Start_Date"] <= p.end
        and (not with_end_filter or r["Event_End_Date"] is None or r["Event_End_Date"] >= end_from)
        and alive_from(r, death_from)
        and birth_known(r)
    ]
    rows = assign_ids(rows)
    out = []
    for r in rows:
        st, dm, h = blank_mechanism(r)
        out.append(
            {
                **r,
                "AGE": age_at(dob(r), p.end),
                "PSR_Known": 0
                if r["Primary_Support_Reason"] is None or eq(r["Primary_Support_Reason"], "Unknown")
                else 1,
                "Carer_Known": 0 if r["Has_Unpaid_Carer"] is None or eq(r["Has_Unpaid_Carer"], "Unknown") else 1,
                "Eth_Known": 0
                if r["Ethnicity"] is None or eq(r["Ethnicity"], "No data - Undeclared or Not known")
                else 1,
                "ST": st,
                "DM": dm,
                "H": h,
            }
        )
    return out


def _age_tables(cells, measure, rows, *, valid, label):
    """§5 step 3 Tables 1a (18-64) and 1b (65+), each processed separately."""
    for band in ("18-64", "65+"):
        table = [r for r in rows if salt_band(r["AGE"]) == band]
        final = one_per_person(table, "PSR_Known", "Primary_Support_Reason", valid, "Unknown")
        for f in final:
            cells.add(measure, f["LA_Code"], "Age band", (band,), f["ID"])
            cells.add(
                measure,
                f["LA_Code"],
                f"Age band | {label} | Service type | Delivery mechanism",
                (band, f["Category"], f["ST"], f["DM"]),
                f["ID"],
            )


# ---------------------------------------------------------------------------------------------------------------
# §9 LTS003


def _lts003(raw, p):
    rows = [
        r
        for r in latest_submission(raw, p)
        if isin(r["Client_Type"], CARERS)
        and r["Event_Start_Date"] is not None
        and r["Event_Start_Date"] <= p.end
        and (r["Event_End_Date"] is None or r["Event_End_Date"] >= p.start)
        and alive_from(r, p.start)
        and isin(r["Event_Type"], EVENT_TYPES)
        and (
            (r["Service_Type"] is None and eq(r["Event_Outcome"], NFA_IA))
            or isin(r["Service_Type"], (CARER_DIRECT, CARER_INVOLVING))
            or (isin(r["Event_Type"], ("Assessment", "Review")) and r["Service_Type"] is None)
        )
    ]
    rows = assign_ids(rows)
    out = []
    for r in rows:
        # §1.3 dummy DOB when the birth year is NULL; a known year with no month has no age (choice, docs)
        if r["Der_Birth_Year"] is None:
            band = "Unknown"
        elif r["Der_Birth_Month"] is None:
            band = None
        else:
            a = age_at(dob(r), p.end)
            band = (
                "Carer aged under 18"
                if a < 18
                else "Carer aged 18-25"
                if a <= 25
                else "Carer aged 26-64"
                if a <= 64
                else "Carer aged 65-84"
                if a <= 84
                else "Carer aged 85+"
            )
        st, dm, et, o = r["Service_Type"], r["Delivery_Mechanism"], r["Event_Type"], r["Event_Outcome"]
        ar = isin(et, ("Assessment", "Review"))
        three = ("Direct Payment", "CASSR Managed Personal Budget", "CASSR Commissioned support")
        rules = (  # step 2, one line per row of the table, first match wins
            (eq(st, CARER_DIRECT) and eq(dm, "Direct Payment"), "Direct Payment only"),
            (eq(st, CARER_DIRECT) and eq(dm, "CASSR Managed Personal Budget"), "CASSR Managed Personal Budget"),
            (eq(st, CARER_DIRECT) and eq(dm, "CASSR Commissioned support"), "CASSR Commissioned Support only"),
            (eq(st, CARER_DIRECT) and dm is not None and not isin(dm, three), UNKNOWN_MECH),
            (eq(st, CARER_DIRECT) and dm is None, UNKNOWN_MECH),
            (eq(st, CARER_INVOLVING), NO_DIRECT),
            (ar and like(o, NFA_IA) is False, NO_DIRECT),  # NOT LIKE: false on NULL
            (ar and o is None, NO_DIRECT),
            (ar and eq(o, NFA_IA), INFORMATION),
            (eq(et, "Request"), INFORMATION),
        )
        sp = next((label for matched, label in rules if matched), None)
        if sp is None:
            continue  # step 3: rows with no category are ignored
        out.append({"LA_Code": r["LA_Code"], "ID": r["ID"], "SP": sp, "Band": band})
    per: dict = defaultdict(list)
    for r in out:
        per[(r["LA_Code"], r["ID"])].append(r)
    final = []
    for rs in per.values():
        low = min(LTS003_HIERARCHY[r["SP"]] for r in rs)
        final.extend(r for r in rs if LTS003_HIERARCHY[r["SP"]] == low)
    return final


# ---------------------------------------------------------------------------------------------------------------
# §10 LTS004


#: Decided (docs/measures-salt.md, "LTS004 conflicts with no gender"): the source code's join on gender never
#: matches a NULL, so a person with no gender keeps both statuses. False gives the GROUP BY reading of salt.md §10
#: step 2.3 (`Unknown`).
LTS004_NULL_GENDER_KEEPS_STATUSES = True


def _lts004_table(rows, field, known, valid):
    """§10 step 2: rows with a (trimmed) listed status; latest start per ID across councils; max known flag per
    (LA, ID, date); more than one distinct status for (LA, ID, gender, date) -> Unknown. Returns (final records,
    invalid rows)."""
    listed, invalid = [], []
    for r in rows:
        match = next((v for v in valid if trim_eq(r[field], v)), None)
        (listed if match is not None else invalid).append({**r, "Status": match})
    latest: dict = {}
    for r in listed:
        latest[r["ID"]] = max(latest.get(r["ID"], r["Event_Start_Date"]), r["Event_Start_Date"])
    step1 = [r for r in listed if r["Event_Start_Date"] == latest[r["ID"]]]
    kmax: dict = {}
    for r in step1:
        k = (r["LA_Code"], r["ID"], r["Event_Start_Date"])
        kmax[k] = max(kmax.get(k, r[known]), r[known])
    step2 = [r for r in step1 if r[known] == kmax[(r["LA_Code"], r["ID"], r["Event_Start_Date"])]]
    groups: dict = defaultdict(list)
    for r in step2:
        groups[(r["LA_Code"], r["ID"], norm(r["Gender"]), r["Event_Start_Date"])].append(r)
    final = []
    for (la, pid, g, _d), rs in groups.items():
        statuses = {norm(r["Status"]) for r in rs}
        if len(statuses) > 1 and (g is not None or not LTS004_NULL_GENDER_KEEPS_STATUSES):
            final.append({"LA_Code": la, "ID": pid, "Gender": rs[0]["Gender"], "Status": "Unknown"})
        else:
            final.extend({"LA_Code": la, "ID": pid, "Gender": r["Gender"], "Status": r["Status"]} for r in rs)
    return final, invalid


def _lts004(cells, raw, p):
    m = "SALT LTS004"
    rows = []
    for r in latest_submission(raw, p):
        if not (
            eq(r["Event_Type"], "Service")
            and isin(r["Service_Type"], LONG_TERM)
            and eq(r["Client_Type"], SERVICE_USER)
            and eq(r["Primary_Support_Reason"], "Learning Disability Support")
            and r["Event_Start_Date"] is not None
            and r["Event_Start_Date"] <= p.end
            and (r["Event_End_Date"] is None or r["Event_End_Date"] >= p.start)
            and alive_from(r, p.start)
            and birth_known(r)
        ):
            continue
        a = age_at(dob(r), p.end)
        if not 18 <= a <= 64:
            continue
        rows.append(r)
    rows = assign_ids(rows)
    for r in rows:
        r["Emp_Known"] = 0 if r["Employment_Status"] is None or eq(r["Employment_Status"], "Unknown") else 1
        r["Acc_Known"] = 0 if r["Accommodation_Status"] is None or eq(r["Accommodation_Status"], "Unknown") else 1
    emp, emp_invalid = _lts004_table(rows, "Employment_Status", "Emp_Known", EMPLOYMENT_LIST)
    acc, acc_invalid = _lts004_table(rows, "Accommodation_Status", "Acc_Known", ACCOMMODATION_LIST)
    for f in emp:
        cells.add(m, f["LA_Code"], "Gender | Employment status", (f["Gender"], f["Status"]), f["ID"])
    for f in acc:
        settled = isin(f["Status"], SETTLED)
        bd = "Gender | Settled accommodation status" if settled else "Gender | Unsettled accommodation status"
        cells.add(m, f["LA_Code"], bd, (f["Gender"], f["Status"]), f["ID"])
    for final, invalid, bd in (
        (emp, emp_invalid, "Gender | Employment status"),
        (acc, acc_invalid, "Gender | Accommodation status"),
    ):
        done = {f["ID"] for f in final}
        for r in invalid:
            if r["ID"] not in done:
                cells.add(m, r["LA_Code"], bd, (r["Gender"], "NULL/Invalid"), r["ID"])


# ---------------------------------------------------------------------------------------------------------------
# Output cells


def ascof_2a_value(numerator: int, denominator: int) -> Decimal:
    """§3 ASCOF 2A (Release 1): numerator / denominator x 100, published to one decimal place, half away from
    zero (main-tables.md §0 ROUND; the choice recorded in docs/measures-salt.md)."""
    return (Decimal(100) * numerator / Decimal(denominator)).quantize(Decimal("0.1"), rounding=ROUND_HALF_UP)


def label(v) -> str:
    return NULL_LABEL if v is None else str(v)


def group_key(group: str) -> tuple:
    """The comparison key of a group label: each value as SQL Server groups it (case, trailing spaces)."""
    return tuple(part.rstrip(" ").casefold() for part in group.split(SEP))


class Cells:
    """Counts per (measure, la_code, breakdown, group key): distinct members, or rows (member None)."""

    def __init__(self):
        self.distinct: dict = defaultdict(set)
        self.rows: dict = defaultdict(int)

    def add(self, measure, la, breakdown, values, member=None):
        key = (measure, la, breakdown, group_key(SEP.join(label(v) for v in values) if values else "Total"))
        if member is None:
            self.rows[key] += 1
        else:
            self.distinct[key].add(member)

    def counts(self) -> dict:
        out = {k: n for k, n in self.rows.items()}
        out.update({k: len(v) for k, v in self.distinct.items()})
        return out


def reference_salt(raw: list[dict], p) -> dict:
    """All SALT cells: {(measure, la_code, breakdown, group_key): (numerator, denominator)}.

    `p` has start, end, event_window_close, submission_window_close, year_start, today (as SaltPeriod)."""
    c = Cells()
    # §2 STS001
    sts001, cohort = _sts001(raw, p)
    m = "SALT STS001"
    for r in sts001:
        la, fm = r["LA_Code"], r["FINAL_OUTCOME_MAPPED"]
        c.add(m, la, "Total", ())
        c.add(m, la, "Sequel", (fm,))
        if salt_band(r["AGE"]) is not None:
            c.add(m, la, "Age band | Sequel", (salt_band(r["AGE"]), fm))
        c.add(m, la, "Route of access | Sequel", (r["ROUTE"], fm))
        c.add(m, la, "Record type | Final outcome | Sequel", (r["Record_Type"], r["FINAL_OUTCOME"], fm))
    # §3 STS002a and ASCOF 2A (Release 1)
    sts002a = _sts002a(raw, p, cohort)
    m = "SALT STS002a"
    ascof: dict = defaultdict(lambda: [0, 0])
    for r in sts002a:
        la, fm = r["LA_Code"], r["FINAL_OUTCOME_MAPPED"]
        c.add(m, la, "Total", ())
        c.add(m, la, "Sequel", (fm,))
        c.add(m, la, "Record type | Final outcome | Sequel", (r["Record_Type"], r["FINAL_OUTCOME"], fm))
        ascof[la][0] += isin(fm, ASCOF_2A_NUM)
        ascof[la][1] += isin(fm, ASCOF_2A_DEN)
    # §4 STS002b
    for r in _sts002b(raw, p):
        c.add("SALT STS002b", r["LA_Code"], "Total", (), r["episode"])
    # §5 LTS001a
    rows = _long_term_rows(raw, p, end_from=p.start, death_from=p.start)
    _age_tables(c, "SALT LTS001a", rows, valid=PSR_LIST, label="Primary support reason")
    # §6 LTS001b
    m = "SALT LTS001b"
    rows = _long_term_rows(raw, p, end_from=p.end, death_from=p.end)
    _age_tables(c, m, rows, valid=PSR_LIST, label="Primary support reason")
    for f in one_per_person(rows, "Carer_Known", "Has_Unpaid_Carer", CARER_LIST, "Unknown"):
        c.add(m, f["LA_Code"], "Total", (), f["ID"])
        c.add(
            m,
            f["LA_Code"],
            "Has unpaid carer | Service type | Delivery mechanism",
            (f["Category"], f["ST"], f["DM"]),
            f["ID"],
        )
    for gender in ("Male", "Female"):
        table = [r for r in rows if eq(r["Gender"], gender)]
        ethnic = one_per_person(table, "Eth_Known", "Ethnicity", ETHNICITY_LIST, "No data - Undeclared or Not known")
        for f in ethnic:
            c.add(m, f["LA_Code"], "Gender", (gender,), f["ID"])
            c.add(
                m,
                f["LA_Code"],
                "Gender | Ethnicity | Service type | Delivery mechanism",
                (gender, f["Category"], f["ST"], f["DM"]),
                f["ID"],
            )
    for r in rows:
        if isin(r["Gender"], ("Other", "Unknown")):
            c.add(m, r["LA_Code"], "Gender", ("Other or Unknown",), r["ID"])
    # §7 LTS001c
    rows = _long_term_rows(raw, p, end_from=None, death_from=p.end, with_end_filter=False)
    for r in rows:
        r["Proxy_End_Date"] = r["Event_End_Date"] or p.today
    chained = join_islands(
        rows, islands(rows, "Event_Start_Date", "Proxy_End_Date", 1), "Event_Start_Date", "Proxy_End_Date"
    )
    chain_start: dict = {}
    for r in chained:
        k = (r["LA_Code"], r["ID"], r["island"])
        chain_start[k] = min(chain_start.get(k, r["Event_Start_Date"]), r["Event_Start_Date"])
    cutoff = minus_months(p.end, 12)
    rows = [
        r
        for r in chained
        if chain_start[(r["LA_Code"], r["ID"], r["island"])] < cutoff and r["Proxy_End_Date"] >= p.end
    ]
    _age_tables(c, "SALT LTS001c", rows, valid=None, label="Primary support reason")
    # §9 LTS003: per council, and nationally distinct carers
    m = "SALT LTS003"
    for r in _lts003(raw, p):
        for la in (r["LA_Code"], None):
            c.add(m, la, "Total", (), r["ID"])
            c.add(m, la, "Support provided", (r["SP"],), r["ID"])
            c.add(m, la, "Age band | Support provided", (r["Band"], r["SP"]), r["ID"])
    # §10 LTS004
    _lts004(c, raw, p)

    counts = {k: (n, None) for k, n in c.counts().items()}
    for la, (num, den) in ascof.items():
        if den > 0:
            counts[("ASCOF 2A (Release 1)", la, "Total", ("total",))] = (num, den)
    # national rows: the sum of council rows (LTS003 already counted nationally)
    national: dict = {}
    for (measure, la, bd, g), (num, den) in counts.items():
        if la is None:
            continue
        if measure == "SALT LTS003":
            continue
        k = (measure, None, bd, g)
        n0, d0 = national.get(k, (0, None if den is None else 0))
        national[k] = (n0 + num, None if den is None else d0 + den)
    counts.update(national)
    return counts
