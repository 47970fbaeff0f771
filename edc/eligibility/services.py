"""The eligibility evaluation of a subject from its stored screening data, the checklist
signature target, and the post-enrollment deviation check."""

from __future__ import annotations

import json
from collections import defaultdict
from datetime import date

from sqlalchemy import func, select

import audit
from audit import Actor
from audit.models import AuditEntry
from edc import deidentify, deviations, signatures
from edc.clock import local_today
from edc.crf.signals import FormSaved, form_saved
from edc.eligibility.rules import (
    MISSING,
    NOT_MET,
    evaluate,
    failing,
)
from edc.eligibility.settings import current_settings
from edc.extensions import db
from edc.models import Deviation, EligibilityEvaluation, ItemData, Subject
from edc.timefmt import utc_time
from forms.study_build import BUILD

ORDER = {MISSING: 0, NOT_MET: 1}
TARGET = "eligibility"
MEANING = "I confirm this subject meets all eligibility criteria"


def site_today(subject: Subject) -> date:
    """The calendar day at the subject's site (the reference date of an enrollment today)."""
    return local_today(subject.site.timezone)


def screening_data(subject: Subject) -> dict[tuple[str, int], dict[str, str]]:
    """Every value of the screening event: {(form, row): {item: value}} (one query)."""
    rows = db.session.execute(select(ItemData.form_oid, ItemData.form_repeat, ItemData.item_oid,
                                     ItemData.value).where(
        ItemData.subject_id == subject.id, ItemData.event_oid == "SCREEN",
        ItemData.event_repeat == 1, ItemData.removed.is_(False)))
    data: dict[tuple[str, int], dict[str, str]] = defaultdict(dict)
    for form, repeat, item, value in rows:
        data[(form, repeat)][item] = value
    return data


def _prior_treatments(data) -> list[dict]:
    return [values for (form, _), values in sorted(data.items()) if form == "PT"]


def evaluate_subject(subject: Subject, reference: date | None = None, *,
                     data: dict | None = None) -> dict:
    """Evaluate every criterion at ``reference`` (default: today at the site, the planned
    enrollment) with the current settings version."""
    reference = reference or site_today(subject)
    data = screening_data(subject) if data is None else data

    def get(form: str, item: str):
        return data.get((form, 1), {}).get(item)

    result = evaluate(get, _prior_treatments(data), reference, current_settings())
    result["reference_date"] = reference.isoformat()
    result["data"] = data
    return result


def _audit_seqs(subject: Subject) -> dict[tuple[str, str, str], int]:
    """The sequence number of the audit entry that set each current screening value."""
    rows = db.session.execute(select(AuditEntry.form_oid, AuditEntry.repeat_key,
                                     AuditEntry.item_oid, func.max(AuditEntry.seq)).where(
        AuditEntry.subject_id == subject.id, AuditEntry.event_oid == "SCREEN",
        AuditEntry.action.in_(("data.create", "data.update")))
        .group_by(AuditEntry.form_oid, AuditEntry.repeat_key, AuditEntry.item_oid))
    return {(f, r or "1", i): seq for f, r, i, seq in rows}


def sources(subject: Subject, result: dict, *, pii_ok: bool) -> dict[str, list[dict]]:
    """For each criterion, the stored values it read: form, row, item, value, unit, the form's
    date, and the audit sequence number of the entry that wrote the value. Identifying values
    are withheld from roles that may not see them."""
    data = result["data"]
    seqs = _audit_seqs(subject)
    out = {}
    for r in result["criteria"]:
        used = []
        for form_oid, item_oid in r.sources:
            keys = ([k for k in sorted(data) if k[0] == "PT"] if item_oid == "*"
                    else [(form_oid, 1)])
            form = BUILD.forms.get(form_oid)
            for key in keys:
                values = data.get(key, {})
                items = sorted(values) if item_oid == "*" else [item_oid]
                dated = values.get(form.date_item) if form and form.date_item else None
                for item in items:
                    value = values.get(item)
                    value = deidentify.value(form_oid, item, value, allowed=pii_ok)
                    used.append({"form": form_oid, "row": key[1], "item": item,
                                 "value": value, "unit": _unit(form, item, values),
                                 "date": dated,
                                 "audit_seq": seqs.get((form_oid, str(key[1]), item))})
        out[r.id] = used
    return out


def _unit(form, item: str, values: dict) -> str | None:
    definition = next((i for i in form.items if i.name == item), None) if form else None
    if definition is None:
        return None
    if definition.unit_item:
        return values.get(definition.unit_item)
    return definition.unit


def checklist(result: dict) -> list:
    """Criteria in the order site staff act on them: missing, then not met, then the rest."""
    return sorted(result["criteria"], key=lambda r: ORDER.get(r.result, 2))


def as_json(result: dict, used: dict | None = None) -> dict:
    used = used or {}
    return {"status": result["status"], "rule_version": result["rule_version"],
            "reference_date": result["reference_date"],
            "alternatives": result["alternatives"],
            "clarifications": result["clarifications"],
            "criteria": [{"id": r.id, "text": result["texts"].get(r.id, ""),
                          "result": r.result,
                          "evidence": {**r.evidence, "sources": used.get(r.id, [])},
                          "missing": r.missing} for r in checklist(result)]}


def report(subject: Subject, *, pii_ok: bool) -> dict:
    """Everything the checklist page and the API show: the evaluation (today, or at the
    enrollment date once enrolled), the evidence of each criterion, and the checklist
    signatures with their status now."""
    enrolled_on = enrollment_date(subject)
    result = evaluate_subject(subject, enrolled_on)
    now = result if enrolled_on is None else evaluate_subject(subject, data=result["data"])
    content = signed_content(subject, now)
    met = {r.id for r in result["criteria"] if r.result == "met"}
    covered = {i for group in result["alternatives"] if met & set(group) for i in group}
    return {"result": result, "criteria": checklist(result), "failing": failing_json(result),
            "alternative_met": covered - met,
            "sources": sources(subject, result, pii_ok=pii_ok),
            "signatures": signatures.shown(subject, TARGET, content),
            "kept": kept(subject)}


def report_json(subject: Subject, rep: dict) -> dict:
    body = as_json(rep["result"], rep["sources"])
    valid = bool(rep["signatures"]) and rep["signatures"][0].valid
    body.update(subject_number=subject.subject_number, subject_status=subject.status,
                signed=valid, signatures=[s.as_json() for s in rep["signatures"]],
                evaluations=[{"id": k.id, "purpose": k.purpose, "status": k.status,
                              "reference_date": k.reference_date,
                              "rule_version": k.rule_version,
                              "evaluated_at_utc": utc_time(k.evaluated_at)}
                             for k in rep["kept"]],
                enrollable=subject.subject_number is None and valid
                and body["status"] == "eligible")
    return body


def keep(subject: Subject, result: dict, purpose: str, *, actor: Actor
         ) -> EligibilityEvaluation:
    """Store an evaluation with its evidence (audited as ``eligibility.evaluate``). The
    caller commits."""
    body = as_json(result, sources(subject, result, pii_ok=True))
    row = EligibilityEvaluation(
        subject_id=subject.id, site_id=subject.site_id, purpose=purpose,
        reference_date=result["reference_date"], status=result["status"],
        rule_version=result["rule_version"],
        evidence=json.dumps(body, sort_keys=True, ensure_ascii=False))
    db.session.add(row)
    db.session.flush()
    audit.record(db.session, "eligibility.evaluate", actor=actor, subject=subject,
                 target_type="eligibility_evaluation", target_id=str(row.id),
                 item_oid=purpose, new_value=result["status"],
                 details={"rule_version": result["rule_version"],
                          "reference_date": result["reference_date"],
                          "failing": [f["id"] for f in failing_json(result)]})
    return row


def kept(subject: Subject) -> list[EligibilityEvaluation]:
    return list(db.session.scalars(select(EligibilityEvaluation).where(
        EligibilityEvaluation.subject_id == subject.id)
        .order_by(EligibilityEvaluation.id.desc())))


def failing_json(result: dict) -> list[dict]:
    return [{"id": r.id, "text": result["texts"].get(r.id, ""), "result": r.result,
             "missing": r.missing}
            for r in failing(result["criteria"], result["alternatives"])]


def record_print(subject: Subject, rep: dict, *, actor: Actor) -> None:
    """Audit a printed checklist before it is handed out. The caller commits."""
    audit.record(db.session, "eligibility.export_pdf", actor=actor, subject=subject,
                 details={"status": rep["result"]["status"],
                          "signatures": [s.status for s in rep["signatures"]]})


# The signed checklist ---------------------------------------------------------------------

def signed_content(subject: Subject, result: dict | None = None) -> dict:
    """What the investigator signs: the evaluation and every screening value it came from."""
    result = result or evaluate_subject(subject)
    return {
        "record": "eligibility checklist",
        "subject": subject.screening_number,
        "rule_version": result["rule_version"],
        "status": result["status"],
        "criteria": [[r.id, r.result] for r in result["criteria"]],
        "data": [[form, repeat, item, value] for (form, repeat), values
                 in sorted(result["data"].items()) for item, value in sorted(values.items())],
    }


def sign_blockers(subject: Subject) -> list[str]:
    """Why the checklist cannot be signed now (the signature says the subject is eligible)."""
    result = evaluate_subject(subject)
    if result["status"] == "eligible":
        return []
    return [f"{f['id']} {f['result'].replace('_', ' ')}"
            + (f": {f['missing']}" if f["missing"] else "") for f in failing_json(result)]


signatures.register(signatures.Target(TARGET, MEANING, signed_content, sign_blockers))


# After enrollment -------------------------------------------------------------------------

def enrollment_date(subject: Subject) -> date | None:
    value = db.session.scalar(select(ItemData.value).where(
        *ItemData.of(subject.id, "ENROL", "EN"), ItemData.item_oid == "ENDAT",
        ItemData.removed.is_(False)))
    return date.fromisoformat(value) if value else None


def after_screening_change(subject: Subject, form_oid: str, *, actor: Actor
                           ) -> Deviation | None:
    """Run in the transaction of a change to screening form ``form_oid``: for an enrolled
    subject whom the change makes ineligible (at the enrollment date) record a protocol
    deviation. The subject stays enrolled. (A checklist signature whose content changed is
    invalidated by the one signature subscriber, edc/review/signoff.py.)"""
    if subject.subject_number is None:
        return None
    enrolled_on = enrollment_date(subject)
    result = evaluate_subject(subject, enrolled_on)
    if result["status"] == "eligible":
        return None
    failed = failing_json(result)
    ids = sorted(f["id"] for f in failed)
    deviation = deviations.record(
        subject, "eligibility",
        f"Enrolled subject no longer meets eligibility at the enrollment date "
        f"({enrolled_on}): {', '.join(ids)}",
        actor=actor, event_oid="SCREEN", form_oid=form_oid,
        details={"criteria_ids": ids, "criteria": failed,
                 "rule_version": result["rule_version"], "status": result["status"]})
    if deviation is not None:
        keep(subject, result, "eligibility_lost", actor=actor)
    return deviation


@form_saved.connect
def _screening_saved(subject: Subject, *, saved: FormSaved) -> None:
    if saved.event_oid == "SCREEN":
        after_screening_change(subject, saved.form_oid, actor=saved.actor)
