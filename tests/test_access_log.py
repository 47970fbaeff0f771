"""Views of identifying data and refused requests go to an append-only access log that data
managers and administrators filter."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import DatabaseError

from edc.extensions import db
from edc.models import AccessLog
from tests.conftest import enter_eligible


def _rows(app, **where):
    with app.app_context():
        stmt = select(AccessLog).order_by(AccessLog.id)
        for key, value in where.items():
            stmt = stmt.where(getattr(AccessLog, key) == value)
        return db.session.scalars(stmt).all()


def test_a_view_of_identifying_data_is_logged_with_the_items(app, world, login_as, token):
    with app.app_context():
        enter_eligible(world.subject_tj)
        db.session.commit()
    crc = login_as("crc")
    assert crc.get(f"/subjects/{world.subject_tj}/forms/SCREEN/DM").status_code == 200
    [row] = _rows(app, kind="identifying_data", username="crc")
    assert row.items == "DM.BRTHDAT, DM.INITIALS" and row.source == "web"
    assert row.path.endswith("/forms/SCREEN/DM") and row.request_id and row.role == "crc"
    # the API too; a form without identifying items logs nothing
    app.test_client().get(f"/api/v1/subjects/{world.subject_tj}/forms/SCREEN/DM",
                          headers=token("cra"))
    crc.get(f"/subjects/{world.subject_tj}/forms/SCREEN/LB")
    rows = _rows(app, kind="identifying_data")
    assert [(r.username, r.source) for r in rows] == [("crc", "web"), ("cra", "api")]
    # a role without access sees the withheld marker: nothing identifying shown, no entry
    app.test_client().get(f"/api/v1/subjects/{world.subject_tj}/forms/SCREEN/DM",
                          headers=token("dm"))
    assert len(_rows(app, kind="identifying_data")) == 2


def test_refused_requests_are_logged_and_filtered(app, world, login_as):
    crc = login_as("crc")
    assert crc.get("/admin/users").status_code == 403
    assert crc.get("/audit/access-log").status_code == 403
    refused = _rows(app, kind="refused")
    assert [(r.username, r.status, r.path) for r in refused] == [
        ("crc", 403, "/admin/users"), ("crc", 403, "/audit/access-log")]
    dm = app.test_client()
    from tests.conftest import login

    login(dm, "dm")
    page = dm.get("/audit/access-log?kind=refused&user=crc").get_data(as_text=True)
    assert "/admin/users" in page and "refused" in page
    assert dm.get("/audit/access-log?since=2026-13-01").status_code == 422
    assert "/admin/users" not in dm.get("/audit/access-log?user=pi").get_data(as_text=True)


def test_the_access_log_is_append_only(app, world, login_as):
    login_as("crc").get("/admin/users")
    for sql in ("UPDATE access_log SET username = 'nobody'", "DELETE FROM access_log"):
        with pytest.raises(DatabaseError, match="append-only"), app.app_context(), \
                db.engine.begin() as conn:
            conn.execute(text(sql))
