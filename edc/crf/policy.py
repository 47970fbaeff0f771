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
from forms.text import N_, Message


class Locked(Exception):
    """The record is locked (or frozen): HTTP 409 with a message that says by what."""

    status = 409

    def __init__(self, lock: Lock, what: str = N_("it cannot be changed")):
        template = _LOCKED[lock.kind == "freeze", lock.level]
        self.message = Message(template, what=Message(what))
        super().__init__(self.message)
        self.lock = lock


_LOCKED = {
    (False, "study"): N_("Data management has locked the whole study: %(what)s until a data "
                         "manager unlocks it."),
    (False, "subject"): N_("Data management has locked this subject: %(what)s until a data "
                           "manager unlocks it."),
    (False, "form"): N_("Data management has locked this form: %(what)s until a data manager "
                        "unlocks it."),
    (True, "study"): N_("Data management has frozen the whole study: %(what)s until a data "
                        "manager unfreezes it."),
    (True, "subject"): N_("Data management has frozen this subject: %(what)s until a data "
                          "manager unfreezes it."),
    (True, "form"): N_("Data management has frozen this form: %(what)s until a data manager "
                       "unfreezes it."),
}


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
