"""Every registered route × every role (and anonymous) × own site / other site.

The expected decisions below are written from spec/roles.md, independently of edc/security.py.
A route that is registered but missing here fails the suite, so a new route cannot ship
without an access decision.
"""

from __future__ import annotations

import pytest

from tests.conftest import csrf_token, login

VIEWERS = {"crc", "pi", "cra", "dm", "sponsor"}
AUDIT_VIEWERS = VIEWERS | {"admin"}
ANY = "any signed-in user"
PUBLIC = "public"

EXPECTED: dict[str, object] = {
    "main.healthz": PUBLIC,
    "auth.login": PUBLIC,
    "auth.login_code": PUBLIC,  # the second step of signing in (after the password)
    "auth.two_factor": ANY,
    "main.index": ANY,
    "main.set_language": ANY,
    "main.stay_signed_in": ANY,  # "stay signed in" of the timeout warning
    "build.dictionary": ANY,
    "build.acrf": ANY,
    "auth.logout": ANY,
    "auth.change_password": ANY,
    "subjects.index": VIEWERS,
    "main.dashboards": VIEWERS,
    "subjects.detail": VIEWERS,
    "subjects.create": {"crc", "pi"},
    "crf.view": VIEWERS,
    "eligibility.checklist": VIEWERS,
    "eligibility.checklist_pdf": VIEWERS,
    "api.eligibility": VIEWERS,
    # roles.md: only investigators sign; coordinators and investigators enroll
    "eligibility.sign": {"pi"},
    "api.eligibility_sign": {"pi"},
    "eligibility.enroll": {"crc", "pi"},
    "api.enroll": {"crc", "pi"},
    "subjects.deviations": VIEWERS,
    # the study settings the eligibility rules read: everyone with clinical access reads them,
    # the data manager changes them (decisions.md)
    "eligibility.settings_view": VIEWERS,
    "eligibility.settings_change": {"dm"},
    "crf.save": {"crc", "pi"},
    "crf.new_log_row": {"crc", "pi"},
    "crf.new_visit": {"crc", "pi"},
    # roles.md: every role views the audit trail (site roles their sites, sponsor de-identified)
    "trail.index": AUDIT_VIEWERS,
    "trail.export_csv": AUDIT_VIEWERS,
    "trail.export_pdf": AUDIT_VIEWERS,
    # who saw identifying data, refused requests: data management and administration
    "trail.access_log": {"dm", "admin"},
    "api.openapi": PUBLIC,
    "api.study": VIEWERS,
    "api.subject_list": VIEWERS,
    "api.subject_create": {"crc", "pi"},
    "api.subject_detail": VIEWERS,
    "api.form_get": VIEWERS,
    "api.form_put": {"crc", "pi"},
    "api.log_list": VIEWERS,
    "api.log_add": {"crc", "pi"},
    "api.log_put": {"crc", "pi"},
    "api.audit_entries": AUDIT_VIEWERS,
    # roles.md: monitors and data managers open, close and re-open queries; the site answers.
    # Query threads are free text typed by the site: not shown to sponsors (decisions.md).
    "queries.index": {"crc", "pi", "cra", "dm"},
    "queries.detail": {"crc", "pi", "cra", "dm"},
    "queries.new": {"cra", "dm"},
    "queries.answer": {"crc", "pi"},
    "queries.close": {"cra", "dm"},
    "queries.reopen": {"cra", "dm"},
    "api.query_list": {"crc", "pi", "cra", "dm"},
    "api.subject_queries": {"crc", "pi", "cra", "dm"},
    "api.query_open": {"cra", "dm"},
    "api.query_answer": {"crc", "pi"},
    "api.query_close": {"cra", "dm"},
    "api.query_reopen": {"cra", "dm"},
    # SDV: monitors mark; monitors and data managers read the work lists; everyone with
    # clinical access may read the plan
    "review.mark": {"cra"},
    "api.sdv_mark": {"cra"},
    "review.worklist": {"cra", "dm"},
    "api.sdv_worklist": {"cra", "dm"},
    "api.subject_sdv": {"cra", "dm"},
    "review.plan": VIEWERS,
    # locks and freezes: data managers
    "review.locks_page": {"dm"},
    "review.lock_apply": {"dm"},
    "review.lock_release": {"dm"},
    "api.lock_list": {"dm"},
    "api.lock_apply": {"dm"},
    "api.lock_release": {"dm"},
    # sign-off of forms, visits, casebooks: investigators sign, every clinical role reads
    "review.casebook_job": {"crc", "pi", "cra", "dm"},
    "review.sign_page": VIEWERS,
    # background jobs: each user starts and sees only their own; what a role may request is
    # decided per kind (422 naming the output)
    "jobs.index": ANY,
    "jobs.start": ANY,
    "jobs.download": ANY,
    # roles.md: the de-identified sponsor export is for data managers and sponsors
    "exports.index": {"dm", "sponsor"},
    "exports.start": {"dm", "sponsor"},
    "api.export": {"dm", "sponsor"},
    "api.export_job_start": {"dm", "sponsor"},
    "api.export_job": {"dm", "sponsor"},
    "api.export_job_download": {"dm", "sponsor"},
    "review.sign": {"pi"},
    "api.signoff_sign": {"pi"},
    "admin.users": {"admin"},
    "admin.user_new": {"admin"},
    "admin.user_detail": {"admin"},
    "admin.user_profile": {"admin"},
    "admin.user_grants": {"admin"},
    "admin.user_deactivate": {"admin"},
    "admin.user_reactivate": {"admin"},
    "admin.user_unlock": {"admin"},
    "admin.user_reset_password": {"admin"},
    "admin.user_factor_reset_request": {"admin"},
    "admin.user_factor_reset_approve": {"admin"},
    "admin.sites": {"admin"},
    "admin.site_new": {"admin"},
    "admin.site_edit": {"admin"},
}
# Roles restricted to their own sites: another site's subject answers 404.
SITE_ROLES = {"crc", "pi", "cra"}


def _routes(app):
    for rule in app.url_map.iter_rules():
        if rule.endpoint == "static":
            continue
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield rule, method


def test_every_route_has_an_access_decision(app):
    """A 400 from an allowed request would mean the CSRF token was refused: not access."""
    missing_table = []
    missing_decorator = []
    for rule, _method in _routes(app):
        if rule.endpoint not in EXPECTED:
            missing_table.append(rule.endpoint)
        view = app.view_functions[rule.endpoint]
        if not hasattr(view, "access"):
            missing_decorator.append(rule.endpoint)
    assert not missing_table, f"routes without an expected decision: {missing_table}"
    assert not missing_decorator, f"views without @require/@login_only/@public: {missing_decorator}"
    assert set(EXPECTED) == {r.endpoint for r, _ in _routes(app)}, "stale entries in EXPECTED"


def _queries(app, world) -> dict[str, int]:
    """One query at each site (raised by the data manager, who sees both)."""
    from audit import Actor
    from edc.extensions import db
    from edc.models import Subject, User
    from edc.queries import services as queries

    with app.app_context():
        dm = db.session.get(User, world.users["dm"])
        made = {}
        for site, subject_id in (("own", world.subject_tj), ("other", world.subject_bj)):
            subject = db.session.get(Subject, subject_id)
            made[site] = queries.open_query(subject, queries.Place("SCREEN", "EC"), "check",
                                            user=dm, actor=Actor.for_user(dm, source="cli")).id
        db.session.commit()
    return made


def _urls(rule, world, made=None):
    """Concrete URLs for a rule: (url, which site the object belongs to)."""
    args = rule.arguments
    if "query_id" in args:
        for site, query_id in (made or {}).items():
            yield rule.build({"query_id": query_id})[1], site
        return
    if "job_id" in args:  # no such job of theirs: past the role check to 404
        yield rule.build({"job_id": 999999})[1], "missing"
        return
    if "fmt" in args:  # an export format
        yield rule.build({"fmt": "csv"})[1], None
        return
    if "lock_id" in args:  # no lock exists: an allowed role gets past the role check to 404
        yield rule.build({"lock_id": 999999})[1], "missing"
        return
    extra = {k: v for k, v in {"event_oid": "SCREEN", "form_oid": "EC"}.items() if k in args}
    if "repeat" in args:  # a row of a log form
        extra.update(event_oid="LOG", form_oid="AE", repeat=2)
    if rule.endpoint in ("crf.new_log_row", "api.log_list", "api.log_add", "api.log_put"):
        extra["form_oid"] = "AE"
    if rule.endpoint == "crf.new_visit":
        extra["event_oid"] = "UNSCHED"
    if rule.endpoint in ("review.sign_page", "review.sign"):
        extra["target"] = "casebook"
    if rule.endpoint == "queries.new":
        extra.update(event="SCREEN", form="EC")
    if "seq" in args:
        extra["seq"] = 1
    if "subject_id" in args:
        yield rule.build({"subject_id": world.subject_tj, **extra})[1], "own"
        yield rule.build({"subject_id": world.subject_bj, **extra})[1], "other"
    elif "user_id" in args:
        yield rule.build({"user_id": world.users["crc_bj"]})[1], None
    elif "site_id" in args:
        yield rule.build({"site_id": world.bj})[1], None
    else:
        yield rule.build({})[1], None


def _allowed(endpoint: str, role: str | None) -> bool:
    expected = EXPECTED[endpoint]
    if expected == PUBLIC:
        return True
    if role is None:
        return False
    return expected == ANY or role in expected


@pytest.mark.parametrize("role", ["crc", "pi", "cra", "dm", "sponsor", "admin", None])
def test_route_role_site_matrix(app, world, role):
    client = app.test_client()
    if role is not None:
        assert login(client, role).status_code == 302
    token = csrf_token(client, "/account/password" if role else "/login")
    api = app.test_client()  # no cookies: the API takes bearer tokens only
    headers = {}
    if role is not None:
        from edc.auth.tokens import issue
        from edc.cli import cli_actor
        from edc.extensions import db
        from edc.models import User

        with app.app_context():
            _, bearer = issue(db.session.get(User, world.users[role]), label="matrix",
                              actor=cli_actor())
            db.session.commit()
        headers = {"Authorization": f"Bearer {bearer}"}
    failures = []
    made = _queries(app, world)
    # logout last: it ends the session the other requests need
    routes = sorted(_routes(app), key=lambda rm: rm[0].endpoint == "auth.logout")
    for rule, method in routes:
        for url, site in _urls(rule, world, made):
            if rule.endpoint == "auth.login" and method == "POST":
                continue  # signing in again is covered in test_auth
            if rule.endpoint.startswith("api."):
                response = api.open(url, method=method, headers=headers,
                                    json={} if method in ("POST", "PUT") else None)
            else:
                data = {"csrf_token": token} if method == "POST" else None
                response = client.open(url, method=method, data=data)
            status = response.status_code
            location = response.headers.get("Location", "")
            allowed = _allowed(rule.endpoint, role)
            if status >= 500:
                failures.append(f"{method} {url}: {status}")
            elif not allowed and role is None:
                if rule.endpoint.startswith("api.") and status != 401:
                    failures.append(f"{method} {url} anonymous: {status}, expected 401")
                elif not (status == 302 and "/login" in location) and status != 401:
                    failures.append(f"{method} {url} anonymous: {status} {location}")
            elif not allowed:
                if status != 403:
                    failures.append(f"{method} {url} as {role}: {status}, expected 403")
            elif site == "missing":
                if status != 404:
                    failures.append(f"{method} {url} as {role}: {status}, expected 404")
            elif site == "other" and role in SITE_ROLES:
                if status != 404:
                    failures.append(f"{method} {url} as {role} (other site): {status}, "
                                    "expected 404")
            elif rule.endpoint == "auth.login_code":  # without a password just entered
                if not (status == 302 and location.endswith(("/login", "/"))):
                    failures.append(f"{method} {url} as {role}: {status} {location}, "
                                    "expected back to sign-in (or home)")
            elif rule.endpoint == "auth.logout":
                if not (status == 302 and location.endswith("/login")):
                    failures.append(f"logout as {role}: {status} {location}")
            elif status in (400, 401, 403, 404) or "/login" in location:
                failures.append(f"{method} {url} as {role}: {status} {location}, expected access")
    assert not failures, "\n".join(failures)
