"""Who may do what: the caller, role checks, council scoping, CSRF, and the one JSON error shape.

Every request is made by a `Principal`, found from a bearer token (`Authorization: Bearer ascld_...`) or a web
session cookie. `PERMISSIONS` is the whole authorisation policy as data; routes name a permission, never a
role. A council submitter reaches only its own council's submissions: another council's id answers exactly as
an id that does not exist (404), so ids cannot be probed. Unsafe requests made with a session cookie must
carry the session's CSRF token (form field `csrf_token` or header `X-CSRF-Token`) and, when the browser sends
one, an `Origin` of this site; bearer-token requests carry no ambient credentials and need neither.
"""

from __future__ import annotations

import hmac
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlsplit

from fastapi import Depends, Request
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from ascld.errors import AscldError
from ascld.landing.auth import (
    ADMIN,
    ANALYST,
    COUNCIL,
    DPO,
    PROCESSOR,
    ROLES,
    Principal,
    principal_from_session,
)
from ascld.landing.models import Submission
from ascld.landing.tokens import principal_from_token

SESSION_COOKIE = "ascld_session"
LOGIN_CSRF_COOKIE = "ascld_login_csrf"
CSRF_HEADER = "x-csrf-token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The largest id a request may name: the databases' 64-bit integers (a larger number is a 422, not a 500).
MAX_ID = 2**63 - 1

# The authorisation policy. Submission permissions are further scoped: councils see their own council only.
PERMISSIONS: dict[str, frozenset[str]] = {
    "upload": frozenset({COUNCIL}),
    "submissions.read": frozenset({COUNCIL, PROCESSOR}),
    "submissions.raw": frozenset({PROCESSOR}),
    "overview": frozenset({PROCESSOR}),
    "national.read": frozenset({ANALYST}),
    "audit.read": frozenset({DPO}),
    "retention.run": frozenset({DPO, ADMIN}),
    "accounts.manage": frozenset({ADMIN}),
    "tokens.own": frozenset(ROLES),
    "signed_in": frozenset(ROLES),
}


@dataclass
class ErrorItem:
    """One entry of `errors[]`: the Problem fields (STYLE.md §2.3, §5.5)."""

    message: str
    hint: str = ""
    file: str | None = None
    row: int | None = None
    field: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "row": self.row,
            "field": self.field,
            "message": self.message,
            "hint": self.hint,
        }


class ApiError(AscldError):
    """An HTTP error answered with the one JSON error shape (or the HTML error page for pages).

    Attributes:
        status: HTTP status code.
        errors: the entries of `errors[]`.
        extra: additional top-level keys (e.g. `report` for a refused upload).
        headers: extra response headers (e.g. `WWW-Authenticate`).
    """

    def __init__(
        self,
        status: int,
        message: str,
        hint: str = "",
        *,
        field: str | None = None,
        errors: list[ErrorItem] | None = None,
        extra: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.errors = errors if errors is not None else [ErrorItem(message, hint, field=field)]
        self.extra = extra or {}
        self.headers = headers or {}

    def body(self) -> dict[str, Any]:
        return error_body(self.status, [e.as_dict() for e in self.errors], **self.extra)


def error_body(status: int, errors: list[dict[str, Any]], **extra: Any) -> dict[str, Any]:
    """The one JSON error shape: `{"ok": false, "status": N, "errors": [{file,row,field,message,hint}]}`."""
    return {"ok": False, "status": status, "errors": errors, **extra}


def not_signed_in() -> ApiError:
    return ApiError(
        401,
        "you are not signed in, or your session or token has expired.",
        "Sign in again, or make a new API token on the Tokens page.",
        headers={"WWW-Authenticate": 'Bearer realm="ascld"'},
    )


def forbidden() -> ApiError:
    return ApiError(403, "your role cannot do this.", "Ask your administrator if you need this access.")


def not_found(what: str = "page") -> ApiError:
    return ApiError(
        404,
        f"there is no such {what}, or it is not yours to see.",
        "Check the address, or go back to your list.",
    )


def client_ip(request: Request) -> str | None:
    return request.client.host if request.client else None


def _db_session(request: Request) -> Any:
    return request.app.state.landing.db.tx()


def resolve_principal(request: Request) -> Principal | None:
    """The caller: bearer token first, then the session cookie. Cached on the request."""
    if hasattr(request.state, "principal"):
        return request.state.principal
    principal: Principal | None = None
    auth = request.headers.get("authorization", "")
    with _db_session(request) as s:
        if auth:
            scheme, _, value = auth.partition(" ")
            principal = principal_from_token(s, value.strip()) if scheme.lower() == "bearer" else None
        elif request.cookies.get(SESSION_COOKIE):
            principal = principal_from_session(s, request.cookies[SESSION_COOKIE])
    request.state.principal = principal
    return principal


def same_origin(request: Request) -> bool:
    """False when the browser says the request comes from another site (`Origin` or `Sec-Fetch-Site`).

    The Origin's host and port are compared with the Host header; the scheme is not, because behind a TLS
    proxy the service itself is reached over plain http while the browser's Origin says https.
    """
    origin = request.headers.get("origin")
    if origin is not None:
        netloc = urlsplit(origin).netloc if origin != "null" else ""
        if not netloc or netloc.lower() != request.headers.get("host", "").lower():
            return False
    return request.headers.get("sec-fetch-site", "same-origin") in ("same-origin", "none")


def check_csrf(request: Request, principal: Principal, submitted: str | None) -> None:
    """Raise 403 unless a session-cookie request carries the session's CSRF token and comes from this site."""
    if principal.via != "session" or request.method in SAFE_METHODS:
        return
    token = submitted or request.headers.get(CSRF_HEADER) or ""
    if (
        not same_origin(request)
        or not principal.csrf_token
        or not hmac.compare_digest(token.encode(), principal.csrf_token.encode())
    ):
        raise ApiError(403, "the form's security token is missing or out of date.", "Reload the page and try again.")


def require(permission: str, *, csrf_in_handler: bool = False) -> Any:
    """A FastAPI dependency: the caller, who must hold `permission` (and pass CSRF on unsafe session
    requests).

    The CSRF token is read from the `X-CSRF-Token` header or, for urlencoded forms, the `csrf_token` field.

    Args:
        permission: a key of `PERMISSIONS`.
        csrf_in_handler: the handler checks CSRF itself (the streamed multipart upload form, whose token is a
            form part that arrives before the file).
    """
    allowed = PERMISSIONS[permission]

    async def dependency(request: Request) -> Principal:
        principal = await run_in_threadpool(resolve_principal, request)
        if principal is None:
            raise not_signed_in()
        if principal.role not in allowed:
            raise forbidden()
        if request.method not in SAFE_METHODS and principal.via == "session" and not csrf_in_handler:
            submitted = None
            if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
                submitted = str((await request.form()).get("csrf_token") or "")
            check_csrf(request, principal, submitted)
        return principal

    dependency.__name__ = f"require_{permission.replace('.', '_')}"
    return Depends(dependency)


def submission_for(session: Session, principal: Principal, sub_id: str) -> Submission:
    """The submission `sub_id` if the caller may see it; 404 otherwise (same answer as for a missing id)."""
    sub = session.get(Submission, sub_id) if len(sub_id) == 32 else None
    if sub is None or principal.role not in PERMISSIONS["submissions.read"]:
        raise not_found("submission")
    if principal.role == COUNCIL and sub.la_code != principal.la_code:
        raise not_found("submission")
    return sub


SignedIn = Annotated[Principal, require("signed_in")]
Uploader = Annotated[Principal, require("upload")]
FormUploader = Annotated[Principal, require("upload", csrf_in_handler=True)]
SubmissionReader = Annotated[Principal, require("submissions.read")]
RawReader = Annotated[Principal, require("submissions.raw")]
OverviewReader = Annotated[Principal, require("overview")]
NationalReader = Annotated[Principal, require("national.read")]
AuditReader = Annotated[Principal, require("audit.read")]
RetentionRunner = Annotated[Principal, require("retention.run")]
AccountManager = Annotated[Principal, require("accounts.manage")]
TokenOwner = Annotated[Principal, require("tokens.own")]
