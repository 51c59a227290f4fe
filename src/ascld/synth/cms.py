"""The synthetic councils' case-management database: schema (SQLAlchemy Core) and writer.

The schema has the shape of a real adult social care case-management system, with the council's own local
codes (see `lookup_code` and `ascld/synth/data/local_codes.csv`), never CLD values. It holds records an
extraction must leave out (cancelled events, open requests and assessments, safeguarding concerns, DoLS /
safeguarding / mental capacity / Mental Health Act assessments). The schema is written once here and works on
SQLite (the default) and PostgreSQL. docs/synth.md documents every table and the extraction rules.

Tables:

| table | one row per | key columns |
|---|---|---|
| `council` | the council (one row) | la_code, la_name, snapshot_date |
| `lookup_code` | local code | domain, code, description, active |
| `gp_practice` | GP practice | practice_code, practice_name |
| `provider` | provider location | provider_id, provider_name, cqc_location_id, provider_type, postcode |
| `client` | person (client or carer) | client_id, la_person_ref, nhs_number, names, date_of_birth, codes... |
| `client_address` | address period | client_id, postcode, accommodation_code, start_date, end_date |
| `contact` | contact (request) | client_id, client_role, contact_type_code, contact_date, completed_date |
| `assessment` | assessment | client_id, client_role, assessment_type_code, start_date, end_date, ... |
| `service_agreement` | package or placement | client_id, client_role, setting_code, delivery_code |
| `service_line` | component of an agreement | agreement_id, component_code, start_date, end_date |
| `service_line_cost` | unit cost from a date | line_id, effective_from, unit_cost |
| `review` | review | client_id, client_role, review_type_code, start_date, end_date, ... |
| `carer_link` | carer caring for a client | carer_client_id, cared_for_client_id, start_date, end_date |

Examples:
    >>> sorted(metadata.tables)[:3]
    ['assessment', 'carer_link', 'client']
"""

from __future__ import annotations

import datetime as dt
import decimal
import warnings
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Date,
    ForeignKey,
    Integer,
    MetaData,
    Numeric,
    String,
    Table,
    create_engine,
    event,
    text,
)
from sqlalchemy import exc as sa_exc
from sqlalchemy.engine import Engine

from ascld.synth.model import CouncilWorld
from ascld.synth.reference import load_reference

metadata = MetaData()

council_table = Table(
    "council",
    metadata,
    Column("la_code", String(3), primary_key=True),
    Column("la_name", String(100), nullable=False),
    Column(
        "snapshot_date", Date, nullable=False, comment="the database is a copy of the system at this date"
    ),
)
lookup_code = Table(
    "lookup_code",
    metadata,
    Column("domain", String(40), primary_key=True),
    Column("code", String(20), primary_key=True),
    Column("description", String(200), nullable=False),
    Column("active", Boolean, nullable=False),
)
gp_practice = Table(
    "gp_practice",
    metadata,
    Column("practice_code", String(6), primary_key=True),
    Column("practice_name", String(100), nullable=False),
)
provider = Table(
    "provider",
    metadata,
    Column("provider_id", Integer, primary_key=True),
    Column("provider_name", String(100), nullable=False),
    Column("cqc_location_id", String(20)),
    Column("provider_type", String(20), nullable=False),
    Column("postcode", String(8)),
)
client = Table(
    "client",
    metadata,
    Column("client_id", Integer, primary_key=True),
    Column("la_person_ref", String(20), nullable=False, unique=True),
    Column("nhs_number", String(10)),
    Column("forename", String(60)),
    Column("surname", String(60)),
    Column("date_of_birth", Date, nullable=False),
    Column("date_of_death", Date),
    Column("gender_code", String(2), nullable=False),
    Column("ethnicity_code", String(6), nullable=False),
    Column("primary_support_reason_code", String(10)),
    Column("employment_code", String(10)),
    Column("has_carer_code", String(2), nullable=False),
    Column("autism_code", String(2)),
    Column("dementia_code", String(2)),
    Column("visual_code", String(10)),
    Column("hearing_code", String(10)),
    Column("funding_code", String(6)),
    Column("practice_code", String(6), ForeignKey("gp_practice.practice_code")),
)
client_address = Table(
    "client_address",
    metadata,
    Column("address_id", Integer, primary_key=True),
    Column("client_id", Integer, ForeignKey("client.client_id"), nullable=False),
    Column("postcode", String(8), nullable=False),
    Column("accommodation_code", String(10), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date),
)
contact = Table(
    "contact",
    metadata,
    Column("contact_id", Integer, primary_key=True),
    Column("client_id", Integer, ForeignKey("client.client_id"), nullable=False),
    Column("client_role", String(6), nullable=False),
    Column("contact_type_code", String(10), nullable=False),
    Column("contact_date", Date, nullable=False),
    Column("completed_date", Date),
    Column("status_code", String(10), nullable=False),
    Column("route_code", String(10)),
    Column("outcome_code", String(12)),
)
assessment = Table(
    "assessment",
    metadata,
    Column("assessment_id", Integer, primary_key=True),
    Column("client_id", Integer, ForeignKey("client.client_id"), nullable=False),
    Column("client_role", String(6), nullable=False),
    Column("assessment_type_code", String(10), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date),
    Column("status_code", String(10), nullable=False),
    Column("outcome_code", String(12)),
    Column("eligibility_code", String(2)),
    Column("method_code", String(4)),
)
service_agreement = Table(
    "service_agreement",
    metadata,
    Column("agreement_id", Integer, primary_key=True),
    Column("client_id", Integer, ForeignKey("client.client_id"), nullable=False),
    Column("client_role", String(6), nullable=False),
    Column("setting_code", String(12), nullable=False),
    Column("delivery_code", String(6)),
    Column("provider_id", Integer, ForeignKey("provider.provider_id")),
    Column("start_date", Date, nullable=False),
    Column("status_code", String(10), nullable=False),
)
service_line = Table(
    "service_line",
    metadata,
    Column("line_id", Integer, primary_key=True),
    Column("agreement_id", Integer, ForeignKey("service_agreement.agreement_id"), nullable=False),
    Column("component_code", String(10), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date),
    Column("status_code", String(10), nullable=False),
    Column("end_reason_code", String(12)),
    Column("unit_type_code", String(6)),
    Column("planned_units", Numeric(10, 2)),
)
service_line_cost = Table(
    "service_line_cost",
    metadata,
    Column("line_id", Integer, ForeignKey("service_line.line_id"), primary_key=True),
    Column("effective_from", Date, primary_key=True),
    Column("unit_cost", Numeric(12, 2), nullable=False),
)
review = Table(
    "review",
    metadata,
    Column("review_id", Integer, primary_key=True),
    Column("client_id", Integer, ForeignKey("client.client_id"), nullable=False),
    Column("client_role", String(6), nullable=False),
    Column("review_type_code", String(10), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date),
    Column("status_code", String(10), nullable=False),
    Column("outcome_code", String(12)),
    Column("outcomes_achieved_code", String(4)),
    Column("method_code", String(4)),
)
carer_link = Table(
    "carer_link",
    metadata,
    Column("link_id", Integer, primary_key=True),
    Column("carer_client_id", Integer, ForeignKey("client.client_id"), nullable=False),
    Column("cared_for_client_id", Integer, ForeignKey("client.client_id"), nullable=False),
    Column("start_date", Date, nullable=False),
    Column("end_date", Date),
    Column("hours_per_week", Integer),
)

# Indexes are created after the tables, in this fixed order: SQLAlchemy keeps a table's indexes in a set,
# whose order (and so the database's bytes) would vary from process to process.
INDEXES = (
    ("client_address", "client_id"), ("contact", "client_id"), ("assessment", "client_id"),
    ("service_agreement", "client_id"), ("service_line", "agreement_id"), ("review", "client_id"),
    ("carer_link", "carer_client_id"), ("carer_link", "cared_for_client_id"),
)
BATCH = 5000


def _d(ordinal: int | None) -> dt.date | None:
    return None if ordinal is None else dt.date.fromordinal(ordinal)


def _dec(text: str | None) -> decimal.Decimal | None:
    return None if text is None else decimal.Decimal(text)


def cms_engine(url: str) -> Engine:
    """An engine for a case-management database URL; SQLite gets bulk-load pragmas (a fresh file each run)."""
    engine = create_engine(url)
    if engine.dialect.name == "sqlite":

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_connection: Any, _record: Any) -> None:
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=OFF")
            cursor.execute("PRAGMA synchronous=OFF")
            cursor.close()

    return engine


def sqlite_url(path: str | Path) -> str:
    return f"sqlite:///{Path(path).resolve()}"


def _rows(world: CouncilWorld) -> Iterator[tuple[Table, Iterable[dict[str, Any]]]]:
    ref = load_reference()
    w = world
    yield (
        council_table,
        [{"la_code": w.council.la_code, "la_name": w.council.la_name, "snapshot_date": _d(w.snapshot)}],
    )
    yield (
        lookup_code,
        [
            {"domain": c.domain, "code": c.code, "description": c.description, "active": True}
            for c in ref.codes.values()
            if c.domain not in ("event_table", "extract_rule")
        ],
    )
    practices = sorted({(p.gp_code, p.gp_name) for p in w.people if p.gp_code})
    yield gp_practice, [{"practice_code": code, "practice_name": name} for code, name in practices]
    yield (
        provider,
        [
            {
                "provider_id": p.id,
                "provider_name": p.name,
                "cqc_location_id": p.cqc_location_id,
                "provider_type": p.kind,
                "postcode": p.postcode,
            }
            for p in w.providers
        ],
    )
    yield (
        client,
        (
            {
                "client_id": p.client_id,
                "la_person_ref": p.la_person_id,
                "nhs_number": p.nhs_recorded,
                "forename": p.given_name,
                "surname": p.family_name,
                "date_of_birth": _d(p.dob),
                "date_of_death": _d(p.death),
                "gender_code": p.gender,
                "ethnicity_code": p.ethnicity,
                "primary_support_reason_code": p.psr,
                "employment_code": p.employment,
                "has_carer_code": p.has_carer,
                "autism_code": p.asd,
                "dementia_code": p.dementia,
                "visual_code": p.visual,
                "hearing_code": p.hearing,
                "funding_code": p.funding,
                "practice_code": p.gp_code,
            }
            for p in w.people
        ),
    )
    yield (
        client_address,
        (
            {
                "address_id": a.id,
                "client_id": w.people[a.pid].client_id,
                "postcode": a.postcode,
                "accommodation_code": a.accommodation,
                "start_date": _d(a.start),
                "end_date": _d(a.end),
            }
            for p in w.people
            for a in p.addresses
        ),
    )
    cid = [p.client_id for p in w.people]
    yield (
        contact,
        (
            {
                "contact_id": c.id,
                "client_id": cid[c.pid],
                "client_role": c.role,
                "contact_type_code": c.type,
                "contact_date": _d(c.start),
                "completed_date": _d(c.end),
                "status_code": c.status,
                "route_code": c.route,
                "outcome_code": c.outcome,
            }
            for c in w.contacts
        ),
    )
    yield (
        assessment,
        (
            {
                "assessment_id": a.id,
                "client_id": cid[a.pid],
                "client_role": a.role,
                "assessment_type_code": a.type,
                "start_date": _d(a.start),
                "end_date": _d(a.end),
                "status_code": a.status,
                "outcome_code": a.outcome,
                "eligibility_code": a.eligible,
                "method_code": a.method,
            }
            for a in w.assessments
        ),
    )
    yield (
        service_agreement,
        (
            {
                "agreement_id": a.id,
                "client_id": cid[a.pid],
                "client_role": a.role,
                "setting_code": a.setting,
                "delivery_code": a.delivery,
                "provider_id": a.provider,
                "start_date": _d(a.start),
                "status_code": a.status,
            }
            for a in w.agreements
        ),
    )
    yield (
        service_line,
        (
            {
                "line_id": s.id,
                "agreement_id": s.agreement.id,
                "component_code": s.component,
                "start_date": _d(s.start),
                "end_date": _d(s.cms_end),
                "status_code": s.status,
                "end_reason_code": s.outcome if s.cms_end is not None else None,
                "unit_type_code": s.unit_type,
                "planned_units": _dec(s.units),
            }
            for s in w.lines
        ),
    )
    yield (
        service_line_cost,
        (
            {"line_id": s.id, "effective_from": _d(day), "unit_cost": _dec(cost)}
            for s in w.lines
            for day, cost in s.costs
        ),
    )
    yield (
        review,
        (
            {
                "review_id": r.id,
                "client_id": cid[r.pid],
                "client_role": r.role,
                "review_type_code": r.type,
                "start_date": _d(r.start),
                "end_date": _d(r.end),
                "status_code": r.status,
                "outcome_code": r.outcome,
                "outcomes_achieved_code": r.achieved,
                "method_code": r.method,
            }
            for r in w.reviews
        ),
    )
    yield (
        carer_link,
        (
            {
                "link_id": k.id,
                "carer_client_id": cid[k.carer],
                "cared_for_client_id": cid[k.cared],
                "start_date": _d(k.start),
                "end_date": _d(k.end),
                "hours_per_week": k.hours,
            }
            for k in w.links
        ),
    )


def write_cms(world: CouncilWorld, url: str) -> dict[str, int]:
    """Write a council's case-management database (tables dropped and recreated).

    Args:
        world: the council's records.
        url: SQLAlchemy URL, e.g. `sqlite:////tmp/cms/501.sqlite` or `postgresql+psycopg://.../cms_501`.

    Returns:
        Rows written per table.
    """
    engine = cms_engine(url)
    counts: dict[str, int] = {}
    try:
        with warnings.catch_warnings():
            # SQLite has no decimal type; values are 2-decimal amounts that round-trip exactly.
            warnings.filterwarnings("ignore", category=sa_exc.SAWarning, message=".*Decimal.*")
            metadata.drop_all(engine)
            metadata.create_all(engine)
            with engine.begin() as conn:
                for table_name, column in INDEXES:
                    conn.execute(text(f"CREATE INDEX ix_{table_name}_{column} ON {table_name} ({column})"))
                for table, rows in _rows(world):
                    batch: list[dict[str, Any]] = []
                    n = 0
                    for row in rows:
                        batch.append(row)
                        if len(batch) >= BATCH:
                            conn.execute(table.insert(), batch)
                            n += len(batch)
                            batch = []
                    if batch:
                        conn.execute(table.insert(), batch)
                        n += len(batch)
                    counts[table.name] = n
    finally:
        engine.dispose()
    return counts
