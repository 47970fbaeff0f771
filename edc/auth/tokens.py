"""API bearer tokens: issue (shown once), revoke, and resolve a request's token to its user."""

from __future__ import annotations

import hashlib
import secrets
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

import audit
from audit import Actor
from edc.auth import twofactor
from edc.clock import utcnow
from edc.extensions import db
from edc.models import ApiToken, User
from edc.models.user import with_access
from forms.validate import MAX_REASON, free_text_problem

PREFIX = "edc_"


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


TOUCH_EVERY = timedelta(minutes=1)


def issue(user: User, *, label: str, actor: Actor, days: int | None = None
          ) -> tuple[ApiToken, str]:
    """A new token, valid for ``days`` (default ``EDC_API_TOKEN_DAYS``, 90)."""
    if not user.active:
        raise ValueError(f"{user.username} is deactivated")
    if problem := free_text_problem(label, 100):  # refused, never cut short
        raise ValueError(f"the label: {problem}")
    days = days if days is not None else current_app.config["EDC_API_TOKEN_DAYS"]
    if not 1 <= days <= 3650:
        raise ValueError("a token is valid for 1 to 3650 days")
    token = PREFIX + secrets.token_urlsafe(32)
    now = utcnow()
    row = ApiToken(user_id=user.id, token_hash=_digest(token), label=label,
                   created_at=now, expires_at=now + timedelta(days=days))
    db.session.add(row)
    db.session.flush()
    audit.record(db.session, "token.create", actor=actor, target_type="user",
                 target_id=str(user.id), new_value=f"token {row.id}",
                 details={"label": label[:100],
                          "expires_at_utc": row.expires_at.isoformat(timespec="seconds")})
    return row, token


def revoke(row: ApiToken, *, actor: Actor, reason: str) -> None:
    if row.revoked_at is not None:
        raise ValueError(f"token {row.id} is already revoked")
    if problem := free_text_problem(reason or "", MAX_REASON):
        raise ValueError(f"the reason: {problem}")
    row.revoked_at = utcnow()
    audit.record(db.session, "token.revoke", actor=actor, target_type="user",
                 target_id=str(row.user_id), old_value=f"token {row.id}", reason=reason)


def revoke_all(user: User, *, actor: Actor, reason: str) -> int:
    """Revoke every live token of ``user`` (a password reset or change), each audited."""
    rows = db.session.scalars(select(ApiToken).where(ApiToken.user_id == user.id,
                                                     ApiToken.revoked_at.is_(None))).all()
    for row in rows:
        revoke(row, actor=actor, reason=reason)
    return len(rows)


def user_for(header: str | None) -> User | None:
    """The active user behind ``Authorization: Bearer <token>``, or None."""
    if not header or not header.startswith("Bearer "):
        return None
    token = header[len("Bearer "):].strip()
    if not token.startswith(PREFIX):
        return None
    row = db.session.scalars(select(ApiToken).where(ApiToken.token_hash == _digest(token))
                             .options(with_access(ApiToken.user))).unique().one_or_none()
    if row is None or row.revoked_at is not None or not row.user.is_active:
        return None
    if twofactor.must_enrol(row.user):  # an administrator works only with a second factor
        return None
    now = utcnow()
    if row.expires_at is None or now >= row.expires_at:
        return None  # expired (tokens issued before expiry existed count as expired)
    if row.last_used_at is None or now - row.last_used_at >= TOUCH_EVERY:
        row.last_used_at = now  # committed by the request hook that resolves the token
    return row.user


def listing(username: str | None = None) -> list[ApiToken]:
    stmt = select(ApiToken).order_by(ApiToken.id)
    if username:
        stmt = stmt.join(ApiToken.user).where(User.username == username)
    return list(db.session.scalars(stmt))
