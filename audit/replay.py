"""Rebuild the clinical data from the audit trail alone, and compare with the tables.

``replay(entries)`` and ``snapshot(session)`` return the same shape:
``{"subjects": {id: {field: text}}, "items": {(subject, event, event_repeat, form,
form_repeat, item): text}, "queries": {id: state}, "sdv": {item key: state},
"locks": {id: "active" | "released"}}``. Equality of the two is what spec/part11.md point 5
asks: the data, and the state of their review (queries, SDV, locks), come back from the trail.
"""

from __future__ import annotations

from sqlalchemy import select

from audit.models import AuditEntry

SUBJECT_FIELDS = ("site_id", "screening_number", "subject_number", "status")


def _item_key(e) -> tuple:
    return (e.subject_id, e.event_oid, e.event_repeat or 1, e.form_oid,
            int(e.repeat_key or 1), e.item_oid)


REVIEW_ACTIONS = ("query.open", "query.answer", "query.close", "query.reopen",
                  "query.auto_close", "query.auto_reopen", "sdv.verify", "sdv.unverify",
                  "lock.apply", "lock.release")
PARTS = ("subjects", "items", "queries", "sdv", "locks")


def replay(entries) -> dict:
    subjects: dict[int, dict] = {}
    items: dict[tuple, str] = {}
    queries: dict[int, str] = {}
    sdv: dict[tuple, str] = {}
    locks: dict[int, str] = {}
    for e in entries:
        if e.action.startswith("query."):
            queries[int(e.target_id)] = e.new_value
            continue
        if e.action.startswith("sdv."):
            sdv[_item_key(e)] = e.new_value
            continue
        if e.action.startswith("lock."):
            locks[int(e.target_id)] = "active" if e.action == "lock.apply" else "released"
            continue
        if e.action == "subject.create":
            subjects[e.subject_id] = {"site_id": str(e.site_id), "screening_number": e.new_value,
                                      "subject_number": None, "status": "screening"}
        elif e.action == "subject.update":
            subjects[e.subject_id][e.item_oid] = e.new_value
        elif e.action in ("data.create", "data.update"):
            items[_item_key(e)] = e.new_value
        elif e.action == "data.remove":
            items.pop(_item_key(e), None)
    return {"subjects": subjects, "items": items, "queries": queries, "sdv": sdv,
            "locks": locks}


def replay_from_database(session, batch: int = 2000) -> dict:
    result = session.scalars(
        select(AuditEntry).where(AuditEntry.action.in_(
            ("subject.create", "subject.update", "data.create", "data.update", "data.remove",
             *REVIEW_ACTIONS)))
        .order_by(AuditEntry.seq)
        .execution_options(yield_per=batch, all_sites=True))
    return replay(result)




def differences(replayed: dict, current: dict, limit: int = 20) -> list[str]:
    out = []
    for part in PARTS:
        a, b = replayed.get(part, {}), current.get(part, {})
        for key in sorted(set(a) | set(b), key=str):
            if a.get(key) != b.get(key):
                out.append(f"{part} {key}: trail says {a.get(key)!r}, tables say {b.get(key)!r}")
                if len(out) >= limit:
                    return out
    return out
