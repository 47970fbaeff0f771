"""Every check value of spec/scores.md and the boundary of every grade (pure functions)."""

from __future__ import annotations

import pytest

from forms import scores as s


@pytest.mark.parametrize("age, weight, scr, unit, sex, expected", [
    (60, 70, 1.0, "mg/dL", "M", 77.78),       # scores.md check values
    (82, 56, 1.58, "mg/dL", "F", 24.27),
    (70, 75, 110, "umol/L", "M", 58.60),
    (70, 75, 110, "µmol/L", "M", 58.60),
    (70, 75, 110 / 88.4, "mg/dL", "M", 58.60),  # both units agree
])
def test_cockcroft_gault(age, weight, scr, unit, sex, expected):
    assert round(s.crcl_cockcroft_gault(age, weight, scr, unit, sex), 2) == expected


def test_creatinine_conversion_is_not_the_shortcut():
    exact = s.crcl_cockcroft_gault(70, 75, 110, "umol/L", "M")
    shortcut = (140 - 70) * 75 * 1.23 / 110
    assert round(exact, 1) != round(shortcut, 1)


@pytest.mark.parametrize("kwargs, message", [
    ({"age": 60, "weight_kg": 70, "creatinine": 0, "unit": "mg/dL", "sex": "M"}, "above 0"),
    ({"age": 60, "weight_kg": 70, "creatinine": 1, "unit": "mmol/L", "sex": "M"}, "unit"),
    ({"age": 60, "weight_kg": 70, "creatinine": 1, "unit": "mg/dL", "sex": "X"}, "sex"),
    ({"age": None, "weight_kg": 70, "creatinine": 1, "unit": "mg/dL", "sex": "M"}, "age"),
])
def test_cockcroft_gault_refuses_bad_input(kwargs, message):
    with pytest.raises(ValueError, match=message):
        s.crcl_cockcroft_gault(**kwargs)


def test_bsa_mosteller():
    assert round(s.bsa_mosteller(175, 70), 3) == 1.845


@pytest.mark.parametrize("crcl, factor, stop", [
    (120, 1.0, False), (80, 1.0, False), (79.99, 0.8, False), (50, 0.8, False),
    (49.99, 0.6, False), (30, 0.6, False), (29.99, 0.0, True), (0, 0.0, True),
])
def test_fludarabine_renal_adjustment_boundaries(crcl, factor, stop):
    doses = s.lymphodepletion_doses(1.845, crcl)
    assert doses["flu_factor"] == pytest.approx(factor)
    assert doses["stop"] is stop
    assert doses["flu_mg"] == pytest.approx(30 * 1.845 * factor)
    assert doses["cy_mg"] == pytest.approx(500 * 1.845)


@pytest.mark.parametrize("prescribed, administered, needs", [
    (100, 110, False), (100, 110.01, True), (100, 90, False), (100, 89.99, True),
])
def test_dose_difference_over_ten_percent_needs_a_reason(prescribed, administered, needs):
    assert s.dose_needs_reason(prescribed, administered) is needs


@pytest.mark.parametrize("kwargs, grade", [
    ({"fever": True, "hypotension": "one_vasopressor", "hypoxia": "low_flow"}, 3),  # example
    ({"fever": True}, 1),
    ({"fever": True, "hypotension": "no_vasopressor"}, 2),
    ({"fever": True, "hypoxia": "low_flow"}, 2),
    ({"fever": True, "hypoxia": "blow_by"}, 2),
    ({"fever": True, "hypoxia": "high_flow"}, 3),
    ({"fever": True, "hypoxia": "face_mask"}, 3),
    ({"fever": True, "hypotension": "multiple_vasopressors"}, 4),
    ({"fever": True, "hypoxia": "positive_pressure"}, 4),
    ({"fever": True, "hypotension": "no_vasopressor", "hypoxia": "positive_pressure"}, 4),
    ({"fever": False, "hypotension": "one_vasopressor"}, 0),  # fever required
    ({"fever": True, "fever_other_cause": True, "hypotension": "one_vasopressor"}, 0),
    ({"fever": False, "treated": True, "hypotension": "one_vasopressor"}, 3),  # after tocilizumab
    ({"fever": False, "treated": True}, 0),
    ({"fever": True, "died_of_crs": True}, 5),
])
def test_astct_crs_grade(kwargs, grade):
    assert s.crs_grade(**kwargs) == grade


def test_crs_refuses_unknown_levels():
    with pytest.raises(ValueError, match="hypoxia"):
        s.crs_grade(fever=True, hypoxia="oxygen")


def test_ice_score_and_ranges():
    full = {"orientation": 4, "naming": 3, "commands": 1, "writing": 1, "counting": 1}
    assert s.ice_score(**full) == 10
    assert s.ice_score(**{k: 0 for k in full}) == 0
    with pytest.raises(ValueError, match="orientation must be at most 4"):
        s.ice_score(**{**full, "orientation": 5})
    with pytest.raises(ValueError, match="naming is required"):
        s.ice_score(orientation=4, commands=1, writing=1, counting=1)


@pytest.mark.parametrize("kwargs, grade", [
    ({"ice": 10}, 0), ({"ice": 9}, 1), ({"ice": 7}, 1), ({"ice": 6}, 2), ({"ice": 3}, 2),
    ({"ice": 2}, 3), ({"ice": 0}, 3), ({"ice": None}, 4),
    ({"ice": 10, "consciousness": "spontaneous"}, 1),
    ({"ice": 10, "consciousness": "voice"}, 2),
    ({"ice": 10, "consciousness": "tactile"}, 3),
    ({"ice": 10, "consciousness": "unarousable"}, 4),
    ({"ice": 10, "seizure": "rapid"}, 3), ({"ice": 10, "seizure": "prolonged"}, 4),
    ({"ice": 10, "motor_weakness": True}, 4),
    ({"ice": 10, "icp": "focal"}, 3), ({"ice": 10, "icp": "diffuse"}, 4),
    ({"ice": 8, "consciousness": "voice", "icp": "focal"}, 3),  # most severe domain
])
def test_astct_icans_grade(kwargs, grade):
    assert s.icans_grade(**kwargs) == grade


def _days(n500: int, n100: int = 0) -> dict[int, float]:
    values = [50.0] * n100 + [400.0] * (n500 - n100)
    days = {d: 2000.0 for d in range(31)}
    days.update(dict(enumerate(values)))
    return days


@pytest.mark.parametrize("n500, n100, grade", [
    (0, 0, 0), (1, 0, 1), (6, 0, 1), (7, 0, 2), (13, 0, 2), (14, 0, 3), (30, 0, 3),
    (7, 6, 2), (7, 7, 3), (13, 13, 3), (14, 14, 4), (31, 0, 4),
])
def test_icaht_early(n500, n100, grade):
    assert s.icaht_early(_days(n500, n100)) == grade


def test_icaht_early_ignores_days_outside_0_to_30():
    assert s.icaht_early({-1: 0.0, 31: 0.0, 45: 0.0}) == 0


@pytest.mark.parametrize("values, grade", [
    ([1600, 1500], 0), ([1500, 1500], 1), ([1000, 1400], 1), ([1000, 1000], 2),
    ([500, 500], 3), ([100, 100, 2000], 4), ([100, 600, 2000], 2), ([100, 1200, 2000], 1),
    ([50], 0),
])
def test_icaht_late_needs_two_measurements(values, grade):
    assert s.icaht_late(values) == grade


def test_sledai_2k_weights_and_maximum():
    assert s.sledai_2k([]) == 0
    assert s.sledai_2k(["seizure", "proteinuria", "rash", "fever"]) == 8 + 4 + 2 + 1
    assert s.sledai_2k(s.SLEDAI_2K) == 105
    assert len(s.SLEDAI_2K) == 24
    with pytest.raises(ValueError, match="unknown item"):
        s.sledai_2k(["headache"])


@pytest.mark.parametrize("ana, items, score, classified", [
    (True, ["joint_involvement", "low_c3_or_c4"], 9, False),
    (True, ["joint_involvement", "low_c3_and_c4"], 10, True),
    (True, ["low_c3_or_c4", "low_c3_and_c4", "anti_dsdna_or_sm"], 10, False),  # no clinical
    (False, ["biopsy_class_iii_or_iv", "anti_dsdna_or_sm"], 16, False),  # no ANA
    (True, ["leukopenia", "thrombocytopenia", "autoimmune_haemolysis", "fever"], 6, False),
    (True, ["biopsy_class_ii_or_v", "biopsy_class_iii_or_iv", "proteinuria"], 10, True),
])
def test_sle_2019_highest_item_per_domain(ana, items, score, classified):
    assert s.sle_2019(ana, items) == {"score": score, "classified": classified}


@pytest.mark.parametrize("items, score, classified", [
    (["skin_proximal_to_mcp"], 9, True),
    (["puffy_fingers", "sclerodactyly", "raynaud"], 7, False),
    (["sclerodactyly", "raynaud", "abnormal_nailfold"], 9, True),
    (["digital_tip_ulcers", "pitting_scars"], 3, False),
    (["pah", "ild", "anti_centromere", "anti_topoisomerase"], 5, False),
])
def test_ssc_2013(items, score, classified):
    assert s.ssc_2013(items) == {"score": score, "classified": classified}


def test_mrss_17_sites():
    assert len(s.MRSS_SITES) == 17
    assert s.mrss(dict.fromkeys(s.MRSS_SITES, 3)) == 51
    assert s.mrss(dict.fromkeys(s.MRSS_SITES, 0)) == 0
    with pytest.raises(ValueError, match="at most 3"):
        s.mrss({**dict.fromkeys(s.MRSS_SITES, 0), "face": 4})
    with pytest.raises(ValueError, match="is required"):
        s.mrss({"face": 1})


@pytest.mark.parametrize("age, items, biopsy, score, band", [
    (45, ["heliotrope_rash", "upper_limb_weakness"], False, 5.9, "probable"),
    (45, ["heliotrope_rash"], False, 5.2, "none"),
    (30, ["anti_jo1", "upper_limb_weakness"], False, 5.9, "probable"),
    (17, ["anti_jo1", "gottron_sign"], False, 7.2, "probable"),   # < 18: no age points
    (45, ["gottron_sign", "dysphagia", "lower_limb_weakness", "raised_enzymes"], False, 8.2,
     "definite"),
    (40, ["anti_jo1", "upper_limb_weakness"], True, 6.7, "probable"),  # exactly 6.7
    (40, ["anti_jo1", "rimmed_vacuoles"], True, 9.1, "definite"),
    (40, ["rimmed_vacuoles"], False, 2.1, "none"),  # biopsy items need a biopsy
    (39.9, ["heliotrope_rash", "upper_limb_weakness", "dysphagia"], False, 5.8, "probable"),
    (18, ["heliotrope_rash", "raised_enzymes"], False, 5.7, "probable"),
    (18, ["heliotrope_rash", "upper_limb_weakness"], False, 5.1, "none"),
    (40, ["heliotrope_rash", "dysphagia", "legs_proximal_weaker", "raised_enzymes"], False,
     8.1, "definite"),
])
def test_iim_2017_scores_and_bands(age, items, biopsy, score, band):
    result = s.iim_2017(age, items, biopsy=biopsy)
    assert result == {"score": pytest.approx(score), "band": band}


def test_iim_2017_cut_offs_are_exact():
    # 2.1 + 3.4 = 5.5 in decimal arithmetic, not 5.499999…
    assert s.iim_2017(45, ["gottron_sign", "neck_flexors_weaker"], biopsy=False)["score"] \
        == pytest.approx(7.3)
    assert s.iim_2017(45, ["dysphagia", "gottron_papules", "lower_limb_weakness"],
                      biopsy=False) == {"score": pytest.approx(5.7), "band": "probable"}


def test_mmt8_bilateral():
    assert len(s.MMT8_ITEMS) == 15
    assert s.mmt8(dict.fromkeys(s.MMT8_ITEMS, 10)) == 150
    with pytest.raises(ValueError, match="at most 10"):
        s.mmt8({**dict.fromkeys(s.MMT8_ITEMS, 10), "neck_flexors": 11})


def _system(name):
    return [k for system, k, *_ in s.BVAS_ITEMS if system == name]


def test_bvas_v3_has_the_56_published_items_in_nine_systems():
    assert len(s.BVAS_ITEMS) == 56
    assert [system for system in dict.fromkeys(i[0] for i in s.BVAS_ITEMS)] == list(s.BVAS_MAX)
    assert len({k for _, k, *_ in s.BVAS_ITEMS}) == 56


@pytest.mark.parametrize("system", list(s.BVAS_MAX))
def test_bvas_v3_caps_each_system_at_its_maximum(system):
    persistent_max, new_max = s.BVAS_MAX[system]
    assert s.bvas_v3(_system(system)) == new_max
    assert s.bvas_v3(_system(system), persistent=True) == persistent_max


def test_bvas_v3_totals_and_weights():
    every = [k for _, k, *_ in s.BVAS_ITEMS]
    assert s.bvas_v3(every) == 63 and s.bvas_v3(every, persistent=True) == 33
    assert s.bvas_v3([]) == 0
    # below the caps the weights add: fever 2 + weight loss 2 → 3 (cap); gangrene 6
    assert s.bvas_v3(["myalgia", "arthralgia"]) == 2
    assert s.bvas_v3(["gangrene"]) == 6 and s.bvas_v3(["gangrene"], persistent=True) == 2
    assert s.bvas_v3(["haematuria", "proteinuria"]) == 10
    assert s.bvas_v3(["haematuria", "proteinuria", "hypertension"]) == 12  # renal cap
    # items new or worse by definition score nothing as persistent disease
    assert s.bvas_v3(["sudden_visual_loss"]) == 6
    assert s.bvas_v3(["sudden_visual_loss"], persistent=True) == 0


def test_bvas_v3_creatinine_bands_count_only_at_the_first_assessment():
    assert s.bvas_v3(["creatinine_500"]) == 8
    assert s.bvas_v3(["creatinine_500"], first_assessment=False) == 0
    assert s.bvas_v3(["creatinine_rise"], first_assessment=False) == 6
    with pytest.raises(ValueError, match="unknown item"):
        s.bvas_v3(["renal"])


def test_bvas_subtotals_of_older_metadata_still_read():
    assert s.bvas_v3_subtotals({"renal": 20}) == 12
    assert s.bvas_v3_subtotals({"general": 2, "ent": 3, "chest": 4}) == 9


@pytest.mark.parametrize("items, gpa, mpa, egpa", [
    (["canca_or_pr3"], (5, True), (-1, False), (-3, False)),
    (["panca_or_mpo", "pauci_immune_gn"], (0, False), (9, True), (0, False)),
    (["obstructive_airway", "eosinophils_ge_1"], (-4, False), (-4, False), (8, True)),
    # one nasal finding scores in GPA (+3) and in MPA (−3)
    (["nasal_involvement", "pauci_immune_gn"], (4, False), (0, False), (0, False)),
    (["panca_or_mpo", "nasal_involvement"], (2, False), (3, False), (0, False)),
    (["obstructive_airway", "nasal_polyps"], (0, False), (0, False), (6, True)),
])
def test_aav_2022(items, gpa, mpa, egpa):
    result = s.aav_2022(items)
    # the older metadata's second nasal item ("sinonasal") reads as the same finding
    old = [("sinonasal" if i == "nasal_involvement" else i) for i in items]
    assert s.aav_2022(old) == result
    assert (result["gpa"]["score"], result["gpa"]["classified"]) == gpa
    assert (result["mpa"]["score"], result["mpa"]["classified"]) == mpa
    assert (result["egpa"]["score"], result["egpa"]["classified"]) == egpa


def test_nih_indices():
    assert s.nih_activity(dict.fromkeys(s.NIH_ACTIVITY, 3)) == 24
    assert s.nih_activity({**dict.fromkeys(s.NIH_ACTIVITY, 0), "fibrinoid_necrosis": 1}) == 2
    assert s.nih_chronicity(dict.fromkeys(s.NIH_CHRONICITY, 3)) == 12

