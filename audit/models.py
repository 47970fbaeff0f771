"""The audit trail table: append-only, one row per audited event, hash-chained.

Fields map to CDISC ODM ``AuditRecord``: UserRef (user_id/username), LocationRef (site_code),
DateTimeStamp (ts, UTC), ReasonForChange (reason), SourceID (source); plus old and new values.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import BigInteger, DateTime, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from edc.extensions import db
from edc.security import SiteTagged

SeqType = BigInteger().with_variant(Integer, "sqlite")


class AuditEntry(SiteTagged, db.Model):
    __tablename__ = "audit_entry"
    __table_args__ = (
        Index("ix_audit_entry_subject_seq", "subject_id", "seq"),
        Index("ix_audit_entry_user_seq", "user_id", "seq"),
        Index("ix_audit_entry_ts", "ts"),
    )

    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=False)
    ts: Mapped[datetime] = mapped_column(DateTime)
    action: Mapped[str] = mapped_column(String(48), index=True)
    # who (the role held at that moment is copied, not looked up later)
    user_id: Mapped[int | None] = mapped_column(Integer)
    username: Mapped[str | None] = mapped_column(String(64))
    role: Mapped[str | None] = mapped_column(String(16))
    # where
    site_code: Mapped[str | None] = mapped_column(String(8))
    # what
    subject_id: Mapped[int | None] = mapped_column(Integer)
    subject_key: Mapped[str | None] = mapped_column(String(32))
    event_oid: Mapped[str | None] = mapped_column(String(64))
    form_oid: Mapped[str | None] = mapped_column(String(64))
    item_oid: Mapped[str | None] = mapped_column(String(128))
    event_repeat: Mapped[int | None] = mapped_column(Integer)
    repeat_key: Mapped[str | None] = mapped_column(String(16))
    target_type: Mapped[str | None] = mapped_column(String(32))
    target_id: Mapped[str | None] = mapped_column(String(64))
    old_value: Mapped[str | None] = mapped_column(Text)
    new_value: Mapped[str | None] = mapped_column(Text)
    reason: Mapped[str | None] = mapped_column(Text)
    details: Mapped[str | None] = mapped_column(Text)
    # how
    source: Mapped[str] = mapped_column(String(16))
    request_id: Mapped[str | None] = mapped_column(String(36))
    ip: Mapped[str | None] = mapped_column(String(45))
    # chain
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))

    #: the columns covered by the hash, in a fixed order
    CHAINED = (
        "seq", "ts", "action", "user_id", "username", "role", "site_id", "site_code",
        "subject_id", "subject_key", "event_oid", "event_repeat", "form_oid", "item_oid",
        "repeat_key",
        "target_type", "target_id", "old_value", "new_value", "reason", "details",
        "source", "request_id", "ip",
    )
