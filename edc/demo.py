"""Synthetic demo subjects spread over the study's stages (`edc demo`).

Every value goes through the same services as a site's work: the save service for entries,
the signature service for the investigator's checklist signature and the enrollment gate for
enrollment. A subject past enrollment is loaded at its own dates: each step runs on its
simulated business day (``clock.simulated_day``), so its screening values were inside their
windows on the day it was enrolled. The audit trail records the real time of every entry:
the history is entered now, with historical dates in the data, never in the trail.

``screening_forms`` is also what the tests use to build an eligible subject of each cohort.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pyotp

from audit import Actor
from edc import clock, signatures
from edc.crf.checks import subject_lookup
from edc.crf.services import read_form, save_form
from edc.eligibility import enrollment
from edc.eligibility.services import TARGET
from edc.models import Site, Subject, User
from edc.subjects.services import create_subject
from forms import scores
from forms.samples import sample_form
from forms.study_build import BUILD, bvas_name

COHORTS = ("SLE", "SSC", "IIM", "AAV")
_FOLLOW_UP = [f"D{d}" for d in range(1, 15)] + ["D21", "D28"]
_TREATMENT = ["APHER", "LD", "INF"]


@dataclass(frozen=True)
class Stage:
    name: str
    cohort: str
    screening: str  # consent | partial | ineligible | eligible
    signed: bool = False
    enrolled: bool = False
    since_infusion: int | None = None  # days since infusion today (None: not infused yet)
    events: tuple[str, ...] = ()


PLAN = [
    Stage("consented", "SLE", "consent"),
    Stage("in screening", "SSC", "partial"),
    Stage("not eligible", "IIM", "ineligible"),
    *(Stage("screening complete", c, "eligible") for c in COHORTS),
    Stage("eligibility signed", "AAV", "eligible", signed=True),
    Stage("enrolled", "SLE", "eligible", True, True),
    Stage("apheresis", "SSC", "eligible", True, True, None, ("APHER",)),
    Stage("lymphodepletion", "IIM", "eligible", True, True, 0, ("APHER", "LD")),
    Stage("day 7", "AAV", "eligible", True, True, 7, (*_TREATMENT, *_FOLLOW_UP[:7])),
    Stage("day 28", "SLE", "eligible", True, True, 30, (*_TREATMENT, *_FOLLOW_UP)),
    Stage("month 6", "SSC", "eligible", True, True, 185,
          (*_TREATMENT, *_FOLLOW_UP, "M2", "M3", "M6")),
    Stage("month 12", "IIM", "eligible", True, True, 370,
          (*_TREATMENT, *_FOLLOW_UP, "M2", "M3", "M6", "M9", "M12")),
    Stage("year 3", "AAV", "eligible", True, True, 365 * 3 + 20,
          (*_TREATMENT, *_FOLLOW_UP, "M2", "M3", "M6", "M9", "M12", "M18", "M24", "Y3")),
]


def _iso(day: date) -> str:
    return day.isoformat()


def _cohort_forms(cohort: str, ref: date) -> tuple[dict, dict]:
    """(DX, DA) values that meet the cohort's criteria at reference date ``ref``."""
    da = {"DADAT": _iso(ref - timedelta(days=8))}
    if cohort == "SLE":
        dx = {"ANA80": "Y", "SLE14": "Y", "SLE17": "Y", "SLE21": "Y"}
        da |= {"SLEDAI09": "Y", "SLEDAI13": "Y", "SLEDAI20": "Y", "SLEDAI21": "Y",
               "BXDAT": _iso(ref - timedelta(days=60)), "LNCLASS": "IV",
               "NIHA01": "2", "NIHA02": "1", "NIHA03": "1", "NIHA04": "1", "NIHA05": "0",
               "NIHA06": "1", "NIHC01": "1", "NIHC02": "0", "NIHC03": "1", "NIHC04": "0",
               "UPCR": "2.3"}
    elif cohort == "SSC":
        dx = {"SUBTYPE": "DIFFUSE", "SSC01": "Y", "SSC10": "Y", "SSC12": "Y"}
        da |= {f"MRSS{i:02d}": str((1, 2, 2, 1)[i % 4]) for i in range(1, 18)}
        da |= {"MRSSPRI": "18", "MRSSPDAT": _iso(ref - timedelta(days=200)), "FVC": "70",
               "FVCPRI": "80", "DLCO": "55", "DLCOPRI": "62", "HRCTGGO": "Y"}
    elif cohort == "IIM":
        dx = {"SUBTYPE": "DM", "IIMAGE": "38", "IIMBX": "N", "IIM01": "Y", "IIM05": "Y",
              "IIM06": "Y", "IIM09": "Y", "IIM10": "Y"}
        da |= {f"MMT{i:02d}": "8" for i in range(1, 16)}
        da |= {"PHGA": "5", "PTGA": "6", "EXTRAMUS": "3", "HAQDI": "1.2", "ALDOL": "12",
               "ALDOLULN": "7.6", "ILDPROG": "N"}
    else:  # AAV
        dx = {"SUBTYPE": "MPA", "AAV13": "Y", "AAV14": "Y"}
        # BVAS v3 new/worse: general 3 (capped), renal 12 (capped), chest 4: 19
        da |= {"ANCATYPE": "MPO", "BVASPERS": "N"} | {bvas_name(k): "Y" for k in (
            "myalgia", "fever", "weight_loss", "haematuria", "proteinuria", "creatinine_125",
            "infiltrate")}
    return {"COHORT": cohort, "DXDAT": _iso(ref - timedelta(days=8 * 365)), "GILBERT": "N",
            **dx}, da


def screening_forms(cohort: str, ref: date, *, rank: int = 0, complete: str = "eligible"
                    ) -> list[tuple[str, int, dict]]:
    """The screening forms of a subject of ``cohort`` who is eligible at ``ref`` (the planned
    enrollment date), as (form, row, values) in entry order. ``complete``: ``consent`` (consent
    only), ``partial`` (consent, demography, diagnosis, labs), ``ineligible`` (HBsAg positive
    with HBV DNA above its limit: EX-08) or ``eligible``."""
    d = lambda days: _iso(ref - timedelta(days=days))  # noqa: E731
    dx, da = _cohort_forms(cohort, ref)
    forms: list[tuple[str, int, dict]] = [
        ("IC", 1, {"RFICDAT": d(20), "ICFVER": "v2.1", "COMPLY": "Y", "CONTRAC": "Y"}),
        ("DM", 1, {"INITIALS": "".join(chr(65 + (rank * k) % 26) for k in (3, 7, 11)),
                   "BRTHDAT": _iso(date(1975 + rank % 20, 1 + rank % 12, 10)), "SEX": "F",
                   "CHILDPOT": "Y", "HEIGHT": "162", "WEIGHT": "58"}),
        ("DX", 1, dx),
        ("LB", 1, {"LBDAT": d(10), "ANC": "2.1", "CSF14D": "N", "WBC": "4.8", "ALC": "1.2",
                   "PLT": "210", "HGB": "105", "ALT": "28", "ALTULN": "40", "AST": "25",
                   "ASTULN": "40", "BILI": "9", "BILIULN": "21", "CREAT": "68",
                   "CREATU": "umol/L", "CK": "2400" if cohort == "IIM" else "120",
                   "CKULN": "200", "LDH": "220", "LDHULN": "250", "TXMYO": "N",
                   "CRCLACUT": "N"}),
    ]
    if complete == "consent":
        return forms[:1]
    if complete == "partial":
        return forms
    forms += [
        ("PT", 1, {"PTAGENT": "PREDNISONE", "PTSTDAT": d(900), "PTRESP": "INEFFECTIVE"}),
        ("PT", 2, {"PTAGENT": "CYCLOPHOSPHAMIDE", "PTSTDAT": d(800), "PTENDAT": d(500),
                   "PTLSTDAT": d(500), "PTRESP": "INEFFECTIVE"}),
        ("PT", 3, {"PTAGENT": "MYCOPHENOLATE_MOFETIL", "PTSTDAT": d(480), "PTENDAT": d(60),
                   "PTLSTDAT": d(60), "PTRESP": "INEFFECTIVE"}),
        ("FC", 1, {"FCDAT": d(10), "CD19POS": "Y", "CD19PCT": "9.5"}),
        ("PG", 1, {"PGDAT": d(3), "PGTYPE": "SERUM", "PGRES": "NEG", "LACTAT": "N"}),
        ("SR", 1, {"SRDAT": d(10), "HBSAG": "NEG", "HBCAB": "NEG", "HCVAB": "NEG",
                   "HIVAB": "NEG", "SYPH": "NEG"}),
        ("EC", 1, {"ECDAT": d(10), "ECOG": "1"}),
        ("DA", 1, da),
        ("EX", 1, {f"EX{n:02d}": "N" for n in (1, 2, 3, 4, 5, 7, 9, 12, 13)}),
    ]
    if complete == "ineligible":
        forms = [(f, r, {**v, "HBSAG": "POS", "HBVDNA": "5000", "HBVULN": "20"}
                  if f == "SR" else v) for f, r, v in forms]
    return forms


def enter_screening(subject: Subject, forms, *, actor: Actor, today: date) -> None:
    for form_oid, row, values in forms:
        save_form(subject, "SCREEN", form_oid, values, version=0, actor=actor,
                  form_repeat=row, today=today)


# The demo investigator's second factor (README): add it to an authenticator app, or compute
# the code with ``python -c "import pyotp; print(pyotp.TOTP('<secret>').now())"``. A demo
# value, printed by ``edc demo``; real accounts each enrol their own.
DEMO_PI_TOTP_SECRET = "DEMOPISIGNSWITHTOTPSECRET2345672"  # noqa: S105 - the demo's, public


def fill_subject(site: Site, rank: int, *, crc: User, pi: User, pi_password: str,
                 today: date) -> str:
    """Register a synthetic subject at ``site`` and take it to its stage of the plan."""
    stage = PLAN[rank % len(PLAN)]
    crc_actor = Actor.for_user(crc, source="cli")
    if stage.since_infusion is None:
        infusion = today + timedelta(days=30)
    elif stage.since_infusion == 0:  # lymphodepletion running: infusion in five days
        infusion = today + timedelta(days=5)
    else:
        infusion = today - timedelta(days=stage.since_infusion)
    # enrolled a few days ago (apheresis the day after), at least two weeks before infusion
    enrolled_on = (min(today - timedelta(days=3), infusion - timedelta(days=14))
                   if stage.enrolled else today)
    forms = screening_forms(stage.cohort, enrolled_on, rank=rank, complete=stage.screening)
    consent = date.fromisoformat(forms[0][2]["RFICDAT"])
    with clock.simulated_day(consent):
        subject = create_subject(site, actor=crc_actor, created_by_id=crc.id)
    with clock.simulated_day(enrolled_on):
        enter_screening(subject, forms, actor=crc_actor, today=enrolled_on)
    if stage.signed:
        with clock.simulated_day(enrolled_on):
            signatures.sign(subject, TARGET, user=pi, username=pi.username,
                            password=pi_password, code=pyotp.TOTP(pi.totp_secret).now(),
                            actor=Actor.for_user(pi, source="cli"))
    if stage.enrolled:
        with clock.simulated_day(enrolled_on):
            enrollment.enroll(subject, user=crc, actor=crc_actor)
    _treatment_and_follow_up(subject, stage, rank, infusion, enrolled_on, crc_actor, today)
    if stage.name == "month 6":  # a screening value corrected after enrollment: a deviation
        with clock.simulated_day(today):
            version = read_form(subject, "SCREEN", "LB").version
            save_form(subject, "SCREEN", "LB", {"HGB": "58"}, version=version,
                      actor=crc_actor, reason="Updated source document: haemoglobin "
                      "re-read from the screening laboratory report", today=today)
    return stage.name


def _as_prescribed(subject: Subject) -> dict[str, str]:
    derived = read_form(subject, "LD", "LD").derived
    doses = scores.lymphodepletion_doses(float(derived["BSA"]), float(derived["CRCL"]))
    return {"FLUADM": f"{doses['flu_mg']:.1f}", "CYADM": f"{doses['cy_mg']:.1f}"}


def _treatment_and_follow_up(subject, stage: Stage, rank: int, infusion: date,
                             enrolled_on: date, actor: Actor, today: date) -> None:
    for event_oid in stage.events:
        event = BUILD.event(event_oid)
        if event.day is None:  # apheresis: the day after enrollment
            on = enrolled_on + timedelta(days=1)
        else:
            on = infusion + timedelta(days=event.day)
            if stage.name == "day 28" and event_oid == "D21":
                on += timedelta(days=4)  # seen late: outside the ±2-day window, a deviation
        if on > today:
            continue
        for form_oid in event.forms:
            form = BUILD.form(form_oid)
            values = sample_form(form, on=on, rank=rank, lookup=subject_lookup(subject))
            rows = 3 if form.repeating else 1
            for row in range(1, rows + 1):
                row_day = on + timedelta(days=row - 1)
                if row_day > today:
                    break
                if form.repeating and form.date_item:
                    values = {**values, form.date_item: row_day.isoformat()}
                if form_oid == "LDD":  # given as prescribed
                    values = {**values, **_as_prescribed(subject), "LDDEVR": ""}
                with clock.simulated_day(row_day):
                    save_form(subject, event_oid, form_oid, values, version=0, actor=actor,
                              form_repeat=row, today=row_day)
    if stage.since_infusion is not None and stage.since_infusion >= 7:
        with clock.simulated_day(infusion + timedelta(days=5)):
            save_form(subject, "LOG", "AE", {
                "AETERM": "Cytokine release syndrome",
                "AESTDAT": (infusion + timedelta(days=1)).isoformat(),
                "AEENDAT": (infusion + timedelta(days=4)).isoformat(), "AETOXGR": "1",
                "AESER": "N", "AERELCT": "RELATED", "AESI": "CRS", "AEOUT": "RECOVERED"},
                version=0, actor=actor, form_repeat=1, today=infusion + timedelta(days=5))
