"""The retention schedule: raw files deleted after ingest, national rows purged after their years, every
deletion audited (DESIGN.md principle 3).

- The encrypted raw file of a submission is deleted `raw_retention_days` after it was ingested (or after its
  ingest finally failed, counted from upload).
- A submission's rows leave the national store `national_retention_years` after import.
- Files that reached the store without a database row (a crash between writing and committing) are
  deleted after `orphan_grace_seconds`.

Each deletion is its own transaction with its audit event, made after the file or rows are gone: a crash in
between leaves the deletion to be made (and audited) again on the next run, never an audit event for data that
still exists. One run at a time per store (a lock file, so also across service processes sharing the store): two
runs at once (the worker's schedule and a "run now", say) would each find the same data due and audit each
deletion twice.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import or_, select

from ascld.landing import steps
from ascld.landing.audit import SYSTEM, Actor, record_event
from ascld.landing.db import Database
from ascld.landing.models import Submission, utcnow
from ascld.landing.settings import LandingConfig
from ascld.landing.uploads import FAILED, INGESTED, sweep_orphans

log = logging.getLogger(__name__)

DAYS_PER_YEAR = 365.25


@dataclass(frozen=True)
class Deletion:
    kind: str  # raw | national | orphan
    submission_id: str
    la_code: str | None


@contextlib.contextmanager
def _one_run_at_a_time(config: LandingConfig) -> Iterator[None]:
    """Hold the store's retention lock (waiting for a run in progress to finish)."""
    config.store_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(config.store_dir / "retention.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)


def run_retention(
    config: LandingConfig, db: Database, now: dt.datetime | None = None, actor: Actor = SYSTEM
) -> list[Deletion]:
    """Apply the schedule once; returns what was deleted."""
    with _one_run_at_a_time(config):
        return _run_retention(config, db, now, actor)


def _run_retention(config: LandingConfig, db: Database, now: dt.datetime | None, actor: Actor) -> list[Deletion]:
    now = now or utcnow()
    settings = config.settings
    done: list[Deletion] = []
    raw_cutoff = now - dt.timedelta(days=settings.raw_retention_days)
    with db.tx() as s:
        due_raw = s.execute(
            select(Submission.id, Submission.la_code).where(
                Submission.raw_deleted_at.is_(None),
                or_(
                    (Submission.status == INGESTED) & (Submission.ingested_at <= raw_cutoff),
                    (Submission.status == FAILED) & (Submission.created_at <= raw_cutoff),
                ),
            )
        ).all()
    for sub_id, la_code in due_raw:
        (config.raw_dir / f"{sub_id}.enc").unlink(missing_ok=True)
        with db.tx() as s:
            sub = s.get(Submission, sub_id)
            assert sub is not None
            sub.raw_deleted_at = now
            record_event(
                s,
                actor,
                "deletion",
                la_code=la_code,
                object_type="raw_file",
                object_id=sub_id,
                detail={"rule": "raw_retention_days", "days": settings.raw_retention_days},
            )
        done.append(Deletion("raw", sub_id, la_code))

    national_cutoff = now - dt.timedelta(days=settings.national_retention_years * DAYS_PER_YEAR)
    with db.tx() as s:
        due_national = s.execute(
            select(Submission.id, Submission.la_code, Submission.sha256).where(
                Submission.status == INGESTED,
                Submission.national_purged_at.is_(None),
                Submission.ingested_at <= national_cutoff,
            )
        ).all()
    for sub_id, la_code, sha256 in due_national:
        rows = steps.purge_national(config.national_dir, sha256=sha256)
        with db.tx() as s:
            sub = s.get(Submission, sub_id)
            assert sub is not None
            sub.national_purged_at = now
            record_event(
                s,
                actor,
                "deletion",
                la_code=la_code,
                object_type="national_rows",
                object_id=sub_id,
                detail={
                    "rule": "national_retention_years",
                    "years": settings.national_retention_years,
                    "rows": rows,
                },
            )
        done.append(Deletion("national", sub_id, la_code))

    for sub_id in sweep_orphans(config, db):
        with db.tx() as s:
            record_event(
                s,
                actor,
                "deletion",
                purpose="crash recovery",
                object_type="orphan_file",
                object_id=sub_id,
                detail={"rule": "orphan_grace_seconds"},
            )
        done.append(Deletion("orphan", sub_id, None))
    if done:
        log.info("retention: %d deletion(s)", len(done))
    return done
