"""The two steps the landing service borrows from the rest of ascld, behind small functions:

- `check_return`: the validator councils run themselves (`ascld.quality.validate_return`), so a council sees
  before submitting exactly what the processor sees on receipt; plus the one rule only the service can apply:
  the file must be for the submitter's own council;
- `ingest_return` / `purge_national`: the national store (`ascld.national`), the same code as
  `ascld national ingest`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ascld.errors import AscldError

log = logging.getLogger(__name__)

LA_MISMATCH_CHECK = "L001"


class IngestRefused(RuntimeError, AscldError):
    """The national store refused a file the landing check had accepted."""


@dataclass
class CheckResult:
    """What the landing service keeps from the validator's result.

    Attributes:
        usable: False when the file has transport failures (or is for another council): it is refused.
        exit_code: the validator's exit code (0 clean, 1 problems, 2 unusable).
        first_problems: the first problems, as Problem-shaped dicts.
        report_written: the validator's summary.json, problems.csv and report.html are in the report folder.
        seconds: how long the check took (set by the checker pool; None when run in the service process).
        peak_rss_mb: the checker process's peak resident memory during the check (None when not measured).
    """

    usable: bool
    exit_code: int
    row_count: int | None
    problem_count: int
    error_count: int
    valid_rate: float | None
    period_end: str | None
    first_problems: list[dict[str, Any]]
    report_written: bool
    summary: dict[str, Any] = field(default_factory=dict)
    seconds: float | None = None
    peak_rss_mb: float | None = None

    def stored_summary(self) -> dict[str, Any]:
        return {"summary": self.summary, "first_problems": self.first_problems}


@dataclass(frozen=True)
class IngestResult:
    rows: int | None
    already_present: bool


def problem_dict(problem: Any) -> dict[str, Any]:
    """A Problem as the error shape's entry (plus its check id and severity)."""
    keys = ("file", "row", "field", "check_id", "severity", "message", "hint")
    return {k: getattr(problem, k, None) for k in keys}


def check_return(
    path: Path,
    *,
    la_code: str,
    report_dir: Path,
    max_problems: int,
    temp_dir: Path,
    display_name: str | None = None,
) -> CheckResult:
    """Run the validator on a received file, apply the council rule, write the report into `report_dir`.

    Args:
        path: the received file (plaintext, in the process's temporary folder).
        la_code: the submitter's council: a file stating another LA code is refused (check L001).
        report_dir: where summary.json, problems.csv and report.html go.
        max_problems: how many problems to keep for the API answer and the page (the report lists more).
        temp_dir: where the validator may write working files (the process's temporary folder).
        display_name: the uploaded file's (cleaned) name, shown in the problems instead of the temporary one.
    """
    from ascld.quality import validate_return

    result = validate_return(path, temp_dir=str(temp_dir))
    summary = result.summary
    file_la = summary.get("la_code")
    # A file stating no LA code on any row is no council's: the national store would keep it under a blank
    # LA code, apart from the submitter's returns.
    if result.usable and (file_la is None or str(file_la).strip() != la_code):
        _refuse_other_council(result, None if file_la is None else str(file_la).strip(), la_code)
    result.write_outputs(report_dir)
    first = [problem_dict(p) for p in result.problems[:max_problems]]
    if display_name:
        for p in first:
            p["file"] = display_name
    totals = summary.get("totals", {})
    stated = summary.get("stated_period") or {}
    return CheckResult(
        usable=bool(result.usable),
        exit_code=int(result.exit_code),
        row_count=result.row_count,
        problem_count=int(totals.get("problems", len(result.problems))),
        error_count=int(totals.get("errors", 0)),
        valid_rate=passed_rate(summary.get("fields") or []),
        period_end=stated.get("end"),
        first_problems=first,
        report_written=True,
        # The database keeps the headline figures; the full summary (listing, per-field counts) stays on disk.
        summary={k: v for k, v in summary.items() if k not in ("problems", "fields", "events_by_month")},
    )


def passed_rate(fields: list[dict[str, Any]]) -> float | None:
    """Share of checked values that passed.

    Counted over the cells whose field applies to the row (any status but "Not applicable"); passed means
    validity "Passed: Valid" or "Passed: Blank (Not Mandatory)" (validity code 0 or more).
    """
    checked = passed = 0
    for f in fields:
        for c in f.get("counts", []):
            if c.get("status_code") == 0:
                continue
            checked += int(c["count"])
            passed += int(c["count"]) if int(c.get("validity_code", -1)) >= 0 else 0
    return passed / checked if checked else None


def _refuse_other_council(result: Any, file_la: str | None, own_la: str) -> None:
    """Mark a validation result refused because the file is another council's, or states none (L001)."""
    from ascld.quality import Problem

    if file_la is None:
        message = f"the file states no LA code on any row, but your account submits for LA code {own_la}"
        hint = f"Give LA code {own_la} on every row, then validate the file again"
    else:
        message = f"the file states LA code {file_la}, but your account submits for LA code {own_la}"
        hint = "Upload your own council's return; if the LA code is wrong, correct it and validate the file again"
    problem = Problem(
        file=result.file,
        row=None,
        field="LA_Code",
        check_id=LA_MISMATCH_CHECK,
        severity="error",
        message=message,
        hint=hint,
    )
    result.problems.insert(0, problem)
    result.usable, result.exit_code = False, 2
    summary = result.summary
    summary.update({"usable": False, "exit_code": 2, "reason": str(problem)})
    summary.setdefault("problems", []).insert(0, problem.to_dict())
    totals = summary.setdefault("totals", {})
    totals["problems"] = int(totals.get("problems", 0)) + 1
    totals["errors"] = int(totals.get("errors", 0)) + 1
    summary.setdefault("problem_counts", []).insert(
        0,
        {
            "check_id": LA_MISMATCH_CHECK,
            "severity": "error",
            "count": 1,
            "rows": 0,
            "description": "The landing service takes a return only from the council it is for.",
        },
    )


def ingest_return(
    path: Path, *, la_code: str, sha256: str, national_dir: Path, pseudo_key_file: Path | None = None
) -> IngestResult:
    """Ingest one decrypted return into the national store (idempotent by SHA-256, atomic).

    Raises:
        IngestRefused: the national store refused the file.
    """
    from ascld.national.ingest import ingest_files

    report = ingest_files([path], national_dir, key_file=pseudo_key_file)
    outcome = report.outcomes[0]
    if outcome.sha256 != sha256:
        raise IngestRefused("the decrypted file's SHA-256 is not the submission's")
    if outcome.status == "refused" or outcome.record is None:
        raise IngestRefused("the national store refused the file")
    return IngestResult(outcome.record.row_count, outcome.status == "duplicate")


def purge_national(national_dir: Path, *, sha256: str) -> int:
    """Remove one import's rows from the national store; returns how many rows it held (0 if absent).

    Holding the store's writer lock, the import's register entry goes first (from then on the rows are not
    part of the store), then the store's own crash recovery removes the data folder no entry names.
    """
    # Imported here, not at the top: the checker process imports this module and has no use for `cryptography`.
    from ascld.landing.crypto import fsync_dir
    from ascld.national.store import REGISTER_DIR, NationalStore

    store = NationalStore(national_dir)
    with store.lock():
        record = store.find_import(sha256)
        if record is None:
            return 0
        entry = store.root / REGISTER_DIR / f"{record.import_id}.json"
        entry.unlink()
        fsync_dir(entry.parent)
        store.recover()
    return record.row_count
