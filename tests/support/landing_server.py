"""`ascld serve` in a child process, for tests that kill it, race it or drive it with a browser.

    server = LandingServer(tmp_path, db_url, accounts={"council_a": ("council_submitter", "101")})
    server.start()
    ...  server.url, server.tokens["council_a"]
    server.kill()      # SIGKILL, no goodbye
    server.start()     # same database and store
    server.stop()

The database is migrated and the accounts seeded through the library before the first start; keys live in a
folder beside (not inside) the store.
"""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from ascld.landing.auth import hash_password
from ascld.landing.db import Database, migrate
from ascld.landing.settings import generate_key_file
from support.landing import PASSWORD, seed
from support.postgres import free_port


@dataclass
class LandingServer:
    """A landing service process on a free loopback port."""

    root: Path
    db_url: str
    accounts: Mapping[str, tuple[str, str | None]]
    settings: Mapping[str, object] = field(default_factory=dict)
    port: int = field(default_factory=free_port)
    tokens: dict[str, str] = field(default_factory=dict)
    proc: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def __post_init__(self) -> None:
        self.store = self.root / "store"
        self.keys = self.root / "keys"
        self.keys.mkdir(parents=True, exist_ok=True)
        self.store_key = generate_key_file(self.keys / "store.key")
        self.pseudo_key = self.keys / "pseudo.key"
        self.pseudo_key.write_text(secrets.token_hex(32) + "\n")
        self.log_path = self.root / "server.log"
        db = Database(self.db_url)
        try:
            migrate(db)
            self.tokens, _ = seed(db, hash_password(PASSWORD), self.accounts)
        finally:
            db.dispose()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def national_dir(self) -> Path:
        return self.store / "national"

    def command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-c",
            "from ascld.cli import main; main()",
            "serve",
            "--db",
            self.db_url,
            "--store",
            str(self.store),
            "--store-key-file",
            str(self.store_key),
            "--pseudo-key-file",
            str(self.pseudo_key),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--log-level",
            "warning",
        ]
        defaults = {"cookie_secure": "false", "worker_poll_seconds": "0.2", "job_lease_seconds": "2"}
        for name, value in {**defaults, **{k: str(v) for k, v in self.settings.items()}}.items():
            cmd += ["--setting", name, str(value)]
        return cmd

    def start(self, extra_env: Mapping[str, str] | None = None, timeout: float = 60) -> None:
        """Start the process and wait until /healthz answers."""
        env = {k: v for k, v in os.environ.items() if not k.startswith("ASCLD_TEST_")}
        env.update(extra_env or {})
        self.starts += 1
        log = open(self.log_path, "ab")  # noqa: SIM115 - handed to the child
        log.write(f"--- start {self.starts}\n".encode())
        log.flush()
        self.proc = subprocess.Popen(
            self.command(), stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
        log.close()
        deadline = time.monotonic() + timeout
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the server exited with {self.proc.returncode}:\n{self.log()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if time.monotonic() > deadline:
                self.kill()
                raise RuntimeError(f"the server did not start in {timeout}s:\n{self.log()}")
            time.sleep(0.1)

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def kill(self) -> None:
        """SIGKILL: the process gets no chance to clean up."""
        if self.proc is not None and self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill()

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")[-4000:] if self.log_path.exists() else ""

    def client(self, user: str, **kwargs: object) -> httpx.Client:
        return httpx.Client(
            base_url=self.url,
            headers={"Authorization": f"Bearer {self.tokens[user]}"},
            timeout=httpx.Timeout(60, read=600),
            **kwargs,
        )  # type: ignore[arg-type]

    def __enter__(self) -> LandingServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def child_pids(pid: int) -> list[int]:
    """The processes `pid` started that are still its children (Linux: /proc/PID/task/*/children)."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").glob("*"):
        try:
            found += [int(x) for x in (task / "children").read_text().split()]
        except OSError:
            continue
    return sorted(set(found))


def process_gone(pid: int) -> bool:
    """True when `pid` has exited (a zombie waiting for its new parent to reap it counts as gone)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return True
    return state in ("Z", "X")
