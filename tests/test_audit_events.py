"""Every kind of audit entry in the registry is produced by a real path (part11.md point 6)."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select

from audit import Actor
from audit.actions import ACTIONS
from audit.clock import utcnow
from edc import create_app, jobs
from edc.extensions import db
from edc.models import AuditEntry, Job, Study, Subject
from edc.security import ALL_SITES, site_scope
from tests.conftest import (
    ADMIN_TOTP_SECRET,
    PASSWORD,
    PI_TOTP_SECRET,
    age_sessions,
    audit_pdf,
    base_config,
    csrf_token,
    enter_eligible,
    login,
    pi_code,
)


def test_every_audited_event_type_is_produced(app, world, token, tmp_path, backend):
    api_token = token
    from edc.cli import cli_actor
    from edc.clinical.store import write_items
    from edc.study import mark_demo

    admin = app.test_client()
    login(admin, "admin")
    page = f"/admin/users/{world.users['crc_bj']}"
    token = csrf_token(admin, page)
    reason = {"a-csrf_token": token, "a-reason": "Other", "a-reason_text": "scenario"}
    admin.post(f"{page}/profile", data={"p-csrf_token": token, "p-full_name": "Renamed",
                                        "p-email": "", "p-reason": "Other",
                                        "p-reason_text": "scenario"})
    admin.post(f"{page}/reset-password", data=reason)
    admin.post(f"{page}/deactivate", data=reason)
    admin.post(f"{page}/reactivate", data=reason)
    admin.post(f"{page}/grants", data={"g-csrf_token": token, "g-role": "cra", "g-sites": ["BJ"],
                                       "g-reason": "Other", "g-reason_text": "scenario"})
    admin.post("/admin/users/new", data={"csrf_token": token, "username": "newbie",
                                         "full_name": "New Bie", "role": "dm"})
    admin.post("/admin/sites/new", data={"csrf_token": token, "code": "SH",
                                         "name": "Shanghai", "timezone": "Asia/Shanghai"})
    with app.app_context():
        sh = db.session.scalar(select(db.text("id")).select_from(db.text("site"))
                               .where(db.text("code = 'SH'")))
    admin.post(f"/admin/sites/{sh}", data={"csrf_token": token, "name": "Shanghai RJ",
                                           "timezone": "Asia/Shanghai", "active": "y",
                                           "reason": "Other", "reason_text": "scenario"})

    crc = app.test_client()
    for _ in range(5):
        login(crc, "pi", "wrong-password-123")  # failures, then the lock
    admin.post(f"/admin/users/{world.users['pi']}/unlock", data=reason)
    # a second-factor reset takes two administrators: one requests, another approves
    admin.post(f"/admin/users/{world.users['pi']}/second-factor/request-reset", data=reason)
    with app.app_context():
        from edc.admin import services as admin_services
        from edc.auth import twofactor
        from edc.cli import cli_actor
        from edc.security import Role

        admin2, _ = admin_services.create_user(
            username="admin2", full_name="Second Administrator", email="", role=Role.ADMIN,
            site_codes=[], password=PASSWORD, actor=cli_actor())
        twofactor.install(admin2, ADMIN_TOTP_SECRET, actor=cli_actor())
        db.session.commit()
    second = app.test_client()
    login(second, "admin2", secret=ADMIN_TOTP_SECRET)
    reason2 = {**reason, "a-csrf_token": csrf_token(second, "/admin/users")}
    assert second.post(f"/admin/users/{world.users['pi']}/second-factor/approve-reset",
                       data=reason2).status_code == 302
    with app.app_context():
        from edc.models import User

        twofactor.install(db.session.get(User, world.users["pi"]), PI_TOTP_SECRET,
                          actor=cli_actor())  # set up again, to sign below
        db.session.commit()
    login(crc, "crc")
    age_sessions(app, idle=timedelta(minutes=16))
    crc.get("/")  # idle: the session ends
    login(crc, "crc")
    t = csrf_token(crc, "/account/password")
    crc.post("/account/password", data={"csrf_token": t, "current": "wrong-password-123",
                                        "new": "x" * 14, "confirm": "x" * 14})
    crc.post("/account/password", data={"csrf_token": t, "current": PASSWORD,
                                        "new": "a-new-password-1", "confirm": "a-new-password-1"})
    crc.post("/subjects/new", data={"csrf_token": t, "site": "TJ"})
    crc.get("/audit/export.csv")
    assert audit_pdf(crc, subject="TJ-S001").status_code == 200
    crc.get("/study/acrf.pdf")
    crc.post("/logout", data={"csrf_token": t})
    app.test_client().get("/api/v1/audit?limit=3", headers=api_token("crc"))
    assert app.test_cli_runner().invoke(args=["audit", "copy", "-o",
                                              str(tmp_path / "copy.jsonl")]).exit_code == 0

    # eligibility, signature, enrollment, deviation, settings
    with app.app_context():
        enter_eligible(world.subject_tj)
    base = f"/subjects/{world.subject_tj}"
    crc = app.test_client()
    login(crc, "crc", "a-new-password-1")
    t = csrf_token(crc, f"{base}/eligibility")
    assert crc.post(f"{base}/enroll", data={"csrf_token": t}).status_code == 409  # not signed
    pi = app.test_client()
    login(pi, "pi")
    tp = csrf_token(pi, f"{base}/eligibility")
    sign = {"csrf_token": tp, "username": "pi", "password": PASSWORD, "code": pi_code()}
    assert pi.post(f"{base}/eligibility/sign", data={**sign, "password": "not-it-at-all"}
                   ).status_code == 401
    assert pi.post(f"{base}/eligibility/sign", data=sign).status_code == 303
    with app.app_context():  # a change invalidates the signature; the investigator signs again
        from edc.crf.services import save_form as save

        subject = db.session.get(Subject, world.subject_tj)
        save(subject, "SCREEN", "EC", {"ECOG": "0"}, version=1, actor=cli_actor(),
             reason="transcription error")
        db.session.commit()
    assert pi.post(f"{base}/eligibility/sign", data=sign).status_code == 303
    assert crc.post(f"{base}/enroll", data={"csrf_token": t}).status_code == 303
    assert crc.get(f"{base}/eligibility.pdf").status_code == 200
    with app.app_context():  # after enrollment: a change that breaks eligibility
        subject = db.session.get(Subject, world.subject_tj)
        save(subject, "SCREEN", "EC", {"ECOG": "3"}, version=2, actor=cli_actor(),
             reason="updated source document")
        db.session.commit()
    dm = app.test_client()
    login(dm, "dm")
    td = csrf_token(dm, "/study/eligibility-settings")
    assert dm.post("/study/eligibility-settings", data={
        "csrf_token": td, "screening_window_days": "30", "hcg_window_days": "7",
        "malignancy_years": "5", "other_trial_months": "3",
        "half_life_hours": "rituximab = 528", "iim_either_refractory_or_progressive": "y",
        "reason": "protocol amendment 2"}
    ).status_code == 303

    with app.app_context():
        subject = db.session.get(Subject, world.subject_tj)
        write_items(subject, "D3", "LB", {"HGB": "100", "ANC": "2.0"}, actor=cli_actor())
        db.session.commit()
        write_items(subject, "D3", "LB", {"HGB": "101", "ANC": None}, actor=cli_actor(),
                    reason="transcription error")
        mark_demo(db.session.scalar(select(Study)), cli_actor())
        db.session.commit()
        from edc.crf.services import Invalid, save_form
        from edc.uow import unit_of_work

        save_form(subject, "SCREEN", "FC", {"FCDAT": "2026-11-20", "CD19POS": "Y"},
                  version=1, actor=cli_actor(), reason="transcription error")  # form.save
        save_form(subject, "D1", "VS", {"VSDAT": "2026-11-20", "TEMP": "39.2"}, version=0,
                  actor=cli_actor())  # check.soft
        db.session.commit()
        from edc.auth.tokens import issue, revoke
        from edc.models import User

        row, _ = issue(db.session.get(User, world.users["cra"]), label="x", actor=cli_actor())
        revoke(row, actor=cli_actor(), reason="scenario")
        db.session.commit()
        with pytest.raises(Invalid), unit_of_work():  # check.hard, recorded after rollback
            save_form(subject, "D2", "VS", {"VSDAT": "2026-11-20", "TEMP": "50"}, version=0,
                      actor=cli_actor())
        # monitoring and data management
        from edc.queries import services as queries
        from edc.review import locks, sdv

        def as_user(role):
            user = db.session.get(User, world.users[role])
            return {"user": user, "actor": Actor.for_user(user, source="web")}

        for version, temp in ((1, "37.0"), (2, "39.5")):  # query.auto_close, auto_reopen
            with unit_of_work():
                save_form(subject, "D1", "VS", {"TEMP": temp}, version=version,
                          actor=cli_actor(), reason="transcription error")
        with unit_of_work():
            q = queries.open_query(subject, queries.Place("D1", "VS", "HR"), "HR?",
                                   **as_user("cra"))
            queries.answer(q, "as in the source", **as_user("pi"))
            queries.close(q, "ok", **as_user("cra"))
            queries.reopen(q, "once more", **as_user("dm"))
            sdv.verify(subject, "D1", "VS", None, **as_user("cra"))
        with unit_of_work():  # sdv.unverify
            save_form(subject, "D1", "VS", {"TEMP": "37.1"}, version=3, actor=cli_actor(),
                      reason="transcription error")
        with unit_of_work():
            lock = locks.apply("subject", "freeze", subject=subject, **as_user("dm"))
            locks.release(lock, reason="scenario", **as_user("dm"))
    app.config["EDC_JOB_DIR"] = str(tmp_path / "jobs")
    assert dm.post(f"{base}/casebook", data={"csrf_token": csrf_token(dm, base)}
                   ).status_code == 302
    td = csrf_token(dm, "/jobs/")
    started = dm.post("/jobs/", data={"csrf_token": td, "kind": "audit_pdf"}).headers["Location"]
    assert dm.get(f"/jobs/{started.rsplit('=', 1)[1]}/download").status_code == 200
    assert app.test_client().get("/api/v1/exports/csv", headers=api_token("sponsor")
                                 ).status_code == 200  # export.create
    (tmp_path / "not-a-folder").write_text("x")
    app.config["EDC_JOB_DIR"] = str(tmp_path / "not-a-folder")
    dm.post("/jobs/", data={"csrf_token": td, "kind": "audit_pdf"})  # job.failed
    app.config["EDC_JOB_DIR"] = str(tmp_path / "jobs")
    with app.app_context():  # job.retry: the job of a worker that died
        with site_scope(ALL_SITES), unit_of_work():
            job = db.session.get(Job, 2)
            job.state, job.attempts = "running", 1
            job.heartbeat_at = utcnow() - timedelta(hours=1)
        assert jobs.recover() == [2]
    runner = app.test_cli_runner()  # system.backup, then system.restore in an empty database
    assert runner.invoke(args=["backup", "-o", str(tmp_path / "b.zip")]).exit_code == 0
    config = base_config(backend.empty_database())
    config["EDC_AUDIT_KEY_FILE"] = app.config["EDC_AUDIT_KEY_FILE"]
    restored = create_app(config)
    assert restored.test_cli_runner().invoke(args=["restore", str(tmp_path / "b.zip")]
                                             ).exit_code == 0
    with restored.app_context():
        produced = set(db.session.scalars(select(AuditEntry.action).distinct()))
        db.session.remove()
        db.engine.dispose()
    backend.drop(config["SQLALCHEMY_DATABASE_URI"])
    with app.app_context():
        produced |= set(db.session.scalars(select(AuditEntry.action).distinct()))
    assert set(ACTIONS) - produced == set(), "registered but never produced"
    assert produced <= set(ACTIONS)
    # every key of every entry's details has a label in the catalog, so the viewer shows
    # the details table in the reader's language
    from edc.trail.words import DETAIL_LABELS

    with app.app_context():
        keys = set()
        for details in db.session.scalars(select(AuditEntry.details).where(
                AuditEntry.details.is_not(None))):
            if details.startswith("{"):
                keys |= set(json.loads(details))
    missing = sorted(keys - set(DETAIL_LABELS))
    assert not missing, f"details keys without a label: {' '.join(missing)}"
