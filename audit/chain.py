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
    """RFC 8785 canonical JSON of an entry's non-null fields, every value as a string.

    Null fields are left out, so a nullable column added to the trail later does not change
    the hash of any entry written before it existed.
    """
    return rfc8785.dumps({k: _text(v) for k, v in fields.items() if v is not None})


def entry_hash(prev_hash: str, fields: dict) -> str:
    return hashlib.sha256(prev_hash.encode("ascii") + canonical_bytes(fields)).hexdigest()
