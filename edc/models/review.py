"""Monitoring and data management: queries and their threads, source data verification marks,
locks and freezes, and background jobs."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from audit.guard import Audited
from edc.clock import utcnow
from edc.extensions import db
from edc.models.clinical import FormInstance
from edc.security import SiteScoped
from forms.text import Message


class QueryState:
    OPEN = "open"
    ANSWERED = "answered"
    CLOSED = "closed"
    ALL = (OPEN, ANSWERED, CLOSED)


class Query(FormInstance, SiteScoped, Audited, db.Model):
    """A discrepancy note on an item (or, without ``item_oid``, on a form instance as a whole)
    with its thread. ``origin`` is ``manual`` (a monitor or data manager raised it) or
    ``system`` (a soft edit check fired on a saved value: one query per item, re-used when the
    check fires again)."""

    __tablename__ = "query"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_oid: Mapped[str | None] = mapped_column(String(128))
    origin: Mapped[str] = mapped_column(String(8))  # manual | system
    state: Mapped[str] = mapped_column(String(12), default=QueryState.OPEN, index=True)
    opened_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    opened_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    # a system query closed by a person stays closed while the item keeps this value
    closed_value: Mapped[str | None] = mapped_column(Text)

    subject = relationship("Subject", lazy="joined")
    # loaded when read (lists load the threads with selectinload): a save that re-checks
    # its system queries never reads their threads
    messages = relationship("QueryMessage", order_by="QueryMessage.id",
                            back_populates="query")

    def audit_target(self) -> tuple[str, str]:
        return ("query", str(self.id))

    @property
    def ball(self) -> str:
        """Who acts next: the site answers an open query, the monitor reviews an answer."""
        return {QueryState.OPEN: "site", QueryState.ANSWERED: "monitor"}.get(self.state, "—")


class QueryMessage(SiteScoped, Audited, db.Model):
    """One message of a query's thread: opening, answer, closing, re-opening, or the system's
    note (auto-close, auto-reopen). Never changed."""

    __tablename__ = "query_message"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    query_id: Mapped[int] = mapped_column(ForeignKey("query.id"), index=True)
    kind: Mapped[str] = mapped_column(String(16))  # open|answer|close|reopen|correction
    text: Mapped[str] = mapped_column(Text)
    # a text the system wrote (an edit check's flag, an automatic closing note): its message
    # template and parameters (forms.text.to_json), so the thread is shown in the reader's
    # language; ``text`` is the record, in English
    message: Mapped[str | None] = mapped_column(Text)
    author_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    author_name: Mapped[str] = mapped_column(String(200))
    author_role: Mapped[str | None] = mapped_column(String(16))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    form_version: Mapped[int | None] = mapped_column(Integer)  # a correction's saved version

    query = relationship("Query", back_populates="messages")

    def audit_target(self) -> tuple[str, str]:
        # a message is part of its query's record: the query's audit entry covers it
        return ("query", str(self.query_id))


class SdvMark(FormInstance, SiteScoped, Audited, db.Model):
    """Source data verification of one item: verified (with the value the monitor compared) or
    changed since verified (the value changed afterwards; it needs verifying again)."""

    __tablename__ = "sdv_mark"
    __table_args__ = (
        UniqueConstraint("subject_id", "event_oid", "event_repeat", "form_oid", "form_repeat",
                         "item_oid", name="uq_sdv_mark_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    item_oid: Mapped[str] = mapped_column(String(128))
    state: Mapped[str] = mapped_column(String(12))  # verified | changed
    verified_value: Mapped[str | None] = mapped_column(Text)
    verified_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    verified_by_name: Mapped[str] = mapped_column(String(200))
    verified_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    changed_at: Mapped[datetime | None] = mapped_column(DateTime)

    def audit_target(self) -> tuple[str, str]:
        return ("sdv_mark", str(self.id))


class Lock(Audited, db.Model):
    """A data manager's lock or freeze of a form instance, a subject, or the whole study.
    Active while ``released_at`` is empty; released with a reason; never deleted.

    A lock refuses every change (data, queries, SDV, signatures); a freeze refuses data
    changes but lets queries and SDV go on."""

    __tablename__ = "data_lock"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    level: Mapped[str] = mapped_column(String(8))  # study | subject | form
    kind: Mapped[str] = mapped_column(String(8))  # lock | freeze
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"), index=True)
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("subject.id"), index=True)
    event_oid: Mapped[str | None] = mapped_column(String(64))
    event_repeat: Mapped[int | None] = mapped_column(Integer)
    form_oid: Mapped[str | None] = mapped_column(String(64))
    form_repeat: Mapped[int | None] = mapped_column(Integer)
    reason: Mapped[str | None] = mapped_column(Text)
    locked_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    locked_by_name: Mapped[str] = mapped_column(String(200))
    locked_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    active: Mapped[bool] = mapped_column(Boolean, default=True, index=True)
    released_at: Mapped[datetime | None] = mapped_column(DateTime)
    released_by_name: Mapped[str | None] = mapped_column(String(200))
    release_reason: Mapped[str | None] = mapped_column(Text)

    def audit_target(self) -> tuple[str, str]:
        return ("data_lock", str(self.id))

    @property
    def scope_label(self) -> str:
        if self.level == "study":
            return Message("the whole study")
        if self.level == "subject":
            return Message("this subject")
        return Message("form %(form)s", form=self.event_oid + "/" + self.form_oid)


class Job(db.Model):
    """A long output produced in the background (a site's casebook archive, a study-wide
    audit PDF): who asked, for which sites, its progress and its result file. Its creation,
    completion and each download are audit entries; the row itself is operational."""

    __tablename__ = "job"
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    params: Mapped[str] = mapped_column(Text)  # JSON
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"), index=True)
    requested_by_id: Mapped[int | None] = mapped_column(ForeignKey("user_account.id"))
    requested_by_name: Mapped[str] = mapped_column(String(200))
    requested_role: Mapped[str | None] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(12), default="queued")  # queued|running|done|failed
    done: Mapped[int] = mapped_column(Integer, default=0)
    total: Mapped[int] = mapped_column(Integer, default=0)
    message: Mapped[str | None] = mapped_column(Text)
    result_path: Mapped[str | None] = mapped_column(Text)
    result_name: Mapped[str | None] = mapped_column(String(200))
    result_sha256: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    started_at: Mapped[datetime | None] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    # the lease of a running job: which worker runs it (host:pid), its attempt number, and
    # when the worker last said it was alive; a lease that expires puts the job back in the
    # queue (edc/jobs/services.recover_stale)
    worker: Mapped[str | None] = mapped_column(String(120))
    attempts: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    heartbeat_at: Mapped[datetime | None] = mapped_column(DateTime)

    @property
    def percent(self) -> int:
        return int(100 * self.done / self.total) if self.total else (100 if self.state == "done"
                                                                      else 0)
