"""Step B: choose the submissions as of a date and load their rows (main-tables.md §3).

`GetSubmissions` partitions by `LA_Name` (not `LA_Code`) under a case-insensitive collation; rows are loaded
by (`LA_Name`, `ImportDate`), so two files of one council imported at the same instant would both be loaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime, timedelta

import ibis
import ibis.expr.types as ir

from ascld.errors import UsageError
from ascld.national.main_tables.sql import add_months, ci, midnight

LA_KEY = "LA_Name_Key"  # case-insensitive LA_Name, the partition and join key of §3


def reference_periods(mode: str, start: date, end: date, months: int) -> tuple[tuple[date, date], ...]:
    """The reference periods of a build: the whole period (single) or consecutive quarters (joined, §3.3).

    A quarter ends DATEADD(MONTH, months, start) - 1 day; a final partial quarter is dropped.

    Raises:
        UsageError: the period is empty, or (joined) shorter than one reference period.

    Examples:
        >>> [f"{s}..{e}" for s, e in reference_periods("joined", date(2024, 4, 1), date(2024, 11, 30), 3)]
        ['2024-04-01..2024-06-30', '2024-07-01..2024-09-30']
    """
    if end < start:
        raise UsageError(f"the period ends ({end}) before it starts ({start}). Give --period START:END.")
    if mode == "single":
        return ((start, end),)
    out = []
    r_s = start
    while (r_e := add_months(r_s, months) - timedelta(days=1)) <= end:
        out.append((r_s, r_e))
        r_s = add_months(r_s, months)
    if not out:
        raise UsageError(
            f"the period {start}..{end} is shorter than one {months}-month reference period, so a joined "
            "table would be empty. Give a longer --period."
        )
    return tuple(out)


def choose_for_period(
    periods: ir.Table, start: date, end: date, as_of: date, basis: str, excluded: Sequence[datetime]
) -> ir.Table:
    """GetSubmissions for one period: per LA_Name, the latest qualifying file (§3.1).

    Args:
        periods: the reporting-periods table (step A).
        start, end: the period (S, E).
        as_of: the "as of" date A; files imported on a later date are ignored.
        basis: "derived" (the pipeline's mode) or "stated".
        excluded: import datetimes of files with known major issues.

    Returns:
        One row per LA_Name: LA_Name_Key, LA_Name, ImportDate, Ref_Period_Start_Date, Ref_Period_End_Date.
    """
    if basis == "derived":
        p_start, p_end = periods.Der_Reporting_Period_Start_Date, periods.Der_Reporting_Period_End_Date
    else:
        p_start, p_end = periods.Reporting_Period_Start_Date, periods.Reporting_Period_End_Date
    conditions = [
        p_start <= start,
        p_end >= end,
        periods.ImportDate > midnight(end),
        periods.ImportDate.date() <= as_of,
    ]
    if excluded:
        # NOT IN, written so the T-SQL compiler keeps NULL unknown (see sql.not_like_ci).
        conditions.append(
            periods.ImportDate.notnull() & ~periods.ImportDate.isin([ibis.timestamp(x) for x in excluded])
        )
    candidates = periods.filter(*conditions).mutate(**{LA_KEY: ci(periods.LA_Name)})
    # Ties on ImportDate are arbitrary in the source; LA_Code only makes the kept LA_Name label deterministic
    # (rows are loaded by LA_Name and ImportDate, so a tie loads both files either way).
    order = [ibis.desc(candidates.ImportDate), ibis.asc(candidates.LA_Code, nulls_first=True)]
    ranked = candidates.mutate(_rn=ibis.row_number().over(group_by=candidates[LA_KEY], order_by=order))
    latest = ranked.filter(ranked._rn == 0)
    return latest.select(
        LA_KEY,
        "LA_Name",
        "ImportDate",
        Ref_Period_Start_Date=ibis.literal(start, type="date"),
        Ref_Period_End_Date=ibis.literal(end, type="date"),
    )


def choose_submissions(
    periods: ir.Table,
    ref_periods: Sequence[tuple[date, date]],
    as_of: date,
    basis: str,
    excluded: Sequence[datetime],
) -> ir.Table:
    """The choice for every reference period, one row per (LA_Name, reference period) (§3.2, §3.3)."""
    choices = [choose_for_period(periods, s, e, as_of, basis, excluded) for s, e in ref_periods]
    return choices[0] if len(choices) == 1 else ibis.union(*choices, distinct=False)


def collapse_choices(choices: ir.Table) -> ir.Table:
    """One row per chosen file with MIN/MAX of the reference periods that chose it (§3.3)."""
    return choices.group_by([LA_KEY, "ImportDate"]).aggregate(
        LA_Name=choices.LA_Name.min(),
        Ref_Period_Start_Date=choices.Ref_Period_Start_Date.min(),
        Ref_Period_End_Date=choices.Ref_Period_End_Date.max(),
    )


def load_submission_rows(raw: ir.Table, selected: ir.Table) -> ir.Table:
    """All raw rows of each chosen file, matched on (LA_Name, ImportDate), with its reference period
    (§3.4)."""
    keyed = raw.mutate(**{LA_KEY: ci(raw.LA_Name)})
    chosen = selected.select(LA_KEY, "ImportDate", "Ref_Period_Start_Date", "Ref_Period_End_Date")
    return keyed.join(chosen, [LA_KEY, "ImportDate"])
