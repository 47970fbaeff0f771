"""Sign-in, lockout, sessions and CSRF (spec/part11.md, Access)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from edc.extensions import db
from edc.models import AuditEntry, AuthSession, User
from tests.conftest import PASSWORD, age_sessions, csrf_token, login


def _user(app, username) -> User:
    with app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        db.session.expunge(user)
        return user


def _actions(app, **filters) -> list[str]:
    with app.app_context():
        stmt = select(AuditEntry.action).order_by(AuditEntry.seq)
        for key, value in filters.items():
            stmt = stmt.where(getattr(AuditEntry, key) == value)
        return list(db.session.scalars(stmt))


def test_password_is_stored_as_argon2id(app, world):
    assert _user(app, "crc").password_hash.startswith("$argon2id$")


def test_sign_in_and_out_are_audited(app, client, world):
    assert login(client, "crc").status_code == 302
    assert client.get("/subjects/").status_code == 200
    token = csrf_token(client, "/subjects/")
    assert client.post("/logout", data={"csrf_token": token}).status_code == 302
    assert client.get("/subjects/").status_code == 302  # back to the login page
    actions = _actions(app, username="crc")
    assert actions[-2:] == ["auth.login", "auth.logout"]


def test_wrong_password_is_refused_with_a_generic_message(client, world):
    response = login(client, "crc", "wrong-password-123")
    assert response.status_code == 401
    assert "Invalid username or password." in response.get_data(as_text=True)
    unknown = login(client, "nobody", "wrong-password-123")
    assert unknown.status_code == 401
    assert "Invalid username or password." in unknown.get_data(as_text=True)


def test_five_failures_lock_the_account_until_an_admin_unlocks(app, client, world):
    for _ in range(4):
        assert login(client, "crc", "wrong-password-123").status_code == 401
    assert not _user(app, "crc").locked
    response = login(client, "crc", "wrong-password-123")
    assert "locked" in response.get_data(as_text=True)
    assert _user(app, "crc").locked
    # the right password no longer helps
    assert login(client, "crc").status_code == 401
    actions = _actions(app, target_type="user", target_id=str(world.users["crc"]))
    assert actions.count("auth.login_failed") == 6
    assert "user.locked" in actions

    admin = app.test_client()
    assert login(admin, "admin").status_code == 302
    page = f"/admin/users/{world.users['crc']}"
    token = csrf_token(admin, page)
    r = admin.post(f"{page}/unlock", data={"a-csrf_token": token, "a-reason": "Other",
                                           "a-reason_text": "identity confirmed"})
    assert r.status_code == 302
    assert not _user(app, "crc").locked
    assert login(client, "crc").status_code == 302
    assert "user.unlock" in _actions(app, target_id=str(world.users["crc"]))


def test_success_resets_the_failure_count(app, client, world):
    for _ in range(4):
        login(client, "crc", "wrong-password-123")
    assert login(client, "crc").status_code == 302
    assert _user(app, "crc").failed_login_count == 0


def test_deactivated_user_cannot_sign_in(app, client, world):
    with app.app_context():
        from edc.admin.services import deactivate
        from edc.cli import cli_actor

        user = db.session.get(User, world.users["cra"])
        deactivate(user, actor=cli_actor(), reason="Left the study")
        db.session.commit()
    response = login(client, "cra")
    assert response.status_code == 401
    assert "Invalid username or password." in response.get_data(as_text=True)


def test_idle_timeout_ends_the_session(app, client, world):
    assert login(client, "crc").status_code == 302
    age_sessions(app, idle=timedelta(minutes=14))
    assert client.get("/subjects/").status_code == 200  # activity renews the session
    age_sessions(app, idle=timedelta(minutes=14))
    assert client.get("/subjects/").status_code == 200
    age_sessions(app, idle=timedelta(minutes=15, seconds=5))
    response = client.get("/subjects/")
    assert response.status_code == 302 and "/login" in response.headers["Location"]
    with app.app_context():
        row = db.session.scalar(select(AuthSession))
        assert row.end_reason == "idle timeout"
    assert "auth.session_ended" in _actions(app, username="crc")


def test_absolute_lifetime_ends_an_active_session(app, client, world):
    assert login(client, "crc").status_code == 302
    step = timedelta(minutes=15) - timedelta(seconds=1)
    for _ in range(48):  # busy for 11h59, never idle for 15 minutes
        age_sessions(app, idle=step, lifetime=step)
        assert client.get("/").status_code == 200
    age_sessions(app, idle=timedelta(minutes=14), lifetime=timedelta(minutes=14))
    assert client.get("/subjects/").status_code == 302  # past 12 hours
    with app.app_context():
        assert db.session.scalar(select(AuthSession.end_reason)) == "absolute lifetime"


def test_post_without_csrf_token_is_refused_and_changes_nothing(app, client, world):
    login(client, "crc")
    before = _actions(app)
    response = client.post("/subjects/new", data={"site": "TJ"})
    assert response.status_code == 400
    assert "CSRF" in response.get_data(as_text=True)
    response = client.post("/subjects/new", data={"site": "TJ", "csrf_token": "forged"})
    assert response.status_code == 400
    assert _actions(app) == before


def test_csrf_token_holds_for_the_whole_session(app, client, world):
    import time

    from itsdangerous import URLSafeTimedSerializer
    from itsdangerous.timed import TimestampSigner

    class SignedEarlier(TimestampSigner):
        def get_timestamp(self) -> int:
            return int(time.time()) - 5400

    login(client, "crc")
    csrf_token(client, "/subjects/")
    with client.session_transaction() as sess:
        raw = sess["csrf_token"]
    # the token a page gave 1h30 ago (only the token's own timestamp is earlier)
    token = URLSafeTimedSerializer(app.secret_key, salt="wtf-csrf-token",
                                   signer=SignedEarlier).dumps(raw)
    for _ in range(6):  # 1h30 of steady work with one page's token
        age_sessions(app, idle=timedelta(minutes=14), lifetime=timedelta(minutes=14))
        client.get("/")
    response = client.post("/subjects/new", data={"site": "TJ", "csrf_token": token})
    assert response.status_code == 302


def test_login_form_itself_needs_csrf(client, world):
    response = client.post("/login", data={"username": "crc", "password": PASSWORD})
    assert response.status_code == 400


def test_security_headers(client, world):
    response = client.get("/login")
    h = response.headers
    assert "default-src 'self'" in h["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in h["Content-Security-Policy"]
    assert h["X-Frame-Options"] == "DENY"
    assert h["X-Content-Type-Options"] == "nosniff"
    assert h["Referrer-Policy"] == "same-origin"
    assert h["Cache-Control"] == "no-store"
    cookie = response.headers.get("Set-Cookie", "")
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_login_is_rate_limited(app, world):
    app.config["EDC_LOGIN_RATE_LIMIT"] = "3 per minute"
    client = app.test_client()
    codes = [login(client, "crc", "wrong-password-123").status_code for _ in range(4)]
    assert codes == [401, 401, 401, 429]


def test_next_parameter_cannot_leave_the_site(client, world):
    token = csrf_token(client, "/login")
    r = client.post("/login?next=//evil.example/x",
                    data={"username": "crc", "password": PASSWORD, "csrf_token": token})
    assert r.headers["Location"] == "/"
    client2 = client.application.test_client()
    token = csrf_token(client2, "/login")
    r = client2.post("/login?next=/subjects/",
                     data={"username": "crc", "password": PASSWORD, "csrf_token": token})
    assert r.headers["Location"] == "/subjects/"


def test_a_new_login_gets_a_fresh_session(client, world):
    """No session fixation: the pre-login CSRF secret does not survive sign-in."""
    csrf_token(client, "/login")
    with client.session_transaction() as s:
        before = s.get("csrf_token")
    login(client, "crc")
    with client.session_transaction() as s:
        assert s.get("csrf_token") != before
        assert "sid" in s
