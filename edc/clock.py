"""The server clock and the business day.

``utcnow()`` is the real clock, always: every audit timestamp, signature time and session
time comes from it, never from a browser, and nothing may pin or set it.

``local_today(zone)`` is the *business* day at a site: the reference date of an enrollment,
the "not after today" of a form, the visit statuses. It is the real calendar day at the
site, unless a synthetic load simulates another day with ``simulated_day`` (`edc demo`
enters each subject's history at its own dates that way). The audit trail of such a load
still carries the real time of each entry.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from audit.clock import utcnow  # noqa: F401 - the real clock, owned by the audit trail

_business_day: ContextVar[date | None] = ContextVar("edc_business_day", default=None)


def local_today(timezone: str) -> date:
    """The business day in ``timezone`` (a site's IANA zone): the calendar day site staff
    call today, which is not the UTC day for eight hours of every Tianjin morning."""
    simulated = _business_day.get()
    if simulated is not None:
        return simulated
    return datetime.now(UTC).astimezone(ZoneInfo(timezone)).date()


@contextmanager
def simulated_day(day: date) -> Iterator[None]:
    """Run as if the business day were ``day`` at every site (synthetic loads only: `edc
    demo`, benchmarks). The audit clock is not affected."""
    token = _business_day.set(day)
    try:
        yield
    finally:
        _business_day.reset(token)
