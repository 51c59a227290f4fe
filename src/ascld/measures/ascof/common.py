"""ASCOF common framework (ascof.md §0): reporting periods, SQL Server semantics as Ibis helpers, and the
main-table columns the measures read.

Every measure module builds Ibis expressions from a *prepared* main table (see `prepare_main_table`), so the
same code runs on DuckDB and Spark and compiles to T-SQL or Spark SQL.

SQL Server behaviours reproduced here (main-tables.md §0):

* string comparisons are case-insensitive and ignore trailing spaces (`ci_eq`, `ci_in`); `LIKE` is
  case-insensitive but keeps trailing spaces (`ci_like`);
* NULL makes `=`, `<>`, `IN`, `NOT IN`, `LIKE`, `NOT LIKE` unknown, so a filter drops the row and a CASE falls
  through. Ibis compiles these operators to plain SQL, so the engines apply the same three-valued logic;
* ages are `FLOOR(DATEDIFF(DAY, dob, d) / 365.25)` from a proxy birth date on the 1st of the birth month;
* `DATEDIFF(DAY, a, b)` is a whole-day delta (`days_between`), never date - date (Spark gives an interval).
"""

from __future__ import annotations

import calendar
import datetime as dt
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import ibis
import ibis.expr.types as ir

from ascld.errors import UnusableInput, UsageError
from ascld.measures.ascof.reference import load_reference
from ascld.measures.spelling import with_one_spelling
from ascld.national.main_tables.sql import rtrim
from ascld.spec import load_spec

# --------------------------------------------------------------------------------------------------
# Reporting periods (ascof.md §0.2)

_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def add_months(d: dt.date, months: int) -> dt.date:
    """SQL Server `DATEADD(MONTH, n, d)`: calendar shift clamped to the end of the target month.

    Examples:
        >>> add_months(dt.date(2024, 2, 29), -12)
        datetime.date(2023, 2, 28)
        >>> add_months(dt.date(2025, 6, 30), -3)
        datetime.date(2025, 3, 30)
    """
    index = d.year * 12 + (d.month - 1) + months
    year, month = divmod(index, 12)
    month += 1
    return dt.date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


def end_of_month(d: dt.date) -> dt.date:
    """SQL Server `EOMONTH(d)`.

    Examples:
        >>> end_of_month(dt.date(2025, 3, 30))
        datetime.date(2025, 3, 31)
    """
    return dt.date(d.year, d.month, calendar.monthrange(d.year, d.month)[1])


def format_d_mmm_yy(d: dt.date) -> str:
    """SQL Server `FORMAT(d, 'd MMM yy')` in English, e.g. `1 Apr 25`."""
    return f"{d.day} {_MONTHS[d.month - 1]} {d.year % 100:02d}"


def _as_date(value: Any) -> dt.date:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip())
        except ValueError as err:
            raise UsageError(f"{value!r} is not a date. Use YYYY-MM-DD.") from err
    raise UsageError(f"{value!r} is not a date. Use YYYY-MM-DD.")


@dataclass(frozen=True, order=True)
class ReportingPeriod:
    """A reporting period (start and end inclusive).

    Examples:
        >>> p = ReportingPeriod.of("2025-04-01", "2026-03-31")
        >>> p.label
        '1 Apr 25 - 31 Mar 26'
    """

    start: dt.date
    end: dt.date

    def __post_init__(self) -> None:
        if self.end < self.start:
            raise UsageError(f"reporting period ends ({self.end}) before it starts ({self.start}).")

    @classmethod
    def of(cls, start: Any, end: Any) -> ReportingPeriod:
        """Build from dates or ISO date strings."""
        return cls(_as_date(start), _as_date(end))

    @classmethod
    def coerce(cls, value: ReportingPeriod | Sequence[Any]) -> ReportingPeriod:
        """Accept a ReportingPeriod or a (start, end) pair."""
        if isinstance(value, ReportingPeriod):
            return value
        if isinstance(value, Sequence) and not isinstance(value, str) and len(value) == 2:
            return cls.of(value[0], value[1])
        raise UsageError(
            "a reporting period is a (start, end) pair of dates, e.g. ('2025-04-01', '2026-03-31')."
        )

    @property
    def label(self) -> str:
        """`FORMAT(start,'d MMM yy') + ' - ' + FORMAT(end,'d MMM yy')` (ascof.md §0.2)."""
        return f"{format_d_mmm_yy(self.start)} - {format_d_mmm_yy(self.end)}"


@dataclass(frozen=True)
class AscofPeriods:
    """The four periods one ASCOF run produces (ascof.md §0.2)."""

    latest: ReportingPeriod
    previous: ReportingPeriod
    latest_2d: ReportingPeriod
    previous_2d: ReportingPeriod


def ascof_periods(latest: ReportingPeriod | Sequence[Any]) -> AscofPeriods:
    """Latest, previous (revised) and the lagged 2D periods for a latest 12-month period.

    Previous = (start − 3 months, EOMONTH(end − 3 months)). 2D latest = previous; 2D previous =
    (2D start − 3 months, DATEADD(MONTH, −3, 2D end)) — without EOMONTH, so a 30 June end gives 30 March.

    Examples:
        >>> ps = ascof_periods(("2025-07-01", "2026-06-30"))
        >>> ps.previous.label, ps.latest_2d.label, ps.previous_2d.label
        ('1 Apr 25 - 31 Mar 26', '1 Apr 25 - 31 Mar 26', '1 Jan 25 - 31 Dec 25')
        >>> ascof_periods(("2025-10-01", "2026-09-30")).previous_2d.label
        '1 Apr 25 - 30 Mar 26'
    """
    latest = ReportingPeriod.coerce(latest)
    lag = load_reference().int_parameter("previous_period_lag_months")
    previous = ReportingPeriod(add_months(latest.start, -lag), end_of_month(add_months(latest.end, -lag)))
    previous_2d = ReportingPeriod(add_months(previous.start, -lag), add_months(previous.end, -lag))
    return AscofPeriods(latest, previous, previous, previous_2d)


# --------------------------------------------------------------------------------------------------
# Staging: where a long pipeline materialises intermediate tables

#: `stage(table, name) -> table`: the pipeline caches intermediate tables on the engine (Spark plans deep
#: expressions slowly); SQL emission leaves them inline as CTEs.
Stage = Callable[[ir.Table, str], ir.Table]


def no_stage(table: ir.Table, name: str) -> ir.Table:
    """Leave an intermediate table inline."""
    return table


def engine_stage(con: Any) -> Stage:
    """A stage that materialises intermediate tables on the connection's engine.

    Spark: the table is computed and checkpointed (`localCheckpoint`), which cuts its lineage; a plain cache
    keeps the whole plan, and the plans of a long pipeline then grow until Spark runs out of memory printing
    them. DuckDB: Ibis `cache` (a temporary table).
    """
    if getattr(con, "name", "") == "pyspark":
        import uuid

        def spark_stage(table: ir.Table, name: str) -> ir.Table:
            df = con._session.sql(con.compile(table)).localCheckpoint(eager=True)
            view = f"__ascld_{name}_{uuid.uuid4().hex[:12]}"
            df.createOrReplaceTempView(view)
            return con.table(view)

        return spark_stage

    def duckdb_stage(table: ir.Table, name: str) -> ir.Table:
        return con.create_table(f"__ascld_{name}_{uuid_hex()}", table, temp=True)

    return duckdb_stage


def uuid_hex() -> str:
    import uuid

    return uuid.uuid4().hex[:12]


# --------------------------------------------------------------------------------------------------
# SQL Server semantics as Ibis expressions


def fold(x: ir.StringValue) -> ir.StringValue:
    """Lower-cased text without trailing spaces, for `=`/`IN` comparisons (a case-insensitive collation).

    SQL `RTRIM(x)` (`sql.rtrim`), not Ibis's `rstrip()`: on DuckDB that also strips tabs and line breaks, which
    SQL Server's `=` does not ignore (so `'Service\t'` matched `'Service'` on DuckDB but not on Spark).
    """
    return rtrim(x).lower()


def fold_literal(value: str) -> str:
    """`fold` of a Python string."""
    return value.rstrip(" ").lower()


def ci_eq(x: ir.StringValue, value: str) -> ir.BooleanValue:
    """`x = 'value'` under a case-insensitive collation (NULL when x is NULL)."""
    return fold(x) == fold_literal(value)


def ci_ne(x: ir.StringValue, value: str) -> ir.BooleanValue:
    """`x <> 'value'`: NULL (not true) when x is NULL."""
    return fold(x) != fold_literal(value)


def ci_in(x: ir.StringValue, values: Iterable[str]) -> ir.BooleanValue:
    """`x IN (...)` under a case-insensitive collation (NULL when x is NULL)."""
    return fold(x).isin([fold_literal(v) for v in values])


def ci_not_in(x: ir.StringValue, values: Iterable[str]) -> ir.BooleanValue:
    """`x NOT IN (...)`: NULL (not true) when x is NULL."""
    return ~ci_in(x, values)


def ci_like(x: ir.StringValue, pattern: str) -> ir.BooleanValue:
    """`x LIKE 'pattern'`, case-insensitive; trailing spaces count (unlike `=`)."""
    return x.lower().like(pattern.lower())


def ci_not_like(x: ir.StringValue, pattern: str) -> ir.BooleanValue:
    """`x NOT LIKE 'pattern'`: NULL (not true) when x is NULL."""
    return ~ci_like(x, pattern)


def ci_case(x: ir.StringValue, mapping: Mapping[str, Any], default: Any = None) -> ir.Value:
    """A case-insensitive lookup as a CASE expression: value of the first key equal to x, else default."""
    branches = [(ci_eq(x, key), ibis.literal(val)) for key, val in mapping.items()]
    if not branches:
        return ibis.literal(default)
    return ibis.cases(*branches, else_=ibis.literal(default) if default is not None else None)


def days_between(a: ir.DateValue, b: ir.DateValue) -> ir.IntegerValue:
    """SQL Server `DATEDIFF(DAY, a, b)`: b − a in whole days (negative when b is earlier)."""
    return b.delta(a, unit="day")


def age_years(dob: ir.DateValue, on: ir.DateValue) -> ir.IntegerValue:
    """`FLOOR(DATEDIFF(DAY, dob, on) / 365.25)` — not a calendar age (main-tables.md §0)."""
    return (days_between(dob, on) / 365.25).floor()


def proxy_birth_date(year: ir.IntegerValue, month: ir.IntegerValue) -> ir.DateValue:
    """The 1st of the birth month; NULL when year or month is NULL."""
    return ibis.cases(
        ((year.notnull() & month.notnull()), ibis.date(year.cast("int32"), month.cast("int32"), 1)),
        else_=ibis.null("date"),
    )


def range_label(
    value: ir.NumericValue, ranges: Iterable[tuple[str, int | None, int | None]], otherwise: str | None = None
) -> ir.StringValue:
    """The label of the first (label, low, high) range holding `value` (bounds inclusive, None open);
    `otherwise` (NULL by default) for a value in none of them, and for NULL."""
    branches = []
    for label, low, high in ranges:
        cond = ibis.literal(True)
        if low is not None:
            cond = cond & (value >= low)
        if high is not None:
            cond = cond & (value <= high)
        branches.append((cond, ibis.literal(label)))
    return ibis.cases(*branches, else_=ibis.literal(otherwise) if otherwise is not None else ibis.null("string"))


def age_band(age: ir.IntegerValue, scheme: str, unknown: str | None = "Unknown") -> ir.StringValue:
    """Band an age by a scheme of `ascof_age_bands.csv`; ages outside every band (and NULL) get `unknown`."""
    return range_label(age, load_reference().age_bands[scheme], unknown)


def open_end_date() -> ir.DateValue:
    """The sentinel end date for open events (9999-01-01)."""
    return ibis.literal(load_reference().date_parameter("open_end_date"))


def invalid_value() -> str:
    return load_reference().parameter("invalid_value")


def desc_nulls_last(x: ir.Value) -> Any:
    """SQL Server `ORDER BY x DESC` (NULLs last)."""
    return ibis.desc(x, nulls_first=False)


def asc_nulls_first(x: ir.Value) -> Any:
    """SQL Server `ORDER BY x ASC` (NULLs first)."""
    return ibis.asc(x, nulls_first=True)


# --------------------------------------------------------------------------------------------------
# The main-table columns ASCOF reads (main-tables.md §6.3)

PERSON = "Der_NHS_LA_Combined_Person_ID"

#: column -> Ibis type. Every column must be present (a NULL column is fine).
MAIN_TABLE_COLUMNS: Mapping[str, str] = {
    "LA_Code": "string",
    "LA_Name": "string",
    "Ref_Period_End_Date": "date",
    PERSON: "string",
    "LA_Person_Unique_Identifier": "string",
    "Event_Type": "string",
    "Event_Start_Date": "date",
    "Der_Event_End_Date": "date",
    "Client_Type_Cleaned": "string",
    "Service_Type_Cleaned": "string",
    "Service_Component_Cleaned": "string",
    "Delivery_Mechanism_Cleaned": "string",
    "Event_Outcome_Cleaned": "string",
    "Gender_Cleaned": "string",
    "Ethnicity_Cleaned": "string",
    "Accommodation_Status_Cleaned": "string",
    "Employment_Status_Cleaned": "string",
    "Primary_Support_Reason_Cleaned": "string",
    "Client_Funding_Status_Cleaned": "string",
    "Has_Unpaid_Carer": "string",
    "Adult_1_Linked_Person_ID": "string",
    "Adult_2_Linked_Person_ID": "string",
    "Adult_3_Linked_Person_ID": "string",
    "Der_Birth_Year": "int64",
    "Der_Birth_Month": "int64",
    "Date_of_Death": "date",
    "Der_Unique_Record_ID": "int64",
}

# Cleaned columns brought to the specification's spelling (their defined list), so that grouping and DISTINCT
# treat 'Male' and 'male ' as one value, as a case-insensitive SQL Server collation does.
_CANONICAL_LISTS: Mapping[str, str] = {
    "Event_Type": "event_type",
    "Client_Type_Cleaned": "client_type",
    "Service_Type_Cleaned": "service_type",
    "Service_Component_Cleaned": "service_component",
    "Delivery_Mechanism_Cleaned": "delivery_mechanism",
    "Event_Outcome_Cleaned": "event_outcome",
    "Gender_Cleaned": "gender",
    "Ethnicity_Cleaned": "ethnicity",
    "Accommodation_Status_Cleaned": "accommodation_status",
    "Employment_Status_Cleaned": "employment_status",
    "Primary_Support_Reason_Cleaned": "primary_support_reason",
    "Client_Funding_Status_Cleaned": "client_funding_status",
}


#: Identifiers a measure compares with themselves (joins, partitions, DISTINCT): written in one spelling per
#: case-insensitive value (`ascld.measures.spelling`), as SQL Server's collation compares them.
IDENTIFIER_COLUMNS: tuple[str, ...] = (
    "LA_Code", "LA_Name", "Der_NHS_LA_Combined_Person_ID", "LA_Person_Unique_Identifier",
)


def canonical(x: ir.StringValue, values: Iterable[str]) -> ir.StringValue:
    """x as the first of `values` it equals case-insensitively; other values (and NULL) unchanged."""
    values = list(dict.fromkeys(values))
    return ibis.cases(*[(ci_eq(x, v), ibis.literal(v)) for v in values], else_=x)


def has_unpaid_carer_cleaned(raw: ir.StringValue) -> ir.StringValue:
    """`REF_Has_Unpaid_Carer_Mapping` (ascof.md §0.4): raw value -> R2 value, unmatched or NULL -> invalid.

    DHSC's mapping table is not published; the spec list (R2 values, and R1 values mapped forward) stands in.
    """
    lst = load_spec().lists["has_unpaid_carer"]
    mapping = {v: v for v in lst.r2_values}
    for r1, r2 in lst.r1_to_r2.items():
        mapping.setdefault(r1, r2)
    return ibis.coalesce(ci_case(raw, mapping), ibis.literal(invalid_value()))


def rename_case_insensitively(table: ir.Table, wanted: Iterable[str]) -> ir.Table:
    """`table` with each `wanted` column under its exact name, found case-insensitively (SQL Server identifiers
    are case-insensitive); a column already named exactly, and other columns, are unchanged."""
    by_fold = {c.casefold(): c for c in table.columns}
    renames = {}
    for name in wanted:
        actual = by_fold.get(name.casefold())
        if actual is not None and actual != name and name not in table.columns:
            renames[name] = actual
    return table.rename(renames) if renames else table


def _cast(col: ir.Value, dtype: str) -> ir.Value:
    if dtype == "date" and col.type().is_timestamp():
        return col.date()
    if str(col.type()).rstrip("!") == dtype:
        return col
    if dtype == "string" and (col.type().is_integer() or col.type().is_string()):
        return col.cast("string")
    return col.cast(dtype)


def prepare_main_table(table: ir.Table, *, canonicalise: bool = True) -> ir.Table:
    """Select, type and canonicalise the main-table columns ASCOF needs.

    Column names are matched case-insensitively. Cleaned categorical values are rewritten to the spec's
    spelling when they match it case-insensitively (other values pass through unchanged).

    Args:
        table: a joined main table (main-tables.md §6.3), e.g. `CLD_230401_260331_JoinedSubmissions`.
        canonicalise: rewrite cleaned values to the spec spelling. SQL emitted for SQL Server can skip it: a
            case-insensitive collation already groups 'Male' with 'male'.

    Raises:
        UnusableInput: a needed column is missing (all are listed).
    """
    table = rename_case_insensitively(table, MAIN_TABLE_COLUMNS)
    missing = sorted(c for c in MAIN_TABLE_COLUMNS if c not in table.columns)
    if missing:
        raise UnusableInput(
            "main table: missing column(s) "
            + ", ".join(f"`{c}`" for c in missing)
            + ". Build it with the national main-tables step (main-tables.md §6.3)."
        )
    spec = load_spec()
    derived = list(spec.derived_values)
    cols = {}
    for name, dtype in MAIN_TABLE_COLUMNS.items():
        if name == "Der_Unique_Record_ID" and table[name].type().is_string():
            dtype = "string"  # keep a text record id as text rather than fail on a cast
        col = _cast(table[name], dtype)
        if canonicalise and name in _CANONICAL_LISTS:
            col = canonical(col, [*spec.lists[_CANONICAL_LISTS[name]].r2_values, *derived])
        cols[name] = col.name(name)
    out = table.select(**cols)
    return with_one_spelling(out, IDENTIFIER_COLUMNS, fold) if canonicalise else out


def main_table_schema(name: str = "main_table") -> ir.Table:
    """An unbound Ibis table with the main-table columns ASCOF reads, for emitting SQL without data."""
    return ibis.table(dict(MAIN_TABLE_COLUMNS), name=name)


def join_on(left: ir.Table, right: ir.Table, keys: Sequence[str] | str, how: str = "inner") -> ir.Table:
    """Join on equal key columns, keeping the left table's columns and the right's non-key columns.

    NULL keys never match (SQL `=`). Raises if a non-key column name is on both sides.
    """
    keys = [keys] if isinstance(keys, str) else list(keys)
    right_cols = [c for c in right.columns if c not in keys]
    clash = sorted(set(right_cols) & set(left.columns))
    if clash:
        raise ValueError(f"join_on: columns on both sides: {clash}")
    joined = left.join(right, [left[k] == right[k] for k in keys], how=how)
    return joined.select(*[left[c] for c in left.columns], *[right[c] for c in right_cols])
