"""API bearer tokens: issue (shown once), revoke, and resolve a request's token to its user."""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select

import audit
from audit import Actor
from edc.clock import utcnow
from edc.extensions import db
from edc.models import ApiToken, User

PREFIX = "edc_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def issue(user: User, *, label: str, actor: Actor) -> tuple[ApiToken, str]:
    if not user.active:
        raise ValueError(f"{user.username} is deactivated")
    token = PREFIX + secrets.token_urlsafe(32)
    row = ApiToken(user_id=user.id, token_hash=_digest(token), label=label[:100])
    db.session.add(row)
    db.session.flush()
    audit.record(db.session, "token.create", actor=actor, target_type="user",
                 target_id=str(user.id), new_value=f"token {row.id}",
                 details={"label": label[:100]})
    db.session.commit()
    return row, token


def revoke(row: ApiToken, *, actor: Actor, reason: str) -> None:
    if row.revoked_at is not None:
        raise ValueError(f"token {row.id} is already revoked")
    row.revoked_at = utcnow()
    audit.record(db.session, "token.revoke", actor=actor, target_type="user",
                 target_id=str(row.user_id), old_value=f"token {row.id}", reason=reason)
    db.session.commit()


def user_for(header: str | None) -> User | None:
    """The active user behind ``Authorization: Bearer <token>``, or None."""
    if not header or not header.startswith("Bearer "):
        return None
    token = header[len("Bearer "):].strip()
    if not token.startswith(PREFIX):
        return None
    row = db.session.scalar(select(ApiToken).where(ApiToken.token_hash == _digest(token)))
    if row is None or row.revoked_at is not None or not row.user.is_active:
        return None
    return row.user
