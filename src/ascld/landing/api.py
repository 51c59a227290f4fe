"""The JSON API (`/api/v1/...`), used by `ascld submit`, scripts and the upload page's progress bar.

Every endpoint accepts a bearer token or a web session (with CSRF on unsafe requests); every error answers
with the one JSON error shape (see `access.error_body`).
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel, Field
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from ascld.errors import UsageError
from ascld.landing import views
from ascld.landing.access import (
    MAX_ID,
    AccountManager,
    ApiError,
    AuditReader,
    NationalReader,
    OverviewReader,
    Principal,
    RawReader,
    RetentionRunner,
    SignedIn,
    SubmissionReader,
    TokenOwner,
    Uploader,
    client_ip,
    not_found,
    submission_for,
)
from ascld.landing.audit import record_event
from ascld.landing.auth import COUNCIL, create_council, create_user
from ascld.landing.models import ApiToken, Council, Submission, User
from ascld.landing.retention import run_retention
from ascld.landing.tokens import create_token, revoke_token, tokens_of
from ascld.landing.uploads import UploadError, is_sha256

router = APIRouter(prefix="/api/v1")

UPLOAD_TYPES = frozenset({"application/octet-stream", "text/csv", "application/gzip", "application/x-gzip"})
# Bytes gathered from the request before one hand-over to a thread that hashes and writes them: large enough
# that the hand-overs cost nothing, small enough that 20 uploads at once hold only a few megabytes.
WRITE_BATCH = 256 * 1024


def _state(request: Request) -> Any:
    return request.app.state.landing


@router.get("/whoami")
def whoami(principal: SignedIn) -> dict[str, Any]:
    """The caller's user name, role and council."""
    return {
        "ok": True,
        "username": principal.username,
        "role": principal.role,
        "la_code": principal.la_code,
        "via": principal.via,
    }


async def receive_body(request: Request, principal: Principal) -> Any:
    """Stream a raw request body into a Receiver, then land it."""
    state = _state(request)
    key = request.headers.get("idempotency-key")
    if key is not None and not is_sha256(key.strip().lower()):
        raise ApiError(
            400,
            "the Idempotency-Key header must be the file's SHA-256 as 64 hex digits.",
            "Let `ascld submit` set it, or leave it out.",
            field="Idempotency-Key",
        )
    key = key.strip().lower() if key else None
    ctype = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if ctype not in UPLOAD_TYPES:
        raise ApiError(
            415,
            "send the return as the request body with Content-Type application/octet-stream, "
            "text/csv or application/gzip.",
            "Use `ascld submit`, or the upload page.",
            field="Content-Type",
        )
    actor = principal.actor(client_ip(request))
    name = request.headers.get("x-filename")
    if key:
        existing = await run_in_threadpool(state.lander.existing, principal.la_code, key)
        if existing is not None:
            return await run_in_threadpool(state.lander.land_duplicate, existing, actor)
    length = request.headers.get("content-length")
    receiver = await run_in_threadpool(state.lander.receiver, key, int(length) if length else None)
    try:
        buffer = bytearray()
        async for chunk in request.stream():
            buffer += chunk
            if len(buffer) >= WRITE_BATCH:
                full, buffer = buffer, bytearray()  # handed over, not copied
                await run_in_threadpool(receiver.write, full)
        await run_in_threadpool(receiver.write, buffer)
        received = await run_in_threadpool(receiver.finish)
    except UploadError as exc:
        receiver.discard()
        raise ApiError(exc.status, exc.message, exc.hint) from None
    except BaseException:
        receiver.discard()
        raise
    return await state.lander.land_async(received, principal.la_code, actor, name)


@router.post("/submissions", status_code=201)
async def upload(request: Request, principal: Uploader) -> JSONResponse:
    """Upload a return as the raw request body.

    Headers: `Content-Type: application/octet-stream` (or text/csv, application/gzip); `Idempotency-Key:
    <sha256 of the file>` (recommended: a retry of a landed file is answered without re-sending it);
    `X-Filename` (shown in the history only). Answers 201 (accepted, ingest queued), 200 (these bytes had
    already landed) or 422 (refused: the error shape with the first problems, plus `submission` and `report`).
    """
    outcome = await receive_body(request, principal)
    return views.outcome_response(request, outcome)


@router.get("/submissions")
def list_submissions(
    request: Request,
    principal: SubmissionReader,
    sha256: str | None = Query(None, pattern="^[0-9a-fA-F]{64}$"),
) -> dict[str, Any]:
    """Submissions the caller may see, newest first (a council: its own; the processor: all)."""
    with _state(request).db.tx() as s:
        query = select(Submission).order_by(Submission.created_at.desc()).limit(500)
        if principal.role == COUNCIL:
            query = query.where(Submission.la_code == principal.la_code)
        if sha256:
            query = query.where(Submission.sha256 == sha256.lower())
        return {"ok": True, "submissions": [views.submission_json(request, x) for x in s.scalars(query)]}


@router.get("/submissions/{sub_id}")
def get_submission(request: Request, sub_id: str, principal: SubmissionReader) -> dict[str, Any]:
    """One submission's status and counts."""
    with _state(request).db.tx() as s:
        sub = submission_for(s, principal, sub_id)
        return {"ok": True, "submission": views.submission_json(request, sub)}


@router.get("/submissions/{sub_id}/report")
def get_report(request: Request, sub_id: str, principal: SubmissionReader) -> dict[str, Any]:
    """The data-quality report as JSON: the validator's summary and the first problems (audited as a view)."""
    sub = views.viewed_submission(request, principal, sub_id, {"format": "json"})
    return {
        "ok": True,
        "submission": views.submission_json(request, sub),
        "report": views.report_json(_state(request).config, sub),
    }


@router.get("/submissions/{sub_id}/files/{name}")
def get_report_file(request: Request, sub_id: str, name: str, principal: SubmissionReader):
    """One of the report's files: `report.html`, `summary.json` or `problems.csv` (audited as a download)."""
    return views.report_file_response(request, principal, sub_id, name)


@router.get("/submissions/{sub_id}/raw")
def get_raw(
    request: Request,
    principal: RawReader,
    sub_id: str,
    purpose: str = Query(..., min_length=3, max_length=64),
) -> StreamingResponse:
    """The received file, decrypted, for the processor (a purpose is required and audited)."""
    return views.raw_file_response(request, principal, sub_id, purpose)


@router.get("/overview")
def overview(request: Request, principal: OverviewReader) -> dict[str, Any]:
    """Each council's latest submission with its data-quality rates (processor only)."""
    with _state(request).db.tx() as s:
        return {"ok": True, "councils": views.overview_rows(s)}


@router.get("/national/imports")
def national_imports(request: Request, principal: NationalReader) -> dict[str, Any]:
    """What the national store holds, by council and period: counts only, no identifiers (analysts)."""
    with _state(request).db.tx() as s:
        return {"ok": True, "imports": views.national_rows(s)}


@router.get("/audit")
def audit(
    request: Request,
    principal: AuditReader,
    action: str | None = Query(None, max_length=32),
    la_code: str | None = Query(None, max_length=16),
    before: int | None = Query(None, ge=1, le=MAX_ID),
    limit: int = Query(100, ge=1, le=1000),
) -> dict[str, Any]:
    """Audit events, newest first, with filters (data protection officer only; the view is itself audited)."""
    with _state(request).db.tx() as s:
        events = views.audit_rows(s, action=action, la_code=la_code, before=before, limit=limit)
        views.record_audit_view(s, principal.actor(client_ip(request)), action, la_code, len(events))
        return {"ok": True, "events": events}


@router.post("/retention/run")
def retention_now(request: Request, principal: RetentionRunner) -> dict[str, Any]:
    """Apply the retention schedule now (DPO or administrator); every deletion is audited."""
    state = _state(request)
    deletions = run_retention(state.config, state.db, actor=principal.actor(client_ip(request)))
    return {
        "ok": True,
        "deleted": [{"kind": d.kind, "submission_id": d.submission_id, "la_code": d.la_code} for d in deletions],
    }


class TokenRequest(BaseModel):
    name: str = Field(min_length=1, max_length=100)
    days: float | None = Field(default=None, gt=0)


@router.get("/tokens")
def list_tokens(request: Request, principal: TokenOwner) -> dict[str, Any]:
    """The caller's own API tokens (never the token text)."""
    with _state(request).db.tx() as s:
        return {"ok": True, "tokens": [views.token_json(t) for t in tokens_of(s, principal.user_id)]}


@router.post("/tokens", status_code=201)
def make_token(request: Request, body: TokenRequest, principal: TokenOwner) -> dict[str, Any]:
    """Make an API token for the caller; the answer holds the token text, the only time it is shown."""
    state = _state(request)
    with state.db.tx() as s:
        user = s.get(User, principal.user_id)
        try:
            row, text = create_token(
                s,
                user,
                body.name,
                state.config.settings,
                days=body.days,
                actor=principal.actor(client_ip(request)),
                made_with=principal.token_id,
            )
        except UsageError as exc:
            raise ApiError(422, str(exc), "Choose a shorter lifetime.", field="days") from None
        return {"ok": True, "token": text, **views.token_json(row)}


@router.delete("/tokens/{token_id}")
def delete_token(request: Request, token_id: str, principal: TokenOwner) -> dict[str, Any]:
    """Revoke one of the caller's own tokens."""
    with _state(request).db.tx() as s:
        row = s.get(ApiToken, token_id) if len(token_id) <= 16 else None
        if row is None or row.user_id != principal.user_id:
            raise not_found("token")
        revoke_token(s, token_id, principal.actor(client_ip(request)), principal.la_code)
        return {"ok": True, "revoked": token_id}


class CouncilRequest(BaseModel):
    la_code: str = Field(min_length=1, max_length=16)
    name: str = Field(min_length=1, max_length=200)


class UserRequest(BaseModel):
    username: str = Field(min_length=2, max_length=64)
    password: str = Field(min_length=1, max_length=256)
    role: str
    la_code: str | None = None


@router.get("/users")
def list_users(request: Request, principal: AccountManager) -> dict[str, Any]:
    """All accounts (administrator only)."""
    with _state(request).db.tx() as s:
        return {
            "ok": True,
            "users": [views.user_json(u) for u in s.scalars(select(User).order_by(User.username))],
        }


@router.post("/councils", status_code=201)
def add_council(request: Request, body: CouncilRequest, principal: AccountManager) -> dict[str, Any]:
    """Add a council (administrator only)."""
    with _state(request).db.tx() as s:
        try:
            if s.get(Council, body.la_code) is not None:
                raise UsageError(f"a council with LA code {body.la_code} exists already.")
            create_council(s, body.la_code, body.name)
        except UsageError as exc:
            raise ApiError(422, str(exc), "Check the LA code.", field="la_code") from None
        record_event(
            s,
            principal.actor(client_ip(request)),
            "council_create",
            la_code=body.la_code,
            object_type="council",
            object_id=body.la_code,
        )
        return {"ok": True, "la_code": body.la_code}


@router.post("/users", status_code=201)
def add_user(request: Request, body: UserRequest, principal: AccountManager) -> dict[str, Any]:
    """Add an account (administrator only). Council submitters need `la_code`."""
    with _state(request).db.tx() as s:
        try:
            user = create_user(s, body.username, body.password, body.role, body.la_code)
        except UsageError as exc:
            raise ApiError(422, str(exc), "Correct the account details.") from None
        record_event(
            s,
            principal.actor(client_ip(request)),
            "user_create",
            la_code=user.la_code,
            object_type="user",
            object_id=str(user.id),
            detail={"role": user.role},
        )
        return {"ok": True, "user": views.user_json(user)}
