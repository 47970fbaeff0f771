"""The server clock. Every stored time is naive UTC taken from here, never from a browser."""

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
