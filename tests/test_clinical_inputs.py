"""Coded medications, partial dates, results beyond a quantification limit, lymphodepletion
dosing and ICAHT: the rules read what they can interpret and answer `missing` for the rest.
Pure functions; the save path and pages are in test_clinical_safety.py."""

from __future__ import annotations

from datetime import date

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edc.eligibility.rules import MET, MISSING, NOT_MET, Settings, criterion_texts
from forms import medications, scores
from forms.derive import derive
from forms.values import parse_date, parse_quantity
from tests.test_eligibility_rules import PT_SLE, SLE, full, ids, run

# Medication dictionary ----------------------------------------------------------------------

SPELLINGS = {  # every agent of the washout table, as site staff type it
    "RITUXIMAB": ["rituximab", "Rituximab", "利妥昔单抗", "美罗华", "MabThera", "Rituxan", "RTX",
                  "ＲＩＴＵＸＩＭＡＢ"],
    "BELIMUMAB": ["belimumab", "贝利尤单抗", "Benlysta", "倍力腾"],
    "TOCILIZUMAB": ["tocilizumab", "托珠单抗", "Actemra", "RoActemra", "雅美罗"],
    "CYCLOPHOSPHAMIDE": ["cyclophosphamide", "环磷酰胺", "CTX", "Endoxan", "Cytoxan"],
    "MYCOPHENOLATE_MOFETIL": ["mycophenolate mofetil", "Mycophenolate Mofetil", "MMF",
                              "mmf", "CellCept", "吗替麦考酚酯", "骁悉"],
    "TACROLIMUS": ["tacrolimus", "他克莫司", "FK506", "Prograf", "普乐可复"],
    "CICLOSPORIN": ["ciclosporin", "cyclosporine", "环孢素", "Neoral", "新山地明"],
    "AZATHIOPRINE": ["azathioprine", "硫唑嘌呤", "Imuran", "AZA"],
    "METHOTREXATE": ["methotrexate", "甲氨蝶呤", "MTX"],
    "LEFLUNOMIDE": ["leflunomide", "来氟米特", "Arava", "爱若华"],
    "TERIFLUNOMIDE": ["teriflunomide", "特立氟胺", "Aubagio"],
    "HYDROXYCHLOROQUINE": ["hydroxychloroquine", "羟氯喹", "HCQ", "Plaquenil", "纷乐"],
}


@pytest.mark.parametrize("code, spelling", [(c, s) for c, names in SPELLINGS.items()
                                            for s in names])
def test_every_spelling_of_a_washout_agent_finds_its_code(code, spelling):
    assert medications.resolve(spelling).code == code
    assert medications.search(spelling)[0].code == code  # the pick list offers it first


def test_the_dictionary_covers_the_washout_table_and_the_car_t_agents():
    table = medications.reference_half_lives()
    assert set(table) == set(SPELLINGS)
    assert table["RITUXIMAB"] == 22 * 24 and table["CYCLOPHOSPHAMIDE"] == 8
    for code in ("TOCILIZUMAB", "SILTUXIMAB", "ANAKINRA", "FILGRASTIM", "IVIG",
                 "DEXAMETHASONE", "METHYLPREDNISOLONE", "FLUDARABINE", "TELITACICEPT"):
        assert medications.get(code) is not None
    for med in medications.MEDICATIONS:
        assert med.zh and med.en and med.cls in medications.CLASSES
        assert med.atc is None or len(med.atc) == 7
    assert medications.resolve("利妥昔单抗 (rituximab)") is None  # not a name: no guess
    assert medications.resolve("Mycophenolate") is None  # MMF or the sodium salt: ambiguous


def test_older_settings_keyed_by_name_are_read_by_code():
    old = Settings.from_dict(1, {"half_life_hours": {"rituximab": 528,
                                                     "mycophenolate mofetil": 18}})
    assert old.half_life_hours == {"RITUXIMAB": 528, "MYCOPHENOLATE_MOFETIL": 18}


# EX-11: nothing unknown passes -----------------------------------------------------------------

def _ex11(*rows, **kw):
    return run(pt=list(rows), **kw)["EX-11"]


def test_a_coded_agent_in_its_washout_excludes():
    r = _ex11({"PTAGENT": "RITUXIMAB", "PTLSTDAT": "2026-08-06"})
    assert r.result == MET and r.evidence["within_washout"][0]["washout_until"] == "2026-11-24"


def test_an_other_agent_is_missing_until_the_investigator_judges_it():
    row = {"PTAGENT": "OTHER", "PTAGOTH": "雷公藤多苷", "PTLSTDAT": "2026-11-01"}
    r = _ex11(row)
    assert r.result == MISSING and "confirm the washout of 雷公藤多苷" in r.missing
    assert _ex11({**row, "PTWOJ": "NOT_IS"}).result == NOT_MET
    assert _ex11({**row, "PTWOJ": "COMPLETE"}).result == NOT_MET
    assert _ex11({**row, "PTWOJ": "NOT_COMPLETE"}).result == MET


def test_a_coded_agent_without_a_half_life_needs_a_judgement():
    r = _ex11({"PTAGENT": "TELITACICEPT", "PTLSTDAT": "2025-01-01"})
    assert r.result == MISSING and "telitacicept" in r.missing and "PT.PTWOJ" in r.missing


def test_a_coded_agent_without_a_last_dose_is_missing():
    r = _ex11({"PTAGENT": "TOCILIZUMAB", "PTSTDAT": "2025-01-01"})
    assert r.result == MISSING and "last dose date of tocilizumab" in r.missing


def test_a_typed_name_of_an_older_metadata_version_is_not_read():
    """Rows entered under metadata 1.0/1.1 hold free text: never matched to a half-life."""
    r = _ex11({"PTAGENT": "利妥昔单抗 (rituximab)", "PTLSTDAT": "2026-11-01"})
    assert r.result == MISSING and "利妥昔单抗 (rituximab)" in r.missing


def test_agents_outside_ex11_do_not_count():
    assert _ex11({"PTAGENT": "PREDNISONE", "PTLSTDAT": "2026-11-23"}).result == NOT_MET
    assert _ex11({"PTAGENT": "FILGRASTIM", "PTLSTDAT": "2026-11-23"}).result == NOT_MET


def test_a_definite_washout_outweighs_an_unresolved_row():
    r = _ex11({"PTAGENT": "RITUXIMAB", "PTLSTDAT": "2026-11-01"},
              {"PTAGENT": "OTHER", "PTAGOTH": "unknown"})
    assert r.result == MET and r.evidence["unresolved"]


_TEXT = st.text(min_size=1, max_size=30).filter(lambda t: t.upper() not in medications.BY_CODE)
_DAY = st.dates(date(2020, 1, 1), date(2026, 11, 24)).map(date.isoformat)


@settings(max_examples=150, deadline=None)
@given(agent=st.one_of(_TEXT, st.just("OTHER")), other=st.one_of(st.none(), _TEXT),
       last=st.one_of(st.none(), _DAY), start=st.one_of(st.none(), _DAY),
       response=st.sampled_from(["INEFFECTIVE", "REMISSION", "RELAPSE", "ONGOING", None]))
def test_no_unrecognised_agent_ever_makes_a_subject_eligible(agent, other, last, start,
                                                             response):
    """An agent the dictionary does not hold (typed text, OTHER) added to an eligible subject
    leaves the subject eligible never, whatever its dates and response: without the
    investigator's judgement the washout is unresolved."""
    assert full(SLE, PT_SLE)["status"] == "eligible"
    row = {"PTAGENT": agent, "PTAGOTH": other, "PTLSTDAT": last, "PTSTDAT": start,
           "PTRESP": response}
    result = full(SLE, [*PT_SLE, {k: v for k, v in row.items() if v is not None}])
    assert result["status"] != "eligible"


@settings(max_examples=100, deadline=None)
@given(qualifier=st.sampled_from(["<", ">"]), limit=st.decimals(0, 100, places=2),
       item=st.sampled_from(["ANC", "HGB", "ALT", "AST", "BILI"]))
def test_a_result_beyond_a_quantification_limit_never_decides_in_the_subjects_favour(
        qualifier, limit, item):
    """A qualified result is read as the interval it denotes: the criterion is met only when
    every value of the interval meets it."""
    value = f"{qualifier}{limit}"
    result = full({**SLE, f"LB.{item}": value}, PT_SLE)
    criterion = {"ANC": "IN-03a", "HGB": "IN-03b", "ALT": "IN-03c", "AST": "IN-03d",
                 "BILI": "IN-03e"}[item]
    got = ids(result)[criterion]
    q = parse_quantity(value, loq=True)
    bound = {"ANC": 1.0, "HGB": 60}.get(item)
    if bound is not None:
        surely = q.at_least(bound)
    else:  # × ULN of the base subject: ALT and AST 40 U/L (3 ×), bilirubin 20 µmol/L (1.5 ×)
        surely = q.at_most({"ALT": 120, "AST": 120, "BILI": 30}[item])
    assert got == {True: MET, False: NOT_MET, None: MISSING}[surely]


# Partial dates ------------------------------------------------------------------------------

def test_partial_dates_parse_to_the_days_they_may_denote():
    assert (parse_date("2019-03-UN", partial=True).earliest,
            parse_date("2019-03-UN", partial=True).latest) == (date(2019, 3, 1),
                                                               date(2019, 3, 31))
    span = parse_date("2020-UN-UN", partial=True)
    assert (span.earliest, span.latest, span.exact) == (date(2020, 1, 1), date(2020, 12, 31),
                                                        False)
    assert parse_date("2024-02-un", partial=True).latest == date(2024, 2, 29)
    for bad in ("2019-UN-05", "2019-13-UN", "19-03-UN", "2019-03"):
        with pytest.raises(ValueError):
            parse_date(bad, partial=True)
    with pytest.raises(ValueError):
        parse_date("2019-03-UN")  # not where the metadata allows it


@pytest.mark.parametrize("maligdat, expected", [
    ("2021-11-UN", MET),      # may be 25–30 Nov 2021: inside the 5 years before 2026-11-24
    ("2021-10-UN", NOT_MET),  # all of October 2021 is before the window
    ("2021-UN-UN", MET),      # may be December 2021
    ("2020-UN-UN", NOT_MET),
    ("2021-11-24", NOT_MET),  # exactly 5 years: outside (exact dates unchanged)
    ("2021-11-25", MET),
])
def test_ex06_partial_malignancy_date_inside_if_it_could_be(maligdat, expected):
    assert run({"EX.MALIGDAT": maligdat})["EX-06"].result == expected


@pytest.mark.parametrize("trialdat, expected", [
    ("2026-08-UN", MET),       # may be after 2026-08-24 (3 months before)
    ("2026-07-UN", NOT_MET),
    ("2026-UN-UN", MET),
])
def test_ex10_partial_trial_date(trialdat, expected):
    assert run({"EX.TRIALDAT": trialdat})["EX-10"].result == expected


@pytest.mark.parametrize("last, expected", [
    ("2026-08-UN", MET),      # may be 31 Aug: + 110 days = 19 Dec, after the reference
    ("2026-07-UN", NOT_MET),  # at the latest 31 Jul: clear on 18 Nov
    ("2026-UN-UN", MET),
])
def test_ex11_partial_last_dose_counts_its_latest_day(last, expected):
    assert _ex11({"PTAGENT": "RITUXIMAB", "PTLSTDAT": last}).result == expected


@pytest.mark.parametrize("start, end, expected", [
    ("2025-06-UN", "2026-01-05", MET),      # at least 189 days
    ("2025-07-UN", "2026-01-05", MISSING),  # 158 to 188 days: give the full date
    ("2025-08-UN", "2026-01-05", NOT_MET),  # at most 157 days
    ("2025-UN-UN", "2025-12-31", MISSING),
])
def test_six_months_of_an_ineffective_course_with_partial_dates(start, end, expected):
    pt = [PT_SLE[0], PT_SLE[1], {**PT_SLE[2], "PTSTDAT": start, "PTENDAT": end,
                                 "PTLSTDAT": end}]
    assert ids(full(SLE, pt))["SLE-4"] == expected


def test_an_uncoded_agent_that_could_be_the_needed_immunomodulator_is_missing():
    pt = [PT_SLE[0], PT_SLE[1], {**PT_SLE[2], "PTAGENT": "OTHER", "PTAGOTH": "霉酚酸酯胶囊"}]
    result = full(SLE, pt)
    assert ids(result)["SLE-4"] == MISSING and result["status"] != "eligible"


# Results beyond a quantification limit -------------------------------------------------------

@pytest.mark.parametrize("anc, expected", [("<0.5", NOT_MET), ("<1.0", NOT_MET),
                                           ("<1.5", MISSING), (">1.0", MET), (">0.5", MISSING),
                                           ("1.0", MET)])
def test_anc_beyond_a_limit(anc, expected):
    assert run({"LB.ANC": anc})["IN-03a"].result == expected


@pytest.mark.parametrize("dna, expected", [("<20", NOT_MET), (">20", MET), ("<100", MISSING),
                                           ("20", NOT_MET)])
def test_hbv_dna_beyond_a_limit(dna, expected):
    changes = {"SR.HBSAG": "POS", "SR.HBVDNA": dna, "SR.HBVULN": "20"}
    assert run(changes)["EX-08"].result == expected


def test_qualified_results_keep_their_text():
    assert parse_quantity("< 20", loq=True).text == "<20"
    assert parse_quantity(">2000.0", loq=True).text == ">2000"
    with pytest.raises(ValueError):
        parse_quantity("<20")  # not where the metadata allows it
    with pytest.raises(ValueError):
        parse_quantity("<<20", loq=True)


# Criterion texts state the settings in force -----------------------------------------------

def test_criterion_texts_follow_the_settings():
    texts = criterion_texts(Settings(version="settings-4", malignancy_years=3,
                                     other_trial_months=6, hcg_window_days=3,
                                     screening_window_days=21,
                                     antimalarials_count_for_washout=True,
                                     iim_either_refractory_or_progressive=False))
    assert texts["EX-06"] == "Malignancy diagnosed within 3 years before enrollment"
    assert "within 6 months" in texts["EX-10"]
    assert "0–3 days" in texts["IN-05"] and "≤ 21 days" in texts["IN-03a"]
    assert "settings-4" in texts["EX-11"] and "antimalarials counted" in texts["EX-11"]
    assert "both IIM-3 and IIM-4" in texts["IIM-3"]
    assert full(SLE, PT_SLE)["texts"]["EX-06"].endswith("within 5 years before enrollment")


# Lymphodepletion dosing ----------------------------------------------------------------------

def _ldd(crcl: str | None, bsa: str = "1.800"):
    plan = {"BSA": bsa, "CRCL": crcl}
    derived, rules = derive("LDD", {}, lambda form, item: plan.get(item) if form == "LD"
                            else None)
    return derived, rules


@pytest.mark.parametrize("crcl, flu", [
    ("80.0", "54.0"), ("79.9", "43.2"),   # full dose from 80; 20/25 below
    ("50.0", "43.2"), ("49.9", "32.4"),   # 20/25 from 50; 15/25 below
    ("30.0", "32.4"), ("29.9", "0.0"),    # 15/25 from 30; below 30 do not give
])
def test_fludarabine_dose_at_every_renal_band_edge(crcl, flu):
    derived, rules = _ldd(crcl)
    assert derived == {"FLUPRE": flu, "CYPRE": "900.0"}  # 30 and 500 mg/m² × 1.8 m²
    assert rules == f"ld_dose {scores.RULE_VERSIONS['ld_dose']}"


def test_no_fludarabine_dose_without_a_crcl():
    assert _ldd(None)[0] == {"FLUPRE": None, "CYPRE": "900.0"}
    assert _ldd(None, bsa=None)[0] == {"FLUPRE": None, "CYPRE": None}


@pytest.mark.parametrize("creat, unit", [("1.0", "mg/dL"), ("88.4", "umol/L")])
def test_crcl_for_dosing_reads_both_creatinine_units_alike(creat, unit):
    screening = {("DM", "BRTHDAT"): "1966-01-01", ("IC", "RFICDAT"): "2026-06-01",
                 ("DM", "SEX"): "M", ("LB", "CREAT"): creat, ("LB", "CREATU"): unit}
    derived, _ = derive("LD", {"HEIGHT": "175", "WEIGHT": "70"},
                        lambda form, item: screening.get((form, item)))
    assert derived == {"BSA": "1.845", "CRCL": "77.8"}  # 60 y M 70 kg 1.0 mg/dL: 77.78


# ICAHT ---------------------------------------------------------------------------------------

def _daily(values: dict[int, float]):
    return {d: (v, v) for d, v in values.items()}


@pytest.mark.parametrize("days_500, days_100, grade", [
    (0, 0, 0), (1, 0, 1), (6, 0, 1), (7, 0, 2), (13, 0, 2), (14, 0, 3), (30, 0, 3),
    (31, 0, 4), (7, 6, 2), (7, 7, 3), (13, 13, 3), (14, 14, 4),
])
def test_early_icaht_at_every_grade_boundary(days_500, days_100, grade):
    counts = {d: (50 if d < days_100 else 400 if d < days_500 else 2000) for d in range(31)}
    result = scores.icaht(_daily(counts))
    assert result["early"] == (grade, grade) and not result["provisional"]


def test_early_icaht_carries_a_count_forward_to_the_next_one():
    # day 1 ≤ 500, next count day 9 above: days 1–8 neutropenic (8 days: grade 2)
    result = scores.icaht(_daily({0: 2000, 1: 300, 9: 1800, 30: 2500}))
    assert result["early"] == (2, 2)
    assert scores.icaht(_daily({1: 300, 5: 2000}))["provisional"]


@pytest.mark.parametrize("late, grade", [
    ([1600, 1400, 1400], 1), ([1000, 900], 2), ([500, 400], 3), ([100, 90], 4), ([90], None),
    ([2000, 1600], 0),
])
def test_late_icaht_after_day_30_needs_two_counts(late, grade):
    counts = {0: 2000, 30: 2000, **{31 + i: v for i, v in enumerate(late)}}
    result = scores.icaht(_daily(counts))
    assert result["late"] == (None if grade is None else (grade, grade))


def test_a_count_below_the_quantification_limit_leaves_the_grade_open():
    # "< 0.5 ×10⁹/L" on days 1–7: surely ≤ 500 (grade 2), perhaps ≤ 100 too (grade 3)
    counts = {d: (0.0, 500.0) for d in range(1, 8)} | {8: (2000.0, 2000.0),
                                                        30: (2000.0, 2000.0)}
    assert scores.icaht(counts)["early"] == (2, 3)
