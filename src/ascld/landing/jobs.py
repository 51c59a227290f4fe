"""Jobs for the background worker, kept in the database so they survive a crash or restart.

A worker claims a job with one conditional UPDATE (queued, or running with a lapsed lease), which is atomic on
SQLite and PostgreSQL alike: two workers can never both win. While it works it renews the lease; if the
process dies, the lease lapses and another worker (or the same service after restart) takes the job again. The
jobs themselves are idempotent (ingest is keyed by the file's SHA-256), so running one twice is harmless.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy import CursorResult, or_, select, update
from sqlalchemy.orm import Session

from ascld.landing.models import Job, utcnow

INGEST = "ingest"
QUEUED, RUNNING, DONE, FAILED = "queued", "running", "done", "failed"


@dataclass(frozen=True)
class ClaimedJob:
    id: int
    kind: str
    submission_id: str
    attempt: int
    max_attempts: int


def enqueue(session: Session, kind: str, submission_id: str, max_attempts: int) -> Job:
    """Add a job to the current transaction (so it commits with the change that needs it)."""
    now = utcnow()
    job = Job(
        kind=kind,
        submission_id=submission_id,
        status=QUEUED,
        attempts=0,
        max_attempts=max_attempts,
        run_after=now,
        created_at=now,
    )
    session.add(job)
    return job


def _claimable(now: dt.datetime):  # noqa: ANN202 - an SQLAlchemy condition
    return or_(
        (Job.status == QUEUED) & (Job.run_after <= now),
        (Job.status == RUNNING) & (Job.locked_until < now),
    )


def claim_next(session: Session, worker_id: str, lease_seconds: float) -> ClaimedJob | None:
    """Claim the oldest runnable job for `worker_id`, or return None when there is none."""
    now = utcnow()
    candidates = session.scalars(select(Job.id).where(_claimable(now)).order_by(Job.id).limit(5)).all()
    for job_id in candidates:
        result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
            update(Job)
            .where(Job.id == job_id, _claimable(now))
            .values(
                status=RUNNING,
                locked_by=worker_id,
                locked_until=now + dt.timedelta(seconds=lease_seconds),
                attempts=Job.attempts + 1,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount == 1:
            job = session.get(Job, job_id, populate_existing=True)
            assert job is not None
            return ClaimedJob(job.id, job.kind, job.submission_id, job.attempts, job.max_attempts)
    return None


def renew_lease(session: Session, job_id: int, worker_id: str, lease_seconds: float) -> bool:
    """Extend a running job's lease; False when the job is no longer this worker's."""
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(Job)
        .where(Job.id == job_id, Job.locked_by == worker_id, Job.status == RUNNING)
        .values(locked_until=utcnow() + dt.timedelta(seconds=lease_seconds))
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def finish(session: Session, job_id: int, worker_id: str) -> bool:
    """Mark a job done; False when another worker has taken it over meanwhile."""
    result: CursorResult[Any] = session.execute(  # type: ignore[assignment]
        update(Job)
        .where(Job.id == job_id, Job.locked_by == worker_id, Job.status == RUNNING)
        .values(status=DONE, finished_at=utcnow(), locked_until=None, last_error=None)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def retry_or_fail(session: Session, job_id: int, worker_id: str, error: str) -> str:
    """After an error: queue the job again with back-off, or mark it failed after its last attempt.

    Returns:
        The job's new status (`queued` or `failed`), or `""` when the job was no longer this worker's.
    """
    job = session.get(Job, job_id, populate_existing=True)
    if job is None or job.locked_by != worker_id or job.status != RUNNING:
        return ""
    job.last_error = error[:500]
    job.locked_until = None
    if job.attempts >= job.max_attempts:
        job.status, job.finished_at = FAILED, utcnow()
    else:
        job.status = QUEUED
        job.run_after = utcnow() + dt.timedelta(seconds=min(300, 2**job.attempts))
    return job.status
