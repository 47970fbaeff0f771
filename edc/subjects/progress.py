"""Where each subject is, as site staff name it: the status shown (screening, eligible, signed,
enrolled, treated, follow-up, died, …) and the facts of the subject header shown on every
subject page. Read only; computed from the stored status, the eligibility rules, the
investigator's signature and the death form, never stored twice."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from flask_babel import lazy_gettext as _l
from sqlalchemy import select

from edc import signatures
from edc.clock import local_today
from edc.extensions import db
from edc.i18n import language
from edc.models import FormData, ItemData, Subject, SubjectStatus
from forms import scores

# status shown -> (words, colour class); the order is the path through the study
SHOWN: dict[str, tuple[str, str]] = {
    "screening": (_l("Screening"), "st-screening"),
    "eligible": (_l("Eligible, awaiting the investigator's signature"), "st-eligible"),
    "signed": (_l("Eligible and signed, ready to enroll"), "st-signed"),
    "screen_failed": (_l("Screen failed"), "st-failed"),
    "enrolled": (_l("Enrolled"), "st-enrolled"),
    "treated": (_l("Treated (CAR-T infused)"), "st-treated"),
    "follow_up": (_l("Follow-up"), "st-follow-up"),
    "ltfu": (_l("Long-term follow-up"), "st-follow-up"),
    "withdrawn": (_l("Withdrawn"), "st-withdrawn"),
    "completed": (_l("Completed"), "st-completed"),
    "died": (_l("Died"), "st-died"),
}


def _died(subject_ids: list[int]) -> set[int]:
    if not subject_ids:
        return set()
    return set(db.session.scalars(select(FormData.subject_id).where(
        FormData.form_oid == "DTH", FormData.subject_id.in_(subject_ids))))


def statuses(subjects: list[Subject]) -> dict[int, str]:
    """The status shown for each subject: one query for deaths and one for signatures; the
    eligibility rules run for the subjects still in screening."""
    from edc.eligibility.services import evaluate_subject

    died = _died([s.id for s in subjects])
    eligible = [s.id for s in subjects if s.id not in died
                and s.status == SubjectStatus.SCREENING
                and evaluate_subject(s)["status"] == "eligible"]
    signed = signatures.live(eligible, "eligibility")
    out = {}
    for s in subjects:
        if s.id in died:
            out[s.id] = "died"
        elif s.id in eligible:
            out[s.id] = "signed" if s.id in signed else "eligible"
        else:
            out[s.id] = s.status
    return out


@dataclass(frozen=True)
class Header:
    """The facts on top of every page of a subject."""

    status: str
    cohort: str | None
    sex: str | None
    age: int | None
    infusion: date | None
    day: int | None  # days since the infusion (Day 0), at the site's today


def _screening_values(subject: Subject) -> dict[tuple[str, str], str]:
    rows = db.session.execute(select(ItemData.form_oid, ItemData.item_oid, ItemData.value).where(
        ItemData.subject_id == subject.id, ItemData.removed.is_(False),
        ItemData.event_repeat == 1, ItemData.form_repeat == 1,
        ((ItemData.form_oid == "DX") & (ItemData.item_oid == "COHORT"))
        | ((ItemData.form_oid == "DM") & ItemData.item_oid.in_(("SEX", "BRTHDAT")))
        | ((ItemData.form_oid == "IC") & (ItemData.item_oid == "RFICDAT"))
        | ((ItemData.form_oid == "IF") & (ItemData.item_oid == "IFDAT"))))
    return {(f, i): v for f, i, v in rows}


def header(subject: Subject) -> Header:
    """Status, cohort, sex, age at consent (years; the date of birth is not shown) and the
    day since infusion."""
    from forms.study_build import BUILD

    values = _screening_values(subject)
    born, consent = values.get(("DM", "BRTHDAT")), values.get(("IC", "RFICDAT"))
    age = None
    if born and consent and len(born) == 10 and len(consent) == 10:  # not a partial date
        age = scores.age_years(date.fromisoformat(born), date.fromisoformat(consent))
    infused = values.get(("IF", "IFDAT"))
    infusion = date.fromisoformat(infused) if infused else None
    today = local_today(subject.site.timezone)
    cohort = values.get(("DX", "COHORT"))
    sex = values.get(("DM", "SEX"))
    lang = language()
    return Header(
        status=statuses([subject])[subject.id],
        cohort=BUILD.codelists["COHORT"].label(cohort, lang) if cohort else None,
        sex=BUILD.codelists["SEX"].label(sex, lang) if sex else None,
        age=age, infusion=infusion,
        day=(today - infusion).days if infusion else None)
