"""Roles, permissions and site scoping: the one place where access is decided.

Two levels (spec/roles.md):
- ``require(Perm.X)`` on a route: the coarse decision, from the role alone;
- ``can(user, Perm.X, obj)``: the object decision (site, state of the object).

Site scoping is applied to every ORM query of a :class:`SiteScoped` model by a session hook,
so a handler that forgets ``can`` still cannot load another site's clinical row.
"""

from __future__ import annotations

import contextvars
import enum
from contextlib import contextmanager
from functools import wraps

from flask import abort, g, has_request_context, redirect, request, url_for
from flask_login import current_user
from sqlalchemy import ForeignKey, Integer, event
from sqlalchemy.orm import Mapped, Session, mapped_column, with_loader_criteria

from forms.text import N_


class Role(enum.StrEnum):
    CRC = "crc"
    PI = "pi"
    CRA = "cra"
    DM = "dm"
    SPONSOR = "sponsor"
    ADMIN = "admin"

    @property
    def label(self) -> str:
        return ROLE_LABELS[self]

    @property
    def all_sites(self) -> bool:
        return self in ALL_SITE_ROLES

    @classmethod
    def parse(cls, text: str) -> Role:
        key = text.strip().lower().replace("-", "_").replace(" ", "_")
        key = ROLE_ALIASES.get(key, key)
        try:
            return cls(key)
        except ValueError:
            names = ", ".join(r.value for r in cls)
            raise ValueError(f"unknown role {text!r}; use one of {names}") from None


ROLE_LABELS = {  # in English wherever they are recorded; pages translate them
    Role.CRC: N_("Coordinator (CRC)"),
    Role.PI: N_("Investigator (PI/Sub-I)"),
    Role.CRA: N_("Monitor (CRA)"),
    Role.DM: N_("Data manager"),
    Role.SPONSOR: N_("Sponsor"),
    Role.ADMIN: N_("Administrator"),
}
ROLE_ALIASES = {
    "coordinator": "crc",
    "investigator": "pi",
    "sub_i": "pi",
    "monitor": "cra",
    "data_manager": "dm",
    "datamanager": "dm",
}
ALL_SITE_ROLES = frozenset({Role.DM, Role.SPONSOR, Role.ADMIN})


class Perm(enum.StrEnum):
    VIEW_SUBJECTS = "view_subjects"
    VIEW_PII = "view_pii"
    CREATE_SUBJECT = "create_subject"
    ENTER_DATA = "enter_data"
    VIEW_QUERIES = "view_queries"
    ANSWER_QUERY = "answer_query"
    MANAGE_QUERY = "manage_query"
    SDV = "sdv"
    REVIEW = "review"  # monitoring work lists: SDV worklist, plan, lock readiness
    SIGN = "sign"
    ENROLL = "enroll"
    LOCK = "lock"
    MANAGE_SETTINGS = "manage_settings"
    VIEW_AUDIT = "view_audit"
    VIEW_ACCESS_LOG = "view_access_log"
    EXPORT = "export"
    MANAGE_USERS = "manage_users"


# The role matrix of spec/roles.md. Admin manages accounts and reads the audit trail; it has
# no access to clinical pages (it may not enter, change or sign clinical data).
PERMISSIONS: dict[Role, frozenset[Perm]] = {
    Role.CRC: frozenset({
        Perm.VIEW_SUBJECTS, Perm.VIEW_PII, Perm.CREATE_SUBJECT, Perm.ENTER_DATA,
        Perm.VIEW_QUERIES, Perm.ANSWER_QUERY, Perm.ENROLL, Perm.VIEW_AUDIT,
    }),
    Role.PI: frozenset({
        Perm.VIEW_SUBJECTS, Perm.VIEW_PII, Perm.CREATE_SUBJECT, Perm.ENTER_DATA,
        Perm.VIEW_QUERIES, Perm.ANSWER_QUERY, Perm.SIGN, Perm.ENROLL, Perm.VIEW_AUDIT,
    }),
    Role.CRA: frozenset({
        Perm.VIEW_SUBJECTS, Perm.VIEW_PII, Perm.VIEW_QUERIES, Perm.MANAGE_QUERY, Perm.SDV,
        Perm.REVIEW, Perm.VIEW_AUDIT,
    }),
    Role.DM: frozenset({
        Perm.VIEW_SUBJECTS, Perm.VIEW_QUERIES, Perm.MANAGE_QUERY, Perm.REVIEW, Perm.LOCK,
        Perm.VIEW_AUDIT, Perm.EXPORT,
        Perm.VIEW_ACCESS_LOG,
        Perm.MANAGE_SETTINGS,
    }),
    Role.SPONSOR: frozenset({Perm.VIEW_SUBJECTS, Perm.VIEW_AUDIT, Perm.EXPORT}),
    Role.ADMIN: frozenset({Perm.VIEW_AUDIT, Perm.VIEW_ACCESS_LOG, Perm.MANAGE_USERS}),
}


def has_perm(user, perm: Perm) -> bool:
    role = getattr(user, "role", None)
    return role is not None and perm in PERMISSIONS[role]


def can(user, perm: Perm, obj=None) -> bool:
    """The object-level decision: role permission plus the object's site."""
    if not has_perm(user, perm):
        return False
    site_id = getattr(obj, "site_id", None)
    if site_id is not None:
        scope = user.site_scope
        if scope is not ALL_SITES and site_id not in scope:
            return False
    return True


# ---------------------------------------------------------------------------------------------
# Route decorators. Every view carries an access decision (tests/test_access_matrix.py fails
# on a route without one).

def public(view):
    """Reachable without login (login page, health check)."""
    view.access = "public"
    return view


def login_only(view):
    """Any signed-in user, whatever the role (own password, dashboard, logout)."""
    @wraps(view)
    def wrapper(*args, **kwargs):
        if not current_user.is_authenticated:
            return _unauthenticated()
        return view(*args, **kwargs)

    wrapper.access = "login"
    return wrapper


def require(*perms: Perm):
    """Signed in and holding every one of ``perms``; else 403."""
    def decorator(view):
        @wraps(view)
        def wrapper(*args, **kwargs):
            if not current_user.is_authenticated:
                return _unauthenticated()
            if not all(has_perm(current_user, p) for p in perms):
                abort(403)
            return view(*args, **kwargs)

        wrapper.access = frozenset(perms)
        return wrapper

    return decorator


def _unauthenticated():
    if request.blueprint == "api" or request.accept_mimetypes.best == "application/json":
        abort(401)
    return redirect(url_for("auth.login", next=request.full_path.rstrip("?")))


# ---------------------------------------------------------------------------------------------
# Site scoping in the data layer.

class _AllSites:
    def __repr__(self) -> str:
        return "ALL_SITES"

    def __contains__(self, _item) -> bool:
        return True


ALL_SITES = _AllSites()
NO_SITES: frozenset[int] = frozenset()

# Outside a request (CLI, background work, tests calling services) the scope is set explicitly
# with ``site_scope(...)``; the default there is all sites. Inside a request it is g.site_scope,
# which starts empty (deny) and is set from the signed-in user before the view runs.
_system_scope: contextvars.ContextVar = contextvars.ContextVar("edc_site_scope", default=ALL_SITES)


class SiteScoped:
    """Mixin for clinical tables: every row carries ``site_id``; queries see only the scope."""

    site_id: Mapped[int] = mapped_column(ForeignKey("site.id"), index=True)


class SiteTagged:
    """Mixin for rows that may name a site (audit entries): in a scope, only that scope's rows;
    rows without a site (sign-ins, account changes) only for all-site roles."""

    site_id: Mapped[int | None] = mapped_column(Integer, index=True)


def current_site_scope():
    if has_request_context():
        return g.get("site_scope", NO_SITES)
    return _system_scope.get()


@contextmanager
def site_scope(scope):
    """Run a block with an explicit scope: ``ALL_SITES`` or a set of site ids."""
    value = scope if scope is ALL_SITES else frozenset(scope)
    if has_request_context():
        previous = g.get("site_scope", NO_SITES)
        g.site_scope = value
        try:
            yield
        finally:
            g.site_scope = previous
    else:
        token = _system_scope.set(value)
        try:
            yield
        finally:
            _system_scope.reset(token)



@event.listens_for(Session, "do_orm_execute")
def _apply_site_scope(state) -> None:
    if not (state.is_select or state.is_update or state.is_delete):
        return
    if state.execution_options.get("all_sites"):
        return
    scope = current_site_scope()
    if scope is ALL_SITES:
        return
    ids = tuple(sorted(scope))
    state.statement = state.statement.options(
        with_loader_criteria(SiteScoped, lambda cls: cls.site_id.in_(ids), include_aliases=True),
        with_loader_criteria(SiteTagged, lambda cls: cls.site_id.in_(ids), include_aliases=True),
    )
