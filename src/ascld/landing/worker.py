"""The background worker: ingests accepted submissions into the national store; runs the retention schedule.

`ascld serve` starts it in the service process (`worker_threads`); tests call `run_once`. Jobs come from the
database (`jobs.py`), so a worker killed mid-ingest leaves a job whose lease lapses and which runs again after
a restart. The plaintext of a file exists only in the process's private temporary folder while it is ingested.
"""

from __future__ import annotations

import logging
import secrets
import shutil
import socket
import threading
import time

from ascld.landing import jobs, retention, steps
from ascld.landing.audit import SYSTEM, record_event
from ascld.landing.crypto import decrypt_file
from ascld.landing.db import Database
from ascld.landing.models import Submission, utcnow
from ascld.landing.settings import LandingConfig
from ascld.landing.uploads import ACCEPTED, FAILED, INGESTED, ProcessTmp

log = logging.getLogger(__name__)


class Worker:
    """Runs jobs from the database, and retention on its schedule."""

    def __init__(self, config: LandingConfig, db: Database, tmp: ProcessTmp, worker_id: str | None = None) -> None:
        self.config, self.db, self.tmp = config, db, tmp
        self.worker_id = worker_id or f"{socket.gethostname()[:40]}-{secrets.token_hex(4)}"
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._last_retention = 0.0

    # --- lifecycle ------------------------------------------------------------------------------------------
    def start(self) -> None:
        """Start `worker_threads` threads (none when the setting is 0)."""
        for n in range(self.config.settings.worker_threads):
            thread = threading.Thread(target=self._loop, name=f"ascld-worker-{n}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self, timeout: float = 30) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(timeout)

    def _loop(self) -> None:
        settings = self.config.settings
        while not self._stop.is_set():
            try:
                if (
                    self._threads
                    and threading.current_thread() is self._threads[0]
                    and time.monotonic() - self._last_retention >= settings.retention_interval_seconds
                ):
                    self._last_retention = time.monotonic()
                    retention.run_retention(self.config, self.db)
                if self.run_once():
                    continue
            except Exception:  # noqa: BLE001 - the worker must outlive one bad job or a database blip
                log.exception("worker loop error")
            self._stop.wait(settings.worker_poll_seconds)

    # --- jobs -----------------------------------------------------------------------------------------------
    def run_once(self) -> bool:
        """Claim and run one job; False when there was nothing to do."""
        lease = self.config.settings.job_lease_seconds
        with self.db.tx() as s:
            job = jobs.claim_next(s, self.worker_id, lease)
        if job is None:
            return False
        stop_heartbeat = threading.Event()
        heartbeat = threading.Thread(target=self._heartbeat, args=(job.id, stop_heartbeat), daemon=True)
        heartbeat.start()
        try:
            if job.kind == jobs.INGEST:
                self._ingest(job)
            else:  # pragma: no cover - only ingest jobs are made today
                raise ValueError(f"unknown job kind {job.kind!r}")
        except Exception as exc:  # noqa: BLE001 - recorded on the job, retried with back-off
            log.warning("job %s (%s) failed on attempt %s: %s", job.id, job.kind, job.attempt, type(exc).__name__)
            self._failed(job, f"{type(exc).__name__}: {exc}")
        finally:
            stop_heartbeat.set()
            heartbeat.join()
        return True

    def _heartbeat(self, job_id: int, stop: threading.Event) -> None:
        lease = self.config.settings.job_lease_seconds
        while not stop.wait(max(0.2, lease / 3)):
            try:
                with self.db.tx() as s:
                    jobs.renew_lease(s, job_id, self.worker_id, lease)
            except Exception:  # noqa: BLE001 - a missed renewal only risks a harmless re-run
                log.warning("could not renew the lease of job %s", job_id)

    def _ingest(self, job: jobs.ClaimedJob) -> None:
        with self.db.tx() as s:
            sub = s.get(Submission, job.submission_id)
            assert sub is not None
            la_code, sha256, status, gzip = sub.la_code, sub.sha256, sub.status, sub.gzip
        if status != ACCEPTED:  # already ingested (a re-run after a crash between ingest and commit) or failed
            with self.db.tx() as s:
                jobs.finish(s, job.id, self.worker_id)
            return
        folder = self.tmp.new_path("ingest")
        folder.mkdir(mode=0o700)
        # The national register records the load file name: the submission id, never the uploaded name.
        plain = folder / f"{job.submission_id}.csv{'.gz' if gzip else ''}"
        try:
            decrypt_file(self.config.raw_dir / f"{job.submission_id}.enc", plain, self.config.store_key)
            result = steps.ingest_return(
                plain,
                la_code=la_code,
                sha256=sha256,
                national_dir=self.config.national_dir,
                pseudo_key_file=self.config.pseudo_key_file,
            )
        finally:
            shutil.rmtree(folder, ignore_errors=True)
        with self.db.tx() as s:
            if not jobs.finish(s, job.id, self.worker_id):
                raise RuntimeError("lost the job's lease before finishing")
            sub = s.get(Submission, job.submission_id)
            assert sub is not None
            sub.status, sub.ingested_at, sub.national_rows = INGESTED, utcnow(), result.rows
            record_event(
                s,
                SYSTEM,
                "ingest",
                la_code=la_code,
                object_type="submission",
                object_id=sub.id,
                detail={"rows": result.rows, "already_present": result.already_present},
            )

    def _failed(self, job: jobs.ClaimedJob, error: str) -> None:
        with self.db.tx() as s:
            status = jobs.retry_or_fail(s, job.id, self.worker_id, error)
            if status == jobs.FAILED:
                sub = s.get(Submission, job.submission_id)
                if sub is not None and sub.status == ACCEPTED:
                    sub.status, sub.error = (
                        FAILED,
                        "the national store could not take this file; the processor has been told.",
                    )
                    record_event(
                        s,
                        SYSTEM,
                        "ingest_failed",
                        outcome="failed",
                        la_code=sub.la_code,
                        object_type="submission",
                        object_id=sub.id,
                        detail={"attempts": job.attempt},
                    )
