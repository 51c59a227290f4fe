"""Receiving a return: streamed to a temporary file, hashed, checked, encrypted, recorded (DESIGN.md, 5).

The order is what makes a crash harmless:

1. the body streams into this process's private temporary folder, hashed and counted as it comes (memory stays
   at one chunk whatever the size; the national portal's limits are enforced as bytes arrive);
2. the same bytes from the same council already landed? Then that submission is the answer (idempotent);
3. the validator checks the file (in a checker process, `checker.py`); a file it cannot use is refused, its
   report kept, its bytes deleted;
4. an accepted file is encrypted into `raw/<id>.enc` (written aside, fsynced, renamed) and its report
   moved into `reports/<id>/`;
5. only then does one transaction record the submission, its ingest job and the audit event.

A crash before step 5 leaves no row: the temporary folder is removed when the next process starts, and files
that reached `raw/` or `reports/` without a row are deleted after `orphan_grace_seconds`. Uploaded file names
are kept for display only (cleaned); paths are always made from ids the service generates.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import secrets
import shutil
import threading
import time
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import anyio
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from ascld.errors import AscldError
from ascld.landing.audit import Actor, record_event
from ascld.landing.checker import make_checks
from ascld.landing.crypto import encrypt_file, fsync_dir
from ascld.landing.db import Database
from ascld.landing.jobs import INGEST, enqueue
from ascld.landing.models import Submission, utcnow
from ascld.landing.settings import LandingConfig, Settings

log = logging.getLogger(__name__)

GZIP_MAGIC = b"\x1f\x8b"
REFUSED, ACCEPTED, INGESTED, FAILED = "refused", "accepted", "ingested", "failed"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
WRITE_BUFFER = 256 * 1024  # per upload being received
INFLATE_STEP = 256 * 1024  # most bytes of a gzip upload's content decompressed (to count them) at once


class InflatedSize:
    """Counts the bytes a gzip stream decompresses to, as its compressed bytes arrive, holding at most
    `INFLATE_STEP` of decompressed content at a time (several gzip members are counted one after another).

    Content that is not valid gzip stops the count (`broken`): the checker then reports the file.
    """

    def __init__(self) -> None:
        self.size = 0
        self.broken = False
        self._inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)

    def feed(self, data: bytes) -> int:
        """Take the next compressed bytes; returns the decompressed size so far."""
        while data and not self.broken:
            try:
                out = self._inflater.decompress(data, INFLATE_STEP)
            except zlib.error:
                self.broken = True
                break
            self.size += len(out)
            if self._inflater.eof:  # the end of one member: what follows is the next one's
                data = self._inflater.unused_data
                self._inflater = zlib.decompressobj(wbits=16 + zlib.MAX_WBITS)
            else:
                data = self._inflater.unconsumed_tail
        return self.size


class UploadError(AscldError):
    """An upload refused before checking (too large, empty, hash mismatch...). Carries the HTTP status."""

    def __init__(self, status: int, message: str, hint: str) -> None:
        super().__init__(message)
        self.status, self.message, self.hint = status, message, hint


def display_name(raw: str | None) -> str:
    """A file name safe to show: the last path part, letters, digits and `._- ` only, at most 100 characters.

    Examples:
        >>> display_name("../../etc/passwd")
        'passwd'
        >>> display_name("C:\\\\returns\\\\Q1 return.csv")
        'Q1 return.csv'
        >>> display_name(None)
        'return.csv'
    """
    text = (raw or "").replace("\\", "/").rsplit("/", 1)[-1]
    text = re.sub(r"[^A-Za-z0-9._ -]", "_", text).strip(" .")[:100]
    return text or "return.csv"


def is_sha256(text: str | None) -> bool:
    return bool(text) and bool(_SHA256.fullmatch(text or ""))


class ProcessTmp:
    """This process's private temporary folder under `store/tmp`, held with an exclusive lock.

    Another process's folder is removed by `sweep` only when its lock is free, i.e. its owner has exited or
    been killed, so several service processes can share one store.
    """

    def __init__(self, tmp_root: Path) -> None:
        tmp_root.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.name = f"p{os.getpid()}-{secrets.token_hex(4)}"
        self.path = tmp_root / self.name
        self.path.mkdir(mode=0o700)
        self._lock_fd = os.open(tmp_root / f"{self.name}.lock", os.O_RDWR | os.O_CREAT, 0o600)
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)

    def new_path(self, kind: str) -> Path:
        return self.path / f"{kind}-{secrets.token_hex(8)}"

    @staticmethod
    def sweep(tmp_root: Path) -> int:
        """Remove temporary folders whose owning process is gone; returns how many were removed."""
        removed = 0
        if not tmp_root.exists():
            return 0
        for lock in tmp_root.glob("*.lock"):
            fd = os.open(lock, os.O_RDWR)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    continue  # a live process owns it
                shutil.rmtree(tmp_root / lock.stem, ignore_errors=True)
                lock.unlink(missing_ok=True)
                removed += 1
            finally:
                os.close(fd)
        return removed

    def close(self) -> None:
        shutil.rmtree(self.path, ignore_errors=True)
        (self.path.parent / f"{self.name}.lock").unlink(missing_ok=True)
        os.close(self._lock_fd)


@dataclass
class ReceivedFile:
    path: Path
    sha256: str
    size: int
    gzip: bool


@dataclass
class Receiver:
    """Writes an incoming body to a temporary file, hashing and counting, enforcing the size limits.

    Use `write` for each chunk as it arrives, then `finish` (flush + fsync) or `discard`.
    """

    path: Path
    settings: Settings
    declared_sha256: str | None = None
    declared_size: int | None = None
    size: int = 0
    gzip: bool | None = None
    _hash: object = field(default_factory=hashlib.sha256)
    _head: bytes = b""
    _inflated: InflatedSize | None = None

    def __post_init__(self) -> None:
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        self._fh = os.fdopen(fd, "wb", buffering=WRITE_BUFFER)

    def limit(self) -> int:
        return self.settings.max_gzip_upload_bytes if self.gzip else self.settings.max_upload_bytes

    def write(self, chunk: bytes) -> None:
        """Take the next chunk.

        Raises:
            UploadError: the body has gone past the size limit for its kind (413).
        """
        if not chunk:
            return
        fresh = self.gzip is None
        if self.gzip is None:
            self._head += chunk[:2]
            if len(self._head) >= 2:
                self.gzip = self._head[:2] == GZIP_MAGIC
                if self.declared_size is not None and self.declared_size > self.limit():
                    raise too_large(self.settings, self.gzip)
                if self.gzip:
                    self._inflated = InflatedSize()
        self.size += len(chunk)
        if self.size > self.limit():
            raise too_large(self.settings, bool(self.gzip))
        if self._inflated is not None:
            # The content of a gzip upload is held to the plain limit too: 800 MB of gzip may hold far more.
            head = self._head[: len(self._head) - len(chunk[:2])] if fresh else b""
            if self._inflated.feed(head + chunk) > self.settings.max_upload_bytes:
                raise too_large_inflated(self.settings)
        self._hash.update(chunk)  # type: ignore[attr-defined]
        self._fh.write(chunk)

    def finish(self) -> ReceivedFile:
        """Flush and fsync; check the body is not empty and matches a declared hash.

        Raises:
            UploadError: an empty body (422) or a body whose SHA-256 is not the one declared (400).
        """
        self._fh.flush()
        os.fsync(self._fh.fileno())
        self._fh.close()
        digest = self._hash.hexdigest()  # type: ignore[attr-defined]
        if self.size == 0:
            self.discard()
            raise UploadError(422, "the upload is empty.", "Choose the return file and send it again.")
        if self.declared_sha256 and self.declared_sha256 != digest:
            self.discard()
            raise UploadError(
                400,
                "the file's SHA-256 does not match the Idempotency-Key sent with it, so it "
                "changed or was damaged on the way.",
                "Send the file again.",
            )
        return ReceivedFile(self.path, digest, self.size, bool(self.gzip))

    def discard(self) -> None:
        if not self._fh.closed:
            self._fh.close()
        self.path.unlink(missing_ok=True)


def too_large_inflated(settings: Settings) -> UploadError:
    return UploadError(
        413,
        f"the compressed file holds more than {settings.max_upload_bytes:,} bytes of data, the most the landing "
        "platform accepts.",
        "Split the return.",
    )


def too_large(settings: Settings, gzip: bool) -> UploadError:
    if gzip:
        return UploadError(
            413,
            f"the compressed file is larger than {settings.max_gzip_upload_bytes:,} bytes, "
            "the most the landing platform accepts for gzip files.",
            f"Split the return or send it uncompressed (up to {settings.max_upload_bytes:,} bytes).",
        )
    return UploadError(
        413,
        f"the file is larger than {settings.max_upload_bytes:,} bytes, the most the landing platform accepts.",
        f"Compress it with gzip (up to {settings.max_gzip_upload_bytes:,} bytes) or split the return.",
    )


@dataclass
class LandingOutcome:
    """What happened to one upload.

    Attributes:
        submission: the submission row (new or existing).
        duplicate: the same bytes had already landed for this council.
        problems: for a refused file, the first problems (Problem-shaped dicts).
    """

    submission: Submission
    duplicate: bool
    problems: list[dict[str, Any]]


def find_submission(session: Session, la_code: str, sha256: str) -> Submission | None:
    return session.scalar(select(Submission).where(Submission.la_code == la_code, Submission.sha256 == sha256))


def stored_problems(sub: Submission, limit: int) -> list[dict[str, Any]]:
    """The first problems recorded with a refused submission."""
    if not sub.summary_json:
        return []
    return list(json.loads(sub.summary_json).get("first_problems", []))[:limit]


class Lander:
    """Takes received files through check, encryption and recording (steps 2 to 5 of the module docstring)."""

    def __init__(self, config: LandingConfig, db: Database, tmp: ProcessTmp) -> None:
        self.config, self.db, self.tmp = config, db, tmp
        for folder in (config.raw_dir, config.reports_dir):
            folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._inflight: dict[tuple[str, str], list] = {}  # key -> [lock, waiting + running]
        self._inflight_guard = threading.Lock()
        # Waiting uploads queue here without holding a worker thread (see `land_async`).
        self._check_slots = threading.BoundedSemaphore(max(1, config.settings.max_concurrent_checks))
        self._waiting = 0  # uploads received and waiting for a check slot
        # Where checks run: checker processes (`check_process`, the default) or this process.
        self.checks = make_checks(config.settings, tmp.path, waiting=lambda: self._waiting > 0)

    def close(self) -> None:
        """Stop the checker processes."""
        self.checks.close()

    @contextlib.contextmanager
    def _one_at_a_time(self, key: tuple[str, str]) -> Iterator[None]:
        """Uploads of the same bytes for the same council wait for each other in this process, so a client's
        retry does not check a large file a second time while the first attempt is still being checked.
        (Across processes the database's unique constraint decides.)"""
        with self._inflight_guard:
            entry = self._inflight.setdefault(key, [threading.Lock(), 0])
            entry[1] += 1
        try:
            with entry[0]:
                yield
        finally:
            with self._inflight_guard:
                entry[1] -= 1
                if entry[1] == 0:
                    del self._inflight[key]

    def receiver(self, declared_sha256: str | None = None, declared_size: int | None = None) -> Receiver:
        return Receiver(self.tmp.new_path("upload"), self.config.settings, declared_sha256, declared_size)

    def existing(self, la_code: str, sha256: str) -> Submission | None:
        with self.db.tx() as s:
            return find_submission(s, la_code, sha256)

    async def land_async(self, received: ReceivedFile, la_code: str, actor: Actor, name: str | None) -> LandingOutcome:
        """`land` in a worker thread, at most `max_concurrent_checks` at a time (memory stays bounded).

        A waiting upload polls for a free slot instead of blocking a thread, so queued uploads never starve
        the thread pool that every other request needs.
        """
        try:
            if not self._check_slots.acquire(blocking=False):
                with self._inflight_guard:
                    self._waiting += 1
                try:
                    while not self._check_slots.acquire(blocking=False):
                        await anyio.sleep(0.05)
                finally:
                    with self._inflight_guard:
                        self._waiting -= 1
            try:
                return await run_in_threadpool(self.land, received, la_code, actor, name)
            finally:
                self._check_slots.release()
        finally:
            received.path.unlink(missing_ok=True)  # e.g. the client went away while the upload waited

    def land(self, received: ReceivedFile, la_code: str, actor: Actor, name: str | None) -> LandingOutcome:
        """Check, store and record one received file for `la_code`. Always removes the temporary file."""
        try:
            with self._one_at_a_time((la_code, received.sha256)):
                return self._land(received, la_code, actor, name)
        finally:
            received.path.unlink(missing_ok=True)

    def _land(self, received: ReceivedFile, la_code: str, actor: Actor, name: str | None) -> LandingOutcome:
        settings = self.config.settings
        work: Path | None = None
        try:
            existing = self.existing(la_code, received.sha256)
            if existing is not None:
                return self.land_duplicate(existing, actor)
            sub_id = secrets.token_hex(16)
            work = self.tmp.new_path("land")
            work.mkdir(mode=0o700)
            # A neutral name for the validator (it names the file in its report); never the uploaded name.
            plain = work / ("return.csv.gz" if received.gzip else "return.csv")
            os.rename(received.path, plain)
            report_tmp = work / "report"
            report_tmp.mkdir(mode=0o700)
            shown = display_name(name)
            check = self.checks.check(
                plain,
                la_code=la_code,
                report_dir=report_tmp,
                max_problems=settings.max_problems_listed,
                temp_dir=work,
                display_name=shown,
            )
            raw_target = self.config.raw_dir / f"{sub_id}.enc"
            if check.usable:
                encrypt_file(plain, raw_target, self.config.store_key)
            plain.unlink()
            report_target = self.config.reports_dir / sub_id
            if check.report_written:
                os.replace(report_tmp, report_target)
                fsync_dir(self.config.reports_dir)
            sub = Submission(
                id=sub_id,
                la_code=la_code,
                sha256=received.sha256,
                size_bytes=received.size,
                gzip=received.gzip,
                display_name=shown,
                status=ACCEPTED if check.usable else REFUSED,
                uploaded_by=actor.user_id,
                created_at=utcnow(),
                exit_code=check.exit_code,
                row_count=check.row_count,
                problem_count=check.problem_count,
                error_count=check.error_count,
                valid_rate=check.valid_rate,
                period_end=check.period_end,
                summary_json=json.dumps(check.stored_summary()),
                has_report=check.report_written,
            )
            try:
                with self.db.tx() as s:
                    s.add(sub)
                    s.flush()
                    if check.usable:
                        enqueue(s, INGEST, sub_id, settings.job_max_attempts)
                    record_event(
                        s,
                        actor,
                        "upload" if check.usable else "upload_refused",
                        outcome="ok" if check.usable else "refused",
                        la_code=la_code,
                        object_type="submission",
                        object_id=sub_id,
                        detail={
                            "sha256": received.sha256,
                            "bytes": received.size,
                            "rows": check.row_count,
                            "problems": check.problem_count,
                            "errors": check.error_count,
                            "exit_code": check.exit_code,
                            "check_seconds": check.seconds,
                            "check_peak_rss_mb": check.peak_rss_mb,
                        },
                    )
            except IntegrityError:
                # The same bytes landed from a concurrent request first: that one is the submission.
                raw_target.unlink(missing_ok=True)
                shutil.rmtree(report_target, ignore_errors=True)
                winner = self.existing(la_code, received.sha256)
                if winner is None:
                    raise
                return self.land_duplicate(winner, actor)
            return LandingOutcome(sub, False, check.first_problems)
        finally:
            received.path.unlink(missing_ok=True)
            if work is not None:
                shutil.rmtree(work, ignore_errors=True)

    def land_duplicate(self, sub: Submission, actor: Actor) -> LandingOutcome:
        """The answer to bytes that have already landed for this council: the existing submission, audited."""
        with self.db.tx() as s:
            record_event(
                s,
                actor,
                "upload",
                outcome="duplicate",
                la_code=sub.la_code,
                object_type="submission",
                object_id=sub.id,
                detail={"sha256": sub.sha256, "bytes": sub.size_bytes},
            )
        return LandingOutcome(sub, True, stored_problems(sub, self.config.settings.max_problems_listed))


def sweep_orphans(config: LandingConfig, db: Database, now: float | None = None) -> list[str]:
    """Delete stored files that have no submission row and are older than `orphan_grace_seconds`.

    Such files are left by a crash between writing them and committing the row (step 4 and 5); the submission
    never existed, so nothing refers to them. Returns the ids removed (audited by the caller).
    """
    now = time.time() if now is None else now
    grace = config.settings.orphan_grace_seconds
    candidates: dict[str, list[Path]] = {}
    for path in list(config.raw_dir.glob("*")) + list(config.reports_dir.glob("*")):
        if now - path.stat().st_mtime < grace:
            continue
        candidates.setdefault(path.name.split(".")[0], []).append(path)
    if not candidates:
        return []
    with db.tx() as s:
        known = set(s.scalars(select(Submission.id).where(Submission.id.in_(list(candidates)))))
    removed = []
    for sub_id, paths in candidates.items():
        if sub_id in known:
            continue
        for path in paths:
            if path.is_dir():
                shutil.rmtree(path, ignore_errors=True)
            else:
                path.unlink(missing_ok=True)
        removed.append(sub_id)
    return removed
