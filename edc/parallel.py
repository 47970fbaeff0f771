"""Reading the database from worker processes: long read-only work (verifying the trail,
rebuilding an export's subjects) cut into pieces that other processes read apart.

Workers are forked where the platform can (a worker starts in milliseconds instead of
importing the application again). A worker opens its own connection and never uses, closes
or collects one it inherited; forked workers end with ``os._exit``, running no finalizers.
"""

from __future__ import annotations

import multiprocessing


def shared_url(bind) -> str | None:
    """The address other processes reach the same database by (None for an in-memory
    SQLite database, which no other process can open)."""
    engine = bind.get_bind() if hasattr(bind, "get_bind") else bind.engine
    url = engine.url
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return None
    return url.render_as_string(hide_password=False)


def context():
    """The start method for worker processes: fork where there is one."""
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("fork" if "fork" in methods else "spawn")
