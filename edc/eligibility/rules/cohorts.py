"""The criteria of the four cohorts: SLE-1…4, SSC-1…5, IIM-1…4 (with C-1), AAV-1…4."""

from __future__ import annotations

from edc.eligibility.rules.base import (
    MET,
    MISSING,
    NOT_MET,
    Result,
    _d,
    _f,
    _q,
    _span,
    guarded,
    not_entered,
)
from edc.eligibility.rules.common import Evaluation
from forms import medications
from forms.text import Message
from forms.values import DateSpan

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
            return self._result(rid, MISSING, evidence, missing=not_entered("DX.SUBTYPE"))
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
            return self._result(rid, MISSING, missing=Message(
                "no prior treatment rows (PT) entered"))
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
                return self._result(rid, MISSING, evidence, missing=Message(
                    "code the agent of %(rows)s (medication dictionary): it may be the "
                    "conventional treatment this criterion needs", rows=", ".join(uncoded)))
            return self._result(rid, NOT_MET, evidence)
        counted = medications.IMMUNOMODULATOR_CLASSES
        relapse = any(r == "RELAPSE" for *_, r, _ in rows)
        courses = [(m, lo, hi) for m, lo, hi, r, _ in rows
                   if r == "INEFFECTIVE" and lo is not None and (m is None or m.cls in counted)]
        if relapse or any(m is not None and lo >= SIX_MONTHS_DAYS for m, lo, _ in courses):
            return self._result(rid, MET, evidence)
        if any(hi >= SIX_MONTHS_DAYS for _, _, hi in courses):
            return self._result(rid, MISSING, evidence, missing=Message(
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
                                missing=Message(
                                    "%(item)s %(date)s is more than 6 months (%(days)s days) "
                                    "before the reference date", item="DA.BXDAT",
                                    date=biopsy.isoformat(), days=BIOPSY_DAYS))
        upcr, prot = _f(self.get("DA", "UPCR")), _f(self.get("DA", "PROT24"))
        if upcr is None and prot is None:
            return self._result("SLE-3", MISSING, evidence,
                                missing=Message("%(first)s or %(second)s not entered",
                                                first="DA.UPCR", second="DA.PROT24"))
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
            return self._result("SSC-5", MISSING, g, missing=Message(
                "prior mRSS (%(mrss)s) or prior FVC (%(fvc)s) with current values",
                mrss="DA.MRSSPRI", fvc="DA.FVCPRI"))
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
        return self._result("IIM-2", MISSING, evidence, missing=Message(
            "core-set measures not entered or not comparable: %(measures)s",
            measures=", ".join(open_)))

    @guarded("IIM-4")
    def _iim4(self) -> Result:
        if self.get("DA", "ILDPROG") == "Y":
            if not self.get("DA", "ILDDAT"):
                return self._result("IIM-4", MISSING, missing=Message(
                    "%(item)s (HRCT/PFT evidence date)", item="DA.ILDDAT"))
            return self._result("IIM-4", MET, {"attested": True, "evidence_date":
                                         self.get("DA", "ILDDAT")})
        return self._result("IIM-4", NOT_MET, {"attested": self.get("DA", "ILDPROG")})

    # AAV
    def aav(self) -> list[Result]:
        anca = self.get("DA", "ANCATYPE")
        aav2 = (self._result("AAV-2", MISSING, missing=not_entered("DA.ANCATYPE")) if anca is None
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
        return [self._result("COHORT", MISSING, missing=not_entered("DX.COHORT"))], []
