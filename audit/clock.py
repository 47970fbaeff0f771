"""The real clock of the audit trail: every audit timestamp, checkpoint time and signature
time comes from here; nothing pins or sets it (edc.clock keeps the business day)."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, in naive UTC, from the real clock."""
    return datetime.now(UTC).replace(tzinfo=None)
