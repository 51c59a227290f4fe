"""Checks on receipt in a separate checker process, so the service process stays small whatever the file size.

The validator's DuckDB needs a few hundred megabytes for any file (its scan is one large query; its buffers
grow up to the memory limit with the file). Run inside the service, that memory stays with the service process
after the check, and a check that runs out of memory would take every upload and page down with it. Here
each check runs in a checker process, `python -m ascld.landing.checker`, one per check slot
(`max_concurrent_checks`):

- started on the first upload that needs it, with its own memory settings (`check_memory_mb` as the
  validator's `ASCLD_MEMORY_LIMIT`; DuckDB's and Arrow's allocators told to give freed memory back at once,
  the C library's malloc to keep one arena), and none of the service's secrets in its environment;
- used for one check and then stopped, so all its memory goes back to the system and every check starts
  from a fresh process; kept for the next check only when that upload is already waiting for it (a burst of
  uploads does not pay for a new process each time) or for `check_process_idle_seconds` if that is set, and
  replaced after `MAX_CHECKS_PER_PROCESS` checks (a reused process starts a check with some memory kept from
  the last one: in measurements its peak was 40-80 MB higher than a fresh process's);
- given one request at a time over a socket pair (one JSON line each way: the file to check, its council and
  where the report goes; the check's result, its seconds and the process's peak RSS); the file, the report
  and the validator's working files stay in the service's private temporary folder;
- gone within a second when the service process dies (it watches its parent), and, if it dies itself during
  a check, the upload fails with `CheckFailed` and nothing is kept.

The checker runs exactly `steps.check_return`, the function the service runs with `check_process` off.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import os
import site
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, BinaryIO

from ascld.errors import AscldError
from ascld.landing import steps

log = logging.getLogger(__name__)

MAX_CHECKS_PER_PROCESS = 20
# The service's secrets, which a checker never needs.
SECRET_ENV = frozenset(
    {
        "ASCLD_STORE_KEY",
        "ASCLD_STORE_KEY_FILE",
        "ASCLD_PSEUDO_KEY",
        "ASCLD_PSEUDO_KEY_FILE",
        "ASCLD_DB_URL",
        "ASCLD_ADMIN_PASSWORD",
        "ASCLD_TOKEN",
    }
)
# Allocator settings for the checker, unless the environment sets them: DuckDB's jemalloc and Arrow give
# freed memory back to the system at once instead of keeping it for reuse, and the C library's malloc (Python's
# objects, Arrow's system pool) keeps one arena instead of one per thread (peak at 1,000,000 rows 385 MB
# instead of 390-398; at 4,000,000 rows 417 instead of 424-437).
ALLOCATOR_ENV = {
    "DUCKDB_JE_MALLOC_CONF": "dirty_decay_ms:0,muzzy_decay_ms:0",
    "ARROW_DEFAULT_MEMORY_POOL": "system",
    "MALLOC_ARENA_MAX": "1",
}
PARENT_POLL_SECONDS = 0.5
# A checker kept for an upload that was waiting is stopped if that upload does not take it within this time.
WAITING_GRACE_SECONDS = 2.0


class CheckFailed(RuntimeError, AscldError):
    """A check could not be completed: the checker process failed or stopped. Nothing was kept."""


def checker_env(memory_mb: int, tmp_dir: Path, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The checker's environment: the service's, without its secrets, plus the check's memory settings."""
    environ = os.environ if environ is None else environ
    env = {k: v for k, v in environ.items() if k not in SECRET_ENV}
    for name, value in ALLOCATOR_ENV.items():
        env.setdefault(name, value)
    from ascld.quality.validate import LOW_MEMORY_ENV, MEMORY_LIMIT_ENV

    env[MEMORY_LIMIT_ENV] = f"{int(memory_mb)}MB"
    env[LOW_MEMORY_ENV] = "1"
    env["TMPDIR"] = str(tmp_dir)
    # The checker imports this same ascld: a source tree the service found some other way goes on its path
    # (an installed package is found anyway; site folders are not put ahead of the standard library).
    root = Path(steps.__file__).resolve().parents[2]
    site_dirs = {Path(p).resolve() for p in [*site.getsitepackages(), site.getusersitepackages()]}
    if root not in site_dirs:
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(root), env.get("PYTHONPATH", "")) if p)
    return env


class CheckerProcess:
    """One checker process and the service's end of its socket pair."""

    def __init__(self, env: Mapping[str, str], cwd: Path) -> None:
        ours, theirs = socket.socketpair()
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "ascld.landing.checker", str(theirs.fileno()), str(os.getpid())],
                pass_fds=(theirs.fileno(),),
                env=dict(env),
                cwd=cwd,
                stdin=subprocess.DEVNULL,
                start_new_session=True,  # a Ctrl-C at the terminal is for the service, which stops it
            )
        except BaseException:
            ours.close()
            raise
        finally:
            theirs.close()
        self.sock = ours
        self._rfile: BinaryIO = ours.makefile("rb")
        self._wfile: BinaryIO = ours.makefile("wb")
        self.checks = 0
        self.idle_since = time.monotonic()

    @property
    def pid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        return self.proc.poll() is None

    def request(self, message: Mapping[str, Any]) -> dict[str, Any]:
        """Send one request and wait for its answer.

        Raises:
            CheckFailed: the process stopped before answering.
        """
        try:
            self._wfile.write(json.dumps(message).encode() + b"\n")
            self._wfile.flush()
            line = self._rfile.readline()
        except OSError:
            line = b""
        if not line:
            code = self.proc.poll()
            raise CheckFailed(
                "the checker process stopped during the check" + (f" (exit status {code})" if code is not None else "")
            )
        self.checks += 1
        return dict(json.loads(line))

    def stop(self, timeout: float = 5) -> None:
        """Close the socket (the checker exits when it sees that), then make sure it is gone."""
        for f in (self._wfile, self._rfile, self.sock):
            with contextlib.suppress(OSError):
                f.close()
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


class CheckerPool:
    """Checker processes for one service process: at most one per check slot (the caller, `Lander`, limits how
    many checks run at once).

    Args:
        memory_mb: the validator's DuckDB memory limit in each checker.
        idle_seconds: how long a checker waits for another check before it exits (0: it exits at once unless
            `waiting()` says an upload is already waiting for a check).
        tmp_dir: the service's private temporary folder (the checker's working folder and TMPDIR).
        waiting: tells whether an upload is waiting for a check slot now.
    """

    def __init__(
        self,
        memory_mb: int,
        idle_seconds: float,
        tmp_dir: Path,
        waiting: Callable[[], bool] | None = None,
    ) -> None:
        self.memory_mb, self.idle_seconds, self.tmp_dir = memory_mb, idle_seconds, tmp_dir
        self._waiting = waiting or (lambda: False)
        self._idle: list[CheckerProcess] = []
        self._busy: set[CheckerProcess] = set()
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._closed = False

    def check(
        self,
        path: Path,
        *,
        la_code: str,
        report_dir: Path,
        max_problems: int,
        temp_dir: Path,
        display_name: str | None = None,
    ) -> steps.CheckResult:
        """`steps.check_return` in a checker process (same arguments, same result).

        Raises:
            CheckFailed: the checker process failed or stopped during the check.
        """
        proc = self._take()
        started = time.monotonic()
        try:
            answer = proc.request(
                {
                    "path": str(path),
                    "la_code": la_code,
                    "report_dir": str(report_dir),
                    "max_problems": max_problems,
                    "temp_dir": str(temp_dir),
                    "display_name": display_name,
                }
            )
        except BaseException:
            self._discard(proc)
            raise
        self._give_back(proc)
        if not answer.get("ok"):
            raise CheckFailed(f"the check failed in the checker process ({answer.get('error', 'unknown error')})")
        result = steps.CheckResult(**answer["result"])
        result.seconds = round(time.monotonic() - started, 3)
        result.peak_rss_mb = answer.get("peak_rss_mb")
        return result

    def _take(self) -> CheckerProcess:
        with self._lock:
            if self._closed:
                raise CheckFailed("the service is stopping")
            while self._idle:
                proc = self._idle.pop()
                if proc.alive():
                    self._busy.add(proc)
                    return proc
                proc.stop()
        proc = CheckerProcess(checker_env(self.memory_mb, self.tmp_dir), cwd=self.tmp_dir)
        with self._lock:
            self._busy.add(proc)
        log.info("started checker process %s", proc.pid)
        return proc

    def _give_back(self, proc: CheckerProcess) -> None:
        with self._lock:
            self._busy.discard(proc)
            keep = (
                not self._closed and proc.checks < MAX_CHECKS_PER_PROCESS and (self.idle_seconds > 0 or self._waiting())
            )
            if keep:
                proc.idle_since = time.monotonic()
                self._idle.append(proc)
                self._arm_timer()
        if not keep:  # the upload's answer need not wait for the process to exit
            threading.Thread(target=proc.stop, name="checker-stop", daemon=True).start()

    def _discard(self, proc: CheckerProcess) -> None:
        with self._lock:
            self._busy.discard(proc)
        if proc.alive():
            proc.proc.kill()
        proc.stop()

    def _arm_timer(self) -> None:
        """(Lock held.) Wake up once the oldest idle process has been idle for `idle_seconds`."""
        if self._timer is not None or not self._idle:
            return
        oldest = min(p.idle_since for p in self._idle)
        delay = max(0.05, oldest + self._keep_seconds() - time.monotonic())
        self._timer = threading.Timer(delay, self._reap)
        self._timer.daemon = True
        self._timer.start()

    def _keep_seconds(self) -> float:
        """How long an idle checker is kept: `idle_seconds`, or, for one kept for a waiting upload, long
        enough for that upload to take it."""
        return self.idle_seconds if self.idle_seconds > 0 else WAITING_GRACE_SECONDS

    def _reap(self) -> None:
        now = time.monotonic()
        with self._lock:
            self._timer = None
            expired = [p for p in self._idle if now - p.idle_since >= self._keep_seconds()]
            self._idle = [p for p in self._idle if p not in expired]
            self._arm_timer()
        for proc in expired:
            proc.stop()

    def pids(self) -> list[int]:
        """The checker processes running now (idle or busy)."""
        with self._lock:
            return [p.pid for p in [*self._idle, *self._busy] if p.alive()]

    def close(self) -> None:
        """Stop every checker process; a check still running fails with CheckFailed."""
        with self._lock:
            self._closed = True
            procs = [*self._idle, *self._busy]
            self._idle, self._busy = [], set()
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
        for proc in procs:
            if proc.alive():
                proc.proc.kill()
            proc.stop()


class InlineChecks:
    """`steps.check_return` in the service process itself (`check_process` off)."""

    def check(self, path: Path, **kwargs: Any) -> steps.CheckResult:
        started = time.monotonic()
        result = steps.check_return(path, **kwargs)
        result.seconds = round(time.monotonic() - started, 3)
        return result

    def pids(self) -> list[int]:
        return []

    def close(self) -> None:
        pass


def make_checks(settings: Any, tmp_dir: Path, waiting: Callable[[], bool] | None = None) -> CheckerPool | InlineChecks:
    """The service's way of checking, from its settings (`waiting`: see `CheckerPool`)."""
    if settings.check_process:
        return CheckerPool(settings.check_memory_mb, settings.check_process_idle_seconds, tmp_dir, waiting)
    return InlineChecks()


# --- the checker process ---------------------------------------------------------------------------------


def _peak_rss_mb() -> float | None:
    """This process's peak resident memory since the last reset (Linux), in MB."""
    try:
        with open("/proc/self/status", encoding="ascii") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        pass
    return None


def _reset_peak_rss() -> None:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
    except OSError:
        pass


def _watch_parent(parent_pid: int) -> None:
    """Exit as soon as the service process is gone (the checker would otherwise outlive a killed service)."""
    while True:
        if os.getppid() != parent_pid:
            os._exit(3)
        time.sleep(PARENT_POLL_SECONDS)


def _answer(request: Mapping[str, Any]) -> dict[str, Any]:
    _reset_peak_rss()
    try:
        result = steps.check_return(
            Path(request["path"]),
            la_code=str(request["la_code"]),
            report_dir=Path(request["report_dir"]),
            max_problems=int(request["max_problems"]),
            temp_dir=Path(request["temp_dir"]),
            display_name=request.get("display_name"),
        )
    except Exception as exc:  # noqa: BLE001 - reported to the service by type only (messages may quote data)
        log.warning("check failed: %s", type(exc).__name__)
        return {"ok": False, "error": type(exc).__name__, "peak_rss_mb": _peak_rss_mb()}
    fields = dataclasses.asdict(result)
    fields.pop("seconds", None)
    fields.pop("peak_rss_mb", None)
    return {"ok": True, "result": fields, "peak_rss_mb": _peak_rss_mb()}


def main(argv: list[str] | None = None) -> int:
    """The checker process: answer check requests on the socket given as fd, until the service closes it."""
    args = sys.argv[1:] if argv is None else argv
    fd, parent_pid = int(args[0]), int(args[1])
    threading.Thread(target=_watch_parent, args=(parent_pid,), name="watch-parent", daemon=True).start()
    sock = socket.socket(fileno=fd)
    rfile, wfile = sock.makefile("rb"), sock.makefile("wb")
    for line in rfile:
        answer = _answer(json.loads(line))
        wfile.write(json.dumps(answer, default=str).encode() + b"\n")
        wfile.flush()
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    sys.exit(main())
