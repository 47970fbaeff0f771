"""Common inclusion IN-01…IN-06 and exclusions EX-01…EX-13 at their boundaries (pure)."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edc.eligibility.rules import (
    MET,
    MISSING,
    NA,
    NOT_MET,
    Evaluation,
    Settings,
    decide,
    evaluate,
    failing,
    months_before,
)
from forms import medications

REF = date(2026, 11, 24)

BASE = {
    "IC": {"RFICDAT": "2026-11-01", "COMPLY": "Y", "CONTRAC": "Y"},
    "DM": {"BRTHDAT": "1980-05-01", "SEX": "F", "CHILDPOT": "Y", "WEIGHT": "60"},
    "DX": {"COHORT": "SLE", "GILBERT": "N"},
    "LB": {"LBDAT": "2026-11-10", "ANC": "1.5", "CSF14D": "N", "HGB": "100", "ALT": "30",
           "ALTULN": "40", "AST": "30", "ASTULN": "40", "BILI": "10", "BILIULN": "20",
           "CREAT": "70", "CREATU": "umol/L", "TXMYO": "N", "CRCLACUT": "N"},
    "FC": {"FCDAT": "2026-11-10", "CD19POS": "Y"},
    "PG": {"PGDAT": "2026-11-20", "PGTYPE": "SERUM", "PGRES": "NEG", "LACTAT": "N"},
    "SR": {"SRDAT": "2026-11-10", "HBSAG": "NEG", "HBCAB": "NEG", "HCVAB": "NEG",
           "HIVAB": "NEG", "SYPH": "NEG"},
    "EC": {"ECDAT": "2026-11-10", "ECOG": "1"},
    "EX": {f"EX{n:02d}": "N" for n in (1, 2, 3, 4, 5, 7, 9, 12, 13)},
}


def run(changes: dict | None = None, pt: list | None = None, settings=None):
    data = {f: dict(items) for f, items in BASE.items()}
    for key, value in (changes or {}).items():
        form, item = key.split(".")
        if value is None:
            data[form].pop(item, None)
        else:
            data[form][item] = value
    ev = Evaluation(lambda f, i: data.get(f, {}).get(i), pt or [], REF, settings)
    return {r.id: r for r in ev.common()}


def test_the_base_subject_passes_every_common_criterion():
    results = run()
    assert {k: r.result for k, r in results.items() if k.startswith("IN")} == {
        k: MET for k in ("IN-01", "IN-02", "IN-03a", "IN-03b", "IN-03c", "IN-03d", "IN-03e",
                         "IN-03f", "IN-04", "IN-05", "IN-06")}
    assert all(r.result == NOT_MET for k, r in results.items() if k.startswith("EX"))
    assert len([k for k in results if k.startswith("EX")]) == 13


@pytest.mark.parametrize("changes, rid, expected", [
    ({"DM.BRTHDAT": "2008-11-01"}, "IN-01", MET),       # 18 on the consent day
    ({"DM.BRTHDAT": "2008-11-02"}, "IN-01", NOT_MET),   # 18 the day after
    ({"DM.BRTHDAT": None}, "IN-01", MISSING),
    ({"FC.CD19POS": "N"}, "IN-02", NOT_MET),
    ({"LB.ANC": "1.0"}, "IN-03a", MET), ({"LB.ANC": "0.99"}, "IN-03a", NOT_MET),
    ({"LB.CSF14D": "Y"}, "IN-03a", NOT_MET),
    ({"LB.HGB": "60"}, "IN-03b", MET), ({"LB.HGB": "59.9"}, "IN-03b", NOT_MET),
    ({"LB.ALT": "120"}, "IN-03c", MET), ({"LB.ALT": "120.1"}, "IN-03c", NOT_MET),
    ({"LB.ALT": "200", "DX.COHORT": "IIM", "LB.TXMYO": "Y"}, "IN-03c", MET),
    ({"LB.ALT": "200", "DX.COHORT": "SLE", "LB.TXMYO": "Y"}, "IN-03c", NOT_MET),
    ({"LB.AST": "121", "DX.COHORT": "IIM", "LB.TXMYO": "N"}, "IN-03d", NOT_MET),
    ({"LB.BILI": "30"}, "IN-03e", MET), ({"LB.BILI": "30.1"}, "IN-03e", NOT_MET),
    ({"LB.BILI": "60", "DX.GILBERT": "Y"}, "IN-03e", MET),
    ({"LB.BILI": "60.1", "DX.GILBERT": "Y"}, "IN-03e", NOT_MET),
    ({"EC.ECOG": "2"}, "IN-04", NOT_MET),
    ({"IC.COMPLY": "N"}, "IN-06", NOT_MET),
    ({"LB.LBDAT": "2026-10-31", "IC.RFICDAT": "2026-11-01"}, "IN-06", NOT_MET),
])
def test_inclusion_boundaries(changes, rid, expected):
    assert run(changes)[rid].result == expected


@pytest.mark.parametrize("lbdat, expected", [
    ("2026-10-27", MET),      # 28 days before the reference date
    ("2026-10-26", MISSING),  # 29 days: out of the window, so missing, not met
])
def test_lab_window_edges(lbdat, expected):
    results = run({"LB.LBDAT": lbdat, "IC.RFICDAT": "2026-10-20"})
    assert results["IN-03b"].result == expected
    if expected == MISSING:
        assert "outside the screening window" in results["IN-03b"].missing


@pytest.mark.parametrize("weight, creat, unit, sex, expected", [
    # (140 - 46) × w / (72 × 3.0 mg/dL), × 0.85 if female: 30 mL/min at w = 68.94 kg
    ("68.9", "3.0", "mg/dL", "M", NOT_MET),    # 29.98
    ("69", "3.0", "mg/dL", "M", MET),          # 30.03
    ("69", "265.2", "umol/L", "M", MET),       # the same creatinine in µmol/L
    ("68.9", "265.2", "umol/L", "M", NOT_MET),
    ("69", "3.0", "mg/dL", "F", NOT_MET),      # × 0.85 = 25.5
])
def test_crcl_both_units_and_sex(weight, creat, unit, sex, expected):
    result = run({"DM.WEIGHT": weight, "LB.CREAT": creat, "LB.CREATU": unit, "DM.SEX": sex,
                  "DM.CHILDPOT": "N", "DM.PARTPOT": "N"})["IN-03f"]
    assert result.result == expected, result.evidence


@pytest.mark.parametrize("cohort, expected", [("SSC", MET), ("IIM", MET), ("AAV", MET),
                                              ("SLE", NOT_MET)])
def test_acute_crcl_fall_is_exempt_except_in_lupus(cohort, expected):
    result = run({"DM.WEIGHT": "30", "LB.CREAT": "3.0", "LB.CREATU": "mg/dL",
                  "LB.CRCLACUT": "Y", "DX.COHORT": cohort})["IN-03f"]
    assert result.result == expected


@pytest.mark.parametrize("pgdat, expected", [
    ("2026-11-17", MET),      # 7 days before
    ("2026-11-16", MISSING),  # 8 days: the test is too old
    ("2026-11-24", MET),      # same day
])
def test_hcg_window_edges(pgdat, expected):
    assert run({"PG.PGDAT": pgdat})["IN-05"].result == expected


def test_contraception_and_hcg_applicability():
    assert run({"PG.PGRES": "POS"})["IN-05"].result == NOT_MET
    assert run({"PG.LACTAT": "Y"})["IN-05"].result == NOT_MET
    assert run({"IC.CONTRAC": "N"})["IN-05"].result == NOT_MET
    assert run({"DM.CHILDPOT": "N", "PG.PGDAT": None})["IN-05"].result == NA
    man = run({"DM.SEX": "M", "DM.PARTPOT": "Y", "PG.PGDAT": None})["IN-05"]
    assert man.result == MET and man.evidence["hcg"] == "not applicable"
    assert run({"DM.SEX": "M", "DM.PARTPOT": "N"})["IN-05"].result == NA


@pytest.mark.parametrize("changes, expected", [
    ({}, NOT_MET),
    ({"SR.HBSAG": "POS"}, MISSING),                                        # no HBV DNA
    ({"SR.HBSAG": "POS", "SR.HBVDNA": "20", "SR.HBVULN": "20"}, NOT_MET),  # equal to ULN
    ({"SR.HBSAG": "POS", "SR.HBVDNA": "21", "SR.HBVULN": "20"}, MET),
    ({"SR.HBCAB": "POS", "SR.HBVDNA": "500", "SR.HBVULN": "20"}, MET),
    ({"SR.HBCAB": "POS", "SR.HBVDNA": "0", "SR.HBVULN": "20"}, NOT_MET),
    ({"SR.HCVAB": "POS"}, MISSING),                                        # no HCV RNA
    ({"SR.HCVAB": "POS", "SR.HCVRNA": "NOT_DETECTED"}, NOT_MET),
    ({"SR.HCVAB": "POS", "SR.HCVRNA": "DETECTED"}, MET),
    ({"SR.HIVAB": "POS"}, MET), ({"SR.SYPH": "POS"}, MET),
])
def test_infection_rules(changes, expected):
    assert run(changes)["EX-08"].result == expected


@pytest.mark.parametrize("changes, rid, expected", [
    ({"EX.MALIGDAT": "2021-11-25"}, "EX-06", MET),      # within 5 years
    ({"EX.MALIGDAT": "2021-11-24"}, "EX-06", NOT_MET),  # exactly 5 years before
    ({"EX.TRIALDAT": "2026-08-25"}, "EX-10", MET),
    ({"EX.TRIALDAT": "2026-08-24"}, "EX-10", NOT_MET),  # exactly 3 months before
    ({"EX.EX04": "Y"}, "EX-04", MET), ({"EX.EX13": None}, "EX-13", MISSING),
])
def test_exclusion_boundaries(changes, rid, expected):
    assert run(changes)[rid].result == expected


@pytest.mark.parametrize("agent, last_dose, expected", [
    ("Rituximab", "2026-08-06", MET),            # + 110 days = 24 Nov: not yet clear
    ("Rituximab", "2026-08-05", NOT_MET),        # clear on 23 Nov
    ("cyclophosphamide", "2026-11-22", MET),     # 8 h × 5 → 2 days, rounded up
    ("cyclophosphamide", "2026-11-21", NOT_MET),
    ("hydroxychloroquine", "2026-11-20", NOT_MET),  # C-2: antimalarials not counted
    ("prednisone", "2026-11-23", NOT_MET),       # not an immunosuppressant of the table
    ("tocilizumab", None, MISSING),
])
def test_washout(agent, last_dose, expected):
    code = medications.resolve(agent).code  # the pick list's choice
    pt = [{"PTAGENT": code, "PTSTDAT": "2025-01-01", "PTLSTDAT": last_dose}]
    assert run(pt=pt)["EX-11"].result == expected


def test_washout_settings_are_data():
    pt = [{"PTAGENT": "HYDROXYCHLOROQUINE", "PTLSTDAT": "2026-11-20"}]
    counted = Settings(version="settings-2", antimalarials_count_for_washout=True)
    assert run(pt=pt, settings=counted)["EX-11"].result == MET


def test_months_before_clamps_to_the_month_end():
    assert months_before(date(2026, 5, 31), 3) == date(2026, 2, 28)
    assert months_before(date(2028, 2, 29), 12) == date(2027, 2, 28)
    assert months_before(date(2026, 1, 15), 1) == date(2025, 12, 15)


# Cohorts and the overall decision -----------------------------------------------------------



PT_SLE = [  # glucocorticoid + cyclophosphamide + MMF, MMF ineffective for 7 months
    {"PTAGENT": "PREDNISONE", "PTSTDAT": "2024-01-01", "PTENDAT": "2026-06-01",
     "PTLSTDAT": "2026-06-01", "PTRESP": "INEFFECTIVE"},
    {"PTAGENT": "CYCLOPHOSPHAMIDE", "PTSTDAT": "2024-01-01", "PTENDAT": "2024-06-01",
     "PTLSTDAT": "2024-06-01", "PTRESP": "INEFFECTIVE"},
    {"PTAGENT": "MYCOPHENOLATE_MOFETIL", "PTSTDAT": "2025-06-01", "PTENDAT": "2026-01-05",
     "PTLSTDAT": "2026-01-05", "PTRESP": "INEFFECTIVE"},
]
SLE = {"DX.CLRESULT": "classified", "DX.CLSCORE": "16", "DA.SLEDAI": "12",
       "DA.BXDAT": "2026-06-01", "DA.LNCLASS": "IV", "DA.NIHACT": "6", "DA.NIHCHR": "2",
       "DA.UPCR": "2.5"}


def full(changes: dict, pt: list, ref=REF):
    data = {f: dict(items) for f, items in BASE.items()}
    data["DA"] = {}
    for key, value in changes.items():
        form, item = key.split(".")
        if value is None:
            data[form].pop(item, None)
        else:
            data[form][item] = value
    return evaluate(lambda f, i: data.get(f, {}).get(i), pt, ref)


def ids(result) -> dict:
    return {r.id: r.result for r in result["criteria"]}


def test_an_sle_subject_with_everything_in_place_is_eligible():
    result = full(SLE, PT_SLE)
    assert result["status"] == "eligible", [(r.id, r.result, r.missing)
                                            for r in result["criteria"] if r.result != MET
                                            and not r.id.startswith("EX")]
    assert "C-1" in result["rule_version"] and "C-2" in result["rule_version"]


@pytest.mark.parametrize("changes, rid, expected", [
    ({"DA.SLEDAI": "7"}, "SLE-2", NOT_MET), ({"DA.SLEDAI": "8"}, "SLE-2", MET),
    ({"DA.BXDAT": "2026-05-25"}, "SLE-3", MET),       # 183 days before
    ({"DA.BXDAT": "2026-05-24"}, "SLE-3", MISSING),   # 184 days: out of the window
    ({"DA.LNCLASS": "V"}, "SLE-3", NOT_MET), ({"DA.NIHACT": "2"}, "SLE-3", NOT_MET),
    ({"DA.UPCR": "1.0"}, "SLE-3", NOT_MET),
    ({"DA.UPCR": None, "DA.PROT24": "1.2"}, "SLE-3", MET),
    ({"DX.CLRESULT": "not classified"}, "SLE-1", NOT_MET),
])
def test_sle_criteria(changes, rid, expected):
    assert ids(full({**SLE, **changes}, PT_SLE))[rid] == expected


def test_sle_refractory_needs_cyclophosphamide_and_six_months():
    no_cyc = [r for r in PT_SLE if r["PTAGENT"] != "CYCLOPHOSPHAMIDE"]
    assert ids(full(SLE, no_cyc))["SLE-4"] == NOT_MET
    short = [dict(r) for r in PT_SLE]
    short[2]["PTENDAT"] = "2025-11-29"  # 181 days of MMF
    assert ids(full(SLE, short))["SLE-4"] == NOT_MET
    relapse = [dict(r) for r in short]
    relapse[2]["PTRESP"] = "RELAPSE"
    assert ids(full(SLE, relapse))["SLE-4"] == MET
    assert ids(full(SLE, []))["SLE-4"] == MISSING


SSC = {"DX.COHORT": "SSC", "DX.CLRESULT": "classified", "DX.CLSCORE": "11", "DX.SSC12": "Y",
       "DX.SUBTYPE": "DIFFUSE", "DA.MRSS": "26", "DA.MRSSPRI": "20"}
PT_OTHER = [{"PTAGENT": "PREDNISONE", "PTSTDAT": "2025-01-01", "PTRESP": "ONGOING"},
            {"PTAGENT": "METHOTREXATE", "PTSTDAT": "2025-01-01", "PTENDAT": "2025-09-01",
             "PTRESP": "INEFFECTIVE"}]


@pytest.mark.parametrize("changes, expected_ssc5", [
    ({}, MET),                                            # 30 % mRSS rise
    ({"DA.MRSS": "25"}, NOT_MET),                          # exactly 25 %
    ({"DA.MRSS": None, "DA.MRSSPRI": None}, MISSING),
    ({"DA.MRSS": "20", "DA.FVC": "72", "DA.FVCPRI": "80"}, MET),                  # −10 %
    ({"DA.MRSS": "20", "DA.FVC": "76", "DA.FVCPRI": "80", "DA.DLCO": "51",
      "DA.DLCOPRI": "60"}, MET),                                                # −5 % & −15 %
    ({"DA.MRSS": "20", "DA.FVC": "76", "DA.FVCPRI": "80", "DA.DLCO": "52",
      "DA.DLCOPRI": "60"}, NOT_MET),
])
def test_ssc_progression(changes, expected_ssc5):
    assert ids(full({**SSC, **changes}, PT_OTHER))["SSC-5"] == expected_ssc5


def test_ssc_alternatives_refractory_or_progressive():
    stable = full({**SSC, "DA.MRSS": "20"}, PT_OTHER)          # refractory only
    assert ids(stable)["SSC-4"] == MET and stable["status"] == "eligible"
    none = full({**SSC, "DA.MRSS": "20"}, PT_OTHER[:1])         # neither
    assert none["status"] == "not_eligible"
    assert [r.id for r in failing(none["criteria"], none["alternatives"])] == ["SSC-4", "SSC-5"]
    # one alternative met: the other one missing keeps nobody out
    unknown = full({**SSC, "DA.MRSS": None, "DA.MRSSPRI": None}, PT_OTHER)
    assert ids(unknown)["SSC-5"] == MISSING and unknown["status"] == "eligible"
    assert failing(unknown["criteria"], unknown["alternatives"]) == []
    # none met, one still missing: not evaluable yet, and only the missing one is named
    open_ = full({**SSC, "DA.MRSS": None, "DA.MRSSPRI": None}, PT_OTHER[:1])
    assert open_["status"] == "not_evaluable"
    assert [r.id for r in failing(open_["criteria"], open_["alternatives"])] == ["SSC-5"]


IIM = {"DX.COHORT": "IIM", "DX.CLRESULT": "probable", "DX.CLSCORE": "6.1",
       "DX.SUBTYPE": "DM", "DA.MMT8": "130", "DA.PHGA": "4", "DA.HAQDI": "0.5",
       "DA.PTGA": "1", "DA.EXTRAMUS": "1", "LB.TXMYO": "Y"}


def test_iim_core_set_and_clarification_c1():
    assert ids(full(IIM, PT_OTHER))["IIM-2"] == MET
    assert ids(full({**IIM, "DA.MMT8": "142"}, PT_OTHER))["IIM-2"] == NOT_MET
    assert ids(full({**IIM, "DA.HAQDI": "0.2"}, PT_OTHER))["IIM-2"] == NOT_MET
    enzyme = {**IIM, "DA.HAQDI": "0.2", "LB.CK": "300", "LB.CKULN": "200"}
    assert ids(full(enzyme, PT_OTHER))["IIM-2"] == MET
    # a core-set measure not entered could make the second abnormality: missing, not a verdict
    assert ids(full({**IIM, "DA.HAQDI": "0.2", "DA.PTGA": None}, PT_OTHER))["IIM-2"] == MISSING
    # a muscle enzyme below its limit of quantification cannot count
    loq = {**IIM, "DA.HAQDI": "0.2", "LB.CK": "<400", "LB.CKULN": "200"}
    assert ids(full(loq, PT_OTHER))["IIM-2"] == MISSING
    # IIM-3 or IIM-4 (C-1): attested ILD progression alone is enough
    ild = full({**IIM, "DA.ILDPROG": "Y", "DA.ILDDAT": "2026-10-01"}, PT_OTHER[:1])
    assert ids(ild)["IIM-3"] == NOT_MET and ild["status"] == "eligible"


def test_aav():
    aav = {"DX.COHORT": "AAV", "DX.CLRESULT": "MPA", "DX.CLSCORE": "9", "DX.SUBTYPE": "MPA",
           "DA.ANCATYPE": "MPO", "DA.BVAS": "15"}
    assert full(aav, PT_OTHER)["status"] == "eligible"
    assert ids(full({**aav, "DA.BVAS": "14"}, PT_OTHER))["AAV-3"] == NOT_MET
    assert ids(full({**aav, "DA.ANCATYPE": "NEG"}, PT_OTHER))["AAV-2"] == NOT_MET
    assert ids(full({**aav, "DX.CLRESULT": "not classified"}, PT_OTHER))["AAV-1"] == NOT_MET


@pytest.mark.parametrize("changes, rid, expected", [
    ({}, "SSC-1", MET), ({"DX.CLRESULT": "not classified", "DX.CLSCORE": "8"}, "SSC-1",
                         NOT_MET),
    ({"DX.CLRESULT": None}, "SSC-1", MISSING),
    ({}, "SSC-2", MET), ({"DX.SSC12": "N"}, "SSC-2", NOT_MET),
    ({"DX.SSC12": "N", "DX.SSC11": "Y"}, "SSC-2", MET),
    ({"DX.SSC12": "N", "DA.SSCABOTH": "anti-Th/To"}, "SSC-2", MET),  # recorded by the PI
    ({}, "SSC-3", MET), ({"DX.SUBTYPE": "LIMITED"}, "SSC-3", NOT_MET),
    ({"DX.SUBTYPE": "LIMITED", "DA.HRCTGGO": "Y"}, "SSC-3", MET),
])
def test_ssc_classification_antibody_and_extent(changes, rid, expected):
    assert ids(full({**SSC, **changes}, PT_OTHER))[rid] == expected


@pytest.mark.parametrize("changes, rid, expected", [
    ({}, "IIM-1", MET), ({"DX.CLRESULT": "definite"}, "IIM-1", MET),
    ({"DX.CLRESULT": "possible"}, "IIM-1", NOT_MET),
    ({"DX.SUBTYPE": None}, "IIM-1", MISSING),  # the subtype must be recorded
    ({"DA.ILDPROG": "Y"}, "IIM-4", MISSING),   # attested without its evidence date
    ({"DA.ILDPROG": "Y", "DA.ILDDAT": "2026-10-01"}, "IIM-4", MET),
    ({"DA.ILDPROG": "N"}, "IIM-4", NOT_MET),
])
def test_iim_classification_and_progression(changes, rid, expected):
    assert ids(full({**IIM, **changes}, PT_OTHER))[rid] == expected


@pytest.mark.parametrize("pt, expected", [
    (PT_OTHER, MET),                       # glucocorticoid + methotrexate ineffective 8 months
    (PT_OTHER[:1], NOT_MET),               # glucocorticoid alone is not conventional treatment
    ([], MISSING),
])
def test_aav_refractory(pt, expected):
    aav = {"DX.COHORT": "AAV", "DX.CLRESULT": "MPA", "DX.CLSCORE": "9", "DX.SUBTYPE": "MPA",
           "DA.ANCATYPE": "MPO", "DA.BVAS": "15"}
    assert ids(full(aav, pt))["AAV-4"] == expected


@pytest.mark.parametrize("n", [1, 2, 3, 4, 5, 7, 9, 12, 13])
@pytest.mark.parametrize("answer, expected", [("Y", MET), ("N", NOT_MET), (None, MISSING)])
def test_investigator_judged_exclusions(n, answer, expected):
    assert run({f"EX.EX{n:02d}": answer})[f"EX-{n:02d}"].result == expected


def test_decision_missing_and_failing():
    assert full({**SLE, "PG.PGDAT": "2026-11-01"}, PT_SLE)["status"] == "not_evaluable"
    assert full({**SLE, "EX.EX02": "Y"}, PT_SLE)["status"] == "not_eligible"
    both = full({**SLE, "EX.EX02": "Y", "PG.PGDAT": "2026-11-01"}, PT_SLE)
    assert both["status"] == "not_eligible"  # a definite failure outweighs a missing value
    assert decide([], []) == "eligible"


# Robustness: whatever valid values are stored, the checklist evaluates -----------------------

def _item_values(form_oid: str, item) -> st.SearchStrategy:
    from forms.study_build import BUILD

    if item.type == "date":
        return st.dates(date(1920, 1, 1), date(2027, 12, 31)).map(date.isoformat)
    if item.type == "code":
        return st.sampled_from(BUILD.codelists[item.codelist].codes)
    if item.type in ("integer", "float"):
        hard, _ = item.ranges_for("umol/L")
        low = float(hard.low) if hard and hard.low is not None else 0.0
        high = float(hard.high) if hard and hard.high is not None else 1e6
        numbers = st.integers(int(low), int(high)) if item.type == "integer" else \
            st.floats(low, high, allow_nan=False).map(lambda x: round(x, 2))
        return numbers.map(str)
    return st.sampled_from(["prednisone", "rituximab", "cyclophosphamide", "x", "anti-Ku"])


@st.composite
def _screening(draw):
    from forms.study_build import BUILD

    data = {}
    for form_oid in BUILD.event("SCREEN").forms:
        if form_oid == "PT":
            continue
        form = BUILD.form(form_oid)
        data[form_oid] = {i.name: draw(st.none() | _item_values(form_oid, i))
                          for i in form.items}
    pt_form = BUILD.form("PT")
    rows = draw(st.lists(st.fixed_dictionaries(
        {i.name: st.none() | _item_values("PT", i) for i in pt_form.items}), max_size=3))
    return data, rows


@settings(max_examples=200, deadline=None)
@given(_screening(), st.dates(date(2020, 1, 1), date(2027, 12, 31)))
def test_any_stored_values_evaluate_without_error(screening, reference):
    data, rows = screening
    result = evaluate(lambda f, i: data.get(f, {}).get(i), rows, reference)
    assert result["status"] in ("eligible", "not_eligible", "not_evaluable")
    assert {r.result for r in result["criteria"]} <= {MET, NOT_MET, MISSING, NA}
