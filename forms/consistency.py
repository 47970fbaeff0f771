"""Checks across items, forms and derived values that a clinician expects, as metadata.

Each check names its form and the item its message belongs to, whether it refuses the save
(``hard``) or saves and flags (soft), and its condition over the form's values (derived ones
included) and the other forms it reads. The save service runs them after the derivations; the
data dictionary lists them. Conditions are pure: ``Others`` is how they read other forms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Protocol

from forms import scores
from forms.study_build import SERIOUSNESS_ITEMS
from forms.text import N_, Message


class Others(Protocol):
    def visit(self, form: str, item: str) -> str | None:
        """An item of another form of the same visit (event and visit number)."""

    def subject(self, form: str, item: str) -> str | None:
        """An item of a subject-level form (the plan of lymphodepletion, a death record)."""


Values = dict[str, str | None]


@dataclass(frozen=True)
class Check:
    id: str
    form: str
    item: str
    text: str  # what the check says, for the data dictionary
    message: Callable[[Values, Others], str | None]  # the message when it fires, else None
    hard: bool = False


def _dec(value: str | None) -> Decimal | None:
    try:
        return Decimal(value) if value not in (None, "") else None
    except ArithmeticError:
        return None


def _positive(value: str | None) -> bool:
    number = _dec(value)
    return number is not None and number > 0


VASOPRESSORS = ("one_vasopressor", "multiple_vasopressors")


def _cytokine_not_marked(v: Values, _o: Others) -> str | None:
    if (_positive(v.get("TOCIDOSE")) or _positive(v.get("STERDOSE"))) and \
            v.get("TREATED") != "Y":
        return Message("a tocilizumab or corticosteroid dose is recorded, but anti-cytokine "
                       "therapy given is not Yes")
    return None


def _vasopressor_grade_0(v: Values, o: Others) -> str | None:
    on_form = v.get("HYPOTEN") in VASOPRESSORS
    on_vitals = o.visit("VS", "VASOPR") in ("one", "multiple")
    if v.get("CRSGR") == "0" and (on_form or on_vitals):
        if on_form:
            return Message("vasopressors are recorded on this form, but the CRS grade is 0 "
                           "(no fever?)")
        return Message("vasopressors are recorded on the vital signs of this visit, but the "
                       "CRS grade is 0 (no fever?)")
    return None


def _vitals_vasopressor_grade_0(v: Values, o: Others) -> str | None:
    if v.get("VASOPR") in ("one", "multiple") and o.visit("CRS", "CRSGR") == "0":
        return Message("vasopressors recorded, but the CRS assessment of this visit is grade 0")
    return None


def _serious_without_criteria(v: Values, _o: Others) -> str | None:
    ticked = [i for i in SERIOUSNESS_ITEMS if v.get(i) == "Y"]
    # metadata 1.0/1.1 recorded the criteria as free text (AESERCR)
    if v.get("AESER") == "Y" and not ticked and not v.get("AESERCR"):
        return Message("serious, but no seriousness criterion is ticked")
    if v.get("AESER") == "N" and ticked:
        return Message("not serious, but a seriousness criterion is ticked")
    return None


def _grade_5_without_death(v: Values, o: Others) -> str | None:
    if v.get("AETOXGR") == "5" and not o.subject("DTH", "DTHDAT"):
        return Message("grade 5 (death related to the AE), but there is no death record "
                       "(DTH form)")
    return None


def _crcl_stop(v: Values, _o: Others) -> str | None:
    crcl = _dec(v.get("CRCL"))
    if crcl is not None and crcl < 30:
        return Message("CrCl %(crcl)s mL/min is below 30: fludarabine must not be given (hard "
                       "stop); the prescribed fludarabine dose is 0", crcl=str(crcl))
    return None


def _fludarabine_stop(v: Values, o: Others) -> str | None:
    if _dec(v.get("FLUPRE")) == 0 or _crcl_stop({"CRCL": o.subject("LD", "CRCL")}, o):
        return Message("CrCl below 30 mL/min: fludarabine must not be given (hard stop)")
    return None


def _fludarabine_given_despite_stop(v: Values, o: Others) -> str | None:
    if _positive(v.get("FLUADM")) and _fludarabine_stop(v, o):
        return Message("fludarabine was given although CrCl is below 30 mL/min")
    return None


def _dose_deviation(v: Values, _o: Others) -> str | None:
    """Administered differs from prescribed by more than 10 %: the reason is required."""
    if (v.get("LDDEVR") or "").strip():
        return None
    found = []
    for drug, pre, adm in (("fludarabine", "FLUPRE", "FLUADM"),
                           ("cyclophosphamide", "CYPRE", "CYADM")):
        p, a = _dec(v.get(pre)), _dec(v.get(adm))
        if p is None or a is None:
            continue
        if scores.dose_needs_reason(float(p), float(a)):
            pct = scores.dose_deviation_pct(float(p), float(a))
            shown = "any amount" if pct == float("inf") else f"{pct:+.1f} %"
            found.append(f"{drug} {a} mg against {p} mg prescribed ({shown})")
    if found:
        return Message("administered differs from prescribed by more than 10 %% (%(doses)s): "
                       "give the reason for the dose deviation", doses="; ".join(found))
    return None


def _birth_after_consent(v: Values, o: Others) -> str | None:
    consent, birth = o.subject("IC", "RFICDAT"), v.get("BRTHDAT")
    if consent and birth and birth >= consent:
        return Message("is not before informed consent (%(date)s)", date=consent)
    return None


def _lot_mismatch(v: Values, o: Others) -> str | None:
    lot, apheresis = v.get("LOTNO"), o.subject("AP", "LOTNO")
    if lot and apheresis and lot != apheresis:
        return Message("does not match the apheresis product lot (%(lot)s)", lot=apheresis)
    return None


def _lymphodepletion_gap(v: Values, o: Others) -> int | None:
    day, start = v.get("IFDAT"), o.subject("LD", "LDSTDAT")
    if not day or not start:
        return None
    return (date.fromisoformat(day) - date.fromisoformat(start)).days


def _infusion_before_lymphodepletion_ended(v: Values, o: Others) -> str | None:
    gap = _lymphodepletion_gap(v, o)
    if gap is not None and gap < 3:
        return Message("is before lymphodepletion ended (started %(start)s; infusion is "
                       "planned on day 5 after)", start=o.subject("LD", "LDSTDAT"))
    return None


def _infusion_off_plan(v: Values, o: Others) -> str | None:
    gap = _lymphodepletion_gap(v, o)
    if gap is not None and gap >= 3 and not 4 <= gap <= 6:
        return Message("is %(days)d days after the start of lymphodepletion (%(start)s); the "
                       "plan is 5 ± 1", days=gap, start=o.subject("LD", "LDSTDAT"))
    return None


def _implausible_age(v: Values, o: Others) -> str | None:
    birth = v.get("BRTHDAT")
    if not birth:
        return None
    on = o.subject("IC", "RFICDAT")
    if not on:
        return None
    age = scores.age_years(date.fromisoformat(birth), date.fromisoformat(on))
    if not 18 <= age <= 100:
        return Message("gives an age of %(age)d years at consent: check the birth date", age=age)
    return None


CHECKS: tuple[Check, ...] = (
    Check("CC-DM-1", "DM", "BRTHDAT", N_("Birth date not before informed consent"),
          _birth_after_consent, hard=True),
    Check("CC-DM-2", "DM", "BRTHDAT", N_("Age at consent outside 18–100 years (an implausible "
          "birth date, or not an adult)"), _implausible_age),
    Check("CC-IF-1", "IF", "LOTNO", N_("Infusion product lot differs from the apheresis lot"),
          _lot_mismatch, hard=True),
    Check("CC-IF-2", "IF", "IFDAT", N_("Infusion before lymphodepletion ended (less than 3 days "
          "after its start)"), _infusion_before_lymphodepletion_ended, hard=True),
    Check("CC-IF-3", "IF", "IFDAT", N_("Infusion not 5 ± 1 days after the start of "
          "lymphodepletion"), _infusion_off_plan),
    Check("CC-CRS-1", "CRS", "TREATED", N_("Tocilizumab or corticosteroid dose recorded while "
          "anti-cytokine therapy given is not Yes"), _cytokine_not_marked),
    Check("CC-CRS-2", "CRS", "CRSGR", N_("Vasopressors recorded (this form or the visit's vital "
          "signs) with CRS grade 0"), _vasopressor_grade_0),
    Check("CC-VS-1", "VS", "VASOPR", N_("Vasopressors recorded while the visit's CRS assessment "
          "is grade 0"), _vitals_vasopressor_grade_0),
    Check("CC-AE-1", "AE", "AESER", N_("Serious AE without a seriousness criterion (or a "
          "criterion ticked for a non-serious AE)"), _serious_without_criteria),
    Check("CC-AE-2", "AE", "AETOXGR", N_("AE of grade 5 without a death record"),
          _grade_5_without_death),
    Check("CC-LD-1", "LD", "CRCL", N_("CrCl below 30 mL/min: fludarabine must not be given "
          "(hard stop)"), _crcl_stop),
    Check("CC-LDD-1", "LDD", "FLUPRE", N_("Fludarabine prescribed 0 because CrCl is below 30 "
          "mL/min"), _fludarabine_stop),
    Check("CC-LDD-2", "LDD", "FLUADM", N_("Fludarabine administered despite the CrCl hard stop"),
          _fludarabine_given_despite_stop),
    Check("CC-LDD-3", "LDD", "LDDEVR", N_("Administered dose differs from prescribed by more "
          "than 10 % without a reason"), _dose_deviation, hard=True),
)


def items_of(form_oid: str) -> frozenset[str]:
    """The items of a form that carry a consistency check's message."""
    return frozenset(c.item for c in CHECKS if c.form == form_oid)


def run(form_oid: str, values: Values, others: Others, *, skip=frozenset()
        ) -> tuple[dict[str, str], dict[str, str]]:
    """(errors, warnings) by item for a form's values (entered and derived); items in
    ``skip`` (refused already) are not checked again."""
    errors: dict[str, str] = {}
    warnings: dict[str, str] = {}
    for check in CHECKS:
        if check.form != form_oid or check.item in skip:
            continue
        message = check.message(values, others)
        if message:
            (errors if check.hard else warnings).setdefault(check.item, message)
    return errors, warnings
