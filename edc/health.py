"""Whether the database can take a change: for `/healthz`, and to answer a write the storage
refused (disk full, read-only, unreachable) with a 503 instead of a crash."""

from __future__ import annotations

import os
import shutil

from flask import current_app
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

# what SQLite says when the storage, not the request, is the problem
_SQLITE = {
    "database or disk is full": "the disk is full",
    "readonly database": "the database is read-only",
    "disk i/o error": "the disk reports an input/output error",
    "unable to open database": "the database file cannot be opened",
    "database is locked": "the database stayed locked by another writer",
}
# PostgreSQL SQLSTATEs: connection (08), resources (53), read-only transaction, shutdown (57P)
_PG_CLASSES = {"08": "the database is unreachable", "53": "the database server is out of "
               "disk space or memory", "57": "the database server is shutting down or "
               "restarting"}
_PG_CODES = {"25006": "the database is read-only"}


def unavailable(exc: BaseException) -> str | None:
    """Why the storage refused, in words, if ``exc`` says so; None for other errors."""
    if not isinstance(exc, DBAPIError):
        return None
    if exc.connection_invalidated:
        return "the connection to the database was lost"
    orig = exc.orig
    code = getattr(getattr(orig, "diag", None), "sqlstate", None) or getattr(
        orig, "sqlstate", None)
    if code:
        return _PG_CODES.get(code) or _PG_CLASSES.get(code[:2])
    message = str(orig).lower()
    return next((why for text_, why in _SQLITE.items() if text_ in message), None)


def problems(session) -> list[str]:
    """What stops the database from taking a change now (empty when it can): it answers, a
    no-op write is accepted (and rolled back), and an SQLite file has disk space left."""
    found = []
    try:
        session.execute(text("SELECT 1"))
        # a write that changes nothing: refused on a read-only file or transaction
        session.execute(text("UPDATE alembic_version SET version_num = version_num "
                             "WHERE 1 = 0"))
    except DBAPIError as exc:
        found.append(unavailable(exc) or "the database refused a test write")
    finally:
        session.rollback()
    url = session.get_bind().url
    path = url.database or ""
    if path.startswith("file:"):  # an SQLite URI filename (mode=ro and the like)
        path = path[len("file:"):].split("?", 1)[0]
    if url.get_backend_name() == "sqlite" and path not in ("", ":memory:"):
        folder = os.path.dirname(os.path.abspath(path))
        free = shutil.disk_usage(folder).free
        if free < current_app.config["EDC_MIN_FREE_DISK_MB"] * 1024 * 1024:
            found.append(f"less than {current_app.config['EDC_MIN_FREE_DISK_MB']} MB of disk "
                         "space is left for the database")
    return found
