"""The common inclusion criteria IN-01…IN-06 and the exclusions EX-01…EX-13."""

from __future__ import annotations

from datetime import date, timedelta

from edc.eligibility.rules.base import (
    MET,
    MISSING,
    NA,
    NOT_MET,
    Getter,
    Result,
    _as_text,
    _d,
    _f,
    _q,
    _span,
    age_years,
    five_half_lives_days,
    guarded,
    joined,
    months_before,
    not_entered,
)
from edc.eligibility.rules.settings import Settings
from forms import medications, scores
from forms.text import Message


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
            return None, Message("%(item)s is not entered", item=f"{form}.{date_item}")
        earliest = self.ref - timedelta(days=self.s.screening_window_days)
        if day < earliest or day > self.ref:
            return None, Message(
                "%(item)s %(date)s is outside the screening window (%(start)s to %(end)s)",
                item=f"{form}.{date_item}", date=day.isoformat(), start=earliest.isoformat(),
                end=self.ref.isoformat())
        return day, None

    def _need(self, rid: str, *items: tuple[str, str]) -> Result | None:
        absent = [f"{f}.{i}" for f, i in items if self.get(f, i) in (None, "")]
        if absent:
            return self._result(rid, MISSING, missing=not_entered(", ".join(absent)))
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
            return self._result(rid, MISSING, evidence, missing=Message(
                "%(item)s %(value)s cannot be compared with %(limit)s × ULN (%(uln)s): "
                "confirm the value with the laboratory", item=f"LB.{value_item}",
                value=str(value), limit=limit, uln=uln))
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
            return self._result("IN-03a", MISSING, evidence, missing=Message(
                "%(item)s %(value)s cannot be compared with 1.0 ×10⁹/L: confirm the count",
                item="LB.ANC", value=str(anc)))
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
            return self._result("IN-03b", MISSING, evidence, missing=Message(
                "%(item)s %(value)s cannot be compared with 60 g/L: confirm the value",
                item="LB.HGB", value=str(hgb)))
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
                                missing=Message(
                                    "%(item)s %(date)s is not 0–%(days)s days before the "
                                    "reference date", item="PG.PGDAT",
                                    date=test.isoformat(), days=self.s.hcg_window_days))
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
                return self._result("EX-08", MISSING, g, missing=Message(
                                    "%(dna)s and %(uln)s are needed when HBsAg or HBcAb is "
                                    "positive", dna="SR.HBVDNA", uln="SR.HBVULN"))
            within = _q(g["HBVDNA"]).at_most(float(g["HBVULN"]))
            if within is None:
                return self._result("EX-08", MISSING, g, missing=Message(
                    "%(item)s %(value)s cannot be compared with its upper limit %(limit)s "
                    "IU/mL: confirm the result", item="SR.HBVDNA", value=g["HBVDNA"],
                    limit=g["HBVULN"]))
            if not within:
                reasons.append("HBV DNA above ULN with a positive HBV marker")
        if g["HCVAB"] == "POS":
            if g["HCVRNA"] is None:
                return self._result("EX-08", MISSING, g,
                                    missing=Message(
                                        "%(item)s is needed when HCV antibody is positive",
                                        item="SR.HCVRNA"))
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
                    unknown.append(Message(
                        "confirm the washout of %(agent)s: no half-life in the washout table; "
                        "record the investigator's judgement (%(item)s)", agent=label,
                        item="PT.PTWOJ"))
                continue
            last = _span(row.get("PTLSTDAT") or row.get("PTENDAT"))
            if last is None:
                unknown.append(Message("last dose date of %(agent)s (%(item)s)", agent=label,
                                       item="PT.PTLSTDAT"))
                continue
            clear = last.latest + timedelta(days=five_half_lives_days(hours))
            if clear >= self.ref:
                hits.append({"agent": name, "row": n, "last_dose": last.text,
                             "washout_until": clear.isoformat()})
        evidence = {"within_washout": hits, "judged_by_investigator": judged}
        if hits:
            return self._result("EX-11", MET, {**evidence, "unresolved": unknown})
        if unknown:
            return self._result("EX-11", MISSING, evidence, missing=joined(unknown))
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
