"""A protocol amendment is a new metadata version: data keep the version they were entered
under, new form instances take the active one (study-build.md)."""

from __future__ import annotations

import pytest

import audit
from edc.clinical.store import write_items
from edc.extensions import db
from edc.models import FormData, Subject
from forms.study_build import BUILD, BUILDS
from tests.conftest import csrf_token, login, mark_enrolled


@pytest.fixture
def before_the_amendment(app, world):
    """Day 1 vital signs saved while version 1.0 was active (as a database of that time holds
    them: the instance, its values and their audit entries)."""
    with app.app_context():
        mark_enrolled(world.subject_tj)
        subject = db.session.get(Subject, world.subject_tj)
        actor = audit.Actor.system()
        write_items(subject, "D1", "VS", {"VSDAT": "2026-11-20", "TEMP": "37.1"}, actor=actor)
        row = FormData(subject_id=subject.id, site_id=subject.site_id, event_oid="D1",
                       form_oid="VS", metadata_version="1.0", version=1, status="complete")
        db.session.add(row)
        db.session.flush()
        audit.record(db.session, "form.save", actor=actor, subject=subject, event_oid="D1",
                     form_oid="VS", target_type="form_data", target_id=str(row.id),
                     new_value="version 1", details={"metadata_version": "1.0"})
        db.session.commit()
    return world.subject_tj


def test_the_amendment_adds_body_weight_to_vital_signs():
    assert BUILD.version == "1.3"
    assert "WEIGHT" in BUILDS["1.1"].form("VS").item_names
    assert "WEIGHT" not in BUILDS["1.0"].form("VS").item_names


def test_an_instance_keeps_its_version_and_a_new_one_takes_the_active(app, world, token,
                                                                     before_the_amendment):
    api, crc = app.test_client(), token("crc")
    old = f"/api/v1/subjects/{before_the_amendment}/forms/D1/VS"
    got = api.get(old, headers=crc).json
    assert got["metadata_version"] == "1.0" and got["items"]["TEMP"] == "37.1"
    r = api.put(old, headers=crc, json={"items": {"WEIGHT": "60"}, "version": 1,
                                        "reason": "transcription error"})
    assert r.status_code == 422 and r.json["errors"] == {"WEIGHT": "VS has no item WEIGHT"}
    r = api.put(old, headers=crc, json={"items": {"TEMP": "37.3"}, "version": 1,
                                        "reason": "transcription error"})
    assert r.status_code == 200 and r.json["metadata_version"] == "1.0"

    new = f"/api/v1/subjects/{before_the_amendment}/forms/D2/VS"
    r = api.put(new, headers=crc, json={"items": {"VSDAT": "2026-11-21", "WEIGHT": "58.5"},
                                        "version": 0})
    assert r.status_code == 200 and r.json["metadata_version"] == "1.3"
    assert r.json["items"]["WEIGHT"] == "58.5"

    web = app.test_client()
    login(web, "crc")
    page = f"/subjects/{before_the_amendment}/forms/D1/VS"
    html = web.get(page).get_data(as_text=True)
    assert "metadata 1.0" in html and 'name="WEIGHT"' not in html
    html = web.get(f"/subjects/{before_the_amendment}/forms/D2/VS").get_data(as_text=True)
    assert "metadata 1.3" in html and 'name="WEIGHT"' in html
    r = web.post(page, data={"csrf_token": csrf_token(web, page), "version": "2",
                             "VSDAT": "2026-11-20", "TEMP": "37.4", "reason": "Other",
                             "reason_text": "query response"})
    assert r.status_code == 302  # the page saves the 1.0 form with its own items
    with app.app_context():
        row = db.session.scalar(db.select(FormData).where(FormData.event_oid == "D1"))
        assert (row.metadata_version, row.version) == ("1.0", 3)


def test_the_dictionary_and_the_api_name_the_versions(app, world, token):
    body = app.test_client().get("/api/v1/study", headers=token("dm")).json
    assert body["metadata_version"] == "1.3"
    assert [v["version"] for v in body["metadata_versions"]] == ["1.0", "1.1", "1.2", "1.3"]
    web = app.test_client()
    login(web, "dm")
    html = web.get("/study/dictionary").get_data(as_text=True)
    assert "(active)" in html and "VS.WEIGHT" in html
