"""Faults of the storage: a full disk, a read-only database. A clear 503 page or JSON error,
a 503 from /healthz for the load balancer, and nothing half-written."""

from __future__ import annotations

import pytest
from sqlalchemy import event, func, make_url, select, text

from audit.models import AuditEntry
from edc import create_app
from edc.extensions import db
from edc.models import ItemData
from tests.conftest import base_config, csrf_token, login


def _counts(app) -> tuple[int, int]:
    with app.app_context():
        return (db.session.scalar(select(func.count()).select_from(AuditEntry)),
                db.session.scalar(select(func.count()).select_from(ItemData)
                                  .execution_options(all_sites=True)))


def _save_until_refused(app, client, subject_id: int):
    """Save new values until the storage refuses one; that refused save changes nothing."""
    page = f"/subjects/{subject_id}/forms/SCREEN/LB"
    for n in range(200):
        token = csrf_token(client, page)
        before = _counts(app)
        version = client.get(page).get_data(as_text=True)
        version = version.split('name="version" value="', 1)[1].split('"', 1)[0]
        response = client.post(page, data={
            "csrf_token": token, "version": version, "LBDAT": "2026-11-20",
            "HGB": str(100 + n % 50), "WBC": f"{5 + n % 40 / 10:.1f}",
            "reason": "Other", "reason_text": "r" * 400})
        if response.status_code != 302:
            return response, before
    raise AssertionError("the capped database never filled up")


def test_a_full_disk_answers_503_and_writes_nothing(app, world, backend):
    if backend.name != "sqlite":
        pytest.skip("a full disk is simulated with SQLite's max_page_count")
    client = app.test_client()
    login(client, "crc")
    headers = _token(app, world)
    with app.app_context():
        engine = db.engine
        pages = db.session.execute(text("PRAGMA page_count")).scalar()

        def cap(dbapi_connection, _record):  # no page beyond those the file has now
            dbapi_connection.execute(f"PRAGMA max_page_count = {pages}")

        event.listen(engine, "connect", cap)
        engine.dispose()
    try:
        response, before = _save_until_refused(app, client, world.subject_tj)
        assert response.status_code == 503, response.get_data(as_text=True)[:500]
        assert _counts(app) == before  # the refused save wrote nothing
        body = response.get_data(as_text=True)
        assert "the disk is full" in body and "Nothing was saved" in body
        assert response.headers["Retry-After"] == "60"
        form = f"/api/v1/subjects/{world.subject_tj}/forms/SCREEN/LB"
        version = app.test_client().get(form, headers=headers).get_json()["version"]
        api = app.test_client().put(form, json={"items": {"HGB": "77"}, "version": version,
                                                "reason": "r" * 400}, headers=headers)
        assert api.status_code == 503 and "disk is full" in api.get_json()["error"]
    finally:
        with app.app_context():
            event.remove(engine, "connect", cap)
            engine.dispose()
    app.config["EDC_MIN_FREE_DISK_MB"] = 10**12  # and /healthz warns before it is full
    health = app.test_client().get("/healthz")
    assert health.status_code == 503 and "disk space" in health.get_json()["problems"][0]


def _token(app, world) -> dict:
    from edc.auth.tokens import issue
    from edc.cli import cli_actor
    from edc.models import User

    with app.app_context():
        _, bearer = issue(db.session.get(User, world.users["crc"]), label="t",
                          actor=cli_actor())
        db.session.commit()
    return {"Authorization": f"Bearer {bearer}"}


def test_a_read_only_database_answers_503_and_healthz_says_so(app, world, backend):
    assert app.test_client().get("/healthz").get_json() == {"status": "ok"}
    url = app.config["SQLALCHEMY_DATABASE_URI"]
    if backend.name == "sqlite":
        path = make_url(url).database
        read_only_url = f"sqlite:///file:{path}?mode=ro&uri=true"
    else:
        name = make_url(url).database
        with app.app_context(), db.engine.connect().execution_options(
                isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text(f'ALTER DATABASE "{name}" SET default_transaction_read_only '
                              "= on"))
        read_only_url = url
    config = base_config(read_only_url)
    config["EDC_AUDIT_KEY_FILE"] = app.config["EDC_AUDIT_KEY_FILE"]
    config["EDC_AUDIT_CHECKPOINT_LOG"] = app.config["EDC_AUDIT_CHECKPOINT_LOG"]
    stuck = create_app(config)
    before = _counts(app)
    try:
        health = stuck.test_client().get("/healthz")
        assert health.status_code == 503
        assert health.get_json() == {"status": "unavailable",
                                     "problems": ["the database is read-only"]}
        client = stuck.test_client()
        token = csrf_token(client, "/login")
        response = client.post("/login", data={"csrf_token": token, "username": "crc",
                                               "password": "whatever-it-is-1"})
        assert response.status_code == 503
        assert "the database is read-only" in response.get_data(as_text=True)
    finally:
        with stuck.app_context():
            db.session.remove()
            db.engine.dispose()
        if backend.name != "sqlite":
            with app.app_context(), db.engine.connect().execution_options(
                    isolation_level="AUTOCOMMIT") as conn:
                conn.execute(text(f'ALTER DATABASE "{name}" RESET '
                                  "default_transaction_read_only"))
    assert _counts(app) == before
