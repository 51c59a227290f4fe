"""Checks on receipt in checker processes (`ascld.landing.checker`): the same answers as the validator run in
this process, one process reused while uploads keep coming and stopped when idle, its death failing the upload
with nothing kept, and none of the service's secrets in its environment."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select

from ascld.landing import steps
from ascld.landing.checker import CheckerPool, CheckFailed, checker_env
from ascld.landing.models import AuditEvent, Submission
from support.landing import LA_A
from support.landing_server import process_gone


def _post(landing, user: str, data: bytes):
    return landing.api(user).post(
        "/api/v1/submissions", content=data, headers={"Content-Type": "application/octet-stream"}
    )


def _wait_for(predicate, timeout: float = 30, what: str = "condition") -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.05)


def _inline(path: Path, folder: Path, la_code: str = LA_A) -> steps.CheckResult:
    """The validator in this process, on a copy of `path`, as the service would call it."""
    folder.mkdir()
    plain = folder / "return.csv"
    shutil.copyfile(path, plain)
    (folder / "report").mkdir()
    return steps.check_return(
        plain, la_code=la_code, report_dir=folder / "report", max_problems=20, temp_dir=folder, display_name="x.csv"
    )


def test_checks_run_in_a_reused_checker_process_that_stops_when_idle(
    landing_factory, good_return, bad_return, tmp_path
):
    landing = landing_factory(check_process=True, check_process_idle_seconds=1.5)
    checks = landing.state.lander.checks
    assert isinstance(checks, CheckerPool) and checks.pids() == []

    good = _post(landing, "council_a", good_return.read_bytes())
    assert good.status_code == 201, good.text
    pids = checks.pids()
    assert len(pids) == 1 and pids[0] != os.getpid()
    bad = _post(landing, "council_a", bad_return.read_bytes())
    assert bad.status_code == 422
    assert checks.pids() == pids, "the idle checker was not reused for the next upload"

    # The same answers as the validator run in this process.
    for response, path, name in ((good, good_return, "good"), (bad, bad_return, "bad")):
        sub = response.json()["submission"]
        inline = _inline(path, tmp_path / name)
        with landing.state.db.tx() as s:
            row = s.get(Submission, sub["id"])
            got = (row.status, row.exit_code, row.row_count, row.problem_count, row.error_count, row.valid_rate)
            stored = json.loads(row.summary_json)
        status = "accepted" if inline.usable else "refused"
        want = (status, inline.exit_code, inline.row_count, inline.problem_count, inline.error_count)
        assert got[:5] == want and got[5] == pytest.approx(inline.valid_rate)
        assert [p["check_id"] for p in stored["first_problems"]] == [p["check_id"] for p in inline.first_problems]
    assert [e["message"] for e in bad.json()["errors"]] == [p["message"] for p in inline.first_problems]

    with landing.state.db.tx() as s:
        details = [json.loads(d) for d in s.scalars(select(AuditEvent.detail).where(AuditEvent.object_id.is_not(None)))]
    measured = [d for d in details if "check_peak_rss_mb" in d]
    assert len(measured) == 2
    assert all(d["check_peak_rss_mb"] > 50 and d["check_seconds"] > 0 for d in measured)

    _wait_for(lambda: checks.pids() == [], what="the idle checker to stop")
    _wait_for(lambda: process_gone(pids[0]), 10, "the checker process to exit")
    assert list(landing.state.tmp.path.iterdir()) == []


def test_a_check_that_fails_keeps_nothing(landing_factory, good_return, monkeypatch):
    landing = landing_factory(check_process=True)

    def stopped(*args, **kwargs):
        raise CheckFailed("the checker process stopped during the check")

    monkeypatch.setattr(landing.state.lander.checks, "check", stopped)
    client = TestClient(landing.app, base_url="https://testserver", raise_server_exceptions=False)
    client.headers["Authorization"] = f"Bearer {landing.tokens['council_a']}"
    response = client.post(
        "/api/v1/submissions", content=good_return.read_bytes(), headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 500
    assert response.json()["ok"] is False and response.json()["errors"][0]["message"]
    with landing.state.db.tx() as s:
        assert s.scalar(select(func.count()).select_from(Submission)) == 0
    assert list(landing.config.raw_dir.iterdir()) == [] and list(landing.config.reports_dir.iterdir()) == []
    assert list(landing.state.tmp.path.iterdir()) == []


def test_a_checker_killed_during_a_check_fails_it_and_is_replaced(tmp_path, good_return):
    pool = CheckerPool(256, 30, tmp_path)
    # A file big enough to keep the checker busy for a few seconds: the 30 rows repeated.
    header, body = good_return.read_bytes().split(b"\r\n", 1)
    big = tmp_path / "big" / "return.csv"
    big.parent.mkdir()
    big.write_bytes(header + b"\r\n" + body * 5000)
    (big.parent / "report").mkdir()
    outcome: list[BaseException | object] = []

    def check() -> None:
        try:
            outcome.append(
                pool.check(big, la_code=LA_A, report_dir=big.parent / "report", max_problems=5, temp_dir=big.parent)
            )
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)

    try:
        runner = threading.Thread(target=check)
        runner.start()
        # The validator has started once its working folder exists.
        _wait_for(lambda: list(big.parent.glob("ascld-validate-*")), 60, "the check to start")
        (victim,) = pool.pids()
        os.kill(victim, signal.SIGKILL)
        runner.join(30)
        assert len(outcome) == 1 and isinstance(outcome[0], CheckFailed), outcome
        assert "stopped" in str(outcome[0])
        assert pool.pids() == [] and process_gone(victim)

        # The next check gets a new process and works.
        copy = tmp_path / "ok" / "return.csv"
        copy.parent.mkdir()
        shutil.copyfile(good_return, copy)
        (copy.parent / "report").mkdir()
        result = pool.check(copy, la_code=LA_A, report_dir=copy.parent / "report", max_problems=5, temp_dir=copy.parent)
        assert result.usable and result.row_count == 30 and result.peak_rss_mb and result.seconds
        assert pool.pids() not in ([], [victim])
    finally:
        pool.close()
    assert pool.pids() == []
    with pytest.raises(CheckFailed):
        pool.check(big, la_code=LA_A, report_dir=tmp_path, max_problems=5, temp_dir=tmp_path)


def test_a_check_the_validator_cannot_run_fails_by_error_type_only(tmp_path):
    pool = CheckerPool(256, 30, tmp_path)
    try:
        with pytest.raises(CheckFailed, match=r"\(UsageError\)$"):
            pool.check(tmp_path / "missing.csv", la_code=LA_A, report_dir=tmp_path, max_problems=5, temp_dir=tmp_path)
        assert len(pool.pids()) == 1, "a failed check should not cost the checker process"
    finally:
        pool.close()


def _check_copy(pool: CheckerPool, source: Path, folder: Path) -> steps.CheckResult:
    folder.mkdir()
    shutil.copyfile(source, folder / "return.csv")
    (folder / "report").mkdir()
    return pool.check(
        folder / "return.csv", la_code=LA_A, report_dir=folder / "report", max_problems=5, temp_dir=folder
    )


def test_with_no_idle_time_a_checker_is_kept_only_for_an_upload_already_waiting(tmp_path, good_return):
    waiting = [False]
    pool = CheckerPool(256, 0, tmp_path, waiting=lambda: waiting[0])
    try:
        result = _check_copy(pool, good_return, tmp_path / "c0")
        assert result.usable and (tmp_path / "c0" / "report" / "summary.json").exists()
        assert pool.pids() == [], "with nobody waiting the checker should exit after its check"

        waiting[0] = True  # a burst: each check finds the next upload waiting
        _check_copy(pool, good_return, tmp_path / "c1")
        kept = pool.pids()
        assert len(kept) == 1
        _check_copy(pool, good_return, tmp_path / "c2")
        assert pool.pids() == kept, "the kept checker was not reused"
        waiting[0] = False  # the waiting upload never came for it (a duplicate, say)
        _wait_for(lambda: pool.pids() == [], 10, "the unused checker to stop")
        _wait_for(lambda: process_gone(kept[0]), 10, "the checker process to exit")
    finally:
        pool.close()


def test_the_checker_environment_has_its_memory_settings_and_none_of_the_secrets(tmp_path):
    environ = {
        "PATH": "/usr/bin",
        "ASCLD_STORE_KEY": "k" * 44,
        "ASCLD_PSEUDO_KEY": "p" * 64,
        "ASCLD_PSEUDO_KEY_FILE": "/keys/pseudo.key",
        "ASCLD_STORE_KEY_FILE": "/keys/store.key",
        "ASCLD_DB_URL": "postgresql+psycopg://u:secret@db/x",
        "ASCLD_ADMIN_PASSWORD": "secret",
        "ASCLD_SPEC_OVERLAY": "/overlay.csv",
        "ARROW_DEFAULT_MEMORY_POOL": "jemalloc",
    }
    env = checker_env(300, tmp_path, environ)
    assert not {k for k in env if "KEY" in k or "PASSWORD" in k or "DB_URL" in k}
    assert "secret" not in json.dumps(env)
    assert env["ASCLD_MEMORY_LIMIT"] == "300MB" and env["TMPDIR"] == str(tmp_path)
    assert env["ASCLD_VALIDATOR_LOW_MEMORY"] == "1"  # one DuckDB thread after the scan (see docs/landing.md)
    assert env["ASCLD_SPEC_OVERLAY"] == "/overlay.csv" and env["PATH"] == "/usr/bin"
    assert env["ARROW_DEFAULT_MEMORY_POOL"] == "jemalloc"  # the operator's choice is kept
    assert env["DUCKDB_JE_MALLOC_CONF"].startswith("dirty_decay_ms:0")
    # The checker imports the same ascld as the service.
    import ascld

    env["PATH"] = os.environ.get("PATH", "")
    found = subprocess.run(
        [sys.executable, "-c", "import ascld; print(ascld.__file__)"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert Path(found).resolve() == Path(ascld.__file__).resolve()
