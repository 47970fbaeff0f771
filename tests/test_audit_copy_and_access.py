"""The verifiable electronic copy, API tokens that expire, the API's audit read audited as an
export, signature invalidation by a settings change, and the command line's actor."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import timedelta

from sqlalchemy import select

from audit.models import AuditEntry
from audit.verify_copy import check
from edc.clock import utcnow
from edc.extensions import db
from edc.models import ApiToken, Signature
from tests.conftest import PASSWORD, enter_eligible, pi_code


def _copy(app, tmp_path, *args):
    out = tmp_path / "trail.jsonl"
    result = app.test_cli_runner().invoke(args=["audit", "copy", "-o", str(out), *args])
    assert result.exit_code == 0, result.output
    return out


def _standalone(path, *args):
    """The verifier as an inspector runs it: its own interpreter, no app, no database."""
    return subprocess.run(  # noqa: S603 - our own module, a test path
        [sys.executable, "-m", "audit.verify_copy", str(path), *args],
                          capture_output=True, text=True, check=False, timeout=60)


def test_the_copy_verifies_without_the_database(app, world, tmp_path):
    out = _copy(app, tmp_path, "--include-identifying")
    header = json.loads(out.read_text().splitlines()[0])
    done = _standalone(out)
    assert done.returncode == 0, done.stdout
    assert f"ending at the head {header['head_hash']}" in done.stdout
    assert _standalone(out, "--head", "0" * 64).returncode == 1


def test_one_changed_byte_is_named(app, world, tmp_path):
    out = _copy(app, tmp_path, "--include-identifying")
    lines = out.read_text(encoding="utf-8").splitlines()
    target = next(i for i, line in enumerate(lines[1:], 1) if '"action":"subject.create"'
                  in line.replace(" ", ""))
    seq = json.loads(lines[target])["fields"]["seq"]
    lines[target] = lines[target].replace("TJ-S", "TJ-T", 1)
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    done = _standalone(out)
    assert done.returncode == 1
    assert f"entry {seq}: its content does not match its hash" in done.stdout


def test_a_dropped_entry_and_a_copy_without_identifying_data(app, world, tmp_path):
    out = _copy(app, tmp_path)
    lines = out.read_text(encoding="utf-8").splitlines()
    ok, message = check(iter(lines))
    assert ok, message
    del lines[3]
    ok, message = check(iter(lines))
    assert not ok and "should continue at 3" in message
    with app.app_context():
        action = db.session.scalar(select(AuditEntry.action).order_by(
            AuditEntry.seq.desc()).limit(1).offset(0))
    assert action == "audit.export_copy"


def test_an_expired_token_is_refused_and_the_list_shows_last_use(app, world, token):
    header = token("crc")
    api = app.test_client()
    assert api.get("/api/v1/subjects", headers=header).status_code == 200
    result = app.test_cli_runner().invoke(args=["token", "list", "--username", "crc"])
    assert result.exit_code == 0
    line = result.output.strip().splitlines()[-1]
    assert "last used 20" in line and line.endswith("valid")
    with app.app_context():
        row = db.session.scalar(select(ApiToken).order_by(ApiToken.id.desc()))
        assert (row.expires_at - row.created_at) == timedelta(days=90)
    with app.app_context(), db.engine.begin() as conn:  # the passing of 90 days
        conn.execute(ApiToken.__table__.update().values(expires_at=utcnow()
                                                        - timedelta(seconds=1)))
    assert api.get("/api/v1/subjects", headers=header).status_code == 401
    result = app.test_cli_runner().invoke(args=["token", "list"])
    assert "expired" in result.output


def test_token_validity_can_be_chosen(app, world):
    result = app.test_cli_runner().invoke(args=["token", "create", "--username", "crc",
                                                "--days", "7"])
    assert result.exit_code == 0
    with app.app_context():
        row = db.session.scalar(select(ApiToken).order_by(ApiToken.id.desc()))
        assert row.expires_at - row.created_at == timedelta(days=7)
    bad = app.test_cli_runner().invoke(args=["token", "create", "--username", "crc",
                                             "--days", "0"])
    assert bad.exit_code != 0


def test_reading_the_trail_through_the_api_is_audited_as_an_export(app, world, token):
    r = app.test_client().get("/api/v1/audit?limit=5", headers=token("dm"))
    assert r.status_code == 200 and r.json["count"] == 5
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(
            AuditEntry.action == "audit.export_api"))
        details = json.loads(entry.details)
    assert entry.username == "dm" and details["entries"] == 5 and details["limit"] == 5


def test_a_settings_change_invalidates_signatures_with_its_cause(app, world, token):
    from edc.eligibility.settings import change_settings, current_settings
    from edc.models import User

    with app.app_context():
        enter_eligible(world.subject_tj)
        db.session.commit()
    r = app.test_client().post(f"/api/v1/subjects/{world.subject_tj}/eligibility/sign",
                               headers=token("pi"), json={"username": "pi",
                                                          "password": PASSWORD, "code": pi_code()})
    assert r.status_code == 201
    with app.app_context():
        from audit import Actor

        dm = db.session.get(User, world.users["dm"])
        values = current_settings().as_dict()
        change_settings({**values, "hcg_window_days": 5}, reason="protocol amendment 2",
                        actor=Actor.for_user(dm, source="web"), user_id=dm.id)
        signature = db.session.scalar(select(Signature))
        assert signature.invalidated_at is not None
        entry = db.session.scalar(select(AuditEntry).where(
            AuditEntry.action == "signature.invalidate"))
        assert "eligibility settings changed to version 2" in entry.reason
        assert "protocol amendment 2" in entry.reason


def test_the_command_line_records_its_user_host_and_operator(app, world, tmp_path):
    import getpass
    import socket

    result = app.test_cli_runner().invoke(args=["--operator", "Dr. Zhou", "audit", "copy",
                                                "-o", str(tmp_path / "c.jsonl")])
    assert result.exit_code == 0, result.output
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(
            AuditEntry.action == "audit.export_copy"))
    who = f"{getpass.getuser()}@{socket.gethostname()}"
    assert entry.username == f"cli:Dr. Zhou ({who})"[:64]
    from audit import set_operator

    set_operator(None)
