"""Electronic signatures (21 CFR 11.50, 11.70, 11.100, 11.200): one service for every signed
record (the eligibility checklist now; forms and casebooks register their own targets).

Signing re-checks both components (user ID and password) inside the session, is open to
investigators of the subject's site only, and is refused while the record has blockers
(missing required items, open queries). The signature stores the signer's printed name, the
meaning, the UTC time and the site's time zone, and the SHA-256 of the canonical signed
content. When the content changes afterwards the signature is marked *invalidated by change*
(audited, in the transaction of the change); the record needs a new signature and both stay.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass

import rfc8785
from sqlalchemy import select

import audit
from audit import Actor
from edc.auth import twofactor
from edc.auth.passwords import verify_password
from edc.auth.services import (
    LOCKED_MESSAGE,
    fail_later,
    normalise_username,
    password_expired,
)
from edc.clock import utcnow
from edc.crf import policy
from edc.extensions import db
from edc.models import Signature, Subject, User
from edc.security import Perm, can
from edc.timefmt import local_time, utc_time
from forms.text import N_, Message


@dataclass(frozen=True)
class Target:
    """A kind of signed record: its meaning and how to read its content and blockers."""

    name: str
    meaning: str
    content: Callable[[Subject], dict]
    blockers: Callable[[Subject], list[str]]
    # the form instance the record is (event_oid, form_oid, event_repeat, form_repeat), so
    # that a lock of that form refuses its signature as a subject or study lock does
    place: dict | None = None


TARGETS: dict[str, Target] = {}
# families of targets named "<family>:<key>" (a form instance, a visit), made on demand
FAMILIES: dict[str, Callable[[str], Target]] = {}


def register(spec: Target) -> None:
    TARGETS[spec.name] = spec


def register_family(family: str, make: Callable[[str], Target]) -> None:
    FAMILIES[family] = make


def target(name: str) -> Target:
    """The signed record ``name`` ("eligibility", "casebook", "form:SCREEN.1.LB.1", …);
    KeyError when there is no such kind."""
    if name in TARGETS:
        return TARGETS[name]
    family, _, key = name.partition(":")
    if family in FAMILIES and key:
        return FAMILIES[family](name)
    raise KeyError(name)


class SignatureRefused(Exception):
    status = 409

    def __init__(self, message: str, blockers: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.blockers = blockers or []


class WrongCredentials(SignatureRefused):
    status = 401


class WrongCode(WrongCredentials):
    """The second factor's code was missing, wrong or not set up."""


class NotAllowed(SignatureRefused):
    status = 403


def content_hash(content: dict) -> str:
    return hashlib.sha256(rfc8785.dumps(content)).hexdigest()


@dataclass
class Shown:
    """A signature as every page and print shows it."""

    row: Signature
    valid: bool
    status: str  # "valid" | "invalidated by change"

    def as_json(self) -> dict:
        r = self.row
        return {"id": r.id, "target": r.target, "meaning": r.meaning,
                "signer": r.signer_name, "signer_username": r.signer_username,
                "signer_role": r.signer_role, "signed_at_utc": utc_time(r.signed_at),
                "signed_at_local": local_time(r.signed_at, r.timezone),
                "content_hash": r.content_hash, "status": self.status,
                "invalidated_at_utc": utc_time(r.invalidated_at) or None,
                "invalidated_reason": r.invalidated_reason}


def _rows(subject: Subject, target: str | None = None) -> list[Signature]:
    stmt = select(Signature).where(Signature.subject_id == subject.id)
    if target is not None:
        stmt = stmt.where(Signature.target == target)
    return list(db.session.scalars(stmt.order_by(Signature.id.desc())))


def shown(subject: Subject, target_name: str, content: dict | None = None) -> list[Shown]:
    """Every signature of the record, newest first, each with its status now."""
    rows = _rows(subject, target_name)
    if not rows:
        return []
    current = content_hash(content if content is not None
                           else target(target_name).content(subject))
    return [Shown(r, ok := (r.invalidated_at is None and r.content_hash == current),
                  "valid" if ok else "invalidated by change") for r in rows]


def live(subject_ids: list[int], target_name: str) -> set[int]:
    """The subjects with a signature of ``target_name`` not invalidated (one query). Every
    change of signed content marks the signature invalidated in its own transaction
    (``invalidate_changed``, a subscriber of each save), so a live one is a valid one; the
    pages that show a signature itself still compare its content (``shown``)."""
    if not subject_ids:
        return set()
    return set(db.session.scalars(select(Signature.subject_id).where(
        Signature.subject_id.in_(subject_ids), Signature.target == target_name,
        Signature.invalidated_at.is_(None))))


def valid_signature(subject: Subject, target_name: str, content: dict | None = None
                    ) -> Shown | None:
    found = shown(subject, target_name, content)
    return found[0] if found and found[0].valid else None


def sign(subject: Subject, target_name: str, *, user: User, username: str, password: str,
         actor: Actor, code: str | None = None) -> Signature:
    """Apply ``user``'s signature to the record, or raise: a wrong user ID, password or
    second-factor ``code`` (investigators sign with all three) is recorded after the unit of
    work's rollback (it counts toward the lockout, as at sign-in). Does not commit: the
    boundary does."""
    spec = target(target_name)
    if not can(user, Perm.SIGN, subject):
        raise NotAllowed(N_("Only an investigator of the subject's site signs."))
    if user.locked:  # as the login: a locked account signs nothing, whatever the password
        raise WrongCredentials(LOCKED_MESSAGE)
    # both components of the signature (21 CFR 11.200(a)(1)): the user ID and the password
    name_ok = bool(username) and normalise_username(username) == user.username
    if not name_ok or not verify_password(user.password_hash, password or ""):
        locks = fail_later(user, "signature.failed", actor=actor,
                           details={"target": target_name, "subject": subject.label})
        raise WrongCredentials(N_("The account is now locked.") if locks else
                               N_("User ID or password is not correct: nothing was signed."))
    if twofactor.required_for_signing(user):
        try:
            twofactor.check(user, code, actor=actor, action="signature.failed", once=False,
                            details={"target": target_name, "subject": subject.label})
        except twofactor.CodeRefused as exc:
            raise WrongCode(Message("%(exc)s Nothing was signed.", exc=exc)) from exc
    if password_expired(user):
        raise WrongCredentials(N_("Your password has expired or is temporary: change it "
                                  "before signing."))
    policy.refuse_if_locked(subject, **(spec.place or {}), data=False,
                            what=N_("nothing can be signed"))
    content = spec.content(subject)
    if valid_signature(subject, target_name, content) is not None:
        raise SignatureRefused(N_("The record is signed already and the signature is valid."))
    blockers = spec.blockers(subject)
    if blockers:
        raise SignatureRefused(N_("The record cannot be signed yet."), blockers)
    digest = content_hash(content)
    row = Signature(subject_id=subject.id, site_id=subject.site_id, target=target_name,
                    meaning=spec.meaning, signer_id=user.id, signer_name=user.full_name,
                    signer_username=user.username, signer_role=user.role.value,
                    signed_at=utcnow(), timezone=subject.site.timezone,
                    content_hash=digest,
                    content=json.dumps(content, sort_keys=True, ensure_ascii=False))
    db.session.add(row)
    db.session.flush()
    audit.record(db.session, "signature.sign", actor=actor, subject=subject,
                 target_type="signature", target_id=str(row.id), item_oid=target_name,
                 new_value=f"{row.signer_name}: {row.meaning}",
                 details={"content_sha256": digest, "signed_at_utc": utc_time(row.signed_at),
                          "signed_at_local": local_time(row.signed_at, row.timezone)})
    return row


def invalidate_changed(subject: Subject, *, actor: Actor,
                       cause: str = "the signed content changed") -> None:
    """Mark the subject's live signatures whose content changed, each with a
    ``signature.invalidate`` entry naming the ``cause``. Runs inside the transaction of the
    change (the caller commits)."""
    live = [r for r in _rows(subject) if r.invalidated_at is None]
    current: dict[str, str] = {}
    for r in live:
        if r.target not in current:
            current[r.target] = content_hash(target(r.target).content(subject))
        if current[r.target] == r.content_hash:
            continue
        r.invalidated_at = utcnow()
        r.invalidated_reason = cause[:200]
        audit.record(db.session, "signature.invalidate", actor=actor, subject=subject,
                     target_type="signature", target_id=str(r.id), item_oid=r.target,
                     old_value=r.content_hash, new_value=current[r.target],
                     reason=f"signed content changed: {cause}")


def invalidate_all_changed(*, actor: Actor, cause: str) -> int:
    """After a change that is not a subject's data (an eligibility setting): every subject
    with a live signature, checked as ``invalidate_changed`` does. The caller commits."""
    subject_ids = set(db.session.scalars(select(Signature.subject_id).where(
        Signature.invalidated_at.is_(None)).execution_options(all_sites=True)))
    count = 0
    for subject_id in sorted(subject_ids):
        subject = db.session.get(Subject, subject_id, execution_options={"all_sites": True})
        before = sum(1 for r in _rows(subject) if r.invalidated_at is None)
        invalidate_changed(subject, actor=actor, cause=cause)
        count += before - sum(1 for r in _rows(subject) if r.invalidated_at is None)
    return count
