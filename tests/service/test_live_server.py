"""`ascld serve` as a real process: killed with SIGKILL mid-upload and mid-ingest, raced by 20 councils at
once, fed the validator's bad-file corpus, and sent requests that must be refused before their body is read.
On SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner

from ascld.cli import cli
from ascld.landing.client import SubmitClient, SubmitError
from ascld.landing.db import Database
from ascld.national.store import NationalStore
from support.landing import make_return
from support.landing_server import LandingServer, child_pids, process_gone
from support.postgres import free_port

pytestmark = pytest.mark.slow

COUNCIL_A = {"council_a": ("council_submitter", "101"), "processor": ("processor_operator", None)}


def _submissions(db_url: str) -> list[dict]:
    from sqlalchemy import text

    db = Database(db_url)
    try:
        with db.engine.connect() as conn:
            rows = conn.execute(
                text("SELECT id, la_code, sha256, status FROM submissions ORDER BY created_at")
            )
            return [dict(r._mapping) for r in rows]
    finally:
        db.dispose()


def _wait_for(predicate, timeout: float = 90, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.2)


def _statuses(server: LandingServer, user: str) -> list[str]:
    with server.client(user) as c:
        return [s["status"] for s in c.get("/api/v1/submissions").json()["submissions"]]


@pytest.fixture(scope="module")
def big_return(tmp_path_factory) -> Path:
    # A few megabytes: the first part sent fills the receiver's 256 KiB write buffer, so bytes reach the disk
    # before the server is killed.
    return make_return(tmp_path_factory.mktemp("live") / "q2_101.csv", 5_000, la_code="101", seed=5)


def test_sigkill_during_upload_leaves_no_submission_and_the_retry_lands_once(tmp_path, db_url, big_return):
    server = LandingServer(tmp_path, db_url, COUNCIL_A)
    with server:
        server.start()
        data = big_return.read_bytes()
        half_sent, killed = threading.Event(), threading.Event()
        errors: list[BaseException] = []

        def slow_body():
            yield data[: len(data) // 2]
            half_sent.set()
            killed.wait(30)  # the server dies meanwhile
            yield data[len(data) // 2 :]

        def upload():
            try:
                with server.client("council_a") as c:
                    c.post("/api/v1/submissions", content=slow_body(), headers={"Content-Type": "text/csv"})
            except httpx.TransportError as exc:
                errors.append(exc)

        uploader = threading.Thread(target=upload, daemon=True)
        uploader.start()
        assert half_sent.wait(30)
        tmp_root = server.store / "tmp"
        _wait_for(
            lambda: any(p.stat().st_size > 0 for p in tmp_root.glob("p*/upload-*")), 30, "the partial file"
        )
        dead_tmp = {p.name for p in tmp_root.iterdir() if p.is_dir()}
        server.kill()
        killed.set()
        uploader.join(40)
        assert errors, "the interrupted upload should have failed on the client"
        assert _submissions(db_url) == []
        assert list((server.store / "raw").glob("*")) == []

        server.start()
        assert not dead_tmp & {p.name for p in tmp_root.iterdir()}, (
            "the dead process's temporary folder remains"
        )
        with SubmitClient(server.url, server.tokens["council_a"], allow_http=True) as client:
            first = client.submit(big_return)
            again = client.submit(big_return)
        assert first.outcome == "accepted" and again.outcome == "duplicate"
        assert again.submission["id"] == first.submission["id"]
        subs = _submissions(db_url)
        assert len(subs) == 1 and subs[0]["sha256"] == hashlib.sha256(data).hexdigest()
        assert subs[0]["status"] == "accepted"


def test_sigkill_during_ingest_then_restart_completes_it_exactly_once(tmp_path, db_url, good_return):
    server = LandingServer(tmp_path, db_url, COUNCIL_A)
    marker = tmp_path / "paused"
    with server:
        server.start(
            {"ASCLD_TEST_INGEST_PAUSE": "before_register", "ASCLD_TEST_INGEST_PAUSE_FILE": str(marker)}
        )
        with SubmitClient(server.url, server.tokens["council_a"], allow_http=True) as client:
            result = client.submit(good_return)
        assert result.outcome == "accepted"
        _wait_for(marker.exists, what="the ingest to reach its pause")
        server.kill()
        assert NationalStore(server.national_dir).imports() == []  # written, not registered
        assert [s["status"] for s in _submissions(db_url)] == ["accepted"]

        server.start()
        _wait_for(lambda: _statuses(server, "council_a") == ["ingested"], what="ingest after restart")
        imports = NationalStore(server.national_dir).imports()
        assert len(imports) == 1
        assert imports[0].sha256 == hashlib.sha256(good_return.read_bytes()).hexdigest()
        assert imports[0].row_count == 30
        data_dirs = list((server.national_dir / "data").glob("*/*"))
        assert len(data_dirs) == 1, "the killed attempt's files were not cleaned up"
        assert len(_submissions(db_url)) == 1


def test_sigkill_during_a_check_takes_the_checker_process_down_too(tmp_path, db_url, big_return):
    server = LandingServer(tmp_path, db_url, COUNCIL_A, settings={"worker_threads": 0})
    header, body = big_return.read_bytes().split(b"\r\n", 1)
    slow = tmp_path / "slow.csv"  # checked for several seconds
    slow.write_bytes(header + b"\r\n" + body * 20)
    with server:
        server.start()
        errors: list[BaseException] = []

        def upload() -> None:
            try:
                with server.client("council_a") as c:
                    c.post("/api/v1/submissions", content=slow.read_bytes(), headers={"Content-Type": "text/csv"})
            except httpx.TransportError as exc:
                errors.append(exc)

        uploader = threading.Thread(target=upload, daemon=True)
        uploader.start()
        tmp_root = server.store / "tmp"
        # The validator is at work once its working folder exists inside the upload's folder.
        _wait_for(lambda: list(tmp_root.glob("p*/land-*/ascld-validate-*")), 60, "the check to start")
        checkers = child_pids(server.proc.pid)
        assert len(checkers) == 1, checkers
        server.kill()
        _wait_for(lambda: process_gone(checkers[0]), 10, "the checker process to exit")
        uploader.join(30)
        assert errors, "the interrupted upload should have failed on the client"
        assert _submissions(db_url) == []
        assert list((server.store / "raw").glob("*")) == [] and list((server.store / "reports").glob("*")) == []

        server.start()
        folders = [p.name for p in tmp_root.iterdir() if p.is_dir()]
        assert all(name.startswith(f"p{server.proc.pid}-") for name in folders), "the dead process's folder remains"
        with SubmitClient(server.url, server.tokens["council_a"], allow_http=True) as client:
            assert client.submit(slow).outcome == "accepted"
        assert len(_submissions(db_url)) == 1


def test_twenty_councils_upload_at_once_and_each_lands_exactly_once(tmp_path, db_url, returns_dir):
    councils = [str(201 + i) for i in range(20)]
    accounts = {f"c{la}": ("council_submitter", la) for la in councils}
    accounts["processor"] = ("processor_operator", None)
    files = {la: make_return(returns_dir / f"conc_{la}.csv", 30, la_code=la, seed=int(la)) for la in councils}
    # The worker is off: this test is about landing; ingest after a crash is tested above.
    server = LandingServer(tmp_path, db_url, accounts, settings={"worker_threads": 0, "max_concurrent_checks": 2})
    with server:
        server.start()

        def submit(la: str) -> tuple[str, str]:
            with SubmitClient(server.url, server.tokens[f"c{la}"], allow_http=True) as client:
                result = client.submit(files[la])
                return result.outcome, result.submission["id"]

        # Each council twice, all at once: the second copy races its own original.
        with ThreadPoolExecutor(max_workers=40) as pool:
            outcomes = list(pool.map(submit, councils + councils))
        assert [o for o, _ in outcomes].count("accepted") == 20
        assert [o for o, _ in outcomes].count("duplicate") == 20
        assert all(outcomes[k][1] == outcomes[k + 20][1] for k in range(20))  # one submission per council
        subs = _submissions(db_url)
        assert sorted(s["la_code"] for s in subs) == councils
        assert {s["status"] for s in subs} == {"accepted"}
        assert len(list((server.store / "raw").glob("*.enc"))) == 20
        db = Database(db_url)
        try:
            from sqlalchemy import text

            with db.engine.connect() as conn:
                jobs = conn.execute(text("SELECT submission_id FROM jobs")).scalars().all()
        finally:
            db.dispose()
        assert sorted(jobs) == sorted(s["id"] for s in subs)
        assert server.alive()


@pytest.fixture(scope="module")
def live(module_db_url, tmp_path_factory):
    """One server per backend for the tests that do not kill it."""
    server = LandingServer(tmp_path_factory.mktemp("live_server"), module_db_url, COUNCIL_A)
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def bad_corpus(tmp_path_factory) -> dict[str, tuple[str, ...]]:
    """The validator's bad-file corpus (scripts/make_bad_files.py): name -> (expected check, what, words the
    reason must contain)."""
    import importlib.util

    script = Path(__file__).resolve().parents[2] / "scripts" / "make_bad_files.py"
    spec = importlib.util.spec_from_file_location("make_bad_files", script)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    folder = tmp_path_factory.mktemp("bad_files")
    return {str(folder / name): expected for name, expected in module.make_bad_files(folder, seed=0).items()}


def test_bad_file_corpus_is_refused_clearly_while_the_server_keeps_serving(live, bad_corpus, tmp_path):
    assert len(bad_corpus) >= 20
    server = live
    with server.client("council_a") as c:
        for name, (check_id, *_what) in bad_corpus.items():
            path = Path(name)
            r = c.post(
                "/api/v1/submissions",
                content=path.read_bytes(),
                headers={"Content-Type": "application/octet-stream", "X-Filename": path.name},
            )
            assert r.status_code in (413, 422), f"{path.name}: {r.status_code} {r.text[:300]}"
            body = r.json()
            assert body["ok"] is False and body["errors"], path.name
            first = body["errors"][0]
            assert first["message"] and first["hint"], f"{path.name}: {first}"
            if r.status_code == 422 and path.stat().st_size:
                report = c.get(body["submission"]["links"]["report"]).json()["report"]
                found = {p["check_id"] for p in report["summary"]["problems"]}
                assert check_id in found, f"{path.name}: expected {check_id}, got {found}"
            assert c.get("/healthz").status_code == 200
    assert server.alive()
    assert list((server.store / "raw").glob("*.enc")) == []
    fresh = make_return(tmp_path / "after_the_corpus.csv", 30, la_code="101", seed=8)
    with SubmitClient(server.url, server.tokens["council_a"], allow_http=True) as client:
        assert client.submit(fresh).outcome == "accepted"


def _raw_request(port: int, head: str, body: bytes = b"", wait: float = 5) -> tuple[str, float]:
    started = time.monotonic()
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as sock:
        sock.sendall(head.encode("latin-1") + body)
        data = b""
        try:
            while b"\r\n\r\n" not in data:
                chunk = sock.recv(4096)
                if not chunk:
                    break
                data += chunk
        except TimeoutError:
            pass
    return data.decode("latin-1"), time.monotonic() - started


def test_oversized_and_unauthorised_uploads_are_refused_before_the_body(live):
    server = live
    token = server.tokens["council_a"]
    five_gb = 5 * 1024**3
    answer, seconds = _raw_request(
        server.port,
        (
            "POST /api/v1/submissions HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
            f"Authorization: Bearer {token}\r\nContent-Length: {five_gb}\r\n\r\n"
        ),
    )
    assert answer.startswith("HTTP/1.1 413"), answer[:200]
    assert seconds < 3
    answer, seconds = _raw_request(
        server.port,
        (
            "POST /api/v1/submissions HTTP/1.1\r\nHost: x\r\nContent-Type: text/csv\r\n"
            f"Content-Length: {1024**3}\r\n\r\n"
        ),
        b"LA Code,",
    )
    assert answer.startswith("HTTP/1.1 401"), answer[:200]
    assert seconds < 3
    answer, _ = _raw_request(
        server.port, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + "a" * 40_000 + "\r\n\r\n"
    )
    assert answer.startswith("HTTP/1.1 431"), answer[:200]
    answer, _ = _raw_request(
        server.port, "POST /api/v1/tokens HTTP/1.1\r\nHost: x\r\nContent-Length: banana\r\n\r\n"
    )
    assert answer.startswith("HTTP/1.1 400"), answer[:200]
    assert server.alive()
    assert httpx.get(f"{server.url}/healthz").status_code == 200


def test_submit_command_prints_progress_refusals_and_exit_codes(live, good_return, bad_return):
    server = live
    runner = CliRunner()
    env = {"ASCLD_TOKEN": server.tokens["council_a"]}
    ok = runner.invoke(cli, ["submit", str(good_return), "--to", server.url, "--wait"], env=env)
    assert ok.exit_code == 0, ok.output
    assert "accepted as submission" in ok.output and "Accepted and ingested" in ok.output
    assert "Uploading: 100%" in ok.output
    again = runner.invoke(cli, ["submit", str(good_return), "--to", server.url], env=env)
    assert again.exit_code == 0 and "already received" in again.output
    refused = runner.invoke(cli, ["submit", str(bad_return), "--to", server.url], env=env)
    assert refused.exit_code == 1, refused.output
    assert "REFUSED" in refused.output and "Full report: http" in refused.output
    assert "row 1" in refused.output or "field" in refused.output
    as_json = runner.invoke(cli, ["submit", str(bad_return), "--to", server.url, "--json"], env=env)
    assert as_json.exit_code == 1 and json.loads(as_json.output)["outcome"] == "refused"
    wrong = runner.invoke(
        cli,
        ["submit", str(good_return), "--to", server.url],
        env={"ASCLD_TOKEN": "ascld_000000000000_" + "x" * 43},
    )
    assert wrong.exit_code == 2 and "not signed in" in wrong.output
    with pytest.raises(SubmitError, match="could not reach"):
        SubmitClient(
            f"http://127.0.0.1:{free_port()}",
            server.tokens["council_a"],
            retries=1,
            backoff=0.01,
        ).submit(good_return)
