"""Derived items: computed from the entered values with the functions of ``forms.scores``.

``derive(form_oid, values, lookup)`` returns {item: text or None} for the form's derived
items and the rule versions used. ``lookup(form_oid, item)`` reads another screening form
(CrCl needs birth date, sex and creatinine). Missing inputs give None (nothing to show), never
an error: validation has already spoken about the inputs.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from forms import scores

Lookup = Callable[[str, str], str | None]


class _Forms:
    """Late access to the study build (which imports this module's score tables)."""

    def __getitem__(self, oid):
        from forms.study_build import BUILD

        return BUILD.forms[oid]


BUILD_FORMS = _Forms()


def _num(v):
    return None if v is None else float(v)


def _fmt(x, places=None) -> str | None:
    if x is None:
        return None
    if isinstance(x, float) and places is not None:
        return f"{x:.{places}f}"
    return str(x)


def _flags(values: dict, prefix: str, names) -> list[str]:
    return [n for i, n in enumerate(names) if values.get(f"{prefix}{i + 1:02d}") == "Y"]


def _crs(v: dict, _lookup) -> dict:
    if v.get("FEVER") is None or v.get("HYPOTEN") is None or v.get("HYPOXIA") is None:
        return {"CRSGR": None}
    grade = scores.crs_grade(fever=v["FEVER"] == "Y", fever_other_cause=v.get("FEVOTH") == "Y",
                             treated=v.get("TREATED") == "Y", hypotension=v["HYPOTEN"],
                             hypoxia=v["HYPOXIA"])
    return {"CRSGR": str(grade)}


_ICE = {"ICEORI": "orientation", "ICENAME": "naming", "ICECMD": "commands",
        "ICEWRITE": "writing", "ICECOUNT": "counting"}


def _icans(v: dict, _lookup) -> dict:
    unarousable = v.get("UNAROUS") == "Y"
    ice = None
    if not unarousable and all(v.get(k) is not None for k in _ICE):
        ice = scores.ice_score(**{d: int(v[k]) for k, d in _ICE.items()})
    if ice is None and not unarousable:
        return {"ICE": None, "ICANSGR": None}
    grade = scores.icans_grade(ice=ice, consciousness=v.get("CONSC") or "normal",
                               seizure=v.get("SEIZURE") or "none",
                               motor_weakness=v.get("MOTOR") == "Y", icp=v.get("ICP") or "none")
    return {"ICE": _fmt(ice), "ICANSGR": str(grade)}


def _da(v: dict, _lookup) -> dict:
    out = {"SLEDAI": str(scores.sledai_2k(_flags(v, "SLEDAI", scores.SLEDAI_2K)))
           if any(v.get(f"SLEDAI{i + 1:02d}") for i in range(len(scores.SLEDAI_2K))) else None}
    sites = {s: v.get(f"MRSS{i + 1:02d}") for i, s in enumerate(scores.MRSS_SITES)}
    out["MRSS"] = (str(scores.mrss({k: int(x) for k, x in sites.items()}))
                   if all(x is not None for x in sites.values()) else None)
    groups = {m: v.get(f"MMT{i + 1:02d}") for i, m in enumerate(scores.MMT8_ITEMS)}
    out["MMT8"] = (str(scores.mmt8({k: int(x) for k, x in groups.items()}))
                   if all(x is not None for x in groups.values()) else None)
    out["BVAS"] = _bvas(v, first_assessment=True)
    act = {k: v.get(f"NIHA{i + 1:02d}") for i, k in enumerate(scores.NIH_ACTIVITY)}
    chron = {k: v.get(f"NIHC{i + 1:02d}") for i, k in enumerate(scores.NIH_CHRONICITY)}
    out["NIHACT"] = (str(scores.nih_activity({k: int(x) for k, x in act.items()}))
                     if all(x is not None for x in act.values()) else None)
    out["NIHCHR"] = (str(scores.nih_chronicity({k: int(x) for k, x in chron.items()}))
                     if all(x is not None for x in chron.values()) else None)
    return out


def _bvas(v: dict, *, first_assessment: bool) -> str | None:
    """BVAS v3 from its ticked items (metadata 1.2), or from the per-system subtotals that
    instances entered under 1.0/1.1 keep. None until an item or subtotal is answered."""
    answered = {key for n, (_, key, _, _, _) in enumerate(scores.BVAS_ITEMS, 1)
                if v.get(f"BVAS{n:02d}") is not None}
    persistent = v.get("BVASPERS") == "Y"
    if answered:
        ticked = [key for n, (_, key, _, _, _) in enumerate(scores.BVAS_ITEMS, 1)
                  if v.get(f"BVAS{n:02d}") == "Y"]
        return str(scores.bvas_v3(ticked, persistent=persistent,
                                  first_assessment=first_assessment))
    subtotals = {s: v.get(f"BVAS{s.upper()[:6]}") for s in scores.BVAS_MAX}
    given = {s: int(x) for s, x in subtotals.items() if x is not None}
    return str(scores.bvas_v3_subtotals(given)) if given else None


def _daf(v: dict, _lookup) -> dict:
    return {"BVAS": _bvas(v, first_assessment=False)}


def _age(birth: str | None, on: str | None) -> int | None:
    if not birth or not on:
        return None
    return scores.age_years(date.fromisoformat(birth), date.fromisoformat(on))


def _ld(v: dict, lookup: Lookup) -> dict:
    height, weight = _num(v.get("HEIGHT")), _num(v.get("WEIGHT"))
    bsa = scores.bsa_mosteller(height, weight) if height and weight else None
    age = _age(lookup("DM", "BRTHDAT"), lookup("IC", "RFICDAT"))
    sex, creat, unit = lookup("DM", "SEX"), lookup("LB", "CREAT"), lookup("LB", "CREATU")
    crcl = None
    if None not in (age, sex, creat, unit, weight):
        try:
            crcl = scores.crcl_cockcroft_gault(age, weight, float(creat), unit, sex)
        except ValueError:
            crcl = None  # e.g. a birth date after consent: no age, so no CrCl
    return {"BSA": _fmt(bsa, 3), "CRCL": _fmt(crcl, 1)}


def _ldd(v: dict, lookup: Lookup) -> dict:
    """Prescribed doses of one lymphodepletion day from the plan's BSA and CrCl (the LD
    form): fludarabine 30 mg/m² with the renal adjustment, cyclophosphamide 500 mg/m²; a
    fludarabine dose of 0 is the CrCl < 30 hard stop. Without a CrCl there is no fludarabine
    dose to prescribe."""
    bsa, crcl = _num(lookup("LD", "BSA")), _num(lookup("LD", "CRCL"))
    if bsa is None:
        return {"FLUPRE": None, "CYPRE": None}
    cy = scores.CY_MG_M2 * bsa
    if crcl is None:
        return {"FLUPRE": None, "CYPRE": _fmt(cy, 1)}
    doses = scores.lymphodepletion_doses(bsa, crcl)
    return {"FLUPRE": _fmt(doses["flu_mg"], 1), "CYPRE": _fmt(doses["cy_mg"], 1)}


def _dx(v: dict, _lookup) -> dict:
    cohort = v.get("COHORT")
    if cohort == "SLE":
        r = scores.sle_2019(v.get("ANA80") == "Y", _flags(v, "SLE", scores.SLE_2019))
        return {"CLSCORE": str(r["score"]),
                "CLRESULT": "classified" if r["classified"] else "not classified"}
    if cohort == "SSC":
        names = ("skin_proximal_to_mcp", "puffy_fingers", "sclerodactyly", "digital_tip_ulcers",
                 "pitting_scars", "telangiectasia", "abnormal_nailfold", "pah", "ild", "raynaud",
                 "anti_centromere", "anti_topoisomerase", "anti_rna_polymerase_iii")
        r = scores.ssc_2013(_flags(v, "SSC", names))
        return {"CLSCORE": str(r["score"]),
                "CLRESULT": "classified" if r["classified"] else "not classified"}
    if cohort == "IIM" and v.get("IIMAGE") is not None:
        r = scores.iim_2017(float(v["IIMAGE"]), _flags(v, "IIM", scores.IIM_2017),
                            biopsy=v.get("IIMBX") == "Y")
        return {"CLSCORE": f"{r['score']:.1f}", "CLRESULT": r["band"]}
    if cohort == "AAV":
        r = scores.aav_2022(_flags(v, "AAV", scores.AAV_2022_ITEMS))
        best = max(r, key=lambda k: r[k]["score"])
        classified = [k.upper() for k in r if r[k]["classified"]]
        return {"CLSCORE": str(r[best]["score"]),
                "CLRESULT": ", ".join(classified) if classified else "not classified"}
    return {"CLSCORE": None, "CLRESULT": None}


DERIVATIONS: dict[str, tuple[Callable[[dict, Lookup], dict], tuple[str, ...]]] = {
    "CRS": (_crs, ("crs",)),
    "ICANS": (_icans, ("ice", "icans")),
    "DA": (_da, ("sledai2k", "mrss", "mmt8", "bvas3", "nih_ln")),
    "LD": (_ld, ("bsa", "crcl")),
    "LDD": (_ldd, ("ld_dose",)),
    "DAF": (_daf, ("bvas3",)),
    "DX": (_dx, ("sle2019", "ssc2013", "iim2017", "aav2022")),
}


ITEM_RULES = {"CRSGR": "crs", "ICE": "ice", "ICANSGR": "icans", "SLEDAI": "sledai2k",
              "MRSS": "mrss", "MMT8": "mmt8", "BVAS": "bvas3", "NIHACT": "nih_ln",
              "NIHCHR": "nih_ln", "BSA": "bsa", "CRCL": "crcl", "FLUPRE": "ld_dose",
              "CYPRE": "ld_dose"}


COHORT_RULES = {"SLE": "sle2019", "SSC": "ssc2013", "IIM": "iim2017", "AAV": "aav2022"}


def item_rule_versions(form_oid: str, derived: dict, *, cohort: str | None = None
                       ) -> dict[str, str]:
    """The rule version behind each derived item (classification items: the cohort's)."""
    out = {}
    for item in derived:
        rule = ITEM_RULES.get(item)
        if form_oid == "DX" and item in ("CLSCORE", "CLRESULT"):
            rule = COHORT_RULES.get(cohort or "")
        if rule:
            out[item] = f"{rule} {scores.RULE_VERSIONS[rule]}"
    return out


def derive(form_oid: str, values: dict, lookup: Lookup, form=None) -> tuple[dict, str]:
    """(derived values, rule versions as one text) for a form; empty for forms without.
    ``form`` is the definition of the instance (its metadata version): only the items it
    declares derived are returned, so a total typed under an older version is never
    overwritten."""
    entry = DERIVATIONS.get(form_oid)
    if entry is None:
        return {}, ""
    form = form or BUILD_FORMS[form_oid]
    own = {i.name for i in form.items if i.derived}
    fn, rules = entry
    try:
        derived = fn(values, lookup)
    except (ValueError, ArithmeticError):
        # inputs out of a rule's domain (e.g. a birth date after consent, a result beyond a
        # quantification limit): nothing to show; validation has spoken about the inputs
        derived = dict.fromkeys(own)
    derived = {k: v for k, v in derived.items() if k in own}
    if not derived:
        return {}, ""
    return derived, ", ".join(f"{r} {scores.RULE_VERSIONS[r]}" for r in rules)
