"""Synthetic demo subjects spread over the study's stages (`edc demo`).

Every value goes through the same save service as a coordinator's entry, so the demo data
carry their audit trail, edit-check flags and derived values.
"""

from __future__ import annotations

from datetime import date, timedelta

from audit import Actor
from edc.crf.services import save_form
from edc.models import Subject
from forms.samples import sample_form
from forms.study_build import BUILD

# (stage, days since infusion today, or None before infusion; events entered)
_FOLLOW_UP = [f"D{d}" for d in range(1, 15)] + ["D21", "D28"]
STAGES = [
    ("consented", None, ["SCREEN:IC"]),
    ("in screening", None, ["SCREEN:IC", "SCREEN:DM", "SCREEN:DX", "SCREEN:LB"]),
    ("screening complete", None, ["SCREEN"]),
    ("apheresis", None, ["SCREEN", "APHER"]),
    ("lymphodepletion", 0, ["SCREEN", "APHER", "LD"]),
    ("day 7", 7, ["SCREEN", "APHER", "LD", "INF", *_FOLLOW_UP[:7]]),
    ("day 28", 30, ["SCREEN", "APHER", "LD", "INF", *_FOLLOW_UP]),
    ("month 6", 185, ["SCREEN", "APHER", "LD", "INF", *_FOLLOW_UP, "M2", "M3", "M6"]),
    ("month 12", 370, ["SCREEN", "APHER", "LD", "INF", *_FOLLOW_UP, "M2", "M3", "M6", "M9",
                       "M12"]),
    ("year 3", 365 * 3 + 20, ["SCREEN", "APHER", "LD", "INF", *_FOLLOW_UP, "M2", "M3", "M6",
                              "M9", "M12", "M18", "M24", "Y3"]),
]


def _dates(days_since_infusion: int | None, today: date) -> tuple[date, date]:
    """(screening date, infusion date) for a stage."""
    if days_since_infusion is None:
        return today - timedelta(days=5), today + timedelta(days=30)
    infusion = today - timedelta(days=days_since_infusion)
    if days_since_infusion == 0:  # lymphodepletion running: infusion in five days
        infusion = today + timedelta(days=5)
    return infusion - timedelta(days=25), infusion


def fill_subject(subject: Subject, rank: int, *, actor: Actor, today: date) -> str:
    stage, since, entries = STAGES[rank % len(STAGES)]
    screening, infusion = _dates(since, today)
    for entry in entries:
        event_oid, _, only = entry.partition(":")
        event = BUILD.event(event_oid)
        on = infusion + timedelta(days=event.day) if event.day is not None else screening
        if on > today:
            continue
        for form_oid in ([only] if only else event.forms):
            form = BUILD.form(form_oid)
            values = sample_form(form, on=on, rank=rank)
            if form_oid == "IC":
                values["RFICDAT"] = (screening - timedelta(days=1)).isoformat()
            elif form_oid == "DM":
                values["BRTHDAT"] = date(1960 + rank % 30, 1 + rank % 12, 10).isoformat()
                values["INITIALS"] = "".join(chr(65 + (rank * k) % 26) for k in (3, 7, 11))
            rows = 3 if form.repeating else 1
            for row in range(1, rows + 1):
                row_day = on + timedelta(days=row - 1)
                if row_day > today:
                    break
                if form.repeating and form.date_item:
                    values = {**values, form.date_item: row_day.isoformat()}
                save_form(subject, event_oid, form_oid, values, version=0, actor=actor,
                          form_repeat=row, today=today)
    if since is not None and since >= 7:
        save_form(subject, "LOG", "AE", {
            "AETERM": "Cytokine release syndrome", "AESTDAT": (infusion + timedelta(days=1))
            .isoformat(), "AEENDAT": (infusion + timedelta(days=4)).isoformat(),
            "AETOXGR": "1", "AESER": "N", "AERELCT": "RELATED", "AESI": "CRS",
            "AEOUT": "RECOVERED"}, version=0, actor=actor, form_repeat=1, today=today)
    return stage
