"""Versioned study settings, electronic signatures and protocol deviations."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from audit.guard import Audited
from edc.clock import utcnow
from edc.extensions import db
from edc.security import SiteScoped


class EligibilitySettings(Audited, db.Model):
    """One version of the study settings the eligibility rules read (windows, washout
    half-lives, clarifications). Never changed: a change is a new row with a higher version."""

    __tablename__ = "eligibility_settings"
    __table_args__ = (UniqueConstraint("study_id", "version"), {"sqlite_autoincrement": True})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"))
    version: Mapped[int] = mapped_column(Integer)
    settings: Mapped[str] = mapped_column(Text)  # canonical JSON
    reason: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))

    created_by = relationship("User", lazy="joined")

    def audit_target(self) -> tuple[str, str]:
        return ("eligibility_settings", str(self.id))


class Signature(Audited, SiteScoped, db.Model):
    """An investigator's electronic signature of a subject's record (eligibility checklist,
    later forms and casebooks). Stores what the signer saw: printed name, meaning, time, and
    the SHA-256 of the signed content. Never deleted; a later change of the content marks it
    invalidated (and the record needs signing again)."""

    __tablename__ = "signature"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    target: Mapped[str] = mapped_column(String(128))  # "eligibility", …
    meaning: Mapped[str] = mapped_column(Text)
    signer_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))
    signer_name: Mapped[str] = mapped_column(String(200))
    signer_username: Mapped[str] = mapped_column(String(64))
    signer_role: Mapped[str] = mapped_column(String(16))
    signed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    timezone: Mapped[str] = mapped_column(String(64))
    content_hash: Mapped[str] = mapped_column(String(64))
    content: Mapped[str] = mapped_column(Text)  # canonical JSON of what was signed
    invalidated_at: Mapped[datetime | None] = mapped_column(DateTime)
    invalidated_reason: Mapped[str | None] = mapped_column(Text)

    def audit_target(self) -> tuple[str, str]:
        return ("signature", str(self.id))


class Deviation(Audited, SiteScoped, db.Model):
    """A protocol deviation the system detected (eligibility lost after enrollment, a visit
    out of its window). Shown to investigators and data managers; never deleted."""

    __tablename__ = "deviation"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))  # eligibility | visit_window
    description: Mapped[str] = mapped_column(Text)
    details: Mapped[str | None] = mapped_column(Text)  # JSON
    event_oid: Mapped[str | None] = mapped_column(String(64))
    form_oid: Mapped[str | None] = mapped_column(String(64))
    detected_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    subject = relationship("Subject", lazy="joined")

    def audit_target(self) -> tuple[str, str]:
        return ("deviation", str(self.id))


class EligibilityEvaluation(Audited, SiteScoped, db.Model):
    """An evaluation kept as evidence (eligibility.md: "each evaluation stores its evidence"):
    at enrollment, at a refused enrollment, and when a change after enrollment breaks
    eligibility. Holds every criterion with the values it read (form, item, date, audit
    sequence) and the rule version. Never changed."""

    __tablename__ = "eligibility_evaluation"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(32))  # enrollment | enrollment_refused | …
    reference_date: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(16))
    rule_version: Mapped[str] = mapped_column(String(200))
    evidence: Mapped[str] = mapped_column(Text)  # JSON: the checklist as the API gives it
    evaluated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    def audit_target(self) -> tuple[str, str]:
        return ("eligibility_evaluation", str(self.id))
