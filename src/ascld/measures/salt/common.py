"""Building blocks shared by the SALT tables (salt.md §1), written once as Ibis expressions.

The SALT replication is NHS England's Release 1 method. It starts from the national *raw* store (every
submission ever loaded, Release 1 values, no cleaning) rather than from the main tables: its own submission
choice (latest version of each event, §1.4, or latest single submission, §1.5) replaces the main-table
selection. `SALT_INPUT_COLUMNS` is the input it needs; `prepare_input` checks and types it.

SQL Server semantics (main-tables.md §0) are reproduced deliberately:

* text equality, `IN` and joins on defined-list values are case-insensitive and ignore trailing spaces
  (`fold`: lower-case, then SQL `RTRIM`, which strips spaces only on DuckDB, Spark and SQL Server alike);
* `LIKE` without a wildcard is case-insensitive equality that does *not* ignore trailing spaces;
* NULL comparisons are unknown (Ibis keeps SQL three-valued logic), so `NOT IN`, `<>` and `NOT LIKE` are false
  on NULL and a `CASE` falls through;
* ages are `FLOOR(DATEDIFF(DAY, proxy DOB, d) / 365.25)`; date arithmetic uses whole day numbers
  (`epoch_days`), never date - date (an interval on Spark);
* `DENSE_RANK`/`ROW_NUMBER` from Ibis start at 0, so "rank 1" is `== 0` here.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

import ibis
import ibis.expr.operations as ops
import ibis.expr.types as ir

from ascld.errors import UsageError
from ascld.measures.salt import reference
from ascld.measures.spelling import one_spellings
from ascld.spec import load_spec

# ----------------------------------------------------------------------------------------------------
# Input
# ----------------------------------------------------------------------------------------------------

#: The columns the SALT replication reads from the national raw store, with their types. Names are the
#: national column names (main-tables.md §1); `LA_Person_Unique_Identifier` holds the pseudonymised LA
#: identifier (`Der_LA_Person_Unique_Identifier_Pseudo` in the NHS England code, accepted as an alias).
SALT_INPUT_COLUMNS: Mapping[str, str] = {
    "LA_Code": "string",
    "LA_Name": "string",
    "ImportDate": "timestamp",
    "Reporting_Period_Start_Date": "date",
    "Reporting_Period_End_Date": "date",
    "Der_NHS_Number_Traced_Pseudo": "string",
    "LA_Person_Unique_Identifier": "string",
    "Der_Birth_Year": "int64",
    "Der_Birth_Month": "int64",
    "Date_of_Death": "date",
    "Gender": "string",
    "Ethnicity": "string",
    "Client_Type": "string",
    "Primary_Support_Reason": "string",
    "Accommodation_Status": "string",
    "Employment_Status": "string",
    "Has_Unpaid_Carer": "string",
    "Event_Type": "string",
    "Event_Start_Date": "date",
    "Event_End_Date": "date",
    "Event_Outcome": "string",
    "Request_Route_of_Access": "string",
    "Service_Type": "string",
    "Service_Component": "string",
    "Delivery_Mechanism": "string",
}

INPUT_ALIASES: Mapping[str, str] = {"Der_LA_Person_Unique_Identifier_Pseudo": "LA_Person_Unique_Identifier"}

# Defined-list columns whose known Release 1 values are written in one canonical spelling on the way in. SQL
# Server groups and de-duplicates case-insensitively (ignoring trailing spaces), so case variants of a value
# are one value there; giving them one spelling makes DISTINCT/GROUP BY here behave the same. Unknown values
# are left exactly as submitted.
CANONICAL_LISTS: Mapping[str, str] = {
    "Gender": "gender",
    "Ethnicity": "ethnicity",
    "Client_Type": "client_type",
    "Primary_Support_Reason": "primary_support_reason",
    "Accommodation_Status": "accommodation_status",
    "Employment_Status": "employment_status",
    "Has_Unpaid_Carer": "has_unpaid_carer",
    "Event_Type": "event_type",
    "Event_Outcome": "event_outcome",
    "Request_Route_of_Access": "request_route_of_access",
    "Service_Type": "service_type",
    "Delivery_Mechanism": "delivery_mechanism",
}


#: Columns whose values outside the defined lists still reach a GROUP BY, DISTINCT, PARTITION BY or published group:
#: the council code (every script partitions and groups by `LA_CODE`), STS001/STS002a outcomes and routes,
#: LTS001c's unchecked PSR, LTS004's gender. SQL Server compares those case-insensitively and without trailing
#: spaces too (main-tables.md §0), so every spelling of such a value is replaced by one of them (the least) on
#: the way in.
ONE_SPELLING_COLUMNS: tuple[str, ...] = (
    "LA_Code", "Event_Outcome", "Request_Route_of_Access", "Primary_Support_Reason", "Gender"
)

#: Columns the scripts also test with `LIKE` and no wildcard (STS001/STS002a break events, the STS002a subset,
#: LTS003 outcomes). `LIKE` keeps trailing spaces significant (main-tables.md §0), but the one spelling given
#: to a known value drops them; `trailing_flag` keeps, per row, whether the submitted value had any.
LIKE_COLUMNS: tuple[str, ...] = ("Event_Type", "Event_Outcome", "Service_Type")


#: Columns inside the event keys of salt.md §1.4 (not last in the CONCAT) whose one spelling could drop spaces
#: that SQL Server keeps there: only the key's own trailing spaces are ignored, so `Service User ` in the middle
#: of a key makes another key. The keys read the submitted value (`submitted`).
KEY_COLUMNS: tuple[str, ...] = ("LA_Code", "Client_Type", "Service_Type")


def submitted(column: str) -> str:
    """Name of the column holding `column` exactly as submitted (before its one spelling)."""
    return f"__submitted_{column}"


def trailing_flag(column: str) -> str:
    """Name of the column that says whether `column`'s submitted value ended in spaces (NULL when NULL)."""
    return f"__trailing_{column}"


def prepare_input(table: Any) -> ir.Table:
    """Check and type the SALT input: the national raw-store columns in `SALT_INPUT_COLUMNS`.

    Args:
        table: an Ibis table, a pandas DataFrame or a pyarrow Table with those columns (extra columns are
            ignored; `Der_LA_Person_Unique_Identifier_Pseudo` is accepted for `LA_Person_Unique_Identifier`).

    Returns:
        An Ibis table with the input columns, typed, and known Release 1 values in one spelling, plus one
        `trailing_flag` column per `LIKE_COLUMNS` column (for `like_ci`).

    Raises:
        UsageError: columns are missing (all of them are listed, in sorted order).
    """
    t = table if isinstance(table, ir.Table) else ibis.memtable(table)
    renames = {new: old for old, new in INPUT_ALIASES.items() if old in t.columns and new not in t.columns}
    if renames:
        t = t.rename(renames)
    missing = sorted(set(SALT_INPUT_COLUMNS) - set(t.columns))
    if missing:
        listed = ", ".join(f"`{name}`" for name in missing)
        raise UsageError(
            f"SALT input: missing column(s) {listed}. Provide the national raw-store columns listed in "
            "docs/measures-salt.md (Input)."
        )
    typed = {name: t[name].cast(dtype) for name, dtype in SALT_INPUT_COLUMNS.items()}
    flags = {trailing_flag(c): sql_rtrim(typed[c]) != typed[c] for c in LIKE_COLUMNS}
    flags.update({submitted(c): typed[c] for c in KEY_COLUMNS})
    spec = load_spec()
    for column, list_name in CANONICAL_LISTS.items():
        typed[column] = canonical(typed[column], spec.lists[list_name].r1_values)
    out = t.select(**typed, **flags)
    if out.op().find(ops.UnboundTable):
        # SQL written for another engine (`salt_sql`): nothing to query here, so the SQL maps the spellings itself.
        for column in ONE_SPELLING_COLUMNS:
            out = _one_spelling_sql(out, column)
        return out
    respell = _one_spellings(out, ONE_SPELLING_COLUMNS)
    if respell:
        out = out.mutate(**{c: out[c].substitute(m) for c, m in respell.items()})
    return out


def _one_spelling_sql(t: ir.Table, column: str) -> ir.Table:
    """`_one_spellings` as SQL: `column` in the least spelling of its key (`fold`), by a join of every row to the
    column's distinct keys (for emitted SQL only: run here, each measure would repeat the join)."""
    present = t.filter(t[column].notnull())
    spellings = present.group_by(__one_key=fold(present[column])).aggregate(__one_value=present[column].min())
    keyed = t.mutate(__one_left=fold(t[column]))
    joined = keyed.left_join(spellings, keyed["__one_left"] == spellings["__one_key"])
    return joined.select(
        *[joined["__one_value"].fill_null(joined[c]).name(c) if c == column else joined[c] for c in t.columns]
    )


def _one_spellings(t: ir.Table, columns: Sequence[str]) -> dict[str, dict[str, str]]:
    """For each column, the values to write in another spelling: value -> the least value that folds to the same
    key (`fold`), for keys with more than one spelling (none in most returns).

    One small query of the columns' distinct values, so the rows themselves are only touched by a CASE where a
    value has several spellings (a join back on every row, run again in every measure that reads the input,
    doubled SALT's time).
    """
    return one_spellings(t, columns, fold)


# ----------------------------------------------------------------------------------------------------
# Period
# ----------------------------------------------------------------------------------------------------


def _first_of_month_after(d: date, months: int) -> date:
    index = d.year * 12 + d.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def months_before(d: date, months: int) -> date:
    """`DATEADD(MONTH, -months, d)`: calendar shift clamped to the end of the target month."""
    index = d.year * 12 + d.month - 1 - months
    year, month = index // 12, index % 12 + 1
    last = (date(year + (month == 12), month % 12 + 1, 1) - timedelta(days=1)).day
    return date(year, month, min(d.day, last))


@dataclass(frozen=True)
class SaltPeriod:
    """The dates the SALT scripts hard-code (salt.md §1 and main-tables.md §7).

    Attributes:
        start: PS, the period start.
        end: PE, the period end, also the snapshot date of LTS001b/LTS001c.
        event_window_close: W, the last import date for the latest version of each request and service (§1.4).
            Default: the first day of the second month after PE (2024-02-01 for PE 2023-12-31, as coded).
        submission_window_close: last `date(ImportDate)` for the latest single submission (§1.5). Default: the
            first day of the third month after PE (2024-03-01 for PE 2023-12-31, as in the code).
        year_start: the stated reporting period of a chosen file must start on or before this (§1.5).
            Default: 1 April of the financial year containing PS.
        today: stands in for `GETDATE()` (open events end "today" when clustering). Default: today's date;
            pass a fixed date for reproducible runs.

    Examples:
        >>> p = SaltPeriod.for_period(date(2023, 4, 1), date(2023, 12, 31), today=date(2024, 6, 1))
        >>> p.event_window_close, p.submission_window_close, p.year_start
        (datetime.date(2024, 2, 1), datetime.date(2024, 3, 1), datetime.date(2023, 4, 1))
        >>> p.label
        '1 Apr 23 - 31 Dec 23'
    """

    start: date
    end: date
    event_window_close: date
    submission_window_close: date
    year_start: date
    today: date

    @classmethod
    def for_period(
        cls,
        start: date,
        end: date,
        *,
        event_window_close: date | None = None,
        submission_window_close: date | None = None,
        year_start: date | None = None,
        today: date | None = None,
    ) -> SaltPeriod:
        """Build a period, filling the other dates with the defaults described on the class."""
        if end < start:
            raise UsageError("SALT period: the end date is before the start date. Check the period.")
        fy_month = reference.parameter_int("financial_year_start_month")
        fy = start.year if start.month >= fy_month else start.year - 1
        return cls(
            start=start,
            end=end,
            event_window_close=event_window_close
            or _first_of_month_after(end, reference.parameter_int("event_window_months")),
            submission_window_close=submission_window_close
            or _first_of_month_after(end, reference.parameter_int("submission_window_months")),
            year_start=year_start or date(fy, fy_month, 1),
            today=today or date.today(),
        )

    @classmethod
    def coerce(cls, period: SaltPeriod | tuple[date | str, date | str]) -> SaltPeriod:
        """Accept a `SaltPeriod` or a (start, end) pair of dates or ISO strings."""
        if isinstance(period, SaltPeriod):
            return period
        try:
            start, end = (d if isinstance(d, date) else date.fromisoformat(str(d)) for d in period)
        except (TypeError, ValueError) as err:
            raise UsageError(
                "SALT period: give a SaltPeriod or a (start, end) pair of YYYY-MM-DD dates."
            ) from err
        return cls.for_period(start, end)

    @property
    def label(self) -> str:
        return f"{_short(self.start)} - {_short(self.end)}"

    @property
    def snapshot_label(self) -> str:
        return _short(self.end)


def _short(d: date) -> str:
    return f"{d.day} {d:%b %y}"


# ----------------------------------------------------------------------------------------------------
# SQL Server text semantics
# ----------------------------------------------------------------------------------------------------


@ibis.udf.scalar.builtin(name="rtrim")
def sql_rtrim(value: str) -> str:  # type: ignore[empty-body]
    """SQL `RTRIM(value)`: strips trailing spaces only, identically on DuckDB, Spark and SQL Server."""


@ibis.udf.scalar.builtin(name="trim")
def sql_trim(value: str) -> str:  # type: ignore[empty-body]
    """SQL `TRIM(value)`: strips leading and trailing spaces only."""


def fold(col: ir.StringValue) -> ir.StringValue:
    """The key a case-insensitive collation compares for `=`: lower case, trailing spaces off."""
    return sql_rtrim(col.lower())


def fold_literal(text: str) -> str:
    return text.rstrip(" ").lower()


def eq_ci(col: ir.StringValue, text: str) -> ir.BooleanValue:
    """`col = 'text'` under a case-insensitive collation (NULL when col is NULL)."""
    return fold(col) == fold_literal(text)


def in_ci(col: ir.StringValue, texts: Iterable[str]) -> ir.BooleanValue:
    """`col IN (...)` under a case-insensitive collation (NULL when col is NULL)."""
    return fold(col).isin(sorted({fold_literal(t) for t in texts}))


def like_ci(col: ir.StringValue, pattern: str, trailing: ir.BooleanValue | None = None) -> ir.BooleanValue:
    """`col LIKE 'pattern'` with no wildcard: case-insensitive, trailing spaces significant.

    Args:
        col: the value (for an input column, in its one spelling).
        pattern: the pattern, without wildcards.
        trailing: the column's `trailing_flag`: the submitted value ended in spaces, which its one spelling
            dropped (so it does not match a pattern without them).
    """
    matched = col.lower() == pattern.lower()
    return matched if trailing is None else matched & ~trailing


def like_prefix_ci(col: ir.StringValue, prefix: str) -> ir.BooleanValue:
    """`col LIKE 'prefix%'`, case-insensitive."""
    return col.lower().startswith(prefix.lower())


def map_ci(col: ir.StringValue, mapping: Mapping[str, Any], else_: Any = None) -> ir.Value:
    """A `LEFT JOIN` to a reference table on a text key, as a CASE: mapped value, else `else_` (NULL)."""
    seen: dict[str, Any] = {}
    for key, val in mapping.items():
        seen.setdefault(fold_literal(key), val)
    key = fold(col)
    return ibis.cases(*((key == k, ibis.literal(v)) for k, v in seen.items()), else_=else_)


def canonical(col: ir.StringValue, spellings: Sequence[str]) -> ir.StringValue:
    """Replace a value equal (case-insensitively) to one of `spellings` by the first such spelling."""
    mapping: dict[str, str] = {}
    for text in spellings:
        mapping.setdefault(fold_literal(text), text)
    key = fold(col)
    return ibis.cases(*((key == k, ibis.literal(v)) for k, v in mapping.items()), else_=col)


def is_true(cond: ir.BooleanValue) -> ir.BooleanValue:
    """`cond IS TRUE` (unknown counts as false), for `DELETE ... WHERE cond` written as a keep filter."""
    return cond.fill_null(False)


def sql_concat(*parts: ir.Value) -> ir.StringValue:
    """SQL Server `CONCAT(...)`: NULL arguments become ''."""
    pieces = [p.cast("string").fill_null("") for p in parts]
    out = pieces[0]
    for piece in pieces[1:]:
        out = out + piece
    return out


def plus(prefix: str, col: ir.StringValue) -> ir.StringValue:
    """SQL Server `'prefix' + col`: NULL when col is NULL."""
    return ibis.literal(prefix) + col


# ----------------------------------------------------------------------------------------------------
# Dates and ages
# ----------------------------------------------------------------------------------------------------


def day_number(d: ir.DateValue | date) -> ir.IntegerValue:
    """Whole days since 1970-01-01: DATEDIFF(DAY, a, b) = day_number(b) - day_number(a) on every engine."""
    return (ibis.date(d) if isinstance(d, date) else d).epoch_days()


def days_between(a: ir.DateValue | date, b: ir.DateValue | date) -> ir.IntegerValue:
    """`DATEDIFF(DAY, a, b)`."""
    return day_number(b) - day_number(a)


def proxy_dob(t: ir.Table) -> ir.DateValue:
    """`CAST(CONCAT(Der_Birth_Year, '-', Der_Birth_Month, '-01') AS DATE)` (NULL if either part is NULL)."""
    return ibis.date(t.Der_Birth_Year, t.Der_Birth_Month, 1)


def age_at(dob: ir.DateValue, at: date) -> ir.IntegerValue:
    """`FLOOR(DATEDIFF(DAY, dob, at) / 365.25)`; a calendar age it is not (salt.md §1.3)."""
    return (days_between(dob, at) / 365.25).floor().cast("int64")


def birth_known(t: ir.Table) -> ir.BooleanValue:
    return t.Der_Birth_Month.notnull() & t.Der_Birth_Year.notnull()


def alive_on(t: ir.Table, d: date) -> ir.BooleanValue:
    """`(Date_of_Death >= d OR Date_of_Death IS NULL)`."""
    return (t.Date_of_Death >= ibis.date(d)) | t.Date_of_Death.isnull()


def at_midnight(d: date) -> ir.TimestampValue:
    """A date compared with the DATETIME `ImportDate` means midnight at the start of that day."""
    return ibis.timestamp(datetime(d.year, d.month, d.day))


def age_band(age: ir.IntegerValue) -> ir.StringValue:
    """SALT bands: `18-64` for 18..64, `65+` above 64, NULL otherwise (salt.md §1.3)."""
    low, high = reference.parameter_int("age_band_min"), reference.parameter_int("age_band_max")
    return ibis.cases((age.between(low, high), f"{low}-{high}"), (age > high, f"{high + 1}+"), else_=None)


# ----------------------------------------------------------------------------------------------------
# §1.2 person identifier, §1.4 latest versions, §1.5 latest single submission
# ----------------------------------------------------------------------------------------------------


def assign_person_id(t: ir.Table) -> ir.Table:
    """NHS England hybrid person ID (salt.md §1.2), on the working data set `t`; rows with no ID are dropped.

    The traced NHS number where present; else the LA identifier, but only if that identifier appears on no row
    of `t` that has a traced NHS number (across the whole data set, not per LA). The LA-submitted NHS number
    is not used.

    Identifiers are text compared under the code's case-insensitive collation (main-tables.md §0): the LA
    identifier is matched case-insensitively and ignoring trailing spaces, and spellings of one ID that differ
    only so are one person (written in the least spelling), as the code's joins and GROUP BYs on `ID` see them.
    """
    traced = t.Der_NHS_Number_Traced_Pseudo
    linked = (
        t.filter(traced.notnull() & t.LA_Person_Unique_Identifier.notnull())
        .select(__linked=fold(t.LA_Person_Unique_Identifier))
        .distinct()
    )
    joined = t.left_join(linked, fold(t.LA_Person_Unique_Identifier) == linked["__linked"])
    person = ibis.cases(
        (joined.Der_NHS_Number_Traced_Pseudo.notnull(), joined.Der_NHS_Number_Traced_Pseudo),
        (joined["__linked"].isnull(), joined.LA_Person_Unique_Identifier),
        else_=None,
    )
    kept = joined.mutate(ID=person).drop("__linked").filter(lambda r: r.ID.notnull())
    kept = kept.mutate(__id_key=fold(kept.ID))
    kept = kept.mutate(__id_one=kept.ID.min().over(group_by="__id_key"))
    return kept.mutate(ID=kept["__id_one"]).drop("__id_key", "__id_one")


def latest_versions(
    rows: ir.Table, key: Callable[[ir.Table], ir.StringValue], window_close: date
) -> ir.Table:
    """Keep every row whose `ImportDate` is the latest of its key among imports up to W (salt.md §1.4).

    `DENSE_RANK() ... = 1` keeps all rows of the key in the latest file; rows imported after W are dropped.
    """
    eligible = rows.filter(rows.ImportDate <= at_midnight(window_close)).mutate(__key=key)
    # Window values are computed as columns before filtering on them (Ibis' PySpark compiler mis-qualifies a
    # window used directly inside a filter).
    eligible = eligible.mutate(__latest=eligible.ImportDate.max().over(group_by="__key"))
    return eligible.filter(eligible.ImportDate == eligible["__latest"]).drop("__key", "__latest")


def request_key(t: ir.Table) -> ir.StringValue:
    """`CONCAT(LA_CODE, ID, CLIENT_TYPE, EVENT_START_DATE, Request_Route_of_Access)`, case-insensitive, with
    the submitted council code and client type (spaces inside the key count)."""
    return fold(
        sql_concat(
            t[submitted("LA_Code")], t.ID, t[submitted("Client_Type")], t.Event_Start_Date, t.Request_Route_of_Access
        )
    )


def service_key(t: ir.Table) -> ir.StringValue:
    """`CONCAT(LA_CODE, ID, CLIENT_TYPE, EVENT_START_DATE, Service_Type, Service_Component,
    Delivery_Mechanism)`, case-insensitive, with the submitted council code, client and service types."""
    return fold(
        sql_concat(
            t[submitted("LA_Code")],
            t.ID,
            t[submitted("Client_Type")],
            t.Event_Start_Date,
            t[submitted("Service_Type")],
            t.Service_Component,
            t.Delivery_Mechanism,
        )
    )


def latest_single_submission(raw: ir.Table, period: SaltPeriod) -> ir.Table:
    """Rows of each council's latest complete file in the submission window (salt.md §1.5).

    Per (`LA_Name`, `LA_Code`): the latest `ImportDate` among files whose stated MIN start <= year start,
    stated MAX end >= PE, `ImportDate` > PE (midnight) and `date(ImportDate)` <= the window close, with
    `LA_Name` not NULL. Rows are then taken from the raw table by (`LA_Name`, `ImportDate`).
    """
    # Both partition keys compare as SQL Server compares strings (main-tables.md §0): case-insensitive, trailing
    # spaces ignored, so `318` and `318 ` are one council code.
    named = raw.filter(raw.LA_Name.notnull()).mutate(__name=fold(raw.LA_Name), __code=fold(raw.LA_Code))
    files = named.group_by(["__name", "__code", "ImportDate"]).aggregate(
        __rps=named.Reporting_Period_Start_Date.min(), __rpe=named.Reporting_Period_End_Date.max()
    )
    files = files.filter(
        files["__rps"] <= ibis.date(period.year_start),
        files["__rpe"] >= ibis.date(period.end),
        files.ImportDate > at_midnight(period.end),
        files.ImportDate.date() <= ibis.date(period.submission_window_close),
    )
    files = files.mutate(__latest=files.ImportDate.max().over(group_by=["__name", "__code"]))
    latest = files.filter(files.ImportDate == files["__latest"])
    chosen = latest.select(__cname="__name", __cimport="ImportDate").distinct()
    rows = raw.mutate(__name=fold(raw.LA_Name))
    joined = rows.join(
        chosen, (rows["__name"] == chosen["__cname"]) & (rows.ImportDate == chosen["__cimport"])
    )
    return joined.drop("__name", "__cname", "__cimport")


# ----------------------------------------------------------------------------------------------------
# §1.6 islands and gaps
# ----------------------------------------------------------------------------------------------------


def islands(rows: ir.Table, *, gap: int, start: str, end: str, count_name: str, start_name: str) -> ir.Table:
    """Cluster each person's rows into islands (salt.md §1.6) and join the island number back.

    Per (`LA_Code`, `ID`), rows ordered by (start, end): a row continues the island if the previous row's end
    (LAG, not a running maximum) is on or after `start - gap` days. The island number is the running count of
    island starts (RANGE frame: rows with identical dates share it). It is joined back to `rows` on (`ID`,
    start, end) *without* `LA_Code`, as the code does; `start_name` = MIN start over (row's LA, ID, island).
    The result is DISTINCT.

    Args:
        rows: table with `LA_Code`, `ID`, and non-NULL `start`/`end` date columns.
        gap: days allowed between one row's end and the next row's start.
        start, end: the date columns to cluster on.
        count_name: name for the island number column.
        start_name: name for the island start column.
    """
    person = ["LA_Code", "ID"]
    order = [ibis.asc(start, nulls_first=True), ibis.asc(end, nulls_first=True)]
    base = rows.select("LA_Code", "ID", start, end)
    base = base.mutate(
        __prev=base[end].lag().over(ibis.window(group_by=person, order_by=order)),
        __drn=ibis.dense_rank().over(ibis.window(group_by=person, order_by=order)),
    )
    base = base.mutate(
        __ind=ibis.cases((day_number(base["__prev"]) >= day_number(base[start]) - gap, 0), else_=1)
    )
    running = ibis.range_window(preceding=None, following=0, group_by=person, order_by="__drn")
    numbered = base.mutate(__island=base["__ind"].sum().over(running))
    lookup = numbered.select(
        __iid="ID", __istart=numbered[start], __iend=numbered[end], __island="__island"
    ).distinct()
    joined = rows.join(
        lookup,
        (lookup["__iid"] == rows.ID) & (rows[start] == lookup["__istart"]) & (rows[end] == lookup["__iend"]),
    )
    joined = joined.drop("__iid", "__istart", "__iend").rename({count_name: "__island"})
    island_start = joined[start].min().over(group_by=["LA_Code", "ID", count_name])
    return joined.mutate(**{start_name: island_start}).distinct()


def latest_end_rows(clustered: ir.Table, *, count_name: str, end: str) -> ir.Table:
    """Rows with the latest end date of their cluster (`DENSE_RANK() OVER (... ORDER BY end DESC) = 1`)."""
    marked = clustered.mutate(__latest_end=clustered[end].max().over(group_by=["LA_Code", "ID", count_name]))
    return marked.filter(marked[end] == marked["__latest_end"]).drop("__latest_end")


def min_outcome_hierarchy_rows(
    clusters: ir.Table, *, count_name: str, also_equal: Sequence[str] = ()
) -> ir.Table:
    """Keep cluster rows whose outcome has the lowest tie-break hierarchy (salt.md §1.8; unmatched = 99).

    Written as the code's self-join: each row is repeated once per row with rank 1 in its cluster that shares
    its hierarchy and every column in `also_equal` (STS001 matches on route of access, so a NULL route drops
    the row and shared minima duplicate rows).
    """
    spec = load_spec()
    ranking = spec.hierarchies["event_outcome.nhse_salt_sequel_ranking_r1"]
    unmatched = reference.parameter_int("unmatched_hierarchy")
    ranked = clusters.mutate(
        Event_Outcome_Hierarchy=map_ci(
            clusters.Event_Outcome, {v: i for i, v in enumerate(ranking, start=1)}, else_=unmatched
        ).cast("int64")
    )
    group = ["LA_Code", "ID", count_name]
    marked = ranked.mutate(__best=ranked.Event_Outcome_Hierarchy.min().over(group_by=group))
    tops = marked.filter(marked.Event_Outcome_Hierarchy == marked["__best"])
    keys = [*group, "Event_Outcome_Hierarchy", *also_equal]
    right = tops.select(**{f"__r_{k}": tops[k] for k in keys})
    predicate = functools.reduce(
        lambda acc, k: acc & (ranked[k] == right[f"__r_{k}"]),
        keys[1:],
        ranked[keys[0]] == right[f"__r_{keys[0]}"],
    )
    joined = ranked.join(right, predicate)
    return joined.drop(*[f"__r_{k}" for k in keys])


# ----------------------------------------------------------------------------------------------------
# Long-term services open at a date (new-client / existing-client tests)
# ----------------------------------------------------------------------------------------------------


def long_term_services(events: ir.Table) -> ir.Table:
    """Distinct (LA, ID, service type, start, end) of long-term services (`#Service_Events`)."""
    lt = events.filter(in_ci(events.Service_Type, reference.values("long_term_service_types")))
    return lt.select("LA_Code", "ID", "Service_Type", "Event_Start_Date", "Event_End_Date").distinct()


def open_long_term(clusters: ir.Table, services: ir.Table, keys: Sequence[str]) -> ir.Table:
    """Clusters (projected on `keys`) whose start is inside a long-term service of the same LA and person.

    `Cluster_Start_Date BETWEEN start AND end`, or start <= cluster start with a NULL end (`#ONGOING`).
    """
    s = services.select(__sla="LA_Code", __sid="ID", __ss="Event_Start_Date", __se="Event_End_Date")
    joined = clusters.join(s, (clusters.LA_Code == s["__sla"]) & (s["__sid"] == clusters.ID))
    flag = ibis.cases(
        (joined.Cluster_Start_Date.between(joined["__ss"], joined["__se"]), 1),
        ((joined.Cluster_Start_Date >= joined["__ss"]) & joined["__se"].isnull(), 1),
        else_=0,
    )
    return joined.filter(flag == 1).select(*keys)


def prefixed(table: ir.Table, keys: Sequence[str], prefix: str) -> ir.Table:
    """`table` projected on `keys`, each renamed `prefix + key` (the right side of a join on those keys)."""
    return table.select(**{f"{prefix}{k}": table[k] for k in keys})


def match_all(left: ir.Table, right: ir.Table, keys: Sequence[str], prefix: str) -> ir.BooleanValue:
    """`left.k = right.<prefix>k` for every key (SQL: NULL never matches)."""
    pairs = [left[k] == right[f"{prefix}{k}"] for k in keys]
    return functools.reduce(lambda acc, p: acc & p, pairs[1:], pairs[0])


@dataclass
class SaltContext:
    """What every SALT table builder receives: the prepared input, the period and how to stage results.

    Attributes:
        raw: the prepared input (`prepare_input`).
        period: the SALT period.
        materialize: turns an intermediate table into a stored one (the NHS England scripts' `#temp` tables).
            None keeps one lazy expression per measure (for emitting SQL). Executing without staging makes
            plans that grow with every reuse of a step; Spark's analyser runs out of memory on them.
        cache: intermediate tables shared between measures (e.g. the STS002a cohort from STS001).
    """

    raw: ir.Table
    period: SaltPeriod
    materialize: Callable[[ir.Table], ir.Table] | None = None
    cache: dict[str, Any] = field(default_factory=dict)

    def memo(self, name: str, build: Callable[[], Any]) -> Any:
        if name not in self.cache:
            self.cache[name] = build()
        return self.cache[name]

    def stage(self, table: ir.Table) -> ir.Table:
        """A `#temp` table: stored when the context materializes, else the expression itself."""
        return self.materialize(table) if self.materialize is not None else table
