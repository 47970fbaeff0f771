"""Safety views computed from the entered data: ICAHT grades after infusion and the 24-hour
clock of serious adverse events.

Nothing here is stored: both are read from the item values each time they are shown, so
they follow every correction. Reads go through the ORM session, so the data-layer site scope
applies.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from edc.clock import utcnow
from edc.extensions import db
from edc.models import ItemData, Subject
from forms import scores
from forms.values import quantity

REPORT_HOURS = 24
_ABOVE = Decimal("0.001")  # a result above a limit is more than the limit


def _infusion(subject: Subject) -> date | None:
    value = db.session.scalar(select(ItemData.value).where(
        *ItemData.of(subject.id, "INF", "IF"), ItemData.item_oid == "IFDAT",
        ItemData.removed.is_(False)))
    return date.fromisoformat(value) if value else None


def icaht(subject: Subject) -> dict | None:
    """Early and late ICAHT (EHA/EBMT 2023) from the ANC of every laboratory form after the
    infusion (None before the infusion). ANC is entered in 10⁹/L and graded per µL; a result
    below a quantification limit leaves the grade open between two values."""
    infusion = _infusion(subject)
    if infusion is None:
        return None
    rows = db.session.execute(select(ItemData.event_oid, ItemData.event_repeat,
                                     ItemData.item_oid, ItemData.value).where(
        ItemData.subject_id == subject.id, ItemData.form_oid == "LB",
        ItemData.event_oid != "SCREEN", ItemData.item_oid.in_(("LBDAT", "ANC")),
        ItemData.removed.is_(False)))
    samples: dict[tuple[str, int], dict[str, str]] = defaultdict(dict)
    for event, repeat, item, value in rows:
        samples[(event, repeat)][item] = value
    by_day: dict[int, tuple[float, float]] = {}
    for values in samples.values():
        if not values.get("LBDAT") or not values.get("ANC"):
            continue
        day = (date.fromisoformat(values["LBDAT"]) - infusion).days
        q = quantity(values["ANC"]).scaled(1000)
        low, high = q.bounds()
        if q.qualifier == ">":
            low += _ABOVE
        span = (float(low), float("inf") if high is None else float(high))
        if day in by_day:  # two samples on one day: the lower count
            span = (min(span[0], by_day[day][0]), min(span[1], by_day[day][1]))
        by_day[day] = span
    if not any(d >= 0 for d in by_day):
        return {"early": None, "late": None, "measurements": 0,
                "rule_version": f"icaht {scores.RULE_VERSIONS['icaht']}"}
    result = scores.icaht(by_day)
    onset = next((d for d in sorted(by_day) if d >= 0 and by_day[d][0] <= 500), None)
    return {**result, "measurements": sum(1 for d in by_day if d >= 0),
            "onset": (infusion + timedelta(days=onset)).isoformat() if onset is not None
            else None, "rule_version": f"icaht {scores.RULE_VERSIONS['icaht']}"}


def grade_text(span: tuple[int, int] | None) -> str:
    if span is None:
        return "not assessable yet"
    low, high = span
    return f"grade {low}" if low == high else f"grade {low}–{high}"


def icaht_offer(subject: Subject) -> dict | None:
    """What the adverse-event form offers when ICAHT reaches grade 3 or more: term, grade,
    onset and special interest, for the site to confirm and save."""
    result = icaht(subject)
    if not result or result["early"] is None:
        return None
    phase, span = max((("early", result["early"]), ("late", result["late"] or (0, 0))),
                      key=lambda p: p[1][1])
    if span[1] < 3:
        return None
    return {"AETERM": f"Immune effector cell-associated haematotoxicity (ICAHT), {phase}",
            "AETOXGR": str(min(span[1], 5)), "AESTDAT": result.get("onset") or "",
            "AESI": "ICAHT", "grade": grade_text(span), "phase": phase,
            "rule_version": result["rule_version"]}


# SAE 24-hour clock ------------------------------------------------------------------------

_SAE_ITEMS = ("AETERM", "AESER", "AESAWDAT", "AESAWTIM", "AESRPDAT", "AESRPTIM")


@dataclass
class SaeClock:
    subject_id: int
    subject_label: str
    row: int
    term: str
    timezone: str
    aware_at: datetime | None  # naive UTC
    reported_at: datetime | None
    now: datetime

    @property
    def deadline(self) -> datetime | None:
        return self.aware_at + timedelta(hours=REPORT_HOURS) if self.aware_at else None

    @property
    def status(self) -> str:
        """reported / reported late / due / overdue / awareness time missing"""
        if self.aware_at is None:
            return "awareness time missing"
        if self.reported_at is not None:
            return "reported late" if self.reported_at > self.deadline else "reported"
        return "overdue" if self.now > self.deadline else "due"

    @property
    def hours_left(self) -> float | None:
        """Hours to the deadline (negative once overdue); None once reported."""
        if self.deadline is None or self.reported_at is not None:
            return None
        return round((self.deadline - self.now).total_seconds() / 3600, 1)

    @property
    def overdue(self) -> bool:
        return self.status in ("overdue", "reported late")

    def as_json(self) -> dict:
        def iso(t):
            return t.strftime("%Y-%m-%dT%H:%M:%SZ") if t else None

        return {"subject_id": self.subject_id, "subject": self.subject_label, "row": self.row,
                "term": self.term, "aware_at_utc": iso(self.aware_at),
                "deadline_utc": iso(self.deadline), "reported_at_utc": iso(self.reported_at),
                "status": self.status, "hours_left": self.hours_left,
                "overdue": self.overdue}


def _utc(day: str | None, clock: str | None, tz: str) -> datetime | None:
    """A site-local date and time as naive UTC (a missing time is the start of the day)."""
    if not day:
        return None
    local = datetime.combine(date.fromisoformat(day), time.fromisoformat(clock or "00:00"),
                             ZoneInfo(tz))
    return local.astimezone(ZoneInfo("UTC")).replace(tzinfo=None)


def sae_clocks(subject: Subject | None = None) -> list[SaeClock]:
    """The serious adverse events of one subject, or of every subject the caller's sites
    hold, with their reporting clock; overdue first, then by deadline."""
    stmt = select(ItemData.subject_id, ItemData.form_repeat, ItemData.item_oid,
                  ItemData.value).where(
        ItemData.event_oid == "LOG", ItemData.form_oid == "AE",
        ItemData.item_oid.in_(_SAE_ITEMS), ItemData.removed.is_(False))
    if subject is not None:
        stmt = stmt.where(ItemData.subject_id == subject.id)
    rows: dict[tuple[int, int], dict[str, str]] = defaultdict(dict)
    for subject_id, repeat, item, value in db.session.execute(stmt):
        rows[(subject_id, repeat)][item] = value
    serious = {k: v for k, v in rows.items() if v.get("AESER") == "Y"}
    if not serious:
        return []
    subjects = {s.id: s for s in db.session.scalars(select(Subject).options(
        selectinload(Subject.site)).where(Subject.id.in_({k[0] for k in serious})))}
    now = utcnow()
    out = []
    for (subject_id, repeat), v in sorted(serious.items()):
        s = subjects[subject_id]
        tz = s.site.timezone
        out.append(SaeClock(subject_id, s.label, repeat, v.get("AETERM", ""), tz,
                            _utc(v.get("AESAWDAT"), v.get("AESAWTIM"), tz),
                            _utc(v.get("AESRPDAT"), v.get("AESRPTIM"), tz), now))
    order = {"overdue": 0, "awareness time missing": 1, "due": 2, "reported late": 3,
             "reported": 4}
    return sorted(out, key=lambda c: (order[c.status], c.deadline or now))
