"""The server clock. Every stored time is naive UTC taken from here, never from a browser."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

_pinned: ContextVar[datetime | None] = ContextVar("edc_clock_pinned", default=None)


def utcnow() -> datetime:
    pinned = _pinned.get()
    return pinned if pinned is not None else datetime.now(UTC).replace(tzinfo=None)


def local_today(timezone: str) -> date:
    """The calendar day now in ``timezone`` (a site's IANA zone): the day site staff call
    today, which is not the UTC day for eight hours of every Tianjin morning."""
    return utcnow().replace(tzinfo=UTC).astimezone(ZoneInfo(timezone)).date()


@contextmanager
def pinned(at: datetime) -> Iterator[None]:
    """Run as if the server clock read ``at`` (naive UTC). Used only by `edc demo` to load a
    synthetic subject's history at its own dates; the request path never pins the clock."""
    token = _pinned.set(at)
    try:
        yield
    finally:
        _pinned.reset(token)
