"""Common inclusion IN-01…IN-06 and exclusions EX-01…EX-13 at their boundaries (pure)."""

from __future__ import annotations

from datetime import date

import pytest

from edc.eligibility.rules import (
    MET,
    MISSING,
    NA,
    NOT_MET,
    Evaluation,
    Settings,
    months_before,
)

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
    pt = [{"PTAGENT": agent, "PTSTDAT": "2025-01-01", "PTLSTDAT": last_dose}]
    assert run(pt=pt)["EX-11"].result == expected


def test_washout_settings_are_data():
    pt = [{"PTAGENT": "hydroxychloroquine", "PTLSTDAT": "2026-11-20"}]
    counted = Settings(version="settings-2", antimalarials_count_for_washout=True)
    assert run(pt=pt, settings=counted)["EX-11"].result == MET


def test_months_before_clamps_to_the_month_end():
    assert months_before(date(2026, 5, 31), 3) == date(2026, 2, 28)
    assert months_before(date(2028, 2, 29), 12) == date(2027, 2, 28)
    assert months_before(date(2026, 1, 15), 1) == date(2025, 12, 15)
