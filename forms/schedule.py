"""The visit schedule, computed (never stored) from the actual infusion date.

Statuses: ``planned`` (window not open yet, or no infusion date), ``due`` (window open),
``overdue`` (window closed, the next scheduled visit's window not open yet), ``missed`` (a
later visit's window has opened), ``done`` and ``done out of window`` (a protocol deviation).
Events without a target day (screening, enrollment, apheresis, unscheduled, end of study)
are ``done`` once a form is saved and ``not started`` before.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from forms.metadata import Event


@dataclass(frozen=True)
class Visit:
    event: str
    name: str
    target: date | None
    earliest: date | None
    latest: date | None
    actual: date | None
    status: str

    @property
    def deviation(self) -> bool:
        return self.status == "done out of window"


def window(event: Event, infusion: date | None) -> tuple[date, date, date] | None:
    if infusion is None or event.day is None:
        return None
    target = infusion + timedelta(days=event.day)
    before, after = event.window or (0, 0)
    return target, target - timedelta(days=before), target + timedelta(days=after)


def out_of_window(event: Event, infusion: date | None, visit_date: date) -> str | None:
    """A message when ``visit_date`` falls outside the event's window, else None."""
    w = window(event, infusion)
    if w is None:
        return None
    target, earliest, latest = w
    if earliest <= visit_date <= latest:
        return None
    span = f"{earliest.isoformat()} to {latest.isoformat()}" if earliest != latest else \
        earliest.isoformat()
    return (f"outside the visit window of {event.name} (target {target.isoformat()}, "
            f"allowed {span}): protocol deviation")


def schedule(events: tuple[Event, ...], infusion: date | None,
             actual: dict[str, date | None], today: date) -> list[Visit]:
    """``actual``: for each event with saved data, its visit date (None if no date entered)."""
    out = []
    timed = [e for e in events if e.day is not None]
    opens = sorted(w[1] for e in timed if (w := window(e, infusion)))
    for e in events:
        if e.oid == "LOG":
            continue
        w = window(e, infusion)
        done = e.oid in actual
        when = actual.get(e.oid)
        if w is None:
            status = "done" if done else ("planned" if e.day is not None else "not started")
            out.append(Visit(e.oid, e.name, None, None, None, when, status))
            continue
        target, earliest, latest = w
        if done:
            inside = when is None or earliest <= when <= latest
            status = "done" if inside else "done out of window"
        elif today < earliest:
            status = "planned"
        elif today <= latest:
            status = "due"
        else:
            later = [o for o in opens if o > latest]
            status = "missed" if later and today >= later[0] else "overdue"
        out.append(Visit(e.oid, e.name, target, earliest, latest, when, status))
    return out
