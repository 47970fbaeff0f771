from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, DateTime, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from audit.guard import Audited
from edc.clock import utcnow
from edc.extensions import db


class Study(Audited, db.Model):
    __tablename__ = "study"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    oid: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    protocol: Mapped[str | None] = mapped_column(Text)
    # True only for the synthetic study that `edc demo` loads.
    is_demo: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    sites: Mapped[list[Site]] = relationship(back_populates="study", order_by="Site.code")

    def audit_target(self) -> tuple[str, str]:
        return ("study", str(self.id))



class Site(Audited, db.Model):
    __tablename__ = "site"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"))
    code: Mapped[str] = mapped_column(String(8), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    timezone: Mapped[str] = mapped_column(String(64))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    language: Mapped[str | None] = mapped_column(String(5))  # its users' default: "en"/"zh"

    study: Mapped[Study] = relationship(back_populates="sites")

    def __repr__(self) -> str:
        return f"<Site {self.code}>"

    def audit_target(self) -> tuple[str, str]:
        return ("site", str(self.id))
