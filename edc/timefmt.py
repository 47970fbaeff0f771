"""Times are stored in naive UTC; pages show them with their zone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo


def utc_time(value: datetime | None) -> str:
    if value is None:
        return ""
    if value.tzinfo is None:  # the stored form; isoformat is several times faster
        return value.isoformat(" ", "seconds") + " UTC"
    return value.strftime("%Y-%m-%d %H:%M:%S") + " UTC"


def local_time(value: datetime | None, tz: str | None) -> str:
    if value is None:
        return ""
    if not tz:
        return utc_time(value)
    zone = ZoneInfo(tz)
    local = value.replace(tzinfo=UTC).astimezone(zone)
    return local.strftime("%Y-%m-%d %H:%M:%S ") + (local.tzname() or tz) + f" ({tz})"
