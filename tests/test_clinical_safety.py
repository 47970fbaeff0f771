"""The clinical core through the save service, the API and the pages, on both databases:
coded medications and the washout judgement, lymphodepletion dosing with the renal hard stop,
consistency checks, the SAE 24-hour clock, ICAHT offered to the AE form, BVAS items, partial
dates and results beyond a quantification limit."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from edc.cli import cli_actor
from edc.crf.services import Invalid, read_form, save_form
from edc.eligibility.services import evaluate_subject, site_today
from edc.extensions import db
from edc.models import AuditEntry, Subject
from edc.uow import unit_of_work
from forms.study_build import bvas_name
from tests.conftest import enter_eligible, login, mark_enrolled

TZ = ZoneInfo("Asia/Shanghai")


def _subject(subject_id: int) -> Subject:
    return db.session.get(Subject, subject_id, execution_options={"all_sites": True})


def _save(subject_id, event, form, items, *, row=1, reason=None, visit=1):
    subject = _subject(subject_id)
    version = read_form(subject, event, form, event_repeat=visit, form_repeat=row).version
    with unit_of_work():  # the test is the boundary
        return save_form(subject, event, form, items, version=version, actor=cli_actor(),
                         reason=reason or ("correction" if version else None),
                         form_repeat=row, event_repeat=visit)


def _status(subject_id):
    return evaluate_subject(_subject(subject_id))["status"]


@pytest.fixture
def eligible(app, world):
    with app.app_context():
        enter_eligible(world.subject_tj)
        db.session.commit()
        assert _status(world.subject_tj) == "eligible"
    return world.subject_tj


# Coded medications -----------------------------------------------------------------------

def test_the_api_refuses_a_typed_agent_and_takes_the_code(app, world, token):
    api, crc = app.test_client(), token("crc")
    base = f"/api/v1/subjects/{world.subject_tj}/logs/PT"
    typed = {"PTAGENT": "利妥昔单抗 (rituximab)", "PTSTDAT": "2024-01-01", "PTRESP": "RELAPSE"}
    r = api.post(base, json={"items": typed}, headers=crc)
    assert r.status_code == 422 and "PTAGENT" in r.json["errors"]
    r = api.post(base, json={"items": {**typed, "PTAGENT": "RITUXIMAB"}}, headers=crc)
    assert r.status_code == 201


def test_an_other_agent_blocks_eligibility_until_the_investigator_judges_it(app, eligible,
                                                                            token):
    api, crc = app.test_client(), token("crc")
    base = f"/api/v1/subjects/{eligible}/logs/PT"
    r = api.post(base, json={"items": {"PTAGENT": "OTHER", "PTAGOTH": "雷公藤多苷",
                                       "PTSTDAT": "2025-01-01", "PTRESP": "ONGOING"}},
                 headers=crc)
    assert r.status_code == 201
    seq = r.json["seq"]
    body = api.get(f"/api/v1/subjects/{eligible}/eligibility", headers=crc).json
    ex11 = next(c for c in body["criteria"] if c["id"] == "EX-11")
    assert body["status"] == "not_evaluable" and ex11["result"] == "missing"
    assert "confirm the washout of 雷公藤多苷" in ex11["missing"]
    row = api.get(f"{base}", headers=crc).json["rows"][-1]
    r = api.put(f"{base}/{seq}", headers=crc, json={
        "items": {"PTWOJ": "NOT_IS"}, "version": row["version"], "reason": "investigator "
        "confirmed: herbal preparation, not an immunosuppressant"})
    assert r.status_code == 200, r.json
    assert api.get(f"/api/v1/subjects/{eligible}/eligibility",
                   headers=crc).json["status"] == "eligible"


def test_the_pick_list_searches_names_in_both_languages(app, world, login_as):
    client = login_as("crc")
    html = client.get(f"/subjects/{world.subject_tj}/forms/SCREEN/PT").get_data(as_text=True)
    assert 'list="PTAGENT-list"' in html and '<datalist id="PTAGENT-list">' in html
    assert 'value="RITUXIMAB" label="rituximab · 利妥昔单抗 · rituximab 利妥昔单抗 RTX ' \
           'MabThera Rituxan 美罗华' in html
    assert 'value="OTHER"' in html


# Lymphodepletion dosing ------------------------------------------------------------------

@pytest.fixture
def planned(app, eligible):
    """Enrolled, with the lymphodepletion plan: 162 cm, 58 kg, creatinine 68 µmol/L."""
    with app.app_context():
        mark_enrolled(eligible)
        today = site_today(_subject(eligible))
        _save(eligible, "LD", "LD", {"HEIGHT": "162", "WEIGHT": "58",
                                     "LDSTDAT": today.isoformat()})
        db.session.commit()
    return eligible


def test_each_day_shows_the_prescribed_doses_and_a_deviation_needs_a_reason(app, planned):
    with app.app_context():
        plan = read_form(_subject(planned), "LD", "LD").derived
        bsa, crcl = float(plan["BSA"]), float(plan["CRCL"])
        assert 50 <= crcl < 80  # 20/25 of the fludarabine dose
        today = site_today(_subject(planned)).isoformat()
        with pytest.raises(Invalid) as refused:
            _save(planned, "LD", "LDD", {"LDDAT": today, "FLUADM": "20", "CYADM": "800"})
        assert "LDDEVR" in refused.value.errors and "more than 10 %" in \
            refused.value.errors["LDDEVR"]
        db.session.rollback()
        flu, cy = round(30 * bsa * 0.8, 1), round(500 * bsa, 1)
        state = _save(planned, "LD", "LDD", {"LDDAT": today, "FLUADM": str(flu),
                                             "CYADM": str(cy)})
        assert state.derived == {"FLUPRE": f"{flu:.1f}", "CYPRE": f"{cy:.1f}"}
        assert state.rules["FLUPRE"].startswith("ld_dose ")
        state = _save(planned, "LD", "LDD", {"FLUADM": "20", "LDDEVR": "infusion stopped "
                      "after a reaction"}, reason="updated source document")
        assert state.version == 2
        db.session.commit()


def test_a_crcl_below_30_stops_fludarabine_on_the_plan_and_every_day(app, planned):
    with app.app_context():
        today = site_today(_subject(planned)).isoformat()
        _save(planned, "LD", "LDD", {"LDDAT": today, "FLUADM": "0", "CYADM": "0",
                                     "LDDEVR": "held"})
        # the screening creatinine is corrected: CrCl falls below 30 and the plan and the day
        # are derived again by the system
        _save(planned, "SCREEN", "LB", {"CREAT": "250", "CREATU": "umol/L"},
              reason="transcription error")
        db.session.commit()
        plan = read_form(_subject(planned), "LD", "LD")
        assert float(plan.derived["CRCL"]) < 30
        day = read_form(_subject(planned), "LD", "LDD")
        assert day.derived["FLUPRE"] == "0.0"
        state = _save(planned, "LD", "LD", {"WEIGHT": "57"}, reason="re-weighed")
        assert "hard stop" in state.warnings["CRCL"]
        state = _save(planned, "LD", "LDD", {"FLUADM": "20", "LDDEVR": "given in error"},
                      reason="updated source document")
        assert "must not be given" in state.warnings["FLUPRE"]
        assert "although CrCl is below 30" in state.warnings["FLUADM"]
        db.session.commit()
        # shown again whenever the plan or the day is read
        assert "hard stop" in read_form(_subject(planned), "LD", "LD").warnings["CRCL"]
        assert "must not be given" in read_form(_subject(planned), "LD",
                                                "LDD").warnings["FLUPRE"]
        firings = db.session.scalars(select(AuditEntry.item_oid).where(
            AuditEntry.action == "check.soft", AuditEntry.form_oid.in_(("LD", "LDD")))).all()
        assert {"CRCL", "FLUPRE", "FLUADM"} <= set(firings)
        system = db.session.scalars(select(AuditEntry).where(
            AuditEntry.form_oid == "LDD", AuditEntry.item_oid == "FLUPRE",
            AuditEntry.new_value == "0.0")).one()
        assert system.user_id is None and "ld_dose" in system.reason


# Consistency checks ------------------------------------------------------------------------

@pytest.fixture
def infused(app, eligible):
    with app.app_context():
        mark_enrolled(eligible)
        today = site_today(_subject(eligible))
        _save(eligible, "INF", "IF", {"IFDAT": (today - timedelta(days=20)).isoformat(),
                                      "IFTIM": "10:00", "LOTNO": "LOT-1"})
        db.session.commit()
    return eligible


def _day(d: int) -> str:
    """Day ``d`` after the infusion of ``infused`` (20 days ago at the site)."""
    return (datetime.now(TZ).date() - timedelta(days=20 - d)).isoformat()


@pytest.mark.parametrize("items, fires", [
    ({"FEVER": "Y", "TREATED": "N", "TOCIDOSE": "560"}, "TREATED"),
    ({"FEVER": "Y", "TREATED": "Y", "TOCIDOSE": "560"}, None),
    ({"FEVER": "N", "HYPOTEN": "one_vasopressor"}, "CRSGR"),
    ({"FEVER": "Y", "HYPOTEN": "one_vasopressor"}, None),
])
def test_crs_consistency(app, infused, items, fires):
    base = {"CRSDAT": _day(1), "HYPOTEN": "none", "HYPOXIA": "none"}
    with app.app_context():
        state = _save(infused, "D1", "CRS", {**base, **items})
        db.session.commit()
    flagged = {k for k in state.warnings if k in ("TREATED", "CRSGR")}
    assert flagged == ({fires} if fires else set())


def test_vasopressors_on_the_vital_signs_with_crs_grade_0(app, infused):
    with app.app_context():
        _save(infused, "D2", "CRS", {"CRSDAT": _day(2), "FEVER": "N",
                                     "HYPOTEN": "none", "HYPOXIA": "none"})
        state = _save(infused, "D2", "VS", {"VSDAT": _day(2), "VASOPR": "one"})
        assert "CRS assessment of this visit is grade 0" in state.warnings["VASOPR"]
        state = _save(infused, "D2", "VS", {"VASOPR": "none"}, reason="transcription error")
        assert "VASOPR" not in state.warnings
        db.session.commit()


@pytest.mark.parametrize("items, fires", [
    ({"AESER": "Y", "AESHOSP": "N"}, "AESER"),
    ({"AESER": "Y"}, "AESER"),  # no criterion answered at all
    ({"AESER": "Y", "AESHOSP": "Y"}, None),
    ({"AESER": "N", "AESHOSP": "Y"}, "AESER"),
    ({"AESER": "N", "AESHOSP": "N"}, None),
    ({"AESER": "Y", "AESDTH": "Y", "AETOXGR": "5"}, "AETOXGR"),
])
def test_adverse_event_consistency(app, eligible, items, fires):
    row = {"AETERM": "Pneumonia", "AESTDAT": _day(10), "AETOXGR": "3",
           "AERELCT": "POSSIBLE", "AESAWDAT": _day(10), "AESAWTIM": "09:00"}
    with app.app_context():
        state = _save(eligible, "LOG", "AE", {**row, **items})
        db.session.commit()
    flagged = {k for k in state.warnings if k in ("AESER", "AETOXGR")}
    assert flagged == ({fires} if fires else set())


def test_grade_5_with_a_death_record_is_consistent(app, eligible):
    with app.app_context():
        _save(eligible, "LOG", "DTH", {"DTHDAT": _day(12), "DTHCAUS": "sepsis",
                                       "DTHREL": "POSSIBLE"})
        state = _save(eligible, "LOG", "AE", {
            "AETERM": "Sepsis", "AESTDAT": _day(10), "AETOXGR": "5",
            "AESER": "Y", "AESDTH": "Y", "AERELCT": "POSSIBLE"})
        assert "AETOXGR" not in state.warnings
        db.session.commit()


# SAE clock ----------------------------------------------------------------------------------

def _aware(hours_ago: float) -> tuple[str, str]:
    at = datetime.now(TZ) - timedelta(hours=hours_ago)
    return at.date().isoformat(), at.strftime("%H:%M")


def test_the_sae_clock_on_the_subject_the_start_page_and_the_api(app, world, eligible, token):
    late_day, late_time = _aware(30)
    due_day, due_time = _aware(2)
    common = {"AETOXGR": "3", "AESER": "Y", "AESHOSP": "Y", "AERELCT": "POSSIBLE"}
    with app.app_context():
        _save(eligible, "LOG", "AE", {**common, "AETERM": "Pneumonia", "AESTDAT": late_day,
                                      "AESAWDAT": late_day, "AESAWTIM": late_time})
        _save(eligible, "LOG", "AE", {**common, "AETERM": "Febrile neutropenia",
                                      "AESTDAT": due_day, "AESAWDAT": due_day,
                                      "AESAWTIM": due_time}, row=2)
        db.session.commit()
    body = app.test_client().get(f"/api/v1/subjects/{eligible}", headers=token("pi")).json
    clocks = {c["term"]: c for c in body["safety"]["serious_adverse_events"]}
    assert clocks["Pneumonia"]["status"] == "overdue" and clocks["Pneumonia"]["overdue"]
    assert -7 < clocks["Pneumonia"]["hours_left"] < -5
    assert clocks["Febrile neutropenia"]["status"] == "due"
    assert 21 < clocks["Febrile neutropenia"]["hours_left"] < 23
    web = app.test_client()
    login(web, "pi")
    page = web.get(f"/subjects/{eligible}").get_data(as_text=True)
    assert 'class="sae-overdue"' in page and 'class="sae-due"' in page
    start = web.get("/").get_data(as_text=True)
    assert "Pneumonia" in start and 'class="sae-overdue"' in start
    # reported within 24 hours of awareness
    with app.app_context():
        _save(eligible, "LOG", "AE", {"AESRPDAT": due_day, "AESRPTIM": due_time}, row=2,
              reason="late entry of available data")
        db.session.commit()
    body = app.test_client().get(f"/api/v1/subjects/{eligible}", headers=token("pi")).json
    clocks = {c["term"]: c for c in body["safety"]["serious_adverse_events"]}
    assert clocks["Febrile neutropenia"]["status"] == "reported"


# ICAHT ---------------------------------------------------------------------------------------

def test_icaht_is_shown_and_offered_to_the_adverse_event_form(app, infused, login_as):
    with app.app_context():
        for d in range(1, 15):  # ANC 0.3 ×10⁹/L every day 1–14: 14 days ≤ 500/µL
            _save(infused, f"D{d}", "LB", {"LBDAT": _day(d), "ANC": "0.3"})
        db.session.commit()
    client = login_as("crc")
    page = client.get(f"/subjects/{infused}").get_data(as_text=True)
    assert "early grade 3 (provisional" in page
    form = client.get(f"/subjects/{infused}/forms/LOG/AE").get_data(as_text=True)
    assert "ICAHT early grade 3" in form and "from=icaht" in form
    filled = client.get(f"/subjects/{infused}/forms/LOG/AE?from=icaht").get_data(as_text=True)
    assert 'value="Immune effector cell-associated haematotoxicity (ICAHT), early"' in filled
    assert re.search(r'<option (selected value="ICAHT"|value="ICAHT" selected)', filled)


def test_a_count_below_the_limit_of_quantification_is_kept_as_entered(app, infused,
                                                                      login_as):
    with app.app_context():
        _save(infused, "D1", "LB", {"LBDAT": _day(1), "ANC": "<0.1"})
        with pytest.raises(Invalid) as refused:
            _save(infused, "D2", "LB", {"LBDAT": _day(2), "ANC": "<abc"})
        assert "ANC" in refused.value.errors
        db.session.rollback()
        with pytest.raises(Invalid) as refused:
            _save(infused, "D2", "LB", {"LBDAT": _day(2), "ANC": ">5000"})
        assert "plausible range" in refused.value.errors["ANC"]
        db.session.rollback()
    client = login_as("crc")
    html = client.get(f"/subjects/{infused}/forms/D1/LB").get_data(as_text=True)
    assert 'value="&lt;0.1"' in html


# BVAS items ----------------------------------------------------------------------------------

def test_bvas_is_computed_from_ticked_items_at_baseline_and_follow_up(app, world):
    with app.app_context():
        enter_eligible(world.subject_tj, "AAV")  # BVAS is asked of the AAV cohort
        db.session.commit()
        eligible = world.subject_tj
        ticked = {bvas_name(k): "Y" for k in ("gangrene", "ulcer", "creatinine_500",
                                              "haematuria")}
        screened = read_form(_subject(eligible), "SCREEN", "DA").items  # the AAV cohort's
        cleared = {k: None for k, v in screened.items() if k.startswith("BVAS") and v == "Y"}
        state = _save(eligible, "SCREEN", "DA", {**cleared, **ticked, "BVASPERS": "N"},
                      reason="transcription error")
        assert state.derived["BVAS"] == "18"  # cutaneous 10 capped at 6, renal 14 at 12
        state = _save(eligible, "SCREEN", "DA", {"BVASPERS": "Y"}, reason="re-assessed")
        assert state.derived["BVAS"] == "9"  # persistent: cutaneous 3 (capped), renal 6
        mark_enrolled(eligible)
        today = site_today(_subject(eligible)).isoformat()
        state = _save(eligible, "M2", "DAF", {"DAFDAT": today, bvas_name("haematuria"): "Y",
                                              bvas_name("creatinine_rise"): "Y"})
        assert state.derived["BVAS"] == "12"
        assert bvas_name("creatinine_500") not in state.items  # first assessment only
        with pytest.raises(Invalid) as refused:
            _save(eligible, "M2", "DAF", {"BVAS": "30"}, reason="typed total")
        assert "computed" in refused.value.errors["BVAS"]
        db.session.rollback()


# Partial dates -------------------------------------------------------------------------------

def test_partial_dates_only_where_the_metadata_allows_them(app, world, token):
    api, crc = app.test_client(), token("crc")
    base = f"/api/v1/subjects/{world.subject_tj}/forms/SCREEN"
    r = api.put(f"{base}/DX", headers=crc, json={"items": {"COHORT": "SLE",
                                                           "DXDAT": "2019-03-UN"}})
    assert r.status_code == 200 and r.json["items"]["DXDAT"] == "2019-03-UN"
    for bad in ("2019-UN-05", "2099-UN-UN"):
        r = api.put(f"{base}/EX", headers=crc, json={"items": {"MALIGDAT": bad}})
        assert r.status_code == 422 and "MALIGDAT" in r.json["errors"]
    r = api.put(f"{base}/LB", headers=crc, json={"items": {"LBDAT": "2026-11-UN"}})
    assert r.status_code == 422 and r.json["errors"]["LBDAT"] == "enter a date as YYYY-MM-DD"


@pytest.mark.parametrize("birth, fires", [("0001-01-01", True), ("1919-01-01", True),
                                          ("1980-05-01", False), ("2015-01-01", True)])
def test_an_implausible_age_at_consent_is_flagged(app, world, birth, fires):
    with app.app_context():
        _save(world.subject_tj, "SCREEN", "IC", {"RFICDAT": "2026-11-01", "ICFVER": "v2",
                                                 "COMPLY": "Y", "CONTRAC": "Y"})
        state = _save(world.subject_tj, "SCREEN", "DM", {"BRTHDAT": birth, "SEX": "F",
                                                         "CHILDPOT": "N", "HEIGHT": "160",
                                                         "WEIGHT": "55"})
    assert ("BRTHDAT" in state.warnings) is fires
