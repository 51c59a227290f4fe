"""Server-rendered web pages: log-in, upload (with progress), submission history, data-quality report,
processor overview, national imports, audit view, API tokens and account administration.

Pages work without JavaScript; `upload.js` only adds a progress bar. Every form carries the session's CSRF
token (the log-in form a token of its own, paired with a short-lived cookie).
"""

from __future__ import annotations

import hmac
import secrets
from pathlib import Path
from typing import Any
from urllib.parse import quote

from fastapi import APIRouter, Form, Query, Request
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates
from python_multipart.exceptions import MultipartParseError
from python_multipart.multipart import MultipartParser, parse_options_header
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from ascld.errors import UsageError
from ascld.landing import views
from ascld.landing.access import (
    LOGIN_CSRF_COOKIE,
    MAX_ID,
    SESSION_COOKIE,
    AccountManager,
    ApiError,
    AuditReader,
    FormUploader,
    NationalReader,
    OverviewReader,
    Principal,
    RetentionRunner,
    SignedIn,
    SubmissionReader,
    TokenOwner,
    Uploader,
    check_csrf,
    client_ip,
    not_found,
    resolve_principal,
    same_origin,
)
from ascld.landing.audit import ACTIONS, record_event
from ascld.landing.auth import (
    ADMIN,
    ANALYST,
    COUNCIL,
    DPO,
    LOGIN_REFUSED,
    PROCESSOR,
    ROLE_LABELS,
    ROLES,
    authenticate,
    create_council,
    create_user,
    end_session,
    start_session,
)
from ascld.landing.models import ApiToken, Council, Submission, User
from ascld.landing.retention import run_retention
from ascld.landing.tokens import create_token, revoke_token, tokens_of
from ascld.landing.uploads import UploadError

router = APIRouter()
templates = Jinja2Templates(directory=str(Path(__file__).parent / "templates"))
templates.env.globals.update(role_labels=ROLE_LABELS, status_labels=views.STATUS_LABELS)

HOME = {COUNCIL: "/submissions", PROCESSOR: "/overview", ANALYST: "/national", DPO: "/audit", ADMIN: "/admin"}
UPLOAD_BATCH = 1024 * 1024


def _state(request: Request) -> Any:
    return request.app.state.landing


def render(request: Request, name: str, principal: Principal | None, status: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"principal": principal, **context}, status_code=status)


def safe_next(target: str | None) -> str:
    """Only same-site paths are followed after log-in (no `//host` or `https://...`)."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return "/"


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int | None) -> None:
    response.set_cookie(
        name,
        value,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="strict",
        secure=_state(request).config.settings.cookie_secure,
    )


@router.get("/", include_in_schema=False)
def home(request: Request) -> Response:
    principal = resolve_principal(request)
    return RedirectResponse(HOME[principal.role] if principal else "/login", status_code=303)


@router.get("/login")
def login_page(request: Request, next: str = Query("/", max_length=200)) -> Response:  # noqa: A002
    """The log-in form."""
    token = secrets.token_urlsafe(32)
    response = render(request, "login.html", None, csrf_token=token, next=safe_next(next), error=None)
    set_cookie(request, response, LOGIN_CSRF_COOKIE, token, 3600)
    return response


@router.post("/login")
def login(
    request: Request,
    username: str = Form(..., max_length=64),
    password: str = Form(..., max_length=256),
    csrf_token: str = Form("", max_length=100),
    next: str = Form("/", max_length=200),
) -> Response:  # noqa: A002
    """Check the name and password; start a session."""
    state = _state(request)
    cookie = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not cookie or not hmac.compare_digest(cookie.encode(), csrf_token.encode()) or not same_origin(request):
        raise ApiError(
            403,
            "the log-in form's security token is missing or out of date.",
            "Reload the log-in page and try again.",
        )
    with state.db.tx() as s:
        user = authenticate(s, username, password, state.config.settings, client_ip(request))
        if user is not None:
            role = user.role
            token = start_session(s, user, state.config.settings, client_ip(request))
    if user is None:
        fresh = secrets.token_urlsafe(32)
        response = render(
            request,
            "login.html",
            None,
            status=401,
            csrf_token=fresh,
            next=safe_next(next),
            error=LOGIN_REFUSED[0].upper() + LOGIN_REFUSED[1:],
        )
        set_cookie(request, response, LOGIN_CSRF_COOKIE, fresh, 3600)
        return response
    target = safe_next(next)
    redirect = RedirectResponse(HOME[role] if target == "/" else target, status_code=303)
    set_cookie(request, redirect, SESSION_COOKIE, token, int(state.config.settings.session_minutes * 60))
    redirect.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return redirect


@router.post("/logout")
def logout(request: Request, principal: SignedIn) -> Response:
    """End the session."""
    with _state(request).db.tx() as s:
        end_session(s, request.cookies.get(SESSION_COOKIE, ""), principal.actor(client_ip(request)))
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/submissions")
def submissions_page(request: Request, principal: SubmissionReader) -> Response:
    """Submission history: a council's own, or every council's for the processor."""
    with _state(request).db.tx() as s:
        query = select(Submission).order_by(Submission.created_at.desc()).limit(500)
        if principal.role == COUNCIL:
            query = query.where(Submission.la_code == principal.la_code)
        subs = list(s.scalars(query))
    return render(request, "submissions.html", principal, submissions=subs)


@router.get("/upload")
def upload_page(request: Request, principal: Uploader) -> Response:
    """The upload form."""
    settings = _state(request).config.settings
    return render(
        request,
        "upload.html",
        principal,
        max_plain=settings.max_upload_bytes,
        max_gzip=settings.max_gzip_upload_bytes,
        error=None,
    )


@router.post("/upload")
async def upload_form(request: Request, principal: FormUploader) -> Response:
    """Receive the upload form (multipart), streaming the file part straight into the receiver.

    The CSRF field comes before the file in the form, so a request without a valid token is refused before a
    byte of the file is written.
    """
    state = _state(request)
    ctype, params = parse_options_header(request.headers.get("content-type", ""))
    boundary = params.get(b"boundary")
    if ctype != b"multipart/form-data" or not boundary or len(boundary) > 200:
        raise ApiError(400, "the upload form was not sent as multipart/form-data.", "Use the upload page.")
    receiver = await run_in_threadpool(state.lander.receiver, None)
    part: dict[str, Any] = {}
    fields: dict[str, bytearray] = {}
    seen_file = False
    ended = False  # the closing boundary arrived: the form, and so the file, is whole

    def on_end() -> None:
        nonlocal ended
        ended = True

    def on_part_begin() -> None:
        part.clear()
        part["headers"] = {}

    def on_header_field(data: bytes, start: int, end: int) -> None:
        part["field"] = part.get("field", b"") + data[start:end]

    def on_header_value(data: bytes, start: int, end: int) -> None:
        part["value"] = part.get("value", b"") + data[start:end]

    def on_header_end() -> None:
        part["headers"][part.pop("field", b"").lower()] = part.pop("value", b"")

    def on_headers_finished() -> None:
        nonlocal seen_file
        _, disp = parse_options_header(part["headers"].get(b"content-disposition", b""))
        part["name"] = disp.get(b"name", b"").decode("latin-1")
        if part["name"] == "file":
            if seen_file:
                # Written one after the other, two files would land as one return.
                raise ApiError(
                    422,
                    "the form holds more than one file; a return is uploaded as one file.",
                    "Upload each return on its own.",
                    field="file",
                )
            seen_file = True
            part["filename"] = disp.get(b"filename", b"").decode("utf-8", "replace")
            check_csrf(request, principal, fields.get("csrf_token", bytearray()).decode("latin-1"))
            fields["__filename"] = bytearray(part["filename"].encode("utf-8"))

    def on_part_data(data: bytes, start: int, end: int) -> None:
        if part.get("name") == "file":
            receiver.write(data[start:end])
        elif part.get("name") == "csrf_token":
            value = fields.setdefault("csrf_token", bytearray())
            value += data[start:end]
            if len(value) > 200:
                raise ApiError(400, "a form field is too long.", "Use the upload page.")

    parser = MultipartParser(
        boundary,
        {
            "on_part_begin": on_part_begin,
            "on_header_field": on_header_field,
            "on_header_value": on_header_value,
            "on_header_end": on_header_end,
            "on_headers_finished": on_headers_finished,
            "on_part_data": on_part_data,
            "on_end": on_end,
        },
    )
    try:
        buffer = bytearray()
        async for chunk in request.stream():
            buffer += chunk
            if len(buffer) >= UPLOAD_BATCH:
                await run_in_threadpool(parser.write, bytes(buffer))
                buffer.clear()
        await run_in_threadpool(parser.write, bytes(buffer))
        parser.finalize()
        if not ended:
            raise ApiError(400, "the upload form ended before its closing boundary.", "Use the upload page.")
        if not seen_file:
            raise ApiError(
                422, "the form had no file in it.", "Choose the return file, then press Upload.", field="file"
            )
        received = await run_in_threadpool(receiver.finish)
    except UploadError as exc:
        receiver.discard()
        raise ApiError(exc.status, exc.message, exc.hint, field="file") from None
    except MultipartParseError:
        receiver.discard()
        raise ApiError(400, "the upload form is not well-formed multipart/form-data.", "Use the upload page.") from None
    except BaseException:
        receiver.discard()
        raise
    name = fields.get("__filename", bytearray()).decode("utf-8", "replace")
    outcome = await state.lander.land_async(received, principal.la_code, principal.actor(client_ip(request)), name)
    return RedirectResponse(
        f"/submissions/{outcome.submission.id}?new=1" + ("&duplicate=1" if outcome.duplicate else ""),
        status_code=303,
    )


@router.get("/submissions/{sub_id}")
def submission_page(
    request: Request,
    sub_id: str,
    principal: SubmissionReader,
    new: int = Query(0, ge=0, le=1),
    duplicate: int = Query(0, ge=0, le=1),
) -> Response:
    """A submission's status and data-quality report (audited as a report view)."""
    sub = views.viewed_submission(request, principal, sub_id, {"format": "html"})
    report = views.report_json(_state(request).config, sub)
    return render(
        request,
        "submission.html",
        principal,
        sub=sub,
        report=report,
        new=bool(new),
        duplicate=bool(duplicate),
        summary_items=_summary_items(report["summary"]),
        checks=list((report["summary"] or {}).get("problem_counts") or []),
        files=list(views.REPORT_FILES) if sub.has_report else [],
    )


def _summary_items(summary: Any) -> list[tuple[str, str]]:
    """The headline lines of the validator's summary (docs/dq-summary.schema.json), for a plain table."""
    if not isinstance(summary, dict):
        return []

    def period(p: Any) -> str | None:
        return f"{p['start']} to {p['end']}" if isinstance(p, dict) and p.get("start") and p.get("end") else None

    totals = summary.get("totals") or {}
    items = [
        ("Reporting period stated in the file", period(summary.get("stated_period"))),
        ("Period the data cover (national method)", period(summary.get("derived_period"))),
        ("Errors", totals.get("errors")),
        ("Warnings", totals.get("warnings")),
        ("Rows with errors", totals.get("rows_with_errors")),
        ("Rows with warnings", totals.get("rows_with_warnings")),
        ("Specification", (summary.get("spec") or {}).get("label")),
        ("Checked by", f"ascld {(summary.get('tool') or {}).get('version', '')}".strip()),
        ("Why it was refused", summary.get("reason")),
    ]
    return [(k, f"{v:,}" if isinstance(v, int) else str(v)) for k, v in items if v not in (None, "", "ascld")]


@router.get("/submissions/{sub_id}/files/{name}")
def report_file(request: Request, sub_id: str, name: str, principal: SubmissionReader):
    """A report file (HTML report, summary JSON, problems CSV)."""
    return views.report_file_response(request, principal, sub_id, name)


@router.get("/overview")
def overview_page(request: Request, principal: OverviewReader) -> Response:
    """Every council's latest submission with its data-quality rates."""
    with _state(request).db.tx() as s:
        rows = views.overview_rows(s)
    return render(request, "overview.html", principal, rows=rows)


@router.get("/national")
def national_page(request: Request, principal: NationalReader) -> Response:
    """What the national store holds (pseudonymised; counts only here)."""
    with _state(request).db.tx() as s:
        rows = views.national_rows(s)
    return render(request, "national.html", principal, rows=rows)


@router.get("/audit")
def audit_page(
    request: Request,
    principal: AuditReader,
    action: str | None = Query(None, max_length=32),
    la_code: str | None = Query(None, max_length=16),
    before: int | None = Query(None, ge=1, le=MAX_ID),
) -> Response:
    """The audit trail with filters (the view is itself audited)."""
    action = action or None
    la_code = la_code or None
    with _state(request).db.tx() as s:
        events = views.audit_rows(s, action=action, la_code=la_code, before=before, limit=100)
        views.record_audit_view(s, principal.actor(client_ip(request)), action, la_code, len(events))
    older = events[-1]["id"] if len(events) == 100 else None
    return render(
        request,
        "audit.html",
        principal,
        events=events,
        actions=sorted(ACTIONS),
        action=action,
        la_code=la_code,
        older=older,
    )


@router.post("/retention")
def retention_page(request: Request, principal: RetentionRunner) -> Response:
    """Apply the retention schedule now."""
    state = _state(request)
    deletions = run_retention(state.config, state.db, actor=principal.actor(client_ip(request)))
    return render(
        request,
        "message.html",
        principal,
        title="Retention schedule applied",
        message=f"{len(deletions)} deletion(s) made and recorded in the audit trail.",
        back=HOME[principal.role],
    )


@router.get("/tokens")
def tokens_page(request: Request, principal: TokenOwner) -> Response:
    """The caller's API tokens."""
    with _state(request).db.tx() as s:
        rows = tokens_of(s, principal.user_id)
    return render(request, "tokens.html", principal, tokens=rows, new_token=None, error=None, **_token_days(request))


def _token_days(request: Request) -> dict[str, Any]:
    """The token form's default and longest lifetime: the service's settings."""
    settings = _state(request).config.settings
    return {"token_days": settings.token_days, "max_token_days": settings.max_token_days}


@router.post("/tokens")
def tokens_create(
    request: Request,
    principal: TokenOwner,
    name: str = Form(..., min_length=1, max_length=100),
    days: float | None = Form(None, gt=0),
) -> Response:
    """Make a token; the page shows it once."""
    state = _state(request)
    error, text = None, None
    with state.db.tx() as s:
        user = s.get(User, principal.user_id)
        try:
            _, text = create_token(
                s,
                user,
                name,
                state.config.settings,
                days=days,
                actor=principal.actor(client_ip(request)),
                made_with=principal.token_id,
            )
        except UsageError as exc:
            error = str(exc)
    with state.db.tx() as s:
        rows = tokens_of(s, principal.user_id)
    return render(
        request,
        "tokens.html",
        principal,
        status=201 if text else 422,
        tokens=rows,
        new_token=text,
        error=error,
        **_token_days(request),
    )


@router.post("/tokens/{token_id}/revoke")
def tokens_revoke(request: Request, token_id: str, principal: TokenOwner) -> Response:
    """Revoke one of the caller's tokens (an administrator may revoke anyone's)."""
    with _state(request).db.tx() as s:
        row = s.get(ApiToken, token_id) if len(token_id) <= 16 else None
        if row is None or (row.user_id != principal.user_id and principal.role != ADMIN):
            raise not_found("token")
        owner = s.get(User, row.user_id)
        revoke_token(s, token_id, principal.actor(client_ip(request)), owner.la_code if owner else None)
    return RedirectResponse(
        "/admin" if principal.role == ADMIN and row.user_id != principal.user_id else "/tokens",
        status_code=303,
    )


@router.get("/admin")
def admin_page(request: Request, principal: AccountManager) -> Response:
    """Councils, accounts and their tokens."""
    return _admin(request, principal, None, None)


def _admin(
    request: Request, principal: Principal, error: str | None, message: str | None, status: int = 200
) -> Response:
    with _state(request).db.tx() as s:
        councils = list(s.scalars(select(Council).order_by(Council.la_code)))
        users = list(s.scalars(select(User).order_by(User.username)))
        tokens = list(
            s.scalars(select(ApiToken).where(ApiToken.revoked_at.is_(None)).order_by(ApiToken.created_at.desc()))
        )
    names = {u.id: u.username for u in users}
    return render(
        request,
        "admin.html",
        principal,
        status=status,
        councils=councils,
        users=users,
        tokens=tokens,
        names=names,
        roles=ROLES,
        error=error,
        message=message,
    )


@router.post("/admin/councils")
def admin_add_council(
    request: Request,
    principal: AccountManager,
    la_code: str = Form(..., max_length=16),
    name: str = Form(..., max_length=200),
) -> Response:
    """Add a council."""
    try:
        with _state(request).db.tx() as s:
            if s.get(Council, la_code) is not None:
                raise UsageError(f"a council with LA code {la_code} exists already.")
            create_council(s, la_code, name)
            record_event(
                s,
                principal.actor(client_ip(request)),
                "council_create",
                la_code=la_code,
                object_type="council",
                object_id=la_code,
            )
    except UsageError as exc:
        return _admin(request, principal, str(exc), None, 422)
    return _admin(request, principal, None, f"Council {la_code} added.", 201)


@router.post("/admin/users")
def admin_add_user(
    request: Request,
    principal: AccountManager,
    username: str = Form(..., max_length=64),
    password: str = Form(..., max_length=256),
    role: str = Form(..., max_length=32),
    la_code: str = Form("", max_length=16),
) -> Response:
    """Add an account."""
    try:
        with _state(request).db.tx() as s:
            user = create_user(s, username, password, role, la_code or None)
            record_event(
                s,
                principal.actor(client_ip(request)),
                "user_create",
                la_code=user.la_code,
                object_type="user",
                object_id=str(user.id),
                detail={"role": role},
            )
    except UsageError as exc:
        return _admin(request, principal, str(exc), None, 422)
    return _admin(request, principal, None, f"Account {username} added.", 201)


@router.post("/admin/users/{user_id}/active")
def admin_set_active(
    request: Request,
    principal: AccountManager,
    user_id: int = PathParam(..., ge=1, le=MAX_ID),
    active: int = Form(..., ge=0, le=1),
) -> Response:
    """Turn an account on or off (its sessions and tokens stop working while it is off)."""
    if user_id == principal.user_id:
        return _admin(request, principal, "you cannot turn off your own account.", None, 422)
    with _state(request).db.tx() as s:
        user = s.get(User, user_id)
        if user is None:
            raise not_found("account")
        user.active = bool(active)
        record_event(
            s,
            principal.actor(client_ip(request)),
            "user_update",
            la_code=user.la_code,
            object_type="user",
            object_id=str(user.id),
            detail={"active": bool(active)},
        )
    return RedirectResponse("/admin", status_code=303)


def login_redirect(request: Request) -> RedirectResponse:
    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
    return RedirectResponse(f"/login?next={quote(target, safe='')}", status_code=303)
