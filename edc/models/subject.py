from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from audit.guard import Audited
from edc.clock import utcnow
from edc.extensions import db
from edc.security import SiteScoped


class SubjectStatus(enum.StrEnum):
    SCREENING = "screening"
    SCREEN_FAILED = "screen_failed"
    ENROLLED = "enrolled"
    TREATED = "treated"
    FOLLOW_UP = "follow_up"
    LONG_TERM_FOLLOW_UP = "ltfu"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"

    @property
    def label(self) -> str:
        return self.value.replace("_", " ").replace("ltfu", "long-term follow-up").capitalize()


class Subject(Audited, SiteScoped, db.Model):
    """A screened person, known to the EDC only by numbers. Never deleted."""

    __tablename__ = "subject"
    __table_args__ = (
        UniqueConstraint("study_id", "screening_number"),
        UniqueConstraint("study_id", "subject_number"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"))
    screening_number: Mapped[str] = mapped_column(String(32))
    subject_number: Mapped[str | None] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=SubjectStatus.SCREENING.value)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"))

    site = relationship("Site", lazy="joined")

    @property
    def status_label(self) -> str:
        return SubjectStatus(self.status).label

    @property
    def label(self) -> str:
        return self.subject_number or self.screening_number

    def audit_target(self) -> tuple[str, str]:
        return ("subject", str(self.id))
