"""The migrations and the models agree, and the audit table is append-only, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from ascld.landing.audit import SYSTEM, record_event
from ascld.landing.db import Database, migrate, schema_is_current
from ascld.landing.models import Base


@pytest.fixture
def db(db_url):
    database = Database(db_url)
    migrate(database)
    yield database
    database.dispose()


def test_migrations_match_the_models(db):
    with db.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata)
    assert diff == []
    assert schema_is_current(db)


def test_migrating_twice_changes_nothing(db):
    migrate(db)
    assert schema_is_current(db)


@pytest.mark.parametrize(
    "statement", ["UPDATE audit_events SET actor = 'someone else'", "DELETE FROM audit_events"]
)
def test_audit_events_cannot_be_changed_or_deleted(db, statement):
    with db.tx() as s:
        record_event(s, SYSTEM, "deletion", detail={"rows": 1})
    with pytest.raises(DBAPIError, match="append-only"), db.engine.begin() as conn:
        conn.execute(text(statement))
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT actor FROM audit_events")).scalars().all() == ["system"]


def test_audit_detail_refuses_identifying_looking_values(db):
    from ascld.landing.audit import UnsafeAuditDetail

    for value in ("999 000 0018", "LS1 4AP", "01/02/1950"):
        with pytest.raises(UnsafeAuditDetail), db.tx() as s:
            record_event(s, SYSTEM, "deletion", detail={"note": value})
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_events")).scalar() == 0
