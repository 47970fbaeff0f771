"""Study dashboards: the enrollment funnel, visit compliance, CRS and ICANS, adverse events by
grade and a swimmer plot of follow-up. Each chart is server-rendered SVG (it prints, and it
goes into PDFs as it is) with the table of its numbers beside it. Read in the caller's site
scope; no identifying item is read (subjects are shown by their study numbers only)."""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date

from flask_babel import gettext as _
from markupsafe import Markup
from sqlalchemy import select

from edc.clock import local_today
from edc.crf.casebook import visit_schedule
from edc.extensions import db
from edc.i18n import translate
from edc.models import ItemData, Subject
from edc.subjects import progress
from forms.text import N_

FUNNEL = (N_("screened"), N_("eligible"), N_("signed"), N_("enrolled"), N_("infused"),
          "D28", "M3", "M6", "M12")  # the steps; the last are visits, named by their codes
_PAST_SIGNED = {"enrolled", "treated", "follow_up", "ltfu", "completed", "withdrawn", "died"}
COLOURS = {"on time": "#1b6e3a", "late": "#8a5a00", "missed": "#b3261e",
           "CRS": "#b45309", "ICANS": "#6d28d9", "SAE": "#b3261e", "bar": "#0b5fa5"}


@dataclass
class Chart:
    title: str
    svg: Markup
    head: list[str]
    rows: list[list] = field(default_factory=list)


def _values(subject_ids: list[int], items: dict[str, tuple[str, ...]]) -> dict:
    """{(subject, form, item): [(event, event repeat, form repeat, value), …]}, one query."""
    if not subject_ids:
        return {}
    cond = None
    for form, names in items.items():
        c = (ItemData.form_oid == form) & ItemData.item_oid.in_(names)
        cond = c if cond is None else cond | c
    out = defaultdict(list)
    for row in db.session.execute(select(
            ItemData.subject_id, ItemData.form_oid, ItemData.item_oid, ItemData.event_oid,
            ItemData.event_repeat, ItemData.form_repeat, ItemData.value).where(
            ItemData.subject_id.in_(subject_ids), ItemData.removed.is_(False), cond)):
        out[row[0], row[1], row[2]].append((row[3], row[4], row[5], row[6]))
    return out


def _first(values, key) -> str | None:
    got = values.get(key)
    return got[0][3] if got else None


def _el(tag: str, content: str | Markup = "", **attrs) -> Markup:
    """One SVG element; attribute values and text are escaped (``content`` may be markup)."""
    attr = Markup("").join(Markup(' {}="{}"').format(k.rstrip("_").replace("_", "-"), v)
                           for k, v in attrs.items())
    return Markup("<{0}{1}>{2}</{0}>").format(tag, attr, content)


def _svg(width: int, height: int, parts: list[Markup], size: int = 12) -> Markup:
    return _el("svg", Markup("").join(parts), xmlns="http://www.w3.org/2000/svg",
               viewBox=f"0 0 {width} {height}", width=width, height=height, role="img",
               aria_hidden="true", font_family="sans-serif", font_size=size)


def _bars(labels: list[str], series: dict[str, list[int]], *, width: int = 520) -> Markup:
    """Horizontal bars, stacked by series, one row per label."""
    row_h, left = 22, 150
    total = max([sum(v[i] for v in series.values()) for i in range(len(labels))] or [0]) or 1
    scale = (width - left - 40) / total
    height = row_h * len(labels) + 30
    parts = []
    for i, label in enumerate(labels):
        y = 10 + i * row_h
        parts.append(_el("text", label, x=left - 6, y=y + 14, text_anchor="end"))
        x = left
        for name, values in series.items():
            w = values[i] * scale
            if w:
                parts.append(_el("rect", _el("title", f"{label}: {translate(name)} {values[i]}"),
                                 x=f"{x:.1f}", y=y, width=f"{w:.1f}", height=row_h - 6,
                                 fill=COLOURS.get(name, COLOURS["bar"])))
            x += w
        parts.append(_el("text", str(sum(v[i] for v in series.values())), x=f"{x + 4:.1f}",
                         y=y + 14))
    if len(series) > 1:
        x = left
        for name in series:
            parts.append(_el("rect", x=x, y=height - 14, width=10, height=10,
                             fill=COLOURS.get(name, COLOURS["bar"])))
            parts.append(_el("text", translate(name), x=x + 14, y=height - 5))
            x += 14 + 8 * len(name) + 16
    return _svg(width, height, parts)


def funnel(subjects: list[Subject], shown: dict[int, str], values, done) -> Chart:
    """How many subjects reached each step, by cohort."""
    unknown = _("not recorded")
    cohorts = sorted({_first(values, (s.id, "DX", "COHORT")) or unknown for s in subjects})
    reached = {c: Counter() for c in cohorts}
    for s in subjects:
        cohort = _first(values, (s.id, "DX", "COHORT")) or unknown
        status = shown[s.id]
        steps = {"screened": True,
                 "eligible": status in ("eligible", "signed") or status in _PAST_SIGNED,
                 "signed": status == "signed" or status in _PAST_SIGNED,
                 "enrolled": s.subject_number is not None,
                 "infused": _first(values, (s.id, "IF", "IFDAT")) is not None}
        for visit in FUNNEL[5:]:
            steps[visit] = visit in done.get(s.id, set())
        for step, ok in steps.items():
            reached[cohort][step] += bool(ok)
    series = {c: [reached[c][step] for step in FUNNEL] for c in cohorts}
    chart = Chart(_("Enrollment funnel"), _bars([translate(step) for step in FUNNEL], series),
                  [_("Step"), *cohorts, _("All")])
    for i, step in enumerate(FUNNEL):
        counts = [series[c][i] for c in cohorts]
        chart.rows.append([translate(step), *counts, sum(counts)])
    return chart


def compliance(schedules: dict[int, list]) -> Chart:
    """Visits by month of their target date: on time, late (outside the window), missed."""
    by_month: dict[str, Counter] = defaultdict(Counter)
    for visits in schedules.values():
        for v in visits:
            if v.target is None:
                continue
            kind = {"done": "on time", "done out of window": "late",
                    "missed": "missed"}.get(v.status)
            if kind:
                by_month[v.target.strftime("%Y-%m")][kind] += 1
    months = sorted(by_month)
    kinds = ("on time", "late", "missed")
    chart = Chart(_("Visit compliance by month"), _bars(
        months, {k: [by_month[m][k] for m in months] for k in kinds}),
        [_("Month"), *(translate(k) for k in kinds)])
    chart.rows = [[m, *(by_month[m][k] for k in kinds)] for m in months]
    return chart


def _grade_onset(values, subject: Subject, form: str, date_item: str, grade_item: str,
                 infusion: date | None) -> tuple[int, int | None]:
    """(maximum grade, day of the first assessment with grade ≥ 1 after infusion)."""
    dates = {(e, r, fr): v for e, r, fr, v in values.get((subject.id, form, date_item), [])}
    worst, onset = 0, None
    for e, r, fr, v in values.get((subject.id, form, grade_item), []):
        grade = int(float(v)) if v and v.replace(".", "", 1).isdigit() else 0
        worst = max(worst, grade)
        day = dates.get((e, r, fr))
        if grade >= 1 and day and infusion:
            d = (date.fromisoformat(day) - infusion).days
            onset = d if onset is None else min(onset, d)
    return worst, onset


def toxicity(subjects: list[Subject], values) -> tuple[Chart, dict]:
    """CRS and ICANS: the maximum grade of each subject and the day of onset."""
    events = {}
    table = []
    for s in subjects:
        infused = _first(values, (s.id, "IF", "IFDAT"))
        if not infused:
            continue
        infusion = date.fromisoformat(infused)
        crs = _grade_onset(values, s, "CRS", "CRSDAT", "CRSGR", infusion)
        icans = _grade_onset(values, s, "ICANS", "ICDAT", "ICANSGR", infusion)
        events[s.id] = {"CRS": crs[1], "ICANS": icans[1]}
        table.append([s.label, crs[0], _day(crs[1]), icans[0], _day(icans[1])])
    labels = [r[0] for r in table]
    chart = Chart(_("CRS and ICANS: maximum ASTCT grade per subject"), _bars(
        labels, {"CRS": [r[1] for r in table], "ICANS": [r[3] for r in table]}),
        [_("Subject"), _("CRS max grade"), _("CRS onset (day)"), _("ICANS max grade"),
         _("ICANS onset (day)")], table)
    return chart, events


def adverse_events(values) -> Chart:
    grades = Counter()
    for (_subject, form, item), rows in values.items():
        if (form, item) == ("AE", "AETOXGR"):
            grades.update(row[3] for row in rows)
    labels = [_("Grade %(g)s", g=g) for g in sorted(grades)]
    chart = Chart(_("Adverse events by CTCAE grade"), _bars(
        labels, {"bar": [grades[g] for g in sorted(grades)]}), [_("Grade"), _("Adverse events")])
    chart.rows = [[label, grades[g]] for label, g in zip(labels, sorted(grades), strict=True)]
    return chart


def swimmer(subjects: list[Subject], values, onsets: dict, *, width: int = 640) -> Chart:
    """One lane per infused subject from Day 0 to the last visit or today, with the onset of
    CRS and ICANS and the onset of each serious adverse event."""
    lanes = []
    for s in subjects:
        infused = _first(values, (s.id, "IF", "IFDAT"))
        if not infused:
            continue
        infusion = date.fromisoformat(infused)
        end = (local_today(s.site.timezone) - infusion).days
        saes = []
        serious = {(e, r, fr) for e, r, fr, v in values.get((s.id, "AE", "AESER"), [])
                   if v == "Y"}
        for e, r, fr, v in values.get((s.id, "AE", "AESTDAT"), []):
            if (e, r, fr) in serious and len(v) == 10:
                saes.append((date.fromisoformat(v) - infusion).days)
        lanes.append((s.label, max(end, 0), onsets.get(s.id, {}), sorted(saes)))
    longest = max([lane[1] for lane in lanes] or [1]) or 1
    left, row_h = 110, 20
    scale = (width - left - 20) / longest
    height = row_h * len(lanes) + 40
    parts = []
    for i, (label, days, onset, saes) in enumerate(lanes):
        y = 10 + i * row_h
        parts.append(_el("text", label, x=left - 6, y=y + 11, text_anchor="end"))
        lane = _("%(subject)s: day %(day)d", subject=label, day=days)
        parts.append(_el("rect", _el("title", lane), x=left, y=y + 3,
                         width=f"{days * scale:.1f}", height=8, fill="#cbd5e1"))
        for name, day in (("CRS", onset.get("CRS")), ("ICANS", onset.get("ICANS"))):
            if day is not None:
                title = _("%(name)s onset, day %(day)d", name=name, day=day)
                parts.append(_el("circle", _el("title", title),
                                 cx=f"{left + day * scale:.1f}", cy=y + 7, r=5,
                                 fill=COLOURS[name]))
        for day in saes:
            x = left + day * scale
            parts.append(_el("path", _el("title", _("SAE onset, day %(day)d", day=day)),
                             d=f"M{x:.1f} {y} l5 7 l-5 7 l-5 -7 z", fill=COLOURS["SAE"]))
    axis_y = height - 22
    parts.append(_el("text", _("Day 0 (infusion)"), x=left, y=axis_y + 12))
    parts.append(_el("text", _("Day %(day)d", day=longest), x=width - 20, y=axis_y + 12,
                     text_anchor="end"))
    rows = [[label, days, _day(onset.get("CRS")), _day(onset.get("ICANS")),
             ", ".join(str(d) for d in saes) or "—"] for label, days, onset, saes in lanes]
    return Chart(_("Follow-up of every infused subject (swimmer plot)"),
                 _svg(width, height, parts, 11),
                 [_("Subject"), _("Days since infusion"), _("CRS onset (day)"),
                  _("ICANS onset (day)"), _("SAE onsets (day)")], rows)


def _day(day: int | None) -> int | str:
    return "—" if day is None else day


def build() -> list[Chart]:
    subjects = list(db.session.scalars(select(Subject).order_by(Subject.site_id, Subject.id)))
    ids = [s.id for s in subjects]
    values = _values(ids, {"DX": ("COHORT",), "IF": ("IFDAT",),
                           "CRS": ("CRSDAT", "CRSGR"), "ICANS": ("ICDAT", "ICANSGR"),
                           "AE": ("AETOXGR", "AESER", "AESTDAT")})
    shown = progress.statuses(subjects)
    schedules = {s.id: visit_schedule(s) for s in subjects if s.subject_number}
    done = {sid: {v.event for v in visits if v.status.startswith("done")}
            for sid, visits in schedules.items()}
    tox, onsets = toxicity(subjects, values)
    return [funnel(subjects, shown, values, done), compliance(schedules), tox,
            adverse_events(values), swimmer(subjects, values, onsets)]

