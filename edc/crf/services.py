"""Saving and reading eCRF forms: the one path for the web pages and the JSON API.

``save_form`` validates against the study build, refuses stale versions and locked forms,
asks for a reason once a form has been saved, writes the item values, re-derives computed
items (audited as a system change) and records the form's new version — all in one
transaction with its audit entries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import func, select

import audit
from audit import Actor
from edc.clinical.store import read_items, rule_versions, write_items
from edc.clock import local_today
from edc.crf.signals import FormSaved, form_saved
from edc.extensions import db
from edc.models import FormData, Subject
from edc.uow import refuse_later
from forms import consistency
from forms.derive import derive, item_rule_versions
from forms.metadata import Event, Form, StudyBuild
from forms.schedule import out_of_window, schedule
from forms.study_build import BUILD, BUILDS
from forms.validate import Context, missing_required, validate_form

# Events a subject in screening may have data in; every other event needs enrollment.
OPEN_BEFORE_ENROLLMENT = frozenset({"SCREEN", "ENROL", "LOG", "EOS"})

# Forms only the system writes, with the page that writes them.
SYSTEM_FORMS = {"EN": "The enrollment form is written when the subject is enrolled from the "
                      "eligibility checklist."}


class FormProblem(Exception):
    """Base of the refusals; ``status`` is the HTTP status a route answers with."""

    status = 422


class UnknownForm(FormProblem):
    status = 404


class Invalid(FormProblem):
    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


class StaleVersion(FormProblem):
    status = 409

    def __init__(self, current: FormState, sent: int | None):
        super().__init__(f"The form was saved by someone else (version {current.version}; "
                         f"you edited version {sent}). Review their values and save again.")
        self.current = current


class NotEnrolled(FormProblem):
    status = 409

    def __init__(self):
        super().__init__("The subject is not enrolled: treatment and follow-up forms open "
                         "once the subject is enrolled from the eligibility checklist.")


class Locked(FormProblem):
    status = 409

    def __init__(self):
        super().__init__("This form is locked by data management; it cannot be changed.")


@dataclass
class FormState:
    subject_id: int
    event: str
    form: str
    version: int
    status: str
    items: dict[str, str | None]
    derived: dict[str, str | None]
    warnings: dict[str, str] = field(default_factory=dict)
    locked: bool = False
    rules: dict[str, str] = field(default_factory=dict)
    metadata_version: str = BUILD.version


def visit_number(event: Event, raw: str | int | None) -> int:
    """The visit number (event repeat) asked for: any whole number from 1 for a repeatable
    event (unscheduled visits), 1 for every other event. ValueError otherwise."""
    if raw in (None, ""):
        return 1
    number = int(raw)
    if number < 1 or (number > 1 and not event.repeatable):
        raise ValueError(f"event {event.oid} has no visit {number}")
    return number


def next_visit(subject: Subject, event_oid: str) -> int:
    """The next free visit number of a repeatable event (unscheduled visits)."""
    return _next_number(FormData.event_repeat, subject, FormData.event_oid == event_oid)


def build_of(row: FormData | None) -> StudyBuild:
    """The metadata version a form instance was entered under (the active one for a new
    instance)."""
    return BUILDS.get(row.metadata_version, BUILD) if row is not None else BUILD


def definition(subject: Subject, event_oid: str, form_oid: str, *, event_repeat: int = 1,
               form_repeat: int = 1) -> tuple[StudyBuild, Form]:
    """The build and form definition that govern this instance of the form."""
    resolve(event_oid, form_oid)
    build = build_of(_row(subject, event_oid, form_oid, event_repeat, form_repeat))
    return build, build.form(form_oid)


def resolve(event_oid: str, form_oid: str) -> tuple[Event, Form]:
    """The event and form, or UnknownForm when the schedule does not have that pair."""
    try:
        event = BUILD.event(event_oid)
        form = BUILD.form(form_oid)
    except KeyError as exc:
        raise UnknownForm(str(exc.args[0])) from None
    if form_oid not in event.forms:
        raise UnknownForm(f"event {event_oid} has no form {form_oid}")
    return event, form


def _row(subject: Subject, event: str, form: str, event_repeat: int, form_repeat: int,
         *, lock: bool = False) -> FormData | None:
    stmt = select(FormData).where(
        *FormData.of(subject.id, event, form, event_repeat, form_repeat))
    if lock:
        stmt = stmt.with_for_update()
    return db.session.scalar(stmt)


def _split(form: Form, values: dict) -> tuple[dict, dict]:
    derived = {i.name for i in form.items if i.derived}
    return ({k: v for k, v in values.items() if k not in derived},
            {k: values.get(k) for k in derived})


def read_form(subject: Subject, event_oid: str, form_oid: str, *, event_repeat: int = 1,
              form_repeat: int = 1) -> FormState:
    resolve(event_oid, form_oid)
    row = _row(subject, event_oid, form_oid, event_repeat, form_repeat)
    form = build_of(row).form(form_oid)
    values = read_items(subject, event_oid, form_oid, event_repeat=event_repeat,
                        form_repeat=form_repeat)
    items, derived = _split(form, values)
    # the consistency flags stay on their items whenever the form is shown (the CrCl hard
    # stop on the plan and on each day, a serious AE without its criteria, …)
    _, flags = consistency.run(form_oid, values, _Others(subject, event_oid, event_repeat)) \
        if row is not None else ({}, {})
    return FormState(subject.id, event_oid, form_oid, row.version if row else 0,
                     row.status if row else "not started", items, derived, warnings=flags,
                     locked=bool(row and row.locked),
                     metadata_version=row.metadata_version if row else BUILD.version,
                     rules=rule_versions(subject, event_oid, form_oid,
                                         event_repeat=event_repeat, form_repeat=form_repeat))


def _context(subject: Subject, today: date) -> Context:
    consent = read_items(subject, "SCREEN", "IC").get("RFICDAT")
    return Context(today=today, consent_date=date.fromisoformat(consent) if consent else None)


def save_form(subject: Subject, event_oid: str, form_oid: str, entered: dict, *,
              version: int | None, actor: Actor, reason: str | None = None,
              event_repeat: int = 1, form_repeat: int = 1,
              today: date | None = None, assigned: dict | None = None) -> FormState:
    """Save entered values and return the new state, or raise a FormProblem: then nothing is
    to be kept but the record of the hard checks that refused values, which the unit of work
    writes after its rollback (``edc.uow``). Does not commit: the boundary does.
    ``assigned`` are values the system sets (the subject number)."""
    resolve(event_oid, form_oid)
    if not isinstance(entered, dict):
        raise Invalid({"items": "must be an object of item names to values"})
    if form_oid in SYSTEM_FORMS and assigned is None:
        raise Invalid({"form": SYSTEM_FORMS[form_oid]})
    today = today or local_today(subject.site.timezone)
    if event_oid not in OPEN_BEFORE_ENROLLMENT and subject.subject_number is None:
        raise NotEnrolled()
    row = _row(subject, event_oid, form_oid, event_repeat, form_repeat, lock=True)
    if row is not None and row.locked:
        raise Locked()
    build = build_of(row)  # an instance keeps the metadata version it was entered under
    form = build.form(form_oid)
    current = row.version if row else 0
    if version is None and current:
        raise Invalid({"version": f"required: send the version you read (the form is at "
                                  f"version {current})"})
    if (version or 0) != current:
        state = read_form(subject, event_oid, form_oid, event_repeat=event_repeat,
                          form_repeat=form_repeat)
        raise StaleVersion(state, version)

    outcome = validate_form(build, form, entered, _context(subject, today))
    window = _cross_form_checks(subject, event_oid, form, outcome)
    before = read_items(subject, event_oid, form_oid, event_repeat=event_repeat,
                        form_repeat=form_repeat) if row is not None else {}
    derived, rules = {}, ""
    after = {k: v for k, v in {**before, **outcome.values, **(assigned or {})}.items()
             if v is not None and k not in outcome.errors}
    if outcome.ok:
        derived, rules = derive(form_oid, after, _lookup(subject), form)
    errors, warnings = consistency.run(form_oid, {**after, **derived},
                                       _Others(subject, event_oid, event_repeat),
                                       skip=frozenset(outcome.errors))
    outcome.errors.update(errors)
    for item, message in warnings.items():
        outcome.warnings.setdefault(item, message)
    if not outcome.ok:
        errors = dict(outcome.errors)
        refuse_later(lambda: _audit_hard_checks(subject, event_oid, form_oid, entered, errors,
                                                actor))
        raise Invalid(errors)
    reason = (reason or "").strip() or None
    if row is not None and not reason and \
            any(before.get(k) != v for k, v in outcome.values.items()):
        raise Invalid({"reason": "The form was saved before: give a reason for change."})

    changes = write_items(subject, event_oid, form_oid, outcome.values, actor=actor,
                          reason=reason, event_repeat=event_repeat, form_repeat=form_repeat)
    if assigned:
        write_items(subject, event_oid, form_oid, assigned, actor=Actor.system(),
                    reason=reason, event_repeat=event_repeat, form_repeat=form_repeat)
    stored = read_items(subject, event_oid, form_oid, event_repeat=event_repeat,
                        form_repeat=form_repeat)
    if derived:
        _write_derived(subject, event_oid, form_oid, derived, rules, stored,
                       event_repeat=event_repeat, form_repeat=form_repeat)
        stored.update({k: v for k, v in derived.items()})
        stored = {k: v for k, v in stored.items() if v is not None}
    _rederive_dependents(subject, event_oid, form_oid)

    if row is None:
        row = FormData(subject_id=subject.id, site_id=subject.site_id, event_oid=event_oid,
                       event_repeat=event_repeat, form_oid=form_oid, form_repeat=form_repeat,
                       metadata_version=build.version, version=0)
        db.session.add(row)
    missing = missing_required(form, stored)
    row.version += 1
    row.status = "incomplete" if missing else "complete"
    db.session.flush()
    for item, message in outcome.warnings.items():
        audit.record(db.session, "check.soft", actor=actor, subject=subject,
                     event_oid=event_oid, event_repeat=event_repeat, form_oid=form_oid,
                     item_oid=item, repeat_key=str(form_repeat),
                     new_value=outcome.values.get(item), details={"message": message},
                     target_type="form_data", target_id=str(row.id))
    audit.record(db.session, "form.save", actor=actor, subject=subject, event_oid=event_oid,
                 event_repeat=event_repeat, form_oid=form_oid, repeat_key=str(form_repeat),
                 new_value=f"version {row.version}", reason=reason,
                 details={"status": row.status, "missing": missing,
                          "metadata_version": row.metadata_version},
                 target_type="form_data", target_id=str(row.id))
    form_saved.send(subject, saved=FormSaved(
        event_oid, form_oid, event_repeat, form_repeat, row.version, row.status, actor,
        values=dict(stored), changes=tuple(changes), warnings=dict(outcome.warnings),
        date_item=form.date_item, out_of_window=window))
    items, derived_now = _split(form, stored)
    return FormState(subject.id, event_oid, form_oid, row.version, row.status, items,
                     derived_now, warnings=outcome.warnings, locked=row.locked,
                     metadata_version=row.metadata_version,
                     rules=rule_versions(subject, event_oid, form_oid,
                                         event_repeat=event_repeat, form_repeat=form_repeat))


def _write_derived(subject: Subject, event_oid: str, form_oid: str, derived: dict, rules: str,
                   stored: dict, *, event_repeat: int, form_repeat: int) -> None:
    versions = item_rule_versions(form_oid, derived, cohort=stored.get("COHORT"))
    write_items(subject, event_oid, form_oid, derived, actor=Actor.system(),
                reason=f"derived ({rules})", event_repeat=event_repeat,
                form_repeat=form_repeat, rule_versions=versions)


# Derived values that read another form: when that form changes, they are derived again
# (audited as a system change). The lymphodepletion plan's CrCl reads the screening
# creatinine, age and sex; each day's prescribed dose reads the plan's BSA and CrCl.
DEPENDENTS: dict[tuple[str, str], tuple[tuple[str, str], ...]] = {
    ("SCREEN", "LB"): (("LD", "LD"),), ("SCREEN", "DM"): (("LD", "LD"),),
    ("SCREEN", "IC"): (("LD", "LD"),), ("LD", "LD"): (("LD", "LDD"),),
}


def _rederive_dependents(subject: Subject, event_oid: str, form_oid: str) -> None:
    for dep_event, dep_form in DEPENDENTS.get((event_oid, form_oid), ()):
        rows = db.session.scalars(select(FormData).where(
            FormData.subject_id == subject.id, FormData.event_oid == dep_event,
            FormData.form_oid == dep_form))
        for row in rows:
            values = read_items(subject, dep_event, dep_form, event_repeat=row.event_repeat,
                                form_repeat=row.form_repeat)
            derived, rules = derive(dep_form, values, _lookup(subject),
                                    build_of(row).form(dep_form))
            if any(values.get(k) != v for k, v in derived.items()):
                _write_derived(subject, dep_event, dep_form, derived, rules, values,
                               event_repeat=row.event_repeat, form_repeat=row.form_repeat)
        _rederive_dependents(subject, dep_event, dep_form)


def _home_event(form_oid: str) -> str:
    """The event a subject-level value of a form is read from: the first event of the
    schedule that has the form (screening for LB, the lymphodepletion plan for LD, the logs
    for DTH)."""
    return next(e.oid for e in BUILD.events if form_oid in e.forms)


def _lookup(subject: Subject):
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
        return _lookup(self._subject)(form, item)


def infusion_date(subject: Subject) -> date | None:
    value = read_items(subject, "INF", "IF").get("IFDAT")
    return date.fromisoformat(value) if value else None


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


def visit_schedule(subject: Subject, today: date | None = None) -> list:
    """The subject's visits with target dates, windows and statuses (one query for data)."""
    from edc.models import ItemData

    today = today or local_today(subject.site.timezone)
    saved = casebook(subject)
    dated_items = {(f.oid, f.date_item) for f in BUILD.forms.values() if f.date_item}
    rows = db.session.execute(select(ItemData.event_oid, ItemData.form_oid, ItemData.item_oid,
                                     ItemData.value).where(
        ItemData.subject_id == subject.id, ItemData.removed.is_(False),
        ItemData.event_repeat == 1))
    first_date: dict[str, date] = {}
    infusion = None
    for event_oid, form_oid, item_oid, value in rows:
        if (form_oid, item_oid) in dated_items and value:
            d = date.fromisoformat(value)
            first_date[event_oid] = min(d, first_date.get(event_oid, d))
            if (event_oid, form_oid, item_oid) == ("INF", "IF", "IFDAT"):
                infusion = d
    actual = {key[0]: first_date.get(key[0]) for key in saved}
    return schedule(BUILD.events, infusion, actual, today)


def _audit_hard_checks(subject, event_oid, form_oid, entered, errors, actor) -> None:
    """A refused save writes no data; the firing of each hard check is still recorded."""
    for item, message in errors.items():
        raw = entered.get(item) if isinstance(entered, dict) else None
        audit.record(db.session, "check.hard", actor=actor, subject=subject,
                     event_oid=event_oid, form_oid=form_oid, item_oid=item,
                     new_value=None if raw is None else json.dumps(raw, default=str)[:200],
                     details={"message": message})


def _next_number(column, subject: Subject, criterion) -> int:
    """One more than the highest row or visit number used: numbers are never reused."""
    used = db.session.scalar(select(func.max(column)).where(
        FormData.subject_id == subject.id, criterion))
    return (used or 0) + 1


def next_log_row(subject: Subject, form_oid: str) -> int:
    return _next_number(FormData.form_repeat, subject, FormData.form_oid == form_oid)



def casebook(subject: Subject) -> dict[tuple[str, int, str, int], FormData]:
    """Every saved form of a subject, keyed (event, event repeat, form, form repeat): one query
    whatever the number of events, forms or audit entries."""
    rows = db.session.scalars(select(FormData).where(FormData.subject_id == subject.id))
    return {(r.event_oid, r.event_repeat, r.form_oid, r.form_repeat): r for r in rows}
