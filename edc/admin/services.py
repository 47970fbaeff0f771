"""Account, role and site administration. Every change is audited like a data change."""

from __future__ import annotations

import re
from zoneinfo import available_timezones

from sqlalchemy import select

import audit
from audit import Actor
from edc.auth import tokens, twofactor
from edc.auth.passwords import check_policy, temporary_password
from edc.auth.services import end_user_sessions, set_password
from edc.clock import utcnow
from edc.extensions import db
from edc.i18n import LOCALES
from edc.models import RoleGrant, Site, User
from edc.security import Role
from edc.study import current_study
from forms.text import N_, Message
from forms.validate import MAX_REASON, free_text_problem

USERNAME_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{1,63}$")
EMAIL_RE = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
SITE_CODE_RE = re.compile(r"^[A-Z][A-Z0-9]{1,7}$")


class AdminError(ValueError):
    """A refused administrative change; ``field`` names the form field it concerns."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


def _audit_user(action: str, user: User, *, actor: Actor, **fields) -> None:
    audit.record(db.session, action, actor=actor, target_type="user", target_id=str(user.id),
                 **fields)


def list_users() -> list[User]:
    return list(db.session.scalars(select(User).order_by(User.username)))


def list_sites(active_only: bool = False) -> list[Site]:
    stmt = select(Site).order_by(Site.code)
    if active_only:
        stmt = stmt.where(Site.active.is_(True))
    return list(db.session.scalars(stmt))


def _sites_by_code(codes) -> list[Site]:
    codes = sorted({c.strip().upper() for c in codes if c and c.strip()})
    sites = {s.code: s for s in db.session.scalars(select(Site).where(Site.code.in_(codes)))}
    missing = [c for c in codes if c not in sites]
    if missing:
        raise AdminError(Message("Unknown site: %(value)s.", value=', '.join(missing)), "sites")
    return [sites[c] for c in codes]


def _check_grant(role: Role, sites: list[Site]) -> list[Site]:
    if role.all_sites:
        return []  # data managers, sponsors and admins see every site
    if not sites:
        raise AdminError(Message("A %(label)s needs at least one site.",
                                 label=Message(role.label)), "sites")
    return sites


def _grant_text(role: Role | None, sites: list[Site]) -> str:
    if role is None:
        return "none"
    where = "all sites" if role.all_sites else ",".join(s.code for s in sites)
    return f"{role.value}@{where}"


def create_user(*, username: str, full_name: str, email: str, role: Role, site_codes,
                password: str | None, actor: Actor) -> tuple[User, str | None]:
    """Create an account. Without ``password`` a temporary one is generated and returned;
    the user must replace it at first sign-in."""
    username = (username or "").strip().lower()
    if not USERNAME_RE.match(username):
        raise AdminError(N_("Use 2–64 lower-case letters, digits, '.', '_' or '-'."), "username")
    if db.session.scalar(select(User.id).where(User.username == username)) is not None:
        raise AdminError(Message(
                "The username %(username)s is taken (usernames are never reused).",
                username=repr(username)),
                         "username")
    full_name = _name(full_name, "full_name",
                      N_("The full printed name is required (it is shown on signatures)."))
    email = _email(email)
    sites = _check_grant(role, _sites_by_code(site_codes))

    temporary = password is None
    user = User(username=username, full_name=full_name, email=email,
                password_hash="!")  # noqa: S106 - replaced by set_password below
    if temporary:
        password = temporary_password(user)
    check_policy(user, password)
    db.session.add(user)
    db.session.flush()
    set_password(user, password, temporary=temporary)
    _write_grants(user, role, sites)
    _audit_user("user.create", user, actor=actor, new_value=username,
                details={"full_name": full_name, "email": email,
                         "temporary_password": temporary})
    _audit_user("user.role_change", user, actor=actor, old_value="none",
                new_value=_grant_text(role, sites))
    return user, (password if temporary else None)


def _write_grants(user: User, role: Role, sites: list[Site]) -> None:
    study = current_study()
    for grant in list(user.grants):
        db.session.delete(grant)
    db.session.flush()
    targets = sites or [None]
    user.grants = [RoleGrant(user_id=user.id, study_id=study.id, role=role.value,
                             site_id=s.id if s else None, site=s) for s in targets]
    db.session.flush()


def set_grants(user: User, role: Role, site_codes, *, actor: Actor, reason: str) -> None:
    if user.id == actor.user_id:
        raise AdminError(N_("You cannot change your own role or sites."), "role")
    sites = _check_grant(role, _sites_by_code(site_codes))
    old = _grant_text(user.role, user.sites)
    new = _grant_text(role, sites)
    if old == new:
        return
    reason = _reason(reason)
    _write_grants(user, role, sites)
    _audit_user("user.role_change", user, actor=actor, old_value=old, new_value=new,
                reason=reason)
    # A changed role takes effect at once: open sessions end.
    end_user_sessions(user, "role changed")


def update_profile(user: User, *, full_name: str, email: str, actor: Actor, reason: str) -> None:
    full_name = _name(full_name, "full_name", N_("The full printed name is required."))
    email = _email(email)
    changes = {field: (getattr(user, field), value)
               for field, value in (("full_name", full_name), ("email", email))
               if getattr(user, field) != value}
    if not changes:
        return
    reason = _reason(reason)
    for field, (old, new) in changes.items():
        setattr(user, field, new)
        _audit_user("user.update", user, actor=actor, item_oid=field, old_value=old,
                    new_value=new, reason=reason)


MAX_NAME = 200  # a person's printed name, a site's name (their columns)


def _name(value: str | None, field: str, required: str) -> str:
    """A typed name, printed on signatures and every PDF: required, bounded, plain text."""
    value = (value or "").strip()
    if not value:
        raise AdminError(required, field)
    if problem := free_text_problem(value, MAX_NAME):  # refused, never cut short
        raise AdminError(problem, field)
    return value


def _email(email: str | None) -> str:
    email = (email or "").strip()
    if email and not EMAIL_RE.match(email):
        raise AdminError(N_("Enter a valid e-mail address, or leave it empty."), "email")
    return email


def _reason(reason: str | None) -> str:
    reason = (reason or "").strip()
    if not reason:
        raise AdminError(N_("Give a reason for this change."), "reason")
    if problem := free_text_problem(reason, MAX_REASON):  # refused, never cut short
        raise AdminError(Message("The reason: %(problem)s.", problem=problem), "reason")
    return reason


def deactivate(user: User, *, actor: Actor, reason: str) -> None:
    if user.id == actor.user_id:
        raise AdminError(N_("You cannot deactivate your own account."))
    if not user.active:
        raise AdminError(N_("The account is already deactivated."))
    reason = _reason(reason)
    user.active = False
    user.deactivated_at = utcnow()
    n = end_user_sessions(user, "deactivated")
    _audit_user("user.deactivate", user, actor=actor, old_value="active",
                new_value="deactivated", reason=reason,
                details={"sessions_revoked": n})


def reactivate(user: User, *, actor: Actor, reason: str) -> None:
    if user.active:
        raise AdminError(N_("The account is active."))
    reason = _reason(reason)
    user.active = True
    user.deactivated_at = None
    _audit_user("user.reactivate", user, actor=actor, old_value="deactivated",
                new_value="active", reason=reason)


def unlock(user: User, *, actor: Actor, reason: str) -> None:
    if not user.locked:
        raise AdminError(N_("The account is not locked."))
    reason = _reason(reason)
    user.locked = False
    user.locked_at = None
    user.failed_login_count = 0
    _audit_user("user.unlock", user, actor=actor, old_value="locked", new_value="unlocked",
                reason=reason)


def reset_password(user: User, *, actor: Actor, reason: str) -> str:
    """Give the user a temporary password (returned once) to replace at next sign-in."""
    if user.id == actor.user_id:
        raise AdminError(N_("Change your own password from your account page."))
    reason = _reason(reason)
    password = temporary_password(user)
    set_password(user, password, temporary=True)
    n = end_user_sessions(user, "password reset")
    _audit_user("user.password_reset", user, actor=actor, reason=reason,
                details={"sessions_revoked": n})
    tokens.revoke_all(user, actor=actor, reason="password reset by an administrator")
    return password  # the second factor stays as it is: a reset takes two administrators


def request_factor_reset(user: User, *, actor: Actor, reason: str) -> None:
    """The first administrator's half of a second-factor reset: nothing changes until a
    second administrator approves."""
    reason = _reason(reason)
    if user.id == actor.user_id:
        raise AdminError(N_("Your own second factor is reset by two other administrators."))
    if not twofactor.enrolled(user):
        raise AdminError(N_("This account has no second factor to reset."))
    user.totp_reset_requested_by_id = actor.user_id
    user.totp_reset_requested_at = utcnow()
    _audit_user("user.second_factor_reset_requested", user, actor=actor, reason=reason,
                details={"needs": "approval by a second administrator"})


def approve_factor_reset(user: User, *, actor: Actor, reason: str) -> None:
    """The second administrator's half: the factor is cleared, the user's sessions end, and
    the user sets up a new factor at the next sign-in."""
    reason = _reason(reason)
    requester = twofactor.pending_reset(user)
    if requester is None:
        hours = twofactor.RESET_REQUEST_LIFETIME.total_seconds() / 3600
        raise AdminError(Message(
                "No reset request holds: another administrator requests it first (a request "
                "holds for %(hours)s h).",
                hours=format(hours, '.0f')))
    if actor.user_id in (requester, user.id):
        raise AdminError(N_("A second administrator, not the one who requested it, approves "
                            "the reset."))
    twofactor.clear(user)
    sessions = end_user_sessions(user, "second factor reset")
    _audit_user("user.second_factor_reset", user, actor=actor, old_value="enrolled",
                new_value="not enrolled", reason=reason,
                details={"requested_by": requester, "sessions_revoked": sessions})


def create_site(*, code: str, name: str, timezone: str, actor: Actor,
                language: str = "en") -> Site:
    code = (code or "").strip().upper()
    if not SITE_CODE_RE.match(code):
        raise AdminError(N_("Use 2–8 capital letters or digits, starting with a letter."), "code")
    if db.session.scalar(select(Site.id).where(Site.code == code)) is not None:
        raise AdminError(Message("Site code %(code)s exists.", code=code), "code")
    name = _name(name, "name", N_("The site name is required."))
    if timezone not in available_timezones():
        raise AdminError(N_("Choose an IANA time zone such as Asia/Shanghai."), "timezone")
    if language not in LOCALES:
        raise AdminError(N_("Choose English or 中文."), "language")
    site = Site(study_id=current_study().id, code=code, name=name, timezone=timezone,
                language=language)
    db.session.add(site)
    db.session.flush()
    audit.record(db.session, "site.create", actor=actor, site=site, target_type="site",
                 target_id=str(site.id), new_value=f"{code} {name} ({timezone})")
    return site


def update_site(site: Site, *, name: str, timezone: str, active: bool, actor: Actor,
                reason: str, language: str | None = None) -> None:
    name = _name(name, "name", N_("The site name is required."))
    if timezone not in available_timezones():
        raise AdminError(N_("Choose an IANA time zone such as Asia/Shanghai."), "timezone")
    language = language or site.language
    if language is not None and language not in LOCALES:
        raise AdminError(N_("Choose English or 中文."), "language")
    changes = [(f, getattr(site, f), v) for f, v in
               (("name", name), ("timezone", timezone), ("active", active),
                ("language", language))
               if getattr(site, f) != v]
    if not changes:
        return
    reason = _reason(reason)
    for field, old, new in changes:
        setattr(site, field, new)
        audit.record(db.session, "site.update", actor=actor, site=site, target_type="site",
                     target_id=str(site.id), item_oid=field, old_value=str(old),
                     new_value=str(new), reason=reason)
