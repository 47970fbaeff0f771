"""The checklist from stored data: API (interfaces.md) and page, missing criteria first."""

from __future__ import annotations

import re
from datetime import timedelta

import audit
from edc.clock import utcnow
from edc.crf.services import save_form
from edc.extensions import db
from edc.models import Subject
from tests.conftest import login


def _enter(app, world, *, with_pregnancy_test: bool):
    today = utcnow().date()
    d = lambda days: (today - timedelta(days=days)).isoformat()  # noqa: E731
    forms = {
        "IC": {"RFICDAT": d(20), "ICFVER": "v2", "COMPLY": "Y", "CONTRAC": "Y"},
        "DM": {"BRTHDAT": "1980-05-01", "SEX": "F", "CHILDPOT": "Y", "HEIGHT": "160",
               "WEIGHT": "60"},
        "DX": {"COHORT": "SLE", "DXDAT": "2015-01-01", "GILBERT": "N", "ANA80": "Y",
               "SLE21": "Y", "SLE14": "Y"},  # anti-dsDNA 6 + joint involvement 6
        "LB": {"LBDAT": d(10), "ANC": "1.5", "CSF14D": "N", "HGB": "120", "ALT": "30",
               "ALTULN": "40", "AST": "30", "ASTULN": "40", "BILI": "10", "BILIULN": "20",
               "CREAT": "70", "CREATU": "umol/L", "TXMYO": "N", "CRCLACUT": "N"},
        "FC": {"FCDAT": d(10), "CD19POS": "Y"},
        "SR": {"SRDAT": d(10), "HBSAG": "NEG", "HBCAB": "NEG", "HCVAB": "NEG",
               "HIVAB": "NEG", "SYPH": "NEG"},
        "EC": {"ECDAT": d(10), "ECOG": "1"},
        "EX": {f"EX{n:02d}": "N" for n in (1, 2, 3, 4, 5, 7, 9, 12, 13)},
    }
    if with_pregnancy_test:
        forms["PG"] = {"PGDAT": d(3), "PGTYPE": "SERUM", "PGRES": "NEG", "LACTAT": "N"}
    with app.app_context():
        subject = db.session.get(Subject, world.subject_tj)
        actor = audit.Actor.system()
        for form, items in forms.items():
            save_form(subject, "SCREEN", form, items, version=0, actor=actor, today=today)
        db.session.commit()


def test_api_lists_missing_first_and_names_the_item(app, world, token):
    _enter(app, world, with_pregnancy_test=False)
    r = app.test_client().get(f"/api/v1/subjects/{world.subject_tj}/eligibility",
                              headers=token("crc"))
    body = r.json
    assert r.status_code == 200 and body["status"] == "not_evaluable"
    results = [c["result"] for c in body["criteria"]]
    first_other = next(i for i, x in enumerate(results) if x != "missing")
    assert all(x != "missing" for x in results[first_other:])  # missing first
    by_id = {c["id"]: c for c in body["criteria"]}
    assert by_id["IN-05"]["result"] == "missing" and "PG.PGDAT" in by_id["IN-05"]["missing"]
    assert by_id["IN-03f"]["result"] == "met" and by_id["IN-03f"]["evidence"]["unit"] == \
        "mL/min"
    assert by_id["SLE-2"]["missing"] == "DA.SLEDAI not entered"
    assert body["rule_version"].startswith("eligibility-1")


def test_a_negative_pregnancy_test_completes_in05(app, world, token):
    _enter(app, world, with_pregnancy_test=True)
    r = app.test_client().get(f"/api/v1/subjects/{world.subject_tj}/eligibility",
                              headers=token("pi"))
    assert {c["id"]: c["result"] for c in r.json["criteria"]}["IN-05"] == "met"


def test_checklist_page(app, world):
    _enter(app, world, with_pregnancy_test=False)
    c = app.test_client()
    login(c, "crc")
    html = c.get(f"/subjects/{world.subject_tj}/eligibility").get_data(as_text=True)
    assert "Not evaluable" in html
    assert html.index("crit-missing") < html.index("crit-met")
    # what is missing, in words, each a link to its form and item
    pg = f"/subjects/{world.subject_tj}/forms/SCREEN/PG"
    assert (f'<a href="{pg}#PGDAT">Pregnancy test › Test date</a>, '
            f'<a href="{pg}#PGRES">Pregnancy test › Result</a>, '
            f'<a href="{pg}#LACTAT">Pregnancy test › Lactating</a> not entered') in html
    assert "PG.PGDAT" not in html
    assert '<dl class="details">' in html  # evidence as a table, its keys in words
    assert not re.search(r"<dt>[^<]*_[^<]*</dt>", html)
    assert c.get(f"/subjects/{world.subject_bj}/eligibility").status_code == 404
