"""The enrollment gate: the one path (page and API) by which a subject is enrolled.

Inside one transaction, holding the site's row lock (PostgreSQL ``FOR UPDATE``; SQLite
transactions are ``BEGIN IMMEDIATE``, so writers queue anyway): re-read the subject, evaluate
eligibility at this moment, check the investigator's checklist signature against the content
evaluated now, take the site's next subject number, and write the enrollment form.
"""

from __future__ import annotations

from sqlalchemy import func, select

import audit
from audit import Actor
from edc import signatures
from edc.crf.services import save_form
from edc.eligibility import services
from edc.extensions import db
from edc.models import Site, Subject, SubjectStatus, User
from edc.security import Perm, can
from edc.subjects.services import update_subject
from edc.uow import refuse_later
from forms.text import N_


class EnrollmentRefused(Exception):
    status = 409

    def __init__(self, message: str, criteria: list[dict] | None = None,
                 signature: str | None = None):
        super().__init__(message)
        self.message = message
        self.criteria = criteria or []
        self.signature = signature

    def as_json(self) -> dict:
        return {"error": self.message, "failing_criteria": self.criteria,
                "signature": self.signature}


class NotPermitted(EnrollmentRefused):
    status = 403


def next_subject_number(site: Site) -> str:
    """``<site code>-<3-digit sequence>``: numbers are never cleared, so the count of numbered
    subjects at the site is the last sequence taken. Call with the site row locked."""
    taken = db.session.scalar(
        select(func.count()).select_from(Subject)
        .where(Subject.site_id == site.id, Subject.subject_number.is_not(None))
        .execution_options(all_sites=True))
    return f"{site.code}-{taken + 1:03d}"


def enroll(subject: Subject, *, user: User, actor: Actor) -> str:
    """Enroll ``subject`` and return its number, or raise EnrollmentRefused: then the unit
    of work keeps only the refusal (its audit entry and the evaluation as evidence). Does not
    commit: the boundary does."""
    if not can(user, Perm.ENROLL, subject):
        raise NotPermitted(N_("Your role may not enroll subjects."))
    site = db.session.scalar(select(Site).where(Site.id == subject.site_id).with_for_update())
    db.session.refresh(subject)
    if subject.subject_number is not None or subject.status != SubjectStatus.SCREENING:
        number = subject.subject_number
        raise EnrollmentRefused(f"The subject is not in screening (status {subject.status}"
                                + (f", enrolled as {number})" if number else ")"))
    reference = services.site_today(subject)
    result = services.evaluate_subject(subject, reference)
    content = services.signed_content(subject, result)
    signed = signatures.valid_signature(subject, services.TARGET, content)
    problem = None
    if result["status"] != "eligible":
        problem = f"The subject is {result['status'].replace('_', ' ')} on {reference}."
    elif signed is None:
        problem = ("The investigator has not signed the eligibility checklist, or the "
                   "signature was invalidated by a later change.")
    if problem:
        failing = services.failing_json(result)

        def record_refusal():
            kept = services.keep(subject, result, "enrollment_refused", actor=actor)
            audit.record(db.session, "subject.enroll_refused", actor=actor, subject=subject,
                         reason=problem, details={"failing": [f["id"] for f in failing],
                                                  "rule_version": result["rule_version"],
                                                  "evaluation_id": kept.id})

        refuse_later(record_refusal)
        raise EnrollmentRefused(problem, failing,
                                None if signed else "missing or invalidated")

    number = next_subject_number(site)
    update_subject(subject, "subject_number", number, actor=actor, reason="enrollment")
    update_subject(subject, "status", SubjectStatus.ENROLLED.value, actor=actor,
                   reason="enrollment")
    cohort = result["data"].get(("DX", 1), {}).get("COHORT")
    save_form(subject, "ENROL", "EN",
              {"ENDAT": reference.isoformat(), "COHORTC": cohort}, assigned={"SUBJNO": number},
              version=None, actor=actor, today=reference)
    kept = services.keep(subject, result, "enrollment", actor=actor)
    audit.record(db.session, "subject.enroll", actor=actor, subject=subject,
                 target_type="subject", target_id=str(subject.id), new_value=number,
                 details={"reference_date": result["reference_date"], "evaluation_id": kept.id,
                          "rule_version": result["rule_version"],
                          "signature_id": signed.row.id,
                          "signed_content_sha256": signed.row.content_hash})
    return number
