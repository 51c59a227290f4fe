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
from ascld.landing.crypto import fsync_dir

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
    """

    usable: bool
    exit_code: int
    row_count: int | None
    problem_count: int
    valid_rate: float | None
    period_end: str | None
    first_problems: list[dict[str, Any]]
    report_written: bool
    summary: dict[str, Any] = field(default_factory=dict)

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
    path: Path, *, la_code: str, report_dir: Path, max_problems: int, display_name: str | None = None
) -> CheckResult:
    """Run the validator on a received file and write its report into `report_dir`."""
    from ascld.quality import validate_return

    result = validate_return(path)
    result.write_outputs(report_dir)
    summary = dict(result.summary) if isinstance(result.summary, dict) else {}
    problems = list(result.problems)
    usable = bool(result.usable)
    exit_code = int(result.exit_code)
    first = [problem_dict(p) for p in problems[:max_problems]]
    return CheckResult(
        usable=usable,
        exit_code=exit_code,
        row_count=_int(summary.get("rows")),
        problem_count=len(problems),
        valid_rate=_float(summary.get("valid_rate")),
        period_end=summary.get("period_end"),
        first_problems=first,
        report_written=True,
        summary=summary,
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


def _int(value: Any) -> int | None:
    return int(value) if isinstance(value, int | float) else None


def _float(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None
