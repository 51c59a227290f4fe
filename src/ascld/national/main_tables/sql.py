"""SQL Server behaviours the national code relies on, as small Ibis helpers (main-tables.md §0).

Every string comparison, grouping and join key in the main tables goes through `ci()` so DuckDB, Spark and the
emitted T-SQL agree with a case-insensitive collation that ignores trailing spaces.
"""

from __future__ import annotations

import calendar
from datetime import date, datetime, timedelta

import ibis
import ibis.expr.types as ir


@ibis.udf.scalar.builtin(name="rtrim")
def rtrim(value: str) -> str:  # type: ignore[empty-body]  # pragma: no cover - compiled to SQL, never called
    """SQL RTRIM(x) with one argument: removes trailing spaces, not tabs or newlines, on DuckDB, Spark and SQL
    Server alike.

    (Ibis's own `rstrip()` also removes tabs and newlines on some engines, which `=` in SQL Server does not
    ignore.) DuckDB's built-in RTRIM also removes trailing Unicode space separators (e.g. U+00A0), which Spark and
    SQL Server keep; `ascld.engine` opens DuckDB with a same-named macro that strips spaces only.
    """


def ci(value: ir.StringValue) -> ir.StringValue:
    """The comparison key of a string under a case-insensitive collation: LOWER(RTRIM(x)). NULL stays NULL."""
    return rtrim(value).lower()


def eq_ci(value: ir.StringValue, literal: str) -> ir.BooleanValue:
    """`value = 'literal'` under SQL Server's case-insensitive collation (trailing spaces ignored)."""
    return ci(value) == literal.rstrip().lower()


def like_ci(value: ir.StringValue, pattern: str) -> ir.BooleanValue:
    """`value LIKE 'pattern'`, case-insensitive; NULL gives NULL (unknown), so `~like_ci(...)` is NOT LIKE."""
    return value.lower().like(pattern.lower())


def not_like_ci(value: ir.StringValue, pattern: str) -> ir.BooleanValue:
    """`value NOT LIKE 'pattern'` where a NULL value is never selected.

    Written as `value IS NOT NULL AND NOT (value LIKE pattern)` because Ibis's T-SQL compiler renders NOT as
    `IIF(x, 1, 0) = 0`, which turns unknown into true. The two agree wherever the result is used as a WHERE or
    WHEN condition, or ANDed / ORed into one (never negated again), which is how the main tables use it.
    """
    return value.notnull() & ~like_ci(value, pattern)


def days_between(start: ir.DateValue, end: ir.DateValue) -> ir.IntegerValue:
    """DATEDIFF(DAY, start, end): whole days, negative when end is earlier. Avoids date - date (an interval on
    Spark)."""
    return end.delta(start, unit="day")


def first_of_month(value: ir.DateValue | ir.TimestampValue) -> ir.DateValue:
    """DATEFROMPARTS(YEAR(x), MONTH(x), 1)."""
    return ibis.date(value.year(), value.month(), 1)


def end_of_month(value: ir.DateValue) -> ir.DateValue:
    """EOMONTH(x), built from the calendar in integer arithmetic so every engine gives the same date."""
    year, month = value.year(), value.month()
    leap = ((year % 4 == 0) & (year % 100 != 0)) | (year % 400 == 0)
    last = ibis.cases(
        (month.isin([4, 6, 9, 11]), 30),
        (month == 2, ibis.cases((leap, 29), else_=28)),
        else_=31,
    )
    return ibis.date(year, month, last)


def add_months(day: date, months: int) -> date:
    """DATEADD(MONTH, n, d): calendar shift clamped to the end of the target month.

    Examples:
        >>> add_months(date(2024, 2, 29), -12)
        datetime.date(2023, 2, 28)
        >>> add_months(date(2024, 1, 31), 1)
        datetime.date(2024, 2, 29)
    """
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return date(year, month + 1, min(day.day, last))


def midnight(day: date) -> ir.TimestampScalar:
    """A DATE compared with a DATETIME: midnight at the start of the day (main-tables.md §0)."""
    return ibis.timestamp(datetime(day.year, day.month, day.day))


def day_before(day: date) -> date:
    return day - timedelta(days=1)


def same_key(left: ir.Value, right: ir.Value) -> ir.BooleanValue:
    """Join two rows of one GROUP BY group: equal, or both NULL (GROUP BY treats NULLs as equal, §0).

    Written with `=` and `IS NULL` rather than `IS NOT DISTINCT FROM`, which older SQL Server versions lack.
    """
    return (left == right) | (left.isnull() & right.isnull())


def null_of(value: ir.Value) -> ir.Value:
    """A typed NULL of the value's type (a CASE branch needs one)."""
    return ibis.null(value.type())
