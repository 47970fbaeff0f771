"""Each role's start page is its work list: what is due, what waits for this person, each row
linking straight to the place to act. Read only, in the caller's site scope (data layer);
the sponsor's is counts only (de-identified)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import timedelta

from flask import url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select

from edc import signatures
from edc.clock import local_today
from edc.crf.casebook import visit_schedule
from edc.extensions import db
from edc.i18n import label_of, name_of, translate
from edc.models import FormData, ItemData, Subject, SubjectStatus
from edc.queries import services as queries
from edc.subjects import progress
from forms.study_build import BUILD

IN_FOLLOW_UP = (SubjectStatus.ENROLLED, SubjectStatus.TREATED, SubjectStatus.FOLLOW_UP,
                SubjectStatus.LONG_TERM_FOLLOW_UP)
WEEK = 7


@dataclass(frozen=True)
class Row:
    subject: str
    what: str
    detail: str
    href: str
    kind: str = ""  # a state the page colours: overdue, due, planned, …


def visits_due(subjects: list[Subject]) -> list[Row]:
    """Visits overdue or due now, and those whose window opens within a week, by window."""
    rows = []
    for s in subjects:
        if s.status not in IN_FOLLOW_UP:
            continue
        today = local_today(s.site.timezone)
        for v in visit_schedule(s, today):
            soon = v.status == "planned" and v.earliest and v.earliest <= today + \
                timedelta(days=WEEK)
            if v.status not in ("due", "overdue") and not soon:
                continue
            event = BUILD.event(v.event)
            window = f"{v.earliest.isoformat()} – {v.latest.isoformat()}" if v.earliest else ""
            rows.append(Row(s.label, name_of(event), _("window %(dates)s", dates=window), url_for(
                "crf.view", subject_id=s.id, event_oid=event.oid, form_oid=event.forms[0]),
                "today" if v.earliest and v.earliest <= today <= v.latest else
                ("overdue" if v.status == "overdue" else "planned")))
    order = {"overdue": 0, "today": 1, "planned": 2}
    return sorted(rows, key=lambda r: (order[r.kind], r.detail, r.subject))


def incomplete_forms(limit: int = 50) -> list[Row]:
    rows = db.session.scalars(select(FormData).where(FormData.status == "incomplete")
                              .order_by(FormData.subject_id, FormData.id).limit(limit))
    out = []
    for f in rows:
        subject = db.session.get(Subject, f.subject_id)
        out.append(Row(subject.label, name_of(BUILD.form(f.form_oid)),
                       name_of(BUILD.event(f.event_oid)) + (
                           _(", row %(n)d", n=f.form_repeat) if f.form_repeat > 1 else ""),
                       url_for("crf.view", subject_id=f.subject_id, event_oid=f.event_oid,
                               form_oid=f.form_oid, repeat=f.form_repeat,
                               **({"event_repeat": f.event_repeat} if f.event_repeat > 1
                                  else {})) + "#summary", "incomplete"))
    return out


def query_rows(state: str, limit: int = 50) -> list[Row]:
    """Queries in ``state`` ("open": waiting for the site; "answered": for the monitor;
    "unresolved": either), oldest first with their age."""
    out = []
    for q in queries.listing(state=state, limit=limit):
        form = BUILD.form(q.form_oid)
        place = name_of(form) + (f" › {label_of(form.item(q.item_oid))}"
                                 if q.item_oid and q.item_oid in form.item_names else "")
        age = queries.age_days(q)
        out.append(Row(q.subject.label, _("Query #%(id)d (%(state)s)", id=q.id,
                                          state=translate(q.state)),
                       place + " · " + ngettext("%(num)d day old", "%(num)d days old", age),
                       url_for("queries.detail", query_id=q.id),
                       "overdue" if age >= 14 else ""))
    return out


def awaiting_signature(subjects: list[Subject]) -> list[Row]:
    """Eligible subjects whose checklist the investigator has not signed, and casebooks ready
    to sign (the subject's participation ended, nothing blocks the signature)."""
    shown = progress.statuses([s for s in subjects if s.status == SubjectStatus.SCREENING])
    rows = [Row(s.label, _("Eligibility checklist"), _("eligible: sign to allow enrollment"),
                url_for("eligibility.checklist", subject_id=s.id), "due")
            for s in subjects if shown.get(s.id) == "eligible"]
    ended = [s for s in subjects if s.status in (SubjectStatus.COMPLETED,
                                                 SubjectStatus.WITHDRAWN)]
    signed = signatures.live([s.id for s in ended], "casebook")
    casebook = signatures.target("casebook")
    for s in ended:
        if s.id not in signed and not casebook.blockers(s):
            rows.append(Row(s.label, _("Casebook"),
                            _("complete: ready for the investigator's signature"),
                            url_for("review.sign_page", subject_id=s.id,
                                                 target="casebook"), "due"))
    return rows


def enrollment_summary() -> dict:
    """Counts only: subjects by status shown, by site and by cohort (the sponsor's view)."""
    subjects = list(db.session.scalars(select(Subject)))
    shown = progress.statuses(subjects)
    cohorts = dict(db.session.execute(select(ItemData.subject_id, ItemData.value).where(
        ItemData.form_oid == "DX", ItemData.item_oid == "COHORT",
        ItemData.removed.is_(False), ItemData.event_repeat == 1)).all())
    by_site: dict[str, Counter] = {}
    by_cohort: dict[str, Counter] = {}
    for s in subjects:
        by_site.setdefault(s.site.code, Counter())[shown[s.id]] += 1
        by_cohort.setdefault(cohorts.get(s.id) or _("not recorded"), Counter())[shown[s.id]] += 1
    return {"statuses": [k for k in progress.SHOWN if any(
        c[k] for c in by_site.values())], "by_site": by_site, "by_cohort": by_cohort,
        "total": len(subjects)}


def safety_summary() -> dict:
    """Adverse events by CTCAE grade and the number of serious ones (counts only)."""
    rows = db.session.execute(select(ItemData.item_oid, ItemData.value).where(
        ItemData.form_oid == "AE", ItemData.item_oid.in_(("AETOXGR", "AESER")),
        ItemData.removed.is_(False)))
    grades, serious = Counter(), 0
    for item, value in rows:
        if item == "AETOXGR":
            grades[value] += 1
        elif value == "Y":
            serious += 1
    return {"grades": dict(sorted(grades.items())), "serious": serious,
            "total": sum(grades.values())}
