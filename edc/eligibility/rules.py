"""Eligibility criteria of shared/spec/eligibility.md as pure functions over entered data.

Each criterion evaluates to met / not_met / missing / not_applicable with the evidence it
used and the items it read. Settings (windows, washout half-lives, clarifications C-1 and
C-2) are data with a version (``Settings``); the rule version names it. ``Evaluation`` holds
the common inclusion criteria IN-01…IN-06 and the exclusions EX-01…EX-13,
``CohortEvaluation`` the criteria of the four cohorts; ``failing`` and ``decide`` turn the
results into the verdict.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta

from forms import medications, scores
from forms.values import DateSpan, Quantity, date_span, quantity

RULES_VERSION = "eligibility-1"

MET, NOT_MET, MISSING, NA = "met", "not_met", "missing", "not_applicable"


@dataclass(frozen=True)
class Settings:
    """Study settings the rules read (versioned data; changes are audited elsewhere)."""

    version: str = "settings-1"
    screening_window_days: int = 28
    hcg_window_days: int = 7
    malignancy_years: int = 5
    other_trial_months: int = 3
    # medication code -> half-life in hours (5 half-lives, rounded up to whole days)
    half_life_hours: Mapping[str, float] = field(
        default_factory=medications.reference_half_lives)
    antimalarials_count_for_washout: bool = False  # clarification C-2
    iim_either_refractory_or_progressive: bool = True  # clarification C-1

    STORED = ("screening_window_days", "hcg_window_days", "malignancy_years",
              "other_trial_months", "half_life_hours", "antimalarials_count_for_washout",
              "iim_either_refractory_or_progressive")

    @property
    def clarifications(self) -> dict[str, str]:
        """The protocol clarifications in force, as the checklist shows them."""
        return {
            "C-1": "IIM: the protocol's \"criterion 4 or 5\" is read as " + (
                "IIM-3 or IIM-4 (one is enough)" if self.iim_either_refractory_or_progressive
                else "IIM-3 and IIM-4 (both needed)"),
            "C-2": "Antimalarials " + ("count" if self.antimalarials_count_for_washout
                                       else "do not count") + " for the EX-11 washout",
        }

    def as_dict(self) -> dict:
        """The stored form (JSON-ready; the version is kept beside it)."""
        out = {name: getattr(self, name) for name in self.STORED}
        out["half_life_hours"] = dict(sorted(self.half_life_hours.items()))
        return out

    @classmethod
    def from_dict(cls, version: int, data: Mapping) -> Settings:
        """Settings of a stored version. Versions written before the medication dictionary
        keyed the half-lives by name; each name is read as the agent the dictionary gives
        it (a name it does not know stays as it is and matches no code)."""
        values = {name: data[name] for name in cls.STORED if name in data}
        if "half_life_hours" in values:
            values["half_life_hours"] = {
                (medications.get(str(k).upper()) or medications.resolve(str(k))
                 or medications.Medication(str(k), None, str(k), "", "supportive")).code: h
                for k, h in values["half_life_hours"].items()}
        return cls(version=f"settings-{version}", **values)


@dataclass
class Result:
    id: str
    result: str
    evidence: dict = field(default_factory=dict)
    missing: str | None = None  # for `missing`: exactly what is absent or out of window
    # (form, item) pairs the criterion read, in order; ("PT", "*") for the prior-treatment log
    sources: list[tuple[str, str]] = field(default_factory=list)


Getter = Callable[[str, str], str | None]  # (form, item) -> value of the screening event


def _d(value: str | None) -> date | None:
    return date.fromisoformat(value) if value else None


def _f(value: str | None) -> float | None:
    return float(value) if value not in (None, "") else None


def _q(value: str | None) -> Quantity | None:
    """A laboratory result, possibly beyond a limit of quantification (``<20``)."""
    return quantity(value)


def _span(value: str | None) -> DateSpan | None:
    """A history date, possibly partial (``2019-03-UN``)."""
    return date_span(value)


def _as_text(q: Quantity) -> str | float:
    return float(q.low) if q.exact else q.text


def age_years(birth: date, on: date) -> int:
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def months_before(day: date, months: int) -> date:
    """The same day ``months`` calendar months earlier, clamped to the month's end."""
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    month += 1
    following = date(year + (month == 12), month % 12 + 1, 1)
    return date(year, month, min(day.day, (following - timedelta(days=1)).day))


def five_half_lives_days(hours: float) -> int:
    return math.ceil(5 * hours / 24)


def guarded(rid: str | None = None):
    """A criterion whose inputs are out of a formula's domain (a birth date after consent, a
    zero upper limit) is `missing` with the reason, never an error of the whole checklist.
    ``rid`` names the criterion; without it the method's first argument does."""
    def wrap(method):
        @functools.wraps(method)
        def run(self, *args, **kwargs):
            try:
                return method(self, *args, **kwargs)
            except (ValueError, ArithmeticError, TypeError) as exc:
                return self._result(rid or args[0], MISSING,
                                    missing=f"cannot be evaluated from the entered values "
                                            f"({exc})")
        return run
    return wrap


class Evaluation:
    """Evaluates the criteria for one subject at a reference date."""

    def __init__(self, get: Getter, prior_treatments: list[dict], reference: date,
                 settings: Settings | None = None):
        self.pt = prior_treatments
        self.ref = reference
        self.s = settings or Settings()
        self._reads: list[tuple[str, str]] = []

        def tracked(form: str, item: str):
            self._reads.append((form, item))
            return get(form, item)

        self.get = tracked

    def _result(self, *args, **kwargs) -> Result:
        """A criterion's result, carrying the items it read since the previous result."""
        result = Result(*args, **kwargs)
        result.sources = list(dict.fromkeys(self._reads))
        self._reads.clear()
        return result

    def _prior_treatments(self) -> list[dict]:
        self._reads.append(("PT", "*"))
        return self.pt

    # helpers ---------------------------------------------------------------------------
    def _lab_window(self, form: str, date_item: str) -> tuple[date | None, str | None]:
        """The sample date if inside the screening window, else why it is missing."""
        day = _d(self.get(form, date_item))
        if day is None:
            return None, f"{form}.{date_item} is not entered"
        earliest = self.ref - timedelta(days=self.s.screening_window_days)
        if day < earliest or day > self.ref:
            return None, (f"{form}.{date_item} {day.isoformat()} is outside the screening "
                          f"window ({earliest.isoformat()} to {self.ref.isoformat()})")
        return day, None

    def _need(self, rid: str, *items: tuple[str, str]) -> Result | None:
        absent = [f"{f}.{i}" for f, i in items if self.get(f, i) in (None, "")]
        if absent:
            return self._result(rid, MISSING, missing=", ".join(absent) + " not entered")
        return None

    @guarded()
    def _x_uln(self, rid: str, value_item: str, uln_item: str, limit: float,
               exempt: bool = False, note: str = "") -> Result:
        day, why = self._lab_window("LB", "LBDAT")
        if why:
            return self._result(rid, MISSING, missing=why)
        if (r := self._need(rid, ("LB", value_item), ("LB", uln_item))):
            return r
        value, uln = _q(self.get("LB", value_item)), _f(self.get("LB", uln_item))
        if uln <= 0:
            raise ValueError("the upper limit of normal must be above 0")
        evidence = {"value": _as_text(value), "uln": uln, "limit_x_uln": limit,
                    "sample_date": day.isoformat()}
        if value.exact:
            evidence["x_uln"] = round(float(value.low) / uln, 2)
        within = value.at_most(limit * uln)
        if within:
            return self._result(rid, MET, evidence)
        if exempt:
            evidence["exemption"] = note
            return self._result(rid, MET, evidence)
        if within is None:
            return self._result(rid, MISSING, evidence, missing=(
                f"LB.{value_item} {value} cannot be compared with {limit} × ULN ({uln}): "
                "confirm the value with the laboratory"))
        return self._result(rid, NOT_MET, evidence)

    # inclusion ---------------------------------------------------------------------------
    @guarded("IN-01")
    def in01(self) -> Result:
        if (r := self._need("IN-01", ("DM", "BRTHDAT"), ("IC", "RFICDAT"))):
            return r
        age = age_years(_d(self.get("DM", "BRTHDAT")), _d(self.get("IC", "RFICDAT")))
        return self._result("IN-01", MET if age >= 18 else NOT_MET, {"age": age})

    @guarded("IN-02")
    def in02(self) -> Result:
        day, why = self._lab_window("FC", "FCDAT")
        if why:
            return self._result("IN-02", MISSING, missing=why)
        if (r := self._need("IN-02", ("FC", "CD19POS"))):
            return r
        positive = self.get("FC", "CD19POS") == "Y"
        return self._result("IN-02", MET if positive else NOT_MET,
                            {"CD19POS": self.get("FC", "CD19POS"), "sample_date": day.isoformat()})

    @guarded("IN-03a")
    def in03a(self) -> Result:
        day, why = self._lab_window("LB", "LBDAT")
        if why:
            return self._result("IN-03a", MISSING, missing=why)
        if (r := self._need("IN-03a", ("LB", "ANC"), ("LB", "CSF14D"))):
            return r
        anc, csf = _q(self.get("LB", "ANC")), self.get("LB", "CSF14D") == "Y"
        evidence = {"ANC": _as_text(anc), "unit": "10^9/L", "CSF_in_14_days": csf,
                    "sample_date": day.isoformat()}
        enough = anc.at_least(1.0)
        if csf or enough is False:
            return self._result("IN-03a", NOT_MET, evidence)
        if enough is None:
            return self._result("IN-03a", MISSING, evidence, missing=(
                f"LB.ANC {anc} cannot be compared with 1.0 ×10⁹/L: confirm the count"))
        return self._result("IN-03a", MET, evidence)

    @guarded("IN-03b")
    def in03b(self) -> Result:
        day, why = self._lab_window("LB", "LBDAT")
        if why:
            return self._result("IN-03b", MISSING, missing=why)
        if (r := self._need("IN-03b", ("LB", "HGB"))):
            return r
        hgb = _q(self.get("LB", "HGB"))
        evidence = {"HGB": _as_text(hgb), "unit": "g/L", "sample_date": day.isoformat()}
        enough = hgb.at_least(60)
        if enough is None:
            return self._result("IN-03b", MISSING, evidence, missing=(
                f"LB.HGB {hgb} cannot be compared with 60 g/L: confirm the value"))
        return self._result("IN-03b", MET if enough else NOT_MET, evidence)

    def _myo_exempt(self) -> bool:
        return self.get("DX", "COHORT") == "IIM" and self.get("LB", "TXMYO") == "Y"

    @guarded("IN-03c")
    def in03c(self) -> Result:
        return self._x_uln("IN-03c", "ALT", "ALTULN", 3, self._myo_exempt(),
                           "rise attributed to myositis (IIM)")

    @guarded("IN-03d")
    def in03d(self) -> Result:
        return self._x_uln("IN-03d", "AST", "ASTULN", 3, self._myo_exempt(),
                           "rise attributed to myositis (IIM)")

    @guarded("IN-03e")
    def in03e(self) -> Result:
        gilbert = self.get("DX", "GILBERT") == "Y"
        return self._x_uln("IN-03e", "BILI", "BILIULN", 3.0 if gilbert else 1.5)

    @guarded("IN-03f")
    def in03f(self) -> Result:
        day, why = self._lab_window("LB", "LBDAT")
        if why:
            return self._result("IN-03f", MISSING, missing=why)
        if (r := self._need("IN-03f", ("LB", "CREAT"), ("LB", "CREATU"), ("DM", "BRTHDAT"),
                            ("IC", "RFICDAT"), ("DM", "SEX"), ("DM", "WEIGHT"))):
            return r
        age = age_years(_d(self.get("DM", "BRTHDAT")), _d(self.get("IC", "RFICDAT")))
        crcl = scores.crcl_cockcroft_gault(age, _f(self.get("DM", "WEIGHT")),
                                           _f(self.get("LB", "CREAT")), self.get("LB", "CREATU"),
                                           self.get("DM", "SEX"))
        evidence = {"CrCl": round(crcl, 1), "unit": "mL/min", "age": age,
                    "creatinine": f"{self.get('LB', 'CREAT')} {self.get('LB', 'CREATU')}",
                    "rule": scores.RULE_VERSIONS["crcl"], "sample_date": day.isoformat()}
        if crcl >= 30:
            return self._result("IN-03f", MET, evidence)
        acute = self.get("LB", "CRCLACUT") == "Y"
        if acute and self.get("DX", "COHORT") != "SLE":
            evidence["exemption"] = "acute fall attributed to the target disease"
            return self._result("IN-03f", MET, evidence)
        return self._result("IN-03f", NOT_MET, evidence)

    @guarded("IN-04")
    def in04(self) -> Result:
        day, why = self._lab_window("EC", "ECDAT")
        if why:
            return self._result("IN-04", MISSING, missing=why)
        if (r := self._need("IN-04", ("EC", "ECOG"))):
            return r
        ecog = int(self.get("EC", "ECOG"))
        return self._result("IN-04", MET if ecog <= 1 else NOT_MET,
                            {"ECOG": ecog, "date": day.isoformat()})

    @guarded("IN-05")
    def in05(self) -> Result:
        if (r := self._need("IN-05", ("DM", "SEX"))):
            return r
        sex = self.get("DM", "SEX")
        wocbp = sex == "F" and self.get("DM", "CHILDPOT") == "Y"
        partner = sex == "M" and self.get("DM", "PARTPOT") == "Y"
        flag = ("DM", "CHILDPOT") if sex == "F" else ("DM", "PARTPOT")
        if (r := self._need("IN-05", flag)):
            return r
        if not (wocbp or partner):
            return self._result("IN-05", NA, {"reason": "no childbearing potential concerned"})
        if (r := self._need("IN-05", ("IC", "CONTRAC"))):
            return r
        evidence = {"agrees_contraception": self.get("IC", "CONTRAC")}
        if self.get("IC", "CONTRAC") != "Y":
            return self._result("IN-05", NOT_MET, evidence)
        if not wocbp:
            evidence["hcg"] = "not applicable"
            return self._result("IN-05", MET, evidence)
        if (r := self._need("IN-05", ("PG", "PGDAT"), ("PG", "PGRES"), ("PG", "LACTAT"))):
            return r
        test = _d(self.get("PG", "PGDAT"))
        age_days = (self.ref - test).days
        evidence.update({"hcg_date": test.isoformat(), "hcg_days_before": age_days,
                         "hcg": self.get("PG", "PGRES"), "lactating": self.get("PG", "LACTAT")})
        if not 0 <= age_days <= self.s.hcg_window_days:
            return self._result("IN-05", MISSING, evidence,
                                missing=f"PG.PGDAT {test.isoformat()} is not 0–"
                                  f"{self.s.hcg_window_days} days before the reference date")
        ok = self.get("PG", "PGRES") == "NEG" and self.get("PG", "LACTAT") == "N"
        return self._result("IN-05", MET if ok else NOT_MET, evidence)

    @guarded("IN-06")
    def in06(self) -> Result:
        if (r := self._need("IN-06", ("IC", "RFICDAT"), ("IC", "COMPLY"))):
            return r
        consent = _d(self.get("IC", "RFICDAT"))
        procedures = {f"{f}.{i}": _d(self.get(f, i)) for f, i in (
            ("LB", "LBDAT"), ("FC", "FCDAT"), ("PG", "PGDAT"), ("SR", "SRDAT"),
            ("EC", "ECDAT"))}
        before = {k: v.isoformat() for k, v in procedures.items() if v and v < consent}
        evidence = {"consent": consent.isoformat(), "comply": self.get("IC", "COMPLY"),
                    "procedures_before_consent": before}
        ok = not before and self.get("IC", "COMPLY") == "Y"
        return self._result("IN-06", MET if ok else NOT_MET, evidence)

    # exclusion ---------------------------------------------------------------------------
    @guarded()
    def _judgement(self, rid: str) -> Result:
        item = rid.replace("-", "")
        if (r := self._need(rid, ("EX", item))):
            return r
        return self._result(rid, MET if self.get("EX", item) == "Y" else NOT_MET,
                            {"investigator": self.get("EX", item)})

    @guarded("EX-06")
    def ex06(self) -> Result:
        malig = _span(self.get("EX", "MALIGDAT"))
        if malig is None:
            return self._result("EX-06", NOT_MET, {"malignancy": "none recorded"})
        limit = months_before(self.ref, 12 * self.s.malignancy_years)
        evidence = {"diagnosed": malig.text, "within_years": self.s.malignancy_years,
                    "window_starts_after": limit.isoformat()}
        if not malig.exact:
            evidence["partial_date"] = ("counted as inside the window if any day it may "
                                        "denote is inside")
        return self._result("EX-06", MET if malig.latest > limit else NOT_MET, evidence)

    @guarded("EX-08")
    def ex08(self) -> Result:
        if (r := self._need("EX-08", ("SR", "HBSAG"), ("SR", "HBCAB"), ("SR", "HCVAB"),
                            ("SR", "HIVAB"), ("SR", "SYPH"))):
            return r
        g = {k: self.get("SR", k) for k in ("HBSAG", "HBCAB", "HCVAB", "HIVAB", "SYPH",
                                           "HBVDNA", "HBVULN", "HCVRNA")}
        reasons = []
        if g["HBSAG"] == "POS" or g["HBCAB"] == "POS":
            if g["HBVDNA"] is None or g["HBVULN"] is None:
                return self._result("EX-08", MISSING, g, missing="SR.HBVDNA and SR.HBVULN are "
                                    "needed when HBsAg or HBcAb is positive")
            within = _q(g["HBVDNA"]).at_most(float(g["HBVULN"]))
            if within is None:
                return self._result("EX-08", MISSING, g, missing=(
                    f"SR.HBVDNA {g['HBVDNA']} cannot be compared with its upper limit "
                    f"{g['HBVULN']} IU/mL: confirm the result"))
            if not within:
                reasons.append("HBV DNA above ULN with a positive HBV marker")
        if g["HCVAB"] == "POS":
            if g["HCVRNA"] is None:
                return self._result("EX-08", MISSING, g,
                                    missing="SR.HCVRNA is needed when HCV antibody is positive")
            if g["HCVRNA"] == "DETECTED":
                reasons.append("HCV RNA detectable")
        if g["HIVAB"] == "POS":
            reasons.append("HIV antibody positive")
        if g["SYPH"] == "POS":
            reasons.append("syphilis test positive")
        return self._result("EX-08", MET if reasons else NOT_MET, {**g, "findings": reasons})

    @guarded("EX-10")
    def ex10(self) -> Result:
        trial = _span(self.get("EX", "TRIALDAT"))
        if trial is None:
            return self._result("EX-10", NOT_MET, {"other_trial": "none recorded"})
        months = self.s.other_trial_months
        limit = months_before(self.ref, months)
        evidence = {"last_participation": trial.text, "within_months": months,
                    "window_starts_after": limit.isoformat()}
        if not trial.exact:
            evidence["partial_date"] = ("counted as inside the window if any day it may "
                                        "denote is inside")
        return self._result("EX-10", MET if trial.latest > limit else NOT_MET, evidence)

    @guarded("EX-11")
    def ex11(self) -> Result:
        """Reads each prior treatment's coded agent, never a typed name. An agent the
        washout table has no half-life for (an OTHER agent, an uncoded row of an older
        metadata version, a coded agent without one) is `missing` until the investigator
        records a washout judgement for that row; it never counts as clear."""
        hits, unknown, judged = [], [], []
        for n, row in enumerate(self._prior_treatments(), 1):
            med = medications.get(row.get("PTAGENT"))
            name = med.en if med else (row.get("PTAGOTH") or row.get("PTAGENT")
                                       or "an agent not entered")
            label = f"{name} (PT row {n})"
            if med is not None and not med.ex11:
                continue  # not an immunosuppressant or biologic (glucocorticoids, G-CSF, …)
            if med is not None and med.cls == "antimalarial" and \
                    not self.s.antimalarials_count_for_washout:
                continue  # clarification C-2
            hours = self.s.half_life_hours.get(med.code) if med else None
            judgement = row.get("PTWOJ")
            if hours is None:
                if judgement == "NOT_COMPLETE":
                    hits.append({"agent": name, "row": n, "investigator": judgement})
                elif judgement in ("COMPLETE", "NOT_IS"):
                    judged.append({"agent": name, "row": n, "investigator": judgement})
                else:
                    unknown.append(f"confirm the washout of {label}: no half-life in the "
                                   "washout table; record the investigator's judgement "
                                   "(PT.PTWOJ)")
                continue
            last = _span(row.get("PTLSTDAT") or row.get("PTENDAT"))
            if last is None:
                unknown.append(f"last dose date of {label} (PT.PTLSTDAT)")
                continue
            clear = last.latest + timedelta(days=five_half_lives_days(hours))
            if clear >= self.ref:
                hits.append({"agent": name, "row": n, "last_dose": last.text,
                             "washout_until": clear.isoformat()})
        evidence = {"within_washout": hits, "judged_by_investigator": judged}
        if hits:
            return self._result("EX-11", MET, {**evidence, "unresolved": unknown})
        if unknown:
            return self._result("EX-11", MISSING, evidence, missing="; ".join(unknown))
        return self._result("EX-11", NOT_MET, evidence)

    def common(self) -> list[Result]:
        inclusion = [self.in01(), self.in02(), self.in03a(), self.in03b(), self.in03c(),
                     self.in03d(), self.in03e(), self.in03f(), self.in04(), self.in05(),
                     self.in06()]
        exclusion = [self._judgement(f"EX-{n:02d}") for n in (1, 2, 3, 4, 5)]
        exclusion += [self.ex06(), self._judgement("EX-07"), self.ex08(),
                      self._judgement("EX-09"), self.ex10(), self.ex11(),
                      self._judgement("EX-12"), self._judgement("EX-13")]
        exclusion.sort(key=lambda r: r.id)
        return inclusion + exclusion


# Cohort criteria ------------------------------------------------------------------------------

SIX_MONTHS_DAYS = 183
BIOPSY_DAYS = 183


class CohortEvaluation(Evaluation):
    """Adds the criteria of the subject's cohort (SLE, SSC, IIM, AAV)."""

    @guarded()
    def _classified(self, rid: str, accepted) -> Result:
        if (r := self._need(rid, ("DX", "CLRESULT"), ("DX", "CLSCORE"))):
            return r
        result = self.get("DX", "CLRESULT")
        ok = bool(set(result.split(", ")) & set(accepted))
        evidence = {"score": self.get("DX", "CLSCORE"), "result": result}
        if ok and rid in ("IIM-1", "AAV-1") and not self.get("DX", "SUBTYPE"):
            return self._result(rid, MISSING, evidence, missing="DX.SUBTYPE not entered")
        return self._result(rid, MET if ok else NOT_MET, evidence)

    @guarded()
    def _threshold(self, rid: str, item: str, test, text: str) -> Result:
        if (r := self._need(rid, ("DA", item))):
            return r
        value = _f(self.get("DA", item))
        return self._result(rid, MET if test(value) else NOT_MET, {item: value, "rule": text})

    @guarded()
    def _refractory(self, rid: str, *, require_cyc: bool) -> Result:
        """Conventional treatment by the agents' dictionary classes: glucocorticoids, and an
        immunomodulator (cyclophosphamide counts, except for SLE, which needs it as well).
        An uncoded agent may be either, so when it could decide the result the criterion
        is `missing`; so is a six-month course that partial dates leave in doubt."""
        if not self._prior_treatments():
            return self._result(rid, MISSING, missing="no prior treatment rows (PT) entered")
        rows, uncoded = [], []
        for n, row in enumerate(self._prior_treatments(), 1):
            med = medications.get(row.get("PTAGENT"))
            if med is None:
                uncoded.append(f"PT row {n} ({row.get('PTAGOTH') or row.get('PTAGENT')})")
            start = _span(row.get("PTSTDAT"))
            end = _span(row.get("PTENDAT")) or _span(row.get("PTLSTDAT")) or \
                DateSpan(self.ref, self.ref, self.ref.isoformat())
            shortest = (end.earliest - start.latest).days if start else None
            longest = (end.latest - start.earliest).days if start else None
            rows.append((med, shortest, longest, row.get("PTRESP"), n))
        classes = {m.cls for m, *_ in rows if m}
        gc = "glucocorticoid" in classes
        cyc = any(m and m.code == "CYCLOPHOSPHAMIDE" for m, *_ in rows)
        others = medications.IMMUNOMODULATOR_CLASSES - ({"alkylating"} if require_cyc
                                                         else set())
        im = bool(classes & others)
        evidence = {"glucocorticoids": gc, "cyclophosphamide": cyc, "immunomodulator": im,
                    "treatments": [{"agent": m.code if m else None, "row": n,
                                    "days_at_least": lo, "response": r}
                                   for m, lo, _, r, n in rows]}
        if uncoded:
            evidence["uncoded"] = uncoded
        conventional = gc and im and (cyc or not require_cyc)
        if not conventional:
            if uncoded:
                return self._result(rid, MISSING, evidence, missing=(
                    "code the agent of " + ", ".join(uncoded) + " (medication dictionary): "
                    "it may be the conventional treatment this criterion needs"))
            return self._result(rid, NOT_MET, evidence)
        counted = medications.IMMUNOMODULATOR_CLASSES
        relapse = any(r == "RELAPSE" for *_, r, _ in rows)
        courses = [(m, lo, hi) for m, lo, hi, r, _ in rows
                   if r == "INEFFECTIVE" and lo is not None and (m is None or m.cls in counted)]
        if relapse or any(m is not None and lo >= SIX_MONTHS_DAYS for m, lo, _ in courses):
            return self._result(rid, MET, evidence)
        if any(hi >= SIX_MONTHS_DAYS for _, _, hi in courses):
            return self._result(rid, MISSING, evidence, missing=(
                "whether an ineffective course lasted 6 months: its partial dates or its "
                "uncoded agent leave it open; give full dates or code the agent"))
        return self._result(rid, NOT_MET, evidence)

    # SLE
    def sle(self) -> list[Result]:
        return [self._classified("SLE-1", ("classified",)),
                self._threshold("SLE-2", "SLEDAI", lambda v: v >= 8, "SLEDAI-2K ≥ 8"),
                self._sle3(), self._refractory("SLE-4", require_cyc=True)]

    @guarded("SLE-3")
    def _sle3(self) -> Result:
        if (r := self._need("SLE-3", ("DA", "BXDAT"), ("DA", "LNCLASS"), ("DA", "NIHACT"),
                            ("DA", "NIHCHR"))):
            return r
        biopsy = _d(self.get("DA", "BXDAT"))
        days = (self.ref - biopsy).days
        evidence = {"biopsy_date": biopsy.isoformat(), "days_before": days,
                    "class": self.get("DA", "LNCLASS"), "activity": self.get("DA", "NIHACT"),
                    "chronicity": self.get("DA", "NIHCHR"), "UPCR_g_g": self.get("DA", "UPCR"),
                    "protein_24h_g": self.get("DA", "PROT24")}
        if not 0 <= days <= BIOPSY_DAYS:
            return self._result("SLE-3", MISSING, evidence,
                                missing=f"DA.BXDAT {biopsy.isoformat()} is more than 6 months "
                                  f"({BIOPSY_DAYS} days) before the reference date")
        upcr, prot = _f(self.get("DA", "UPCR")), _f(self.get("DA", "PROT24"))
        if upcr is None and prot is None:
            return self._result("SLE-3", MISSING, evidence,
                                missing="DA.UPCR or DA.PROT24 not entered")
        active = self.get("DA", "LNCLASS") in ("III", "IV", "III+V", "IV+V")
        ok = active and float(self.get("DA", "NIHACT")) > 2 and (
            (upcr or 0) > 1.0 or (prot or 0) > 1.0)
        return self._result("SLE-3", MET if ok else NOT_MET, evidence)

    # SSc
    def ssc(self) -> list[Result]:
        antibodies = [self.get("DX", f"SSC{n}") == "Y" for n in (11, 12, 13)]
        other = self.get("DA", "SSCABOTH")
        ssc2 = self._result("SSC-2", MET if any(antibodies) or other else NOT_MET,
                            {"anti_centromere_topo_rnap3": antibodies, "other": other})
        diffuse = self.get("DX", "SUBTYPE") == "DIFFUSE"
        ild = self.get("DA", "HRCTGGO") == "Y"
        ssc3 = self._result("SSC-3", MET if diffuse or ild else NOT_MET,
                            {"diffuse": diffuse, "hrct_ground_glass": ild})
        return [self._classified("SSC-1", ("classified",)), ssc2, ssc3,
                self._refractory("SSC-4", require_cyc=False), self._ssc5()]

    @guarded("SSC-5")
    def _ssc5(self) -> Result:
        g = {k: _f(self.get("DA", k)) for k in ("MRSS", "MRSSPRI", "FVC", "FVCPRI", "DLCO",
                                                "DLCOPRI")}
        findings, computable = [], False
        if g["MRSS"] is not None and g["MRSSPRI"]:
            computable = True
            if (g["MRSS"] - g["MRSSPRI"]) / g["MRSSPRI"] > 0.25:
                findings.append("mRSS increase > 25 %")
        if g["FVC"] is not None and g["FVCPRI"]:
            computable = True
            fvc_fall = (g["FVCPRI"] - g["FVC"]) / g["FVCPRI"]
            if fvc_fall >= 0.10:
                findings.append("FVC decrease ≥ 10 %")
            elif fvc_fall >= 0.05 and g["DLCO"] is not None and g["DLCOPRI"] and \
                    (g["DLCOPRI"] - g["DLCO"]) / g["DLCOPRI"] >= 0.15:
                findings.append("FVC decrease ≥ 5 % with DLCO decrease ≥ 15 %")
        if findings:
            return self._result("SSC-5", MET, {**g, "findings": findings})
        if not computable:
            return self._result("SSC-5", MISSING, g, missing="prior mRSS (DA.MRSSPRI) or prior FVC "
                                "(DA.FVCPRI) with current values")
        return self._result("SSC-5", NOT_MET, {**g, "findings": []})

    # IIM
    def iim(self) -> list[Result]:
        return [self._classified("IIM-1", ("probable", "definite")), self._iim2(),
                self._refractory("IIM-3", require_cyc=False), self._iim4()]

    @guarded("IIM-2")
    def _iim2(self) -> Result:
        if (r := self._need("IIM-2", ("DA", "MMT8"))):
            return r
        def at_least(item: str, limit: float) -> bool | None:
            value = _f(self.get("DA", item))
            return None if value is None else value >= limit

        enzymes = []
        for f, v, u in (("LB", "CK", "CKULN"), ("DA", "ALDOL", "ALDOLULN"),
                        ("LB", "LDH", "LDHULN"), ("LB", "ALT", "ALTULN"),
                        ("LB", "AST", "ASTULN")):
            value, uln = _q(self.get(f, v)), _f(self.get(f, u))
            if value is not None and uln:
                enzymes.append(value.at_least(1.5 * uln))
        enzyme = (True if any(e is True for e in enzymes) else
                  None if not enzymes or None in enzymes else False)
        core = {"physician_global": at_least("PHGA", 2), "patient_global": at_least("PTGA", 2),
                "extramuscular": at_least("EXTRAMUS", 2), "haq_di": at_least("HAQDI", 0.25),
                "enzyme_1_5_uln": enzyme}
        mmt8 = _f(self.get("DA", "MMT8"))
        evidence = {"MMT8": mmt8, "core_set": core}
        sure = sum(1 for v in core.values() if v is True)
        open_ = [k for k, v in core.items() if v is None]
        if mmt8 >= 142 or sure + len(open_) < 2:
            return self._result("IIM-2", NOT_MET, evidence)
        if sure >= 2:
            return self._result("IIM-2", MET, evidence)
        return self._result("IIM-2", MISSING, evidence, missing=(
            "core-set measures not entered or not comparable: " + ", ".join(open_)))

    @guarded("IIM-4")
    def _iim4(self) -> Result:
        if self.get("DA", "ILDPROG") == "Y":
            if not self.get("DA", "ILDDAT"):
                return self._result("IIM-4", MISSING, missing="DA.ILDDAT (HRCT/PFT evidence date)")
            return self._result("IIM-4", MET, {"attested": True, "evidence_date":
                                         self.get("DA", "ILDDAT")})
        return self._result("IIM-4", NOT_MET, {"attested": self.get("DA", "ILDPROG")})

    # AAV
    def aav(self) -> list[Result]:
        anca = self.get("DA", "ANCATYPE")
        aav2 = (self._result("AAV-2", MISSING, missing="DA.ANCATYPE not entered") if anca is None
                else self._result("AAV-2", MET if anca in ("MPO", "PR3") else NOT_MET,
                                  {"ANCA": anca}))
        return [self._classified("AAV-1", ("GPA", "MPA", "EGPA")), aav2,
                self._threshold("AAV-3", "BVAS", lambda v: v >= 15, "BVAS v3 ≥ 15"),
                self._refractory("AAV-4", require_cyc=False)]

    def cohort(self) -> tuple[list[Result], list[list[str]]]:
        """(results, groups of alternatives: one met is enough)."""
        match self.get("DX", "COHORT"):
            case "SLE":
                return self.sle(), []
            case "SSC":
                return self.ssc(), [["SSC-4", "SSC-5"]]
            case "IIM":
                either = self.s.iim_either_refractory_or_progressive  # clarification C-1
                return self.iim(), [["IIM-3", "IIM-4"]] if either else []
            case "AAV":
                return self.aav(), []
        return [self._result("COHORT", MISSING, missing="DX.COHORT not entered")], []


def failing(results: list[Result], alternatives: list[list[str]]) -> list[Result]:
    """The criteria that keep the subject from being eligible: a missing value, an inclusion
    not met, an exclusion met. A group of alternatives keeps the subject out only when none
    of it is met; then its missing members are named (they may still be met), or all of
    them when every one is not met."""
    grouped = {i for g in alternatives for i in g}
    out = [r for r in results if r.id not in grouped and (
        r.result == MISSING or r.result == (MET if r.id.startswith("EX-") else NOT_MET))]
    by_id = {r.id: r for r in results}
    for group in alternatives:
        members = [by_id[i] for i in group if i in by_id]
        if not any(m.result == MET for m in members):
            out.extend([m for m in members if m.result == MISSING] or members)
    return out


def decide(results: list[Result], alternatives: list[list[str]]) -> str:
    """eligible / not_eligible / not_evaluable. A definite failure makes the subject not
    eligible even when other values are still missing; otherwise anything missing makes the
    subject not evaluable."""
    blocking = failing(results, alternatives)
    if any(r.result != MISSING for r in blocking):
        return "not_eligible"
    return "not_evaluable" if blocking else "eligible"


def evaluate(get: Getter, prior_treatments: list[dict], reference: date,
             settings: Settings | None = None) -> dict:
    ev = CohortEvaluation(get, prior_treatments, reference, settings)
    common = ev.common()
    cohort, alternatives = ev.cohort()
    inclusion = [r for r in common if r.id.startswith("IN-")] + cohort
    exclusion = [r for r in common if r.id.startswith("EX-")]
    results = inclusion + exclusion
    c1 = "or" if ev.s.iim_either_refractory_or_progressive else "and"
    c2 = "counted" if ev.s.antimalarials_count_for_washout else "not counted"
    return {"status": decide(results, alternatives),
            "rule_version": f"{RULES_VERSION} ({ev.s.version}; C-1 IIM-3 {c1} IIM-4; "
                            f"C-2 antimalarials {c2})",
            "criteria": results, "alternatives": alternatives,
            "clarifications": ev.s.clarifications, "texts": criterion_texts(ev.s)}


_TEXTS: dict[str, str] = {
    "IN-01": "Age ≥ 18 years at consent",
    "IN-02": "CD19 expression on peripheral-blood B cells positive (flow cytometry; sample "
             "≤ {screening_window_days} days before enrollment)",
    "IN-03a": "ANC ≥ 1.0 ×10⁹/L without G-CSF/GM-CSF in the 14 days before the sample "
              "(sample ≤ {screening_window_days} days before enrollment)",
    "IN-03b": "Haemoglobin ≥ 60 g/L (sample ≤ {screening_window_days} days before enrollment)",
    "IN-03c": "ALT ≤ 3 × ULN (IIM: elevation attributed to myopathy exempt; sample ≤ "
              "{screening_window_days} days before enrollment)",
    "IN-03d": "AST ≤ 3 × ULN (IIM: elevation attributed to myopathy exempt; sample ≤ "
              "{screening_window_days} days before enrollment)",
    "IN-03e": "Total bilirubin ≤ 1.5 × ULN (≤ 3.0 × ULN with documented Gilbert syndrome; "
              "sample ≤ {screening_window_days} days before enrollment)",
    "IN-03f": "CrCl ≥ 30 mL/min (Cockcroft–Gault); acute disease-related fall exempt except "
              "in lupus nephritis (sample ≤ {screening_window_days} days before enrollment)",
    "IN-04": "ECOG performance status 0 or 1 (assessed ≤ {screening_window_days} days before "
             "enrollment)",
    "IN-05": "Contraception agreed; for a woman of childbearing potential a negative HCG "
             "0–{hcg_window_days} days before enrollment and not lactating",
    "IN-06": "Informed consent signed before every screening procedure; willing to comply",
    "SLE-1": "2019 EULAR/ACR SLE classification (ANA ≥ 1:80, score ≥ 10)",
    "SLE-2": "SLEDAI-2K ≥ 8",
    "SLE-3": "Renal biopsy ≤ 6 months: active class III/IV (± V), NIH activity > 2; UPCR > 1.0 "
             "g/g or 24-h protein > 1.0 g",
    "SLE-4": "Relapsed/refractory after glucocorticoids, cyclophosphamide and another "
             "immunomodulator",
    "SSC-1": "2013 ACR/EULAR SSc classification (score ≥ 9)",
    "SSC-2": "Scleroderma-related antibody positive",
    "SSC-3": "Diffuse cutaneous SSc or active ILD (HRCT ground glass)",
    "SSC-4": "Relapsed/refractory after glucocorticoids and an immunomodulator ≥ 6 months "
             "(SSC-4 or SSC-5 is enough)",
    "SSC-5": "Progressive: mRSS +25 %, or FVC −10 %, or FVC −5 % with DLCO −15 % (SSC-4 or "
             "SSC-5 is enough)",
    "IIM-1": "2017 EULAR/ACR IIM classification (subtype recorded)",
    "IIM-2": "MMT-8 < 142 and ≥ 2 core-set abnormalities",
    "IIM-3": "Relapsed/refractory after glucocorticoids and an immunomodulator ≥ 6 months "
             "({c1})",
    "IIM-4": "Rapidly progressive ILD (investigator-attested, with evidence date) ({c1})",
    "AAV-1": "2022 ACR/EULAR classification for GPA, MPA or EGPA (subtype recorded)",
    "AAV-2": "MPO-ANCA or PR3-ANCA positive",
    "AAV-3": "BVAS v3 ≥ 15",
    "AAV-4": "Relapsed/refractory after glucocorticoids and an immunomodulator ≥ 6 months",
    "EX-01": "Severe drug allergy or allergic tendency",
    "EX-02": "Uncontrolled or treatment-requiring infection",
    "EX-03": "CNS disease",
    "EX-04": "Insufficient cardiac function",
    "EX-05": "Congenital immunoglobulin deficiency",
    "EX-06": "Malignancy diagnosed within {malignancy_years} years before enrollment",
    "EX-07": "End-stage renal failure (not counting lupus nephritis)",
    "EX-08": "HBV, HCV, HIV or syphilis infection by serology",
    "EX-09": "Psychiatric disorder or severe cognitive impairment",
    "EX-10": "Another clinical trial within {other_trial_months} months before enrollment",
    "EX-11": "Immunosuppressant or biologic within 5 half-lives before enrollment (washout "
             "table of {version}; antimalarials {c2}, C-2)",
    "EX-12": "Pregnant or planning to conceive",
    "EX-13": "Other reasons the investigator judges unsuitable",
    "COHORT": "Disease cohort recorded (DX.COHORT)",
}


def criterion_texts(settings: Settings | None = None) -> dict[str, str]:
    """Each criterion's text as the settings in force state it (windows, years, months,
    clarifications), so that a signed or printed checklist names the rule it applied."""
    s = settings or Settings()
    values = {**{name: getattr(s, name) for name in s.STORED}, "version": s.version,
              "c1": "IIM-3 or IIM-4 is enough, C-1" if s.iim_either_refractory_or_progressive
              else "both IIM-3 and IIM-4 are needed, C-1",
              "c2": "counted" if s.antimalarials_count_for_washout else "not counted"}
    return {rid: text.format(**values) for rid, text in _TEXTS.items()}
