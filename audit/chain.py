"""Hash chain: SHA-256 over the previous hash and the RFC 8785 canonical JSON of the entry."""

from __future__ import annotations

import hashlib
from datetime import datetime

import rfc8785

GENESIS = "0" * 64


def _text(value) -> str | None:
    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(timespec="microseconds") + "Z"
    return str(value)


def canonical_bytes(fields: dict) -> bytes:
    """Canonical JSON of an entry; every value passed as a string (or null)."""
    return rfc8785.dumps({k: _text(v) for k, v in fields.items()})


def entry_hash(prev_hash: str, fields: dict) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_bytes(fields)).hexdigest()
