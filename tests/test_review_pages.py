"""Queries, SDV, locks and sign-off through the pages and the API (both databases)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from edc.cli import cli_actor
from edc.crf.services import save_form
from edc.extensions import db
from edc.models import AuditEntry, Query, QueryMessage, SdvMark, Subject
from edc.subjects.services import create_subject
from edc.uow import unit_of_work
from tests.conftest import PASSWORD, count_statements, csrf_token, login, pi_code

EC = {"ECDAT": "2026-11-20", "ECOG": "1"}


def _save(app, subject_id, form, items, version=0, reason=None, event="SCREEN", **kw):
    with app.app_context(), unit_of_work():
        subject = db.session.get(Subject, subject_id)
        save_form(subject, event, form, items, version=version, actor=cli_actor(),
                  reason=reason, **kw)


def _client(app, role):
    client = app.test_client()
    assert login(client, role).status_code == 302
    return client


def _post(client, url, data, page="/queries"):
    return client.post(url, data={"csrf_token": csrf_token(client, page), **data})


def test_monitor_raises_site_corrects_monitor_closes_and_verifies_in_the_pages(app, world):
    _save(app, world.subject_tj, "EC", EC)
    sid = world.subject_tj
    form_url = f"/subjects/{sid}/forms/SCREEN/EC"
    cra = _client(app, "cra")
    new = f"/subjects/{sid}/queries/new?event=SCREEN&form=EC&item=ECOG"
    assert cra.get(new).status_code == 200
    empty = _post(cra, new, {"event": "SCREEN", "form": "EC", "item": "ECOG", "text": " "},
                  page=new)
    assert empty.status_code == 422 and "write a message" in empty.get_data(as_text=True)
    response = _post(cra, new, {"event": "SCREEN", "form": "EC", "item": "ECOG",
                                "text": "Source says ECOG 0."}, page=new)
    assert response.status_code == 302
    with app.app_context():
        qid = db.session.scalar(select(Query.id))
    page = cra.get(form_url).get_data(as_text=True)
    assert "1 open" in page and "Source says ECOG 0." in page

    crc = _client(app, "crc")
    page = crc.get(f"{form_url}?query={qid}").get_data(as_text=True)
    assert f"Answering query #{qid}" in page and f'name="query_id" value="{qid}"' in page
    token = csrf_token(crc, form_url)
    saved = crc.post(form_url, data={"csrf_token": token, "version": "1", "ECDAT": "2026-11-20",
                                     "ECOG": "0", "query_id": str(qid),
                                     "query_answer": "Corrected from the clinic note."})
    assert saved.status_code == 302, saved.get_data(as_text=True)
    with app.app_context():
        q = db.session.get(Query, qid)
        assert q.state == "answered"
        assert (q.messages[-1].kind, q.messages[-1].form_version) == ("correction", 2)
        change = db.session.scalar(select(AuditEntry).where(
            AuditEntry.action == "data.update", AuditEntry.item_oid == "ECOG"))
        assert change.reason == "Query response"
    # the coordinator may not close; the monitor closes and verifies the whole form
    assert _post(crc, f"/queries/{qid}/close", {"text": "done"}).status_code == 403
    assert _post(cra, f"/queries/{qid}/close", {"text": ""}).status_code == 422
    assert _post(cra, f"/queries/{qid}/close", {"text": "Matches source."}).status_code == 302
    marked = _post(cra, f"/subjects/{sid}/sdv", {"event": "SCREEN", "form": "EC",
                                                 "next": form_url}, page=form_url)
    assert marked.status_code == 302 and marked.headers["Location"].endswith(form_url)
    page = cra.get(form_url).get_data(as_text=True)
    assert "SDV: verified (2/2" in page
    listing = cra.get("/queries?state=closed").get_data(as_text=True)
    assert f"#{qid}" in listing and "Matches source." in listing


def test_a_locked_form_answers_409_in_the_page_and_the_api(app, world, token):
    _save(app, world.subject_tj, "EC", EC)
    dm = token("dm")
    client = app.test_client()
    lock = client.post("/api/v1/locks", headers=dm, json={
        "level": "form", "kind": "lock", "subject_id": world.subject_tj, "event": "SCREEN",
        "form": "EC", "reason": "cleaned"})
    assert lock.status_code == 201, lock.get_json()
    put = client.put(f"/api/v1/subjects/{world.subject_tj}/forms/SCREEN/EC",
                     headers=token("crc"), json={"items": {"ECOG": "0"}, "version": 1,
                                                 "reason": "x"})
    assert put.status_code == 409 and "locked this form" in put.get_json()["error"]
    crc = _client(app, "crc")
    url = f"/subjects/{world.subject_tj}/forms/SCREEN/EC"
    page = crc.get(url).get_data(as_text=True)
    assert "Data management has locked" in page and 'name="ECOG"' not in page
    posted = crc.post(url, data={"csrf_token": csrf_token(crc, url), "version": "1",
                                 "ECOG": "0", "reason": "Transcription error"})
    assert posted.status_code == 409 and "locked this form" in posted.get_data(as_text=True)
    # a locked form is not signed either: the API refuses, the page says why and asks nothing
    sign = {"target": "form:SCREEN.1.EC.1", "username": "pi", "password": PASSWORD,
            "code": pi_code()}
    refused = client.post(f"/api/v1/subjects/{world.subject_tj}/sign", headers=token("pi"),
                          json=sign)
    assert refused.status_code == 409 and "nothing can be signed" in refused.get_json()["error"]
    pi = _client(app, "pi")
    sign_url = f"/subjects/{world.subject_tj}/sign?target=form:SCREEN.1.EC.1"
    page = pi.get(sign_url).get_data(as_text=True)
    assert "locked this form: nothing can be signed" in page and 'name="password"' not in page
    posted = pi.post(f"/subjects/{world.subject_tj}/sign",
                     data={"csrf_token": csrf_token(pi, sign_url), **sign})
    assert posted.status_code == 409
    with app.app_context():
        assert not db.session.scalar(select(AuditEntry).where(
            AuditEntry.action == "signature.sign"))
    # unlocking needs a reason
    lock_id = lock.get_json()["id"]
    assert client.post(f"/api/v1/locks/{lock_id}/release", headers=dm,
                       json={"reason": ""}).status_code == 422
    assert client.post(f"/api/v1/locks/{lock_id}/release", headers=dm,
                       json={"reason": "re-opened for a correction"}).status_code == 200
    assert client.put(f"/api/v1/subjects/{world.subject_tj}/forms/SCREEN/EC",
                      headers=token("crc"), json={"items": {"ECOG": "0"}, "version": 1,
                                                  "reason": "x"}).status_code == 200


def test_study_lock_through_the_api_lists_its_blockers(app, world, token):
    _save(app, world.subject_tj, "LB", {"LBDAT": "2026-11-20", "HGB": "100"})
    response = app.test_client().post("/api/v1/locks", headers=token("dm"),
                                      json={"level": "study", "kind": "lock"})
    body = response.get_json()
    assert response.status_code == 409 and body["blockers"]
    assert any("HGB" in b for b in body["blockers"])
    listing = app.test_client().get("/api/v1/locks", headers=token("dm")).get_json()
    assert listing["study_lock_blockers"] == body["blockers"]


def test_queries_api_thread_and_correction(app, world, token):
    _save(app, world.subject_tj, "EC", EC)
    client = app.test_client()
    url = f"/api/v1/subjects/{world.subject_tj}/queries"
    bad = client.post(url, headers=token("cra"), json={"event": "SCREEN", "form": "EC",
                                                       "item": "NOPE", "text": "?"})
    assert bad.status_code == 422 and "item" in bad.get_json()["errors"]
    made = client.post(url, headers=token("cra"), json={"event": "SCREEN", "form": "EC",
                                                        "item": "ECOG", "text": "ECOG?"})
    assert made.status_code == 201
    qid = made.get_json()["id"]
    wrong = client.put(f"/api/v1/subjects/{world.subject_tj}/forms/SCREEN/DM",
                       headers=token("crc"), json={"items": {"SEX": "F"}, "version": 0,
                                                   "query_id": qid})
    assert wrong.status_code == 422 and "query_id" in wrong.get_json()["errors"]
    fixed = client.put(f"/api/v1/subjects/{world.subject_tj}/forms/SCREEN/EC",
                       headers=token("crc"), json={"items": {"ECOG": "2"}, "version": 1,
                                                   "query_id": qid, "answer": "fixed"})
    assert fixed.status_code == 200, fixed.get_json()
    listed = client.get(f"{url}?state=answered", headers=token("cra")).get_json()
    [q] = listed["queries"]
    assert q["next"] == "monitor" and [m["kind"] for m in q["messages"]] == ["open",
                                                                             "correction"]
    assert client.post(f"/api/v1/queries/{qid}/close", headers=token("crc"),
                       json={"text": "x"}).status_code == 403
    closed = client.post(f"/api/v1/queries/{qid}/close", headers=token("dm"),
                         json={"text": "ok"})
    assert closed.status_code == 200 and closed.get_json()["state"] == "closed"
    assert client.get("/api/v1/queries?state=bogus", headers=token("dm")).status_code == 422
    # the other site's coordinator does not see it
    assert client.get("/api/v1/queries?state=all", headers=token("crc")).get_json()["count"] \
        == 1
    with app.app_context():
        assert db.session.scalar(select(QueryMessage.text).where(
            QueryMessage.kind == "correction")) == "fixed"


def test_sign_off_through_the_api(app, world, token):
    _save(app, world.subject_tj, "EC", EC)
    client = app.test_client()
    url = f"/api/v1/subjects/{world.subject_tj}/sign"
    target = "form:SCREEN.1.EC.1"
    client.post(f"/api/v1/subjects/{world.subject_tj}/queries", headers=token("cra"),
                json={"event": "SCREEN", "form": "EC", "text": "please review"})
    refused = client.post(url, headers=token("pi"), json={"target": target, "username": "pi",
                                                          "password": PASSWORD, "code": pi_code()})
    assert refused.status_code == 409 and "query" in refused.get_json()["blockers"][0]
    assert client.post(url, headers=token("pi"), json={
        "target": "form:NOPE.1.EC.1", "username": "pi", "password": PASSWORD, "code": pi_code()}
    ).status_code == 422
    with app.app_context():
        q = db.session.scalar(select(Query))
    client.post(f"/api/v1/queries/{q.id}/close", headers=token("cra"), json={"text": "ok"})
    assert client.post(url, headers=token("pi"), json={
        "target": target, "username": "pi", "password": "wrong-password-1"}).status_code == 401
    signed = client.post(url, headers=token("pi"), json={"target": target, "username": "pi",
                                                         "password": PASSWORD, "code": pi_code()})
    assert signed.status_code == 201
    assert signed.get_json()["meaning"] == "I have reviewed and approve the data in this form"
    pi = _client(app, "pi")
    page = pi.get(f"/subjects/{world.subject_tj}/sign?target={target}").get_data(as_text=True)
    assert "valid" in page and "Test Investigator" in page


@pytest.mark.parametrize("n_more", [6])
def test_query_list_and_sdv_worklist_statements_do_not_grow_with_subjects(app, world, n_more):
    def load(count):
        with app.app_context():
            from edc.models import Site, User
            from edc.queries import services as queries

            site = db.session.get(Site, world.tj)
            dm = db.session.get(User, world.users["dm"])
            for _ in range(count):
                with unit_of_work():
                    s = create_subject(site, actor=cli_actor(), created_by_id=dm.id)
                with unit_of_work():
                    save_form(s, "SCREEN", "LB", {"LBDAT": "2026-11-20", "HGB": "100"},
                              version=0, actor=cli_actor())
                    queries.open_query(s, queries.Place("SCREEN", "LB"), "form query",
                                       user=dm, actor=cli_actor())

    dm = _client(app, "dm")
    load(2)
    small = (count_statements(app, dm, "/queries"), count_statements(app, dm, "/monitoring/sdv"))
    load(n_more)
    large = (count_statements(app, dm, "/queries"), count_statements(app, dm, "/monitoring/sdv"))
    assert large == small, (small, large)
    with app.app_context():
        assert db.session.scalar(select(SdvMark.id)) is None


def test_worklist_page_shows_percentages_and_waiting_forms(app, world):
    _save(app, world.subject_tj, "EC", EC)
    page = _client(app, "cra").get("/monitoring/sdv").get_data(as_text=True)
    assert re.search(r"0 of 2 required items verified \(0(\.0)? %\)", page)
    assert "ECOG performance status (1)" not in page  # counts are per item: 2 pending
    assert "ECOG performance status (2)" in page
    plan = _client(app, "sponsor").get("/monitoring/sdv-plan")
    assert plan.status_code == 200 and "critical" in plan.get_data(as_text=True).lower()


def test_a_correction_answers_only_a_query_on_the_same_form_instance_page_and_api(
        app, world, token):
    """The same rule on both paths: a query of another row (or a closed one) is refused with
    422 naming query_id, and nothing is saved."""
    for row in (1, 2):
        _save(app, world.subject_tj, "AE", {"AETERM": f"Event {row}", "AESTDAT": "2026-11-20",
                                            "AETOXGR": "2", "AESER": "N",
                                            "AERELCT": "POSSIBLE"}, event="LOG",
              **({"form_repeat": row} if row > 1 else {}))
    client = app.test_client()
    made = client.post(f"/api/v1/subjects/{world.subject_tj}/queries", headers=token("cra"),
                       json={"event": "LOG", "form": "AE", "form_repeat": 2, "item": "AETOXGR",
                             "text": "grade?"})
    qid = made.get_json()["id"]
    api = client.put(f"/api/v1/subjects/{world.subject_tj}/logs/AE/1", headers=token("crc"),
                     json={"items": {"AETOXGR": "3"}, "version": 1, "query_id": qid})
    assert api.status_code == 422 and "query_id" in api.get_json()["errors"]
    crc = _client(app, "crc")
    url = f"/subjects/{world.subject_tj}/forms/LOG/AE"  # row 1
    page = crc.post(url, data={"csrf_token": csrf_token(crc, url), "version": "1",
                               "AETERM": "Event 1", "AESTDAT": "2026-11-20", "AETOXGR": "3",
                               "AESER": "N", "AERELCT": "POSSIBLE", "query_id": str(qid)})
    assert page.status_code == 422 and "cannot be answered here" in page.get_data(as_text=True)
    with app.app_context():
        from edc.crf.services import read_form

        subject = db.session.get(Subject, world.subject_tj)
        assert read_form(subject, "LOG", "AE", form_repeat=1).items["AETOXGR"] == "2"
        assert db.session.get(Query, qid).state == "open"
    # on its own row the correction answers it
    fixed = client.put(f"/api/v1/subjects/{world.subject_tj}/logs/AE/2", headers=token("crc"),
                       json={"items": {"AETOXGR": "3"}, "version": 1, "query_id": qid,
                             "answer": "x" * 2001})
    assert fixed.status_code == 422 and "answer" in fixed.get_json()["errors"]
    fixed = client.put(f"/api/v1/subjects/{world.subject_tj}/logs/AE/2", headers=token("crc"),
                       json={"items": {"AETOXGR": "3"}, "version": 1, "query_id": qid})
    assert fixed.status_code == 200
    with app.app_context():
        assert db.session.get(Query, qid).state == "answered"


def test_a_study_lock_ignores_a_subject_and_is_not_applied_twice(app, world, token):
    client = app.test_client()
    body = {"level": "study", "kind": "freeze", "subject_id": world.subject_tj}
    first = client.post("/api/v1/locks", headers=token("dm"), json=body)
    assert first.status_code == 201 and first.get_json()["subject_id"] is None
    assert client.post("/api/v1/locks", headers=token("dm"), json=body).status_code == 409
