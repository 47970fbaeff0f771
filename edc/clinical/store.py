"""Item values of a subject: create, change, remove — each with its audit entry.

This is the storage seam under the eCRF layer: the form services validate against the study
build and then call :func:`write_items`. Values are stored as text (ODM style: dates ISO 8601,
codes as their code, numbers as entered).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select

import audit
from audit import Actor
from edc.extensions import db
from edc.models import ItemData, Lock, Query, SdvMark, Subject


class ReasonRequired(ValueError):
    """A value that was saved before is changed or removed without a reason for change."""

    def __init__(self, items: list[str]):
        super().__init__("A reason for change is required for: " + ", ".join(items))
        self.items = items


class InvalidValue(ValueError):
    """A value that cannot be stored as entered; ``errors`` maps item to message."""

    def __init__(self, errors: dict[str, str]):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


_CONTROL = ({c for c in range(32) if chr(c) not in "\t\n\r"} | {127}
            | set(range(0xD800, 0xE000)))  # lone surrogates cannot be stored as text


def _check_text(item_oid: str, value: str) -> str | None:
    if any(ord(ch) in _CONTROL for ch in value):
        return "contains control characters that cannot be stored; retype the value"
    if len(value) > 4000:
        return "is longer than 4000 characters"
    return None


@dataclass(frozen=True)
class Change:
    item_oid: str
    action: str  # data.create | data.update | data.remove
    old: str | None
    new: str | None


def read_items(subject: Subject, event_oid: str, form_oid: str, *, event_repeat: int = 1,
               form_repeat: int = 1) -> dict[str, str]:
    rows = db.session.scalars(select(ItemData).where(
        *ItemData.of(subject.id, event_oid, form_oid, event_repeat, form_repeat),
        ItemData.removed.is_(False)))
    return {r.item_oid: r.value for r in rows}


def item_rows(subject: Subject, event_oid: str, form_oid: str, *, event_repeat: int = 1,
              form_repeat: int = 1) -> dict[str, ItemData]:
    """Every value row of a form instance by item, removed ones too: what ``write_items``
    changes, so that a save reads its form's values once (``present``)."""
    return {r.item_oid: r for r in db.session.scalars(select(ItemData).where(
        *ItemData.of(subject.id, event_oid, form_oid, event_repeat, form_repeat)))}


def present(rows: dict[str, ItemData]) -> dict[str, str]:
    """The values that stand among ``rows`` (``item_rows``), as ``read_items`` gives them."""
    return {oid: r.value for oid, r in rows.items() if not r.removed}


def write_items(subject: Subject, event_oid: str, form_oid: str, values: dict[str, str | None],
                *, actor: Actor, reason: str | None = None, event_repeat: int = 1,
                form_repeat: int = 1, rule_versions: dict[str, str] | None = None,
                rows: dict[str, ItemData] | None = None) -> list[Change]:
    """Apply ``values`` (None or "" removes a value). Flushes, does not commit.

    A change or removal of a value saved before needs ``reason`` (spec/part11.md, point 3);
    without it nothing is written and :class:`ReasonRequired` names the items.
    ``rows`` are the instance's ``item_rows`` when the caller read them: they are used
    instead of reading again, and a new row joins them.
    """
    existing = rows if rows is not None else item_rows(
        subject, event_oid, form_oid, event_repeat=event_repeat, form_repeat=form_repeat)
    errors = {oid: msg for oid, raw in values.items()
              if raw is not None and (msg := _check_text(oid, str(raw)))}
    if errors:
        raise InvalidValue(errors)
    plan: list[tuple[str, ItemData | None, str | None]] = []
    for item_oid, raw in values.items():
        new = None if raw is None or raw == "" else str(raw)
        row = existing.get(item_oid)
        old = None if row is None or row.removed else row.value
        if old != new:
            plan.append((item_oid, row, new))
    reason = (reason or "").strip() or None
    needs_reason = [oid for oid, row, _ in plan if row is not None and not row.removed]
    if needs_reason and not reason:
        raise ReasonRequired(needs_reason)

    changes = []
    for item_oid, row, new in plan:
        saved_before = row is not None and not row.removed
        rule = (rule_versions or {}).get(item_oid)
        if row is None:
            row = ItemData(subject_id=subject.id, site_id=subject.site_id, event_oid=event_oid,
                           event_repeat=event_repeat, form_oid=form_oid,
                           form_repeat=form_repeat, item_oid=item_oid, value=new,
                           rule_version=rule)
            db.session.add(row)
            existing[item_oid] = row
            old, action = None, "data.create"
        else:
            old = None if row.removed else row.value
            action = "data.remove" if new is None else (
                "data.create" if row.removed else "data.update")
            row.value = new if new is not None else row.value
            row.removed = new is None
            row.rule_version = rule
        db.session.flush()
        audit.record(db.session, action, actor=actor, subject=subject, event_oid=event_oid,
                     event_repeat=event_repeat, form_oid=form_oid, item_oid=item_oid,
                     repeat_key=str(form_repeat), old_value=old, new_value=new,
                     reason=reason if saved_before else None,
                     target_type="item_data", target_id=str(row.id))
        changes.append(Change(item_oid, action, old, new))
    return changes


def rule_versions(subject: Subject, event_oid: str, form_oid: str, *, event_repeat: int = 1,
                  form_repeat: int = 1) -> dict[str, str]:
    """The rule versions stored beside a form's derived values."""
    rows = db.session.execute(select(ItemData.item_oid, ItemData.rule_version).where(
        *ItemData.of(subject.id, event_oid, form_oid, event_repeat, form_repeat),
        ItemData.removed.is_(False), ItemData.rule_version.is_not(None)))
    return dict(rows.all())

def snapshot(session) -> dict:
    """The clinical data as the tables hold them, in the shape the replay of the trail
    rebuilds (audit.replay), so that the two can be compared."""
    subjects = {}
    for s in session.scalars(select(Subject).execution_options(all_sites=True)):
        subjects[s.id] = {"site_id": str(s.site_id), "screening_number": s.screening_number,
                          "subject_number": s.subject_number, "status": s.status}
    items = {}
    rows = session.scalars(select(ItemData).where(ItemData.removed.is_(False))
                           .execution_options(all_sites=True))
    for r in rows:
        items[(r.subject_id, r.event_oid, r.event_repeat, r.form_oid, r.form_repeat,
               r.item_oid)] = r.value
    queries = {q.id: q.state for q in session.scalars(
        select(Query).execution_options(all_sites=True))}
    sdv = {(m.subject_id, m.event_oid, m.event_repeat, m.form_oid, m.form_repeat, m.item_oid):
           m.state for m in session.scalars(select(SdvMark).execution_options(all_sites=True))}
    locks = {lk.id: "active" if lk.active else "released"
             for lk in session.scalars(select(Lock))}
    return {"subjects": subjects, "items": items, "queries": queries, "sdv": sdv,
            "locks": locks}
