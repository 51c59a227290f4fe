"""Receiving returns: streamed, hashed, checked, encrypted at rest, recorded once; the ingest worker and its
database jobs."""

from __future__ import annotations

import gzip
import hashlib
import threading

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ascld.landing import jobs, steps
from ascld.landing.app import create_app
from ascld.landing.crypto import decrypt_chunks
from ascld.landing.models import AuditEvent, Job, Submission
from ascld.landing.uploads import Receiver, UploadError
from ascld.landing.worker import Worker
from ascld.national.store import NationalStore
from support.landing import LA_A


def _post(landing, user: str, data: bytes, **headers: str):
    return landing.api(user).post(
        "/api/v1/submissions", content=data, headers={"Content-Type": "application/octet-stream", **headers}
    )


def _count(landing, model) -> int:
    with landing.state.db.tx() as s:
        return s.scalar(select(func.count()).select_from(model))


def test_accepted_upload_is_encrypted_at_rest_reported_and_queued(landing, good_return):
    data = good_return.read_bytes()
    response = _post(landing, "council_a", data, **{"X-Filename": "q2.csv"})
    assert response.status_code == 201, response.text
    sub = response.json()["submission"]
    assert sub["status"] == "accepted" and sub["la_code"] == LA_A and sub["rows"] == 30
    assert sub["sha256"] == hashlib.sha256(data).hexdigest() and sub["size_bytes"] == len(data)
    assert 0 < sub["valid_rate"] <= 1
    raw = landing.config.raw_dir / f"{sub['id']}.enc"
    stored = raw.read_bytes()
    assert data[200:260] not in stored and b"LA Code" not in stored
    with open(raw, "rb") as fh:
        assert b"".join(decrypt_chunks(fh, landing.config.store_key)) == data
    report = landing.config.reports_dir / sub["id"]
    assert {p.name for p in report.iterdir()} == {"summary.json", "problems.csv", "report.html"}
    with landing.state.db.tx() as s:
        job = s.scalar(select(Job))
        assert (job.kind, job.status, job.submission_id) == ("ingest", "queued", sub["id"])
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "upload"))
        assert event.actor == "council_a" and event.purpose == "statutory CLD return" and event.outcome == "ok"
    assert list(landing.state.tmp.path.iterdir()) == []  # nothing plain left behind

    # The same bytes again, with and without the hash as idempotency key: the same submission, stored once.
    again = _post(landing, "council_a", data)
    keyed = _post(landing, "council_a", data, **{"Idempotency-Key": hashlib.sha256(data).hexdigest()})
    assert again.status_code == keyed.status_code == 200 and again.json()["duplicate"] is True
    assert again.json()["submission"]["id"] == keyed.json()["submission"]["id"] == sub["id"]
    assert _count(landing, Submission) == 1 and _count(landing, Job) == 1
    assert len(list(landing.config.raw_dir.iterdir())) == 1
    with landing.state.db.tx() as s:
        outcomes = s.scalars(select(AuditEvent.outcome).where(AuditEvent.action == "upload")).all()
    assert sorted(outcomes) == ["duplicate", "duplicate", "ok"]


def test_concurrent_identical_uploads_make_one_submission(landing, good_return):
    data = good_return.read_bytes()
    barrier = threading.Barrier(4)
    codes: list[int] = []

    def go() -> None:
        client = landing.api("council_a")
        barrier.wait()
        codes.append(_post(landing, "council_a", data).status_code if client else 0)

    threads = [threading.Thread(target=go) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(codes).count(201) == 1 and sorted(codes).count(200) == 3
    assert _count(landing, Submission) == 1
    assert len(list(landing.config.raw_dir.iterdir())) == 1
    assert not list(landing.config.reports_dir.glob("*/*.partial"))


def test_checks_run_at_most_max_concurrent_checks_at_a_time(landing_factory, bad_return, monkeypatch):
    landing = landing_factory(max_concurrent_checks=1)
    real, running, most = steps.check_return, [0], [0]
    guard = threading.Lock()

    def counted(*args, **kwargs):
        with guard:
            running[0] += 1
            most[0] = max(most[0], running[0])
        try:
            import time

            time.sleep(0.3)
            return real(*args, **kwargs)
        finally:
            with guard:
                running[0] -= 1

    monkeypatch.setattr(steps, "check_return", counted)
    codes: list[int] = []

    def go(i: int) -> None:
        codes.append(_post(landing, "council_a", bad_return.read_bytes() + b"\r\n" * i).status_code)

    threads = [threading.Thread(target=go, args=(i,)) for i in range(1, 4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert codes == [422, 422, 422] and most[0] == 1
    assert landing.api("council_a").get("/api/v1/whoami").status_code == 200


def test_gzip_upload_is_accepted_and_flagged(landing, good_return):
    data = gzip.compress(good_return.read_bytes())
    response = _post(landing, "council_a", data, **{"Content-Type": "application/gzip"})
    assert response.status_code == 201, response.text
    assert response.json()["submission"]["gzip"] is True and response.json()["submission"]["rows"] == 30


def test_refused_file_is_not_stored_but_its_report_is(landing, bad_return):
    response = _post(landing, "council_a", bad_return.read_bytes())
    assert response.status_code == 422
    body = response.json()
    assert body["submission"]["status"] == "refused"
    assert any("Event" in (e["message"] + (e["field"] or "")) for e in body["errors"])
    assert list(landing.config.raw_dir.iterdir()) == []
    assert (landing.config.reports_dir / body["submission"]["id"] / "report.html").exists()
    assert _count(landing, Job) == 0
    again = _post(landing, "council_a", bad_return.read_bytes())
    assert again.status_code == 422 and again.json()["duplicate"] is True
    assert again.json()["errors"] == body["errors"]


def test_a_file_stating_no_la_code_is_refused_not_landed_as_no_councils(landing, good_return):
    """LA Code blank on every row: the validator's T013 counts no second council and the file was accepted,
    then ingested into the national store under a blank LA code, apart from the submitter's council (L001)."""
    lines = good_return.read_bytes().split(b"\r\n")
    assert all(line.startswith(LA_A.encode() + b",") for line in lines[1:] if line)
    blanked = b"\r\n".join([lines[0]] + [line[len(LA_A) :] if line else line for line in lines[1:]])
    response = _post(landing, "council_a", blanked)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["submission"]["status"] == "refused" and body["submission"]["la_code"] == LA_A
    assert body["errors"][0]["field"] == "LA_Code" and "no LA code" in body["errors"][0]["message"]
    assert list(landing.config.raw_dir.iterdir()) == []
    assert _count(landing, Job) == 0


def test_a_gzip_upload_whose_content_passes_the_plain_limit_is_refused(landing_factory, good_return):
    """The portal's limits are 4 GB of data and 800 MB of gzip: 800 MB of gzip may hold far more than 4 GB
    (written out decompressed to be checked). The content is counted as it arrives."""
    data = good_return.read_bytes()
    packed = gzip.compress(data)
    landing = landing_factory(max_upload_bytes=len(data) - 1, max_gzip_upload_bytes=len(packed) * 2)
    response = _post(landing, "council_a", packed, **{"Content-Type": "application/gzip"})
    assert response.status_code == 413, response.text
    assert "bytes of data" in response.json()["errors"][0]["message"]
    assert _count(landing, Submission) == 0
    shorter = b"\r\n".join(data.split(b"\r\n")[:11]) + b"\r\n"  # the header and 10 rows: within the limit
    response = _post(landing, "council_a", gzip.compress(shorter), **{"Content-Type": "application/gzip"})
    assert response.status_code == 201, response.text


def test_the_gzip_content_count_is_exact_however_the_bytes_arrive(tmp_path):
    import os

    from ascld.landing.settings import Settings

    # Two gzip members (as `cat a.gz b.gz` makes), incompressible and repetitive content.
    content = os.urandom(300_000) + b"x" * 2_000_000
    packed = gzip.compress(content[:1_000_000]) + gzip.compress(content[1_000_000:])
    for step in (1, 7, 65536, len(packed)):
        receiver = Receiver(tmp_path / f"g{step}", Settings(max_upload_bytes=len(content)))
        for i in range(0, len(packed), step):
            receiver.write(packed[i : i + step])
        assert receiver._inflated.size == len(content) and not receiver._inflated.broken
        receiver.discard()
    tight = Receiver(tmp_path / "tight", Settings(max_upload_bytes=len(content) - 1))
    with pytest.raises(UploadError):
        tight.write(packed)
    tight.discard()
    broken = Receiver(tmp_path / "broken", Settings(max_upload_bytes=10))
    broken.write(b"\x1f\x8b" + b"not gzip at all" * 10)  # left to the checker to report
    assert broken._inflated.broken
    broken.discard()


def test_receiver_memory_does_not_grow_with_the_body(tmp_path):
    import tracemalloc

    from ascld.landing.settings import Settings

    peaks = []
    for blocks in (16, 256):
        receiver = Receiver(tmp_path / f"r{blocks}", Settings())
        chunk = b"x" * 65536
        tracemalloc.start()
        for _ in range(blocks):
            receiver.write(chunk)
        receiver.finish()
        peaks.append(tracemalloc.get_traced_memory()[1])
        tracemalloc.stop()
    assert peaks[1] < 1024 * 1024  # one write buffer (256 KiB) and a chunk, for 1 MiB or 16 MiB alike
    assert peaks[1] < peaks[0] * 2 + 65536


def test_a_job_outlives_its_dead_worker_and_a_restart_and_ingests_once(landing_factory, good_return):
    first = landing_factory()
    sub = _post(first, "council_a", good_return.read_bytes()).json()["submission"]
    with first.state.db.tx() as s:
        claimed = jobs.claim_next(s, "worker-that-dies", lease_seconds=-1)  # claimed; its lease has lapsed
    assert claimed is not None
    first.client.__exit__(None, None, None)  # the service stops with the job unfinished

    with TestClient(create_app(first.config), base_url="https://testserver") as client:
        state = client.app.state.landing
        survivor = Worker(first.config, state.db, state.tmp, worker_id="survivor")
        assert survivor.run_once() is True
        assert survivor.run_once() is False
        with state.db.tx() as s:
            job = s.scalar(select(Job))
            assert (job.status, job.locked_by, job.attempts) == ("done", "survivor", 2)
            assert jobs.finish(s, job.id, "worker-that-dies") is False
            done = s.get(Submission, sub["id"])
            assert (done.status, done.national_rows) == ("ingested", 30)
            assert s.scalar(select(AuditEvent).where(AuditEvent.action == "ingest")).actor == "system"
        assert list(state.tmp.path.iterdir()) == []
    imports = NationalStore(first.config.national_dir).imports()
    assert [(i.la_code, i.row_count, i.sha256) for i in imports] == [(LA_A, 30, sub["sha256"])]
    assert imports[0].load_file_name == f"{sub['id']}.csv"  # never the uploaded name


def test_a_job_that_keeps_failing_is_retried_then_marked_failed(landing_factory, good_return, monkeypatch):
    landing = landing_factory(job_max_attempts=2)
    sub = _post(landing, "council_a", good_return.read_bytes()).json()["submission"]

    def broken(*args, **kwargs):
        raise steps.IngestRefused("the national store refused the file")

    monkeypatch.setattr(steps, "ingest_return", broken)
    assert landing.run_jobs() == 1  # first attempt fails and is queued again with back-off
    with landing.state.db.tx() as s:
        job = s.scalar(select(Job))
        assert job.status == "queued" and job.attempts == 1 and "refused" in job.last_error
        job.run_after = job.created_at  # skip the back-off
    assert landing.run_jobs() == 1
    with landing.state.db.tx() as s:
        assert s.scalar(select(Job.status)) == "failed"
        assert s.get(Submission, sub["id"]).status == "failed"
        assert s.scalar(select(AuditEvent.outcome).where(AuditEvent.action == "ingest_failed")) == "failed"


def test_orphan_files_from_a_crash_are_swept_and_audited(landing_factory):
    landing = landing_factory(orphan_grace_seconds=0)
    orphan = landing.config.raw_dir / ("ab" * 16 + ".enc")
    orphan.write_bytes(b"left by a crash between rename and commit")
    (landing.config.reports_dir / ("ab" * 16)).mkdir()
    response = landing.api("dpo").post("/api/v1/retention/run")
    assert response.json()["deleted"] == [{"kind": "orphan", "submission_id": "ab" * 16, "la_code": None}]
    assert not orphan.exists() and not (landing.config.reports_dir / ("ab" * 16)).exists()
    with landing.state.db.tx() as s:
        event = s.scalar(select(AuditEvent).where(AuditEvent.action == "deletion"))
        assert (event.purpose, event.object_type) == ("crash recovery", "orphan_file")
