"""Fixtures for the landing service tests: every test that takes `landing` runs on SQLite and on PostgreSQL.

PostgreSQL is a throwaway cluster on loopback (tests/support/postgres.py), started once per session and given
a fresh database per test. Accounts are seeded straight into the database (one Argon2 hash per session) so the
tests spend their time on the service, not on password hashing; log-in itself is tested through the form.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from ascld.landing.app import create_app
from ascld.landing.auth import hash_password
from ascld.landing.db import Database, migrate
from support.landing import LA_A, LA_B, PASSWORD, Landing, make_config, make_return, seed

BACKENDS = [
    pytest.param("sqlite", id="sqlite"),
    pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
]


@pytest.fixture(scope="session")
def password_hash() -> str:
    return hash_password(PASSWORD)


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[object]:
    from support.postgres import postgres_cluster

    with postgres_cluster() as pg:
        yield pg


def _new_database(request: pytest.FixtureRequest, folder: Path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite:///{folder / 'landing.sqlite'}"
        return
    pg = request.getfixturevalue("pg_cluster")
    name = f"t_{secrets.token_hex(6)}"
    url = pg.create_database(name)
    yield url
    pg.drop_database(name)


@pytest.fixture(params=BACKENDS)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty metadata database on each backend (one per test)."""
    yield from _new_database(request, tmp_path)


@pytest.fixture(scope="module", params=BACKENDS)
def module_db_url(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A fresh, empty metadata database on each backend, shared by one test module."""
    yield from _new_database(request, tmp_path_factory.mktemp("db"))


@pytest.fixture(scope="session")
def pseudo_key_file(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("keys") / "pseudo.key"
    path.write_text(secrets.token_hex(32) + "\n")
    return path


def start_landing(
    folder: Path, db_url: str, password_hash: str, pseudo_key_file: Path, **settings: object
) -> Landing:
    """Migrate and seed the database, then start the service in this process (no worker thread).

    Checks run in this process unless a test asks for checker processes (`check_process=True`): the live
    server and browser tests, and tests/service/test_checker.py, run them as `ascld serve` does.
    """
    settings = {"check_process": False, **settings}
    config = make_config(folder, db_url, pseudo_key_file, **settings)
    db = Database(config.db_url)
    migrate(db)
    tokens, ids = seed(db, password_hash)
    db.dispose()
    app = create_app(config)
    client = TestClient(app, base_url="https://testserver")
    client.__enter__()
    return Landing(config, app, client, tokens, ids)


@pytest.fixture
def landing_factory(tmp_path: Path, db_url: str, password_hash: str, pseudo_key_file: Path):
    """Build a Landing with chosen settings (once per test)."""
    made: list[Landing] = []

    def factory(**settings: object) -> Landing:
        made.append(start_landing(tmp_path, db_url, password_hash, pseudo_key_file, **settings))
        return made[-1]

    yield factory
    for landing in made:
        landing.client.__exit__(None, None, None)


@pytest.fixture
def landing(landing_factory) -> Landing:
    return landing_factory()


@pytest.fixture(scope="module")
def shared_landing(
    module_db_url: str, tmp_path_factory: pytest.TempPathFactory, password_hash: str, pseudo_key_file: Path
) -> Iterator[Landing]:
    """One service shared by a module's tests, for tests that only add to it (its state carries over)."""
    landing = start_landing(tmp_path_factory.mktemp("shared"), module_db_url, password_hash, pseudo_key_file)
    yield landing
    landing.client.__exit__(None, None, None)


@pytest.fixture(scope="session")
def returns_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("returns")


@pytest.fixture(scope="session")
def good_return(returns_dir: Path) -> Path:
    return make_return(returns_dir / "q2_council_a.csv", 30, la_code=LA_A)


@pytest.fixture(scope="session")
def good_return_b(returns_dir: Path) -> Path:
    return make_return(returns_dir / "q2_council_b.csv", 30, la_code=LA_B, seed=2)


@pytest.fixture(scope="session")
def bad_return(returns_dir: Path, good_return: Path) -> Path:
    """A transport failure: the header row is not the specification's (a column renamed)."""
    text = good_return.read_bytes().split(b"\r\n", 1)
    header = text[0].replace(b"Event Type", b"EventType", 1)
    assert header != text[0]
    path = returns_dir / "bad_header.csv"
    path.write_bytes(header + b"\r\n" + text[1])
    return path
