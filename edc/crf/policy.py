"""May this record change now? The one decision for pages, API, services and jobs.

A data manager's lock (study, subject or form instance) refuses every change: data, queries,
SDV marks and signatures. A freeze refuses data changes only; queries and SDV go on. The save
service, the query and SDV services and the signature service ask here, so a page and the API
can never disagree.
"""

from __future__ import annotations

from sqlalchemy import and_, or_, select

from edc.extensions import db
from edc.models import Lock, Subject
from edc.security import Perm, can


class Locked(Exception):
    """The record is locked (or frozen): HTTP 409 with a message that says by what."""

    status = 409

    def __init__(self, lock: Lock, what: str = "it cannot be changed"):
        kind = "frozen" if lock.kind == "freeze" else "locked"
        scope = {"study": "the whole study", "subject": "this subject",
                 "form": "this form"}[lock.level]
        super().__init__(f"Data management has {kind} {scope}: {what} until a data manager "
                         f"{'unfreezes' if lock.kind == 'freeze' else 'unlocks'} it.")
        self.lock = lock


def lock_over(subject: Subject | None, event_oid: str | None = None,
              form_oid: str | None = None, event_repeat: int = 1, form_repeat: int = 1, *,
              data: bool = True) -> Lock | None:
    """The active lock (or, for a data change, freeze) that covers the record, if any: the
    study's first, then the subject's, then the form instance's."""
    covers = [Lock.level == "study"]
    if subject is not None:
        covers.append(and_(Lock.level == "subject", Lock.subject_id == subject.id))
        if form_oid is not None:
            covers.append(and_(Lock.level == "form", Lock.subject_id == subject.id,
                               Lock.event_oid == event_oid,
                               Lock.event_repeat == event_repeat, Lock.form_oid == form_oid,
                               Lock.form_repeat == form_repeat))
    stmt = select(Lock).where(Lock.active.is_(True), or_(*covers))
    if not data:
        stmt = stmt.where(Lock.kind == "lock")
    found = list(db.session.scalars(stmt))
    order = {"study": 0, "subject": 1, "form": 2}
    return min(found, key=lambda lock: (order[lock.level], lock.id)) if found else None


def refuse_if_locked(subject: Subject | None, event_oid: str | None = None,
                     form_oid: str | None = None, event_repeat: int = 1, form_repeat: int = 1,
                     *, data: bool = True, what: str = "it cannot be changed") -> None:
    lock = lock_over(subject, event_oid, form_oid, event_repeat, form_repeat, data=data)
    if lock is not None:
        raise Locked(lock, what)


def can_edit(user, subject: Subject, event_oid: str, form_oid: str, event_repeat: int = 1,
             form_repeat: int = 1) -> bool:
    """May ``user`` change this form now (role, site, and no lock or freeze over it)?"""
    return can(user, Perm.ENTER_DATA, subject) and lock_over(
        subject, event_oid, form_oid, event_repeat, form_repeat) is None
