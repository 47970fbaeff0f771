"""The access log: every view of identifying data and every refused request (403), with
who, when, what and from where. Append-only (database triggers); data managers and
administrators read and filter it at /access-log.

Identifying values are shown only through ``edc.deidentify``, which notes here each one it
lets through; after the response the request writes one row naming them. Writing happens
after the request's own work has committed or been abandoned, in a short transaction of its
own.
"""

from __future__ import annotations

from flask import Flask, g, has_request_context, request
from flask_login import current_user
from sqlalchemy import select

from edc.extensions import db
from edc.models import AccessLog
from edc.uow import unit_of_work

IDENTIFYING = "identifying_data"
REFUSED = "refused"


def note_identifying(form_oid: str, item_oid: str) -> None:
    """An identifying value is being shown to the current request's user."""
    if has_request_context():
        g.setdefault("identifying_shown", set()).add(f"{form_oid}.{item_oid}")


def _write(kind: str, status: int, items: str | None) -> None:
    user = current_user if current_user and current_user.is_authenticated else None
    db.session.rollback()  # the request's work is done: committed, or not to be kept
    with unit_of_work():
        db.session.add(_row(kind, status, items, user))


def _row(kind: str, status: int, items: str | None, user) -> AccessLog:
    return AccessLog(
        kind=kind, user_id=user.id if user else None,
        username=user.username if user else None,
        role=user.role.value if user and user.role else None,
        source="api" if request.path.startswith("/api/") else "web",
        method=request.method[:8], path=request.full_path.rstrip("?")[:512], status=status,
        items=items, request_id=g.get("request_id"),
        ip=(request.remote_addr or "")[:45] or None)


def register(app: Flask) -> None:
    @app.after_request
    def _access_log(response):
        shown = g.pop("identifying_shown", None)
        if response.status_code == 403:
            _write(REFUSED, 403, None)
        elif shown and response.status_code < 400:
            _write(IDENTIFYING, response.status_code, ", ".join(sorted(shown))[:4000])
        return response


def search(*, user: str | None = None, kind: str | None = None, since=None, until=None,
           page: int = 1, per_page: int = 100) -> list[AccessLog]:
    stmt = select(AccessLog).order_by(AccessLog.id.desc())
    if user:
        stmt = stmt.where(AccessLog.username == user.strip().lower())
    if kind:
        stmt = stmt.where(AccessLog.kind == kind)
    if since:
        stmt = stmt.where(AccessLog.ts >= since)
    if until:
        stmt = stmt.where(AccessLog.ts < until)
    return list(db.session.scalars(stmt.offset((page - 1) * per_page).limit(per_page)))
