"""Checks across rows, for the whole file, and against the previous return: SQL over the scanned table.

Every function here reads the table the scan made (`ascld.quality.scan`: one row per data row, in file order,
`__row` = spreadsheet row) and inserts problems into `__ascld_problems` (row, seq, field, check_id, value,
suggestion, detail). Identifiers are only ever compared as hashes, and no value is copied into a problem.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

from ascld.quality.checks import Check

PROBLEMS = "__ascld_problems"
PROBLEM_COLUMNS = "row, seq, field, check_id, value, suggestion, detail"


def _insert(con: Any, select_sql: str) -> None:
    con.execute(f"INSERT INTO {PROBLEMS} ({PROBLEM_COLUMNS}) {select_sql}")


def _seq(spec_columns: tuple[str, ...], column: str) -> int:
    return spec_columns.index(column) + 1 if column in spec_columns else 0


def duplicate_rows(con: Any, dq: str, check: Check) -> None:
    """X001: every extra copy of an exact duplicate row, pointing at the first copy."""
    _insert(
        con,
        f"""
        SELECT row, 0, '', '{check.id}', NULL, NULL, CAST(first_row AS VARCHAR) FROM (
            SELECT __row AS row, min(__row) OVER (PARTITION BY k_row) AS first_row FROM {dq}
            WHERE k_row IN (SELECT k_row FROM {dq} GROUP BY k_row HAVING count(*) > 1)
        ) WHERE row > first_row""",
    )


def duplicate_events(con: Any, dq: str, check: Check) -> None:
    """X002: rows repeating an event under the national unique-event key, exact copies aside."""
    _insert(
        con,
        f"""
        WITH g AS (SELECT k_event FROM {dq} WHERE k_event IS NOT NULL GROUP BY k_event
                   HAVING min(k_row) <> max(k_row)),
        r AS (SELECT k_event, k_row, min(__row) AS row FROM {dq}
              WHERE k_event IN (SELECT k_event FROM g) GROUP BY k_event, k_row),
        x AS (SELECT row, min(row) OVER (PARTITION BY k_event) AS first_row FROM r)
        SELECT row, 0, '', '{check.id}', NULL, NULL, CAST(first_row AS VARCHAR) FROM x WHERE row >
        first_row""",
    )


_PERSON_VALUES = {"Date_of_Birth": "k_dob", "Gender": "k_gender", "NHS_Number": "k_nhs"}


def person_conflicts(
    con: Any, dq: str, check: Check, columns: tuple[str, ...], spec_columns: tuple[str, ...]
) -> None:
    """X003: one LA person ID with different values of a person field; once per person and field."""
    flags = ", ".join(
        f"min({_PERSON_VALUES[c]}) <> max({_PERSON_VALUES[c]}) AS c{i}" for i, c in enumerate(columns)
    )
    # One pass over the file finds the people with any conflict; the rest works on their rows only.
    con.execute(f"""
        CREATE OR REPLACE TEMP TABLE __ascld_conflicts AS
        SELECT * FROM (SELECT k_person, {flags} FROM {dq} WHERE k_person IS NOT NULL GROUP BY k_person)
        WHERE {" OR ".join(f"c{i}" for i in range(len(columns)))}""")
    for i, column in enumerate(columns):
        val = _PERSON_VALUES[column]
        _insert(
            con,
            f"""
            WITH r AS (SELECT __row AS row, k_person, {val} AS val FROM {dq}
                       WHERE k_person IN (SELECT k_person FROM __ascld_conflicts WHERE c{i}) AND {val} IS NOT
                       NULL),
            f AS (SELECT k_person, arg_min(val, row) AS v0, count(DISTINCT val) AS n FROM r GROUP BY k_person)
            SELECT min(r.row), {_seq(spec_columns, column)}, '{column}', '{check.id}', NULL, NULL,
                   CAST(f.n AS VARCHAR)
            FROM r JOIN f USING (k_person) WHERE r.val <> f.v0 GROUP BY r.k_person, f.n""",
        )


def linked_people_missing(
    con: Any, dq: str, check: Check, columns: tuple[str, ...], spec_columns: tuple[str, ...]
) -> None:
    """X004: linked person IDs that are not the LA person ID of any service-user row in the file."""
    parts = []
    for column in columns:
        key = f"k_l{column.split('_')[1]}"
        parts.append(f"""
            SELECT d.__row, {_seq(spec_columns, column)}, '{column}', '{check.id}', NULL, NULL, NULL
            FROM {dq} d ANTI JOIN su ON d.{key} = su.k_person WHERE d.{key} IS NOT NULL""")
    _insert(
        con,
        f"""
        WITH su AS (SELECT DISTINCT k_person FROM {dq} WHERE ctype = 'service user' AND k_person IS NOT NULL)
        {" UNION ALL ".join(parts)}""",
    )


def event_references_reused(con: Any, dq: str, check: Check, spec_columns: tuple[str, ...]) -> None:
    """X005: one event reference on rows describing different events."""
    _insert(
        con,
        f"""
        WITH g AS (SELECT k_ref FROM {dq} WHERE k_ref IS NOT NULL AND k_event IS NOT NULL GROUP BY k_ref
                   HAVING min(k_event) <> max(k_event)),
        r AS (SELECT __row AS row, k_ref, k_event FROM {dq} WHERE k_ref IN (SELECT k_ref FROM g)),
        f AS (SELECT k_ref, arg_min(k_event, row) AS e0, min(row) AS first_row FROM r GROUP BY k_ref)
        SELECT r.row, {_seq(spec_columns, "Event_Reference")}, 'Event_Reference', '{check.id}', NULL, NULL,
               CAST(f.first_row AS VARCHAR)
        FROM r JOIN f USING (k_ref) WHERE r.k_event <> f.e0""",
    )


# --- periods
# ---------------------------------------------------------------------------------------------------


def month_end(d: date) -> date:
    nxt = (d.replace(day=28) + timedelta(days=4)).replace(day=1)
    return nxt - timedelta(days=1)


def stated_period(con: Any, dq: str) -> tuple[date | None, date | None]:
    """The stated period as the national method reads it: min of the starts, max of the ends (valid dates)."""
    row = con.execute(f"SELECT min(rs), max(re) FROM {dq}").fetchone()
    return row[0], row[1]


def derived_period(con: Any, dq: str, submission: date) -> dict[str, Any]:
    """The period the data cover, as DHSC derives it (methodology/main-tables.md §2).

    Months are the end months of events that ended before the month of loading (the submission date stands for
    the import date). With 100 or more such events a month counts when it holds at least 2% of them and at
    most
    one event type fewer than the month with the most types (types: the distinct Event Type values as
    submitted, compared ignoring case and trailing spaces, a value outside the list counting too); with fewer,
    every month counts. The period runs
    from the first day of the first month that counts to the last day of the last.
    """
    months = con.execute(f"""
        WITH e AS (SELECT date_trunc('month', d_end) AS m, k_etype FROM {dq}
                   WHERE d_end IS NOT NULL AND d_end < DATE '{submission.replace(day=1).isoformat()}'),
        mon AS (SELECT m, count(*) AS n, count(DISTINCT k_etype) AS types FROM e GROUP BY m),
        tot AS (SELECT sum(n) AS total, max(types) AS top FROM mon)
        SELECT CAST(m AS DATE), n, types,
               (total < 100) OR (100.0 * n / total >= 2 AND types >= top - 1) AS included
        FROM mon, tot ORDER BY m""").fetchall()
    included = [m for m, _, _, inc in months if inc]
    return {
        "start": included[0] if included else None,
        "end": month_end(included[-1]) if included else None,
        "months": [
            {"month": m.strftime("%Y-%m"), "events": int(n), "event_types": int(t), "included": bool(inc)}
            for m, n, t, inc in months
        ],
        "eligible_events": int(sum(n for _, n, _, _ in months)),
    }


def _fmt(d: date | None) -> str:
    return d.strftime("%d/%m/%Y") if d else "?"


def period_shape_detail(start: date, end: date) -> str | None:
    """Why a stated period is not the rolling 12 months to a quarter end (None when it is)."""
    reasons = []
    if not (end == month_end(end) and end.month in (3, 6, 9, 12)):
        reasons.append(f"ends on {_fmt(end)}, which is not a quarter end")
    try:
        expected_start = end.replace(year=end.year - 1) + timedelta(days=1)
    except ValueError:
        expected_start = end.replace(year=end.year - 1, day=28) + timedelta(days=1)
    if start != expected_start:
        months = round((end - start).days / 30.436875)
        reasons.append(f"runs {_fmt(start)} to {_fmt(end)} (about {months} months), not 12 months")
    return "; ".join(reasons) or None


def file_problem(
    con: Any, check: Check, detail: str, *, field: str = "", seq: int = 0, row: int | None = None
) -> None:
    con.execute(
        f"INSERT INTO {PROBLEMS} ({PROBLEM_COLUMNS}) VALUES (?, ?, ?, ?, NULL, NULL, ?)",
        [row, seq, field, check.id, detail],
    )


# --- quarter on quarter
# ------------------------------------------------------------------------------------------


def compare_returns(
    con: Any,
    cur: str,
    prev: str,
    checks: dict[str, Check],
    spec_columns: tuple[str, ...],
    *,
    previous_name: str,
    previous_row: Callable[[int], int] | None = None,
) -> dict[str, Any]:
    """The quarter-on-quarter checks (Q001-Q006); returns the comparison block of the summary.

    `previous_row` turns a `__row` of the previous return into the row a spreadsheet shows (when it has empty
    lines between its rows: `ascld.returns.reader.RowMap.shown`); the rows of this return are translated with
    the other problems'."""
    (c_rs, c_re), (p_rs, p_re) = stated_period(con, cur), stated_period(con, prev)
    counts = con.execute(f"""
        SELECT coalesce(c.etype, p.etype) AS etype, coalesce(c.n, 0), coalesce(p.n, 0) FROM
        (SELECT etype, count(*) AS n FROM {cur} GROUP BY etype) c FULL JOIN
        (SELECT etype, count(*) AS n FROM {prev} GROUP BY etype) p ON c.etype IS NOT DISTINCT FROM p.etype
        ORDER BY 1 NULLS LAST""").fetchall()
    n_cur = con.execute(f"SELECT count(*) FROM {cur}").fetchone()[0]
    n_prev = con.execute(f"SELECT count(*) FROM {prev}").fetchone()[0]

    # Q001: events that should still be in this rolling return (ending inside its period, or services still
    # active in it) but are not.
    disappeared = 0
    examples: list[int] = []
    if c_rs is not None:
        rows = con.execute(f"""
            SELECT p.__row FROM {prev} p ANTI JOIN (SELECT DISTINCT k_event FROM {cur}
                                                        WHERE k_event IS NOT NULL) c ON p.k_event = c.k_event
            WHERE p.k_event IS NOT NULL AND (
                (p.etype <> 'service' AND p.d_end >= DATE '{c_rs.isoformat()}')
                OR (p.etype = 'service' AND (p.d_end IS NULL OR p.d_end >= DATE '{c_rs.isoformat()}')))
            ORDER BY 1""").fetchall()
        disappeared = len(rows)
        examples = [previous_row(r[0]) if previous_row else r[0] for r in rows[:5]]
    if disappeared:
        ex = ", ".join(str(r) for r in examples)
        file_problem(con, checks["Q001"], f"{disappeared} (e.g. rows {ex} of {previous_name})")

    # Q002: service start dates reset to 1 April when the same service started earlier in the previous return.
    _insert(
        con,
        f"""
        SELECT c.__row, {_seq(spec_columns, "Event_Start_Date")}, 'Event_Start_Date', 'Q002', NULL, NULL,
               strftime(c.d_start, '%d/%m/%Y')
        FROM {cur} c WHERE c.k_svc IS NOT NULL AND month(c.d_start) = 4 AND day(c.d_start) = 1
          AND EXISTS (SELECT 1 FROM {prev} p WHERE p.k_svc = c.k_svc AND p.d_start < c.d_start)
          AND NOT EXISTS (SELECT 1 FROM {prev} p WHERE p.k_svc = c.k_svc AND p.d_start = c.d_start)""",
    )

    # Q003: services open at the end of the previous return that are missing now (same person and service).
    missing_open = con.execute(f"""
        SELECT count(*) FROM (SELECT DISTINCT k_svc FROM {prev} WHERE etype = 'service' AND d_end IS NULL
                              AND k_svc IS NOT NULL) p
        ANTI JOIN (SELECT DISTINCT k_svc FROM {cur} WHERE k_svc IS NOT NULL) c ON p.k_svc = c.k_svc
        """).fetchone()[0]
    if missing_open:
        file_problem(con, checks["Q003"], str(missing_open))

    # Q004: person details that changed since the previous return (once per person and field).
    for column, val in _PERSON_VALUES.items():
        _insert(
            con,
            f"""
            WITH pv AS (SELECT k_person, arg_min({val}, __row) AS v FROM {prev}
                        WHERE k_person IS NOT NULL AND {val} IS NOT NULL GROUP BY k_person),
            cv AS (SELECT k_person, min(__row) AS row, arg_min({val}, __row) AS v FROM {cur}
                   WHERE k_person IS NOT NULL AND {val} IS NOT NULL GROUP BY k_person)
            SELECT cv.row, {_seq(spec_columns, column)}, '{column}', 'Q004', NULL, NULL, NULL
            FROM cv JOIN pv USING (k_person) WHERE cv.v <> pv.v""",
        )

    # Q005: rows per event type changed by more than the threshold.
    limit = float(checks["Q005"].params.get("max_change", "0.25"))
    by_type = []
    for etype, now, before in counts:
        label = (etype or "no event type").capitalize()
        by_type.append({"event_type": label, "current": int(now), "previous": int(before)})
        if before and abs(now - before) / before > limit:
            change = round(100 * (now - before) / before)
            file_problem(
                con,
                checks["Q005"],
                f"{label}: {now:,} rows now against {before:,} in the previous return ({change:+d}%)",
                field="Event_Type",
                seq=_seq(spec_columns, "Event_Type"),
            )

    # Q006: a suspected partial (top-up) file.
    ratio = float(checks["Q006"].params.get("min_ratio", "0.5"))
    span = con.execute(f"SELECT min(d_end), max(d_end) FROM {cur} WHERE d_end IS NOT NULL").fetchone()
    reasons = []
    if n_prev and n_cur < ratio * n_prev:
        reasons.append(f"it has {n_cur:,} rows against {n_prev:,} in the previous return")
    if span[0] and span[1] and (span[1] - span[0]).days < 100 and p_rs and p_re and (p_re - p_rs).days > 270:
        reasons.append(f"its events end between {_fmt(span[0])} and {_fmt(span[1])} only")
    if reasons:
        file_problem(con, checks["Q006"], "this may be a partial (top-up) file: " + " and ".join(reasons))

    return {
        "previous_file": previous_name,
        "current_rows": int(n_cur),
        "previous_rows": int(n_prev),
        "current_period": [c_rs.isoformat() if c_rs else None, c_re.isoformat() if c_re else None],
        "previous_period": [p_rs.isoformat() if p_rs else None, p_re.isoformat() if p_re else None],
        "rows_by_event_type": by_type,
        "events_disappeared": disappeared,
        "open_services_missing": int(missing_open),
    }
