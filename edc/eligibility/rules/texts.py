"""The criterion texts, rendered from the settings in force."""

from __future__ import annotations

from edc.eligibility.rules.settings import Settings

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
