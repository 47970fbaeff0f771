"""Reading the audit trail: filters, pages, the presentation shared by screen, CSV and PDF."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from flask import current_app
from sqlalchemy import func, or_, select

import audit
from audit import Actor
from audit.chain import hashed_fields
from audit.models import AuditEntry
from audit.pdf import Header, render_pdf
from audit.verify import verify_chain
from edc import anchor, deidentify, scratch
from edc.clock import utcnow
from edc.deidentify import WITHHELD
from edc.extensions import db
from edc.i18n import both
from edc.models import Site, Subject
from edc.study import current_study
from edc.timefmt import local_time, utc_time
from edc.uow import read_only, unit_of_work
from forms.text import N_
from forms.validate import free_text_problem

#: the typed fields of a filter, each with its longest accepted text: a filter is printed on
#: the PDF copy and kept in the audit entry of every copy, so it is plain text and bounded
TYPED = {"subject": 32, "form": 64, "item": 128, "user": 64}


@dataclass(frozen=True)
class TrailFilter:
    subject: str | None = None
    form: str | None = None
    item: str | None = None
    user: str | None = None
    action: str | None = None
    since: date | None = None
    until: date | None = None
    upto_seq: int | None = None  # a copy covers the chain up to a fixed head
    subject_id: int | None = None  # one subject, under its screening and subject numbers
    zone: str | None = None  # the time zone of the since/until dates (None: UTC)

    def describe(self) -> str:
        parts = [f"{k} {v}" for k, v in asdict(self).items()
                 if v not in (None, "") and k not in ("upto_seq", "subject_id", "zone")]
        if parts and self.zone and (self.since or self.until):
            parts.append(f"dates in {self.zone}")
        return ", ".join(parts) if parts else "whole study"

    def problems(self) -> dict[str, str]:
        """What is wrong with each typed field (too long, control characters), by name."""
        return {name: problem for name, longest in TYPED.items()
                if (value := getattr(self, name))
                and (problem := free_text_problem(value, longest))}

    def to_params(self) -> dict:
        """The filter as JSON-safe values (a background job's parameters)."""
        return {k: v.isoformat() if isinstance(v, date) else v
                for k, v in asdict(self).items() if v is not None}

    @classmethod
    def from_params(cls, params: dict) -> TrailFilter:
        return cls(**{k: date.fromisoformat(v) if k in ("since", "until") else v
                      for k, v in params.items()})

    def bound(self, day: date) -> datetime:
        """The UTC instant a day of the filter starts, in the filter's zone (stored times are
        naive UTC)."""
        start = datetime.combine(day, time.min)
        if not self.zone:
            return start
        try:
            return start.replace(tzinfo=ZoneInfo(self.zone)).astimezone(UTC).replace(
                tzinfo=None)
        except OverflowError:  # the first day there is: before every entry
            return start

    def as_details(self) -> dict:
        return {k: str(v) for k, v in asdict(self).items()
                if v not in (None, "") and k != "upto_seq"}


def select_entries(f: TrailFilter):
    """The filtered entries, oldest first. Site scope applies (data layer)."""
    stmt = select(AuditEntry)
    if f.subject:  # one subject, whichever of its numbers is typed
        key = f.subject.strip().upper()
        keys, ids = {key}, set()
        for subject in db.session.scalars(select(Subject).where(or_(
                Subject.screening_number == key, Subject.subject_number == key))):
            keys |= {subject.screening_number, subject.subject_number} - {None}
            ids.add(subject.id)
        stmt = stmt.where(or_(AuditEntry.subject_key.in_(keys), AuditEntry.subject_id.in_(ids))
                          if ids else AuditEntry.subject_key == key)
    if f.subject_id:
        stmt = stmt.where(AuditEntry.subject_id == f.subject_id)
    if f.form:
        stmt = stmt.where(AuditEntry.form_oid == f.form.strip().upper())
    if f.item:
        stmt = stmt.where(AuditEntry.item_oid == f.item.strip().upper())
    if f.user:
        stmt = stmt.where(AuditEntry.username == f.user.strip().lower())
    if f.action:
        stmt = stmt.where(AuditEntry.action == f.action)
    if f.since:
        stmt = stmt.where(AuditEntry.ts >= f.bound(f.since))
    if f.until and f.until < date.max:  # the last day there is has no end to compare
        stmt = stmt.where(AuditEntry.ts < f.bound(f.until + timedelta(days=1)))
    if f.upto_seq:
        stmt = stmt.where(AuditEntry.seq <= f.upto_seq)
    return stmt.order_by(AuditEntry.seq)


def page(f: TrailFilter, number: int, per_page: int = 100) -> tuple[list[AuditEntry], int]:
    stmt = select_entries(f)
    total = db.session.scalar(select(func.count()).select_from(stmt.order_by(None).subquery()))
    rows = db.session.scalars(stmt.offset((number - 1) * per_page).limit(per_page)).all()
    return list(rows), total


def site_zones() -> dict[int, str]:
    return {s.id: s.timezone for s in db.session.scalars(select(Site))}


COLUMNS = [
    ("seq", "Seq"), ("time_utc", "Time (UTC)"), ("time_local", "Time (site)"),
    ("action", "Action"), ("user", "User"), ("role", "Role"), ("site", "Site"),
    ("subject", "Subject"), ("event", "Event"), ("form", "Form"), ("repeat", "Repeat"),
    ("item", "Item"), ("old_value", "Old value"), ("new_value", "New value"),
    ("reason", "Reason"), ("target", "Target"), ("details", "Details"), ("source", "Source"),
    ("request_id", "Request"), ("hash", "Hash"),
]


def present(e: AuditEntry, zones: dict[int, str], show_pii: bool) -> dict[str, str]:
    """One entry as display strings; identifying values withheld unless ``show_pii``."""
    zone = zones.get(e.site_id) if e.site_id else None
    return {
        "seq": str(e.seq),
        "time_utc": utc_time(e.ts),
        "time_local": local_time(e.ts, zone) if zone else "",
        "action": e.action,
        "user": e.username or "",
        "role": e.role or "",
        "site": e.site_code or "",
        "subject": e.subject_key or "",
        "event": (e.event_oid or "") + (f"[{e.event_repeat}]" if (e.event_repeat or 1) > 1 else ""),
        "form": e.form_oid or "",
        "repeat": e.repeat_key or "",
        "item": e.item_oid or "",
        "old_value": deidentify.value(e.form_oid, e.item_oid, e.old_value,
                                      allowed=show_pii) or "",
        "new_value": deidentify.value(e.form_oid, e.item_oid, e.new_value,
                                      allowed=show_pii) or "",
        "reason": e.reason or "",
        "target": f"{e.target_type} {e.target_id}" if e.target_type else "",
        "details": e.details or "",
        "source": e.source,
        "request_id": e.request_id or "",
        "hash": e.hash,
    }


def iter_presented(f: TrailFilter, show_pii: bool, batch: int = 1000) -> Iterator[dict]:
    zones = site_zones()
    for e in db.session.scalars(select_entries(f).execution_options(yield_per=batch)):
        yield present(e, zones, show_pii)


def record_export(kind: str, f: TrailFilter, *, actor: Actor, count: int, extra=None) -> None:
    """Audit an export before it is handed out (spec/part11.md point 6), in a short unit of
    work of its own that ends before the copy is made: an export is a job, and no write
    lock is held while it renders."""
    if problems := f.problems():  # the pages, the API and the CLI refuse it before
        raise ValueError(f"a filter that cannot be kept in the trail: {problems}")
    details = {"filter": f.as_details() or "whole study", "entries": count, **(extra or {})}
    with unit_of_work():
        audit.record(db.session, f"audit.export_{kind}", actor=actor, details=details)
    if kind != "pdf":  # the PDF signs its own checkpoint, the one it prints
        anchor.checkpoint_now(db.session)


def pdf_legend() -> str:
    """The audit-trail PDF's title and column heads in English and Chinese, printed once on
    its first page (and in the casebook's trail section). The running page heads and the
    column heads of every page stay English: Chinese glyphs on every page made each chunk's
    layout a tenth to a quarter slower (decision in docs/decisions.md)."""
    columns = "; ".join(both(c) for c in (N_("Entry · time · user"),
                                          N_("Action · where · reason"),
                                          N_("Old → new value")))
    title, heads = both(N_("Audit trail")), both(N_("Columns"))
    return f"{title} — {heads}: {columns}"


def export_pdf(f: TrailFilter, out, *, actor: Actor, show_pii: bool, generated_by: str,
               scope_note: str = "", zone: str | None = None) -> dict:
    """Write the PDF copy of the entries ``f`` selects. The export is audited first; the copy
    then covers the chain up to and including that entry, and says so on every page."""
    record_export("pdf", f, actor=actor, count=count(f))
    signed = anchor.checkpoint_now(db.session)  # the copy is anchored outside the database
    head_seq, head_hash = signed.seq, signed.hash
    check = verify_chain(db.session, anchor=anchor.current())
    pinned = replace(f, upto_seq=head_seq)
    n = count(pinned)
    now = utcnow()
    when = utc_time(now) + (f" · {local_time(now, zone)}" if zone else "")
    scope = f.describe() + (f" ({scope_note})" if scope_note else "")
    if f.subject:
        site = db.session.scalar(select(AuditEntry.site_code).where(
            AuditEntry.subject_key == f.subject.strip().upper()).limit(1))
        scope += f", site {site}" if site else ""
    header = Header(
        study=f"{current_study().name} ({current_study().oid})", scope=scope,
        generated_by=generated_by, generated_at=when,
        head_hash=head_hash, count=n,
        verification=(f"chain intact, {check.count} entries, head seq {head_seq}, "
                      f"{check.checkpoints} signed checkpoints" if check.ok
                      else f"FAILED at seq {check.bad_seq}: {check.problem}" if not
                      check.chain_ok else f"FAILED: {check.problems[0]}"),
        anchor=anchor.printed(),
    )
    with read_only():  # the render reads a snapshot and holds no write lock
        pages = render_pdf(iter_presented(pinned, show_pii), header, out, legend=pdf_legend(),
                           workers=current_app.config.get("EDC_PDF_WORKERS"),
                           scratch=scratch.folder())
    return {"pages": pages, "entries": n, "head_hash": head_hash, "head_seq": head_seq,
            "verified": check.ok}


def write_copy(f: TrailFilter, fh, *, actor: Actor, show_pii: bool) -> dict:
    """The electronic copy that `python -m audit.verify_copy` checks without the database:
    JSON Lines, a description first, then each entry with every hashed field as hashed and
    its previous hash. Audited and anchored by a signed checkpoint first; the copy covers
    the chain up to that checkpoint. Entries whose values are identifying are marked
    withheld for a copy without identifying data (their hash cannot be recomputed; their
    links still are)."""
    signed_before = count(f)
    record_export("copy", f, actor=actor, count=signed_before)
    cp = anchor.current().latest()
    head_seq, head_hash = cp.seq, cp.hash
    pinned = replace(f, upto_seq=head_seq)
    n = count(pinned)
    whole = not f.as_details()
    fh.write(json.dumps({
        "record": "edc audit trail copy", "study": current_study().oid,
        "scope": f.describe(), "whole_trail": whole, "entries": n, "head_seq": head_seq,
        "head_hash": head_hash, "identifying_data": "included" if show_pii else "withheld",
        "checkpoint": cp.as_json(), "anchor": anchor.printed()}, ensure_ascii=False) + "\n")
    for e in db.session.scalars(select_entries(pinned).execution_options(yield_per=1000)):
        fields = hashed_fields({name: getattr(e, name) for name in AuditEntry.CHAINED})
        line = {"fields": fields, "prev_hash": e.prev_hash, "hash": e.hash}
        if not show_pii and deidentify.identifying(e.form_oid, e.item_oid) and (
                "old_value" in fields
                                                   or "new_value" in fields):
            for key in ("old_value", "new_value"):
                if key in fields:
                    fields[key] = WITHHELD
            line["withheld"] = True
        fh.write(json.dumps(line, ensure_ascii=False) + "\n")
    return {"entries": n, "head_seq": head_seq, "head_hash": head_hash}


def count(f: TrailFilter) -> int:
    stmt = select_entries(f).order_by(None).subquery()
    return db.session.scalar(select(func.count()).select_from(stmt))


def csv_lines(f: TrailFilter, show_pii: bool) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow([label for _, label in COLUMNS])
    yield buf.getvalue()
    for row in iter_presented(f, show_pii):
        buf.seek(0)
        buf.truncate()
        writer.writerow([_no_formula(row[key]) for key, _ in COLUMNS])
        yield buf.getvalue()


def _no_formula(value: str) -> str:
    """Keep spreadsheet programs from running an entered text as a formula (numbers such as
    ``-5`` are left as they are)."""
    if value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        try:
            float(value)
        except ValueError:
            return "'" + value
    return value
