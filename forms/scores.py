"""Clinical scores and gradings of spec/scores.md, as pure functions.

Each function validates its inputs (``ValueError`` naming the input) and returns the value the
eCRF stores beside the entered items. ``RULE_VERSIONS`` is stored with every derived value, so
a later change of a rule is visible in the data and in the audit trail. Weighted sums use
``Decimal`` so that a cut-off such as 5.5 is compared exactly.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from datetime import date
from decimal import Decimal

RULE_VERSIONS: dict[str, str] = {
    "crcl": "cockcroft-gault/1",
    "bsa": "mosteller/1",
    "ld_dose": "flu30-cy500-fludara-renal/1",
    "crs": "astct-2019/1",
    "ice": "astct-2019/1",
    "icans": "astct-2019/1",
    "icaht": "eha-ebmt-2023/1",
    "sledai2k": "sledai-2k/1",
    "sle2019": "eular-acr-2019/1",
    "ssc2013": "acr-eular-2013/1",
    "mrss": "mrss-17/1",
    "iim2017": "eular-acr-2017/1",
    "mmt8": "mmt8-bilateral-150/1",
    "bvas3": "bvas-v3-items/2",
    "aav2022": "acr-eular-2022/1",
    "nih_ln": "nih-modified-2018/1",
}

UMOL_PER_MG_DL = Decimal("88.4")


def age_years(birth: date, on: date) -> int:
    """Whole years between the birth date and ``on`` (eligibility.md: age at consent)."""
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _need(name: str, value, low=None, high=None):
    if value is None:
        raise ValueError(f"{name} is required")
    if low is not None and value < low:
        raise ValueError(f"{name} must be at least {low}")
    if high is not None and value > high:
        raise ValueError(f"{name} must be at most {high}")
    return value


def _unknown(name: str, given: Iterable[str], known: Iterable[str]) -> None:
    extra = sorted(set(given) - set(known))
    if extra:
        raise ValueError(f"{name}: unknown item(s) {', '.join(extra)}")


# Renal function and dosing ------------------------------------------------------------------

def creatinine_mg_dl(value: float, unit: str) -> float:
    """Serum creatinine in mg/dL; µmol/L ÷ 88.4 (never the 1.23 shortcut)."""
    _need("creatinine", value, 0)
    if value == 0:
        raise ValueError("creatinine must be above 0")
    if unit == "mg/dL":
        return float(value)
    if unit in ("umol/L", "µmol/L"):
        return float(Decimal(str(value)) / UMOL_PER_MG_DL)
    raise ValueError(f"creatinine unit {unit!r}: use umol/L or mg/dL")


def crcl_cockcroft_gault(age: int, weight_kg: float, creatinine: float, unit: str,
                         sex: str) -> float:
    """CrCl in mL/min, unrounded (report with one decimal; compare unrounded)."""
    _need("age", age, 0, 130)
    _need("weight", weight_kg, 1, 400)
    if sex not in ("F", "M"):
        raise ValueError("sex must be F or M")
    value = (140 - age) * weight_kg / (72 * creatinine_mg_dl(creatinine, unit))
    return value * 0.85 if sex == "F" else value


def bsa_mosteller(height_cm: float, weight_kg: float) -> float:
    _need("height", height_cm, 30, 250)
    _need("weight", weight_kg, 1, 400)
    return math.sqrt(height_cm * weight_kg / 3600)


FLU_MG_M2 = 30
CY_MG_M2 = 500


def fludarabine_renal_factor(crcl: float) -> Decimal:
    """Fludara label: ≥ 80 full; 50–79 20/25; 30–49 15/25; < 30 do not give (0)."""
    _need("CrCl", crcl, 0)
    if crcl >= 80:
        return Decimal(1)
    if crcl >= 50:
        return Decimal(20) / Decimal(25)
    if crcl >= 30:
        return Decimal(15) / Decimal(25)
    return Decimal(0)


def lymphodepletion_doses(bsa: float, crcl: float, *, flu_mg_m2: float = FLU_MG_M2,
                          cy_mg_m2: float = CY_MG_M2) -> dict:
    """Prescribed daily doses in mg; ``stop`` when fludarabine must not be given."""
    _need("BSA", bsa, 0.3, 3.5)
    factor = fludarabine_renal_factor(crcl)
    return {
        "flu_full_mg": float(Decimal(str(flu_mg_m2)) * Decimal(str(bsa))),
        "flu_factor": float(factor),
        "flu_mg": float(Decimal(str(flu_mg_m2)) * Decimal(str(bsa)) * factor),
        "cy_mg": float(Decimal(str(cy_mg_m2)) * Decimal(str(bsa))),
        "stop": factor == 0,
    }


def dose_deviation_pct(prescribed: float, administered: float) -> float:
    _need("prescribed dose", prescribed, 0)
    _need("administered dose", administered, 0)
    if prescribed == 0:
        return 0.0 if administered == 0 else math.inf
    return (administered - prescribed) / prescribed * 100


def dose_needs_reason(prescribed: float, administered: float) -> bool:
    return abs(dose_deviation_pct(prescribed, administered)) > 10


# CRS, ICE, ICANS ----------------------------------------------------------------------------

HYPOTENSION = {"none": 0, "no_vasopressor": 2, "one_vasopressor": 3, "multiple_vasopressors": 4}
HYPOXIA = {"none": 0, "low_flow": 2, "blow_by": 2, "high_flow": 3, "face_mask": 3,
           "non_rebreather": 3, "venturi": 3, "positive_pressure": 4}


def crs_grade(*, fever: bool, fever_other_cause: bool = False, treated: bool = False,
              hypotension: str = "none", hypoxia: str = "none",
              died_of_crs: bool = False) -> int:
    """ASTCT CRS grade 0–5. ``treated``: antipyretic or anti-cytokine therapy given (fever is
    then no longer required)."""
    if hypotension not in HYPOTENSION:
        raise ValueError(f"hypotension: one of {', '.join(HYPOTENSION)}")
    if hypoxia not in HYPOXIA:
        raise ValueError(f"hypoxia: one of {', '.join(HYPOXIA)}")
    if died_of_crs:
        return 5
    febrile = fever and not fever_other_cause
    if not (febrile or treated):
        return 0
    if treated and not febrile and hypotension == "none" and hypoxia == "none":
        return 0  # no fever and no organ sign: no CRS to grade
    return max(1, HYPOTENSION[hypotension], HYPOXIA[hypoxia])


ICE_MAX = {"orientation": 4, "naming": 3, "commands": 1, "writing": 1, "counting": 1}


def ice_score(**domains: int) -> int:
    _unknown("ICE", domains, ICE_MAX)
    total = 0
    for name, top in ICE_MAX.items():
        total += _need(f"ICE {name}", domains.get(name), 0, top)
    return total


CONSCIOUSNESS = {"normal": 0, "spontaneous": 1, "voice": 2, "tactile": 3, "unarousable": 4}
SEIZURE = {"none": 0, "rapid": 3, "prolonged": 4}
ICP = {"none": 0, "focal": 3, "diffuse": 4}


def icans_grade(*, ice: int | None, consciousness: str = "normal", seizure: str = "none",
                motor_weakness: bool = False, icp: str = "none") -> int:
    """ASTCT ICANS grade 0–4; ``ice`` None means the patient is unarousable (cannot do ICE)."""
    for name, value, table in (("consciousness", consciousness, CONSCIOUSNESS),
                               ("seizure", seizure, SEIZURE), ("raised ICP", icp, ICP)):
        if value not in table:
            raise ValueError(f"{name}: one of {', '.join(table)}")
    if ice is None:
        ice_grade = 4
    else:
        _need("ICE score", ice, 0, 10)
        ice_grade = 0 if ice == 10 else 1 if ice >= 7 else 2 if ice >= 3 else 3
    return max(ice_grade, CONSCIOUSNESS[consciousness], SEIZURE[seizure],
               4 if motor_weakness else 0, ICP[icp])


# ICAHT --------------------------------------------------------------------------------------

def icaht_early(daily_anc: Mapping[int, float]) -> int:
    """Early ICAHT (day 0–30) from daily ANC per µL: days at ≤ 500 and at ≤ 100."""
    days = {d: v for d, v in daily_anc.items() if 0 <= d <= 30}
    for d, v in days.items():
        _need(f"ANC day {d}", v, 0)
    le500 = sum(1 for v in days.values() if v <= 500)
    le100 = sum(1 for v in days.values() if v <= 100)
    if le500 >= 31 or le100 >= 14:
        return 4
    if le500 >= 14 or le100 >= 7:
        return 3
    if le500 >= 7:
        return 2
    if le500 >= 1:
        return 1
    return 0


def icaht_late(anc_after_day_30: Iterable[float]) -> int:
    """Late ICAHT: the highest grade whose threshold at least two measurements reach."""
    values = [_need("ANC", v, 0) for v in anc_after_day_30]
    for grade, limit in ((4, 100), (3, 500), (2, 1000), (1, 1500)):
        if sum(1 for v in values if v <= limit) >= 2:
            return grade
    return 0


def icaht(anc_by_day: Mapping[int, tuple[float, float]]) -> dict:
    """Early and late ICAHT from the ANC measurements after infusion.

    ``anc_by_day`` maps the day since infusion to the (lowest, highest) ANC per µL the
    result may denote (equal for an exact number; a result below the limit of
    quantification spans 0 up to the limit). Between two measurements the earlier value
    holds (neutropenia lasts until a count shows recovery); days before the first and after
    the last measurement are not counted. Each grade is given as (lowest, highest) possible:
    equal unless a result beyond a quantification limit leaves the grade open.
    ``provisional``: no measurement on or after day 30 yet, so the early grade may still rise.
    """
    days = sorted(d for d in anc_by_day if d >= 0)
    for d in days:
        low, high = anc_by_day[d]
        _need(f"ANC day {d}", low, 0)
    early: dict[int, tuple[float, float]] = {}
    for i, d in enumerate(days):
        if d > 30:
            break
        end = min(days[i + 1] - 1 if i + 1 < len(days) else d, 30)
        for day in range(d, end + 1):
            early[day] = anc_by_day[d]
    late = [anc_by_day[d] for d in days if d > 30]

    def grades(pick: int) -> tuple[int, int | None]:
        e = icaht_early({d: v[pick] for d, v in early.items()}) if early else 0
        return e, (icaht_late([v[pick] for v in late]) if len(late) >= 2 else None)

    (e_max, l_max), (e_min, l_min) = grades(0), grades(1)
    return {"early": (e_min, e_max), "late": None if l_max is None else (l_min, l_max),
            "days_counted": len(early), "provisional": not any(d >= 30 for d in days)}


CTCAE_GRADES = {1: "mild", 2: "moderate; limits instrumental ADL",
                3: "severe or medically significant; hospitalisation; limits self-care ADL",
                4: "life-threatening; urgent intervention", 5: "death related to the AE"}


# SLE ----------------------------------------------------------------------------------------

SLEDAI_2K = {
    **dict.fromkeys(("seizure", "psychosis", "organic_brain_syndrome", "visual_disturbance",
                     "cranial_nerve_disorder", "lupus_headache", "cva", "vasculitis"), 8),
    **dict.fromkeys(("arthritis", "myositis", "urinary_casts", "haematuria", "proteinuria",
                     "pyuria"), 4),
    **dict.fromkeys(("rash", "alopecia", "mucosal_ulcers", "pleurisy", "pericarditis",
                     "low_complement", "increased_dna_binding"), 2),
    **dict.fromkeys(("fever", "thrombocytopenia", "leukopenia"), 1),
}


def sledai_2k(present: Iterable[str]) -> int:
    present = set(present)
    _unknown("SLEDAI-2K", present, SLEDAI_2K)
    return sum(SLEDAI_2K[d] for d in present)


SLE_2019 = {  # item: (domain, weight, clinical?)
    "fever": ("constitutional", 2, True),
    "leukopenia": ("haematologic", 3, True),
    "thrombocytopenia": ("haematologic", 4, True),
    "autoimmune_haemolysis": ("haematologic", 4, True),
    "delirium": ("neuropsychiatric", 2, True),
    "psychosis": ("neuropsychiatric", 3, True),
    "seizure": ("neuropsychiatric", 5, True),
    "non_scarring_alopecia": ("mucocutaneous", 2, True),
    "oral_ulcers": ("mucocutaneous", 2, True),
    "subacute_cutaneous_or_discoid": ("mucocutaneous", 4, True),
    "acute_cutaneous": ("mucocutaneous", 6, True),
    "effusion": ("serosal", 5, True),
    "acute_pericarditis": ("serosal", 6, True),
    "joint_involvement": ("musculoskeletal", 6, True),
    "proteinuria": ("renal", 4, True),
    "biopsy_class_ii_or_v": ("renal", 8, True),
    "biopsy_class_iii_or_iv": ("renal", 10, True),
    "antiphospholipid": ("antiphospholipid", 2, False),
    "low_c3_or_c4": ("complement", 3, False),
    "low_c3_and_c4": ("complement", 4, False),
    "anti_dsdna_or_sm": ("sle_antibodies", 6, False),
}


def sle_2019(ana_positive: bool, present: Iterable[str]) -> dict:
    """Weighted score (highest item per domain) and classification."""
    present = set(present)
    _unknown("2019 SLE", present, SLE_2019)
    best: dict[str, int] = {}
    clinical = False
    for item in present:
        domain, weight, is_clinical = SLE_2019[item]
        best[domain] = max(best.get(domain, 0), weight)
        clinical = clinical or is_clinical
    score = sum(best.values())
    return {"score": score, "classified": bool(ana_positive) and score >= 10 and clinical}


# SSc ----------------------------------------------------------------------------------------

def ssc_2013(present: Iterable[str]) -> dict:
    groups = {
        "skin_proximal_to_mcp": ("skin_proximal", 9),
        "puffy_fingers": ("fingers", 2), "sclerodactyly": ("fingers", 4),
        "digital_tip_ulcers": ("tips", 2), "pitting_scars": ("tips", 3),
        "telangiectasia": ("telangiectasia", 2), "abnormal_nailfold": ("nailfold", 2),
        "pah": ("lung", 2), "ild": ("lung", 2), "raynaud": ("raynaud", 3),
        "anti_centromere": ("antibodies", 3), "anti_topoisomerase": ("antibodies", 3),
        "anti_rna_polymerase_iii": ("antibodies", 3),
    }
    present = set(present)
    _unknown("2013 SSc", present, groups)
    best: dict[str, int] = {}
    for item in present:
        group, weight = groups[item]
        best[group] = max(best.get(group, 0), weight)
    score = sum(best.values())
    return {"score": score, "classified": score >= 9}


MRSS_SITES = ("face", "anterior_chest", "abdomen") + tuple(
    f"{side}_{part}" for part in ("fingers", "hands", "forearms", "upper_arms", "thighs",
                                  "lower_legs", "feet") for side in ("right", "left"))


def mrss(sites: Mapping[str, int]) -> int:
    _unknown("mRSS", sites, MRSS_SITES)
    return sum(_need(f"mRSS {s}", sites.get(s), 0, 3) for s in MRSS_SITES)


# IIM ----------------------------------------------------------------------------------------

IIM_2017 = {  # item: (without biopsy, with biopsy); None: counts only with a biopsy
    "upper_limb_weakness": ("0.7", "0.7"),
    "lower_limb_weakness": ("0.8", "0.5"),
    "neck_flexors_weaker": ("1.9", "1.6"),
    "legs_proximal_weaker": ("0.9", "1.2"),
    "heliotrope_rash": ("3.1", "3.2"),
    "gottron_papules": ("2.1", "2.7"),
    "gottron_sign": ("3.3", "3.7"),
    "dysphagia": ("0.7", "0.6"),
    "anti_jo1": ("3.9", "3.8"),
    "raised_enzymes": ("1.3", "1.4"),
    "endomysial_infiltrate": (None, "1.7"),
    "perimysial_infiltrate": (None, "1.2"),
    "perifascicular_atrophy": (None, "1.9"),
    "rimmed_vacuoles": (None, "3.1"),
}


def iim_2017(age_at_onset: float, present: Iterable[str], *, biopsy: bool) -> dict:
    present = set(present)
    _unknown("2017 IIM", present, IIM_2017)
    _need("age at first symptom", age_at_onset, 0, 130)
    col = 1 if biopsy else 0
    score = Decimal(0)
    if 18 <= age_at_onset < 40:
        score += Decimal(("1.3", "1.5")[col])
    elif age_at_onset >= 40:
        score += Decimal(("2.1", "2.2")[col])
    for item in present:
        weight = IIM_2017[item][col]
        if weight is not None:
            score += Decimal(weight)
    probable, definite = (Decimal("6.7"), Decimal("8.7")) if biopsy else (
        Decimal("5.5"), Decimal("7.5"))
    band = "definite" if score >= definite else "probable" if score >= probable else "none"
    return {"score": float(score), "band": band}


MMT8_GROUPS = ("deltoid", "biceps", "wrist_extensors", "gluteus_maximus", "gluteus_medius",
               "quadriceps", "ankle_dorsiflexors")
MMT8_ITEMS = ("neck_flexors",) + tuple(f"{side}_{g}" for g in MMT8_GROUPS
                                       for side in ("right", "left"))


def mmt8(scores: Mapping[str, int]) -> int:
    _unknown("MMT-8", scores, MMT8_ITEMS)
    return sum(_need(f"MMT-8 {i}", scores.get(i), 0, 10) for i in MMT8_ITEMS)


# AAV ----------------------------------------------------------------------------------------

BVAS_MAX = {  # system: (persistent max, new/worse max)
    "general": (2, 3), "cutaneous": (3, 6), "mucous_membranes_eyes": (3, 6), "ent": (3, 6),
    "chest": (3, 6), "cardiovascular": (3, 6), "abdominal": (4, 9), "renal": (6, 12),
    "nervous_system": (6, 9),
}

# The 56 items of the published BVAS v3 form (Mukhtyar et al., Ann Rheum Dis 2009;68:1827)
# in form order: (system, key, English label, persistent weight, new/worse weight). A
# persistent weight of 0 marks the items that are new or worse by definition.
BVAS_ITEMS: tuple[tuple[str, str, str, int, int], ...] = (
    ("general", "myalgia", "Myalgia", 1, 1),
    ("general", "arthralgia", "Arthralgia / arthritis", 1, 1),
    ("general", "fever", "Fever ≥ 38 °C", 2, 2),
    ("general", "weight_loss", "Weight loss ≥ 2 kg", 2, 2),
    ("cutaneous", "infarct", "Infarct", 1, 2),
    ("cutaneous", "purpura", "Purpura", 1, 2),
    ("cutaneous", "ulcer", "Ulcer", 1, 4),
    ("cutaneous", "gangrene", "Gangrene", 2, 6),
    ("cutaneous", "other_skin", "Other skin vasculitis", 1, 2),
    ("mucous_membranes_eyes", "mouth_ulcers", "Mouth ulcers / granulomata", 1, 2),
    ("mucous_membranes_eyes", "genital_ulcers", "Genital ulcers", 1, 1),
    ("mucous_membranes_eyes", "adnexal", "Adnexal inflammation", 2, 4),
    ("mucous_membranes_eyes", "proptosis", "Significant proptosis", 2, 4),
    ("mucous_membranes_eyes", "scleritis", "Scleritis / episcleritis", 1, 2),
    ("mucous_membranes_eyes", "conjunctivitis", "Conjunctivitis / blepharitis / keratitis", 1,
     1),
    ("mucous_membranes_eyes", "blurred_vision", "Blurred vision", 2, 3),
    ("mucous_membranes_eyes", "sudden_visual_loss", "Sudden visual loss", 0, 6),
    ("mucous_membranes_eyes", "uveitis", "Uveitis", 2, 6),
    ("mucous_membranes_eyes", "retinal", "Retinal changes (vasculitis / thrombosis / exudate / "
     "haemorrhage)", 2, 6),
    ("ent", "nasal", "Bloody nasal discharge / crusts / ulcers / granulomata", 2, 4),
    ("ent", "sinus", "Paranasal sinus involvement", 1, 2),
    ("ent", "subglottic", "Subglottic stenosis", 3, 6),
    ("ent", "conductive_hearing", "Conductive hearing loss", 1, 3),
    ("ent", "sensorineural_hearing", "Sensorineural hearing loss", 2, 6),
    ("chest", "wheeze", "Wheeze", 1, 2),
    ("chest", "nodules", "Nodules or cavities", 1, 3),
    ("chest", "pleural", "Pleural effusion / pleurisy", 2, 4),
    ("chest", "infiltrate", "Infiltrate", 2, 4),
    ("chest", "endobronchial", "Endobronchial involvement", 2, 4),
    ("chest", "haemoptysis", "Massive haemoptysis / alveolar haemorrhage", 4, 6),
    ("chest", "respiratory_failure", "Respiratory failure", 4, 6),
    ("cardiovascular", "loss_of_pulses", "Loss of pulses", 1, 4),
    ("cardiovascular", "valvular", "Valvular heart disease", 2, 4),
    ("cardiovascular", "pericarditis", "Pericarditis", 1, 3),
    ("cardiovascular", "ischaemic_cardiac_pain", "Ischaemic cardiac pain", 2, 4),
    ("cardiovascular", "cardiomyopathy", "Cardiomyopathy", 3, 6),
    ("cardiovascular", "heart_failure", "Congestive cardiac failure", 3, 6),
    ("abdominal", "peritonitis", "Peritonitis", 3, 9),
    ("abdominal", "bloody_diarrhoea", "Bloody diarrhoea", 3, 9),
    ("abdominal", "ischaemic_abdominal_pain", "Ischaemic abdominal pain", 2, 6),
    ("renal", "hypertension", "Hypertension", 1, 4),
    ("renal", "proteinuria", "Proteinuria > 1+", 2, 4),
    ("renal", "haematuria", "Haematuria ≥ 10 RBCs/hpf", 3, 6),
    ("renal", "creatinine_125", "Serum creatinine 125–249 µmol/L (first assessment only)", 2, 4),
    ("renal", "creatinine_250", "Serum creatinine 250–499 µmol/L (first assessment only)", 3, 6),
    ("renal", "creatinine_500", "Serum creatinine ≥ 500 µmol/L (first assessment only)", 4, 8),
    ("renal", "creatinine_rise", "Rise in serum creatinine > 30 % or fall in creatinine "
     "clearance > 25 %", 0, 6),
    ("nervous_system", "headache", "Headache", 1, 1),
    ("nervous_system", "meningitis", "Meningitis", 1, 3),
    ("nervous_system", "organic_confusion", "Organic confusion", 1, 3),
    ("nervous_system", "seizures", "Seizures (not hypertensive)", 3, 9),
    ("nervous_system", "cva", "Cerebrovascular accident", 3, 9),
    ("nervous_system", "spinal_cord", "Spinal cord lesion", 3, 9),
    ("nervous_system", "cranial_nerve", "Cranial nerve palsy", 3, 6),
    ("nervous_system", "sensory_neuropathy", "Sensory peripheral neuropathy", 3, 6),
    ("nervous_system", "mononeuritis", "Mononeuritis multiplex", 3, 9),
)
BVAS_FIRST_ONLY = frozenset({"creatinine_125", "creatinine_250", "creatinine_500"})
_BVAS_BY_KEY = {key: (system, p, n) for system, key, _, p, n in BVAS_ITEMS}


def bvas_v3(ticked: Iterable[str], *, persistent: bool = False,
            first_assessment: bool = True) -> int:
    """BVAS v3 from the ticked items: each system's sum of item weights (persistent or
    new/worse, by the form's "persistent disease only" box) capped at the system maximum.
    The serum creatinine bands count only at the first assessment."""
    ticked = set(ticked)
    _unknown("BVAS v3", ticked, _BVAS_BY_KEY)
    col = 0 if persistent else 1
    per_system: dict[str, int] = {}
    for key in ticked:
        if key in BVAS_FIRST_ONLY and not first_assessment:
            continue
        system, p, n = _BVAS_BY_KEY[key]
        per_system[system] = per_system.get(system, 0) + (p, n)[col]
    return sum(min(v, BVAS_MAX[s][col]) for s, v in per_system.items())


def bvas_v3_subtotals(subtotals: Mapping[str, float], *, persistent: bool = False) -> int:
    """Metadata 1.0/1.1 entered one subtotal per system; their instances keep this reading."""
    _unknown("BVAS v3", subtotals, BVAS_MAX)
    col = 0 if persistent else 1
    return int(sum(min(_need(f"BVAS {s}", v, 0), BVAS_MAX[s][col])
                   for s, v in subtotals.items()))


AAV_2022 = {
    "gpa": ({"nasal_involvement": 3, "cartilaginous": 2, "hearing_loss": 1, "canca_or_pr3": 5,
             "pulmonary_nodules": 2, "granuloma_on_biopsy": 2, "sinus_imaging": 1,
             "pauci_immune_gn": 1, "panca_or_mpo": -1, "eosinophils_ge_1": -4}, 5),
    # one finding, "nasal involvement: bloody discharge, ulcers, crusting, congestion,
    # blockage or septal defect/perforation", scores in GPA (+3) and in MPA (−3)
    "mpa": ({"panca_or_mpo": 6, "pauci_immune_gn": 3, "lung_fibrosis_or_ild": 3,
             "nasal_involvement": -3, "canca_or_pr3": -1, "eosinophils_ge_1": -4}, 5),
    "egpa": ({"obstructive_airway": 3, "nasal_polyps": 3, "mononeuritis_multiplex": 1,
              "eosinophils_ge_1": 5, "eosinophilic_inflammation_biopsy": 2,
              "canca_or_pr3": -3, "haematuria": -1}, 6),
}


# The items in the order of the eCRF (AAV01…AAV17 from metadata 1.0). Item names are never
# reused: version 1.2 drops AAV16 ("sinonasal"), which asked the nasal finding a second time.
AAV_2022_ITEMS = ("canca_or_pr3", "cartilaginous", "eosinophilic_inflammation_biopsy",
                  "eosinophils_ge_1", "granuloma_on_biopsy", "haematuria", "hearing_loss",
                  "lung_fibrosis_or_ild", "mononeuritis_multiplex", "nasal_involvement",
                  "nasal_polyps", "obstructive_airway", "panca_or_mpo", "pauci_immune_gn",
                  "pulmonary_nodules", "sinonasal", "sinus_imaging")

# Metadata 1.0/1.1 asked the nasal finding twice; their "sinonasal" item is that finding.
AAV_2022_ALIASES = {"sinonasal": "nasal_involvement"}


def aav_2022(present: Iterable[str]) -> dict:
    present = {AAV_2022_ALIASES.get(i, i) for i in present}
    _unknown("2022 AAV", present, {i for weights, _ in AAV_2022.values() for i in weights})
    out = {}
    for kind, (weights, threshold) in AAV_2022.items():
        score = sum(w for item, w in weights.items() if item in present)
        out[kind] = {"score": score, "classified": score >= threshold}
    return out


# Lupus nephritis ----------------------------------------------------------------------------

NIH_ACTIVITY = {"endocapillary_hypercellularity": 1, "neutrophils_karyorrhexis": 1,
                "fibrinoid_necrosis": 2, "hyaline_deposits": 1, "cellular_crescents": 2,
                "interstitial_inflammation": 1}
NIH_CHRONICITY = ("glomerulosclerosis", "fibrous_crescents", "tubular_atrophy",
                  "interstitial_fibrosis")


def nih_activity(scores: Mapping[str, int]) -> int:
    _unknown("NIH activity", scores, NIH_ACTIVITY)
    return sum(_need(f"activity {k}", scores.get(k), 0, 3) * w for k, w in NIH_ACTIVITY.items())


def nih_chronicity(scores: Mapping[str, int]) -> int:
    _unknown("NIH chronicity", scores, NIH_CHRONICITY)
    return sum(_need(f"chronicity {k}", scores.get(k), 0, 3) for k in NIH_CHRONICITY)
