"""Locks and freezes by data managers: a form instance, a subject, or the whole study.

Locking and freezing are audited (``lock.apply``); releasing needs a reason and is audited
(``lock.release``). The study lock (database lock) is refused while any query is unresolved or
required SDV is missing, and names what blocks it. Whether a record may change is decided in
``edc/crf/policy.py`` for every page, API route and service.
"""

from __future__ import annotations

from sqlalchemy import select

import audit
from audit import Actor
from edc.clock import utcnow
from edc.crf.services import UnknownForm, resolve
from edc.extensions import db
from edc.models import Lock, Subject, User
from edc.queries import services as queries
from edc.review import sdv
from edc.security import ALL_SITES, Perm, can, site_scope
from forms.text import N_, Message
from forms.validate import MAX_REASON, free_text_problem

KINDS = ("lock", "freeze")
LEVELS = ("study", "subject", "form")


class LockProblem(Exception):
    status = 422

    def __init__(self, message: str, blockers: list[str] | None = None,
                 field: str = "reason"):
        super().__init__(message)
        self.message = message
        self.blockers = blockers or []
        self.field = field


class LockNotAllowed(LockProblem):
    status = 403


class LockConflict(LockProblem):
    status = 409


def _reason(reason: str | None, *, required: bool) -> str | None:
    reason = (reason or "").strip() or None
    if required and not reason:
        raise LockProblem(N_("give a reason"))
    if reason and (problem := free_text_problem(reason, MAX_REASON)):
        raise LockProblem(problem)
    return reason


def active(subject: Subject | None = None) -> list[Lock]:
    """Active locks and freezes: the study's, and the subject's (its forms included)."""
    stmt = select(Lock).where(Lock.active.is_(True))
    if subject is not None:
        stmt = stmt.where((Lock.level == "study") | (Lock.subject_id == subject.id))
    return list(db.session.scalars(stmt.order_by(Lock.id)))


def history(limit: int = 200) -> list[Lock]:
    return list(db.session.scalars(select(Lock).order_by(Lock.id.desc()).limit(limit)))


def study_lock_blockers() -> list[str]:
    """Why the study cannot be locked now: unresolved queries and missing required SDV, at
    every site."""
    with site_scope(ALL_SITES):
        open_queries = queries.unresolved()
        blockers = [f"query #{q.id} {q.state} on {q.subject.label} {q.event_oid}/{q.form_oid}"
                    + (f"/{q.item_oid}" if q.item_oid else "") for q in open_queries]
        blockers += sdv.missing_required()
    return blockers


def apply(level: str, kind: str, *, user: User, actor: Actor, reason: str | None = None,
          subject: Subject | None = None, event_oid: str | None = None,
          form_oid: str | None = None, event_repeat: int = 1, form_repeat: int = 1) -> Lock:
    """Lock or freeze. The caller commits."""
    if level not in LEVELS:
        raise LockProblem(Message(
                "level must be one of %(value)s",
                value=', '.join(LEVELS)), field="level")
    if kind not in KINDS:
        raise LockProblem(Message(
                "kind must be one of %(value)s",
                value=', '.join(KINDS)), field="kind")
    if not can(user, Perm.LOCK, subject):
        raise LockNotAllowed(N_("Only data managers lock and freeze data."))
    reason = _reason(reason, required=False)
    if level == "study":
        subject = None  # the study lock covers every subject and site
    if level != "study" and subject is None:
        raise LockProblem(N_("name the subject"), field="subject")
    if level == "form":
        try:
            resolve(event_oid or "", form_oid or "")
        except UnknownForm as exc:
            raise LockProblem(str(exc), field="form") from None
    else:
        event_oid = form_oid = None
        event_repeat = form_repeat = None
    same = [lk for lk in active(subject if level != "study" else None)
            if lk.level == level and lk.kind == kind and lk.subject_id ==
            (subject.id if level != "study" else None) and lk.event_oid == event_oid
            and lk.form_oid == form_oid and lk.event_repeat == event_repeat
            and lk.form_repeat == form_repeat]
    if same:
        raise LockConflict(N_("Already frozen.") if kind == "freeze" else N_("Already locked."))
    if level == "study" and kind == "lock":
        blockers = study_lock_blockers()
        if blockers:
            raise LockConflict(N_("The study cannot be locked yet."), blockers)
    lock = Lock(level=level, kind=kind, site_id=subject.site_id if subject else None,
                subject_id=subject.id if subject else None, event_oid=event_oid,
                event_repeat=event_repeat, form_oid=form_oid, form_repeat=form_repeat,
                reason=reason, locked_by_id=user.id, locked_by_name=user.full_name,
                locked_at=utcnow(), active=True)
    db.session.add(lock)
    db.session.flush()
    audit.record(db.session, "lock.apply", actor=actor, subject=subject,
                 event_oid=event_oid, event_repeat=event_repeat, form_oid=form_oid,
                 repeat_key=str(form_repeat) if form_repeat else None,
                 target_type="data_lock", target_id=str(lock.id), item_oid=level,
                 new_value=kind, reason=reason)
    return lock


def release(lock: Lock, *, user: User, actor: Actor, reason: str | None) -> Lock:
    """Unlock or unfreeze, with a reason. The caller commits."""
    subject = db.session.get(Subject, lock.subject_id) if lock.subject_id else None
    if lock.subject_id and subject is None:
        raise LockNotAllowed(N_("Not one of your sites."))
    if not can(user, Perm.LOCK, subject):
        raise LockNotAllowed(N_("Only data managers unlock and unfreeze data."))
    if not lock.active:
        raise LockConflict(N_("Released already."))
    reason = _reason(reason, required=True)
    lock.active = False
    lock.released_at = utcnow()
    lock.released_by_name = user.full_name
    lock.release_reason = reason
    db.session.flush()
    audit.record(db.session, "lock.release", actor=actor, subject=subject,
                 event_oid=lock.event_oid, event_repeat=lock.event_repeat,
                 form_oid=lock.form_oid,
                 repeat_key=str(lock.form_repeat) if lock.form_repeat else None,
                 target_type="data_lock", target_id=str(lock.id), item_oid=lock.level,
                 old_value=lock.kind, new_value="released", reason=reason)
    return lock


def get(lock_id: int) -> Lock | None:
    return db.session.get(Lock, lock_id)
