from __future__ import annotations

from datetime import datetime

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, joinedload, mapped_column, relationship

from audit.guard import Audited
from edc.clock import utcnow
from edc.extensions import db
from edc.security import ALL_SITES, Role


class User(Audited, db.Model):
    """A named person. Never deleted (deactivated instead); ids are never reused."""

    __tablename__ = "user_account"
    __table_args__ = {"sqlite_autoincrement": True}

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    failed_login_count: Mapped[int] = mapped_column(Integer, default=0)
    locked: Mapped[bool] = mapped_column(Boolean, default=False)
    locked_at: Mapped[datetime | None] = mapped_column(DateTime)
    password_changed_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    must_change_password: Mapped[bool] = mapped_column(Boolean, default=False)
    last_login_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    deactivated_at: Mapped[datetime | None] = mapped_column(DateTime)
    # the second factor (TOTP, RFC 6238): never in an audit entry, a page after enrolment, a
    # log or an export; ``totp_last_step`` refuses a sign-in code used before
    totp_secret: Mapped[str | None] = mapped_column(String(64))
    language: Mapped[str | None] = mapped_column(String(5))  # "en" / "zh"; None: the site's
    totp_enrolled_at: Mapped[datetime | None] = mapped_column(DateTime)
    totp_last_step: Mapped[int] = mapped_column(Integer, default=0)
    totp_pending_secret: Mapped[str | None] = mapped_column(String(64))
    # a reset of the second factor needs two administrators: the first one's request
    totp_reset_requested_by_id: Mapped[int | None] = mapped_column(
        ForeignKey("user_account.id"))
    totp_reset_requested_at: Mapped[datetime | None] = mapped_column(DateTime)

    # a secret shown during enrolment and the step of the last sign-in code are operational
    UNAUDITED = frozenset({"totp_pending_secret", "totp_last_step"})

    grants: Mapped[list[RoleGrant]] = relationship(
        back_populates="user", lazy="selectin", order_by="RoleGrant.id"
    )
    password_history: Mapped[list[PasswordHistory]] = relationship(
        back_populates="user", order_by="PasswordHistory.id.desc()"
    )

    # Flask-Login protocol -------------------------------------------------------------------
    @property
    def is_authenticated(self) -> bool:
        return True

    @property
    def is_active(self) -> bool:
        return self.active and not self.locked

    @property
    def is_anonymous(self) -> bool:
        return False

    def get_id(self) -> str:
        return str(self.id)

    # Role and sites -------------------------------------------------------------------------
    @property
    def role(self) -> Role | None:
        """The user's one role in the study (all grants share it)."""
        return Role(self.grants[0].role) if self.grants else None

    @property
    def site_scope(self):
        """``ALL_SITES`` for data managers, sponsors and admins, else the granted site ids."""
        role = self.role
        if role is None:
            return frozenset()
        if role.all_sites:
            return ALL_SITES
        return frozenset(g.site_id for g in self.grants if g.site_id is not None)

    @property
    def sites(self):
        return [g.site for g in self.grants if g.site is not None]

    def __repr__(self) -> str:
        return f"<User {self.username}>"

    def audit_target(self) -> tuple[str, str]:
        return ("user", str(self.id))



class PasswordHistory(Audited, db.Model):
    """Every hash a user has had, newest first; the policy refuses the last N."""

    __tablename__ = "password_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="password_history")

    def audit_target(self) -> tuple[str, str]:
        return ("user", str(self.user_id))



class RoleGrant(Audited, db.Model):
    """A user's role at a site. ``site_id`` is NULL for the all-site roles (DM, sponsor, admin)."""

    __tablename__ = "role_grant"
    __table_args__ = (UniqueConstraint("user_id", "study_id", "site_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    study_id: Mapped[int] = mapped_column(ForeignKey("study.id"))
    role: Mapped[str] = mapped_column(String(16))
    site_id: Mapped[int | None] = mapped_column(ForeignKey("site.id"))
    granted_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)

    user: Mapped[User] = relationship(back_populates="grants")
    site = relationship("Site", lazy="selectin")

    def audit_target(self) -> tuple[str, str]:
        return ("user", str(self.user_id))



class AuthSession(db.Model):
    """A server-side login session: idle and absolute limits, and revocation, are decided here."""

    __tablename__ = "auth_session"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(DateTime)
    end_reason: Mapped[str | None] = mapped_column(String(32))
    ip: Mapped[str | None] = mapped_column(String(45))

    user: Mapped[User] = relationship()


class ApiToken(Audited, db.Model):
    """A bearer token for the JSON API. Only its SHA-256 is stored; revocable, expires, never
    reused. ``last_used_at`` is operational (shown in the token list), not a change of the
    record: it is written without an audit entry, at most once a minute."""

    __tablename__ = "api_token"
    UNAUDITED = frozenset({"last_used_at"})

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("user_account.id"), index=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    label: Mapped[str] = mapped_column(String(100), default="")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=utcnow)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_used_at: Mapped[datetime | None] = mapped_column(DateTime)

    user: Mapped[User] = relationship()

    def audit_target(self) -> tuple[str, str]:
        return ("user", str(self.user_id))


def with_access(holder):
    """Load the user behind ``holder`` (a token's or a session's ``user``) with its grants and
    their sites in the same statement: every request asks who is asking, so one round trip
    instead of four. Read the result with ``.unique()`` (a joined collection)."""
    return joinedload(holder).joinedload(User.grants).joinedload(RoleGrant.site)
