"""Identifying data is defined once, by the items' pii flag, and withheld behind every
surface: a test build adds an identifying item and no surface shows its value to a role
without access to identifying data."""

from __future__ import annotations

from dataclasses import replace

import pytest
from pypdf import PdfReader

from edc.cli import cli_actor
from edc.crf.services import save_form
from edc.deidentify import WITHHELD, identifying
from edc.extensions import db
from edc.models import Subject
from forms import study_build
from forms.metadata import Item
from tests.conftest import audit_pdf, enter_eligible, login

SECRET = "Dr. Liu Xiaoming 13912345678"


@pytest.fixture
def pii_build(monkeypatch):
    """Metadata with one more identifying item: PT.PTPRESC, the prescribing physician."""
    active = study_build.BUILD
    pt = active.forms["PT"]
    pt = replace(pt, items=(*pt.items, Item("PTPRESC", "Prescribing physician", "处方医生",
                                            "text", pii=True, max_length=60)))
    build = replace(active, version="9.0-pii-test", forms={**active.forms, "PT": pt})
    monkeypatch.setitem(study_build.BUILDS, build.version, build)
    monkeypatch.setattr("edc.crf.services.BUILD", build)  # the pairs a save resolves
    monkeypatch.setattr("edc.crf.casebook.BUILD", build)  # new instances take it
    return build


@pytest.fixture
def entered(app, world, pii_build):
    with app.app_context():
        enter_eligible(world.subject_tj)
        subject = db.session.get(Subject, world.subject_tj,
                                 execution_options={"all_sites": True})
        save_form(subject, "SCREEN", "PT", {
            "PTAGENT": "RITUXIMAB", "PTSTDAT": "2020-01-01", "PTENDAT": "2020-06-01",
            "PTLSTDAT": "2020-06-01", "PTRESP": "REMISSION", "PTPRESC": SECRET},
            version=0, actor=cli_actor(), form_repeat=4)
        db.session.commit()
    return world.subject_tj


def test_the_flag_alone_defines_identifying_items(pii_build):
    assert identifying("PT", "PTPRESC") and identifying("DM", "BRTHDAT")
    assert identifying("DM", "INITIALS") and identifying("DM", "MRN")
    assert not identifying("DM", "SEX") and not identifying("PT", "PTAGENT")


def test_a_new_identifying_item_is_withheld_everywhere(app, world, entered, token, tmp_path):
    subject = entered
    dm = app.test_client()
    login(dm, "dm")
    crc = app.test_client()
    login(crc, "crc")
    page = f"/subjects/{subject}/forms/SCREEN/PT/4"
    assert SECRET in crc.get(page).get_data(as_text=True)  # a role that may see it does

    with app.app_context():
        label = db.session.get(Subject, subject,
                               execution_options={"all_sites": True}).label
    surfaces = {
        "form page": dm.get(page).get_data(as_text=True),
        "audit viewer": dm.get(f"/audit/?subject={label}").get_data(as_text=True),
        "audit CSV": dm.get(f"/audit/export.csv?subject={label}").get_data(as_text=True),
        "API rows": app.test_client().get(f"/api/v1/subjects/{subject}/logs/PT",
                                          headers=token("dm")).get_data(as_text=True),
        "API eligibility evidence": app.test_client().get(
            f"/api/v1/subjects/{subject}/eligibility", headers=token("dm")).get_data(
            as_text=True),
        "API audit": app.test_client().get(f"/api/v1/audit?subject={label}",
                                           headers=token("dm")).get_data(as_text=True),
        "sponsor's API audit": app.test_client().get(
            f"/api/v1/audit?subject={label}", headers=token("sponsor")).get_data(as_text=True),
    }
    pdf = audit_pdf(dm, subject=label)
    assert pdf.status_code == 200
    out = tmp_path / "trail.pdf"
    out.write_bytes(pdf.data)
    surfaces["audit PDF"] = "".join(p.extract_text() for p in PdfReader(str(out)).pages)
    copy = tmp_path / "copy.jsonl"
    assert app.test_cli_runner().invoke(args=["audit", "copy", "--subject", label, "-o",
                                              str(copy)]).exit_code == 0
    surfaces["audit copy"] = copy.read_text(encoding="utf-8")
    for name, text in surfaces.items():
        assert SECRET not in text and "13912345678" not in text, name
    assert WITHHELD in surfaces["audit CSV"] and WITHHELD in surfaces["API rows"]
    assert WITHHELD in surfaces["API eligibility evidence"]
