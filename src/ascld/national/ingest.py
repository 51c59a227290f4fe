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

All row work is DuckDB SQL; Python only computes HMACs of distinct values.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import os
import time
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import pyarrow as pa

from ascld import __version__
from ascld.errors import UsageError
from ascld.identity.postcodes import DER_POSTCODE_COLUMNS, PostcodeLookup, sql_postcode_sector
from ascld.identity.pseudonym import NHS_DOMAIN, PseudoKey, Pseudonymiser, la_person_domain, load_key
from ascld.identity.tracing import TRACE_KEY_COLUMNS, DemographicIndex, install_identity_macros, trace_people
from ascld.national.store import (
    DQ_FILE,
    ROWS_FILE,
    STORE_COLUMNS,
    ImportRecord,
    NationalStore,
)

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


def _sql_str(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def _q(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _columns(con: Any, table: str) -> set[str]:
    return {r[0] for r in con.execute(f"DESCRIBE {table}").fetchall()}


def _register_arrow(con: Any, name: str, table: pa.Table) -> None:
    con.register(f"{name}__arrow", table)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {name} AS SELECT * FROM {name}__arrow")
    con.unregister(f"{name}__arrow")


def _pseudonym_maps(con: Any, pseudonymiser: Pseudonymiser, traced: bool) -> None:
    """Hash each distinct NHS number and each distinct (council, person ID) once; register the mappings."""
    nhs_sql = "SELECT nhs_key AS v FROM __ascld_stage WHERE nhs_key IS NOT NULL"
    if traced:
        nhs_sql += " UNION SELECT traced_nhs FROM __ascld_traced WHERE traced_nhs IS NOT NULL"
    else:
        nhs_sql = nhs_sql.replace("SELECT", "SELECT DISTINCT", 1)
    values = con.sql(nhs_sql).to_arrow_table().column("v").to_pylist()
    _register_arrow(
        con, "__ascld_pmap_nhs",
        pa.table({"v": pa.array(values, pa.string()),
                  "p": pa.array(pseudonymiser.pseudonyms(values, NHS_DOMAIN), pa.string())}),
    )
    ids = " UNION ".join(
        f"SELECT la_key AS la, {c} AS v FROM __ascld_stage WHERE {c} IS NOT NULL"
        for c in ("pid", "a1", "a2", "a3")
    )
    pairs = con.execute(f"SELECT la, list(v) AS vs FROM ({ids}) GROUP BY la").fetchall()
    las: list[str | None] = []
    vs: list[str] = []
    ps: list[str | None] = []
    for la, group in pairs:
        las.extend([la] * len(group))
        vs.extend(group)
        ps.extend(pseudonymiser.pseudonyms(group, la_person_domain(la or "")))
    _register_arrow(
        con, "__ascld_pmap_pid",
        pa.table({"la": pa.array(las, pa.string()), "v": pa.array(vs, pa.string()),
                  "p": pa.array(ps, pa.string())}),
    )


def _stage_sql(source: str, have: set[str], first_record_id: int) -> str:
    def col(name: str) -> str:
        return _q(name) if name in have else "NULL::VARCHAR"

    def text(name: str) -> str:
        return f"ascld_blank({col(name)})"

    def person_id(name: str) -> str:
        # Compared as SQL Server compares them nationally: case-insensitive, surrounding spaces ignored.
        return f"nullif(upper(trim({col(name)})), '')"

    passthrough = ",\n               ".join(f"{text(c)} AS {_q(c)}" for c in PASS_THROUGH_TEXT)
    row = _q("__row") if "__row" in have else "row_number() OVER ()"
    return f"""
        CREATE OR REPLACE TEMP TABLE __ascld_stage AS
        SELECT {row} AS __row,
               {first_record_id - 1} + row_number() OVER (ORDER BY {row}) AS rid,
               nullif(trim({col("LA_Code")}), '') AS LA_Code,
               coalesce(nullif(upper(trim({col("LA_Code")})), ''), '') AS la_key,
               ascld_nhs_key({col("NHS_Number")}) AS nhs_key,
               ascld_cld_date({col("Date_of_Birth")}) AS dob,
               ascld_name_key({col("Last_Name")}) AS fam_key,
               ascld_name_key({col("First_Name")}) AS given_key,
               ascld_gender_key({col("Gender")}) AS gender_key,
               ascld_pc_key({col("Postcode")}) AS pc_key,
               {sql_postcode_sector(col("Postcode"))} AS pc_sector,
               {person_id("LA_Person_Unique_Identifier")} AS pid,
               {person_id("Adult_1_Linked_Person_ID")} AS a1,
               {person_id("Adult_2_Linked_Person_ID")} AS a2,
               {person_id("Adult_3_Linked_Person_ID")} AS a3,
               ascld_cld_date({col("Reporting_Period_Start_Date")}) AS Reporting_Period_Start_Date,
               ascld_cld_date({col("Reporting_Period_End_Date")}) AS Reporting_Period_End_Date,
               ascld_cld_date({col("Date_of_Death")}) AS Date_of_Death,
               ascld_cld_date({col("Event_Start_Date")}) AS Event_Start_Date,
               ascld_cld_date({col("Event_End_Date")}) AS Event_End_Date,
               TRY_CAST(trim({col("Unit_Cost")}) AS DOUBLE) AS Unit_Cost,
               TRY_CAST(trim({col("Planned_units_per_week")}) AS DOUBLE) AS Planned_units_per_week,
               TRY_CAST(trim({col("No_of_adults_being_cared_for")}) AS INTEGER)
                   AS No_of_adults_being_cared_for,
               CASE WHEN {text("Event_Description")} IS NULL THEN NULL
                    WHEN {col("Event_Description")} ILIKE '%conversation%' THEN 1
                    ELSE 0 END AS Der_Conversation,
               CASE WHEN {text("Event_Description")} IS NULL THEN NULL
                    WHEN regexp_matches({col("Event_Description")},
                         '(?i)(conversation\\s*(1|one)\\b|first\\s+conversation)') THEN 1
                    ELSE 0 END AS Der_Conversation_1,
               {passthrough}
        FROM {source}
    """


def _age(at: str) -> str:
    # main-tables.md §0: FLOOR(DATEDIFF(DAY, proxy DOB, date) / 365.25), proxy DOB the 1st of the birth month.
    return f"CAST(floor(datediff('day', date_trunc('month', s.dob), s.{at}) / 365.25) AS INTEGER)"


def _final_select(import_id: str, import_date: dt.datetime, traced: bool, postcodes: bool) -> str:
    exprs: dict[str, str] = {
        "LA_Code": "s.LA_Code",
        "LA_Name": "coalesce(n.name, s.LA_Code)",
        "ImportDate": f"CAST(TIMESTAMP {_sql_str(import_date.isoformat(sep=' ', timespec='milliseconds'))} "
                      "AS TIMESTAMP_MS)",
        "ImportFileId": _sql_str(import_id),
        "Der_NHS_Number_Traced_Pseudo": "tn.p" if traced else "NULL::VARCHAR",
        "Der_NHS_Number_Pseudo": "sn.p",
        "LA_Person_Unique_Identifier": "pid.p",
        "Der_LA_Person_Unique_Identifier_Pseudo": "pid.p",
        "Der_DBS_Check_Status": "t.trace_outcome" if traced else "NULL::VARCHAR",
        "Der_Birth_Year": "CAST(year(s.dob) AS INTEGER)",
        "Der_Birth_Month": "CAST(month(s.dob) AS INTEGER)",
        "Der_Age_Event_Start_Date": _age("Event_Start_Date"),
        "Der_Age_Reporting_Period_End_Date": _age("Reporting_Period_End_Date"),
        "Der_Postcode_Sector": "s.pc_sector",
        "Der_Unique_Record_ID": "s.rid",
    }
    for i, c in enumerate(LINKED, start=1):
        exprs[c] = exprs[f"Der_{c}_Pseudo"] = f"a{i}.p"
    for c in DER_POSTCODE_COLUMNS:
        exprs[c] = f"pc.{c}" if postcodes else "NULL::VARCHAR"
    select = []
    for name, kind in STORE_COLUMNS:
        expr = exprs.get(name, f"s.{_q(name)}")
        select.append(f"CAST({expr} AS {kind}) AS {_q(name)}")
    joins = [
        "LEFT JOIN __ascld_la_names n ON n.code = s.LA_Code",
        "LEFT JOIN __ascld_pmap_nhs sn ON sn.v = s.nhs_key",
        "LEFT JOIN __ascld_pmap_pid pid ON pid.la = s.la_key AND pid.v = s.pid",
        "LEFT JOIN __ascld_pmap_pid a1 ON a1.la = s.la_key AND a1.v = s.a1",
        "LEFT JOIN __ascld_pmap_pid a2 ON a2.la = s.la_key AND a2.v = s.a2",
        "LEFT JOIN __ascld_pmap_pid a3 ON a3.la = s.la_key AND a3.v = s.a3",
    ]
    if traced:
        on = " AND ".join(f"t.{k} IS NOT DISTINCT FROM s.{k}" for k in TRACE_KEY_COLUMNS)
        joins.append(f"LEFT JOIN __ascld_traced t ON {on}")
        joins.append("LEFT JOIN __ascld_pmap_nhs tn ON tn.v = t.traced_nhs")
    if postcodes:
        joins.append("LEFT JOIN __ascld_pc pc ON pc.pc_key = s.pc_key")
    nl = "\n        "
    return f"SELECT {(','+nl+'       ').join(select)}{nl}FROM __ascld_stage s{nl}{nl.join(joins)}"


def _dq_select(dq_table: str, import_id: str, columns: Sequence[str]) -> str:
    cols = ", ".join(
        f"CAST(d.{_q(c)} AS SMALLINT) AS {_q(c)}" for c in columns
    )
    return (
        f"SELECT s.rid AS Der_Unique_Record_ID, {_sql_str(import_id)} AS ImportFileId, {cols} "
        f"FROM {dq_table} d JOIN __ascld_stage s ON s.__row = d.__row ORDER BY s.rid"
    )


def _copy(con: Any, select: str, path: Path) -> None:
    con.execute(f"COPY ({select}) TO {_sql_str(str(path))} (FORMAT parquet, COMPRESSION zstd)")


def ingest_table(
    con: Any,
    table: str,
    store: NationalStore,
    *,
    pseudonymiser: Pseudonymiser,
    sha256: str,
    load_file_name: str,
    import_date: dt.datetime | dt.date | str | None = None,
    index: DemographicIndex | None = None,
    postcodes: PostcodeLookup | None = None,
    la_names: Mapping[str, str] | None = None,
    dq_table: str | None = None,
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
        index: demographic index to trace against (None: no tracing; Der_DBS_Check_Status stays NULL).
        postcodes: postcode lookup (None: only Der_Postcode_Sector is derived).
        la_names: LA code -> council name (`LA_Name`); unknown codes use the code itself.
        dq_table: optional table of `__row`, `cond_<column>`, `chk_<column>` codes (the validator's output).
        details: extra counts to record in the register entry (never identifiers).
        locked: the caller already holds `store.lock()`.

    Returns:
        ("stored", record) or ("duplicate", the earlier record).
    """
    if not locked:
        with store.lock():
            store.recover()
            return ingest_table(
                con, table, store, pseudonymiser=pseudonymiser, sha256=sha256, load_file_name=load_file_name,
                import_date=import_date, index=index, postcodes=postcodes, la_names=la_names,
                dq_table=dq_table, details=details, locked=True,
            )
    existing = store.find_import(sha256)
    if existing is not None:
        return "duplicate", existing
    store.check_key(pseudonymiser.key_fingerprint)
    started = time.perf_counter()
    install_identity_macros(con)
    import_no, first_rid = store.next_ids()
    import_id = f"{import_no:08d}"
    have = _columns(con, table)
    con.execute(_stage_sql(table, have, first_rid))
    traced = index is not None
    if traced:
        index.register(con, "__ascld_index")
        trace_people(con, "__ascld_stage", "__ascld_index", "__ascld_traced")
    _pseudonym_maps(con, pseudonymiser, traced)
    if postcodes is not None:
        con.execute(
            "CREATE OR REPLACE TEMP TABLE __ascld_pc_keys AS "
            "SELECT DISTINCT pc_key FROM __ascld_stage WHERE pc_key IS NOT NULL"
        )
        postcodes.register(con, "__ascld_pc", keys_from="__ascld_pc_keys")
    names = dict(la_names or {})
    _register_arrow(
        con, "__ascld_la_names",
        pa.table({"code": pa.array(list(names), pa.string()),
                  "name": pa.array(list(names.values()), pa.string())}),
    )
    stats = con.execute(
        "SELECT count(*), min(rid), max(rid), mode(LA_Code), min(Reporting_Period_Start_Date), "
        "max(Reporting_Period_End_Date) FROM __ascld_stage"
    ).fetchall()[0]
    n_rows, lo, hi, la_code, rp_start, rp_end = stats
    la_code = la_code or ""
    when = _unique_import_date(store.imports(), la_code, _as_import_datetime(import_date))

    temp = store.new_temp_dir()
    final_dir = store.import_dir(la_code, import_id)
    select = _final_select(import_id, when, traced, postcodes is not None)
    _copy(con, select, temp / ROWS_FILE)
    _pause("after_rows_written")
    dq_rel = None
    if dq_table is not None:
        dq_cols = [c for c in sorted(_columns(con, dq_table)) if c.startswith(("cond_", "chk_"))]
        _copy(con, _dq_select(dq_table, import_id, dq_cols), temp / DQ_FILE)
        dq_rel = str((final_dir / DQ_FILE).relative_to(store.root))
    outcome_counts = (
        dict(con.execute(
            "SELECT trace_outcome, count(*) FROM __ascld_stage s JOIN __ascld_traced t ON "
            + " AND ".join(f"t.{k} IS NOT DISTINCT FROM s.{k}" for k in TRACE_KEY_COLUMNS)
            + " GROUP BY 1"
        ).fetchall())
        if traced else {}
    )
    record = ImportRecord(
        import_id=import_id,
        import_date=when.isoformat(timespec="milliseconds"),
        load_file_name=load_file_name,
        sha256=sha256,
        la_code=la_code,
        row_count=int(n_rows),
        first_record_id=int(lo) if lo is not None else first_rid,
        last_record_id=int(hi) if hi is not None else first_rid - 1,
        rows_file=str((final_dir / ROWS_FILE).relative_to(store.root)),
        dq_file=dq_rel,
        key_fingerprint=pseudonymiser.key_fingerprint,
        registered_at=dt.datetime.now().isoformat(timespec="seconds"),
        details={
            "ascld_version": __version__,
            "reporting_period_stated": [str(rp_start) if rp_start else None, str(rp_end) if rp_end else None],
            "trace_outcomes": outcome_counts,
            "traced": traced,
            "postcode_lookup": postcodes.path.name if postcodes is not None else None,
            "seconds": round(time.perf_counter() - started, 3),
            **dict(details or {}),
        },
    )
    store.commit(temp, record, pause=_pause)
    for t in ("__ascld_stage", "__ascld_traced", "__ascld_pmap_nhs", "__ascld_pmap_pid", "__ascld_pc",
              "__ascld_pc_keys", "__ascld_index", "__ascld_la_names"):
        con.execute(f"DROP TABLE IF EXISTS {t}")
    return "stored", record


def read_la_names(path: str | Path) -> dict[str, str]:
    """LA code -> council name from a CSV with columns `LA_Code,LA_Name`.

    Raises:
        UsageError: the file is missing or lacks the columns.
    """
    import csv

    p = Path(path)
    if not p.exists():
        raise UsageError(f"the LA names file {p} does not exist.")
    with p.open(newline="", encoding="utf-8-sig") as fh:
        reader = csv.DictReader(fh)
        if not reader.fieldnames or not {"LA_Code", "LA_Name"} <= set(reader.fieldnames):
            raise UsageError(f"the LA names file {p} needs the columns LA_Code and LA_Name.")
        return {r["LA_Code"].strip(): r["LA_Name"].strip() for r in reader if r["LA_Code"].strip()}


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
    import_date: dt.datetime | dt.date | str | None = None,
    index: str | Path | DemographicIndex | None = None,
    postcodes: str | Path | PostcodeLookup | None = None,
    la_names: Mapping[str, str] | None = None,
    report_dir: str | Path | None = None,
    progress: Callable[[FileOutcome], None] | None = None,
) -> IngestReport:
    """Validate, trace, pseudonymise and store return files (`ascld national ingest`).

    Args:
        paths: return files (CSV or gzip, as councils submit them).
        store: the national store folder (created if absent).
        key: the pseudonymisation key; default `load_key(key_file)` (ASCLD_PSEUDO_KEY or a key file).
        key_file: a key file; refused when it lies inside the store (keys never sit beside the data).
        import_date: `ImportDate` for every file (default: now); a date means midnight.
        index: demographic index file (CSV/Parquet) or object; None skips tracing.
        postcodes: postcode lookup file or object; None uses the bundled synthetic lookup if present.
        la_names: LA code -> council name.
        report_dir: where refused files' validation reports are written (one folder per file).
        progress: called with each file's outcome as it is decided.

    Returns:
        The outcome of every file; `exit_code` is 1 if any file was refused.

    Raises:
        PseudoKeyError: no usable key.
        UsageError: a key file inside the store, a missing input, or a store made with another key.
    """
    from ascld.identity.postcodes import load_postcode_lookup
    from ascld.identity.tracing import load_demographic_index
    from ascld.quality import validate_return
    from ascld.returns.reader import open_return

    started = time.perf_counter()
    st = store if isinstance(store, NationalStore) else NationalStore(store)
    if key_file is not None and _inside(Path(key_file), st.root):
        raise UsageError(
            f"the key file {key_file} is inside the store {st.root}; keys never sit beside the data. "
            "Move it elsewhere."
        )
    pseudo = Pseudonymiser(key if key is not None else load_key(key_file))
    idx = index if isinstance(index, DemographicIndex) or index is None else load_demographic_index(index)
    pcs = postcodes if isinstance(postcodes, PostcodeLookup) else load_postcode_lookup(postcodes)
    files = [Path(p) for p in paths]
    missing = [str(p) for p in files if not p.is_file()]
    if missing:
        raise UsageError(f"no such file: {', '.join(missing)}")

    from ascld.engine import connect

    report = IngestReport()
    with st.lock():
        st.recover()
        for path in files:
            sha = file_sha256(path)
            existing = st.find_import(sha)
            if existing is not None:
                outcome = FileOutcome(
                    str(path), "duplicate", sha, existing,
                    f"{path.name}: already stored as import {existing.import_id} ({existing.import_date}); "
                    "not stored again.",
                )
            else:
                outcome = _ingest_one(
                    path, sha, st, pseudo, import_date, idx, pcs, la_names, report_dir, connect,
                    validate_return, open_return,
                )
            report.outcomes.append(outcome)
            if progress:
                progress(outcome)
    report.seconds = time.perf_counter() - started
    return report


def _ingest_one(
    path: Path, sha: str, st: NationalStore, pseudo: Pseudonymiser, import_date: Any,
    idx: DemographicIndex | None, pcs: PostcodeLookup | None, la_names: Mapping[str, str] | None,
    report_dir: str | Path | None, connect: Callable[..., Any], validate_return: Callable[..., Any],
    open_return: Callable[..., Any],
) -> FileOutcome:
    import shutil
    import tempfile

    temp = Path(tempfile.mkdtemp(prefix="ascld-ingest-"))
    try:
        dq_path = temp / "dq_rows.parquet"
        result = validate_return(path, dq_out=dq_path)
        if not result.usable:
            where = ""
            if report_dir is not None:
                folder = Path(report_dir) / f"{path.name}.report"
                result.write_outputs(folder)
                where = f" Report: {folder}."
            return FileOutcome(
                str(path), "refused", sha, None,
                f"{path.name}: refused, nothing stored (transport failures).{where}", result,
            )
        con = connect("duckdb").con
        open_return(path).to_duckdb(con, "__ascld_raw")
        dq_table = None
        if dq_path.exists():
            con.execute(
                f"CREATE TEMP TABLE __ascld_dq AS SELECT * FROM read_parquet({_sql_str(str(dq_path))})"
            )
            dq_table = "__ascld_dq"
        summary = getattr(result, "summary", None)
        status, record = ingest_table(
            con, "__ascld_raw", st, pseudonymiser=pseudo, sha256=sha, load_file_name=path.name,
            import_date=import_date, index=idx, postcodes=pcs, la_names=la_names, dq_table=dq_table,
            details={"validation_exit_code": getattr(result, "exit_code", None),
                     "validation_summary": summary if isinstance(summary, dict) else None},
            locked=True,
        )
        con.close()
        return FileOutcome(
            str(path), status, sha, record,
            f"{path.name}: stored as import {record.import_id} ({record.row_count} rows, "
            f"LA {record.la_code}, "
            f"ImportDate {record.import_date}).",
            result,
        )
    finally:
        shutil.rmtree(temp, ignore_errors=True)
