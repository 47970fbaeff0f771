"""Dashboards: SVG charts with their tables, in the caller's sites, no identifying data."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from datetime import timedelta

import audit
from edc.crf.services import read_form, save_form
from edc.dashboards import FUNNEL
from edc.eligibility.services import site_today
from edc.extensions import db
from edc.models import Subject
from forms.study_build import BUILD
from tests.conftest import enter_eligible, login, mark_enrolled


def _save(subject_id, event, form, values, repeat=1):
    subject = db.session.get(Subject, subject_id)
    return save_form(subject, event, form, values, form_repeat=repeat,
                     version=read_form(subject, event, form, form_repeat=repeat).version,
                     actor=audit.Actor.system())


def _treated(app, world):
    """An AAV subject infused ten days ago: CRS grade 2 on day 2, a serious AE on day 3."""
    with app.app_context():
        enter_eligible(world.subject_tj, "AAV")
        db.session.commit()
        mark_enrolled(world.subject_tj)
        today = site_today(db.session.get(Subject, world.subject_tj))
        day = lambda n: (today - timedelta(days=10 - n)).isoformat()  # noqa: E731
        _save(world.subject_tj, "INF", "IF", {"IFDAT": day(0), "IFTIM": "10:00",
                                              "LOTNO": "LOT-1"})
        _save(world.subject_tj, "D2", "CRS", {"CRSDAT": day(2), "FEVER": "Y",
                                              "HYPOTEN": "no_vasopressor", "HYPOXIA": "low_flow"})
        _save(world.subject_tj, "LOG", "AE", {"AETERM": "Pneumonia", "AESTDAT": day(3),
                                              "AETOXGR": "3", "AESER": "N"})
        db.session.commit()


def test_the_funnel_names_visits_of_the_schedule():
    assert set(FUNNEL[5:]) <= {e.oid for e in BUILD.events}


def test_dashboards_draw_svg_with_their_tables(app, world):
    _treated(app, world)
    c = app.test_client()
    login(c, "crc")
    html = c.get("/dashboards").get_data(as_text=True)
    svgs = re.findall(r"<svg .*?</svg>", html, re.S)
    assert len(svgs) == 5
    for svg in svgs:  # each is well-formed SVG
        assert ET.fromstring(svg).tag == "{http://www.w3.org/2000/svg}svg"  # noqa: S314 - ours
    assert "Enrollment funnel" in html and "<td>infused</td>" in html
    crs = html[html.index("CRS and ICANS"):]
    assert re.search(r"<td>TJ-001</td><td class=\"num\">2</td><td class=\"num\">2</td>", crs)
    assert "Grade 3" in html and "swimmer plot" in html
    assert "<title>SAE onset, day" not in html  # the AE was not serious
    with app.app_context():
        day = site_today(db.session.get(Subject, world.subject_tj)) - timedelta(days=6)
        _save(world.subject_tj, "LOG", "AE", {"AETERM": "Sepsis", "AESTDAT": day.isoformat(),
                                              "AETOXGR": "3", "AESER": "Y"}, repeat=2)
        db.session.commit()
    html = c.get("/dashboards").get_data(as_text=True)
    assert "<title>SAE onset, day 4</title>" in html


def test_dashboards_are_site_scoped_and_hold_no_identifying_value(app, world):
    _treated(app, world)
    with app.app_context():
        subject = db.session.get(Subject, world.subject_tj)
        save_form(subject, "SCREEN", "DM", {"INITIALS": "LXQ"}, actor=audit.Actor.system(),
                  version=read_form(subject, "SCREEN", "DM").version, reason="test set-up")
        db.session.commit()
    bj = app.test_client()
    login(bj, "crc_bj")
    html = bj.get("/dashboards").get_data(as_text=True)
    assert "TJ-001" not in html
    sponsor = app.test_client()
    login(sponsor, "sponsor")
    html = sponsor.get("/dashboards").get_data(as_text=True)
    assert "TJ-001" in html and "LXQ" not in html and "1980" not in html
