"""The unit of work: one transaction per boundary.

Services change state (add, flush, append audit entries) and never commit. The boundary that
called them — a route, an API endpoint, a CLI command, a job — wraps the call in
``unit_of_work()``: the block's work commits when it ends, or rolls back whole when it
raises.

Some refusals must be on record although the work is rolled back: a hard check that refused
a value, a wrong password at signing, an enrollment the gate refused. The service registers
what to record with ``refuse_later`` and raises; the unit of work rolls back, then records
the refusals in a short transaction of its own, commits it, and lets the exception go on to
the boundary's handler.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager

from edc.extensions import db

_REFUSALS = "edc_refusals"


def refuse_later(record: Callable[[], None]) -> None:
    """Record a refusal after the rollback of the current unit of work (``record`` writes
    its audit entries, and any state the refusal itself changes, such as a failure count)."""
    db.session.info.setdefault(_REFUSALS, []).append(record)


@contextmanager
def unit_of_work() -> Iterator[None]:
    session = db.session
    session.info.pop(_REFUSALS, None)  # only this unit's refusals
    try:
        yield
    except BaseException:
        pending = session.info.pop(_REFUSALS, [])
        session.rollback()
        if pending:
            try:
                for record in pending:
                    record()
                session.commit()
            except Exception:
                session.rollback()
                raise
        raise
    pending = session.info.pop(_REFUSALS, [])
    for record in pending:  # a refusal whose exception the block handled itself
        record()
    session.commit()


@contextmanager
def read_only() -> Iterator[None]:
    """A block that only reads, however long it takes (rendering a casebook or a trail PDF):
    it starts a new transaction that holds no write lock (SQLite: a deferred WAL read;
    PostgreSQL reads never block writers), so other users save while it runs. Nothing may be
    written inside; the block's transaction is ended when it ends."""
    from edc.extensions import READ_ONLY

    session = db.session
    session.rollback()  # begin afresh, as a reader
    token = READ_ONLY.set(True)
    try:
        yield
    finally:
        session.rollback()
        READ_ONLY.reset(token)
