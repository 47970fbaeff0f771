"""The audit trail as people read it: a subject is one subject under both of its numbers (page,
CSV, PDF, API), actions and places in words, users by full name and role, details as a
table, and the date filter in the site's time zone."""

from __future__ import annotations

import csv
import io
import re
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

import audit
from audit.models import AuditEntry
from edc.crf.services import read_form, save_form
from edc.extensions import db
from edc.models import Subject, User
from edc.trail.services import TrailFilter, count
from tests.conftest import enter_eligible, login, mark_enrolled


def _enrolled(app, world) -> tuple[str, str, int]:
    """Screening data entered under the screening number, then a change after enrollment
    (under the subject number). Returns both numbers and the subject's entry count."""
    with app.app_context():
        enter_eligible(world.subject_tj)
        db.session.commit()
        number = mark_enrolled(world.subject_tj)
        subject = db.session.get(Subject, world.subject_tj)
        crc = db.session.get(User, world.users["crc"])
        save_form(subject, "SCREEN", "EC", {"ECOG": "0"},
                  version=read_form(subject, "SCREEN", "EC").version,
                  actor=audit.Actor.for_user(crc, source="web"), reason="Transcription error")
        db.session.commit()
        total = db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.subject_id == world.subject_tj))
        return subject.screening_number, number, total


def test_a_subject_is_one_subject_under_either_number(app, world, token):
    screening, number, total = _enrolled(app, world)
    assert screening != number and total > 20
    with app.app_context():
        keys = set(db.session.scalars(select(AuditEntry.subject_key).where(
            AuditEntry.subject_id == world.subject_tj)))
        assert {screening, number} <= keys  # filed under both numbers
        for key in (screening, number, number.lower()):
            assert count(TrailFilter(subject=key)) == total

    web = app.test_client()
    login(web, "dm")
    for key in (screening, number):
        html = web.get(f"/audit/?subject={key}").get_data(as_text=True)
        assert f"{total} entries" in html
        rows = list(csv.DictReader(io.StringIO(
            web.get(f"/audit/export.csv?subject={key}").get_data(as_text=True))))
        assert len(rows) == total
    subject_page = web.get(f"/subjects/{world.subject_tj}").get_data(as_text=True)
    link = re.search(r'href="(/audit/\?subject=[^"]+)"', subject_page).group(1)
    assert f"{total} entries" in web.get(link.replace("&amp;", "&")).get_data(as_text=True)

    api = app.test_client()
    got = api.get(f"/api/v1/audit?subject={screening}", headers=token("dm")).json
    assert got["count"] >= total
    assert {e["subject"] for e in got["entries"] if e["subject"]} == {screening, number}


def test_the_viewer_speaks_in_words(app, world):
    _enrolled(app, world)
    web = app.test_client()
    login(web, "dm")
    html = web.get("/audit/?form=EC").get_data(as_text=True)
    html = html[html.index("<tbody>"):]
    assert "Value changed" in html and "Form saved (new version)" in html
    row = next(r for r in html.split("<tr>") if "Value changed" in r)
    assert "Screening" in row and "ECOG performance status" in row and "ECOG" in row
    assert "Test Site coordinator" in row or re.search(r"<td>Test [^<]+<br><small>", row)
    assert "data.update" in row  # the code stays beside the words
    assert "item_data" not in row and "{" not in row.split("</small>", 2)[-1][:200]
    saved = next(r for r in html.split("<tr>") if "Form saved" in r)
    assert '<dl class="details">' in saved and "<dt>Status</dt><dd>complete</dd>" in saved
    # a signature says what was signed
    with app.app_context():
        from edc import signatures
        from tests.conftest import PASSWORD, pi_code

        subject = db.session.get(Subject, world.subject_tj)
        pi = db.session.get(User, world.users["pi"])
        signatures.sign(subject, "eligibility", user=pi, username="pi", password=PASSWORD,
                        code=pi_code(), actor=audit.Actor.for_user(pi, source="web"))
        db.session.commit()
    html = web.get("/audit/?action=signature.sign").get_data(as_text=True)
    html = html[html.index("<tbody>"):]
    assert "Signed: eligibility checklist" in html and "Test Investigator" in html


def test_the_date_filter_takes_days_in_the_site_time_zone(app, world):
    with app.app_context():
        late = db.session.scalar(select(AuditEntry).order_by(AuditEntry.seq.desc()).limit(1))
        utc_day = late.ts.date()
        # 17:00 UTC is 01:00 the next day in Shanghai: a site user's day is Shanghai's
        shanghai = (late.ts + timedelta(hours=8)).date()
        f_site = TrailFilter(since=shanghai, until=shanghai, zone="Asia/Shanghai")
        f_utc = TrailFilter(since=utc_day, until=utc_day)
        assert f_site.bound(shanghai) == datetime.combine(shanghai, datetime.min.time()) \
            - timedelta(hours=8)
        assert count(f_site) >= 1 and count(f_utc) >= 1
        assert TrailFilter(since=date.min, zone="Asia/Shanghai").bound(date.min)  # no overflow
    web = app.test_client()
    login(web, "crc")  # one site: Tianjin, Asia/Shanghai
    html = web.get(f"/audit/?since={shanghai}&until={shanghai}").get_data(as_text=True)
    assert "the dates of the filter are days in Asia/Shanghai" in html
    web = app.test_client()
    login(web, "dm")  # all sites: UTC days
    html = web.get(f"/audit/?since={utc_day}").get_data(as_text=True)
    assert "the dates of the filter are UTC days" in html
