"""No data without its audit entry: a commit-time check on the ORM session.

Every row of an :class:`Audited` table that a transaction creates, changes or removes must be
named (``target_type``/``target_id``) by an audit entry written in the same transaction;
otherwise the commit raises :class:`UnauditedChange` and nothing is written. Bulk ORM
UPDATE/DELETE statements on audited tables are refused outright (they would bypass the check).
"""

from __future__ import annotations

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from audit.models import AuditEntry

_CHANGED = "edc_audit_changed"
_COVERED = "edc_audit_covered"


class UnauditedChange(RuntimeError):
    pass


class Audited:
    """Mixin for tables whose every change needs an audit entry. ``UNAUDITED`` names
    operational columns (a last-use time) whose change alone is not a change of the record."""

    UNAUDITED: frozenset[str] = frozenset()

    def audit_target(self) -> tuple[str, str]:
        raise NotImplementedError


@event.listens_for(Session, "after_flush")
def _track(session, _flush_context) -> None:
    changed = session.info.setdefault(_CHANGED, set())
    covered = session.info.setdefault(_COVERED, set())
    for obj in session.new:
        if isinstance(obj, AuditEntry) and obj.target_type:
            covered.add((obj.target_type, obj.target_id))
        elif isinstance(obj, Audited):
            changed.add(obj.audit_target())
    for obj in session.dirty:
        if isinstance(obj, Audited) and session.is_modified(obj, include_collections=False) \
                and _changed_columns(obj) - obj.UNAUDITED:
            changed.add(obj.audit_target())
    for obj in session.deleted:
        if isinstance(obj, Audited):
            changed.add(obj.audit_target())


def _changed_columns(obj) -> set[str]:
    return {a.key for a in inspect(obj).attrs if a.history.has_changes()}


@event.listens_for(Session, "before_commit")
def _check(session) -> None:
    session.flush()
    missing = session.info.get(_CHANGED, set()) - session.info.get(_COVERED, set())
    if missing:
        names = ", ".join(f"{t} {i}" for t, i in sorted(missing))
        raise UnauditedChange(f"changed without an audit entry: {names}")


def _clear(session, *_args) -> None:
    session.info.pop(_CHANGED, None)
    session.info.pop(_COVERED, None)


event.listen(Session, "after_commit", _clear)
event.listen(Session, "after_rollback", _clear)
event.listen(Session, "after_soft_rollback", _clear)


@event.listens_for(Session, "do_orm_execute")
def _no_bulk_writes(state) -> None:
    if not (state.is_update or state.is_delete):
        return
    for mapper in state.all_mappers:
        if issubclass(mapper.class_, Audited | AuditEntry):
            raise UnauditedChange(
                f"bulk {'UPDATE' if state.is_update else 'DELETE'} of {mapper.class_.__name__} "
                "is not allowed: change rows one by one with their audit entries")
