"""Account and site administration through the admin pages; every change audited."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from edc.extensions import db
from edc.models import AuditEntry, AuthSession, RoleGrant, Site, User
from tests.conftest import csrf_token, login


def admin_client(app):
    c = app.test_client()
    assert login(c, "admin").status_code == 302
    return c


def count(app, model) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(model))


def test_create_user_gives_a_temporary_password_and_grants(app, world):
    c = admin_client(app)
    token = csrf_token(c, "/admin/users/new")
    r = c.post("/admin/users/new", data={
        "csrf_token": token, "username": "Sub.I-Liu", "full_name": "Dr. Liu Yang",
        "email": "liu@example.org", "role": "pi", "sites": ["TJ", "BJ"]})
    assert r.status_code == 200
    temp = r.get_data(as_text=True).split("<code>")[1].split("</code>")[0]
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "sub.i-liu"))
        assert user.must_change_password
        assert sorted(s.code for s in user.sites) == ["BJ", "TJ"]
        actions = list(db.session.scalars(select(AuditEntry.action).where(
            AuditEntry.target_id == str(user.id))))
        assert actions == ["user.create", "user.role_change"]
    newbie = app.test_client()
    assert login(newbie, "sub.i-liu", temp).headers["Location"].endswith("/account/password")


def test_bad_input_is_refused_at_the_field_and_nothing_is_written(app, world):
    c = admin_client(app)
    users_before, audit_before = count(app, User), count(app, AuditEntry)
    cases = [
        ({"username": "x", "full_name": "A", "role": "crc", "sites": ["TJ"]},
         "lower-case letters"),
        ({"username": "crc", "full_name": "A", "role": "crc", "sites": ["TJ"]},
         "is taken"),
        ({"username": "newcrc", "full_name": "A", "role": "crc"}, "needs at least one site"),
        ({"username": "newcrc", "full_name": "A", "role": "crc", "sites": ["TJ"],
          "email": "not-an-address"}, "valid e-mail"),
        ({"username": "newcrc", "full_name": "", "role": "crc", "sites": ["TJ"]},
         "This field is required"),
        ({"username": "newcrc", "full_name": "A", "role": "superuser", "sites": ["TJ"]},
         "Not a valid choice"),
        ({"username": "newcrc", "full_name": "A", "role": "crc", "sites": ["XX"]},
         "is not a valid choice"),
        # printed on every signature: plain text only
        ({"username": "newcrc", "full_name": "Li\x1bNa", "role": "crc", "sites": ["TJ"]},
         "control or invalid characters"),
    ]
    for data, message in cases:
        token = csrf_token(c, "/admin/users/new")
        r = c.post("/admin/users/new", data={"csrf_token": token, **data})
        assert r.status_code == 422, data
        assert message in r.get_data(as_text=True), (data, message)
    assert count(app, User) == users_before
    assert count(app, AuditEntry) == audit_before


def test_role_change_is_audited_with_reason_and_ends_sessions(app, world):
    crc = app.test_client()
    login(crc, "crc_bj")
    c = admin_client(app)
    page = f"/admin/users/{world.users['crc_bj']}"
    token = csrf_token(c, page)
    r = c.post(f"{page}/grants", data={"g-csrf_token": token, "g-role": "cra",
                                       "g-sites": ["BJ", "TJ"], "g-reason": ""})
    assert r.status_code == 422 and "Give a reason" in r.get_data(as_text=True)
    r = c.post(f"{page}/grants", data={
        "g-csrf_token": token, "g-role": "cra", "g-sites": ["BJ", "TJ"],
        "g-reason": "Change of responsibilities", "g-reason_text": "now monitors"})
    assert r.status_code == 302
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(
            AuditEntry.action == "user.role_change",
            AuditEntry.target_id == str(world.users["crc_bj"])).order_by(AuditEntry.seq.desc()))
        assert (entry.old_value, entry.new_value) == ("crc@BJ", "cra@BJ,TJ")
        assert entry.reason == "Change of responsibilities: now monitors"
        assert entry.username == "admin" and entry.role == "admin"
    assert crc.get("/subjects/").status_code == 302  # signed out at once


def test_all_site_roles_get_one_grant_without_site(app, world):
    with app.app_context():
        grants = db.session.scalars(select(RoleGrant).where(
            RoleGrant.user_id == world.users["dm"])).all()
        assert [(g.role, g.site_id) for g in grants] == [("dm", None)]


def test_admin_cannot_lock_themselves_out(app, world):
    c = admin_client(app)
    page = f"/admin/users/{world.users['admin']}"
    token = csrf_token(c, page)
    r = c.post(f"{page}/deactivate", data={"a-csrf_token": token, "a-reason": "Other",
                                           "a-reason_text": "test"})
    assert r.status_code == 422
    assert "cannot deactivate your own account" in r.get_data(as_text=True)
    r = c.post(f"{page}/grants", data={"g-csrf_token": token, "g-role": "crc", "g-sites": ["TJ"],
                                       "g-reason": "Other", "g-reason_text": "x"})
    assert r.status_code == 422


def test_deactivated_account_keeps_its_id_and_can_be_reactivated(app, world):
    c = admin_client(app)
    page = f"/admin/users/{world.users['cra']}"
    token = csrf_token(c, page)
    data = {"a-csrf_token": token, "a-reason": "Left the study", "a-reason_text": ""}
    assert c.post(f"{page}/deactivate", data=data).status_code == 302
    with app.app_context():
        user = db.session.get(User, world.users["cra"])
        assert user is not None and not user.active and user.deactivated_at
        assert db.session.scalar(select(func.count()).select_from(AuthSession).where(
            AuthSession.user_id == user.id, AuthSession.ended_at.is_(None))) == 0
    assert c.post(f"{page}/reactivate", data=data).status_code == 302
    assert login(app.test_client(), "cra").status_code == 302


def test_user_ids_are_never_reused(app, world):
    """Even if the newest account row were removed behind the application's back, its id is
    not handed out again (SQLite AUTOINCREMENT; PostgreSQL sequences)."""
    from edc.admin import services
    from edc.cli import cli_actor
    from edc.security import Role

    with app.app_context():
        with db.engine.begin() as conn:
            conn.execute(db.text(
                "INSERT INTO user_account (username, full_name, email, password_hash, active, "
                "failed_login_count, locked, password_changed_at, must_change_password, "
                "created_at) VALUES ('ghost', 'g', '', 'x', true, 0, false, "
                "CURRENT_TIMESTAMP, false, CURRENT_TIMESTAMP)"))
            ghost = conn.execute(db.text(
                "SELECT id FROM user_account WHERE username = 'ghost'")).scalar()
            conn.execute(db.text("DELETE FROM user_account WHERE id = :i"), {"i": ghost})
        user, _ = services.create_user(username="real", full_name="Real", email="",
                                       role=Role.DM, site_codes=[], password=None,
                                       actor=cli_actor())
        db.session.commit()
        assert user.id > ghost


def test_sites_create_and_edit(app, world):
    c = admin_client(app)
    token = csrf_token(c, "/admin/sites/new")
    r = c.post("/admin/sites/new", data={"csrf_token": token, "code": "tj",
                                         "name": "Dup", "timezone": "Asia/Shanghai"})
    assert r.status_code == 422 and "Site code TJ exists" in r.get_data(as_text=True)
    r = c.post("/admin/sites/new", data={"csrf_token": token, "code": "GZ1",
                                         "name": "Guangzhou", "timezone": "Asia/Shanghai"})
    assert r.status_code == 302
    with app.app_context():
        site = db.session.scalar(select(Site).where(Site.code == "GZ1"))
        site_id = site.id
    r = c.post(f"/admin/sites/{site_id}", data={
        "csrf_token": token, "name": "Guangzhou hospital", "timezone": "Asia/Shanghai",
        "active": "y", "reason": "Correction of an entry error", "reason_text": ""})
    assert r.status_code == 302
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "site.update"))
        assert (entry.old_value, entry.new_value) == ("Guangzhou", "Guangzhou hospital")
    r = c.post(f"/admin/sites/{site_id}", data={
        "csrf_token": token, "name": "x", "timezone": "Mars/Olympus", "active": "y",
        "reason": "Other", "reason_text": "x"})
    assert r.status_code == 422 and "Not a valid choice" in r.get_data(as_text=True)
    r = c.post("/admin/sites/new", data={"csrf_token": token, "code": "GZ2",
                                         "name": "Guangzhou\x07", "timezone": "Asia/Shanghai"})
    assert r.status_code == 422 and "control or invalid" in r.get_data(as_text=True)


def test_a_refused_account_change_leaves_nothing_changed_in_the_session(app, world):
    from edc.admin import services
    from edc.cli import cli_actor
    from edc.security import Role

    with app.app_context():
        user = db.session.get(User, world.users["cra"])
        for operation in (services.deactivate, services.reset_password):
            with pytest.raises(services.AdminError) as err:
                operation(user, actor=cli_actor(), reason="  ")
            assert err.value.field == "reason"
            assert not db.session.dirty and not db.session.new
        with pytest.raises(services.AdminError) as err:
            services.set_grants(user, Role.PI, ["TJ"], actor=cli_actor(), reason="")
        assert err.value.field == "reason"
        assert user.role == Role.CRA and not db.session.dirty


def test_an_account_change_reason_is_refused_not_cut_short(app, world):
    from edc.admin import services
    from edc.cli import cli_actor
    from edc.models import User

    with app.app_context():
        user = db.session.get(User, world.users["cra"])
        with pytest.raises(services.AdminError) as err:
            services.deactivate(user, actor=cli_actor(), reason="x" * 2001)
        assert err.value.field == "reason" and "at most 2000" in str(err.value)
        assert user.active
