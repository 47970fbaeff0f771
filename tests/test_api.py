"""The JSON API of interfaces.md: bearer tokens, the same rules as the pages."""

from __future__ import annotations

import re

from sqlalchemy import select

from edc.extensions import db
from edc.models import AuditEntry, User
from forms.study_build import BUILD
from tests.conftest import csrf_token, login, mark_enrolled


def test_bearer_token_is_required_and_cookies_are_ignored(app, world, token):
    api = app.test_client()
    r = api.get("/api/v1/subjects")
    assert r.status_code == 401 and r.json["status"] == 401
    assert api.get("/api/v1/subjects", headers={"Authorization": "Bearer edc_nope"}
                   ).status_code == 401
    browser = app.test_client()
    login(browser, "crc")
    assert browser.get("/api/v1/subjects").status_code == 401  # a session cookie is not enough
    r = browser.post("/api/v1/subjects", json={"site": "TJ"})  # no CSRF token, no bearer
    assert r.status_code == 401
    assert api.get("/api/v1/subjects", headers=token("crc")).status_code == 200


def test_who_is_asking_is_one_statement(app, world, token):
    """Every request resolves its token (or session), user, grants and their sites: one
    round trip, not four."""
    from sqlalchemy import event

    crc = token("crc")
    app.test_client().get("/api/v1/subjects", headers=crc)  # its first use is written
    browser = app.test_client()
    login(browser, "crc")
    seen: list[str] = []

    def note(_conn, _cursor, statement, *_args):
        seen.append(" ".join(statement.split()))

    with app.app_context():
        engine = db.engine
    event.listen(engine, "before_cursor_execute", note)
    try:
        assert app.test_client().get("/api/v1/subjects", headers=crc).status_code == 200
        api_seen, seen[:] = list(seen), []
        assert browser.get("/subjects/").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", note)
    for holder, statements in (("FROM api_token", api_seen), ("FROM auth_session", seen)):
        who = [s for s in statements if holder in s]
        assert len(who) == 1 and "JOIN role_grant" in who[0] and "JOIN site" in who[0], who
        # no grants or sites loaded one by one after it
        assert not [s for s in statements if s.startswith("SELECT role_grant.") or (
            s.startswith("SELECT site.") and "WHERE site.id IN" in s)], statements
    assert not [s for s in api_seen if " FROM user_account " in s]  # nothing written: no reload


def test_revoked_token_and_deactivated_user_are_refused(app, world, token):
    from edc.admin.services import deactivate
    from edc.auth.tokens import revoke
    from edc.cli import cli_actor
    from edc.models import ApiToken

    crc, pi = token("crc"), token("pi")
    with app.app_context():
        row = db.session.scalar(select(ApiToken).where(ApiToken.user_id == world.users["crc"]))
        revoke(row, actor=cli_actor(), reason="Left the study")
        deactivate(db.session.get(User, world.users["pi"]), actor=cli_actor(), reason="gone")
        db.session.commit()
    api = app.test_client()
    assert api.get("/api/v1/subjects", headers=crc).status_code == 401
    assert api.get("/api/v1/subjects", headers=pi).status_code == 401


def test_study_dictionary(app, world, token):
    r = app.test_client().get("/api/v1/study", headers=token("cra"))
    body = r.json
    assert body["metadata_version"] == BUILD.version == "1.3"
    lb = {i["name"]: i for i in body["forms"]["LB"]["items"]}
    assert lb["HGB"]["unit"] == "g/L" and lb["HGB"]["hard_range"] == "30–250"
    assert lb["HGB"]["oid"] == "I.LB.HGB"
    assert {"SCREEN", "D28", "Y15"} <= {e["oid"] for e in body["events"]}


def test_subjects_are_site_scoped_and_created(app, world, token):
    api, crc = app.test_client(), token("crc")
    listed = api.get("/api/v1/subjects", headers=crc).json["subjects"]
    assert [s["screening_number"] for s in listed] == ["TJ-S001"]
    r = api.post("/api/v1/subjects", json={"site": "TJ"}, headers=crc)
    assert r.status_code == 201 and r.json["screening_number"] == "TJ-S002"
    r = api.post("/api/v1/subjects", json={"site": "BJ"}, headers=crc)
    assert r.status_code == 422
    assert r.json["errors"] == {"site": "Site BJ is not one of your sites."}
    r = api.post("/api/v1/subjects", data="not json", headers=crc)
    assert r.status_code == 400
    assert api.get(f"/api/v1/subjects/{world.subject_bj}", headers=crc).status_code == 404
    dm = api.get("/api/v1/subjects", headers=token("dm")).json["subjects"]
    assert len(dm) == 3


def test_form_save_versions_reasons_and_errors(app, world, token):
    api, crc = app.test_client(), token("crc")
    url = f"/api/v1/subjects/{world.subject_tj}/forms/SCREEN/LB"
    r = api.put(url, json={"items": {"LBDAT": "2026-11-20", "HGB": 112, "CREAT": "80",
                                     "CREATU": "umol/L"}, "version": 0}, headers=crc)
    assert r.status_code == 200, r.json
    assert r.json["version"] == 1 and r.json["items"]["HGB"] == "112"
    assert r.json["status"] == "complete"
    r = api.put(url, json={"items": {"HGB": 113}, "version": 1}, headers=crc)
    assert r.status_code == 422 and "reason" in r.json["errors"]
    r = api.put(url, json={"items": {"HGB": 113}, "reason": "x"}, headers=crc)
    assert r.status_code == 422 and "version 1" in r.json["errors"]["version"]
    r = api.put(url, json={"items": {"HGB": 113}, "version": 0, "reason": "x"}, headers=crc)
    assert r.status_code == 409 and r.json["current"]["items"]["HGB"] == "112"
    r = api.put(url, json={"items": {"HGB": "x", "NOPE": 1}, "version": 1, "reason": "y"},
                headers=crc)
    assert r.status_code == 422
    assert r.json["errors"] == {"NOPE": "LB has no item NOPE",
                                "HGB": "enter a number (use . for decimals); below or above "
                                       "the limit of quantification: <limit or >limit"}
    for body in ({"items": []}, {"items": {}, "version": "1"}, {"items": {}, "reason": 5}):
        assert api.put(url, json=body, headers=crc).status_code == 422
    r = api.put(url, json={"items": {"HGB": 113}, "version": 1,
                           "reason": "transcription error"}, headers=crc)
    assert r.status_code == 200 and r.json["version"] == 2
    got = api.get(url, headers=token("cra")).json
    assert got["items"]["HGB"] == "113" and got["version"] == 2
    assert api.put(url, json={"items": {}}, headers=token("cra")).status_code == 403
    assert api.get(f"/api/v1/subjects/{world.subject_tj}/forms/SCREEN/CRS",
                   headers=crc).status_code == 404


def test_the_same_rule_holds_on_the_page_and_the_api(app, world, token):
    web = app.test_client()
    login(web, "crc")
    url = f"/subjects/{world.subject_tj}/forms/SCREEN/LB"
    page = web.post(url, data={"csrf_token": csrf_token(web, url), "version": "0",
                               "LBDAT": "2026-11-20", "HGB": "500"})
    api = app.test_client().put(f"/api/v1{url}", headers=token("crc"), json={
        "items": {"LBDAT": "2026-11-20", "HGB": 500}, "version": 0})
    message = api.json["errors"]["HGB"]
    assert page.status_code == api.status_code == 422
    assert message == "500 g/L is outside the plausible range 30–250 g/L"
    assert message in page.get_data(as_text=True)
    with app.app_context():
        fired = db.session.scalars(select(AuditEntry.source).where(
            AuditEntry.action == "check.hard")).all()
    assert sorted(fired) == ["api", "web"]


def test_identifying_items_are_withheld_from_roles_without_pii(app, world, token):
    api = app.test_client()
    url = f"/api/v1/subjects/{world.subject_tj}/forms/SCREEN/DM"
    api.put(url, json={"items": {"INITIALS": "LXM", "SEX": "M"}, "version": 0},
            headers=token("crc"))
    assert api.get(url, headers=token("cra")).json["items"]["INITIALS"] == "LXM"
    assert api.get(url, headers=token("sponsor")).json["items"]["INITIALS"] == \
        "[withheld: identifying]"


def test_log_rows(app, world, token):
    api, crc = app.test_client(), token("crc")
    base = f"/api/v1/subjects/{world.subject_tj}/logs/AE"
    row = {"AETERM": "Headache", "AESTDAT": "2026-11-20", "AETOXGR": "1", "AESER": "N",
           "AERELCT": "POSSIBLE"}
    first = api.post(base, json={"items": row}, headers=crc)
    second = api.post(base, json={"items": {**row, "AETERM": "Fever"}}, headers=crc)
    assert (first.status_code, first.json["seq"], second.json["seq"]) == (201, 1, 2)
    r = api.put(f"{base}/1", json={"items": {"AEENDAT": "2026-11-22"}, "version": 1,
                                   "reason": "resolved"}, headers=crc)
    assert r.status_code == 200 and r.json["items"]["AEENDAT"] == "2026-11-22"
    rows = api.get(base, headers=crc).json["rows"]
    assert [(x["seq"], x["items"]["AETERM"]) for x in rows] == [(1, "Headache"), (2, "Fever")]
    assert api.get(f"/api/v1/subjects/{world.subject_tj}/logs/LB",
                   headers=crc).status_code == 404
    bad = api.post(base, json={"items": {**row, "AEENDAT": "2026-11-19"}}, headers=crc)
    assert bad.status_code == 422 and "onset" in bad.json["errors"]["AEENDAT"]


def test_prior_treatments_and_lymphodepletion_days_are_rows_too(app, world, token):
    """interfaces.md lists PT among the repeating forms of /logs; LDD rows likewise."""
    api, crc = app.test_client(), token("crc")
    base = f"/api/v1/subjects/{world.subject_tj}/logs/PT"
    r = api.post(base, json={"items": {"PTAGENT": "PREDNISONE", "PTSTDAT": "2024-01-01",
                                       "PTRESP": "INEFFECTIVE"}}, headers=crc)
    assert r.status_code == 201 and r.json["seq"] == 1
    r = api.post(base, json={"items": {"PTAGENT": "RITUXIMAB", "PTSTDAT": "2024-03-01",
                                       "PTRESP": "RELAPSE"}}, headers=crc)
    assert r.json["seq"] == 2
    listed = api.get(base, headers=crc).json
    assert listed["event"] == "SCREEN" and [x["items"]["PTAGENT"] for x in listed["rows"]] == [
        "PREDNISONE", "RITUXIMAB"]
    got = api.get(f"/api/v1/subjects/{world.subject_tj}/forms/SCREEN/PT", headers=crc).json
    assert got["items"]["PTAGENT"] == "PREDNISONE"  # row 1 is the form's first row
    r = api.post(f"/api/v1/subjects/{world.subject_tj}/logs/LDD",
                 json={"items": {"LDDAT": "2026-11-20"}}, headers=crc)
    assert r.status_code == 409 and "not enrolled" in r.json["error"]  # LD opens at enrollment
    # the casebook page lists the rows and offers the next one
    web = app.test_client()
    login(web, "crc")
    html = web.get(f"/subjects/{world.subject_tj}").get_data(as_text=True)
    assert f"/subjects/{world.subject_tj}/forms/SCREEN/PT/2" in html
    new = web.get(f"/subjects/{world.subject_tj}/logs/PT/new")
    assert new.headers["Location"].endswith(f"/subjects/{world.subject_tj}/forms/SCREEN/PT/3")


def test_audit_endpoint(app, world, token):
    r = app.test_client().get("/api/v1/audit?subject=TJ-S001&limit=5", headers=token("dm"))
    assert r.status_code == 200
    assert [e["action"] for e in r.json["entries"]] == ["subject.create"]
    assert app.test_client().get("/api/v1/audit?since=yesterday",
                                 headers=token("dm")).status_code == 422


def test_openapi_document_is_valid_and_public(app):
    from openapi_spec_validator import validate

    r = app.test_client().get("/api/v1/openapi.json")
    assert r.status_code == 200
    validate(r.json)
    assert "/subjects/{subject_id}/forms/{event_oid}/{form_oid}" in r.json["paths"]


def test_every_api_route_is_in_the_document_with_its_bodies_and_responses(app):
    """Generated from the URL map and the models: no route ships undescribed."""
    doc = app.test_client().get("/api/v1/openapi.json").json
    schemas = doc["components"]["schemas"]
    seen = 0
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/v1"):
            continue
        path = re.sub(r"<(?:\w+:)?(\w+)>", r"{\1}", rule.rule[len("/api/v1"):])
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            op = doc["paths"][path][method.lower()]
            ok = [code for code in op["responses"] if code.startswith("2")]
            assert ok, (path, method)
            for code, response in op["responses"].items():
                content = response["content"]
                if "application/json" not in content:  # a file (the sponsor export's zip)
                    assert code.startswith("2") and content == {"application/zip": {
                        "schema": {"type": "string", "format": "binary"}}}, (path, code)
                    continue
                ref = content["application/json"]["schema"]["$ref"]
                assert ref.rsplit("/", 1)[1] in schemas
            # enrolling takes no body; an export job takes the export's query parameters
            if method in ("POST", "PUT") and not path.endswith(("/enroll", "/jobs")):
                body = op["requestBody"]["content"]["application/json"]["schema"]["$ref"]
                assert body.rsplit("/", 1)[1] in schemas
            if path != "/openapi.json":
                assert "401" in op["responses"], (path, method)
            seen += 1
    assert seen >= 14
    assert schemas["FormSave"]["properties"]["reason"]
    assert set(schemas["Signing"]["required"]) == {"username", "password"}


def test_a_body_that_does_not_fit_its_model_is_422_naming_the_field(app, world, token):
    api, crc = app.test_client(), token("crc")
    url = f"/api/v1/subjects/{world.subject_tj}/forms/SCREEN/EC"
    r = api.put(url, headers=crc, json={"items": {"ECOG": True}, "version": "0",
                                        "surprise": 1})
    assert r.status_code == 422
    assert r.json["errors"] == {"ECOG": "must be a string or a number",
                                "version": "a whole number",
                                "surprise": "is not a field of this request"}
    r = api.put(url, headers=crc, json={"items": {}, "reason": "x" * 2001})
    assert r.status_code == 422 and "at most 2000" in r.json["errors"]["reason"]
    r = api.post("/api/v1/subjects", headers=crc, json={"site": 7})
    assert r.status_code == 422 and r.json["errors"]["site"].startswith("give the site")


def test_token_commands_are_audited(app, world):
    runner = app.test_cli_runner()
    for label, why in (("x" * 101, "at most 100"), ("SDV\x1b[2Jtool", "control")):
        refused = runner.invoke(args=["token", "create", "--username", "cra", "--label", label])
        assert refused.exit_code != 0 and why in refused.output  # refused, never cut short
    made = runner.invoke(args=["token", "create", "--username", "cra", "--label", "SDV tool"])
    assert made.exit_code == 0 and made.stdout.strip().startswith("edc_")
    with app.app_context():
        from edc.models import ApiToken

        row = db.session.scalar(select(ApiToken))
        assert row.token_hash != made.stdout.strip()  # only the digest is stored
    bad = runner.invoke(args=["token", "revoke", "--id", str(row.id), "--reason", "lost\x00"])
    assert bad.exit_code != 0 and "control" in bad.output
    revoked = runner.invoke(args=["token", "revoke", "--id", str(row.id), "--reason", "lost"])
    assert revoked.exit_code == 0
    again = runner.invoke(args=["token", "revoke", "--id", str(row.id), "--reason", "lost"])
    assert again.exit_code != 0 and "already revoked" in again.output
    with app.app_context():
        actions = db.session.scalars(select(AuditEntry.action).where(
            AuditEntry.action.like("token.%"))).all()
    assert actions == ["token.create", "token.revoke"]


def test_unscheduled_visits_repeat_in_the_page_and_the_api(app, world, token):
    with app.app_context():
        mark_enrolled(world.subject_tj)
    api, crc = app.test_client(), token("crc")
    base = f"/api/v1/subjects/{world.subject_tj}/forms/UNSCHED/VS"
    for visit, temp in ((1, "38.1"), (2, "37.2")):
        r = api.put(f"{base}?event_repeat={visit}", headers=crc,
                    json={"items": {"VSDAT": "2026-11-2" + str(visit), "TEMP": temp},
                          "version": 0})
        assert r.status_code == 200 and r.json["event_repeat"] == visit
    assert api.get(f"{base}?event_repeat=2", headers=crc).json["items"]["TEMP"] == "37.2"
    assert api.get(base, headers=crc).json["items"]["TEMP"] == "38.1"  # visit 1 by default
    assert api.get(f"{base}?event_repeat=3", headers=crc).json["version"] == 0
    for bad in ("0", "x"):
        assert api.get(f"{base}?event_repeat={bad}", headers=crc).status_code == 404
    one_only = f"/api/v1/subjects/{world.subject_tj}/forms/D1/VS?event_repeat=2"
    assert api.get(one_only, headers=crc).status_code == 404  # a scheduled visit happens once
    detail = api.get(f"/api/v1/subjects/{world.subject_tj}", headers=crc).json
    unsched = next(e for e in detail["events"] if e["event"] == "UNSCHED")
    vs = next(f for f in unsched["forms"] if f["form"] == "VS")
    assert [r["event_repeat"] for r in vs["rows"]] == [1, 2]
    with app.app_context():  # the trail keeps the visit number: replay gives the same data
        from audit.replay import differences, replay_from_database
        from edc.clinical.store import snapshot

        assert differences(replay_from_database(db.session), snapshot(db.session)) == []

    web = app.test_client()
    login(web, "crc")
    html = web.get(f"/subjects/{world.subject_tj}").get_data(as_text=True)
    assert "event_repeat=2" in html and "+ new unscheduled visit" in html
    r = web.get(f"/subjects/{world.subject_tj}/visits/UNSCHED/new")
    assert r.headers["Location"].endswith("/forms/UNSCHED/VS?event_repeat=3")
    page = f"/subjects/{world.subject_tj}/forms/UNSCHED/VS?event_repeat=3"
    assert "unscheduled visit 3" in web.get(page).get_data(as_text=True)
    r = web.post(page, data={"csrf_token": csrf_token(web, page), "version": "0",
                             "VSDAT": "2026-11-23", "TEMP": "36.9"})
    assert r.status_code == 302 and r.headers["Location"].endswith("?event_repeat=3")
    assert web.get(f"/subjects/{world.subject_tj}/visits/D1/new").status_code == 404
