"""Password policy, history, expiry, and revocation of sessions (spec/part11.md, Access)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from edc.extensions import db
from edc.models import AuditEntry, User
from tests.conftest import PASSWORD, age_password, csrf_token, login


def change(client, current, new, confirm=None):
    token = csrf_token(client, "/account/password")
    return client.post("/account/password", data={
        "csrf_token": token, "current": current, "new": new, "confirm": confirm or new})


@pytest.mark.parametrize("new, message", [
    ("short-pw-11", "at least 12 characters"),
    ("has-crc_bj-inside", "must not contain the username"),
    (" leading-space-pw", "must not start or end with a space"),
    (PASSWORD, "last 5 passwords"),
])
def test_policy_refuses_with_a_message_at_the_field(app, client, world, new, message):
    login(client, "crc_bj")
    r = change(client, PASSWORD, new)
    assert r.status_code == 422
    assert message in r.get_data(as_text=True)
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == "crc_bj"))
        assert len(user.password_history) == 1  # nothing stored


def test_wrong_current_password_is_refused(client, world):
    login(client, "crc")
    r = change(client, "not-my-password", "another-good-password")
    assert r.status_code == 422
    assert "current password is not correct" in r.get_data(as_text=True)


def test_mismatched_confirmation_is_refused(client, world):
    login(client, "crc")
    r = change(client, PASSWORD, "another-good-password", "another-good-passwore")
    assert r.status_code == 422
    assert "The two new passwords differ." in r.get_data(as_text=True)


def test_none_of_the_last_five_may_be_reused(client, world):
    login(client, "crc")
    history = [PASSWORD] + [f"rotating-password-{i}" for i in range(1, 6)]
    for old, new in zip(history, history[1:], strict=False):
        assert change(client, old, new).status_code == 302
    # the current one and the four before it are refused; the sixth-newest is allowed again
    for recent in history[-5:]:
        r = change(client, history[-1], recent)
        assert r.status_code == 422, recent
    assert change(client, history[-1], history[0]).status_code == 302


def test_password_change_ends_other_sessions_but_keeps_this_one(app, world):
    laptop, tablet = app.test_client(), app.test_client()
    login(laptop, "pi")
    login(tablet, "pi")
    assert change(laptop, PASSWORD, "a-brand-new-password").status_code == 302
    assert laptop.get("/subjects/").status_code == 200
    assert tablet.get("/subjects/").status_code == 302
    assert login(tablet, "pi", PASSWORD).status_code == 401
    assert login(tablet, "pi", "a-brand-new-password").status_code == 302


def test_lock_deactivation_and_reset_end_open_sessions(app, world):
    from edc.admin import services
    from edc.cli import cli_actor

    clients = {name: app.test_client() for name in ("crc", "pi", "cra")}
    for name, c in clients.items():
        assert login(c, name).status_code == 302
    # lock crc by five failures from another device
    other = app.test_client()
    for _ in range(5):
        login(other, "crc", "wrong-password-123")
    with app.app_context():
        services.deactivate(db.session.get(User, world.users["pi"]), actor=cli_actor(),
                            reason="Left the study")
        services.reset_password(db.session.get(User, world.users["cra"]), actor=cli_actor(),
                                reason="Forgotten password")
        db.session.commit()
    for name, c in clients.items():
        assert c.get("/subjects/").status_code == 302, name


def test_expired_password_must_be_changed_before_anything_else(app, client, world):
    age_password(app, world.users["crc"], timedelta(days=181))
    r = login(client, "crc")
    assert r.headers["Location"].endswith("/account/password")
    assert client.get("/subjects/").headers["Location"].endswith("/account/password")
    assert change(client, PASSWORD, "a-fresh-password-181").status_code == 302
    assert client.get("/subjects/").status_code == 200


def test_temporary_password_from_a_reset_must_be_replaced(app, client, world):
    admin = app.test_client()
    login(admin, "admin")
    page = f"/admin/users/{world.users['crc']}"
    token = csrf_token(admin, page)
    r = admin.post(f"{page}/reset-password", data={
        "a-csrf_token": token, "a-reason": "Forgotten password", "a-reason_text": ""})
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    temp = html.split("<code>")[1].split("</code>")[0]
    assert login(client, "crc", PASSWORD).status_code == 401
    r = login(client, "crc", temp)
    assert r.headers["Location"].endswith("/account/password")
    assert change(client, temp, "my-own-password-again").status_code == 302
    with app.app_context():
        actions = list(db.session.scalars(select(AuditEntry.action).where(
            AuditEntry.target_id == str(world.users["crc"]))))
    assert "user.password_reset" in actions and "user.password_changed" in actions
    assert temp not in str(actions)


def test_guessing_the_current_password_counts_toward_the_lockout(app, client, world):
    from edc.models import User

    assert login(client, "crc").status_code == 302
    for n in range(4):
        r = change(client, f"wrong-guess-{n:03d}-x", "a-fresh-password-42")
        assert r.status_code == 422 and "not correct" in r.get_data(as_text=True)
    r = change(client, "wrong-guess-004-x", "a-fresh-password-42")
    assert "locked" in r.get_data(as_text=True)
    with app.app_context():
        user = db.session.get(User, world.users["crc"])
        assert user.locked and user.failed_login_count == 5
    assert client.get("/subjects/").status_code == 302  # the lock ended the session


@pytest.mark.parametrize("password, why", [
    ("1qaz2wsx3edc", "most commonly used"),
    ("Q1W2E3R4T5Y6", "most commonly used"),  # whatever the case
    ("aaaaaaaaaaaaaaaa", "repeat one character"),
    ("correct\u200bhorse-battery", "invisible"),
    ("correct\x07horse-battery", "control"),
])
def test_common_repeated_and_invisible_passwords_are_refused_with_the_reason(
        app, client, world, password, why):
    assert login(client, "crc").status_code == 302
    r = change(client, PASSWORD, password)
    assert r.status_code == 422 and why in r.get_data(as_text=True)
