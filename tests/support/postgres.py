"""A throwaway PostgreSQL cluster on loopback, for tests that need a real server.

    with postgres_cluster() as pg:
        url = pg.create_database("mytest")      # postgresql+psycopg://ascld:...@127.0.0.1:PORT/mytest
        ...

The cluster is made with the PostgreSQL server binaries (`initdb`, `pg_ctl` on PATH, or Debian's
/usr/lib/postgresql/<version>/bin) in a temporary folder, listens on 127.0.0.1 on a free port only (no Unix
socket outside that folder), uses password (SCRAM) authentication, and is stopped and deleted on exit. initdb
refuses to run as root, so as root the server runs as an unprivileged user (`postgres` by default, created
with useradd if missing) that owns the folder.

When the binaries are missing the helper skips the test, unless `CI=true` or `ASCLD_REQUIRE_SERVICES=1`, where
it fails: the suite must not go green by quietly leaving PostgreSQL out.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from support import services_required

SERVER_USER = os.environ.get("ASCLD_PG_USER", "postgres")


def find_pg_bin() -> Path | None:
    """The folder holding initdb and pg_ctl, or None."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    return Path(candidates[0]).parent if candidates else None


def require_pg_bin() -> Path:
    """The binaries' folder, or skip (fail when services are required)."""
    found = find_pg_bin()
    if found is None:
        message = "PostgreSQL server binaries (initdb, pg_ctl) not found; install Debian's postgresql package"
        if services_required():
            pytest.fail(message + " (required: CI=true or ASCLD_REQUIRE_SERVICES=1)")
        pytest.skip(message)
    return found


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _server_user() -> pwd.struct_passwd | None:
    """The account to run the server as: None when not root (run as ourselves)."""
    if os.geteuid() != 0:
        return None
    try:
        return pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", SERVER_USER],
            check=True,
            capture_output=True,
        )
        return pwd.getpwnam(SERVER_USER)


@dataclass
class PostgresCluster:
    """A running throwaway cluster.

    Attributes:
        port: the loopback port it listens on.
        user, password: the superuser made by initdb (password authentication on 127.0.0.1).
    """

    bin_dir: Path
    root: Path
    port: int
    user: str = "ascld"
    password: str = field(default_factory=lambda: secrets.token_hex(16), repr=False)
    host: str = "127.0.0.1"

    def url(self, database: str = "postgres", driver: str = "postgresql+psycopg") -> str:
        """SQLAlchemy URL of one database in the cluster."""
        return f"{driver}://{self.user}:{self.password}@{self.host}:{self.port}/{database}"

    def dsn(self, database: str = "postgres") -> str:
        """libpq connection string (for psycopg directly)."""
        return (
            f"host={self.host} port={self.port} user={self.user} password={self.password} dbname={database}"
        )

    def create_database(self, name: str) -> str:
        """Create a database and return its SQLAlchemy URL."""
        import psycopg

        if not name.replace("_", "").isalnum():
            raise ValueError(f"unsafe database name {name!r}")
        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)

    def drop_database(self, name: str) -> None:
        import psycopg

        with psycopg.connect(self.dsn(), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _run(
    cmd: list[str], user: pwd.struct_passwd | None, **kwargs: object
) -> subprocess.CompletedProcess[str]:
    def demote() -> None:
        if user is not None:
            os.setgid(user.pw_gid)
            os.initgroups(user.pw_name, user.pw_gid)
            os.setuid(user.pw_uid)

    env = {"PATH": os.environ.get("PATH", ""), "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8"}
    return subprocess.run(
        cmd,
        preexec_fn=demote,
        env=env,
        text=True,
        capture_output=True,  # noqa: PLW1509
        **kwargs,
    )  # type: ignore[call-overload]


@contextlib.contextmanager
def postgres_cluster(bin_dir: Path | None = None) -> Iterator[PostgresCluster]:
    """Start a throwaway cluster on loopback; stop it and delete its files on exit.

    Args:
        bin_dir: folder with initdb and pg_ctl (default: found on PATH or under /usr/lib/postgresql).

    Yields:
        The running cluster.
    """
    bin_dir = bin_dir or require_pg_bin()
    user = _server_user()
    root = Path(tempfile.mkdtemp(prefix="ascld-pg-"))
    cluster = PostgresCluster(bin_dir, root, free_port())
    data, sock, pwfile = root / "data", root / "sock", root / "pw"
    sock.mkdir()
    pwfile.write_text(cluster.password + "\n")
    if user is not None:
        for path in (root, sock, pwfile):
            os.chown(path, user.pw_uid, user.pw_gid)
    os.chmod(pwfile, 0o600)
    started = False
    try:
        result = _run(
            [
                str(bin_dir / "initdb"),
                "-D",
                str(data),
                "-U",
                cluster.user,
                "--pwfile",
                str(pwfile),
                "--auth-host=scram-sha-256",
                "--auth-local=scram-sha-256",
                "-E",
                "UTF8",
                "--no-instructions",
            ],
            user,
        )
        if result.returncode != 0:
            raise RuntimeError(f"initdb failed: {result.stderr.strip()}")
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={cluster.port} -c unix_socket_directories={sock} "
            "-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 "
            "-c shared_buffers=64MB"
        )
        for _ in range(3):
            result = _run(
                [
                    str(bin_dir / "pg_ctl"),
                    "-D",
                    str(data),
                    "-o",
                    options,
                    "-l",
                    str(root / "log"),
                    "-w",
                    "-t",
                    "60",
                    "start",
                ],
                user,
            )
            if result.returncode == 0:
                break
            # The port was taken between choosing it and binding: try another.
            cluster.port = free_port()
            options = options.replace(options.split("port=")[1].split()[0], str(cluster.port), 1)
        if result.returncode != 0:
            log = (root / "log").read_text(errors="replace") if (root / "log").exists() else ""
            raise RuntimeError(f"pg_ctl start failed: {result.stderr.strip()} {log[-2000:]}")
        started = True
        _wait_ready(cluster)
        yield cluster
    finally:
        if started:
            _run([str(bin_dir / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], user)
        shutil.rmtree(root, ignore_errors=True)


def _wait_ready(cluster: PostgresCluster, timeout: float = 30) -> None:
    import psycopg

    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(cluster.dsn(), connect_timeout=2):
                return
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)
