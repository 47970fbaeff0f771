"""Rebuild the clinical data from the audit trail alone, and compare with the tables.

``replay(entries)`` and ``snapshot(session)`` return the same shape:
``{"subjects": {id: {field: text}}, "items": {(subject, event, event_repeat, form,
form_repeat, item): text}}``. Equality of the two is what spec/part11.md point 5 asks.
"""

from __future__ import annotations

from sqlalchemy import select

from audit.models import AuditEntry

SUBJECT_FIELDS = ("site_id", "screening_number", "subject_number", "status")


def _item_key(e) -> tuple:
    return (e.subject_id, e.event_oid, e.event_repeat or 1, e.form_oid,
            int(e.repeat_key or 1), e.item_oid)


def replay(entries) -> dict:
    subjects: dict[int, dict] = {}
    items: dict[tuple, str] = {}
    for e in entries:
        if e.action == "subject.create":
            subjects[e.subject_id] = {"site_id": str(e.site_id), "screening_number": e.new_value,
                                      "subject_number": None, "status": "screening"}
        elif e.action == "subject.update":
            subjects[e.subject_id][e.item_oid] = e.new_value
        elif e.action in ("data.create", "data.update"):
            items[_item_key(e)] = e.new_value
        elif e.action == "data.remove":
            items.pop(_item_key(e), None)
    return {"subjects": subjects, "items": items}


def replay_from_database(session, batch: int = 2000) -> dict:
    result = session.scalars(
        select(AuditEntry).where(AuditEntry.action.in_(
            ("subject.create", "subject.update", "data.create", "data.update", "data.remove")))
        .order_by(AuditEntry.seq)
        .execution_options(yield_per=batch, all_sites=True))
    return replay(result)




def differences(replayed: dict, current: dict, limit: int = 20) -> list[str]:
    out = []
    for part in ("subjects", "items"):
        a, b = replayed[part], current[part]
        for key in sorted(set(a) | set(b), key=str):
            if a.get(key) != b.get(key):
                out.append(f"{part} {key}: trail says {a.get(key)!r}, tables say {b.get(key)!r}")
                if len(out) >= limit:
                    return out
    return out
