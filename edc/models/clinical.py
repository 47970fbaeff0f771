from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from audit.guard import Audited
from edc.clock import utcnow
from edc.extensions import db
from edc.security import SiteScoped


class FormInstance:
    """The key of one form instance: subject, event (and its repeat), form (and its row)."""

    subject_id: Mapped[int] = mapped_column(ForeignKey("subject.id"), index=True)
    event_oid: Mapped[str] = mapped_column(String(64))
    event_repeat: Mapped[int] = mapped_column(Integer, default=1)
    form_oid: Mapped[str] = mapped_column(String(64))
    form_repeat: Mapped[int] = mapped_column(Integer, default=1)

    @classmethod
    def of(cls, subject_id: int, event_oid: str, form_oid: str, event_repeat: int = 1,
           form_repeat: int = 1) -> tuple:
        """WHERE criteria selecting one form instance."""
        return (cls.subject_id == subject_id, cls.event_oid == event_oid,
                cls.event_repeat == event_repeat, cls.form_oid == form_oid,
                cls.form_repeat == form_repeat)


class ItemData(FormInstance, SiteScoped, Audited, db.Model):
    """One item value of one subject's form: the unit of entry, audit and replay.

    Removal keeps the row (``removed``) and its history in the trail; nothing is deleted.
    """

    __tablename__ = "item_data"
    __table_args__ = (
        UniqueConstraint("subject_id", "event_oid", "event_repeat", "form_oid", "form_repeat",
                         "item_oid", name="uq_item_data_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_oid: Mapped[str] = mapped_column(String(128))
    value: Mapped[str | None] = mapped_column(Text)
    removed: Mapped[bool] = mapped_column(Boolean, default=False)
    # for derived items: the rule (and its version) that computed the value
    rule_version: Mapped[str | None] = mapped_column(String(64))
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    def audit_target(self) -> tuple[str, str]:
        return ("item_data", str(self.id))


class FormData(FormInstance, SiteScoped, Audited, db.Model):
    """One form instance of a subject: its version (optimistic concurrency), status, the
    metadata version it was entered under. Locks live in ``data_lock`` (edc/crf/policy.py)."""

    __tablename__ = "form_data"
    __table_args__ = (
        UniqueConstraint("subject_id", "event_oid", "event_repeat", "form_oid", "form_repeat",
                         name="uq_form_data_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    metadata_version: Mapped[str] = mapped_column(String(16))
    version: Mapped[int] = mapped_column(Integer, default=0)
    status: Mapped[str] = mapped_column(String(16), default="incomplete")
    first_saved_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow, onupdate=utcnow)

    def audit_target(self) -> tuple[str, str]:
        return ("form_data", str(self.id))
