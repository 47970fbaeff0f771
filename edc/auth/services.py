"""Authentication operations: log in, resume and end sessions, change passwords.

Each operation writes its audit entries in its own transaction and commits.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import select, update

import audit
from audit import Actor
from edc.auth import tokens
from edc.auth.passwords import (
    burn_verify,
    check_policy,
    hash_password,
    needs_rehash,
    verify_password,
)
from edc.clock import utcnow
from edc.extensions import db
from edc.i18n import LOCALES
from edc.models import AuthSession, PasswordHistory, User
from edc.models.user import with_access
from edc.uow import refuse_later
from forms.text import N_

GENERIC_FAILURE = "Invalid username or password."
LOCKED_MESSAGE = "This account is locked. Ask an administrator to unlock it."


@dataclass
class LoginResult:
    user: User | None = None
    token: str | None = None
    error: str | None = None
    needs_code: bool = False  # the password was right; the second factor is asked next


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def normalise_username(username: str) -> str:
    return (username or "").strip().lower()


def find_user(username: str) -> User | None:
    return db.session.scalar(select(User).where(User.username == normalise_username(username)))


def authenticate(username: str, password: str, *, actor: Actor) -> LoginResult:
    """Check credentials; on success open a server-side session and return its token, or,
    for an account with a second factor, say that the code is asked next (``needs_code``,
    no session yet: :func:`open_session` follows the code). A failure is recorded (and
    counted) in the same unit of work: it never raises. Does not commit: the boundary does."""
    user = find_user(username)
    attempted = normalise_username(username)[:64]

    if user is None:
        burn_verify(password)
        audit.record(db.session, "auth.login_failed", actor=actor, username=attempted,
                     details={"why": "unknown username"})
        return LoginResult(error=GENERIC_FAILURE)

    actor = Actor.for_user(user, source=actor.source, request_id=actor.request_id, ip=actor.ip)
    if not user.active:
        burn_verify(password)
        audit.record(db.session, "auth.login_failed", actor=actor, target_type="user",
                     target_id=str(user.id), details={"why": "account deactivated"})
        return LoginResult(error=GENERIC_FAILURE)
    if user.locked:
        burn_verify(password)
        audit.record(db.session, "auth.login_failed", actor=actor, target_type="user",
                     target_id=str(user.id), details={"why": "account locked"})
        return LoginResult(error=LOCKED_MESSAGE)

    if not verify_password(user.password_hash, password):
        locked = register_failed_password(user, "auth.login_failed", actor=actor)
        return LoginResult(error=LOCKED_MESSAGE if locked else GENERIC_FAILURE)

    if needs_rehash(user.password_hash):
        user.password_hash = hash_password(password)
    if user.totp_secret is not None:
        return LoginResult(user=user, needs_code=True)
    return open_session(user, actor=actor)


def open_session(user: User, *, actor: Actor) -> LoginResult:
    """Every factor checked: reset the failure count and open a server-side session."""
    user.failed_login_count = 0
    user.last_login_at = utcnow()
    token = secrets.token_urlsafe(32)
    db.session.add(AuthSession(token_hash=_token_hash(token), user_id=user.id, ip=actor.ip))
    audit.record(db.session, "auth.login", actor=actor, target_type="user", target_id=str(user.id))
    return LoginResult(user=user, token=token)


def register_failed_password(user: User, action: str, *, actor: Actor,
                             details: dict | None = None) -> bool:
    """Count a wrong password (at sign-in or at signing), audit it, and lock the account at
    the limit of consecutive failures. Returns whether the account is now locked. The caller
    commits."""
    user.failed_login_count += 1
    audit.record(db.session, action, actor=actor, target_type="user", target_id=str(user.id),
                 details={"why": "wrong password", "consecutive": user.failed_login_count,
                          **(details or {})})
    if user.failed_login_count < current_app.config["EDC_MAX_FAILED_LOGINS"]:
        return False
    user.locked = True
    user.locked_at = utcnow()
    end_user_sessions(user, "locked")
    audit.record(db.session, "user.locked", actor=actor, target_type="user",
                 target_id=str(user.id), old_value="unlocked", new_value="locked",
                 reason=f"{user.failed_login_count} consecutive failed password entries")
    return True


def fail_later(user: User, action: str, *, actor: Actor, details: dict) -> bool:
    """A wrong secret (current password at a change, password or code at signing or at
    sign-in's code step) inside a unit of work that will roll back: count and audit it after
    the rollback, like a failed sign-in. Returns whether this failure locks the account."""
    locks = user.failed_login_count + 1 >= current_app.config["EDC_MAX_FAILED_LOGINS"]
    refuse_later(lambda: register_failed_password(user, action, actor=actor, details=details))
    return locks


def resume_session(user_id: str, token: str | None) -> User | None:
    """The user behind a session cookie, or None when the session is over. Does not commit:
    the request hook that loads the user is its own unit of work.

    Ends the session (audited) when it was idle too long or is past its absolute lifetime;
    refuses it when it was revoked or the account is deactivated or locked.
    """
    if not token or not user_id or not user_id.isdigit():
        return None
    cfg = current_app.config
    row = session_is_current(token)
    if row is None or row.user_id != int(user_id) or row.ended_at is not None:
        return None
    user = row.user
    now = utcnow()
    why = None
    if not user.is_active:
        why = "account inactive"
    elif now - row.created_at > cfg["PERMANENT_SESSION_LIFETIME"]:
        why = "absolute lifetime"
    elif now - row.last_seen_at > cfg["EDC_IDLE_TIMEOUT"]:
        why = "idle timeout"
    if why is not None:
        row.ended_at = now
        row.end_reason = why
        actor = Actor.for_user(user, source="web", ip=row.ip)
        audit.record(db.session, "auth.session_ended", actor=actor, target_type="user",
                     target_id=str(user.id), reason=why)
        return None
    if now - row.last_seen_at >= cfg["EDC_SESSION_TOUCH_INTERVAL"]:
        row.last_seen_at = now
    return user


def session_is_current(token: str | None) -> AuthSession | None:
    if not token:
        return None
    stmt = select(AuthSession).where(AuthSession.token_hash == _token_hash(token))
    return db.session.scalars(stmt.options(with_access(AuthSession.user))).unique().one_or_none()


def logout(user: User, token: str | None, *, actor: Actor) -> None:
    row = session_is_current(token)
    if row is not None and row.ended_at is None:
        row.ended_at = utcnow()
        row.end_reason = "logout"
    audit.record(db.session, "auth.logout", actor=actor, target_type="user", target_id=str(user.id))


def choose_language(user: User, lang: str, *, actor: Actor) -> None:
    """Keep the interface language the user chose with the account (for the next sign-in),
    audited as a change of the account. The caller commits."""
    if lang not in LOCALES:
        raise ValueError(N_("Choose English or 中文."))
    if user.language == lang:
        return
    old, user.language = user.language, lang
    audit.record(db.session, "user.update", actor=actor, target_type="user",
                 target_id=str(user.id), item_oid="language", old_value=old, new_value=lang,
                 reason="interface language chosen by the user")


def end_user_sessions(user: User, reason: str, *, keep_token: str | None = None) -> int:
    """Revoke every open session of ``user`` (but the one whose token is ``keep_token``)."""
    stmt = (
        update(AuthSession)
        .where(AuthSession.user_id == user.id, AuthSession.ended_at.is_(None))
        .values(ended_at=utcnow(), end_reason=reason)
    )
    if keep_token:
        stmt = stmt.where(AuthSession.token_hash != _token_hash(keep_token))
    return db.session.execute(stmt).rowcount


def set_password(user: User, password: str, *, temporary: bool = False) -> None:
    """Store a new hash (policy already checked) and remember it in the history."""
    user.password_hash = hash_password(password)
    user.password_changed_at = utcnow()
    user.must_change_password = temporary
    db.session.add(PasswordHistory(user_id=user.id, password_hash=user.password_hash))


def change_own_password(user: User, current: str, new: str, *, token: str | None,
                        actor: Actor) -> None:
    """Raise PasswordPolicyError (or ValueError for a wrong current password, recorded after
    the unit of work's rollback). Does not commit: the boundary does."""
    if not verify_password(user.password_hash, current):
        # guesses of the current password count toward the lockout, as at sign-in
        locks = fail_later(user, "auth.password_change_failed", actor=actor,
                           details={"why": "wrong current password"})
        raise ValueError(N_("The account is now locked.") if locks else
                         N_("The current password is not correct."))
    check_policy(user, new)
    set_password(user, new)
    revoked = end_user_sessions(user, "password changed", keep_token=token)
    audit.record(db.session, "user.password_changed", actor=actor, target_type="user",
                 target_id=str(user.id), details={"other_sessions_revoked": revoked})
    tokens.revoke_all(user, actor=actor, reason="password changed")


def password_expired(user: User) -> bool:
    if user.must_change_password:
        return True
    max_age = current_app.config["EDC_PASSWORD_MAX_AGE"]
    return max_age is not None and utcnow() - user.password_changed_at > max_age

