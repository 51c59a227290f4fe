"""Killing an ingest part-way leaves the store readable, without the partial import; a rerun completes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from ascld.national.ingest import PAUSE_ENV, PAUSE_FILE_ENV
from ascld.national.store import NationalStore

HERE = Path(__file__).parent
JOB = (
    "import sys; sys.path.insert(0, sys.argv[1]); import ingest_fixtures as fx; "
    "fx.run_ingest_job(*sys.argv[2:])"
)


def start_job(store: Path, work: Path, sha: str, pause: str | None = None) -> tuple[subprocess.Popen, Path]:
    env = dict(os.environ)
    marker = work / f"paused-{sha}"
    if pause:
        env[PAUSE_ENV] = pause
        env[PAUSE_FILE_ENV] = str(marker)
    proc = subprocess.Popen(
        [sys.executable, "-c", JOB, str(HERE), str(store), str(work), sha],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    return proc, marker


def row_count(store: NationalStore) -> int:
    con = duckdb.connect()
    store.register_duckdb(con, "cld")
    return con.execute("SELECT count(*) FROM cld").fetchall()[0][0]


@pytest.mark.parametrize("stage", ["after_rows_written", "before_rename", "before_register"])
def test_sigkill_mid_ingest_leaves_no_partial_import_and_rerun_completes(tmp_path, stage):
    store_dir = tmp_path / "store"
    proc, _ = start_job(store_dir, tmp_path, "first")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    store = NationalStore(store_dir)
    before = row_count(store)
    assert before == 60 and len(store.imports()) == 1

    proc, marker = start_job(store_dir, tmp_path, "second", pause=stage)
    deadline = time.monotonic() + 120
    while not marker.exists():
        assert proc.poll() is None, proc.communicate()[1]
        assert time.monotonic() < deadline, "the ingest never reached the pause point"
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    # something was left on disk, but the store shows only the first import and reads cleanly
    leftovers = list((store_dir / "_tmp").iterdir()) + [
        d for d in (store_dir / "data").glob("la=*/import=*") if d.name != "import=00000001"
    ]
    assert leftovers, "the kill came too late to test anything"
    assert [r.import_id for r in store.imports()] == ["00000001"]
    assert row_count(store) == before

    proc, _ = start_job(store_dir, tmp_path, "second")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, err
    assert out.split() == ["stored", "00000002", "60"]
    assert row_count(store) == 2 * before
    assert list((store_dir / "_tmp").iterdir()) == []
    folders = sorted(d.name for d in (store_dir / "data").glob("la=*/import=*"))
    assert folders == ["import=00000001", "import=00000002"]
    ids = [r.first_record_id for r in store.imports()]
    assert ids == [1, 61]
