"""What a save checks and derives beyond the form itself: derived values that read other
forms (and are derived again when those change), what the consistency checks read of other
forms, the visit window, and the record of a hard check's refusal."""

from __future__ import annotations

import json
from datetime import date

from sqlalchemy import select

import audit
from audit import Actor
from edc.clinical.store import read_items, write_items
from edc.crf.casebook import build_of, infusion_date
from edc.extensions import db
from edc.models import FormData, Subject
from forms.derive import derive, item_rule_versions
from forms.metadata import Form
from forms.schedule import out_of_window
from forms.study_build import BUILD


def _write_derived(subject: Subject, event_oid: str, form_oid: str, derived: dict, rules: str,
                   stored: dict, *, event_repeat: int, form_repeat: int,
                   rows: dict | None = None) -> None:
    versions = item_rule_versions(form_oid, derived, cohort=stored.get("COHORT"))
    write_items(subject, event_oid, form_oid, derived, actor=Actor.system(),
                reason=f"derived ({rules})", event_repeat=event_repeat,
                form_repeat=form_repeat, rule_versions=versions, rows=rows)


# Derived values that read another form: when that form changes, they are derived again
# (audited as a system change). The lymphodepletion plan's CrCl reads the screening
# creatinine, age and sex; each day's prescribed dose reads the plan's BSA and CrCl.
DEPENDENTS: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("SCREEN", "LB"): (("LD", "LD"),), ("SCREEN", "DM"): (("LD", "LD"),),
    ("SCREEN", "IC"): (("LD", "LD"),), ("LD", "LD"): (("LD", "LDD"),),
}


def _rederive_dependents(subject: Subject, event_oid: str, form_oid: str) -> None:
    """Derive again what reads this form; then what reads those, if any of them is saved
    (a form that does not exist changed nothing that could be read from it)."""
    for dep_event, dep_form in DEPENDENTS.get((event_oid, form_oid), ()):
        rows = list(db.session.scalars(select(FormData).where(
            FormData.subject_id == subject.id, FormData.event_oid == dep_event,
            FormData.form_oid == dep_form)))
        for row in rows:
            values = read_items(subject, dep_event, dep_form, event_repeat=row.event_repeat,
                                form_repeat=row.form_repeat)
            derived, rules = derive(dep_form, values, subject_lookup(subject),
                                    build_of(row).form(dep_form))
            if any(values.get(k) != v for k, v in derived.items()):
                _write_derived(subject, dep_event, dep_form, derived, rules, values,
                               event_repeat=row.event_repeat, form_repeat=row.form_repeat)
        if rows:
            _rederive_dependents(subject, dep_event, dep_form)


def _home_event(form_oid: str) -> str:
    """The event a subject-level value of a form is read from: the first event of the
    schedule that has the form (screening for LB, the lymphodepletion plan for LD, the logs
    for DTH)."""
    return next(e.oid for e in BUILD.events if form_oid in e.forms)


def subject_lookup(subject: Subject):
    """What a derivation reads of other forms: their subject-level instance."""
    return lambda form, item: read_items(subject, _home_event(form), form).get(item)


class _Others:
    """What a consistency check reads of other forms (forms.consistency.Others)."""

    def __init__(self, subject: Subject, event_oid: str, event_repeat: int):
        self._subject, self._event, self._repeat = subject, event_oid, event_repeat

    def visit(self, form: str, item: str) -> str | None:
        return read_items(self._subject, self._event, form,
                          event_repeat=self._repeat).get(item)

    def subject(self, form: str, item: str) -> str | None:
        return subject_lookup(self._subject)(form, item)


def _cross_form_checks(subject: Subject, event_oid: str, form: Form, outcome) -> str | None:
    """The visit window (the schedule of the subject's infusion): returns the message when
    the form's date is out of its window (a deviation). The other checks that read other
    forms are metadata (forms/consistency.py)."""
    values = outcome.values
    date_item = form.date_item
    if date_item and values.get(date_item) and date_item not in outcome.errors \
            and not form.repeating:
        message = out_of_window(BUILD.event(event_oid), infusion_date(subject),
                                date.fromisoformat(values[date_item]))
        if message:
            outcome.warnings[date_item] = message
            return message
    return None


def _audit_hard_checks(subject, event_oid, form_oid, entered, errors, actor) -> None:
    """A refused save writes no data; the firing of each hard check is still recorded."""
    for item, message in errors.items():
        raw = entered.get(item) if isinstance(entered, dict) else None
        audit.record(db.session, "check.hard", actor=actor, subject=subject,
                     event_oid=event_oid, form_oid=form_oid, item_oid=item,
                     new_value=None if raw is None else json.dumps(raw, default=str)[:200],
                     details={"message": message})
