"""API tokens: `ascld_<id>_<secret>`, sent as `Authorization: Bearer ...`.

The token is shown once, when it is made. The database keeps its id (for listing and revoking) and the SHA-256
of the whole token: the secret has 256 bits of entropy, so a fast hash is enough (a slow KDF only matters for
guessable secrets such as passwords). Every token has an expiry and can be revoked.
"""

from __future__ import annotations

import datetime as dt
import hmac
import re
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from ascld.errors import UsageError
from ascld.landing.audit import Actor, record_event
from ascld.landing.auth import Principal, sha256_hex
from ascld.landing.models import ApiToken, User, utcnow
from ascld.landing.settings import Settings

TOKEN_FORMAT = re.compile(r"^ascld_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")


def create_token(
    session: Session,
    user: User,
    name: str,
    settings: Settings,
    *,
    days: float | None = None,
    actor: Actor | None = None,
    made_with: str | None = None,
) -> tuple[ApiToken, str]:
    """Make a token for `user`; returns the row and the token text (the only time it exists in clear).

    Args:
        made_with: the id of the API token the request was made with, if any: the new token expires no later
            than that one, so a token cannot renew itself for ever by making new ones.

    Raises:
        UsageError: a lifetime longer than `max_token_days` or not positive.
    """
    days = settings.token_days if days is None else days
    if not 0 < days <= settings.max_token_days:
        raise UsageError(f"a token lives between 1 and {settings.max_token_days:g} days.")
    token_id = secrets.token_hex(6)
    text = f"ascld_{token_id}_{secrets.token_urlsafe(32)}"
    now = utcnow()
    expires_at = now + dt.timedelta(days=days)
    parent = session.get(ApiToken, made_with) if made_with else None
    if parent is not None and parent.expires_at < expires_at:
        expires_at = parent.expires_at
    row = ApiToken(
        id=token_id,
        user_id=user.id,
        name=(name.strip() or "token")[:100],
        token_hash=sha256_hex(text),
        created_at=now,
        expires_at=expires_at,
    )
    session.add(row)
    record_event(
        session,
        actor or Actor(user.id, user.username, user.role),
        "token_create",
        la_code=user.la_code,
        object_type="token",
        object_id=token_id,
        detail={"days": days},
    )
    return row, text


def principal_from_token(session: Session, text: str) -> Principal | None:
    """The caller behind a bearer token, or None if malformed, unknown, expired, revoked or inactive."""
    match = TOKEN_FORMAT.fullmatch(text)
    if not match:
        return None
    row = session.get(ApiToken, match.group(1))
    if row is None or not hmac.compare_digest(row.token_hash, sha256_hex(text)):
        return None
    now = utcnow()
    if row.revoked_at is not None or row.expires_at <= now:
        return None
    user = session.get(User, row.user_id)
    if user is None or not user.active:
        return None
    if row.last_used_at is None or now - row.last_used_at > dt.timedelta(minutes=1):
        row.last_used_at = now
    return Principal(user.id, user.username, user.role, user.la_code, "token", token_id=row.id)


def revoke_token(session: Session, token_id: str, actor: Actor, la_code: str | None) -> bool:
    """Revoke a token; returns False when it was already revoked."""
    row = session.get(ApiToken, token_id)
    if row is None or row.revoked_at is not None:
        return False
    row.revoked_at = utcnow()
    record_event(session, actor, "token_revoke", la_code=la_code, object_type="token", object_id=token_id)
    return True


def tokens_of(session: Session, user_id: int) -> list[ApiToken]:
    return list(
        session.scalars(select(ApiToken).where(ApiToken.user_id == user_id).order_by(ApiToken.created_at.desc()))
    )
