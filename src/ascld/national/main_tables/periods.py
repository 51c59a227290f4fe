"""Step A: each submission's reporting period, derived from its data (main-tables.md §2).

One row per submission (`LA_Code`, `LA_Name`, `ImportDate`), the REF_Submission_Reporting_Periods table. The
submission key is grouped as SQL Server groups strings (case-insensitive, trailing spaces ignored, §0): rows of one
file whose name is spelt `Westby` and `WESTBY ` are one submission; the table shows the smallest spelling.
"""

from __future__ import annotations

import ibis
import ibis.expr.types as ir

from ascld.methodology import MainTablesMethod
from ascld.national.main_tables.schema import SUBMISSION_KEYS
from ascld.national.main_tables.sql import ci, days_between, end_of_month, first_of_month, same_key

KEYS = list(SUBMISSION_KEYS)
# A submission is (LA_Code, LA_Name, ImportDate) compared as SQL Server compares strings (§0, §1): rows whose
# council code or name differ only in case or trailing spaces belong to the same file.
GROUP = ["LA_Code_Key", "LA_Name_Key", "ImportDate"]


def _keyed(raw: ir.Table) -> ir.Table:
    return raw.mutate(LA_Code_Key=ci(raw.LA_Code), LA_Name_Key=ci(raw.LA_Name))


def _stated(raw: ir.Table) -> ir.Table:
    """§2.1: the stated period (MIN start, MAX end) and the number of distinct stated (start, end) pairs."""
    raw = _keyed(raw)
    stated = raw.group_by(GROUP).aggregate(
        LA_Code=raw.LA_Code.min(),
        LA_Name=raw.LA_Name.min(),
        ImportFileId=raw.ImportFileId.min(),
        Reporting_Period_Start_Date=raw.Reporting_Period_Start_Date.min(),
        Reporting_Period_End_Date=raw.Reporting_Period_End_Date.max(),
        n_Rows=raw.count(),
    )
    pairs = (
        raw.select(*GROUP, "Reporting_Period_Start_Date", "Reporting_Period_End_Date")
        .distinct()
        .group_by(GROUP)
        .aggregate(n_Reporting_Periods=lambda t: t.count())
    )
    pairs = pairs.rename({f"{k}_p": k for k in GROUP})
    # A NULL key (e.g. a file with no LA_Code) is still one submission: join the groups NULL-safely.
    return stated.join(pairs, [same_key(stated[k], pairs[f"{k}_p"]) for k in GROUP]).drop(
        *(f"{k}_p" for k in GROUP)
    )


def _monthly(raw: ir.Table) -> ir.Table:
    """§2.2-2.4: eligible rows per end month (n_M, types_M) with the file totals N and T beside each month."""
    raw = _keyed(raw)
    eligible = raw.filter(raw.Event_End_Date.notnull(), raw.Event_End_Date < first_of_month(raw.ImportDate))
    monthly = (
        eligible.mutate(Month_Start=first_of_month(eligible.Event_End_Date))
        .group_by([*GROUP, "Month_Start"])
        .aggregate(
            n_M=lambda t: t.count(),
            # COUNT(DISTINCT Event_Type) under a case-insensitive collation; NULL is not a type.
            types_M=lambda t: ci(t.Event_Type).nunique(),
        )
    )
    file_window = ibis.window(group_by=GROUP)
    return monthly.mutate(N=monthly.n_M.sum().over(file_window), T=monthly.types_M.max().over(file_window))


def _derived(raw: ir.Table, method: MainTablesMethod) -> ir.Table:
    """§2.5-2.6: first day of the earliest and last day of the latest included month, per file."""
    m = _monthly(raw)
    min_events = method.param("reporting_period.min_events")
    percent = method.param("reporting_period.min_month_percent")
    percent = int(percent) if percent == int(percent) else percent
    shortfall = method.param("reporting_period.type_shortfall")
    # 100.0 * n_M / N >= percent, kept in exact integer arithmetic (N > 0 whenever a month exists).
    big_enough = m.n_M * 100 >= m.N * ibis.literal(percent)
    included = ((min_events <= m.N) & big_enough & (m.types_M >= m.T - shortfall)) | (min_events > m.N)
    # N and T describe every eligible row (§2.4), also when no month is included (then both dates are NULL).
    agg = m.group_by(GROUP).aggregate(
        Der_Start=m.Month_Start.min(where=included),
        Der_Last_Month=m.Month_Start.max(where=included),
        n_Eligible_Events=m.N.max(),
        Max_Event_Types=m.T.max(),
    )
    return agg.mutate(Der_End=end_of_month(agg.Der_Last_Month)).drop("Der_Last_Month")


def _months(start: ir.DateValue, end: ir.DateValue, days_per_month: float | str) -> ir.IntegerValue:
    """§2.7 (QA): ROUND(DATEDIFF(DAY, start, end) / 30.436875, 0). No day count falls exactly on .5."""
    return (days_between(start, end) / ibis.literal(float(days_per_month))).round(0).cast("int32")


def derive_reporting_periods(raw: ir.Table, method: MainTablesMethod) -> ir.Table:
    """One row per submission with its stated and derived reporting periods (main-tables.md §2).

    Args:
        raw: the national store (conformed, blanks as NULL).
        method: the main-tables reference tables.

    Returns:
        Columns LA_Code, LA_Name, ImportDate, ImportFileId, Reporting_Period_Start_Date,
        Reporting_Period_End_Date, n_Reporting_Periods, n_Rows, Der_Reporting_Period_Start_Date,
        Der_Reporting_Period_End_Date (both NULL when no month is included), n_Eligible_Events,
        Max_Event_Types and the QA lengths in months.
    """
    stated = _stated(raw)
    derived = _derived(raw, method).rename({f"{k}_d": k for k in GROUP})
    joined = stated.left_join(derived, [same_key(stated[k], derived[f"{k}_d"]) for k in GROUP])
    per_month = method.param("reporting_period.days_per_month")
    return joined.select(
        *KEYS,
        "ImportFileId",
        "Reporting_Period_Start_Date",
        "Reporting_Period_End_Date",
        "n_Reporting_Periods",
        "n_Rows",
        Der_Reporting_Period_Start_Date=joined.Der_Start,
        Der_Reporting_Period_End_Date=joined.Der_End,
        n_Eligible_Events=joined.n_Eligible_Events.fill_null(0),
        Max_Event_Types=joined.Max_Event_Types,
        Reporting_Period_Length_Months=_months(
            joined.Reporting_Period_Start_Date, joined.Reporting_Period_End_Date, per_month
        ),
        Der_Reporting_Period_Length_Months=_months(joined.Der_Start, joined.Der_End, per_month),
    )
