"""Retention (raw files after ingest, national rows after 20 years, every deletion audited) and feedback (each
council its own reports; the processor every council's latest rates; analysts the national store; the DPO the
audit trail); and no identifying value anywhere the service writes or answers."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
import io
import json
import re

import pytest
from sqlalchemy import func, inspect, select, text

from ascld.landing.models import AuditEvent, Submission
from ascld.landing.retention import run_retention
from ascld.national.store import NationalStore
from support.landing import LA_A, LA_B


@pytest.fixture(scope="module")
def landing(shared_landing):
    return shared_landing


@pytest.fixture(scope="module")
def ingested(landing, good_return, good_return_b):
    """Both councils have submitted and the worker has ingested both files (shared by this module)."""
    ids = {}
    for user, path in (("council_a", good_return), ("council_b", good_return_b)):
        r = landing.api(user).post(
            "/api/v1/submissions", content=path.read_bytes(), headers={"Content-Type": "text/csv"}
        )
        assert r.status_code == 201, r.text
        ids[user] = r.json()["submission"]["id"]
    assert landing.run_jobs() == 2
    return ids


def _deletions(landing) -> list[AuditEvent]:
    with landing.state.db.tx() as s:
        return list(s.scalars(select(AuditEvent).where(AuditEvent.action == "deletion").order_by(AuditEvent.id)))


def _last_audit_id(landing) -> int:
    with landing.state.db.tx() as s:
        return s.scalar(select(func.max(AuditEvent.id))) or 0


def test_council_sees_its_own_report_as_html_and_json(landing, ingested):
    before = _last_audit_id(landing)
    api = landing.api("council_a")
    sub_id = ingested["council_a"]
    report = api.get(f"/api/v1/submissions/{sub_id}/report").json()
    assert report["report"]["summary"]["la_code"] == LA_A and report["report"]["rows"] == 30
    assert report["submission"]["status"] == "ingested"
    page = landing.browser("council_a").get(f"/submissions/{sub_id}")
    assert page.status_code == 200 and "Data-quality report" in page.text and "Accepted and ingested" in page.text
    html = api.get(f"/api/v1/submissions/{sub_id}/files/report.html")
    assert html.headers["content-type"].startswith("text/html")
    assert "sandbox" in html.headers["content-security-policy"]
    problems = api.get(f"/api/v1/submissions/{sub_id}/files/problems.csv")
    assert problems.headers["content-disposition"].startswith("attachment")
    assert next(csv.reader(io.StringIO(problems.content.decode("utf-8-sig"))))[:3] == ["file", "row", "field"]
    with landing.state.db.tx() as s:
        kinds = [
            (e.action, json.loads(e.detail or "{}").get("file") or json.loads(e.detail or "{}").get("format"))
            for e in s.scalars(
                select(AuditEvent)
                .where(AuditEvent.id > before, AuditEvent.action.in_(["report_view", "download"]))
                .order_by(AuditEvent.id)
            )
        ]
    assert kinds == [
        ("report_view", "json"),
        ("report_view", "html"),
        ("report_view", "report.html"),
        ("download", "problems.csv"),
    ]


def test_processor_overview_has_every_councils_latest_rates(landing, ingested):
    councils = landing.api("processor").get("/api/v1/overview").json()["councils"]
    by_la = {c["la_code"]: c for c in councils}
    assert set(by_la) == {LA_A, LA_B}
    for la, user in ((LA_A, "council_a"), (LA_B, "council_b")):
        latest = by_la[la]["latest"]
        assert latest["id"] == ingested[user] and latest["rows"] == 30
        assert 0 < latest["valid_rate"] <= 1 and latest["errors_per_1000_rows"] is not None
    page = landing.browser("processor").get("/overview").text
    assert LA_A in page and LA_B in page and "%" in page


def test_analyst_sees_only_counts_of_the_national_store(landing, ingested):
    imports = landing.api("analyst").get("/api/v1/national/imports").json()["imports"]
    assert sorted((i["la_code"], i["rows"]) for i in imports) == [(LA_A, 30), (LA_B, 30)]
    assert all(set(i) == {"la_code", "period_end", "rows", "imported_at", "purged"} for i in imports)


def test_dpo_reads_the_audit_trail_and_that_reading_is_audited(landing, ingested):
    events = landing.api("dpo").get("/api/v1/audit?limit=1000").json()["events"]
    actions = {e["action"] for e in events}
    assert {"upload", "ingest"} <= actions
    assert all({"at", "actor", "role", "action", "purpose", "outcome"} <= set(e) for e in events)
    page = landing.browser("dpo").get("/audit?action=upload")
    assert page.status_code == 200 and "upload" in page.text
    with landing.state.db.tx() as s:
        assert s.scalar(select(AuditEvent).where(AuditEvent.action == "audit_view")) is not None


def _identifying_values(path) -> set[str]:
    """NHS numbers, dates of birth, postcodes and names in a return (the values that must never leak)."""
    found: set[str] = set()
    rows = list(csv.DictReader(io.StringIO(path.read_bytes().decode("cp1252"))))
    for row in rows:
        for col in ("NHS Number", "Date of Birth", "Postcode", "First Name", "Last Name"):
            value = (row.get(col) or "").strip()
            if len(value) >= 4:
                found.add(value)
    return found


def test_no_identifying_value_is_written_or_answered_anywhere(landing, ingested, good_return, caplog):
    caplog.set_level("DEBUG")
    secrets_ = _identifying_values(good_return)
    names = {v for v in secrets_ if not re.search(r"\d", v)}
    secrets_ -= names  # names such as "Smith" are short common words; checked below only in the database
    assert len(secrets_) > 20
    answers = []
    for user in ("council_a", "processor", "analyst", "dpo"):
        api = landing.api(user)
        for path in (
            "/api/v1/submissions",
            f"/api/v1/submissions/{ingested['council_a']}",
            f"/api/v1/submissions/{ingested['council_a']}/report",
            "/api/v1/overview",
            "/api/v1/national/imports",
            "/api/v1/audit?limit=1000",
        ):
            answers.append(api.get(path).text)
    browser = landing.browser("council_a")
    answers += [browser.get(p).text for p in ("/submissions", f"/submissions/{ingested['council_a']}")]
    with landing.state.db.engine.connect() as conn:
        for table in inspect(conn).get_table_names():
            answers += [" ".join(map(str, row)) for row in conn.execute(text(f'SELECT * FROM "{table}"'))]
    for folder in (landing.config.reports_dir, landing.config.national_dir / "_imports"):
        answers += [p.read_text(errors="replace") for p in folder.rglob("*") if p.is_file()]
    everything = "\n".join(answers) + caplog.text
    leaked = sorted(v for v in secrets_ if v in everything)
    assert leaked == []
    with landing.state.db.tx() as s:
        stored = " ".join(
            str(s.scalar(select(Submission.summary_json).where(Submission.id == i))) for i in ingested.values()
        )
    assert not [n for n in names if re.search(rf"\b{re.escape(n)}\b", stored)]


# Retention runs last in this module: it deletes what the tests above read.
def test_retention_deletes_raw_files_then_national_rows_and_audits_each_deletion(landing, ingested):
    config, db = landing.config, landing.state.db
    now = dt.datetime.now(dt.UTC)
    assert run_retention(config, db, now=now + dt.timedelta(days=29)) == []
    shorter = dataclasses.replace(config, settings=dataclasses.replace(config.settings, raw_retention_days=10))
    done = run_retention(shorter, db, now=now + dt.timedelta(days=11))
    assert sorted((d.kind, d.submission_id) for d in done) == sorted(("raw", i) for i in ingested.values())
    assert list(config.raw_dir.iterdir()) == []
    raw_events = _deletions(landing)
    assert {(e.object_type, e.purpose) for e in raw_events} == {("raw_file", "retention schedule")}
    assert {e.la_code for e in raw_events} == {LA_A, LA_B}
    assert run_retention(config, db, now=now + dt.timedelta(days=31)) == []  # nothing deleted twice
    assert (
        landing.api("council_a").get(f"/api/v1/submissions/{ingested['council_a']}").json()["submission"]["raw_deleted"]
        is True
    )
    raw = landing.api("processor").get(f"/api/v1/submissions/{ingested['council_a']}/raw?purpose=reprocessing")
    assert raw.status_code == 410

    store = NationalStore(config.national_dir)
    assert len(store.imports()) == 2
    assert run_retention(config, db, now=now + dt.timedelta(days=365.25 * 19)) == []
    done = run_retention(config, db, now=now + dt.timedelta(days=365.25 * 20 + 1))
    assert sorted(d.kind for d in done) == ["national", "national"]
    assert store.imports() == []
    assert not any((config.national_dir / "data").rglob("*.parquet"))
    national = [e for e in _deletions(landing) if e.object_type == "national_rows"]
    assert len(national) == 2 and all(json.loads(e.detail)["rows"] == 30 for e in national)
    assert len(_deletions(landing)) == 4
    imports = landing.api("analyst").get("/api/v1/national/imports").json()["imports"]
    assert all(i["purged"] for i in imports)


def test_two_retention_runs_at_once_audit_each_deletion_once(landing, returns_dir, monkeypatch):
    """The worker's schedule and a "run now" (or two service processes sharing the store) found the same data
    due and each recorded its deletion: two events per deletion, one of them for 0 national rows."""
    import threading
    import time

    from ascld.landing import steps
    from support.landing import make_return

    path = make_return(returns_dir / "retention_race.csv", 30, la_code=LA_A, seed=11)
    response = landing.api("council_a").post(
        "/api/v1/submissions", content=path.read_bytes(), headers={"Content-Type": "text/csv"}
    )
    assert response.status_code == 201, response.text
    sub_id = response.json()["submission"]["id"]
    assert landing.run_jobs() == 1
    purge = steps.purge_national

    def slow_purge(*args, **kwargs):  # widens the window between finding the rows due and recording it
        time.sleep(0.3)
        return purge(*args, **kwargs)

    monkeypatch.setattr(steps, "purge_national", slow_purge)
    later = dt.datetime.now(dt.UTC) + dt.timedelta(days=365.25 * 21)
    runs = [threading.Thread(target=run_retention, args=(landing.config, landing.state.db, later)) for _ in range(2)]
    for run in runs:
        run.start()
    for run in runs:
        run.join()
    mine = [e for e in _deletions(landing) if e.object_id == sub_id]
    assert sorted(e.object_type for e in mine) == ["national_rows", "raw_file"]
    assert json.loads(next(e for e in mine if e.object_type == "national_rows").detail)["rows"] == 30
