"""The audit trail: every write path appends here, in the same transaction as its change.

``record(action, actor=..., ...)`` is the one API. It takes the chain lock (PostgreSQL advisory
transaction lock; on SQLite every transaction already begins IMMEDIATE), reads the chain head,
and adds the next entry with its hash. Commit or roll back with the change it describes.
"""

from __future__ import annotations

import getpass
import json
import socket
from contextvars import ContextVar
from dataclasses import dataclass

from sqlalchemy import select, text
from sqlalchemy.orm import scoped_session

from audit.actions import ACTIONS
from audit.chain import GENESIS, entry_hash
from audit.clock import utcnow
from audit.models import AuditEntry

# The person at the terminal when the operating-system account is a shared service account
# (`edc --operator NAME …`, or EDC_OPERATOR).
_operator: ContextVar[str | None] = ContextVar("edc_cli_operator", default=None)


def set_operator(name: str | None) -> None:
    _operator.set((name or "").strip() or None)


# Key of the PostgreSQL advisory lock that serialises appends ("EDCAUDIT" as an int64).
CHAIN_LOCK_KEY = 0x4544434155444954


@dataclass(frozen=True)
class Actor:
    """Who does something, from where: captured by the route, passed into services."""

    user_id: int | None
    username: str | None
    role: str | None
    source: str  # web | api | cli | system
    request_id: str | None = None
    ip: str | None = None

    @classmethod
    def system(cls, source: str = "system") -> Actor:
        return cls(user_id=None, username="system", role=None, source=source)

    @classmethod
    def cli(cls) -> Actor:
        """The command line's actor: the operating-system user and host, and the operator
        named with ``--operator`` when one is."""
        who = f"{getpass.getuser()}@{socket.gethostname()}"
        operator = _operator.get()
        name = f"cli:{operator} ({who})" if operator else f"cli:{who}"
        return cls(user_id=None, username=name[:64], role=None, source="cli")

    @classmethod
    def for_user(cls, user, *, source: str, request_id=None, ip=None) -> Actor:
        role = user.role.value if user.role else None
        return cls(user.id, user.username, role, source, request_id, ip)


# session.info[HEAD] = (transaction, seq, hash): the head a transaction appended. While the
# transaction lasts it holds the chain (PostgreSQL's advisory lock; SQLite's write lock,
# taken by the entry's insert), so its next entry follows on without locking and reading the
# head again; after its commit, edc/anchor.py signs a checkpoint at that head when one is due
HEAD = "audit_head"


def _lock_chain(session) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": CHAIN_LOCK_KEY})


def chain_head(session) -> tuple[int, str]:
    row = session.execute(
        select(AuditEntry.seq, AuditEntry.hash)
        .order_by(AuditEntry.seq.desc())
        .limit(1)
        .execution_options(all_sites=True)
    ).first()
    return (row.seq, row.hash) if row else (0, GENESIS)


def record(
    session,
    action: str,
    *,
    actor: Actor,
    site=None,
    subject=None,
    details: dict | None = None,
    **fields,
) -> AuditEntry:
    """Append one entry. ``fields`` are further AuditEntry columns (old_value, reason, …)."""
    if action not in ACTIONS:
        raise ValueError(f"unknown audit action {action!r}")
    transaction = (session() if isinstance(session, scoped_session) else session) \
        .get_transaction()
    held = session.info.get(HEAD)
    if held is not None and held[0] is transaction:
        _, seq, prev = held  # this transaction holds the chain and wrote its head
    else:
        _lock_chain(session)
        session.flush()
        seq, prev = chain_head(session)
    values = {
        "seq": seq + 1,
        "ts": utcnow(),
        "action": action,
        "user_id": actor.user_id,
        "username": actor.username,
        "role": actor.role,
        "source": actor.source,
        "request_id": actor.request_id,
        "ip": actor.ip,
        "details": json.dumps(details, sort_keys=True, default=str) if details else None,
    }
    if subject is not None:
        values["subject_id"] = subject.id
        values["subject_key"] = subject.label
        site = site or subject.site
    if site is not None:
        values["site_id"] = site.id
        values["site_code"] = site.code
    values.update(fields)
    chained = {name: values.get(name) for name in AuditEntry.CHAINED}
    entry = AuditEntry(prev_hash=prev, hash=entry_hash(prev, chained), **values)
    session.add(entry)
    session.flush()
    session.info[HEAD] = (transaction, entry.seq, entry.hash)
    return entry
