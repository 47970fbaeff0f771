"""The eligibility evaluation of a subject from its stored screening data."""

from __future__ import annotations

from datetime import date

from sqlalchemy import select

from edc.clinical.store import read_items
from edc.clock import utcnow
from edc.eligibility.rules import MISSING, NOT_MET, evaluate
from edc.extensions import db
from edc.models import FormData, Subject

ORDER = {MISSING: 0, NOT_MET: 1}


def prior_treatments(subject: Subject) -> list[dict]:
    rows = db.session.scalars(select(FormData.form_repeat).where(
        FormData.subject_id == subject.id, FormData.event_oid == "SCREEN",
        FormData.form_oid == "PT").order_by(FormData.form_repeat)).all()
    return [read_items(subject, "SCREEN", "PT", form_repeat=n) for n in rows]


def evaluate_subject(subject: Subject, reference: date | None = None) -> dict:
    """Evaluate every criterion at ``reference`` (default today: the planned enrollment)."""
    reference = reference or utcnow().date()
    cache: dict[str, dict] = {}

    def get(form: str, item: str):
        if form not in cache:
            cache[form] = read_items(subject, "SCREEN", form)
        return cache[form].get(item)

    result = evaluate(get, prior_treatments(subject), reference)
    result["reference_date"] = reference.isoformat()
    return result


def checklist(result: dict) -> list:
    """Criteria in the order site staff act on them: missing, then not met, then the rest."""
    return sorted(result["criteria"], key=lambda r: ORDER.get(r.result, 2))


def as_json(result: dict) -> dict:
    return {"status": result["status"], "rule_version": result["rule_version"],
            "reference_date": result["reference_date"],
            "alternatives": result["alternatives"],
            "criteria": [{"id": r.id, "result": r.result, "evidence": r.evidence,
                          "missing": r.missing} for r in checklist(result)]}
