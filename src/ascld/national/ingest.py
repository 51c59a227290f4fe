"""Ingest CLD returns into the national store: validate, trace, pseudonymise, derive, store atomically.

The processor keeps a return only in pseudonymised form (spec/README.md §2, §8, §9; DESIGN.md principles 3-5):

* each file is validated first by the same validator councils run; a file with transport failures is refused
  with its report and nothing is stored; field failures are stored with their `cond_`/`chk_` codes;
* each accepted file gets an `ImportFileId`, an `ImportDate` and its load file name; each row a
  `Der_Unique_Record_ID` increasing with load order; the same bytes are recognised and never stored twice;
* NHS numbers are traced against a demographic index (`ascld.identity.tracing`);
* NHS numbers, LA person IDs (scoped by council) and carers' linked person IDs become keyed pseudonyms, each
  distinct value hashed once; date of birth becomes birth year and month and two ages; postcode becomes sector
  and areas; names, date of birth, postcode, NHS number, event reference and event description are dropped.

All row work is DuckDB SQL, the keyed HMACs of the distinct values included (`sql_pseudonym`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import shutil
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ascld import __version__
from ascld.errors import UsageError
from ascld.identity.postcodes import DER_POSTCODE_COLUMNS, PostcodeLookup, sql_postcode_sector
from ascld.identity.pseudonym import (
    NHS_DOMAIN,
    PseudoKey,
    Pseudonymiser,
    la_person_domain,
    load_key,
    sql_pseudonym,
)
from ascld.identity.tracing import TRACE_KEY_COLUMNS, DemographicIndex, install_identity_macros, trace_people
from ascld.national.store import (
    DQ_FILE,
    PARQUET_OPTIONS,
    ROWS_FILE,
    STORE_COLUMNS,
    ImportRecord,
    NationalStore,
    dq_select,
)
from ascld.quality.sqlgen import quote_ident, quote_str
from ascld.returns.reader import UNSIGNED_NUMBER_REGEX

log = logging.getLogger(__name__)

PAUSE_ENV = "ASCLD_TEST_INGEST_PAUSE"  # test hook: stage name at which to stop and wait
PAUSE_FILE_ENV = "ASCLD_TEST_INGEST_PAUSE_FILE"  # test hook: file touched when the pause is reached

# How each submitted column reaches the store. Every column of the specification must appear here exactly once
# (tests/national/test_store_schema.py checks it), so a new identifier cannot slip through unclassified.
PASS_THROUGH_TEXT = (
    "GP_Practice_Code", "GP_Practice_Name", "Gender", "Ethnicity", "Client_Type", "Primary_Support_Reason",
    "Accommodation_Status", "Employment_Status", "Has_Unpaid_Carer", "Autism_Spectrum_Disorder_ASD",
    "Visual_Impairment", "Hearing_Impairment", "Dementia", "Client_Funding_Status", "Event_Type",
    "Event_Outcome", "Request_Route_of_Access", "Assessment_Type", "Eligible_Needs_Identified",
    "Method_of_Assessment", "Total_Hrs_Caring_per_week", "Service_Type", "Service_Component",
    "Delivery_Mechanism", "Provider_CQC_Location_ID", "Provider_CQC_Location_Name",
    "Cost_Frequency_Unit_Type", "Review_Reason", "Review_Outcomes_Achieved", "Method_of_Review",
)
CONVERTED = {
    "LA_Code": "text (trimmed)",
    "Reporting_Period_Start_Date": "DATE", "Reporting_Period_End_Date": "DATE",
    "Date_of_Death": "DATE", "Event_Start_Date": "DATE", "Event_End_Date": "DATE",
    "Unit_Cost": "DOUBLE", "Planned_units_per_week": "DOUBLE", "No_of_adults_being_cared_for": "INTEGER",
}
PSEUDONYMISED = {
    "NHS_Number": "Der_NHS_Number_Pseudo (and, after tracing, Der_NHS_Number_Traced_Pseudo)",
    "LA_Person_Unique_Identifier": "LA_Person_Unique_Identifier = Der_LA_Person_Unique_Identifier_Pseudo",
    "Adult_1_Linked_Person_ID": "Adult_1_Linked_Person_ID = Der_Adult_1_Linked_Person_ID_Pseudo",
    "Adult_2_Linked_Person_ID": "Adult_2_Linked_Person_ID = Der_Adult_2_Linked_Person_ID_Pseudo",
    "Adult_3_Linked_Person_ID": "Adult_3_Linked_Person_ID = Der_Adult_3_Linked_Person_ID_Pseudo",
}
DERIVED_THEN_DROPPED = {
    "Date_of_Birth": "Der_Birth_Year, Der_Birth_Month, Der_Age_Event_Start_Date, "
                     "Der_Age_Reporting_Period_End_Date",
    "Postcode": "Der_Postcode_Sector and the Der_Postcode_* areas",
    "Event_Description": "Der_Conversation, Der_Conversation_1 (free text may hold personal data)",
    "First_Name": "used for tracing only",
    "Last_Name": "used for tracing only",
}
DROPPED = {
    "Event_Reference": "not used nationally (DHSC builds its own event key) and may embed personal data",
}
LINKED = ("Adult_1_Linked_Person_ID", "Adult_2_Linked_Person_ID", "Adult_3_Linked_Person_ID")
_SOURCE_COLUMNS = (
    *PASS_THROUGH_TEXT, *CONVERTED, *PSEUDONYMISED, *DERIVED_THEN_DROPPED, *DROPPED,
)

Status = Literal["stored", "duplicate", "refused"]


@dataclass
class FileOutcome:
    """What happened to one file.

    Attributes:
        path: the file as given.
        status: "stored", "duplicate" (these bytes were already stored) or "refused" (transport failures).
        sha256: SHA-256 of the file's bytes.
        record: the register entry (stored or duplicate).
        message: one line for the operator (no identifying values).
        validation: the validator's result, when the file was validated.
    """

    path: str
    status: Status
    sha256: str
    record: ImportRecord | None = None
    message: str = ""
    validation: Any = None


@dataclass
class IngestReport:
    """Outcomes of one ingest run, in the order the files were given."""

    outcomes: list[FileOutcome] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def exit_code(self) -> int:
        """0 when every file was stored or already present; 1 when any was refused."""
        return 1 if any(o.status == "refused" for o in self.outcomes) else 0

    def lines(self) -> list[str]:
        return [o.message for o in self.outcomes]


def file_sha256(path: str | Path) -> str:
    """SHA-256 of a file's bytes, read in 1 MiB blocks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _pause(stage: str) -> None:
    """Test hook: with ASCLD_TEST_INGEST_PAUSE=<stage>, announce the stage in a file and wait to be killed."""
    if os.environ.get(PAUSE_ENV) != stage:
        return
    marker = os.environ.get(PAUSE_FILE_ENV)
    if marker:
        Path(marker).write_text(stage)
    time.sleep(3600)


def _as_import_datetime(value: dt.datetime | dt.date | str | None) -> dt.datetime:
    if value is None:
        now = dt.datetime.now()
        return now.replace(microsecond=now.microsecond // 1000 * 1000)
    if isinstance(value, str):
        try:
            value = dt.datetime.fromisoformat(value.strip())
        except ValueError as exc:
            raise UsageError(
                f"import date {value!r} is not an ISO date or date-time. Use e.g. 2025-11-05 or "
                "2025-11-05T09:30:00."
            ) from exc
    if isinstance(value, dt.datetime):
        value = value.replace(tzinfo=None)
        return value.replace(microsecond=value.microsecond // 1000 * 1000)
    return dt.datetime.combine(value, dt.time())


def _unique_import_date(
    store_records: Sequence[ImportRecord], la_code: str, wanted: dt.datetime
) -> dt.datetime:
    """A submission is (LA, ImportDate); two files of one council never share an ImportDate, so a clash moves
    the later file on by a millisecond."""
    taken = {r.import_datetime for r in store_records if r.la_code == la_code}
    while wanted in taken:
        wanted += dt.timedelta(milliseconds=1)
    return wanted


def _columns(con: Any, table: str) -> set[str]:
    return {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}


PERSON_DETAILS = ("NHS_Number", "Date_of_Birth", "Last_Name", "First_Name", "Gender", "Postcode")
PERSON_IDS = ("LA_Person_Unique_Identifier", *LINKED)


def _col(have: set[str], name: str, alias: str = "") -> str:
    prefix = f"{alias}." if alias else ""
    return f"{prefix}{quote_ident(name)}" if name in have else "NULL::VARCHAR"


def _person_details(con: Any, table: str, have: set[str]) -> None:
    """`__ascld_pd`: each distinct set of submitted person details once, with the normalised keys the trace
    and the derivations use (the expensive parsing runs per person, not per row)."""
    raw = ", ".join(f"{_col(have, c)} AS {c}" for c in PERSON_DETAILS)
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE __ascld_pd AS
        SELECT *, ascld_nhs_key(NHS_Number) AS nhs_key, ascld_cld_date(Date_of_Birth) AS dob,
               ascld_name_key(Last_Name) AS fam_key, ascld_name_key(First_Name) AS given_key,
               ascld_gender_key(Gender) AS gender_key, ascld_pc_key(Postcode) AS pc_key,
               {sql_postcode_sector("Postcode")} AS pc_sector
        FROM (SELECT DISTINCT {raw} FROM {table})
        """
    )


KEYS_NHS = "__ascld_keys_nhs"
KEYS_LA = "__ascld_keys_la"


def _nhs_pseudonyms(con: Any, pseudonymiser: Pseudonymiser, traced: bool) -> None:
    """Hash each distinct NHS number (submitted or traced) once, in DuckDB; make `__ascld_pmap_nhs(v, p)`."""
    sql = "SELECT nhs_key AS v FROM __ascld_pd WHERE nhs_key IS NOT NULL"
    if traced:
        sql += " UNION SELECT traced_nhs FROM __ascld_traced WHERE traced_nhs IS NOT NULL"
    else:
        sql = sql.replace("SELECT", "SELECT DISTINCT", 1)
    try:
        pseudonymiser.register_sql_keys(con, KEYS_NHS, {NHS_DOMAIN: NHS_DOMAIN})
        con.execute(
            f"CREATE OR REPLACE TEMP TABLE __ascld_pmap_nhs AS SELECT d.v, {sql_pseudonym('k', 'd.v')} AS p "
            f"FROM ({sql}) d, {KEYS_NHS} k"
        )
    finally:  # the pads are key material: gone as soon as the pseudonyms are made
        con.execute(f"DROP TABLE IF EXISTS {KEYS_NHS}")


def _person_id_pseudonyms(
    con: Any, table: str, have: set[str], pseudonymiser: Pseudonymiser, file_la: str = ""
) -> None:
    """Hash each distinct (council, person ID) once, LA person IDs and linked IDs alike, in the council's
    domain; make `__ascld_pmap_pid(la_raw, v_raw, p)` keyed by the values as submitted (so the final join
    compares raw text and normalises nothing per row). A row with a blank LA code is the file's council's
    (`file_la`; one council per file, spec §3): its IDs are that council's, never a domain shared by every
    council's blank rows."""
    raw = " UNION ".join(
        f"SELECT {_col(have, 'LA_Code')} AS la_raw, {quote_ident(c)} AS v_raw FROM {table} "
        f"WHERE {quote_ident(c)} IS NOT NULL"
        for c in PERSON_IDS if c in have
    ) or "SELECT NULL::VARCHAR AS la_raw, NULL::VARCHAR AS v_raw WHERE false"
    con.execute(
        f"""
        CREATE OR REPLACE TEMP TABLE __ascld_pid_raw AS
        -- compared as SQL Server compares them nationally: case-insensitive, surrounding spaces ignored
        -- (spaces only: trim(x, ' '), since DuckDB's one-argument trim also drops U+00A0 and other Unicode
        -- space separators, which SQL Server's `=` keeps)
        SELECT la_raw, v_raw, coalesce(upper(ascld_strip(ascld_blank(la_raw))), {quote_str(file_la.upper())}) AS la,
               CASE WHEN NOT ascld_is_blank(v_raw) THEN upper(trim(v_raw, ' ')) END AS v
        FROM ({raw})
        """
    )
    las = [r[0] for r in con.execute("SELECT DISTINCT la FROM __ascld_pid_raw WHERE v IS NOT NULL").fetchall()]
    try:
        pseudonymiser.register_sql_keys(con, KEYS_LA, {la: la_person_domain(la) for la in las})
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE __ascld_pmap_pid AS
            WITH hashed AS (
                SELECT d.la, d.v, {sql_pseudonym('k', 'd.v')} AS p
                FROM (SELECT DISTINCT la, v FROM __ascld_pid_raw WHERE v IS NOT NULL) d
                JOIN {KEYS_LA} k ON k.name = d.la
            )
            SELECT r.la_raw, r.v_raw, h.p FROM __ascld_pid_raw r JOIN hashed h ON h.la = r.la AND h.v = r.v
            """
        )
    finally:
        con.execute(f"DROP TABLE IF EXISTS {KEYS_LA}")


def _person_table(con: Any, traced: bool, postcodes: str | None) -> None:
    """`__ascld_pdx`: per distinct person details, everything derived from them (pseudonyms, trace outcome,
    birth year and month, postcode sector and areas)."""
    area_cols = ", ".join(
        f"pc.{c}" if postcodes else f"NULL::VARCHAR AS {c}" for c in DER_POSTCODE_COLUMNS
    )
    joins = ["LEFT JOIN __ascld_pmap_nhs sn ON sn.v = pd.nhs_key"]
    if traced:
        on = " AND ".join(f"t.{k} IS NOT DISTINCT FROM pd.{k}" for k in TRACE_KEY_COLUMNS)
        joins += [f"LEFT JOIN __ascld_traced t ON {on}",
                  "LEFT JOIN __ascld_pmap_nhs tn ON tn.v = t.traced_nhs"]
    if postcodes:
        joins.append(f"LEFT JOIN {postcodes} pc ON pc.pc_key = pd.pc_key")
    con.execute(
        f"""
        CREATE OR REPLACE TEMP VIEW __ascld_pdx AS
        SELECT {", ".join(f"pd.{c}" for c in PERSON_DETAILS)}, pd.dob, pd.pc_sector,
               sn.p AS nhs_pseudo,
               {"tn.p" if traced else "NULL::VARCHAR"} AS traced_pseudo,
               {"t.trace_outcome" if traced else "NULL::VARCHAR"} AS trace_outcome,
               {area_cols}
        FROM __ascld_pd pd {" ".join(joins)}
        """
    )


def _age(at: str) -> str:
    # main-tables.md §0: FLOOR(DATEDIFF(DAY, proxy DOB, date) / 365.25), proxy DOB the 1st of the birth month.
    return f"CAST(floor(datediff('day', date_trunc('month', x.dob), {at}) / 365.25) AS INTEGER)"


# Numbers as a return writes them (validate.md "Numbers"), white space around allowed: a plain decimal with an
# optional minus, and a whole number of digits only. Anything else (an exponent, NaN, Infinity, '2.0' for a
# whole number, '1_000', '0x10' ...), which DuckDB's casts would read, is stored as NULL.
PLAIN_NUMBER = rf"-?{UNSIGNED_NUMBER_REGEX}"
WHOLE_NUMBER = r"-?[0-9]+"


def _number(raw: str, pattern: str, kind: str) -> str:
    """SQL: the number `raw` holds when it matches `pattern` (white space around ignored), else NULL."""
    from ascld.quality.sqlgen import WS_CLASS

    return f"TRY_CAST(nullif(regexp_extract({raw}, '^{WS_CLASS}*({pattern}){WS_CLASS}*$', 1), '') AS {kind})"


def _final_select(
    table: str, have: set[str], import_id: str, import_date: dt.datetime, row_base: int, row_expr: str,
    file_la: str = "",
) -> str:
    def text(name: str) -> str:
        return f"ascld_blank({_col(have, name, 'r')})"

    def date(name: str) -> str:
        return f"ascld_cld_date({_col(have, name, 'r')})"

    description = _col(have, "Event_Description", "r")
    exprs: dict[str, str] = {c: text(c) for c in PASS_THROUGH_TEXT}
    exprs.update({c: date(c) for c in ("Reporting_Period_Start_Date", "Reporting_Period_End_Date",
                                         "Date_of_Death", "Event_Start_Date", "Event_End_Date")})
    # A row with a blank LA code is the file's council's (one LA per file, spec §3), as its person IDs are: the
    # main tables identify a submission by LA_Code, LA_Name and ImportDate on every row (main-tables.md §2), and
    # a NULL there made every national build refuse the whole store.
    file_code = quote_str(file_la) if file_la else "NULL"
    la_code = f"coalesce(ascld_strip(ascld_blank({_col(have, 'LA_Code', 'r')})), {file_code})"
    exprs.update({
        "LA_Code": la_code,
        "LA_Name": f"coalesce(n.name, {la_code})",
        "ImportDate": f"TIMESTAMP {quote_str(import_date.isoformat(sep=' ', timespec='milliseconds'))}",
        "ImportFileId": quote_str(import_id),
        "Der_NHS_Number_Traced_Pseudo": "x.traced_pseudo",
        "Der_NHS_Number_Pseudo": "x.nhs_pseudo",
        "LA_Person_Unique_Identifier": "pid.p",
        "Der_LA_Person_Unique_Identifier_Pseudo": "pid.p",
        "Der_DBS_Check_Status": "x.trace_outcome",
        "Der_Birth_Year": "year(x.dob)",
        "Der_Birth_Month": "month(x.dob)",
        "Der_Age_Event_Start_Date": _age(date("Event_Start_Date")),
        "Der_Age_Reporting_Period_End_Date": _age(date("Reporting_Period_End_Date")),
        "Der_Postcode_Sector": "x.pc_sector",
        "Der_Conversation": f"CASE WHEN {text('Event_Description')} IS NULL THEN NULL "
                            f"WHEN {description} ILIKE '%conversation%' THEN 1 ELSE 0 END",
        "Der_Conversation_1": f"CASE WHEN {text('Event_Description')} IS NULL THEN NULL "
                              f"WHEN regexp_matches({description}, "
                              r"'(?i)(conversation\s*(1|one)\b|first\s+conversation)') THEN 1 ELSE 0 END",
        "Unit_Cost": _number(_col(have, "Unit_Cost", "r"), PLAIN_NUMBER, "DOUBLE"),
        "Planned_units_per_week": _number(_col(have, "Planned_units_per_week", "r"), PLAIN_NUMBER, "DOUBLE"),
        "No_of_adults_being_cared_for": _number(
            _col(have, "No_of_adults_being_cared_for", "r"), WHOLE_NUMBER, "INTEGER"
        ),
        "Der_Unique_Record_ID": f"{row_base} + {row_expr}",
    })
    for i, c in enumerate(LINKED, start=1):
        exprs[c] = exprs[f"Der_{c}_Pseudo"] = f"a{i}.p"
    for c in DER_POSTCODE_COLUMNS:
        exprs[c] = f"x.{c}"
    on = " AND ".join(f"x.{c} IS NOT DISTINCT FROM r.{quote_ident(c)}" for c in PERSON_DETAILS if c in have) or "true"
    la = _col(have, "LA_Code", "r")
    joins = [
        f"LEFT JOIN __ascld_pdx x ON {on}",
        f"LEFT JOIN __ascld_la_names n ON n.code = {la_code}",
    ]
    id_columns = (("pid", "LA_Person_Unique_Identifier"), *((f"a{i}", c) for i, c in enumerate(LINKED, 1)))
    for alias, c in id_columns:
        if c in have:
            joins.append(
                f"LEFT JOIN __ascld_pmap_pid {alias} ON {alias}.la_raw IS NOT DISTINCT FROM {la} "
                f"AND {alias}.v_raw = r.{quote_ident(c)}"
            )
        else:
            exprs[c if alias != "pid" else "LA_Person_Unique_Identifier"] = "NULL"
            if alias == "pid":
                exprs["Der_LA_Person_Unique_Identifier_Pseudo"] = "NULL"
            else:
                exprs[f"Der_{c}_Pseudo"] = "NULL"
    select = [f"CAST({exprs[name]} AS {kind}) AS {quote_ident(name)}" for name, kind in STORE_COLUMNS]
    nl = "\n        "
    return f"SELECT {(',' + nl + '       ').join(select)}{nl}FROM {table} r{nl}{nl.join(joins)}"


def _check_dq_file(con: Any, path: Path, import_id: str, first_id: int, n_rows: int, last_id: int | None) -> None:
    """A DQ file written for this import holds one row per stored row, with the same record ids."""
    n, lo, hi, ids = con.execute(
        "SELECT count(*), min(Der_Unique_Record_ID), max(Der_Unique_Record_ID), list(DISTINCT ImportFileId) "
        f"FROM read_parquet({quote_str(str(path))})"
    ).fetchone()
    wanted = (n_rows, first_id, last_id, [import_id]) if n_rows else (0, None, None, None)
    if (n, lo, hi, ids or None) != wanted:
        raise RuntimeError(
            f"the DQ file {path} was not written for import {import_id} (record ids {first_id} to {last_id}); "
            "nothing was stored."
        )


def _copy(con: Any, select: str, path: Path) -> None:
    con.execute(f"COPY ({select}) TO {quote_str(str(path))} ({PARQUET_OPTIONS})")


INDEX_TABLE = "__ascld_index"
POSTCODE_TABLE = "__ascld_pc"


def register_references(
    con: Any, index: DemographicIndex | None, postcodes: PostcodeLookup | None
) -> tuple[str | None, str | None]:
    """Load the demographic index and the postcode lookup into a connection once, for many files.

    Returns:
        The table names to pass to `ingest_table` as `index` and `postcodes` (None where not given).
    """
    install_identity_macros(con)
    idx = index.register(con, INDEX_TABLE) if index is not None else None
    pcs = postcodes.register(con, POSTCODE_TABLE) if postcodes is not None else None
    return idx, pcs


def ingest_table(
    con: Any,
    table: str,
    store: NationalStore,
    *,
    pseudonymiser: Pseudonymiser,
    sha256: str,
    load_file_name: str,
    import_date: dt.datetime | dt.date | str | None = None,
    index: DemographicIndex | str | None = None,
    postcodes: PostcodeLookup | str | None = None,
    la_names: Mapping[str, str] | None = None,
    dq_table: str | None = None,
    dq_file: str | Path | None = None,
    details: Mapping[str, Any] | None = None,
    locked: bool = False,
) -> tuple[Status, ImportRecord]:
    """Store one return already loaded in DuckDB (text columns named by national column names, plus `__row`).

    Args:
        con: a DuckDB connection holding `table`.
        table: the return's rows.
        store: the national store.
        pseudonymiser: keyed pseudonyms.
        sha256: SHA-256 of the file's bytes (the idempotency key).
        load_file_name: the file's name as loaded.
        import_date: `ImportDate` (default now); a date means midnight.
        index: demographic index to trace against, or the table `register_references` made of it (None: no
            tracing; Der_DBS_Check_Status stays NULL).
        postcodes: postcode lookup, or its registered table (None: only Der_Postcode_Sector is derived).
        la_names: LA code -> council name (`LA_Name`); unknown codes use the code itself.
        dq_table: optional table of `__row`, `cond_<column>`, `chk_<column>` codes (the validator's output).
        dq_file: instead of `dq_table`, the DQ codes already in the store's form for this import
            (`validate_return`'s `dq_out` with `dq_record_ids` set to this import's ids, `store.next_ids()`):
            moved into the store as written, once its record ids are checked against the stored rows.
        details: extra counts to record in the register entry (never identifiers).
        locked: the caller already holds `store.lock()` (and has run `store.recover()`).

    Returns:
        ("stored", record) or ("duplicate", the earlier record).
    """
    if not locked:
        with store.lock():
            store.recover()
            return ingest_table(
                con, table, store, pseudonymiser=pseudonymiser, sha256=sha256, load_file_name=load_file_name,
                import_date=import_date, index=index, postcodes=postcodes, la_names=la_names,
                dq_table=dq_table, dq_file=dq_file, details=details, locked=True,
            )
    if dq_table is not None and dq_file is not None:
        raise UsageError("ingest_table takes the DQ codes as dq_table or as dq_file, not both.")
    existing = store.find_import(sha256)
    if existing is not None:
        return "duplicate", existing
    store.check_key(pseudonymiser.key_fingerprint)
    started = time.perf_counter()
    install_identity_macros(con)
    import_no, next_rid = store.next_ids()
    import_id = f"{import_no:08d}"
    have = _columns(con, table)
    row_expr = "r.__row" if "__row" in have else "row_number() OVER ()"

    _person_details(con, table, have)
    if isinstance(index, DemographicIndex):
        index = index.register(con, INDEX_TABLE)
    traced = index is not None
    if index is not None:
        trace_people(con, "__ascld_pd", index, "__ascld_traced")
    _nhs_pseudonyms(con, pseudonymiser, traced)
    row_col = "__row" if "__row" in have else "NULL::BIGINT"
    n_rows, lo_row, la_code, rp_start, rp_end = con.execute(
        f"SELECT count(*), min({row_col}), mode(ascld_strip(ascld_blank({_col(have, 'LA_Code')}))), "
        f"min(ascld_cld_date({_col(have, 'Reporting_Period_Start_Date')})), "
        f"max(ascld_cld_date({_col(have, 'Reporting_Period_End_Date')})) FROM {table}"
    ).fetchall()[0]
    la_code = la_code or ""
    _person_id_pseudonyms(con, table, have, pseudonymiser, la_code)
    lookup_name = postcodes.path.name if isinstance(postcodes, PostcodeLookup) else None
    if isinstance(postcodes, PostcodeLookup):
        con.execute(
            "CREATE OR REPLACE TEMP TABLE __ascld_pc_keys AS "
            "SELECT DISTINCT pc_key FROM __ascld_pd WHERE pc_key IS NOT NULL"
        )
        postcodes = postcodes.register(con, "__ascld_pc_one", keys_from="__ascld_pc_keys")
    _person_table(con, traced, postcodes)
    names = dict(la_names or {})
    con.execute(
        "CREATE OR REPLACE TEMP TABLE __ascld_la_names AS "
        "SELECT unnest($1::VARCHAR[]) AS code, unnest($2::VARCHAR[]) AS name",
        [list(names), list(names.values())],
    )
    row_base = next_rid - (lo_row if lo_row is not None else 1)
    when = _unique_import_date(store.imports(), la_code, _as_import_datetime(import_date))

    temp = store.new_temp_dir()
    final_dir = store.import_dir(la_code, import_id)
    _copy(con, _final_select(table, have, import_id, when, row_base, row_expr, la_code), temp / ROWS_FILE)
    _pause("after_rows_written")
    written = f"read_parquet({quote_str(str(temp / ROWS_FILE))})"
    hi = con.execute(f"SELECT max(Der_Unique_Record_ID) FROM {written}").fetchall()[0][0]
    outcome_counts = dict(con.execute(
        f"SELECT Der_DBS_Check_Status, count(*) FROM {written} "
        "WHERE Der_DBS_Check_Status IS NOT NULL GROUP BY 1"
    ).fetchall())
    dq_rel = None
    if dq_file is not None:
        _check_dq_file(con, Path(dq_file), import_id, next_rid, int(n_rows), hi)
        shutil.move(dq_file, temp / DQ_FILE)
        dq_rel = str((final_dir / DQ_FILE).relative_to(store.root))
    elif dq_table is not None:
        described = con.execute(f"DESCRIBE {dq_table}").fetchall()
        dq_cols = [r[0] for r in described if r[0].startswith(("cond_", "chk_"))]
        _copy(con, dq_select(dq_table, import_id, dq_cols, row_base), temp / DQ_FILE)
        dq_rel = str((final_dir / DQ_FILE).relative_to(store.root))
    record = ImportRecord(
        import_id=import_id,
        import_date=when.isoformat(timespec="milliseconds"),
        load_file_name=load_file_name,
        sha256=sha256,
        la_code=la_code,
        row_count=int(n_rows),
        first_record_id=next_rid,
        last_record_id=int(hi) if hi is not None else next_rid - 1,
        rows_file=str((final_dir / ROWS_FILE).relative_to(store.root)),
        dq_file=dq_rel,
        key_fingerprint=pseudonymiser.key_fingerprint,
        registered_at=dt.datetime.now().isoformat(timespec="seconds"),
        details={
            "ascld_version": __version__,
            "reporting_period_stated": [str(rp_start) if rp_start else None, str(rp_end) if rp_end else None],
            "trace_outcomes": outcome_counts,
            "traced": traced,
            "postcode_lookup": lookup_name,
            "seconds": round(time.perf_counter() - started, 3),
            **dict(details or {}),
        },
    )
    store.commit(temp, record, pause=_pause)
    con.execute("DROP VIEW IF EXISTS __ascld_pdx")
    for t in ("__ascld_pd", "__ascld_traced", "__ascld_pmap_nhs", "__ascld_pmap_pid",
              "__ascld_pid_raw",
              "__ascld_pc_one", "__ascld_pc_keys", "__ascld_la_names"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    return "stored", record


def read_la_names(path: str | Path) -> dict[str, str]:
    """LA code -> council name from a CSV with columns `LA_Code,LA_Name` (or `la_code,la_name`, as in the
    synthetic councils file), found by header in any order.

    Raises:
        UsageError: the file is missing, unreadable, not UTF-8 CSV, lacks the columns, has a row without both
            values, or gives one code two names (the message names the row).
    """
    import csv

    p = Path(path)
    names: dict[str, str] = {}
    try:
        with p.open(newline="", encoding="utf-8-sig") as fh:
            rows = csv.reader(fh)
            header = [h.strip().lower() for h in next(rows, [])]
            if not {"la_code", "la_name"} <= set(header):
                raise UsageError(f"the LA names file {p} needs the columns LA_Code and LA_Name.")
            at_code, at_name = header.index("la_code"), header.index("la_name")
            for row, values in enumerate(rows, start=2):
                if not values:
                    continue
                if len(values) <= max(at_code, at_name):
                    raise UsageError(
                        f"the LA names file {p}, row {row}: it needs both LA_Code and LA_Name. Fill in the row "
                        "or remove it."
                    )
                code, name = values[at_code].strip(), values[at_name].strip()
                if code and names.setdefault(code, name) != name:
                    raise UsageError(
                        f"the LA names file {p}, row {row}: LA code {code!r} already has another name; give each "
                        "council one name."
                    )
    except UnicodeDecodeError:
        raise UsageError(
            f"the LA names file {p} is not UTF-8 text (Windows-1252, perhaps); save it as CSV UTF-8."
        ) from None
    except csv.Error:
        raise UsageError(f"the LA names file {p} is not a well-formed CSV; save it as CSV UTF-8.") from None
    except FileNotFoundError:
        raise UsageError(f"the LA names file {p} does not exist. Check the path.") from None
    except OSError as exc:
        raise UsageError(f"cannot read the LA names file {p}: {exc.strerror}.") from None
    return names


def _inside(path: Path, folder: Path) -> bool:
    try:
        path.resolve().relative_to(folder.resolve())
    except ValueError:
        return False
    return True


def ingest_files(
    paths: Iterable[str | Path],
    store: str | Path | NationalStore,
    *,
    key: PseudoKey | None = None,
    key_file: str | Path | None = None,
    import_date: dt.datetime | dt.date | str | Callable[[Path], Any] | None = None,
    index: str | Path | DemographicIndex | None = None,
    postcodes: str | Path | PostcodeLookup | None = None,
    la_names: Mapping[str, str] | None = None,
    report_dir: str | Path | None = None,
    progress: Callable[[FileOutcome], None] | None = None,
) -> IngestReport:
    """Validate, trace, pseudonymise and store return files (`ascld national ingest`).

    Each file is validated first by `ascld.quality.validate_return`: a file with transport failures is refused
    (its report written under `report_dir`) and nothing of it is stored; a usable file is stored with its
    per-row `cond_`/`chk_` codes, field failures included, as the national flow does.

    Args:
        paths: return files (CSV or gzip, as councils submit them).
        store: the national store folder (created if absent).
        key: the pseudonymisation key; default `load_key(key_file)` (ASCLD_PSEUDO_KEY or a key file).
        key_file: a key file; refused when it lies inside the store (keys never sit beside the data).
        import_date: `ImportDate` for every file (default: now; a date means midnight), or a function giving
            each file's (e.g. a submissions register). It is also the submission date the validator judges
            future dates against.
        index: demographic index file (CSV/Parquet) or object; None skips tracing.
        postcodes: postcode lookup file or object; None uses the bundled synthetic lookup.
        la_names: LA code -> council name (`LA_Name`); a code with no name keeps the code as its name.
        report_dir: where refused files' validation reports are written (one folder per file).
        progress: called with each file's outcome as soon as it is decided.

    Returns:
        The outcome of every file, in order; `exit_code` is 1 if any file was refused.

    Raises:
        PseudoKeyError: no usable key (nothing is read or written without one).
        UsageError: a key file inside the store, a missing input, or a store made with another key.
    """
    from ascld.engine import connect
    from ascld.identity.postcodes import load_postcode_lookup
    from ascld.identity.tracing import load_demographic_index

    started = time.perf_counter()
    st = store if isinstance(store, NationalStore) else NationalStore(store)
    if key_file is not None and _inside(Path(key_file), st.root):
        raise UsageError(
            f"the key file {key_file} is inside the store {st.root}; keys never sit beside the data. "
            "Move it elsewhere."
        )
    pseudo = Pseudonymiser(key if key is not None else load_key(key_file))
    files = [Path(p) for p in paths]
    missing = [str(p) for p in files if not p.exists()]
    if missing:
        raise UsageError(f"no such file: {', '.join(missing)}")
    not_files = [str(p) for p in files if not p.is_file()]
    if not_files:
        raise UsageError(f"not a file (a folder or a device): {', '.join(not_files)}. Give the path of a CSV return.")
    idx = index if isinstance(index, DemographicIndex) or index is None else load_demographic_index(index)
    pcs = postcodes if isinstance(postcodes, PostcodeLookup) else load_postcode_lookup(postcodes)
    fixed = None if callable(import_date) else _as_import_datetime(import_date)

    report = IngestReport()
    ibis_con = connect("duckdb")
    con = ibis_con.con
    try:
        with st.lock():
            st.recover()
            refs: tuple[str | None, str | None] | None = None
            for path in files:
                sha = file_sha256(path)
                existing = st.find_import(sha)
                if existing is not None:
                    outcome = FileOutcome(
                        str(path), "duplicate", sha, existing,
                        f"{path.name}: these bytes are already stored as import {existing.import_id} "
                        f"({existing.import_date}); not stored again.",
                    )
                else:
                    # The references load (once, for every file of the run) before the key is checked,
                    # which makes a new store's register: a bad index or lookup leaves no store behind.
                    if refs is None:
                        refs = register_references(con, idx, pcs)
                    st.check_key(pseudo.key_fingerprint)
                    when = fixed or _as_import_datetime(import_date(path))  # type: ignore[misc,operator]
                    outcome = _ingest_one(
                        path, sha, st, con, pseudo, when, refs, idx, pcs, la_names, report_dir
                    )
                report.outcomes.append(outcome)
                if progress:
                    progress(outcome)
    finally:
        ibis_con.disconnect()
    report.seconds = time.perf_counter() - started
    return report


def _ingest_one(
    path: Path, sha: str, st: NationalStore, con: Any, pseudo: Pseudonymiser, when: dt.datetime,
    refs: tuple[str | None, str | None], idx: DemographicIndex | None, pcs: PostcodeLookup | None,
    la_names: Mapping[str, str] | None, report_dir: str | Path | None,
) -> FileOutcome:
    import tempfile

    from ascld.quality import validate_return
    from ascld.returns.reader import ReturnFile

    # The validator works in this folder, and with `load_into` its scan writes the file's values there (the
    # view `__ascld_raw` reads them): the folder goes, whatever happens, before the next file; one a killed
    # process left (identifiers in clear) goes at the next writer's `recover`.
    work = Path(tempfile.mkdtemp(prefix=st.work_prefix()))
    # The validator writes the DQ codes as the store keeps them, numbered with the ids this import will get (the
    # store's lock is held, so they cannot change), into the store's `_tmp/` (a crash leaves it to `recover`),
    # and `ingest_table` moves that file into the import as it is.
    import_no, next_rid = st.next_ids()
    dq_dir: Path | None = None
    try:
        dq_dir = st.new_temp_dir()
        dq_path = dq_dir / DQ_FILE
        result = validate_return(
            path, dq_out=dq_path, submission_date=when.date(), temp_dir=str(work), load_into=(con, "__ascld_raw"),
            dq_record_ids=(f"{import_no:08d}", next_rid),
        )
        if not result.usable:
            where = ""
            if report_dir is not None:
                folder = Path(report_dir) / f"{path.name}.report"
                result.write_outputs(folder)
                where = f" Report: {folder}."
            return FileOutcome(
                str(path), "refused", sha, None,
                f"{path.name}: refused, nothing stored: the file failed the transport checks "
                f"({_problem_ids(result)}).{_first_error(result)}{where}",
                result,
            )
        install_identity_macros(con)
        (has_la,) = con.execute(
            "SELECT bool_or(NOT ascld_is_blank(\"LA_Code\")) FROM __ascld_raw"
        ).fetchall()[0]
        if not has_la:
            # No row names the council: its rows could not be told from another council's (spec §3), and the
            # main tables need LA_Code on every row (main-tables.md §2).
            return FileOutcome(
                str(path), "refused", sha, None,
                f"{path.name}: refused, nothing stored: no row has an LA Code, so the file names no council. "
                "Fill in LA Code on every row and submit it again.",
                result,
            )
        totals = result.summary.get("totals") if isinstance(result.summary, dict) else None
        status, record = ingest_table(
            con, "__ascld_raw", st, pseudonymiser=pseudo, sha256=sha, load_file_name=path.name,
            import_date=when, index=refs[0], postcodes=refs[1], la_names=la_names,
            dq_file=dq_path if dq_path.exists() else None,
            details={
                "validation_exit_code": result.exit_code,
                "validation_totals": totals,
                "postcode_lookup": pcs.path.name if pcs is not None else None,
                "index": idx.path.name if idx is not None else None,
            },
            locked=True,
        )
        counts = record.details.get("trace_outcomes") or {}
        traced = ", ".join(f"{k} {v:,}" for k, v in sorted(counts.items())) or "not traced"
        return FileOutcome(
            str(path), status, sha, record,
            f"{path.name}: stored as import {record.import_id} (LA {record.la_code}, "
            f"{record.row_count:,} rows, "
            f"ImportDate {record.import_date}; {result.errors:,} field failures kept with their DQ codes; "
            f"trace: {traced}).",
            result,
        )
    finally:
        try:
            ReturnFile.drop_loaded(con, "__ascld_raw")
        finally:
            shutil.rmtree(work, ignore_errors=True)
            if dq_dir is not None:
                shutil.rmtree(dq_dir, ignore_errors=True)


def _first_error(result: Any) -> str:
    """' First: ' and the first failure as the validator words it (where, what, what to do; never an
    identifying value), so the reason is on the line without opening the report."""
    first = next((p for p in getattr(result, "problems", []) if p.severity == "error"), None)
    return f" First: {first}" if first is not None else ""


def _problem_ids(result: Any) -> str:
    ids = sorted({p.check_id for p in getattr(result, "problems", [])})
    return ", ".join(ids) if ids else "see the report"
