"""Protocol deviations the system detects (eligibility lost after enrollment, a visit saved
out of its window). Recorded in the transaction of the change that caused them, audited,
shown on the subject page and on the deviations list of investigators and data managers."""

from __future__ import annotations

import json

from sqlalchemy import func, select

import audit
from audit import Actor
from edc.crf.signals import FormSaved, form_saved
from edc.extensions import db
from edc.models import Deviation, Subject
from forms.study_build import BUILD


def record(subject: Subject, kind: str, description: str, *, actor: Actor,
           details: dict | None = None, event_oid: str | None = None,
           form_oid: str | None = None) -> Deviation | None:
    """Add a deviation unless the subject's latest one of this kind and event says the same
    (one finding, whichever of the event's forms showed it; ``form_oid`` names that form).
    The caller commits."""
    last = db.session.scalar(select(Deviation).where(
        Deviation.subject_id == subject.id, Deviation.kind == kind,
        Deviation.event_oid.is_(None) if event_oid is None else Deviation.event_oid == event_oid)
        .order_by(Deviation.id.desc()).limit(1))
    if last is not None and last.description == description:
        return None
    deviation = Deviation(subject_id=subject.id, site_id=subject.site_id, kind=kind,
                          description=description, event_oid=event_oid, form_oid=form_oid,
                          details=json.dumps(details, ensure_ascii=False) if details else None)
    db.session.add(deviation)
    db.session.flush()
    audit.record(db.session, "deviation.create", actor=actor, subject=subject,
                 event_oid=event_oid, form_oid=form_oid, item_oid=kind,
                 target_type="deviation", target_id=str(deviation.id),
                 new_value=description[:1000])
    return deviation


def for_subject(subject: Subject) -> list[Deviation]:
    return list(db.session.scalars(select(Deviation).where(Deviation.subject_id == subject.id)
                                   .order_by(Deviation.id.desc())))


def count_in_scope() -> int:
    return db.session.scalar(select(func.count()).select_from(Deviation))


def all_in_scope(limit: int = 500) -> list[Deviation]:
    """Deviations of the caller's sites (the data-layer scope decides), newest first."""
    return list(db.session.scalars(select(Deviation).order_by(Deviation.id.desc())
                                   .limit(limit)))


@form_saved.connect
def _visit_window(subject: Subject, *, saved: FormSaved) -> None:
    """A visit dated outside its window is a protocol deviation (one per visit)."""
    if saved.out_of_window:
        record(subject, "visit_window",
               f"{BUILD.event(saved.event_oid).name}: {saved.out_of_window}",
               actor=saved.actor, event_oid=saved.event_oid, form_oid=saved.form_oid,
               details={"date": saved.values.get(saved.date_item)})
