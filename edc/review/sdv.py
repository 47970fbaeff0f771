"""Source data verification: marks per item, what the plan requires, and the monitor's
worklist.

A monitor verifies an item (or every valued item of a form instance at once, each recorded
on its own). A later change of a verified value un-verifies it in the transaction of the
change (a ``form_saved`` subscriber), audited, and the page shows "changed since verified"
with the value that was verified. What must be verified comes from the study build's SDV plan
(forms/sdv.py). Reading a site's worklist takes a fixed number of statements, whatever the
number of subjects.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from flask import current_app, has_app_context
from sqlalchemy import func, select

import audit
from audit import Actor
from edc.clock import utcnow
from edc.crf import policy
from edc.crf.casebook import build_of
from edc.crf.signals import FormSaved, form_saved
from edc.extensions import db
from edc.models import FormData, ItemData, SdvMark, Subject, User
from edc.security import Perm, can
from forms.sdv import SdvPlan, plan_with
from forms.text import N_


class SdvProblem(Exception):
    status = 422

    def __init__(self, message: str):
        super().__init__(message)
        self.message = message


class SdvNotAllowed(SdvProblem):
    status = 403


def plan() -> SdvPlan:
    cfg = current_app.config if has_app_context() else {}
    return plan_with(first_subjects=cfg.get("EDC_SDV_FIRST_SUBJECTS"),
                     sample_percent=cfg.get("EDC_SDV_SAMPLE_PERCENT"))


@dataclass
class ItemSdv:
    item: str
    value: str
    state: str  # verified | changed | pending
    mark: SdvMark | None = None


@dataclass
class InstanceSdv:
    subject_id: int
    event_oid: str
    event_repeat: int
    form_oid: str
    form_repeat: int
    required: str | None  # why the plan requires it, or None
    date: str | None
    items: list[ItemSdv] = field(default_factory=list)

    @property
    def key(self) -> tuple:
        return (self.event_oid, self.event_repeat, self.form_oid, self.form_repeat)

    @property
    def verified(self) -> int:
        return sum(1 for i in self.items if i.state == "verified")

    @property
    def pending(self) -> int:
        return len(self.items) - self.verified

    @property
    def state(self) -> str:
        if not self.items:
            return "nothing to verify"
        if self.pending == 0:
            return "verified"
        if any(i.state == "changed" for i in self.items):
            return "changed since verified"
        return "partly verified" if self.verified else "not verified"


def _instances(subjects: list[Subject], forms: list[FormData], items: list[ItemData],
               marks: list[SdvMark], ranks: dict[int, int], the_plan: SdvPlan
               ) -> dict[int, list[InstanceSdv]]:
    by_subject = {s.id: s for s in subjects}
    values: dict[tuple, dict[str, str]] = defaultdict(dict)
    for r in items:
        values[(r.subject_id, r.event_oid, r.event_repeat, r.form_oid, r.form_repeat)][
            r.item_oid] = r.value
    marked = {(m.subject_id, m.event_oid, m.event_repeat, m.form_oid, m.form_repeat,
               m.item_oid): m for m in marks}
    out: dict[int, list[InstanceSdv]] = defaultdict(list)
    for fd in forms:
        subject = by_subject.get(fd.subject_id)
        if subject is None:
            continue
        key = (fd.subject_id, fd.event_oid, fd.event_repeat, fd.form_oid, fd.form_repeat)
        form = build_of(fd).form(fd.form_oid)
        vals = values.get(key, {})
        inst = InstanceSdv(fd.subject_id, fd.event_oid, fd.event_repeat, fd.form_oid,
                           fd.form_repeat, the_plan.required(
                               rank=ranks.get(fd.subject_id, 1),
                               screening_number=subject.screening_number,
                               event_oid=fd.event_oid, event_repeat=fd.event_repeat,
                               form_oid=fd.form_oid, form_repeat=fd.form_repeat),
                           vals.get(form.date_item) if form.date_item else None)
        for item in form.items:
            value = vals.get(item.name)
            if item.derived or value is None:
                continue
            mark = marked.get((*key, item.name))
            state = "pending" if mark is None else (
                "verified" if mark.state == "verified" and mark.verified_value == value
                else "changed")
            inst.items.append(ItemSdv(item.name, value, state, mark))
        out[fd.subject_id].append(inst)
    return out


def _ranks(subjects: list[Subject]) -> dict[int, int]:
    """Each subject's place at its site, in screening order (1 = first)."""
    counter: dict[int, int] = defaultdict(int)
    ranks = {}
    for s in sorted(subjects, key=lambda s: (s.site_id, s.id)):
        counter[s.site_id] += 1
        ranks[s.id] = counter[s.site_id]
    return ranks


def _rank(subject: Subject) -> int:
    return db.session.scalar(select(func.count()).select_from(Subject).where(
        Subject.site_id == subject.site_id, Subject.id <= subject.id)
        .execution_options(all_sites=True))


def for_subject(subject: Subject) -> list[InstanceSdv]:
    """Every saved form instance of the subject with its items' SDV state."""
    forms = list(db.session.scalars(select(FormData).where(FormData.subject_id == subject.id)
                                    .order_by(FormData.id)))
    items = list(db.session.scalars(select(ItemData).where(
        ItemData.subject_id == subject.id, ItemData.removed.is_(False))))
    marks = list(db.session.scalars(select(SdvMark).where(SdvMark.subject_id == subject.id)))
    return _instances([subject], forms, items, marks, {subject.id: _rank(subject)},
                      plan()).get(subject.id, [])


def for_instance(subject: Subject, event_oid: str, form_oid: str, event_repeat: int = 1,
                 form_repeat: int = 1) -> InstanceSdv | None:
    fd = db.session.scalar(select(FormData).where(
        *FormData.of(subject.id, event_oid, form_oid, event_repeat, form_repeat)))
    if fd is None:
        return None
    items = list(db.session.scalars(select(ItemData).where(
        *ItemData.of(subject.id, event_oid, form_oid, event_repeat, form_repeat),
        ItemData.removed.is_(False))))
    marks = list(db.session.scalars(select(SdvMark).where(
        *SdvMark.of(subject.id, event_oid, form_oid, event_repeat, form_repeat))))
    return _instances([subject], [fd], items, marks, {subject.id: _rank(subject)},
                      plan())[subject.id][0]


@dataclass
class SubjectProgress:
    subject: Subject
    required: int  # items the plan requires
    verified: int
    waiting: list[InstanceSdv]  # required instances with items still to verify

    @property
    def percent(self) -> float:
        return 100.0 if not self.required else round(100 * self.verified / self.required, 1)


@dataclass
class SiteProgress:
    site_id: int
    site_code: str
    subjects: list[SubjectProgress]

    @property
    def required(self) -> int:
        return sum(s.required for s in self.subjects)

    @property
    def verified(self) -> int:
        return sum(s.verified for s in self.subjects)

    @property
    def percent(self) -> float:
        return 100.0 if not self.required else round(100 * self.verified / self.required, 1)


def worklist(site_id: int | None = None) -> list[SiteProgress]:
    """Per site of the caller's scope, per subject: required items, verified items, and the
    form instances waiting for SDV (by visit date). Four statements whatever the size."""
    subj_stmt = select(Subject).order_by(Subject.site_id, Subject.id)
    forms_stmt = select(FormData)
    items_stmt = select(ItemData).where(ItemData.removed.is_(False))
    marks_stmt = select(SdvMark)
    if site_id is not None:
        subj_stmt = subj_stmt.where(Subject.site_id == site_id)
        forms_stmt = forms_stmt.where(FormData.site_id == site_id)
        items_stmt = items_stmt.where(ItemData.site_id == site_id)
        marks_stmt = marks_stmt.where(SdvMark.site_id == site_id)
    subjects = list(db.session.scalars(subj_stmt))
    # ranks count every subject of the site, whatever the caller's filter
    instances = _instances(subjects, list(db.session.scalars(forms_stmt)),
                           list(db.session.scalars(items_stmt.execution_options(
                               yield_per=5000))),
                           list(db.session.scalars(marks_stmt)), _ranks(subjects), plan())
    sites: dict[int, SiteProgress] = {}
    for s in subjects:
        site = sites.setdefault(s.site_id, SiteProgress(s.site_id, s.site.code, []))
        required = [i for i in instances.get(s.id, []) if i.required]
        waiting = sorted((i for i in required if i.pending),
                         key=lambda i: (i.date or "9999", i.event_oid, i.form_oid))
        site.subjects.append(SubjectProgress(s, sum(len(i.items) for i in required),
                                             sum(i.verified for i in required), waiting))
    return list(sites.values())


def missing_required() -> list[str]:
    """What blocks a study lock on the SDV side: each subject with required items not
    verified, in words."""
    out = []
    for site in worklist():
        for sp in site.subjects:
            if sp.verified < sp.required:
                out.append(f"{sp.subject.label}: {sp.required - sp.verified} required item(s) "
                           f"not verified ({sp.percent} %)")
    return out


# Acting -----------------------------------------------------------------------------------

def verify(subject: Subject, event_oid: str, form_oid: str, items: list[str] | None, *,
           user: User, actor: Actor, event_repeat: int = 1, form_repeat: int = 1) -> int:
    """Mark ``items`` (None: every valued item of the instance) verified against the source.
    Returns how many marks were written. The caller commits."""
    if not can(user, Perm.SDV, subject):
        raise SdvNotAllowed(N_("Only a monitor of the subject's site marks SDV."))
    policy.refuse_if_locked(subject, event_oid, form_oid, event_repeat, form_repeat,
                            data=False, what=N_("SDV cannot be marked"))
    inst = for_instance(subject, event_oid, form_oid, event_repeat, form_repeat)
    if inst is None:
        raise SdvProblem(N_("The form has not been saved: there is nothing to verify."))
    by_name = {i.item: i for i in inst.items}
    if items is not None:
        unknown = [name for name in items if name not in by_name]
        if unknown:
            raise SdvProblem("No value to verify for: " + ", ".join(unknown))
    chosen = [by_name[n] for n in (items if items is not None else list(by_name))]
    written = 0
    for it in chosen:
        if it.state == "verified":
            continue
        mark = it.mark
        old = mark.state if mark else None
        if mark is None:
            mark = SdvMark(subject_id=subject.id, site_id=subject.site_id,
                           event_oid=event_oid, event_repeat=event_repeat, form_oid=form_oid,
                           form_repeat=form_repeat, item_oid=it.item, state="verified",
                           verified_value=it.value, verified_by_id=user.id,
                           verified_by_name=user.full_name, verified_at=utcnow())
            db.session.add(mark)
        else:
            mark.state, mark.verified_value = "verified", it.value
            mark.verified_by_id, mark.verified_by_name = user.id, user.full_name
            mark.verified_at, mark.changed_at = utcnow(), None
        db.session.flush()
        audit.record(db.session, "sdv.verify", actor=actor, subject=subject,
                     event_oid=event_oid, event_repeat=event_repeat, form_oid=form_oid,
                     item_oid=it.item, repeat_key=str(form_repeat), target_type="sdv_mark",
                     target_id=str(mark.id), old_value=old, new_value="verified",
                     details={"scope": "form" if items is None else "item"})
        written += 1
    return written


@form_saved.connect
def _unverify_changed(subject: Subject, *, saved: FormSaved) -> None:
    """A verified value that this save changed or removed needs verifying again."""
    changed = {c.item_oid for c in saved.changes}
    if not changed:
        return
    marks = db.session.scalars(select(SdvMark).where(
        *SdvMark.of(subject.id, saved.event_oid, saved.form_oid, saved.event_repeat,
                    saved.form_repeat), SdvMark.item_oid.in_(sorted(changed)),
        SdvMark.state == "verified"))
    for mark in marks:
        now = saved.values.get(mark.item_oid)
        if now == mark.verified_value:
            continue
        mark.state, mark.changed_at = "changed", utcnow()
        db.session.flush()
        audit.record(db.session, "sdv.unverify", actor=Actor.system(), subject=subject,
                     event_oid=saved.event_oid, event_repeat=saved.event_repeat,
                     form_oid=saved.form_oid, item_oid=mark.item_oid,
                     repeat_key=str(saved.form_repeat), target_type="sdv_mark",
                     target_id=str(mark.id), old_value="verified", new_value="changed",
                     reason="the verified value changed",
                     details={"form_version": saved.version})
