"""Forms that guide: branching from the metadata (show_if) on the page, in the save service and
in the API; the summary of problems at the top of a form; flags that stay on their fields."""

from __future__ import annotations

import re

import pytest

import audit
from edc.crf.services import Invalid, read_form, save_form
from edc.extensions import db
from edc.models import Subject
from forms.metadata import Form, Item, ShowIf, StudyBuild
from forms.study_build import BUILD, EVENTS
from tests.conftest import csrf_token, enter_eligible, login

DM = "/subjects/{}/forms/SCREEN/DM"


def post(client, url, data):
    return client.post(url, data={"csrf_token": csrf_token(client, url), **data})


def _save(subject_id, form, values, version=None, reason=None, event="SCREEN"):
    subject = db.session.get(Subject, subject_id)
    version = read_form(subject, event, form).version if version is None else version
    return save_form(subject, event, form, values, version=version,
                     actor=audit.Actor.system(), reason=reason)


# The metadata --------------------------------------------------------------------------------

def test_the_build_names_where_each_branch_applies():
    dm, dx, da = BUILD.form("DM"), BUILD.form("DX"), BUILD.form("DA")
    assert dm.item("CHILDPOT").show_if == ShowIf("SEX", ("F",))
    assert dm.item("PARTPOT").show_if == ShowIf("SEX", ("M",))
    assert {i.show_if.values for i in dx.items if i.group == "SSC2013"} == {("SSC",)}
    assert {i.show_if.item for i in da.items if i.group == "LN"} == {"DX.COHORT"}
    assert BUILD.form("PG").show_if == ShowIf("DM.CHILDPOT", ("Y",))
    assert BUILD.describe(dm, dm.item("CHILDPOT").show_if) == "Sex is Female"
    # the exclusion checklist names each criterion, not "EX-03 present"
    assert BUILD.form("EX").item("EX03").label.startswith("EX-03 CNS disease: epilepsy")
    assert all(len(i.label) > 30 for i in BUILD.form("EX").items if i.name.startswith("EX"))


@pytest.mark.parametrize("cond, message", [
    (ShowIf("NOPE", ("Y",)), "not an earlier item"),
    (ShowIf("B", ("Y",)), "not an earlier item"),  # a later item: the page could not follow
    (ShowIf("A", ("MAYBE",)), "codes it cannot hold"),
    (ShowIf("XX.SEX", ("F",)), "does not exist"),
])
def test_a_condition_the_page_cannot_follow_is_refused_by_the_build_check(cond, message):
    form = Form("T", "Test", "测试", (
        Item("A", "A", type="code", codelist="NY", show_if=cond if cond.item == "B" else None),
        Item("B", "B", type="code", codelist="NY"),
        Item("C", "C", show_if=cond if cond.item != "B" else None)))
    build = StudyBuild("t", EVENTS, {**BUILD.forms, "T": form}, BUILD.codelists)
    with pytest.raises(ValueError, match=message):
        build.check()


# The save service (pages and API alike) ------------------------------------------------------

def test_an_item_that_does_not_apply_is_not_required_and_keeps_no_value(app, world):
    with app.app_context():
        with pytest.raises(Invalid) as refused:
            _save(world.subject_tj, "DM", {"SEX": "M", "CHILDPOT": "N"})
        assert refused.value.errors == {
            "CHILDPOT": "does not apply (asked only when Sex is Female): remove the value"}
        db.session.rollback()
        state = _save(world.subject_tj, "DM", {"SEX": "M", "BRTHDAT": "1980-01-01",
                                                "HEIGHT": "170", "WEIGHT": "70"})
        assert state.missing == ("PARTPOT",) and state.status == "incomplete"
        assert "CHILDPOT" in state.hidden and "PARTPOT" not in state.hidden
        state = _save(world.subject_tj, "DM", {"PARTPOT": "N"})  # a first value: no reason
        assert state.status == "complete"
        db.session.commit()


def test_hiding_an_item_that_holds_a_value_asks_to_remove_it_with_a_reason(app, world):
    with app.app_context():
        _save(world.subject_tj, "DM", {"SEX": "F", "CHILDPOT": "Y", "BRTHDAT": "1980-01-01",
                                       "HEIGHT": "160", "WEIGHT": "60"})
        db.session.commit()
        with pytest.raises(Invalid) as refused:  # the sex corrected, CHILDPOT still held
            _save(world.subject_tj, "DM", {"SEX": "M"}, reason="Transcription error")
        assert "CHILDPOT" in refused.value.errors and "SEX" not in refused.value.errors
        db.session.rollback()
        with pytest.raises(Invalid) as refused:  # removing a saved value is a change
            _save(world.subject_tj, "DM", {"SEX": "M", "CHILDPOT": None, "PARTPOT": "N"})
        assert "reason" in refused.value.errors
        db.session.rollback()
        state = _save(world.subject_tj, "DM", {"SEX": "M", "CHILDPOT": None, "PARTPOT": "N"},
                      reason="Transcription error")
        db.session.commit()
        assert "CHILDPOT" not in state.items and state.status == "complete"
        removed = db.session.scalar(db.select(audit.AuditEntry).where(
            audit.AuditEntry.item_oid == "CHILDPOT", audit.AuditEntry.action == "data.remove"))
        assert removed.old_value == "Y" and removed.reason == "Transcription error"


def test_the_cohort_chosen_on_diagnosis_decides_the_disease_activity_items(app, world):
    with app.app_context():
        enter_eligible(world.subject_tj, "SSC")
        db.session.commit()
        state = read_form(db.session.get(Subject, world.subject_tj), "SCREEN", "DA")
        assert "SLEDAI01" in state.hidden and "MRSS01" not in state.hidden
        with pytest.raises(Invalid) as refused:
            _save(world.subject_tj, "DA", {"SLEDAI01": "Y", "MRSS01": "2"},
                  reason="Updated source document")
        assert list(refused.value.errors) == ["SLEDAI01"]
        assert "Cohort (Diagnosis and cohort) is Systemic lupus erythematosus" in \
            refused.value.errors["SLEDAI01"]
        db.session.rollback()


def test_the_pregnancy_test_applies_to_women_of_childbearing_potential(app, world, token):
    api, crc = app.test_client(), token("crc")
    url = f"/api/v1/subjects/{world.subject_tj}/forms/SCREEN/PG"
    test = {"PGDAT": "2026-11-20", "PGTYPE": "SERUM", "PGRES": "NEG", "LACTAT": "N"}
    with app.app_context():
        _save(world.subject_tj, "DM", {"SEX": "M", "PARTPOT": "Y"})
        db.session.commit()
    r = api.put(url, headers=crc, json={"items": test, "version": 0})
    assert r.status_code == 422
    assert r.json["errors"] == {"form": "Pregnancy test is asked only when Woman of "
                                        "childbearing potential (Demographics) is Yes."}
    assert api.get(url, headers=crc).json["applies"] is False
    web = app.test_client()
    login(web, "crc")
    html = web.get(f"/subjects/{world.subject_tj}/forms/SCREEN/PG").get_data(as_text=True)
    assert "This form does not apply to the subject" in html and ">Save</button>" not in html
    with app.app_context():
        _save(world.subject_tj, "DM", {"SEX": "F", "PARTPOT": None, "CHILDPOT": "Y"},
              reason="Transcription error")
        db.session.commit()
    r = api.put(url, headers=crc, json={"items": test, "version": 0})
    assert r.status_code == 200 and r.json["applies"] is True


def test_the_api_names_conditions_missing_and_not_applicable_items(app, world, token):
    api, crc = app.test_client(), token("crc")
    study = api.get("/api/v1/study", headers=crc).json
    childpot = next(i for i in study["forms"]["DM"]["items"] if i["name"] == "CHILDPOT")
    assert childpot["show_if"] == {"item": "SEX", "values": ["F"]}
    assert study["forms"]["PG"]["show_if"] == {"item": "DM.CHILDPOT", "values": ["Y"]}
    url = f"/api/v1/subjects/{world.subject_tj}/forms/SCREEN/DM"
    r = api.put(url, headers=crc, json={"items": {"SEX": "F"}, "version": 0})
    assert r.status_code == 200
    assert set(r.json["missing"]) == {"BRTHDAT", "CHILDPOT", "HEIGHT", "WEIGHT"}
    assert "PARTPOT" in r.json["not_applicable"] and r.json["warnings"] == {}


# The page ------------------------------------------------------------------------------------

def test_the_page_hides_what_does_not_apply_and_says_why_a_held_value_must_go(app, world):
    c = app.test_client()
    login(c, "crc")
    html = c.get(DM.format(world.subject_tj)).get_data(as_text=True)
    for name, sex in (("CHILDPOT", "F"), ("PARTPOT", "M")):
        field = re.search(rf'<div class="field[^"]*" id="item-{name}"[^>]*>', html).group(0)
        assert f'data-show-if="SEX" data-show-values="{sex}"' in field and "hidden" in field
    with app.app_context():
        enter_eligible(world.subject_tj, "IIM")
        db.session.commit()
    html = c.get(f"/subjects/{world.subject_tj}/forms/SCREEN/DA").get_data(as_text=True)
    assert re.search(r'<fieldset class="item-group" id="IG.DA.SLEDAI" hidden>', html)
    assert re.search(r'<fieldset class="item-group" id="IG.DA.IIM">', html)
    html = c.get(f"/subjects/{world.subject_tj}/forms/SCREEN/DX").get_data(as_text=True)
    assert re.search(r'id="item-SLE01"[^>]*data-show-if="COHORT" data-show-values="SLE"', html)
    # a value held by an item that no longer applies stays visible, with what to do
    r = post(c, DM.format(world.subject_tj), {
        "version": "1", "SEX": "M", "CHILDPOT": "N", "BRTHDAT": "1980-05-01", "HEIGHT": "160",
        "WEIGHT": "60", "reason": "Transcription error"})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    field = re.search(r'<div class="field[^"]*" id="item-CHILDPOT"[^>]*>', html).group(0)
    assert "hidden" not in field
    assert '<a href="#CHILDPOT">Woman of childbearing potential: does not apply' in html


def test_required_but_empty_is_not_reported_as_out_of_range(app, world):
    c = app.test_client()
    login(c, "crc")
    url = DM.format(world.subject_tj)
    r = post(c, url, {"version": "0", "SEX": "F"})
    assert r.status_code == 302
    html = c.get(url).get_data(as_text=True)
    assert "4 required items not yet entered" in html and "outside the normal range" not in html
    summary = html[html.index('id="summary"'):html.index("</div>", html.index('id="summary"'))]
    assert "Check this form" in summary and "Required, not yet entered" in summary
    for name in ("BRTHDAT", "CHILDPOT", "HEIGHT", "WEIGHT"):
        assert f'<a href="#{name}">' in summary
    assert re.search(r'class="field is-missing" id="item-HEIGHT"', html)
    assert 'id="HEIGHT-missing"' in html and 'aria-required="true"' in html
    assert '="None"' not in html  # no attribute rendered from an absent value
    for ref in re.findall(r'aria-describedby="([^"]+)"', html):  # each names what exists
        assert all(f'id="{part}"' in html for part in ref.split()), ref


def test_a_flag_stays_on_its_field_after_the_save(app, world):
    c = app.test_client()
    login(c, "crc")
    url = f"/subjects/{world.subject_tj}/forms/SCREEN/LB"
    r = post(c, url, {"version": "0", "LBDAT": "2026-11-20", "HGB": "100"})
    assert r.status_code == 302
    html = c.get(url).get_data(as_text=True)
    assert "1 value flagged (outside the normal range or inconsistent)" in html
    assert '<a href="#HGB">Haemoglobin: 100 g/L is outside the normal range 115–175' in html
    assert re.search(r'<p class="warn" id="HGB-warn">100 g/L is outside the normal range', html)
    hgb = re.search(r'<input[^>]*name="HGB"[^>]*>', html).group(0)
    assert "HGB-warn" in hgb and 'data-saved="100"' in hgb


def test_dates_and_times_are_typed_as_yyyy_mm_dd_and_24_hour_time(app, world):
    c = app.test_client()
    login(c, "crc")
    html = c.get(f"/subjects/{world.subject_tj}/forms/SCREEN/IC").get_data(as_text=True)
    assert 'type="date"' not in html and 'type="time"' not in html
    consent = re.search(r'<input[^>]*name="RFICDAT"[^>]*>', html).group(0)
    assert 'placeholder="YYYY-MM-DD"' in consent
    assert 'placeholder="HH:MM"' in re.search(r'<input[^>]*name="RFICTIM"[^>]*>', html).group(0)


def test_stay_signed_in_needs_the_session_and_its_csrf_token(app, world):
    c = app.test_client()
    assert c.post("/session/alive").status_code == 400  # not signed in: no token either
    login(c, "crc")
    html = c.get("/").get_data(as_text=True)
    token = re.search(r'data-csrf="([^"]+)"', html).group(1)
    assert 'data-idle-seconds="900"' in html and 'id="timeout-warning"' in html
    assert '<a class="skip-link" href="#main">' in html and '<main id="main"' in html
    assert c.post("/session/alive").status_code == 400  # no token: refused
    assert c.post("/session/alive", headers={"X-CSRFToken": token}).status_code == 204
