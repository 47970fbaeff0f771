"""eCRF speed: form-save latency and the casebook page of a subject with 15 years of data.

    python bench/crf.py [--saves 300] [--database-url URL]

In-process (Flask test client and the save service), on a migrated database. Prints the
median and 95th percentile of a save, and the casebook render time with every scheduled
visit from screening to year 15 entered, beside an empty casebook.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--saves", type=int, default=300)
    parser.add_argument("--database-url", default=None)
    args = parser.parse_args()

    import audit
    from bench._data import make_app
    from edc import clock, signatures
    from edc.admin.services import create_site, create_user
    from edc.cli import cli_actor, init_database
    from edc.crf.services import save_form
    from edc.demo import screening_forms
    from edc.eligibility.enrollment import enroll
    from edc.eligibility.services import TARGET
    from edc.extensions import db
    from edc.models import Subject
    from edc.security import Role
    from edc.subjects.services import create_subject
    from forms.samples import sample_form
    from forms.study_build import BUILD

    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite:///{tmp}/bench.sqlite"
        app = make_app(url)
        with app.app_context():
            init_database()
            site = create_site(code="TJ", name="Tianjin", timezone="Asia/Shanghai",
                               actor=cli_actor())
            user, _ = create_user(username="crc", full_name="CRC", email="", role=Role.CRC,
                                  site_codes=["TJ"], password="bench-password-1",
                                  actor=cli_actor())
            pi, _ = create_user(username="pi", full_name="PI", email="", role=Role.PI,
                                site_codes=["TJ"], password="bench-password-1",
                                actor=cli_actor())
            full = create_subject(site, actor=cli_actor(), created_by_id=user.id)
            empty = create_subject(site, actor=cli_actor(), created_by_id=user.id)
            db.session.commit()
            actor = audit.Actor(user.id, "crc", "crc", "web")
            infusion = date(2011, 1, 10)
            today = infusion + timedelta(days=365 * 15 + 30)
            durations = []
            # screening, the investigator's signature and the enrollment gate, at their dates
            enrolled_on = infusion - timedelta(days=14)
            with clock.simulated_day(enrolled_on):
                for oid, row, values in screening_forms("SLE", enrolled_on):
                    started = time.perf_counter()
                    save_form(full, "SCREEN", oid, values, version=0, actor=actor,
                              form_repeat=row, today=enrolled_on)
                    db.session.commit()
                    durations.append(time.perf_counter() - started)
                signatures.sign(full, TARGET, user=pi, username="pi",
                                password="bench-password-1", actor=actor)
                db.session.commit()
                enroll(full, user=user, actor=actor)
                db.session.commit()
            for event in BUILD.events:
                if event.oid in ("LOG", "UNSCHED", "SCREEN", "ENROL"):
                    continue
                day = infusion + timedelta(days=event.day or -20)
                for oid in event.forms:
                    form = BUILD.form(oid)
                    values = sample_form(form, on=day)
                    if oid == "IC":
                        values["RFICDAT"] = (infusion - timedelta(days=30)).isoformat()
                    if oid == "DM":
                        values["BRTHDAT"] = "1970-01-01"
                    if oid == "LD":
                        values["LDSTDAT"] = (infusion - timedelta(days=5)).isoformat()
                    if oid == "IF":
                        values["IFDAT"] = infusion.isoformat()
                    started = time.perf_counter()
                    save_form(full, event.oid, oid, values, version=0, actor=actor, today=today)
                    db.session.commit()
                    durations.append(time.perf_counter() - started)
            saves = len(durations)
            subject = db.session.get(Subject, full.id)
            vs = BUILD.form("VS")
            for n in range(args.saves):  # repeated corrections of one form
                started = time.perf_counter()
                save_form(subject, "D1", "VS", {"TEMP": f"{36 + (n % 30) / 10:.1f}"},
                          version=n + 1, actor=actor, reason="bench", today=today)
                db.session.commit()
                durations.append(time.perf_counter() - started)
            full_id, empty_id = full.id, empty.id
            db.session.remove()
            del vs

        client = app.test_client()
        token = client.get("/login").get_data(as_text=True).split(
            'name="csrf_token" type="hidden" value="')[1].split('"')[0]
        client.post("/login", data={"username": "crc", "password": "bench-password-1",
                                    "csrf_token": token})

        def render(subject_id: int, n: int = 20, page: str = "") -> float:
            times = []
            for _ in range(n):
                started = time.perf_counter()
                assert client.get(f"/subjects/{subject_id}{page}").status_code == 200
                times.append(time.perf_counter() - started)
            return statistics.median(times)

        full_ms, empty_ms = render(full_id) * 1000, render(empty_id) * 1000
        checklist_ms = render(full_id, page="/eligibility") * 1000
        checklist_empty_ms = render(empty_id, page="/eligibility") * 1000

    ms = sorted(d * 1000 for d in durations)
    p95 = ms[int(len(ms) * 0.95) - 1]
    print(f"eCRF benchmark ({url.split(':')[0]}): {len(ms)} saves "
          f"({saves} forms from screening to year 15, then {args.saves} corrections)")
    print(f"form save: median {statistics.median(ms):.1f} ms, p95 {p95:.1f} ms, "
          f"max {ms[-1]:.1f} ms")
    print(f"casebook page: 15 years of data {full_ms:.1f} ms, empty {empty_ms:.1f} ms "
          f"(ratio {full_ms / empty_ms:.2f})")
    print(f"eligibility checklist page (evaluation, evidence, signature check): "
          f"{checklist_ms:.1f} ms enrolled, {checklist_empty_ms:.1f} ms no data "
          f"(ratio {checklist_ms / checklist_empty_ms:.2f})")


if __name__ == "__main__":
    main()
