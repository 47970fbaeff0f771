"""The second factor (TOTP): set up by its owner, asked at sign-in, required for an
investigator's signature and for administrators, reset only by two administrators; and API
tokens revoked by a password reset or change."""

from __future__ import annotations

import json
import re
from datetime import timedelta

import pyotp
import pytest
from sqlalchemy import select

from edc.extensions import db
from edc.models import AuditEntry, User
from tests.conftest import (
    ADMIN_TOTP_SECRET,
    PASSWORD,
    PI_TOTP_SECRET,
    csrf_token,
    enter_eligible,
    login,
    pi_code,
    totp_code,
)


def _user(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def _actions(app, action: str) -> list[AuditEntry]:
    with app.app_context():
        return db.session.scalars(select(AuditEntry).where(AuditEntry.action == action)
                                  .order_by(AuditEntry.seq)).all()


def _sign_api(app, token, subject_id, **body):
    return app.test_client().post(f"/api/v1/subjects/{subject_id}/eligibility/sign",
                                  headers=token("pi"),
                                  json={"username": "pi", "password": PASSWORD, **body})


def _new_user(app, username: str, role: str, *, secret: str | None = None) -> int:
    from edc.admin import services
    from edc.auth import twofactor
    from edc.cli import cli_actor
    from edc.security import Role

    with app.app_context():
        user, _ = services.create_user(username=username, full_name=username.title(),
                                       email="", role=Role(role),
                                       site_codes=[] if Role(role).all_sites else ["TJ"],
                                       password=PASSWORD, actor=cli_actor())
        if secret:
            twofactor.install(user, secret, actor=cli_actor())
        db.session.commit()
        return user.id


def test_a_user_sets_up_a_second_factor_and_the_secret_stays_out_of_the_trail(app, client,
                                                                                world):
    login(client, "cra")
    page = client.get("/account/two-factor").get_data(as_text=True)
    assert 'src="data:image/svg+xml' in page  # the QR code, made on the server
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page).group(1)
    token = csrf_token(client, "/account/two-factor")
    wrong = client.post("/account/two-factor", data={"csrf_token": token, "code": "000000"})
    assert wrong.status_code == 422 and "does not match" in wrong.get_data(as_text=True)
    with app.app_context():
        assert _user("cra").totp_secret is None
    ok = client.post("/account/two-factor", data={"csrf_token": token,
                                                  "code": totp_code(secret)})
    assert ok.status_code == 302
    with app.app_context():
        assert _user("cra").totp_secret == secret
        entries = db.session.scalars(select(AuditEntry)).all()
        assert not [e.seq for e in entries if secret in repr(e.__dict__)]
    assert len(_actions(app, "user.second_factor_enrolled")) == 3  # pi, admin, cra
    # once set up the page shows no secret any more, and asks for it at the next sign-in
    again = client.get("/account/two-factor").get_data(as_text=True)
    assert secret not in again and "was set up" in again
    fresh = app.test_client()
    r = login(fresh, "cra", secret=secret)
    assert r.status_code == 302 and fresh.get("/").status_code == 200


def test_sign_in_asks_the_code_counts_wrong_codes_and_refuses_a_used_one(app, world):
    client = app.test_client()
    token = csrf_token(client, "/login")
    r = client.post("/login", data={"csrf_token": token, "username": "pi",
                                    "password": PASSWORD})
    assert r.status_code == 302 and r.headers["Location"].endswith("/login/code")
    assert client.get("/subjects/").status_code == 302  # not signed in yet
    token = csrf_token(client, "/login/code")
    wrong = client.post("/login/code", data={"csrf_token": token, "code": "123456"})
    assert wrong.status_code == 401 and "not correct" in wrong.get_data(as_text=True)
    failed = _actions(app, "auth.login_failed")
    assert json.loads(failed[-1].details)["why"] == "wrong second-factor code"
    with app.app_context():
        assert _user("pi").failed_login_count == 1
    code = pi_code()
    ok = client.post("/login/code", data={"csrf_token": token, "code": code})
    assert ok.status_code == 302 and client.get("/subjects/").status_code == 200
    with app.app_context():
        assert _user("pi").failed_login_count == 0
    # the same code a second time (RFC 6238 §5.2): refused
    other = app.test_client()
    token = csrf_token(other, "/login")
    other.post("/login", data={"csrf_token": token, "username": "pi", "password": PASSWORD})
    token = csrf_token(other, "/login/code")
    reused = other.post("/login/code", data={"csrf_token": token, "code": code})
    assert reused.status_code == 401 and "used already" in reused.get_data(as_text=True)


def test_five_wrong_codes_lock_the_account(app, world):
    client = app.test_client()
    token = csrf_token(client, "/login")
    client.post("/login", data={"csrf_token": token, "username": "pi", "password": PASSWORD})
    token = csrf_token(client, "/login/code")
    for _ in range(5):
        r = client.post("/login/code", data={"csrf_token": token, "code": "000001"})
    assert "locked" in r.get_data(as_text=True)
    with app.app_context():
        assert _user("pi").locked
    # the pending sign-in is gone: the right code no longer helps
    r = client.post("/login/code", data={"csrf_token": token, "code": pi_code()})
    assert r.status_code == 302 and r.headers["Location"].endswith("/login")


def test_the_code_is_asked_within_five_minutes_of_the_password(app, world):
    client = app.test_client()
    token = csrf_token(client, "/login")
    client.post("/login", data={"csrf_token": token, "username": "pi", "password": PASSWORD})
    with client.session_transaction() as session:
        session["pending_login"] = {**session["pending_login"],
                                    "at": session["pending_login"]["at"] - 301}
    r = client.get("/login/code")
    assert r.status_code == 302 and r.headers["Location"].endswith("/login")


def test_an_admin_cannot_sign_as_the_investigator_after_resetting_the_password(
        app, world, token):
    """The reproduced attack: reset the investigator's password, read the temporary one,
    sign in as them, sign. The second factor stops it, and the reset revokes their tokens."""
    with app.app_context():
        enter_eligible(world.subject_tj)
    pi_token = token("pi")
    admin = app.test_client()
    login(admin, "admin")
    page = f"/admin/users/{world.users['pi']}"
    t = csrf_token(admin, page)
    r = admin.post(f"{page}/reset-password", data={"a-csrf_token": t, "a-reason": "Other",
                                                   "a-reason_text": "forgot it"})
    temporary = re.search(r"<code[^>]*>([^<]+)</code>", r.get_data(as_text=True)).group(1)
    with app.app_context():
        assert _user("pi").totp_secret == PI_TOTP_SECRET  # the reset leaves the factor alone
    # the API token the investigator had is revoked by the reset
    r = app.test_client().get(f"/api/v1/subjects/{world.subject_tj}", headers=pi_token)
    assert r.status_code == 401
    revoked = _actions(app, "token.revoke")
    assert revoked[-1].reason == "password reset by an administrator"
    # signing in with the temporary password stops at the code
    intruder = app.test_client()
    t = csrf_token(intruder, "/login")
    r = intruder.post("/login", data={"csrf_token": t, "username": "pi",
                                      "password": temporary})
    assert r.headers["Location"].endswith("/login/code")
    assert intruder.get(f"/subjects/{world.subject_tj}/eligibility").status_code == 302
    t = csrf_token(intruder, "/login/code")
    assert intruder.post("/login/code", data={"csrf_token": t, "code": "654321"}
                         ).status_code == 401
    # trying to sign from the half-open sign-in goes back to sign-in; nothing is signed
    r = intruder.post(f"/subjects/{world.subject_tj}/eligibility/sign",
                      data={"csrf_token": t, "username": "pi", "password": temporary,
                            "code": "654321"})
    assert r.status_code == 302 and "/login" in r.headers["Location"]
    assert _actions(app, "signature.sign") == []


def test_an_investigator_signs_with_user_id_password_and_code(app, world, token):
    with app.app_context():
        enter_eligible(world.subject_tj)
    missing = _sign_api(app, token, world.subject_tj)
    assert missing.status_code == 401 and "code" in missing.get_json()["errors"]
    wrong = _sign_api(app, token, world.subject_tj, code="000000")
    assert wrong.status_code == 401 and "not correct" in wrong.get_json()["error"]
    failed = _actions(app, "signature.failed")[-1]
    assert json.loads(failed.details)["why"] == "wrong second-factor code"
    malformed = _sign_api(app, token, world.subject_tj, code="12ab56")
    assert malformed.status_code == 422 and "code" in malformed.get_json()["errors"]
    ok = _sign_api(app, token, world.subject_tj, code=pi_code())
    assert ok.status_code == 201
    # in the page, the code field sits with user ID and password
    pi = app.test_client()
    login(pi, "pi")
    with app.app_context():
        from edc.cli import cli_actor
        from edc.crf.services import read_form, save_form
        from edc.models import Subject

        subject = db.session.get(Subject, world.subject_tj)
        save_form(subject, "SCREEN", "LB", {"HGB": "121"},
                  version=read_form(subject, "SCREEN", "LB").version, actor=cli_actor(),
                  reason="transcription error")
        db.session.commit()  # invalidates the signature: the checklist asks again
    html = pi.get(f"/subjects/{world.subject_tj}/eligibility").get_data(as_text=True)
    assert 'name="code"' in html and 'autocomplete="one-time-code"' in html
    t = csrf_token(pi, f"/subjects/{world.subject_tj}/eligibility")
    r = pi.post(f"/subjects/{world.subject_tj}/eligibility/sign",
                data={"csrf_token": t, "username": "pi", "password": PASSWORD, "code": "1"})
    assert r.status_code == 401 and "The code is not correct" in r.get_data(as_text=True)


def test_an_investigator_without_a_factor_is_told_to_set_it_up(app, world, token):
    pi2 = _new_user(app, "pi2", "pi")
    with app.app_context():
        enter_eligible(world.subject_tj)
        from edc.auth.tokens import issue
        from edc.cli import cli_actor

        _, bearer = issue(db.session.get(User, pi2), label="t", actor=cli_actor())
        db.session.commit()
    r = app.test_client().post(f"/api/v1/subjects/{world.subject_tj}/eligibility/sign",
                               headers={"Authorization": f"Bearer {bearer}"},
                               json={"username": "pi2", "password": PASSWORD, "code": "123456"})
    assert r.status_code == 401 and "set it up" in r.get_json()["error"]
    client = app.test_client()
    login(client, "pi2")
    html = client.get(f"/subjects/{world.subject_tj}/eligibility").get_data(as_text=True)
    assert "Signing needs a second factor" in html


def test_an_administrator_sets_up_a_factor_before_anything_else(app, world):
    admin_id = _new_user(app, "admin3", "admin")
    client = app.test_client()
    assert login(client, "admin3").headers["Location"].endswith("/account/two-factor")
    r = client.get("/admin/users")
    assert r.status_code == 302 and r.headers["Location"].endswith("/account/two-factor")
    with app.app_context():  # nor through the API
        from edc.auth.tokens import issue
        from edc.cli import cli_actor

        _, bearer = issue(db.session.get(User, admin_id), label="t", actor=cli_actor())
        db.session.commit()
    assert app.test_client().get("/api/v1/audit", headers={
        "Authorization": f"Bearer {bearer}"}).status_code == 401
    page = client.get("/account/two-factor").get_data(as_text=True)
    secret = re.search(r'<code class="secret">([A-Z2-7]+)</code>', page).group(1)
    t = csrf_token(client, "/account/two-factor")
    client.post("/account/two-factor", data={"csrf_token": t, "code": totp_code(secret)})
    assert client.get("/admin/users").status_code == 200


SECOND_ADMIN_SECRET = "SECONDADMINISTRATORSECRET2345672"


def _two_admins(app, world):
    """Two signed-in administrators on the investigator's account page, and the reason form
    of each (request, approve)."""
    _new_user(app, "admin2", "admin", secret=SECOND_ADMIN_SECRET)
    page = f"/admin/users/{world.users['pi']}"
    clients, reasons = [], []
    for username, secret in (("admin", None), ("admin2", SECOND_ADMIN_SECRET)):
        client = app.test_client()
        login(client, username, secret=secret)
        clients.append(client)
        reasons.append({"a-csrf_token": csrf_token(client, page), "a-reason": "Other",
                        "a-reason_text": "phone lost"})
    return clients, reasons, page


def test_a_reset_of_the_factor_takes_two_administrators(app, world):
    (first, second), (reason, reason2), page = _two_admins(app, world)
    # nobody approves a request that was not made, nor their own request
    assert first.post(f"{page}/second-factor/approve-reset", data=reason).status_code == 422
    assert first.post(f"{page}/second-factor/request-reset", data=reason).status_code == 302
    own = first.post(f"{page}/second-factor/approve-reset", data=reason)
    assert own.status_code == 422 and "second administrator" in own.get_data(as_text=True)
    with app.app_context():
        assert _user("pi").totp_secret == PI_TOTP_SECRET
    # an administrator's own factor needs two others
    mine = first.post(f"/admin/users/{world.users['admin']}/second-factor/request-reset",
                      data=reason)
    assert mine.status_code == 422
    pi = app.test_client()
    login(pi, "pi")
    ok = second.post(f"{page}/second-factor/approve-reset", data=reason2)
    assert ok.status_code == 302
    with app.app_context():
        user = _user("pi")
        assert user.totp_secret is None and user.totp_reset_requested_by_id is None
    assert pi.get("/subjects/").status_code == 302  # their sessions ended
    done = _actions(app, "user.second_factor_reset")[-1]
    assert json.loads(done.details)["requested_by"] == world.users["admin"]
    assert "phone lost" in done.reason
    assert _actions(app, "user.second_factor_reset_requested")[-1].username == "admin"


def test_a_reset_request_expires(app, world):
    (first, second), (reason, reason2), page = _two_admins(app, world)
    assert first.post(f"{page}/second-factor/request-reset", data=reason).status_code == 302
    _age_request(app, world.users["pi"])
    r = second.post(f"{page}/second-factor/approve-reset", data=reason2)
    assert r.status_code == 422 and "No reset request holds" in r.get_data(as_text=True)


def _age_request(app, user_id: int) -> None:
    """Move the request back 25 hours (test set-up, below the services)."""
    with app.app_context(), db.engine.begin() as conn:
        at = conn.execute(db.text("SELECT totp_reset_requested_at FROM user_account "
                                  "WHERE id = :i"), {"i": user_id}).scalar()
        if isinstance(at, str):  # SQLite hands back the stored text
            from datetime import datetime

            at = datetime.fromisoformat(at)
        conn.execute(db.text("UPDATE user_account SET totp_reset_requested_at = :t "
                             "WHERE id = :i"), {"t": at - timedelta(hours=25), "i": user_id})


def test_a_password_change_revokes_the_users_api_tokens(app, world, token):
    header = token("crc")
    client = app.test_client()
    login(client, "crc")
    t = csrf_token(client, "/account/password")
    r = client.post("/account/password", data={"csrf_token": t, "current": PASSWORD,
                                               "new": "a-fresh-password-26",
                                               "confirm": "a-fresh-password-26"})
    assert r.status_code == 302
    assert app.test_client().get("/api/v1/subjects", headers=header).status_code == 401
    assert _actions(app, "token.revoke")[-1].reason == "password changed"


@pytest.mark.parametrize("code", ["", "12345", "1234567", "abcdef", "١٢٣٤٥٦"])
def test_codes_that_are_not_six_ascii_digits_never_match(code):
    from edc.auth import twofactor

    assert twofactor.matching_step(PI_TOTP_SECRET, code) is None


def test_a_code_of_the_previous_or_next_step_is_accepted_for_clock_drift():
    from edc.auth import twofactor

    now = 1_800_000_000.0
    totp = pyotp.TOTP(ADMIN_TOTP_SECRET)
    step = int(now // 30)
    for delta in (-1, 0, 1):
        assert twofactor.matching_step(ADMIN_TOTP_SECRET, totp.at(now + 30 * delta), now) \
            == step + delta
    assert twofactor.matching_step(ADMIN_TOTP_SECRET, totp.at(now + 90), now) is None
