"""What a national store holds: its imports, one line each, and totals (`ascld national imports`).

Read from the store's register only (`NationalStore.imports()`), so an import being written, or what an
interrupted ingest left behind, is never listed: only what the main tables would read. The register holds
no identifying value, and nor does anything here.

Examples:
    >>> import tempfile
    >>> from ascld.national.store import NationalStore
    >>> list_imports(NationalStore(tempfile.mkdtemp()))
    Traceback (most recent call last):
    ...
    ascld.errors.UsageError: ... is not a national store (it has no _store.json or _imports/). ...
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ascld.errors import UsageError
from ascld.identity.tracing import TRACE_OUTCOMES
from ascld.national.store import REGISTER_DIR, STORE_FILE, ImportRecord, NationalStore

# Trace outcome (as the register counts them, `Der_DBS_Check_Status`) -> listing column.
TRACE_COLUMNS = {outcome: "trace_" + outcome.lower().replace(" ", "_") for outcome in TRACE_OUTCOMES}
# The columns of the listing, in order (CSV header; JSON keys of each import).
COLUMNS = (
    "import_id",
    "import_date",
    "la_code",
    "load_file_name",
    "rows",
    "first_record_id",
    "last_record_id",
    "reporting_period_start",
    "reporting_period_end",
    "validation_exit_code",
    "field_failures",
    "warnings",
    "traced",
    *TRACE_COLUMNS.values(),
    "trace_not_traced",
    "key_fingerprint",
    "sha256",
)


@dataclass(frozen=True)
class ImportListing:
    """`rows`: one dict per import (keys `COLUMNS`), in load order; `totals`: counts over them."""

    rows: list[dict[str, Any]]
    totals: dict[str, Any]


def _mapping(value: object) -> dict[str, Any]:
    """A register entry's counts as written; anything else (an older or hand-edited entry) as none."""
    return value if isinstance(value, dict) else {}


def import_row(record: ImportRecord) -> dict[str, Any]:
    """One import as a listing row. Counts the register does not have (older imports) are None."""
    details = _mapping(record.details)
    period = details.get("reporting_period_stated")
    period = period if isinstance(period, list) and len(period) == 2 else [None, None]
    totals = _mapping(details.get("validation_totals"))
    outcomes = {k: v for k, v in _mapping(details.get("trace_outcomes")).items() if isinstance(v, int)}
    row: dict[str, Any] = {
        "import_id": record.import_id,
        "import_date": record.import_date,
        "la_code": record.la_code,
        "load_file_name": record.load_file_name,
        "rows": record.row_count,
        "first_record_id": record.first_record_id,
        "last_record_id": record.last_record_id,
        "reporting_period_start": period[0],
        "reporting_period_end": period[1],
        "validation_exit_code": details.get("validation_exit_code"),
        "field_failures": totals.get("errors"),
        "warnings": totals.get("warnings"),
        "traced": details.get("traced"),
        "key_fingerprint": record.key_fingerprint,
        "sha256": record.sha256,
    }
    for outcome, column in TRACE_COLUMNS.items():
        row[column] = int(outcomes.get(outcome, 0))
    # rows with no outcome: all of them when the file was not traced (no index given)
    row["trace_not_traced"] = record.row_count - sum(int(v) for v in outcomes.values())
    return {c: row[c] for c in COLUMNS}


def list_imports(store: NationalStore, *, la_code: str | None = None) -> ImportListing:
    """The store's imports (optionally one council's, matched ignoring case and spaces) and their totals.

    Raises:
        UsageError: the folder is not a national store, or its register is damaged.
    """
    root = store.root
    store.check_folder()  # a file, or a folder of something else, is refused with its own message
    if not root.is_dir():
        raise UsageError(f"there is no national store at {root} (the folder does not exist). Give the store's folder.")
    if not (root / STORE_FILE).exists() and not (root / REGISTER_DIR).is_dir():
        raise UsageError(
            f"{root} is not a national store (it has no {STORE_FILE} or {REGISTER_DIR}/). Give the folder that "
            "`ascld national ingest --store` wrote."
        )
    info = store.store_info()
    records = store.imports()
    if la_code is not None:
        wanted = la_code.strip().upper()
        records = [r for r in records if r.la_code.strip().upper() == wanted]
    rows = [import_row(r) for r in records]
    totals = {
        "imports": len(rows),
        "councils": len({r["la_code"] for r in rows}),
        "rows": sum(r["rows"] for r in rows),
        "field_failures": sum(r["field_failures"] or 0 for r in rows),
        "la_code": la_code.strip().upper() if la_code is not None else None,
        "store_format": info.get("format"),
        "key_fingerprint": info.get("key_fingerprint"),
    }
    return ImportListing(rows, totals)
