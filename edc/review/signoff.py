"""Investigator sign-off of a form instance, a visit, or the whole casebook, through the one
signature service (edc/signatures.py).

Each signed record is a signature target: its content (what the investigator approves: every
value with the metadata version, derived values with their rule version) and its blockers
(open or answered queries in its scope, saved forms with required items missing). A save that
changes the content invalidates the signature in its own transaction (a ``form_saved``
subscriber), shown as *invalidated by change*; the history of both signatures stays.

Target names: ``form:<EVENT>.<visit>.<FORM>.<row>``, ``visit:<EVENT>.<visit>``, ``casebook``.
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import select

from edc import signatures
from edc.crf.casebook import build_of
from edc.crf.signals import FormSaved, form_saved
from edc.extensions import db
from edc.models import FormData, ItemData, Subject
from edc.queries import services as queries
from forms.study_build import BUILD
from forms.validate import missing_required

FORM_MEANING = "I have reviewed and approve the data in this form"
VISIT_MEANING = "I have reviewed and approve the data of this visit"
CASEBOOK_MEANING = ("Casebook approval: I have reviewed the data of this subject's casebook "
                    "and approve them")


def form_target(event_oid: str, form_oid: str, event_repeat: int = 1,
                form_repeat: int = 1) -> str:
    return f"form:{event_oid}.{event_repeat}.{form_oid}.{form_repeat}"


def visit_target(event_oid: str, event_repeat: int = 1) -> str:
    return f"visit:{event_oid}.{event_repeat}"


def parse(name: str) -> tuple:
    """(kind, event, event_repeat, form, form_repeat) of a target name; ValueError if not one
    of ours."""
    if name == "casebook":
        return ("casebook", None, None, None, None)
    family, _, key = name.partition(":")
    parts = key.split(".")
    try:
        if family == "form" and len(parts) == 4:
            event, er, form, fr = parts
            BUILD.event(event)
            BUILD.form(form)
            return ("form", event, int(er), form, int(fr))
        if family == "visit" and len(parts) == 2:
            BUILD.event(parts[0])
            return ("visit", parts[0], int(parts[1]), None, None)
    except (KeyError, ValueError):
        pass
    raise ValueError(f"no signed record {name!r}")


def _instances(subject: Subject, **scope) -> list[tuple[FormData, dict, dict]]:
    """Saved form instances in ``scope`` (event_oid, event_repeat, form_oid, form_repeat),
    each with its values and rule versions: two statements."""
    def where(model):
        return [getattr(model, col) == value for col, value in scope.items()
                if value is not None]

    fstmt = select(FormData).where(FormData.subject_id == subject.id, *where(FormData))
    istmt = select(ItemData).where(ItemData.subject_id == subject.id,
                                   ItemData.removed.is_(False), *where(ItemData))
    values: dict[tuple, dict] = defaultdict(dict)
    rules: dict[tuple, dict] = defaultdict(dict)
    for r in db.session.scalars(istmt):
        key = (r.event_oid, r.event_repeat, r.form_oid, r.form_repeat)
        values[key][r.item_oid] = r.value
        if r.rule_version:
            rules[key][r.item_oid] = r.rule_version
    out = []
    for fd in sorted(db.session.scalars(fstmt),
                     key=lambda f: (f.event_oid, f.event_repeat, f.form_oid, f.form_repeat)):
        key = (fd.event_oid, fd.event_repeat, fd.form_oid, fd.form_repeat)
        out.append((fd, values.get(key, {}), rules.get(key, {})))
    return out


def _content(record: str, subject: Subject, instances) -> dict:
    return {
        "record": record,
        "subject": subject.screening_number,
        "forms": [[fd.event_oid, fd.event_repeat, fd.form_oid, fd.form_repeat,
                   fd.metadata_version, sorted([k, v, rules.get(k)] for k, v in vals.items())]
                  for fd, vals, rules in instances],
    }


def _blockers(subject: Subject, instances, **scope) -> list[str]:
    out = []
    for q in queries.unresolved(subject, **scope):
        where = f"{q.event_oid}/{q.form_oid}" + (f"/{q.item_oid}" if q.item_oid else "")
        out.append(f"query #{q.id} is {q.state}: {where}")
    for fd, vals, _ in instances:
        form = build_of(fd).form(fd.form_oid)
        missing = missing_required(form, vals)
        if missing:
            names = ", ".join(form.item(m).label for m in missing)
            out.append(f"{fd.event_oid}/{form.name}: required items missing ({names})")
    return out


def _scoped(name: str, meaning: str, record: str, scope: dict, empty: str,
            place: dict | None = None) -> signatures.Target:
    """A signed record over the form instances in ``scope``."""
    def blockers(subject: Subject) -> list[str]:
        instances = _instances(subject, **scope)
        return _blockers(subject, instances, **scope) if instances else [empty]

    return signatures.Target(name, meaning,
                             lambda s: _content(record, s, _instances(s, **scope)), blockers,
                             place)


def _form_target(name: str) -> signatures.Target:
    _, event, er, form, fr = parse(name)
    scope = {"event_oid": event, "event_repeat": er, "form_oid": form, "form_repeat": fr}
    return _scoped(name, FORM_MEANING, "form", scope,
                   f"{event}/{form}: the form has not been saved", place=scope)


def _visit_target(name: str) -> signatures.Target:
    _, event, er, _, _ = parse(name)
    return _scoped(name, VISIT_MEANING, "visit", {"event_oid": event, "event_repeat": er},
                   f"{event}: no form of this visit has been saved")


def _casebook_blockers(subject: Subject) -> list[str]:
    return _blockers(subject, _instances(subject))


signatures.register_family("form", _form_target)
signatures.register_family("visit", _visit_target)
signatures.register(signatures.Target(
    "casebook", CASEBOOK_MEANING, lambda s: _content("casebook", s, _instances(s)),
    _casebook_blockers))


@form_saved.connect
def _invalidate(subject: Subject, *, saved: FormSaved) -> None:
    """Every save: the signatures whose content it changed (eligibility checklist, form,
    visit, casebook) are invalidated in its transaction."""
    signatures.invalidate_changed(subject, actor=saved.actor,
                                  cause=f"{saved.event_oid}/{saved.form_oid} saved "
                                        f"(version {saved.version})")
