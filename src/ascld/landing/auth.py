"""Accounts, roles, passwords and web sessions.

Passwords are hashed with Argon2id (argon2-cffi's RFC 9106 low-memory profile) and re-hashed on log-in when
the parameters change. A web session is a random token in an HttpOnly, SameSite=Strict cookie; the database
keeps only its SHA-256 and the session's CSRF token. Unknown user names cost the same Argon2 work as known
ones, so timing does not reveal which accounts exist.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import re
import secrets
from dataclasses import dataclass

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import select
from sqlalchemy.orm import Session

from ascld.errors import UsageError
from ascld.landing.audit import Actor, record_event
from ascld.landing.models import Council, User, WebSession, utcnow
from ascld.landing.settings import Settings

COUNCIL = "council_submitter"
PROCESSOR = "processor_operator"
ANALYST = "national_analyst"
DPO = "data_protection_officer"
ADMIN = "administrator"
ROLES = (COUNCIL, PROCESSOR, ANALYST, DPO, ADMIN)
ROLE_LABELS = {
    COUNCIL: "Council submitter",
    PROCESSOR: "Processor operator",
    ANALYST: "National analyst",
    DPO: "Data protection officer",
    ADMIN: "Administrator",
}

USERNAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._@-]{1,63}$")
LA_CODE = re.compile(r"^[A-Za-z0-9]{1,16}$")
MIN_PASSWORD = 12

_hasher = PasswordHasher()
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


# One answer for every refused log-in: it never says whether the user name exists.
LOGIN_REFUSED = (
    "the user name or password is not right, or the account is locked. Try again, or ask your administrator."
)


@dataclass(frozen=True)
class Principal:
    """The signed-in caller, detached from any database session.

    Attributes:
        via: `session` (web cookie) or `token` (API bearer token).
        csrf_token: the session's CSRF token (web sessions only).
    """

    user_id: int
    username: str
    role: str
    la_code: str | None
    via: str
    csrf_token: str | None = None
    token_id: str | None = None

    def actor(self, ip: str | None = None) -> Actor:
        return Actor(self.user_id, self.username, self.role, ip)


def sha256_hex(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def hash_password(password: str) -> str:
    """Argon2id hash of `password` (the encoded form carries its salt and parameters)."""
    return _hasher.hash(password)


def check_password_rules(password: str) -> None:
    """Raises UsageError unless the password is long enough to be worth hashing."""
    if len(password) < MIN_PASSWORD:
        raise UsageError(f"the password is too short: use at least {MIN_PASSWORD} characters.")


def create_council(session: Session, la_code: str, name: str) -> Council:
    """Add a council by its LA code (CASSR code)."""
    if not LA_CODE.fullmatch(la_code):
        raise UsageError("an LA code is 1 to 16 letters or digits, e.g. 503.")
    council = Council(la_code=la_code, name=name.strip()[:200] or la_code, created_at=utcnow())
    session.add(council)
    session.flush()
    return council


def create_user(session: Session, username: str, password: str, role: str, la_code: str | None = None) -> User:
    """Add an account. Council submitters must name their council; other roles must not.

    Raises:
        UsageError: a bad user name, role, password or council binding.
    """
    if not USERNAME.fullmatch(username):
        raise UsageError("a user name is 2 to 64 letters, digits or . _ @ -, starting with a letter or digit.")
    if role not in ROLES:
        raise UsageError(f"unknown role {role!r}; roles are {', '.join(ROLES)}.")
    if (role == COUNCIL) != (la_code is not None):
        raise UsageError(
            "council submitters are bound to exactly one council (give its LA code); other roles are bound to none."
        )
    if la_code is not None and session.get(Council, la_code) is None:
        raise UsageError(f"no council with LA code {la_code!r}: add the council first.")
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise UsageError(f"the user name {username!r} is taken.")
    check_password_rules(password)
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role,
        la_code=la_code,
        active=True,
        failed_logins=0,
        created_at=utcnow(),
    )
    session.add(user)
    session.flush()
    return user


def authenticate(session: Session, username: str, password: str, settings: Settings, ip: str | None) -> User | None:
    """Check a user name and password, recording a failure (and the lock-out count) in `session`.

    Returns:
        The user, or None for a wrong name or password, an inactive or a locked account (the caller shows
        `LOGIN_REFUSED` for all of them, after committing the failure's audit event).
    """
    now = utcnow()
    user = session.scalar(select(User).where(User.username == username)) if USERNAME.fullmatch(username) else None
    if user is None:
        with contextlib.suppress(VerificationError):
            _hasher.verify(_DUMMY_HASH, password)
        # The attempted name is not recorded: people type passwords into the name box.
        record_event(session, Actor(None, "unknown", "anonymous", ip), "login_failed", outcome="denied")
        return None
    actor = Actor(user.id, user.username, user.role, ip)
    try:
        _hasher.verify(user.password_hash, password)
        ok = user.active and not (user.locked_until and user.locked_until > now)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        ok = False
        user.failed_logins += 1
        if user.failed_logins >= settings.login_lockout_failures:
            user.locked_until = now + dt.timedelta(minutes=settings.login_lockout_minutes)
            user.failed_logins = 0
    if not ok:
        record_event(session, actor, "login_failed", outcome="denied", la_code=user.la_code)
        return None
    if _hasher.check_needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    user.failed_logins = 0
    user.locked_until = None
    user.last_login_at = now
    return user


def start_session(session: Session, user: User, settings: Settings, ip: str | None) -> str:
    """Open a web session for `user` and return the cookie value (shown once; only its hash is stored)."""
    token = secrets.token_urlsafe(32)
    now = utcnow()
    session.add(
        WebSession(
            token_hash=sha256_hex(token),
            user_id=user.id,
            csrf_token=secrets.token_urlsafe(32),
            created_at=now,
            expires_at=now + dt.timedelta(minutes=settings.session_minutes),
        )
    )
    record_event(session, Actor(user.id, user.username, user.role, ip), "login", la_code=user.la_code)
    return token


def principal_from_session(session: Session, cookie_value: str) -> Principal | None:
    """The caller behind a session cookie, or None if unknown, expired, revoked or the user inactive."""
    if not cookie_value or len(cookie_value) > 128:
        return None
    row = session.get(WebSession, sha256_hex(cookie_value))
    if row is None or row.revoked_at is not None or row.expires_at <= utcnow():
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    return Principal(user.id, user.username, user.role, user.la_code, "session", csrf_token=row.csrf_token)


def end_session(session: Session, cookie_value: str, actor: Actor) -> None:
    """Revoke a web session (log-out)."""
    row = session.get(WebSession, sha256_hex(cookie_value))
    if row is not None and row.revoked_at is None:
        row.revoked_at = utcnow()
        record_event(session, actor, "logout")
