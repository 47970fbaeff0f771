"""Subject operations. Queries here run under the data-layer site scope."""

from __future__ import annotations

from sqlalchemy import func, or_, select

import audit
from audit import Actor
from edc import deidentify
from edc.crf import policy
from edc.crf.signals import FormSaved, form_saved
from edc.extensions import db
from edc.models import ItemData, Site, Subject, SubjectStatus
from edc.security import Perm, current_site_scope, has_perm
from forms.text import N_, Message


class SubjectError(ValueError):
    pass


def list_subjects() -> list[Subject]:
    return list(db.session.scalars(select(Subject).order_by(Subject.site_id, Subject.id)))


def search_subjects(text: str, *, user) -> list[Subject]:
    """Subjects whose screening or subject number contains ``text``, or whose recorded
    initials are ``text`` when ``user`` may see them (the build flags them identifying)."""
    key = text.strip().upper()[:32]
    if not key:
        return list_subjects()
    match = or_(func.upper(Subject.screening_number).contains(key, autoescape=True),
                func.upper(Subject.subject_number).contains(key, autoescape=True))
    if has_perm(user, Perm.VIEW_PII) or not deidentify.identifying("DM", "INITIALS"):
        match = or_(match, Subject.id.in_(select(ItemData.subject_id).where(
            ItemData.form_oid == "DM", ItemData.item_oid == "INITIALS",
            ItemData.removed.is_(False), func.upper(ItemData.value) == key)))
    return list(db.session.scalars(select(Subject).where(match)
                                   .order_by(Subject.site_id, Subject.id)))


def get_subject(subject_id: int) -> Subject | None:
    """The subject if it exists *and* is in the caller's site scope."""
    return db.session.get(Subject, subject_id)


def subject_counts() -> dict[str, int]:
    rows = db.session.execute(select(Subject.status, func.count()).group_by(Subject.status))
    return {status: n for status, n in rows}


def update_subject(subject: Subject, field: str, new: str, *, actor: Actor,
                   reason: str) -> None:
    """Change the subject's number or status, audited as ``subject.update`` (the trail
    replays it). The caller commits."""
    old = getattr(subject, field)
    if old == new:
        return
    setattr(subject, field, new)
    audit.record(db.session, "subject.update", actor=actor, subject=subject,
                 target_type="subject", target_id=str(subject.id), item_oid=field,
                 old_value=old, new_value=new, reason=reason)


def create_subject(site: Site, *, actor: Actor, created_by_id: int) -> Subject:
    """Register a screened person at ``site`` with the next screening number (never reused)."""
    if site.id not in current_site_scope():
        raise SubjectError(Message("Site %(code)s is not one of your sites.", code=site.code))
    if not site.active:
        raise SubjectError(Message("Site %(code)s is not active.", code=site.code))
    policy.refuse_if_locked(None, what=N_("no subject can be registered"))  # a study lock
    # Lock the site row: concurrent registrations at one site take numbers one after another.
    locked = db.session.scalar(
        select(Site).where(Site.id == site.id).with_for_update()
    )
    taken = db.session.scalar(
        select(func.count()).select_from(Subject).where(Subject.site_id == locked.id)
        .execution_options(all_sites=True)
    )
    number = f"{locked.code}-S{taken + 1:03d}"
    subject = Subject(study_id=locked.study_id, site_id=locked.id, screening_number=number,
                      status=SubjectStatus.SCREENING.value, created_by_id=created_by_id)
    db.session.add(subject)
    db.session.flush()
    audit.record(db.session, "subject.create", actor=actor, subject=subject, site=locked,
                 target_type="subject", target_id=str(subject.id), new_value=number)
    return subject


@form_saved.connect
def _infused(subject: Subject, *, saved: FormSaved) -> None:
    """The infusion moves an enrolled subject to "treated"."""
    if saved.form_oid == "IF" and saved.values.get("IFDAT") and \
            subject.status == SubjectStatus.ENROLLED:
        update_subject(subject, "status", SubjectStatus.TREATED.value, actor=saved.actor,
                       reason="CAR-T infusion recorded")
