"""Study settings of the eligibility rules are versioned data: a change is audited, makes a
new version, and evaluations name the version they used."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from edc.cli import cli_actor
from edc.crf.services import save_form
from edc.eligibility.services import site_today
from edc.extensions import db
from edc.models import AuditEntry, EligibilitySettings, Subject
from tests.conftest import csrf_token, enter_eligible, login

PAGE = "/study/eligibility-settings"
FORM = {"screening_window_days": "28", "hcg_window_days": "7", "malignancy_years": "5",
        "other_trial_months": "3",
        "half_life_hours": "rituximab = 528\nmycophenolate mofetil = 18\n"
                           "cyclophosphamide = 8\nhydroxychloroquine = 960",
        "iim_either_refractory_or_progressive": "y", "reason": "protocol amendment 2"}


def _post(client, **changes):
    return client.post(PAGE, data={"csrf_token": csrf_token(client, PAGE), **FORM, **changes})


def test_version_1_holds_the_reference_values(app, world):
    with app.app_context():
        rows = db.session.scalars(select(EligibilitySettings)).all()
        assert [r.version for r in rows] == [1]
        values = json.loads(rows[0].settings)
        assert values["half_life_hours"]["RITUXIMAB"] == 528  # by dictionary code
        assert values["antimalarials_count_for_washout"] is False  # C-2
        assert db.session.scalar(select(AuditEntry).where(
            AuditEntry.action == "settings.create")) is not None


def test_a_data_manager_changes_a_setting_and_it_takes_effect(app, world, token):
    with app.app_context():
        enter_eligible(world.subject_tj)  # labs 10 days before today
    api = app.test_client()
    before = api.get(f"/api/v1/subjects/{world.subject_tj}/eligibility",
                     headers=token("crc")).json
    assert before["status"] == "eligible" and "settings-1" in before["rule_version"]

    dm = app.test_client()
    login(dm, "dm")
    assert _post(dm, screening_window_days="9").status_code == 303
    html = dm.get(PAGE).get_data(as_text=True)
    assert "version 2" in html and "protocol amendment 2" in html

    after = api.get(f"/api/v1/subjects/{world.subject_tj}/eligibility",
                    headers=token("crc")).json
    assert "settings-2" in after["rule_version"] and after["status"] == "not_evaluable"
    in02 = next(c for c in after["criteria"] if c["id"] == "IN-02")
    assert in02["result"] == "missing" and "outside the screening window" in in02["missing"]
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(
            AuditEntry.action == "settings.update"))
        assert entry.reason == "protocol amendment 2" and entry.username == "dm"
        changed = set(entry.item_oid.split(", "))
        assert "screening_window_days" in changed
        assert json.loads(entry.old_value)["screening_window_days"] == 28
        assert json.loads(entry.new_value)["screening_window_days"] == 9
        assert [r.version for r in db.session.scalars(
            select(EligibilitySettings).order_by(EligibilitySettings.version))] == [1, 2]


def test_clarification_c2_counts_antimalarials_when_switched_on(app, world, token):
    with app.app_context():
        enter_eligible(world.subject_tj)
        subject = db.session.get(Subject, world.subject_tj)
        last = site_today(subject) - timedelta(days=30)
        save_form(subject, "SCREEN", "PT", {
            "PTAGENT": "HYDROXYCHLOROQUINE", "PTSTDAT": "2020-01-01",
            "PTLSTDAT": last.isoformat(), "PTRESP": "INEFFECTIVE"},
            version=0, actor=cli_actor(), form_repeat=4)
        db.session.commit()

    def ex11():
        body = app.test_client().get(f"/api/v1/subjects/{world.subject_tj}/eligibility",
                                     headers=token("crc")).json
        return next(c for c in body["criteria"] if c["id"] == "EX-11")["result"]

    assert ex11() == "not_met"  # C-2 default: antimalarials do not count
    dm = app.test_client()
    login(dm, "dm")
    assert _post(dm, antimalarials_count_for_washout="y").status_code == 303
    assert ex11() == "met"  # 30 days < 5 × 40 days


@pytest.mark.parametrize("changes, field, message", [
    ({"screening_window_days": "0"}, "screening_window_days", "between 1 and 90"),
    ({"hcg_window_days": "seven"}, "hcg_window_days", "whole number"),
    ({"half_life_hours": "rituximab 528"}, "half_life_hours", "agent = hours"),
    ({"half_life_hours": "rituximab = soon"}, "half_life_hours", "not a number"),
    ({"half_life_hours": "rituximab = -1"}, "half_life_hours", "above 0"),
    ({"half_life_hours": "rituximabb = 528"}, "half_life_hours", "not in the medication"),
    ({"reason": "x" * 2001}, "reason", "at most 2000 characters"),
    ({"half_life_hours": ""}, "half_life_hours", "at least one agent"),
    ({"reason": " "}, "reason", "reason"),
])
def test_bad_settings_are_refused_at_the_field_and_nothing_is_stored(app, world, changes,
                                                                     field, message):
    dm = app.test_client()
    login(dm, "dm")
    r = _post(dm, **changes)
    assert r.status_code == 422 and message in r.get_data(as_text=True)
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(EligibilitySettings)) == 1


def test_unchanged_settings_make_no_new_version(app, world):
    dm = app.test_client()
    login(dm, "dm")
    assert _post(dm).status_code == 303  # first: the text box drops agents, a real change
    r = _post(dm)
    assert r.status_code == 422 and "Nothing changed" in r.get_data(as_text=True)


def test_coordinators_read_the_settings_but_cannot_change_them(app, world):
    crc = app.test_client()
    login(crc, "crc")
    html = crc.get(PAGE).get_data(as_text=True)
    assert "RITUXIMAB" in html and "Store a new version" not in html
    assert crc.post(PAGE, data={"csrf_token": csrf_token(crc, PAGE), **FORM}).status_code == 403


def test_clarification_c1_is_data_shown_on_the_checklist(app, world, token):
    with app.app_context():
        enter_eligible(world.subject_tj, "IIM")  # IIM-3 met (refractory), IIM-4 not met

    def evaluation():
        return app.test_client().get(f"/api/v1/subjects/{world.subject_tj}/eligibility",
                                     headers=token("crc")).json

    before = evaluation()
    assert before["status"] == "eligible" and "C-1 IIM-3 or IIM-4" in before["rule_version"]
    assert "IIM-3 or IIM-4 (one is enough)" in before["clarifications"]["C-1"]
    dm = app.test_client()
    login(dm, "dm")
    assert _post(dm, iim_either_refractory_or_progressive="").status_code == 303
    after = evaluation()
    assert after["status"] == "not_eligible" and "C-1 IIM-3 and IIM-4" in after["rule_version"]
    crc = app.test_client()
    login(crc, "crc")
    html = crc.get(f"/subjects/{world.subject_tj}/eligibility").get_data(as_text=True)
    assert "IIM-3 and IIM-4 (both needed)" in html and "Antimalarials do not count" in html
