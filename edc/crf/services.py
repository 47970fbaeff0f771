"""Saving and reading eCRF forms: the one path for the web pages and the JSON API.

``save_form`` validates against the study build, refuses stale versions and locked forms,
asks for a reason once a form has been saved, writes the item values, re-derives computed
items (audited as a system change) and records the form's new version — all in one
transaction with its audit entries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from sqlalchemy import select

import audit
from audit import Actor
from edc.clinical.store import item_rows, present, read_items, rule_versions, write_items
from edc.clock import local_today
from edc.crf import policy
from edc.crf.casebook import (  # noqa: F401 - the casebook's readers, for the routes
    build_of,
    casebook,
    infusion_date,
    next_log_row,
    next_visit,
    visit_number,
    visit_schedule,
)
from edc.crf.checks import (
    DEPENDENTS,  # noqa: F401 - documented with the save
    _audit_hard_checks,
    _cross_form_checks,
    _Others,
    _rederive_dependents,
    _write_derived,
    subject_lookup,
)
from edc.crf.signals import FormSaved, form_saved
from edc.extensions import db
from edc.models import FormData, Subject
from edc.uow import refuse_later
from forms import consistency
from forms.derive import derive
from forms.metadata import Event, Form, StudyBuild
from forms.study_build import BUILD
from forms.text import N_, Message
from forms.validate import (
    MAX_REASON,
    Context,
    form_applies,
    free_text_problem,
    hidden_items,
    missing_required,
    range_flags,
    refuse_hidden_values,
    validate_form,
)

# Events a subject in screening may have data in; every other event needs enrollment.
OPEN_BEFORE_ENROLLMENT = frozenset({"SCREEN", "ENROL", "LOG", "EOS"})

# Forms only the system writes, with the page that writes them.
SYSTEM_FORMS = {"EN": N_("The enrollment form is written when the subject is enrolled from "
                         "the eligibility checklist.")}


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
        super().__init__(Message("The subject is not enrolled: treatment and follow-up forms "
                                 "open once the subject is enrolled from the eligibility "
                                 "checklist."))


Locked = policy.Locked  # a lock or freeze over the form (edc/crf/policy.py)


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
    hidden: frozenset[str] = frozenset()  # items that do not apply (show_if)
    applies: bool = True  # the form applies to the subject (its show_if)
    missing: tuple[str, ...] = ()  # required items without a value

    @property
    def flags(self) -> dict[str, str]:
        """Soft flags only: out of the normal range, inconsistent (not the missing items)."""
        return {k: v for k, v in self.warnings.items() if v != "required"}




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
    # the flags stay on their items whenever the form is shown: out of the normal range, and
    # the consistency flags (the CrCl hard stop on the plan and on each day, a serious AE
    # without its criteria, …)
    _, flags = consistency.run(form_oid, values, _Others(subject, event_oid, event_repeat)) \
        if row is not None else ({}, {})
    flags = {**range_flags(form, values), **flags}
    lookup = subject_lookup(subject)
    hidden = hidden_items(form, values, lookup)
    return FormState(subject.id, event_oid, form_oid, row.version if row else 0,
                     row.status if row else "not started", items, derived, warnings=flags,
                     hidden=hidden, applies=form_applies(form, lookup),
                     missing=tuple(missing_required(form, values, hidden)) if row else (),
                     locked=policy.lock_over(subject, event_oid, form_oid, event_repeat,
                                             form_repeat) is not None,
                     metadata_version=row.metadata_version if row else BUILD.version,
                     rules=rule_versions(subject, event_oid, form_oid,
                                         event_repeat=event_repeat, form_repeat=form_repeat))


def _checked(form: Form, entered: dict) -> frozenset[str]:
    """Items whose soft checks all ran on this save: the entered ones (range and date checks
    read what was entered), and the items that only consistency checks flag (those read the
    whole instance)."""
    whole = {name for name in consistency.items_of(form.oid)
             if (item := form.item(name)).soft is None and not item.unit_ranges
             and item.type != "date"}
    return frozenset(entered) | whole


def _context(subject: Subject, today: date, form, entered: dict) -> Context:
    """What validation reads besides the form: today, and the consent date, which only a
    procedure's date checks (read only when that date is sent)."""
    if not (form.procedure and form.date_item in entered):
        return Context(today=today)
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
    policy.refuse_if_locked(subject, event_oid, form_oid, event_repeat, form_repeat)
    row = _row(subject, event_oid, form_oid, event_repeat, form_repeat, lock=True)
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

    lookup = subject_lookup(subject)
    if not form_applies(form, lookup):
        raise Invalid({"form": Message("%(form)s is asked only when %(condition)s.",
                                       form=form.name,
                                       condition=build.describe(form, form.show_if))})
    outcome = validate_form(build, form, entered, _context(subject, today, form, entered))
    window = _cross_form_checks(subject, event_oid, form, outcome)
    rows = item_rows(subject, event_oid, form_oid, event_repeat=event_repeat,
                     form_repeat=form_repeat)  # read once: written, then read back in place
    before = present(rows)
    derived, rules = {}, ""
    after = {k: v for k, v in {**before, **outcome.values, **(assigned or {})}.items()
             if v is not None and k not in outcome.errors}
    hidden = hidden_items(form, after, lookup)
    refuse_hidden_values(build, form, outcome, after, hidden)
    if outcome.ok:
        derived, rules = derive(form_oid, after, lookup, form)
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
    if reason and (problem := free_text_problem(reason, MAX_REASON)):
        raise Invalid({"reason": problem})
    # a change is a new value for an item that held one, or its removal; a first value in
    # an empty item is not (spec/part11.md point 3): it is audited without a reason
    changed = [k for k, v in outcome.values.items()
               if before.get(k) is not None and before.get(k) != v]
    if changed and not reason:
        raise Invalid({"reason": Message(
            "A saved value changes (%(items)s): give a reason for change.",
            items=", ".join(form.item(k).label for k in changed))})

    changes = write_items(subject, event_oid, form_oid, outcome.values, actor=actor,
                          reason=reason, event_repeat=event_repeat, form_repeat=form_repeat,
                          rows=rows)
    if assigned:
        write_items(subject, event_oid, form_oid, assigned, actor=Actor.system(),
                    reason=reason, event_repeat=event_repeat, form_repeat=form_repeat,
                    rows=rows)
    stored = present(rows)
    if derived:
        _write_derived(subject, event_oid, form_oid, derived, rules, stored,
                       event_repeat=event_repeat, form_repeat=form_repeat, rows=rows)
        stored.update({k: v for k, v in derived.items()})
        stored = {k: v for k, v in stored.items() if v is not None}
    _rederive_dependents(subject, event_oid, form_oid)

    if row is None:
        row = FormData(subject_id=subject.id, site_id=subject.site_id, event_oid=event_oid,
                       event_repeat=event_repeat, form_oid=form_oid, form_repeat=form_repeat,
                       metadata_version=build.version, version=0)
        db.session.add(row)
    missing = missing_required(form, stored, hidden)
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
        checked=_checked(form, outcome.values),
        date_item=form.date_item, out_of_window=window))
    items, derived_now = _split(form, stored)
    return FormState(subject.id, event_oid, form_oid, row.version, row.status, items,
                     derived_now, warnings=outcome.warnings, locked=False,
                     metadata_version=row.metadata_version, hidden=hidden,
                     missing=tuple(missing),
                     rules={oid: r.rule_version for oid, r in rows.items()
                            if not r.removed and r.rule_version})
