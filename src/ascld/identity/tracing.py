"""Batch tracing of NHS numbers against a demographic index, after the rules of the Personal Demographics
Service (PDS) batch trace, the Demographic Batch Service whose outcome the national table keeps as
`Der_DBS_Check_Status`.

A *demographic index* stands in for PDS: one row per person, CSV or Parquet, with the columns

| column | content |
|---|---|
| `nhs_number` | the person's NHS number (10 digits, spaces allowed) |
| `family_name`, `given_name` | names, any case |
| `date_of_birth` | ISO date (yyyy-mm-dd) |
| `gender` | `Male`/`Female`/`Other`/`Unknown` (also M/F/1/2/0/9) |
| `postcode` | current postcode, any spacing |
| `date_of_death` | ISO date or blank (read, not used by the trace) |

Rules, applied to each distinct set of person details once (all in DuckDB, no per-row Python):

1. **Cross-check**: a valid submitted NHS number that is in the index with the submitted date of birth →
   `Match` with that number.
2. Otherwise an **alphanumeric trace** on family name + date of birth + gender (needs all three):
   candidates are index people with the same normalised family name and date of birth and a compatible
   gender (equal, or either side Other/Unknown).
   * exactly one candidate whose postcode also agrees → `Match`;
   * several whose postcode agrees → the given name decides: exactly one → `Match`, else `Many matches`;
   * none whose postcode agrees (or no postcode submitted): exactly one candidate → `Potential match`;
     several → the given name decides: exactly one → `Potential match`, else `Many matches`;
   * no candidate (or family name, date of birth or gender missing) → `No match`.

Only a `Match` yields a traced NHS number (`Der_NHS_Number_Traced_Pseudo`): like PDS, a potential match is
reported for review, not used. Names are compared upper case with accents and everything but A-Z removed
("O'Neil-Smith" = "ONEILSMITH"); postcodes without spaces; NHS numbers only when valid (format, check digit,
not a placeholder - the same rule as `ascld.identity.nhs_number`).

Examples:
    >>> import duckdb
    >>> con = duckdb.connect()
    >>> install_identity_macros(con)
    >>> con.execute("SELECT ascld_nhs_key('999 000 0018'), ascld_nhs_key('9990000017')").fetchall()
    [('9990000018', None)]
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ascld.errors import UsageError
from ascld.identity.nhs_number import PLACEHOLDERS
from ascld.identity.postcodes import sql_postcode_key
from ascld.identity.readable import why_unreadable

MATCH = "Match"
POTENTIAL_MATCH = "Potential match"
NO_MATCH = "No match"
MANY_MATCHES = "Many matches"
TRACE_OUTCOMES = (MATCH, POTENTIAL_MATCH, NO_MATCH, MANY_MATCHES)

INDEX_COLUMNS = (
    "nhs_number", "family_name", "given_name", "date_of_birth", "gender", "postcode", "date_of_death",
)
TRACE_KEY_COLUMNS = ("nhs_key", "dob", "fam_key", "given_key", "gender_key", "pc_key")


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def install_identity_macros(con: Any) -> None:
    """Create the temporary SQL macros the identity steps share on a DuckDB connection.

    * `ascld_nhs_key(x)`: the 10 digits of a valid NHS number, else NULL;
    * `ascld_name_key(x)`: upper case, accents stripped, A-Z only; NULL if nothing is left;
    * `ascld_gender_key(x)`: 'M', 'F', 'U' (other, unknown, or a value outside the list, such as 'Not
      stated': compatible with either) or NULL (blank);
    * `ascld_pc_key(x)`: postcode upper case without spaces; NULL if blank;
    * `ascld_cld_date(x)`: the date of a value written exactly dd/mm/yyyy (the validator's format: no spaces
      around it, two-digit day and month, four-digit year) that exists, else NULL;
    * `ascld_is_blank(x)`: the validator's blank (`ascld.quality.sqlgen.is_blank`): empty, only white space of
      any kind, or the text NULL in any case with white space around it;
    * `ascld_blank(x)`: NULL where `ascld_is_blank(x)`, else the value unchanged;
    * `ascld_strip(x)`: white space of any kind removed from both ends (`ascld.quality.sqlgen.trim_ws_sql`).
    `ascld_blank` is one CASE of one WHEN, which DuckDB works out once per dictionary entry of a Parquet
    column (the ingest reads the rows from the validator's Parquet files): a fast path for plain values as a
    first WHEN halved the cost on an in-memory table but doubled it there (0.33 -> 0.67 CPU s over the 30
    pass-through columns of 1,000,000 rows), so there is none.
    """
    from ascld.quality.dates import FORMAT_REGEX
    from ascld.quality.sqlgen import blank_sql, strip_sql, trim_ws_sql

    placeholders = ", ".join(_sql_str(p) for p in sorted(PLACEHOLDERS))
    # `ascld_nhs_digits` is `normalise_nhs_number`: spaces and hyphens removed, then white space of any kind
    # (Python's `strip`, as the validator's NHS-number checks) trimmed, so a number the validator accepts with,
    # say, a no-break space around it is pseudonymised and cross-checked like the plain number.
    # The check digit from the number as a BIGINT n: digit i (1-based) is (n // 10^(10-i)) % 10; a result of
    # 11 - (sum % 11) equal to 11 means 0, and 10 can match no digit ((11 - 1) % 11 = 10).
    weighted = " + ".join(f"((n // {10 ** (10 - i)}) % 10) * {11 - i}" for i in range(1, 10))
    # `ascld_nhs_key` binds the digits once through a one-element list and a lambda. Naming the digits
    # expression twice instead (for DuckDB's common-subexpression elimination) was a quarter cheaper on a
    # plain column (0.41 -> 0.31 CPU s over 477,384 distinct sets of person details) but made reading a
    # 339,895-entry demographic index cost 1.85 CPU s instead of 0.76 (the `nhs_key IS NOT NULL` filter
    # works the whole expression out again), so the lambda stays.
    con.execute(
        f"""
        CREATE OR REPLACE TEMP MACRO ascld_nhs_digits(x) AS {strip_sql("replace(replace(x, ' ', ''), '-', '')")};
        CREATE OR REPLACE TEMP MACRO ascld_nhs_key_dn(d, n) AS
            CASE WHEN length(d) = 10 AND regexp_full_match(d, '[0-9]{{10}}') AND d NOT IN ({placeholders})
                  AND (11 - ({weighted}) % 11) % 11 = n % 10 THEN d END;
        CREATE OR REPLACE TEMP MACRO ascld_nhs_key(x) AS
            list_transform([ascld_nhs_digits(x)], lambda d: ascld_nhs_key_dn(d, TRY_CAST(d AS BIGINT)))[1];
        CREATE OR REPLACE TEMP MACRO ascld_name_key(x) AS
            nullif(regexp_replace(upper(strip_accents(x)), '[^A-Z]', '', 'g'), '');
        CREATE OR REPLACE TEMP MACRO ascld_is_blank(x) AS {blank_sql("x")};
        CREATE OR REPLACE TEMP MACRO ascld_strip(x) AS {trim_ws_sql("x")};
        CREATE OR REPLACE TEMP MACRO ascld_gender_key(x) AS
            CASE WHEN ascld_is_blank(x) THEN NULL
                 WHEN lower(ascld_strip(x)) IN ('male', 'm', '1') THEN 'M'
                 WHEN lower(ascld_strip(x)) IN ('female', 'f', '2') THEN 'F'
                 ELSE 'U' END;
        CREATE OR REPLACE TEMP MACRO ascld_pc_key(x) AS nullif({sql_postcode_key("x")}, '');
        CREATE OR REPLACE TEMP MACRO ascld_cld_date(x) AS
            CASE WHEN regexp_full_match(x, '{FORMAT_REGEX}') AND substr(x, 7, 4) <> '0000'
                 THEN CAST(try_strptime(x, '%d/%m/%Y') AS DATE) END;
        CREATE OR REPLACE TEMP MACRO ascld_blank(x) AS CASE WHEN ascld_is_blank(x) THEN NULL ELSE x END;
        """
    )


@dataclass(frozen=True)
class DemographicIndex:
    """A demographic index file (CSV or Parquet) in the documented layout.

    Args:
        path: the file.
    """

    path: Path

    def _reader(self) -> str:
        if self._parquet():
            return f"read_parquet({_sql_str(str(self.path))})"
        return f"read_csv({_sql_str(str(self.path))}, header=true, all_varchar=true, sample_size=-1)"

    def _refuse(self, reason: str) -> UsageError:
        return UsageError(
            f"the demographic index {self.path} cannot be used: {reason}. See docs/national-store.md for the "
            "layout."
        )

    def register(self, con: Any, name: str) -> str:
        """Create a temporary table `name` of the index's entries with a valid NHS number, normalised as the
        trace compares them: `nhs_key, fam_key, given_key, dob, gender_key, pc_key, date_of_death`.

        Raises:
            UsageError: the file cannot be read, lacks a documented column, has no entry with a valid NHS
                number, or has a date that is not an ISO date (the first such row is named, never its value).
        """
        install_identity_macros(con)
        try:
            described = con.execute(f"DESCRIBE SELECT * FROM {self._reader()}").fetchall()
            cols = {r[0].lower(): r[0] for r in described}
        except Exception:  # noqa: BLE001 - any read failure is a user file problem
            # DuckDB's message quotes a line of the file: name the problem from the file itself instead.
            raise self._refuse(why_unreadable(self.path) or "it cannot be read as CSV or Parquet") from None
        missing = [c for c in INDEX_COLUMNS if c not in cols]
        if missing:
            # One column where seven are expected: a ragged or mis-encoded CSV the sniffer could not split.
            reason = why_unreadable(self.path) if len(cols) == 1 and not self._parquet() else None
            raise self._refuse(reason or f"it lacks the column(s) {', '.join(f'`{m}`' for m in missing)}")

        def col(c: str) -> str:
            return f'CAST("{cols[c]}" AS VARCHAR)'

        def bad_date(c: str) -> str:
            return f"(nullif(trim({col(c)}), '') IS NOT NULL AND TRY_CAST(trim({col(c)}) AS DATE) IS NULL)"

        try:
            con.execute(
                f"""
                CREATE OR REPLACE TEMP TABLE {name} AS
                SELECT * FROM (
                    SELECT ascld_nhs_key({col("nhs_number")}) AS nhs_key,
                           ascld_name_key({col("family_name")}) AS fam_key,
                           ascld_name_key({col("given_name")}) AS given_key,
                           TRY_CAST({col("date_of_birth")} AS DATE) AS dob,
                           ascld_gender_key({col("gender")}) AS gender_key,
                           ascld_pc_key({col("postcode")}) AS pc_key,
                           TRY_CAST({col("date_of_death")} AS DATE) AS date_of_death,
                           row_number() OVER () + {0 if self._parquet() else 1} AS __row,
                           {bad_date("date_of_birth")} AS __bad_dob,
                           {bad_date("date_of_death")} AS __bad_dod
                    FROM {self._reader()}
                ) WHERE nhs_key IS NOT NULL
                """
            )
        except Exception:  # noqa: BLE001 - a row the first look did not reach cannot be read
            raise self._refuse(why_unreadable(self.path) or "it cannot be read as CSV or Parquet") from None
        entries, first_dob, n_dob, first_dod, n_dod = con.execute(
            f"SELECT count(*), min(__row) FILTER (WHERE __bad_dob), count(*) FILTER (WHERE __bad_dob), "
            f"min(__row) FILTER (WHERE __bad_dod), count(*) FILTER (WHERE __bad_dod) FROM {name}"
        ).fetchone()
        for first, n, column in ((first_dob, n_dob, "date_of_birth"), (first_dod, n_dod, "date_of_death")):
            if n:
                more = f" (and {n - 1:,} more row{'s' if n > 2 else ''})" if n > 1 else ""
                con.execute(f"DROP TABLE {name}")
                where = "record" if self._parquet() else "row"
                raise self._refuse(
                    f"{where} {first}{more}, column {column}: not a date; write dates as YYYY-MM-DD (e.g. 1950-01-31) "
                    "or leave them blank, so that no person goes untraced"
                )
        if not entries:
            con.execute(f"DROP TABLE {name}")
            raise self._refuse(
                "it has no row with a valid NHS number, so nothing could be traced against it; give the full index"
            )
        con.execute(f"ALTER TABLE {name} DROP COLUMN __row")
        con.execute(f"ALTER TABLE {name} DROP COLUMN __bad_dob")
        con.execute(f"ALTER TABLE {name} DROP COLUMN __bad_dod")
        return name

    def _parquet(self) -> bool:
        return self.path.name.lower().endswith(".parquet")


def load_demographic_index(path: str | Path) -> DemographicIndex:
    """A demographic index from a path.

    Raises:
        UsageError: the file does not exist.
    """
    p = Path(path)
    if not p.exists():
        raise UsageError(
            f"the demographic index {p} does not exist. See docs/national-store.md for the layout."
        )
    return DemographicIndex(p)


def trace_people(con: Any, people: str, index: str, out: str) -> str:
    """Trace each distinct set of person details in `people` against a registered index.

    Args:
        con: a DuckDB connection with the identity macros installed.
        people: a table or view with the columns of `TRACE_KEY_COLUMNS` (normalised keys; any may be NULL).
        index: a table made by `DemographicIndex.register`.
        out: the temporary table to create: the distinct key columns plus `traced_nhs` (NULL unless
            `Match`), `trace_outcome` (one of `TRACE_OUTCOMES`) and `trace_method` ('cross_check',
            'alphanumeric' or NULL).

    Returns:
        The name of the table created.
    """
    keys = ", ".join(TRACE_KEY_COLUMNS)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE {out} AS
        WITH p AS (
            SELECT row_number() OVER () AS tk, * FROM (SELECT DISTINCT {keys} FROM {people})
        ), xc AS (
            SELECT p.tk, min(i.nhs_key) AS nhs
            FROM p JOIN {index} i ON i.nhs_key = p.nhs_key AND i.dob = p.dob
            GROUP BY p.tk
        ), cand AS (
            SELECT p.tk, i.nhs_key AS nhs,
                   coalesce(p.pc_key = i.pc_key, false) AS pc_ok,
                   coalesce(p.given_key = i.given_key, false) AS given_ok
            FROM p JOIN {index} i ON i.dob = p.dob AND i.fam_key = p.fam_key
            WHERE p.gender_key IS NOT NULL
              AND (i.gender_key = p.gender_key OR p.gender_key = 'U' OR coalesce(i.gender_key, 'U') = 'U')
              AND p.tk NOT IN (SELECT tk FROM xc)
        ), agg AS (
            SELECT tk,
                   count(DISTINCT nhs) AS n_all,
                   count(DISTINCT nhs) FILTER (WHERE pc_ok) AS n_pc,
                   count(DISTINCT nhs) FILTER (WHERE pc_ok AND given_ok) AS n_pc_given,
                   count(DISTINCT nhs) FILTER (WHERE given_ok) AS n_given,
                   min(nhs) FILTER (WHERE pc_ok) AS nhs_pc,
                   min(nhs) FILTER (WHERE pc_ok AND given_ok) AS nhs_pc_given
            FROM cand GROUP BY tk
        )
        SELECT {", ".join(f"p.{k}" for k in TRACE_KEY_COLUMNS)},
               CASE WHEN xc.nhs IS NOT NULL THEN xc.nhs
                    WHEN a.n_pc = 1 THEN a.nhs_pc
                    WHEN a.n_pc > 1 AND a.n_pc_given = 1 THEN a.nhs_pc_given END AS traced_nhs,
               CASE WHEN xc.nhs IS NOT NULL THEN '{MATCH}'
                    WHEN a.n_pc = 1 THEN '{MATCH}'
                    WHEN a.n_pc > 1 AND a.n_pc_given = 1 THEN '{MATCH}'
                    WHEN a.n_pc > 1 THEN '{MANY_MATCHES}'
                    WHEN a.n_all = 1 THEN '{POTENTIAL_MATCH}'
                    WHEN a.n_all > 1 AND a.n_given = 1 THEN '{POTENTIAL_MATCH}'
                    WHEN a.n_all > 1 THEN '{MANY_MATCHES}'
                    ELSE '{NO_MATCH}' END AS trace_outcome,
               CASE WHEN xc.nhs IS NOT NULL THEN 'cross_check'
                    WHEN a.n_all > 0 THEN 'alphanumeric' END AS trace_method
        FROM p LEFT JOIN xc USING (tk) LEFT JOIN agg a USING (tk)
        """
    )
    return out
