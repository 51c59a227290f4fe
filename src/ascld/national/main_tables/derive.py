"""Step D: derived fields (`GetDerivedFields`, main-tables.md §5), in the order of the code.

First-pass mappings and review type (§5.1) -> combined person ID, rows with no ID dropped (§5.2) -> unique
event reference (§5.3) -> cropping of services open at the end of a non-final reference period (§5.4) -> ages
and age bands (§5.5) -> second-pass mappings (§5.1).
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from ascld.methodology import MainTablesMethod
from ascld.methodology.loader import EVENT_KINDS, KIND_ORDER
from ascld.national.main_tables.filter import is_service
from ascld.national.main_tables.select import LA_KEY
from ascld.national.main_tables.sql import ci, days_between, eq_ci, like_ci, not_like_ci, null_of, rtrim


def review_type(t: ir.Table, method: MainTablesMethod) -> ir.StringValue:
    """§5.1 Review_Type from Review_Reason_Cleaned and Event_Type, rules in main_tables_review_types.csv."""
    reason, event = t.Review_Reason_Cleaned, t.Event_Type
    branches = []
    otherwise: ir.Value = ibis.null("string")
    for rule in method.review_type_rules:
        tests = []
        if rule.reason_test == "starts_with":
            tests.append(like_ci(reason, rule.reason_value + "%"))
        elif rule.reason_test == "equals":
            tests.append(eq_ci(reason, rule.reason_value))
        elif rule.reason_test == "blank":
            tests.append(reason.isnull() | (rtrim(reason) == ""))
        if rule.event_test == "equals":
            tests.append(eq_ci(event, rule.event_value))
        elif rule.event_test == "not_contains":
            tests.append(not_like_ci(event, f"%{rule.event_value}%"))
        result = ibis.literal(rule.result, type="string") if rule.result else ibis.null("string")
        if not tests:
            otherwise = result
            break
        cond = tests[0]
        for extra in tests[1:]:
            cond = cond & extra
        branches.append((cond, result))
    return ibis.cases(*branches, else_=otherwise)


def add_person_ids(t: ir.Table, method: MainTablesMethod) -> ir.Table:
    """§5.2: Der_NHS_LA_Combined_Person_ID; rows with no NHS number and no LA identifier are dropped."""
    sep = method.param("ids.separator")
    la_id = t.LA_Code + sep + t.LA_Person_Unique_Identifier
    has_id = (
        t.Der_NHS_Number_Pseudo.notnull()
        | t.Der_NHS_Number_Traced_Pseudo.notnull()
        | t.LA_Person_Unique_Identifier.notnull()
    )
    with_id = t.mutate(
        Der_NHS_LA_Combined_Person_ID=ibis.coalesce(
            t.Der_NHS_Number_Traced_Pseudo, t.Der_NHS_Number_Pseudo, la_id
        )
    )
    return with_id.filter(has_id)




def event_kind(t: ir.Table, method: MainTablesMethod) -> ir.StringValue:
    """The first of service, request, assessment, review whose LIKE pattern the event type matches; else
    other."""
    branches = [(like_ci(t.Event_Type, method.event_type_patterns[k]), k) for k in KIND_ORDER]
    return ibis.cases(*branches, else_="other")


def add_unique_event_refs(t: ir.Table, method: MainTablesMethod) -> ir.Table:
    """§5.3 Der_Unique_Event_Ref = LA_Code + '_' + DENSE_RANK of the event tuple within LA_Code.

    Components (main_tables_event_ref_components.csv) are raw values except the derived end date and person
    ID; a component an event type does not use is NULL. Strings are compared case-insensitively and NULLs are
    equal, as under SQL Server. Only equality of references matters; the number itself is arbitrary.

    The rank is computed on a narrow projection (record ID and keys) and joined back on Der_Unique_Record_ID,
    which the store contract makes unique: a window over the full-width rows is several times slower.
    """
    kind = event_kind(t, method)
    keys: dict[str, ir.Value] = {}
    for n, comp in enumerate(method.event_ref_components):
        # Raw values: a field already mapped in the first pass is read from its X_Raw column.
        col = t[comp.component] if comp.component in t.columns else t[f"{comp.component}_Raw"]
        key = ci(col) if col.type().is_string() else col
        if comp.kinds != frozenset((*EVENT_KINDS, "other")):
            key = ibis.cases((kind.isin(sorted(comp.kinds)), key), else_=null_of(key))
        keys[f"_k{n}"] = key
    narrow = t.select(_rid=t.Der_Unique_Record_ID, _la=ci(t.LA_Code), **keys)
    order = [ibis.asc(narrow[k], nulls_first=True) for k in keys]
    ranked = narrow.select("_rid", _rank=ibis.dense_rank().over(group_by=narrow._la, order_by=order) + 1)
    joined = t.join(ranked, t.Der_Unique_Record_ID == ranked._rid)
    sep = method.param("ids.separator")
    return joined.mutate(Der_Unique_Event_Ref=joined.LA_Code + sep + joined._rank.cast("string")).drop(
        "_rid", "_rank"
    )


def crop_services(t: ir.Table) -> ir.Table:
    """§5.4: rows of a prior reference period still open at its end are cut to its end date, unless the same
    event reference appears in the reference period starting the next day.

    Adds Der_Cropped (1 when the end date was set here, else 0).
    """
    last = t.group_by(LA_KEY).aggregate(_last_rs=t.Ref_Period_Start_Date.max())
    nxt = t.select(_next_ref=ci(t.Der_Unique_Event_Ref), _next_rs=t.Ref_Period_Start_Date).distinct()
    j = t.join(last, LA_KEY)
    j = j.left_join(
        nxt,
        [
            ci(j.Der_Unique_Event_Ref) == nxt._next_ref,
            days_between(j.Ref_Period_End_Date, nxt._next_rs) == 1,
        ],
    )
    end = j.Der_Event_End_Date
    candidate = (j.Ref_Period_Start_Date < j._last_rs) & (end.isnull() | (end > j.Ref_Period_End_Date))
    crop = candidate & j._next_ref.isnull()
    return j.mutate(
        Der_Event_End_Date=ibis.cases((crop, j.Ref_Period_End_Date), else_=end),
        Der_Cropped=ibis.cases((crop, 1), else_=0).cast("int8"),
    ).drop("_last_rs", "_next_ref", "_next_rs")


def latest_age(t: ir.Table, method: MainTablesMethod) -> ir.IntegerValue:
    """§5.5 Der_Latest_Age = FLOOR(DATEDIFF(DAY, proxy DOB, age date) / 365.25).

    Proxy DOB is the 1st of the birth month. The age date is Der_Event_End_Date, except open services (after
    cropping) use Ref_Period_End_Date. NULL without a birth year; also NULL for a birth month outside 1-12
    (DATEFROMPARTS would fail on SQL Server; the store should not hold such rows).
    """
    year, month = t.Der_Birth_Year, t.Der_Birth_Month
    valid = year.between(1, 9999) & month.between(1, 12)
    dob = ibis.date(year, month, 1)
    at = ibis.cases(
        (is_service(t, method) & t.Der_Event_End_Date.isnull(), t.Ref_Period_End_Date),
        else_=t.Der_Event_End_Date,
    )
    per_year = float(method.param("age.days_per_year"))
    age = (days_between(dob, at) / per_year).floor().cast("int32")
    return ibis.cases((valid, age), else_=ibis.null("int32"))


def age_band(age: ir.IntegerValue, method: MainTablesMethod, band_column: str) -> ir.StringValue:
    """An age band from main_tables_age_bands.csv (inclusive bounds; the `null` row labels a NULL age)."""
    branches = []
    null_label: ir.Value = ibis.null("string")
    for band in (b for b in method.age_bands if b.band_column == band_column):
        if band.kind == "null":
            null_label = ibis.literal(band.label)
            continue
        cond = age.notnull()
        if band.min_age is not None:
            cond = cond & (age >= band.min_age)
        if band.max_age is not None:
            cond = cond & (age <= band.max_age)
        branches.append((cond, band.label))
    return ibis.cases((age.isnull(), null_label), *branches, else_=ibis.null("string"))


def add_ages(t: ir.Table, method: MainTablesMethod) -> ir.Table:
    """§5.5: Der_Latest_Age, Der_Age_Band, Der_Working_Age_Band."""
    with_age = t.mutate(Der_Latest_Age=latest_age(t, method))
    bands = sorted({b.band_column for b in method.age_bands})
    return with_age.mutate(**{b: age_band(with_age.Der_Latest_Age, method, b) for b in bands})
