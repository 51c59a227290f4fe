"""What the API and the web pages show: one function per view, shared by both, so a page and its JSON never
disagree. Nothing here reads a value from inside a return; reports are the validator's own files, which never
carry identifying values.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from fastapi import Request
from fastapi.responses import FileResponse, JSONResponse, StreamingResponse
from sqlalchemy import select
from sqlalchemy.orm import Session

from ascld.landing.access import (
    ApiError,
    ErrorItem,
    Principal,
    client_ip,
    error_body,
    not_found,
    submission_for,
)
from ascld.landing.audit import ACTIONS, Actor, UnsafeAuditDetail, record_event
from ascld.landing.auth import LA_CODE
from ascld.landing.crypto import decrypt_chunks
from ascld.landing.models import ApiToken, AuditEvent, Council, Submission, User
from ascld.landing.settings import LandingConfig
from ascld.landing.uploads import ACCEPTED, INGESTED, REFUSED, LandingOutcome

# The report files a caller may fetch: public name -> (file in the report folder, media type, download?).
REPORT_FILES = {
    "report.html": ("report.html", "text/html; charset=utf-8", False),
    "summary.json": ("summary.json", "application/json", True),
    "problems.csv": ("problems.csv", "text/csv; charset=utf-8", True),
}
# Purposes a processor may give for fetching a raw file (recorded in the audit trail).
RAW_PURPOSES = ("reprocessing", "data quality investigation", "subject access request", "rectification")
# The validator's report may style itself inline; it may not run scripts, load anything or be framed.
REPORT_CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:; sandbox; frame-ancestors 'none'"

STATUS_LABELS = {
    REFUSED: "Refused",
    ACCEPTED: "Accepted, waiting for ingest",
    INGESTED: "Accepted and ingested",
    "failed": "Accepted, ingest failed",
}


def iso(value: Any) -> str | None:
    return value.isoformat().replace("+00:00", "Z") if value is not None else None


def stored_summary(sub: Submission) -> dict[str, Any]:
    return json.loads(sub.summary_json) if sub.summary_json else {}


def submission_json(request: Request, sub: Submission) -> dict[str, Any]:
    """A submission as the API shows it."""
    return {
        "id": sub.id,
        "la_code": sub.la_code,
        "status": sub.status,
        "status_label": STATUS_LABELS.get(sub.status, sub.status),
        "sha256": sub.sha256,
        "size_bytes": sub.size_bytes,
        "gzip": sub.gzip,
        "file_name": sub.display_name,
        "received_at": iso(sub.created_at),
        "exit_code": sub.exit_code,
        "rows": sub.row_count,
        "problems": sub.problem_count,
        "errors": sub.error_count,
        "valid_rate": sub.valid_rate,
        "period_end": sub.period_end,
        "ingested_at": iso(sub.ingested_at),
        "national_rows": sub.national_rows,
        "raw_deleted": sub.raw_deleted_at is not None,
        "links": links(request, sub),
    }


def links(request: Request, sub: Submission) -> dict[str, str]:
    base = str(request.base_url).rstrip("/")
    out = {
        "self": f"{base}/api/v1/submissions/{sub.id}",
        "page": f"{base}/submissions/{sub.id}",
        "report": f"{base}/api/v1/submissions/{sub.id}/report",
    }
    if sub.has_report:
        out.update({name: f"{base}/api/v1/submissions/{sub.id}/files/{name}" for name in REPORT_FILES})
    return out


def report_json(config: LandingConfig, sub: Submission) -> dict[str, Any]:
    """The data-quality report: the validator's summary.json (when kept) and the first problems."""
    stored = stored_summary(sub)
    summary_path = config.reports_dir / sub.id / "summary.json"
    summary = (
        json.loads(summary_path.read_text(encoding="utf-8")) if summary_path.is_file() else stored.get("summary", {})
    )
    return {
        "summary": summary,
        "first_problems": stored.get("first_problems", []),
        "problem_count": sub.problem_count,
        "error_count": sub.error_count,
        "rows": sub.row_count,
        "valid_rate": sub.valid_rate,
        "exit_code": sub.exit_code,
    }


def outcome_response(request: Request, outcome: LandingOutcome) -> JSONResponse:
    """201 accepted, 200 already landed, 422 refused (the error shape, with the report's location)."""
    sub = outcome.submission
    body = submission_json(request, sub)
    if sub.status == REFUSED:
        errors = [
            ErrorItem(
                str(p.get("message", "")), str(p.get("hint", "")), p.get("file"), p.get("row"), p.get("field")
            ).as_dict()
            for p in outcome.problems
        ]
        if not errors:
            errors = [
                ErrorItem("the file could not be read as a CLD return.", "See the full report for details.").as_dict()
            ]
        return JSONResponse(
            error_body(
                422,
                errors,
                duplicate=outcome.duplicate,
                submission=body,
                report=body["links"]["page"],
                problem_count=sub.problem_count,
            ),
            status_code=422,
        )
    return JSONResponse(
        {"ok": True, "duplicate": outcome.duplicate, "submission": body},
        status_code=200 if outcome.duplicate else 201,
    )


def viewed_submission(
    request: Request,
    principal: Principal,
    sub_id: str,
    detail: dict[str, Any],
    action: str = "report_view",
    check: Any = None,
) -> Submission:
    """The submission `sub_id` if the caller may see it, with the view (or download) recorded in the audit trail.

    Args:
        detail: what was viewed (e.g. `{"format": "json"}` or `{"file": "problems.csv"}`).
        action: `report_view` or `download`.
        check: called with the submission before the event is recorded; may raise (e.g. a missing file).
    """
    with request.app.state.landing.db.tx() as s:
        sub = submission_for(s, principal, sub_id)
        if check is not None:
            check(sub)
        record_event(
            s,
            principal.actor(client_ip(request)),
            action,
            la_code=sub.la_code,
            object_type="submission",
            object_id=sub.id,
            detail=detail,
        )
    return sub


def report_file_response(request: Request, principal: Principal, sub_id: str, name: str) -> FileResponse:
    """One report file for a submission the caller may see; audited as a download (or a view for HTML)."""
    if name not in REPORT_FILES:
        raise not_found("report file")
    filename, media_type, attachment = REPORT_FILES[name]
    reports = request.app.state.landing.config.reports_dir

    def present(sub: Submission) -> None:
        if not sub.has_report or not (reports / sub.id / filename).is_file():
            raise not_found("report file")

    sub = viewed_submission(
        request, principal, sub_id, {"file": name}, "download" if attachment else "report_view", present
    )
    path = reports / sub.id / filename
    headers = {"Content-Security-Policy": REPORT_CSP} if name == "report.html" else {}
    return FileResponse(
        path,
        media_type=media_type,
        headers=headers,
        filename=f"{sub.id}-{name}" if attachment else None,
        content_disposition_type="attachment" if attachment else "inline",
    )


def raw_file_response(request: Request, principal: Principal, sub_id: str, purpose: str) -> StreamingResponse:
    """The decrypted raw file, streamed, for the processor; needs a listed purpose; audited."""
    if purpose not in RAW_PURPOSES:
        raise ApiError(
            422,
            "give one of the listed purposes for fetching a raw file.",
            f"Purposes: {', '.join(RAW_PURPOSES)}.",
            field="purpose",
        )
    state = request.app.state.landing
    with state.db.tx() as s:
        sub = submission_for(s, principal, sub_id)
        path: Path = state.config.raw_dir / f"{sub.id}.enc"
        if sub.raw_deleted_at is not None or not path.is_file():
            raise ApiError(
                410,
                "the raw file is no longer kept (refused, or deleted on the retention schedule).",
                "Ask the council to submit again if it is needed.",
            )
        record_event(
            s,
            principal.actor(client_ip(request)),
            "download",
            purpose=purpose,
            la_code=sub.la_code,
            object_type="raw_file",
            object_id=sub.id,
            detail={"bytes": sub.size_bytes},
        )
        media = "application/gzip" if sub.gzip else "text/csv"
        ext = "csv.gz" if sub.gzip else "csv"

    def chunks() -> Iterator[bytes]:
        with open(path, "rb") as fh:
            yield from decrypt_chunks(fh, state.config.store_key)

    return StreamingResponse(
        chunks(), media_type=media, headers={"Content-Disposition": f'attachment; filename="{sub_id}.{ext}"'}
    )


def overview_rows(session: Session) -> list[dict[str, Any]]:
    """Each council with its latest submission and that submission's data-quality rates."""
    latest: dict[str, Submission] = {}
    counts: dict[str, int] = {}
    for sub in session.scalars(select(Submission).order_by(Submission.la_code, Submission.created_at.desc())):
        latest.setdefault(sub.la_code, sub)
        counts[sub.la_code] = counts.get(sub.la_code, 0) + 1
    rows = []
    for council in session.scalars(select(Council).order_by(Council.la_code)):
        last = latest.get(council.la_code)
        rows.append(
            {
                "la_code": council.la_code,
                "name": council.name,
                "submissions": counts.get(council.la_code, 0),
                "latest": None
                if last is None
                else {
                    "id": last.id,
                    "status": last.status,
                    "status_label": STATUS_LABELS.get(last.status, last.status),
                    "received_at": iso(last.created_at),
                    "period_end": last.period_end,
                    "rows": last.row_count,
                    "problems": last.problem_count,
                    "errors": last.error_count,
                    "valid_rate": last.valid_rate,
                    "errors_per_1000_rows": per_thousand(last.error_count, last.row_count),
                    "problems_per_1000_rows": per_thousand(last.problem_count, last.row_count),
                },
            }
        )
    return rows


def per_thousand(count: int | None, rows: int | None) -> float | None:
    return round(1000 * count / rows, 2) if rows and count is not None else None


def national_rows(session: Session) -> list[dict[str, Any]]:
    """What the national store holds, per council and period (counts only)."""
    query = (
        select(
            Submission.la_code,
            Submission.period_end,
            Submission.national_rows,
            Submission.ingested_at,
            Submission.national_purged_at,
        )
        .where(Submission.status == INGESTED)
        .order_by(Submission.la_code, Submission.ingested_at)
    )
    return [
        {
            "la_code": la,
            "period_end": period,
            "rows": rows,
            "imported_at": iso(at),
            "purged": purged is not None,
        }
        for la, period, rows, at, purged in session.execute(query)
    ]


def record_audit_view(session: Session, actor: Actor, action: str | None, la_code: str | None, rows: int) -> None:
    """Record a view of the audit trail with its filters; a filter that is not an action or an LA code is a
    bad request (422), never an error of the service."""
    if action and action not in ACTIONS:
        hint = f"Actions: {', '.join(sorted(ACTIONS))}."
        raise ApiError(422, "there is no such audit action.", hint, field="action")
    if la_code and not LA_CODE.fullmatch(la_code):
        hint = "Filter by a council's LA code."
        raise ApiError(422, "an LA code is 1 to 16 letters or digits.", hint, field="la_code")
    try:
        record_event(
            session,
            actor,
            "audit_view",
            detail={"filter_action": action or "", "filter_la_code": la_code or "", "rows": rows},
        )
    except UnsafeAuditDetail:
        hint = "Filter by a council's LA code."
        raise ApiError(422, "the LA code filter looks like an identifying value.", hint, field="la_code") from None


def audit_rows(
    session: Session,
    *,
    action: str | None = None,
    la_code: str | None = None,
    before: int | None = None,
    limit: int = 100,
) -> list[dict[str, Any]]:
    query = select(AuditEvent).order_by(AuditEvent.id.desc()).limit(limit)
    if action:
        query = query.where(AuditEvent.action == action)
    if la_code:
        query = query.where(AuditEvent.la_code == la_code)
    if before:
        query = query.where(AuditEvent.id < before)
    return [
        {
            "id": e.id,
            "at": iso(e.at),
            "actor": e.actor,
            "role": e.role,
            "action": e.action,
            "purpose": e.purpose,
            "outcome": e.outcome,
            "la_code": e.la_code,
            "object_type": e.object_type,
            "object_id": e.object_id,
            "ip": e.ip,
            "detail": json.loads(e.detail) if e.detail else {},
        }
        for e in session.scalars(query)
    ]


def token_json(token: ApiToken) -> dict[str, Any]:
    return {
        "id": token.id,
        "name": token.name,
        "created_at": iso(token.created_at),
        "expires_at": iso(token.expires_at),
        "revoked": token.revoked_at is not None,
        "last_used_at": iso(token.last_used_at),
    }


def user_json(user: User) -> dict[str, Any]:
    return {
        "id": user.id,
        "username": user.username,
        "role": user.role,
        "la_code": user.la_code,
        "active": user.active,
        "last_login_at": iso(user.last_login_at),
    }
