"""A subject's casebook and schedule: saved form instances, visit and row numbers, the
visit schedule from the infusion date."""

from __future__ import annotations

from datetime import date

from sqlalchemy import func, select

from edc.clinical.store import read_items
from edc.clock import local_today
from edc.extensions import db
from edc.models import FormData, ItemData, Subject
from forms.metadata import Event, StudyBuild
from forms.schedule import schedule
from forms.study_build import BUILD, BUILDS

MAX_NUMBER = 2**31 - 1  # visit and row numbers: a database integer on every dialect


def visit_number(event: Event, raw: str | int | None) -> int:
    """The visit number (event repeat) asked for: any whole number from 1 for a repeatable
    event (unscheduled visits), 1 for every other event. ValueError otherwise."""
    if raw in (None, ""):
        return 1
    number = int(raw)
    if number < 1 or number > MAX_NUMBER or (number > 1 and not event.repeatable):
        raise ValueError(f"event {event.oid} has no visit {number}")
    return number


def next_visit(subject: Subject, event_oid: str) -> int:
    """The next free visit number of a repeatable event (unscheduled visits)."""
    return _next_number(FormData.event_repeat, subject, FormData.event_oid == event_oid)


def infusion_date(subject: Subject) -> date | None:
    value = read_items(subject, "INF", "IF").get("IFDAT")
    return date.fromisoformat(value) if value else None


def visit_schedule(subject: Subject, today: date | None = None) -> list:
    """The subject's visits with target dates, windows and statuses (one query for data)."""

    today = today or local_today(subject.site.timezone)
    saved = casebook(subject)
    dated_items = {(f.oid, f.date_item) for f in BUILD.forms.values() if f.date_item}
    rows = db.session.execute(select(ItemData.event_oid, ItemData.form_oid, ItemData.item_oid,
                                     ItemData.value).where(
        ItemData.subject_id == subject.id, ItemData.removed.is_(False),
        ItemData.event_repeat == 1))
    first_date: dict[str, date] = {}
    infusion = None
    for event_oid, form_oid, item_oid, value in rows:
        if (form_oid, item_oid) in dated_items and value:
            d = date.fromisoformat(value)
            first_date[event_oid] = min(d, first_date.get(event_oid, d))
            if (event_oid, form_oid, item_oid) == ("INF", "IF", "IFDAT"):
                infusion = d
    actual = {key[0]: first_date.get(key[0]) for key in saved}
    return schedule(BUILD.events, infusion, actual, today)


def _next_number(column, subject: Subject, criterion) -> int:
    """One more than the highest row or visit number used: numbers are never reused."""
    used = db.session.scalar(select(func.max(column)).where(
        FormData.subject_id == subject.id, criterion))
    return (used or 0) + 1


def next_log_row(subject: Subject, form_oid: str) -> int:
    return _next_number(FormData.form_repeat, subject, FormData.form_oid == form_oid)


def casebook(subject: Subject) -> dict[tuple[str, int, str, int], FormData]:
    """Every saved form of a subject, keyed (event, event repeat, form, form repeat): one query
    whatever the number of events, forms or audit entries."""
    rows = db.session.scalars(select(FormData).where(FormData.subject_id == subject.id))
    return {(r.event_oid, r.event_repeat, r.form_oid, r.form_repeat): r for r in rows}


def build_of(row: FormData | None) -> StudyBuild:
    """The metadata version a form instance was entered under (the active one for a new
    instance)."""
    return BUILDS.get(row.metadata_version, BUILD) if row is not None else BUILD
