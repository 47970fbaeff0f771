"""Every role's start page is its work list; subjects have statuses people recognise, a search,
and a header on every page of the subject."""

from __future__ import annotations

import re
from datetime import timedelta

import audit
from edc.crf.services import read_form, save_form
from edc.eligibility.services import site_today
from edc.extensions import db
from edc.models import Subject, User
from edc.queries import services as queries
from tests.conftest import enter_eligible, login, mark_enrolled


def _save(subject_id, event, form, values, reason=None):
    subject = db.session.get(Subject, subject_id)
    return save_form(subject, event, form, values,
                     version=read_form(subject, event, form).version,
                     actor=audit.Actor.system(), reason=reason)


def _page(app, role, url="/"):
    c = app.test_client()
    login(c, role)
    return c, c.get(url).get_data(as_text=True)


def _section(html, heading_id):
    start = html.index(f'id="{heading_id}"')
    return html[start:html.index("</section>", start)]


def _infused_yesterday(app, world) -> str:
    """An SSc subject infused yesterday (Day 1 is today) and an open query on its
    demographics. Returns its subject number."""
    with app.app_context():
        enter_eligible(world.subject_tj, "SSC")
        db.session.commit()
        number = mark_enrolled(world.subject_tj)
        today = site_today(db.session.get(Subject, world.subject_tj))
        _save(world.subject_tj, "INF", "IF", {"IFDAT": (today - timedelta(days=1)).isoformat(),
                                              "IFTIM": "10:00", "LOTNO": "LOT-1"})
        _save(world.subject_tj, "LD", "LD", {"LDSTDAT": (today - timedelta(days=6))
                                             .isoformat()})  # saved, not complete
        cra = db.session.get(User, world.users["cra"])
        queries.open_query(db.session.get(Subject, world.subject_tj),
                           queries.Place("SCREEN", "DM", "HEIGHT"), "Height in cm?", user=cra,
                           actor=audit.Actor.for_user(cra, source="web"))
        db.session.commit()
        return number


def test_the_coordinators_start_page_is_the_days_work(app, world):
    number = _infused_yesterday(app, world)
    _, html = _page(app, "crc")
    visits = _section(html, "wl-visits")
    assert number in visits and "Day 1" in visits and "due today" in visits
    assert re.search(rf'href="/subjects/{world.subject_tj}/forms/D1/VS"', visits)
    assert "Day 2" in visits  # its window opens within the week
    assert "Query #" in _section(html, "wl-answer") and "Demographics › Height" in html
    incomplete = _section(html, "wl-incomplete")
    assert "Lymphodepletion" in incomplete and "#summary" in incomplete
    assert 'id="wl-sign"' not in html and 'id="wl-sdv"' not in html  # not the coordinator's


def test_the_investigators_start_page_lists_what_waits_for_a_signature(app, world):
    with app.app_context():
        enter_eligible(world.subject_tj)
        db.session.commit()
    _, html = _page(app, "pi")
    sign = _section(html, "wl-sign")
    assert "Eligibility checklist" in sign and f"/subjects/{world.subject_tj}/eligibility" in sign
    _, listing = _page(app, "pi", "/subjects/")
    assert "Eligible, awaiting the investigator" in listing
    assert "st-eligible" in listing


def test_monitor_and_data_manager_start_pages(app, world):
    _infused_yesterday(app, world)
    _, html = _page(app, "cra")
    assert 'id="wl-sdv"' in html and 'href="/monitoring/sdv?site=TJ"' in html
    assert 'id="wl-review"' in html and 'id="wl-visits"' not in html
    _, html = _page(app, "dm")
    unresolved = _section(html, "wl-unresolved")
    assert "Query #" in unresolved and "0 days old" in unresolved
    assert "stand in the way of a study lock" in _section(html, "wl-lock")


def test_the_sponsors_start_page_is_counts_only(app, world):
    number = _infused_yesterday(app, world)
    _, html = _page(app, "sponsor")
    summary = _section(html, "wl-enrollment")
    assert "Treated (CAR-T infused)" in summary and "Systemic sclerosis" not in summary
    assert "SSC" in summary and "TJ" in summary
    assert number not in html and "TJ-S00" not in html  # no subject is named
    assert "adverse events" in _section(html, "wl-safety")


def test_subject_search_by_number_and_initials(app, world):
    with app.app_context():
        _save(world.subject_tj, "SCREEN", "DM", {"INITIALS": "LXQ", "SEX": "F"})
        db.session.commit()
    c = app.test_client()
    login(c, "crc")
    r = c.get("/subjects/?q=s001")  # one subject: straight to it
    assert r.status_code == 302 and r.headers["Location"].endswith(f"/subjects/{world.subject_tj}")
    assert c.get("/subjects/?q=lxq").headers["Location"].endswith(f"/{world.subject_tj}")
    html = c.get("/subjects/?q=NOPE%25").get_data(as_text=True)
    assert "0 subjects match" in html
    dm = app.test_client()
    login(dm, "dm")  # no identifying data: initials do not find anyone
    html = dm.get("/subjects/?q=LXQ").get_data(as_text=True)
    assert "0 subjects match" in html and "or the initials" not in html


def test_every_subject_page_starts_with_the_subject_header(app, world):
    number = _infused_yesterday(app, world)
    c = app.test_client()
    login(c, "crc")
    for url in (f"/subjects/{world.subject_tj}", f"/subjects/{world.subject_tj}/forms/D1/VS",
                f"/subjects/{world.subject_tj}/eligibility"):
        html = c.get(url).get_data(as_text=True)
        header = html[html.index('class="subject-header"'):]
        header = header[:header.index("</div>")]
        assert number in header and "Systemic sclerosis" in header, url
        assert "Day 1 since infusion" in header and "Treated (CAR-T infused)" in header
        assert re.search(r"Female|Male", header) and "years" in header
        assert "1980" not in header  # the date of birth is not shown


def test_save_and_go_to_the_next_form_and_the_casebook_in_words(app, world):
    from tests.conftest import csrf_token

    _infused_yesterday(app, world)
    c = app.test_client()
    login(c, "crc")
    detail = c.get(f"/subjects/{world.subject_tj}").get_data(as_text=True)
    assert re.search(r'<tr class="today"><td class="ev">Day 1 <strong[^>]*>today</strong>',
                     detail)  # today's visit stands out
    assert '>Vital signs<span class="visually-hidden">: not started</span></a>' in detail
    url = f"/subjects/{world.subject_tj}/forms/D1/VS"
    html = c.get(url).get_data(as_text=True)
    assert 'name="then" value="next"' in html and "Save and go to CRS assessment" in html
    r = c.post(url, data={"csrf_token": csrf_token(c, url), "version": "0", "then": "next",
                          "VSDAT": _d1(app, world)})
    assert r.status_code == 302 and r.headers["Location"].endswith(
        f"/subjects/{world.subject_tj}/forms/D1/CRS")
    page = c.get(r.headers["Location"]).get_data(as_text=True)
    assert "Vital signs saved" in page and f'data-path="{url}"' in page  # its draft goes
    detail = c.get(f"/subjects/{world.subject_tj}").get_data(as_text=True)
    assert '<tr class="today"><td class="ev">Day 1' not in detail  # seen: no longer due


def _d1(app, world) -> str:
    with app.app_context():
        return site_today(db.session.get(Subject, world.subject_tj)).isoformat()
