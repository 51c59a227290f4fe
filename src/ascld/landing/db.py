"""Connections to the metadata database and its Alembic migrations.

SQLite (the embedded default) runs in WAL mode with full fsync, foreign keys on, and every transaction started
with `BEGIN IMMEDIATE`, so concurrent writers wait for each other instead of failing. PostgreSQL (production)
uses an ordinary connection pool. Transactions are kept short: nothing slow (receiving, checking, encrypting)
happens while one is open.

Alembic is imported only to migrate (`ascld serve --init` / `--migrate`): the check at start-up that the schema
is current reads the migration files' revision ids itself, so the service process does not carry Alembic,
Mako and Pygments (about 12 MB) for its lifetime.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from contextlib import contextmanager
from importlib import resources
from typing import TYPE_CHECKING, Any

from sqlalchemy import create_engine, event, inspect, text
from sqlalchemy.engine import Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.orm import Session, sessionmaker

from ascld.errors import UsageError

if TYPE_CHECKING:
    from alembic.config import Config as AlembicConfig

# Alembic's default table for the revision a database is at (env.py does not change it).
VERSION_TABLE = "alembic_version"


def make_engine(url: str) -> Engine:
    """An Engine for `url`, tuned for the service (see the module docstring)."""
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        # Not echoed: the text may hold a password.
        raise UsageError(
            "the database address given (--db or ASCLD_DB_URL) is not a database address: use sqlite:///PATH "
            "or postgresql+psycopg://USER@HOST/DB."
        ) from None
    if parsed.get_backend_name() == "sqlite":
        engine = create_engine(url, connect_args={"check_same_thread": False, "timeout": 60})

        @event.listens_for(engine, "connect")
        def _sqlite_connect(dbapi_conn: Any, _record: Any) -> None:
            dbapi_conn.isolation_level = None  # SQLAlchemy's "begin" hook below starts transactions itself
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA synchronous=FULL")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=60000")
            cur.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if parsed.get_backend_name() == "postgresql":
        return create_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)
    raise UsageError(
        f"unsupported database {parsed.get_backend_name()!r}: use sqlite:///PATH or postgresql+psycopg://USER@HOST/DB."
    )


class Database:
    """The engine and a session factory; `tx()` gives one short transaction."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self._sessions = sessionmaker(self.engine, expire_on_commit=False)

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @contextmanager
    def tx(self) -> Iterator[Session]:
        """A session inside one transaction: committed on success, rolled back on error, always closed."""
        with self._sessions() as session, session.begin():
            yield session

    def dispose(self) -> None:
        self.engine.dispose()


def alembic_config(url: str) -> AlembicConfig:
    """An Alembic configuration for the migrations shipped inside the package."""
    from alembic.config import Config as AlembicConfig

    cfg = AlembicConfig()
    cfg.set_main_option("script_location", str(resources.files("ascld.landing") / "migrations"))
    cfg.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return cfg


def migrate(db: Database, revision: str = "head") -> None:
    """Bring the database schema up to `revision` (creating it when empty)."""
    from alembic import command

    cfg = alembic_config(db.url)
    with db.engine.connect() as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, revision)
        conn.commit()


def head_revisions() -> set[str]:
    """The newest migration(s): the `revision` of each file in migrations/versions that no other file's
    `down_revision` names (what Alembic's `ScriptDirectory.get_heads()` gives, without importing Alembic)."""
    revisions: set[str] = set()
    parents: set[str] = set()
    for script in (resources.files("ascld.landing") / "migrations" / "versions").iterdir():
        if not script.name.endswith(".py"):
            continue
        for node in ast.parse(script.read_text(encoding="utf-8")).body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
                name = node.targets[0].id
                if name not in ("revision", "down_revision"):
                    continue
                value = ast.literal_eval(node.value)
                values = {value} if isinstance(value, str) else set(value or ())
                (revisions if name == "revision" else parents).update(values)
    return revisions - parents


def schema_is_current(db: Database) -> bool:
    """True when the database is at the newest migration."""
    with db.engine.connect() as conn:
        if not inspect(conn).has_table(VERSION_TABLE):
            return False
        current = set(conn.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars())
    return current == head_revisions()


def require_current_schema(db: Database) -> None:
    """Refuse a database that is not at the newest migration.

    Raises:
        UsageError: the schema is missing or old (the message says which command sets it up).
    """
    if not schema_is_current(db):
        raise UsageError(
            "the landing database is not set up or is out of date: run `ascld serve --init` "
            "(new database) or `ascld serve --migrate` (existing one)."
        )
