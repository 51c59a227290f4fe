"""The audit trail: who did what, when, and for which purpose (DESIGN.md principle 4).

Events are appended in the same transaction as the change they describe, so an upload and its audit event
commit together or not at all. Triggers in the database refuse UPDATE and DELETE on the table. Details are a
small JSON object of counts, sizes, hashes and ids: never a value from inside a return. `record_event` refuses
detail values that look like an NHS number, a postcode or a date, as a last line of defence.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from sqlalchemy.orm import Session

from ascld.errors import AscldError
from ascld.identity import check_nhs_number, check_postcode
from ascld.landing.models import AuditEvent, utcnow

# Actions recorded. Each has one purpose unless the caller declares another (downloads carry the user's
# purpose).
ACTIONS = {
    "login": "authentication",
    "login_failed": "authentication",
    "logout": "authentication",
    "upload": "statutory CLD return",
    "upload_refused": "statutory CLD return",
    "ingest": "statutory CLD return",
    "ingest_failed": "statutory CLD return",
    "report_view": "data-quality feedback",
    "download": "data-quality feedback",
    "deletion": "retention schedule",
    "audit_view": "audit",
    "token_create": "account administration",
    "token_revoke": "account administration",
    "user_create": "account administration",
    "user_update": "account administration",
    "council_create": "account administration",
}

SYSTEM_ACTOR = "system"


class UnsafeAuditDetail(ValueError, AscldError):
    """An audit detail value looked like an identifying value and was refused."""


@dataclass(frozen=True)
class Actor:
    """Who an event is attributed to: a signed-in user, or the service itself (`system`)."""

    user_id: int | None
    username: str
    role: str
    ip: str | None = None


SYSTEM = Actor(None, SYSTEM_ACTOR, SYSTEM_ACTOR)

_DATE = re.compile(r"\b\d{1,2}[/-]\d{1,2}[/-]\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b")
_TEN_DIGITS = re.compile(r"(?<!\d)\d{3}[ -]?\d{3}[ -]?\d{4}(?!\d)")
_POSTCODE_LIKE = re.compile(r"\b[A-Z]{1,2}\d[A-Z\d]? ?\d[A-Z]{2}\b", re.IGNORECASE)


def _looks_identifying(text: str) -> bool:
    if _DATE.search(text):
        return True
    if any(check_nhs_number(m.group(0)).problem in (None, "check_digit") for m in _TEN_DIGITS.finditer(text)):
        return True
    return any(check_postcode(m.group(0)).problem is None for m in _POSTCODE_LIKE.finditer(text))


def _safe_detail(detail: Mapping[str, object]) -> str | None:
    if not detail:
        return None
    for key, value in detail.items():
        if isinstance(value, str) and not re.fullmatch(r"[0-9a-f]{64}", value) and _looks_identifying(value):
            raise UnsafeAuditDetail(f"audit detail {key!r} looks like an identifying value and was not recorded")
    return json.dumps(dict(detail), sort_keys=True, default=str)


def record_event(
    session: Session,
    actor: Actor,
    action: str,
    *,
    outcome: str = "ok",
    purpose: str | None = None,
    la_code: str | None = None,
    object_type: str | None = None,
    object_id: str | None = None,
    detail: Mapping[str, object] | None = None,
) -> AuditEvent:
    """Append one audit event to the current transaction.

    Args:
        session: the open transaction the audited change is part of.
        actor: who did it.
        action: one of `ACTIONS`.
        outcome: `ok`, `refused`, `denied` or `failed`.
        purpose: why; defaults to the action's purpose.
        la_code: the council whose data or account the event concerns.
        object_type: e.g. `submission`, `user`, `token`.
        object_id: the object's id (never a value from a return).
        detail: counts, sizes, hashes; checked for identifying-looking values.

    Raises:
        KeyError: an unknown action.
        UnsafeAuditDetail: a detail value looked identifying.
    """
    event = AuditEvent(
        at=utcnow(),
        actor_id=actor.user_id,
        actor=actor.username,
        role=actor.role,
        action=action,
        purpose=purpose or ACTIONS[action],
        outcome=outcome,
        la_code=la_code,
        object_type=object_type,
        object_id=object_id,
        ip=actor.ip,
        detail=_safe_detail(detail or {}),
    )
    session.add(event)
    return event
