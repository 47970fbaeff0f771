"""The application's side of the signed checkpoints (audit/checkpoint.py): the anchor of the
current app, a checkpoint on demand, and one after every commit that carries the chain past
the next interval mark."""

from __future__ import annotations

import threading

from flask import current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from audit import HEAD, chain_head
from audit.checkpoint import Anchor, Checkpoint, public_text

_lock = threading.Lock()
_last_seq: dict[str, int] = {}  # checkpoint log -> the highest seq this process knows signed


def current() -> Anchor:
    return Anchor.from_config(current_app.config)


def checkpoint_now(session) -> Checkpoint:
    """Sign the head of the chain as committed and append it to the checkpoint log. Call
    after the commit: a checkpoint must never cover an entry that may still roll back."""
    anchor = current()
    seq, head = chain_head(session)
    session.rollback()  # end the read: no transaction is held while signing and writing
    cp = anchor.sign(seq, head)
    anchor.append(cp)
    with _lock:
        _last_seq[str(anchor.log_file)] = max(seq, _last_seq.get(str(anchor.log_file), 0))
    return cp


def printed(anchor: Anchor | None = None) -> str:
    """The line PDFs and manifests print: the public key and the latest checkpoint."""
    anchor = anchor or current()
    latest = anchor.latest()
    where = (f"latest signed checkpoint seq {latest.seq}, {latest.ts}" if latest
             else "no signed checkpoint yet")
    return f"Audit key (Ed25519) {public_text(anchor.public_key())}\n{where}"


def _after_commit(session) -> None:
    held = session.info.pop(HEAD, None)
    if held is None or not has_app_context():
        return
    head = held[1:]  # (seq, hash) of the committed transaction's last entry
    anchor = current()
    key = str(anchor.log_file)
    with _lock:
        if key not in _last_seq:
            latest = anchor.latest()
            _last_seq[key] = latest.seq if latest else 0
        due = head[0] // anchor.every > _last_seq[key] // anchor.every
        if due:
            _last_seq[key] = head[0]
    if due:
        anchor.append(anchor.sign(*head))


def _after_rollback(session) -> None:
    session.info.pop(HEAD, None)


def register() -> None:
    if not event.contains(Session, "after_commit", _after_commit):
        event.listen(Session, "after_commit", _after_commit)
        event.listen(Session, "after_soft_rollback", lambda s, _t: _after_rollback(s))
