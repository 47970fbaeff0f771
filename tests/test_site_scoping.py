"""Site scoping lives in the data layer: another site's subject is invisible (404)."""

from __future__ import annotations

from sqlalchemy import func, select

from edc.extensions import db
from edc.models import Subject
from edc.security import ALL_SITES, site_scope
from tests.conftest import login


def test_other_sites_subject_answers_404_not_403(client, world):
    login(client, "crc")
    assert client.get(f"/subjects/{world.subject_tj}").status_code == 200
    r = client.get(f"/subjects/{world.subject_bj}")
    assert r.status_code == 404
    assert client.get("/subjects/999999").status_code == 404  # same answer as "absent"


def test_list_shows_only_own_sites(client, world):
    login(client, "crc_bj")
    page = client.get("/subjects/").get_data(as_text=True)
    assert "BJ-S001" in page and "TJ-S001" not in page


def test_all_site_roles_see_every_site(app, world):
    for role in ("dm", "sponsor"):
        c = app.test_client()
        login(c, role)
        page = c.get("/subjects/").get_data(as_text=True)
        assert "BJ-S001" in page and "TJ-S001" in page, role


def test_a_query_that_forgets_the_check_still_cannot_load_another_site(app, world):
    """No route involved: the ORM session itself applies the scope."""
    with app.app_context(), site_scope({world.tj}):
        assert db.session.get(Subject, world.subject_bj) is None
        assert db.session.get(Subject, world.subject_tj) is not None
        assert db.session.scalar(select(func.count()).select_from(Subject)) == 1
        numbers = db.session.scalars(select(Subject.screening_number)).all()
        assert numbers == ["TJ-S001"]
    with app.app_context(), site_scope(ALL_SITES):
        assert db.session.scalar(select(func.count()).select_from(Subject)) == 2


def test_inside_a_request_the_default_scope_is_nothing(app, world):
    with app.test_request_context("/"):
        assert db.session.scalars(select(Subject)).all() == []


def test_cannot_register_a_subject_at_a_site_not_granted(app, client, world):
    from tests.conftest import csrf_token

    login(client, "crc")
    token = csrf_token(client, "/subjects/")
    r = client.post("/subjects/new", data={"site": "BJ", "csrf_token": token})
    assert r.status_code == 303
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Subject)) == 2


def test_the_service_refuses_a_site_outside_the_scope(app, world):
    """The rule lives in the service, not only in the routes that call it."""
    import pytest

    from edc.cli import cli_actor
    from edc.models import Site
    from edc.subjects.services import SubjectError, create_subject

    with app.app_context(), site_scope({world.tj}):
        bj = db.session.get(Site, world.bj)
        with pytest.raises(SubjectError, match="not one of your sites"):
            create_subject(bj, actor=cli_actor(), created_by_id=world.users["crc"])
        db.session.rollback()
        assert db.session.scalar(select(func.count()).select_from(Subject)) == 1


def test_screening_numbers_follow_on_per_site(app, client, world):
    from tests.conftest import csrf_token

    login(client, "crc")
    token = csrf_token(client, "/subjects/")
    r = client.post("/subjects/new", data={"site": "TJ", "csrf_token": token})
    assert r.status_code == 302
    with app.app_context():
        numbers = sorted(db.session.scalars(select(Subject.screening_number)))
    assert numbers == ["BJ-S001", "TJ-S001", "TJ-S002"]
