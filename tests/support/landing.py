"""Helpers for landing service tests (fixtures live in tests/service/conftest.py; importable from tests and
benchmarks alike because tests/support is a package)."""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fastapi.testclient import TestClient

from ascld.landing.auth import ADMIN, ANALYST, COUNCIL, DPO, PROCESSOR
from ascld.landing.db import Database
from ascld.landing.models import Council, User, utcnow
from ascld.landing.settings import LandingConfig, Settings
from ascld.landing.tokens import create_token

PASSWORD = "synthetic-test-password-1"
LA_A, LA_B = "101", "102"
# user name -> (role, council)
ACCOUNTS = {
    "council_a": (COUNCIL, LA_A),
    "council_b": (COUNCIL, LA_B),
    "processor": (PROCESSOR, None),
    "analyst": (ANALYST, None),
    "dpo": (DPO, None),
    "admin": (ADMIN, None),
}


def make_config(tmp_path: Path, db_url: str, pseudo_key_file: Path, **settings: object) -> LandingConfig:
    values = {"worker_threads": 0, **settings}
    return LandingConfig(
        db_url=db_url,
        store_dir=tmp_path / "store",
        store_key=os.urandom(32),
        national_dir=tmp_path / "national",
        settings=Settings(**values),  # type: ignore[arg-type]
        pseudo_key_file=pseudo_key_file,
    )


@dataclass
class Landing:
    """A migrated, seeded landing service in this process (no worker thread: call `run_jobs`)."""

    config: LandingConfig
    app: object
    client: TestClient
    tokens: dict[str, str] = field(default_factory=dict)
    user_ids: dict[str, int] = field(default_factory=dict)

    @property
    def state(self):  # noqa: ANN201
        return self.app.state.landing

    def api(self, user: str) -> TestClient:
        """A client that sends `user`'s API token (no cookies)."""
        c = TestClient(self.app, base_url="https://testserver")
        c.headers["Authorization"] = f"Bearer {self.tokens[user]}"
        return c

    def browser(self, user: str) -> TestClient:
        """A client with a web session for `user` (cookie); `.csrf` holds the session's CSRF token.

        The session is opened as the log-in form opens it (`auth.start_session`), without the form's Argon2
        check, which tests/service/test_auth.py covers.
        """
        from ascld.landing.auth import start_session
        from ascld.landing.models import User, WebSession

        c = TestClient(self.app, base_url="https://testserver")
        with self.state.db.tx() as s:
            cookie = start_session(s, s.get(User, self.user_ids[user]), self.config.settings, "testclient")
        with self.state.db.tx() as s:
            from ascld.landing.auth import sha256_hex

            c.csrf = s.get(WebSession, sha256_hex(cookie)).csrf_token  # type: ignore[attr-defined]
        c.cookies.set("ascld_session", cookie)
        return c

    def run_jobs(self) -> int:
        """Run queued jobs until none is left; returns how many ran."""
        n = 0
        while self.state.worker.run_once():
            n += 1
        return n


def login(client: TestClient, user: str, password: str = PASSWORD) -> object:
    page = client.get("/login")
    token = page.text.split('name="csrf_token" value="')[1].split('"')[0]
    return client.post(
        "/login", data={"username": user, "password": password, "csrf_token": token}, follow_redirects=False
    )


def seed(
    db: Database, password_hash: str, accounts: Mapping[str, tuple[str, str | None]] = ACCOUNTS
) -> tuple[dict[str, str], dict[str, int]]:
    """Councils, accounts (PASSWORD's hash) and one API token each: (name -> token, name -> user id)."""
    tokens: dict[str, str] = {}
    ids: dict[str, int] = {}
    with db.tx() as s:
        for la in sorted({la for _, la in accounts.values() if la}):
            s.add(Council(la_code=la, name=f"Council {la}", created_at=utcnow()))
        s.flush()
        for name, (role, la) in accounts.items():
            user = User(
                username=name,
                password_hash=password_hash,
                role=role,
                la_code=la,
                active=True,
                failed_logins=0,
                created_at=utcnow(),
            )
            s.add(user)
            s.flush()
            ids[name] = user.id
            _, tokens[name] = create_token(s, user, "tests", Settings())
    return tokens, ids


def days_ago(days: float) -> dt.datetime:
    return utcnow() - dt.timedelta(days=days)


def make_return(path: Path, rows: int, *, la_code: str, seed: int = 1) -> Path:
    """A clean synthetic return for one council (the validator's seeded sample generator)."""
    from ascld.quality.sample import write_sample_return

    return write_sample_return(path, rows, seed=seed, la_code=la_code)
