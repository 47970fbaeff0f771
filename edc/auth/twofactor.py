"""The second factor: time-based one-time codes (TOTP, RFC 6238) from an authenticator app.

Each person enrols their own factor from their account page (a QR code made with ``segno``,
confirmed by a first code). It is asked at sign-in once enrolled, is required before an
administrator may use the administration pages, and is required with the user ID and the
password for every investigator's signature (page and API). An administrator's password
reset does not touch it; clearing a factor takes two administrators (one requests, another
approves), both audited. A wrong code counts toward the account lockout like a wrong
password.

Codes are checked against the real clock, one step (30 s) either side for clock drift. A
sign-in code is accepted once (RFC 6238 §5.2); a signing code, given together with the
password, may sign several records within its step (decisions.md).

The secret never goes into an audit entry, a log, an export or a page after enrolment.
"""

from __future__ import annotations

import hmac
import time
from datetime import timedelta

import pyotp
import segno

import audit
from audit import Actor
from edc.auth import services
from edc.clock import utcnow
from edc.extensions import db
from edc.models import User
from edc.security import Role
from forms.text import N_

STEP_SECONDS = 30
ISSUER = "CAR-T EDC"
RESET_REQUEST_LIFETIME = timedelta(hours=24)


class CodeRefused(ValueError):
    """A missing, malformed, wrong or reused code; the message is for the person."""


def _now() -> float:
    """Seconds since the epoch of the real clock (never the demo's business date)."""
    return time.time()


def enrolled(user: User) -> bool:
    return user.totp_secret is not None


def must_enrol(user: User) -> bool:
    """Administrators work only with a second factor."""
    return user.role is Role.ADMIN and not enrolled(user)


def required_for_signing(user: User) -> bool:
    return user.role is Role.PI


def matching_step(secret: str, code: str | None, now: float | None = None) -> int | None:
    """The time step whose code ``code`` is (current, previous or next), else None."""
    code = (code or "").strip().replace(" ", "")
    if len(code) != 6 or not code.isascii() or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret)
    step = int((_now() if now is None else now) // STEP_SECONDS)
    for candidate in (step - 1, step, step + 1):
        if hmac.compare_digest(totp.generate_otp(candidate), code):
            return candidate
    return None


# Enrolment by the user ---------------------------------------------------------------------

def provisioning_uri(user: User, secret: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=user.username, issuer_name=ISSUER)


def qr_svg_data_uri(uri: str) -> str:
    """The QR code of an ``otpauth://`` address as an SVG data URI (no request leaves the
    server with the secret in it)."""
    return segno.make(uri, error="m").svg_data_uri(scale=5, border=2)


def start_enrolment(user: User) -> str:
    """Give ``user`` a new secret to scan, not yet in force. Operational, not audited: only
    the confirmation changes the account. The caller commits."""
    if enrolled(user):
        raise CodeRefused(N_("A second factor is already set up. To replace it, ask two "
                             "administrators to reset it."))
    if user.totp_pending_secret is None:
        user.totp_pending_secret = pyotp.random_base32()
    return user.totp_pending_secret


def confirm_enrolment(user: User, code: str | None, *, actor: Actor) -> None:
    """Put the scanned secret in force once the first code from the app matches it."""
    secret = user.totp_pending_secret
    if enrolled(user) or secret is None:
        raise CodeRefused(N_("Start the set-up again: no second factor is waiting for a code."))
    step = matching_step(secret, code)
    if step is None:
        raise CodeRefused(N_("The code does not match. Check the time on the phone and enter "
                             "the 6 digits the app shows now."))
    install(user, secret, actor=actor, last_step=step)


def install(user: User, secret: str, *, actor: Actor, last_step: int = 0) -> None:
    """Put ``secret`` in force for ``user``, audited (the demo uses it for its investigator,
    whose secret it prints). The caller commits."""
    user.totp_secret = secret
    user.totp_enrolled_at = utcnow()
    user.totp_last_step = last_step
    user.totp_pending_secret = None
    user.totp_reset_requested_by_id = None
    user.totp_reset_requested_at = None
    audit.record(db.session, "user.second_factor_enrolled", actor=actor, target_type="user",
                 target_id=str(user.id), new_value="enrolled",
                 details={"method": "TOTP (RFC 6238), 6 digits, 30 s"})


# Checking a code ---------------------------------------------------------------------------

def check(user: User, code: str | None, *, actor: Actor, action: str,
          once: bool, details: dict | None = None) -> None:
    """Raise CodeRefused unless ``code`` is ``user``'s current code. A wrong code is recorded
    after the unit of work's rollback and counts toward the lockout (``action`` names the
    audit entry). With ``once`` a code already used at sign-in is refused. Does not commit."""
    if not enrolled(user):
        raise CodeRefused(N_("No second factor is set up for this account: set it up on your "
                             "account page first."))
    if not (code or "").strip():
        raise CodeRefused(N_("Enter the 6-digit code from your authenticator app."))
    step = matching_step(user.totp_secret, code)
    if step is not None and once and step <= user.totp_last_step:
        raise CodeRefused(N_("That code was used already: wait for the next one."))
    if step is None:
        locks = services.fail_later(user, action, actor=actor,
                                    details={"why": "wrong second-factor code",
                                             **(details or {})})
        raise CodeRefused(N_("The account is now locked.") if locks else N_("The code is not "
                                                                        "correct."))
    if step > user.totp_last_step:
        user.totp_last_step = step


def clear(user: User) -> None:
    """Take the factor away (the reset two administrators agreed on); the user enrols anew.
    The caller audits and commits."""
    user.totp_secret = None
    user.totp_enrolled_at = None
    user.totp_last_step = 0
    user.totp_pending_secret = None
    user.totp_reset_requested_by_id = None
    user.totp_reset_requested_at = None


def pending_reset(user: User) -> int | None:
    """The id of the administrator whose reset request is waiting, if it still holds."""
    at = user.totp_reset_requested_at
    if user.totp_reset_requested_by_id is None or at is None:
        return None
    if utcnow() - at > RESET_REQUEST_LIFETIME:
        return None
    return user.totp_reset_requested_by_id
