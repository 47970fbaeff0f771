"""hypothesis on every form a role's pages offer: each form is found by walking the pages the
role reaches from its start page, then posted with hostile values (control and invisible
characters, invalid UTF-8, huge numbers, impossible dates, markup, formulas, very long
text, fields left out). Never a 5xx; a refusal (4xx) leaves the data and the trail as they
were but for the record of the refusal; and no change is ever silent: whatever a post
changes in the data, the trail records."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import quote_from_bytes, urljoin, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select, update
from werkzeug.exceptions import HTTPException

from audit.actions import REFUSALS
from audit.models import AuditEntry
from edc.extensions import db
from edc.models import User
from edc.security import Role
from tests.conftest import enter_eligible, login
from tests.state import assert_unchanged_but_refusals, snapshot

EXAMPLES = 6  # per form and role, on each backend
MAX_PAGES = 150
# not followed: signing out ends the walk; files are not pages
SKIP = ("/logout", "/api/", "/static/", "/download", ".pdf", ".csv")

HOSTILE = [
    "", " ", "\x00", "a\x07b", "\u200b", "\u202e\u200b", "\t\n", "0", "-1", "1e1000000",
    "9" * 5000, "NaN", "inf", "-0", "0x1F", "1,5", "2026-02-30", "0001-01-01", "9999-12-31",
    "2026-13-01", "26-11-2026", "25:61", "<script>alert(1)</script>", '"><img src=x>',
    "=HYPERLINK(\"http://evil.example\")", "+cmd|' /C calc'!A0", "x" * 70_000,
    "\u4e2d\u6587", "TJ", "SCREEN", "1" * 30, str(2**63), str(2**31),
]
INVALID_UTF8 = [b"\xed\xa0\x80", b"\xff\xfe", b"a\xc3"]


@dataclass
class Form:
    action: str
    method: str
    fields: list[tuple[str, str, list[str]]] = field(default_factory=list)  # name, value, options
    formactions: list[str] = field(default_factory=list)  # buttons that post elsewhere


class _Page(HTMLParser):
    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.forms: list[Form] = []
        self._select: tuple[str, list[str]] | None = None
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if tag == "a" and a.get("href"):
            self.links.append(a["href"])
        elif tag == "form":
            self.forms.append(Form(a.get("action") or "", (a.get("method") or "get").lower()))
        elif not self.forms:
            return
        elif tag in ("input", "button") and a.get("formaction"):
            self.forms[-1].formactions.append(a["formaction"])
        elif tag in ("input", "button") and a.get("name"):
            if a.get("type") in ("checkbox", "radio"):
                self.forms[-1].fields.append((a["name"], a.get("value") or "on", []))
            elif tag == "input" or a.get("value"):
                self.forms[-1].fields.append((a["name"], a.get("value") or "", []))
        elif tag == "select" and a.get("name"):
            self._select = (a["name"], [])
        elif tag == "option" and self._select is not None:
            self._select[1].append(a.get("value") or "")
        elif tag == "textarea" and a.get("name"):
            self._textarea = a["name"]
            self.forms[-1].fields.append((a["name"], "", []))

    def handle_endtag(self, tag):
        if tag == "select" and self._select is not None and self.forms:
            name, options = self._select
            self.forms[-1].fields.append((name, options[0] if options else "", options))
            self._select = None
        elif tag == "textarea":
            self._textarea = None


def _shape(app, path: str) -> tuple:
    """Pages of one kind are walked once: one subject page, one page per eCRF form; but every
    account, site, query and lock (their forms differ with their state)."""
    try:
        endpoint, args = app.url_map.bind("localhost").match(urlsplit(path).path, method="GET")
    except HTTPException:
        return ("?", path)
    return (endpoint, args.get("form_oid"), args.get("event_oid") is None,
            *(args.get(k) for k in ("user_id", "site_id", "query_id", "lock_id")))


def _walk(app, client, *start: str) -> dict[tuple, tuple[str, Form]]:
    """Every post form on the pages the signed-in user reaches, one per action and fields."""
    seen_shapes, forms = set(), {}
    queue, pages = deque(start), 0
    while queue and pages < MAX_PAGES:
        path = queue.popleft()
        shape = _shape(app, path)
        if shape in seen_shapes:
            continue
        seen_shapes.add(shape)
        response = client.get(path)
        if response.status_code in (301, 302, 303) and "Location" in response.headers:
            queue.append(urlsplit(response.headers["Location"]).path)
            continue
        if response.status_code != 200 or response.mimetype != "text/html":
            continue
        pages += 1
        page = _Page()
        page.feed(response.get_data(as_text=True))
        for href in page.links:
            target = urljoin(path, href)
            parts = urlsplit(target)
            if parts.netloc or parts.scheme or any(s in target for s in SKIP):
                continue
            queue.append(parts.path + (f"?{parts.query}" if parts.query else ""))
        for form in page.forms:
            for target in [form.action or path, *form.formactions]:
                action = urljoin(path, target)
                if form.method != "post" or any(s in action for s in SKIP):
                    continue
                key = (_shape(app, action)[:2], tuple(sorted(f[0] for f in form.fields)))
                forms.setdefault(key, (action, form))
    assert pages >= 1, "the walk reached almost nothing: is the user signed in?"
    return forms


def _value(value: str, options: list[str]):
    """A field's own value, one of its options, or something hostile, as bytes (text in
    UTF-8, lone surrogates kept as they are; or bytes that are not UTF-8 at all)."""
    text = st.one_of(st.just(value), st.sampled_from(HOSTILE), st.text(max_size=40),
                     *([st.sampled_from(options)] if options else []))
    return st.one_of(text.map(lambda v: v.encode("utf-8", "surrogatepass")),
                     st.sampled_from(INVALID_UTF8))


def _body(form: Form):
    """A urlencoded body: each field with a value, or now and then left out (rarely enough
    that a form's later checks, such as a signature's password, are reached); the CSRF token
    kept."""
    def field(name: str, value: str, options: list[str]):
        if name == "csrf_token":
            return st.just((name, value.encode()))
        return st.tuples(st.integers(0, 4), _value(value, options)).map(
            lambda pick: (name, pick[1]) if pick[0] else None)

    return st.tuples(*(field(*f) for f in form.fields)).map(lambda pairs: b"&".join(
        quote_from_bytes(k.encode()).encode() + b"=" + quote_from_bytes(v).encode()
        for k, v in filter(None, pairs)))


def _signed_in_again(app, client, username: str) -> None:
    """A wrong secret may lock the account (recorded, and allowed): undo that for the next
    example, and sign in again."""
    with app.app_context():
        db.session.execute(update(User).where(User.username == username).values(
            failed_login_count=0, locked=False, locked_at=None))
        db.session.commit()
    assert login(client, username).status_code == 302


def _audited_since(app, seq: int | None) -> list[str]:
    with app.app_context():
        actions = db.session.scalars(select(AuditEntry.action).where(
            AuditEntry.seq > (seq or 0))).all()
        db.session.remove()
    return actions


def _something_of_everything(app, world, token) -> None:
    """Forms appear with what they act on: screening entered, an adverse event row, an open
    query, a lock."""
    api, s = app.test_client(), world.subject_tj
    crc = token("crc")
    with app.app_context():
        enter_eligible(s)  # the investigator's eligibility signature is offered
    assert api.post(f"/api/v1/subjects/{s}/logs/AE", headers=crc, json={"items": {
        "AETERM": "Headache", "AESTDAT": "2026-11-20", "AETOXGR": "1", "AESER": "N",
        "AERELCT": "POSSIBLE"}}).status_code == 201
    assert api.post(f"/api/v1/subjects/{s}/queries", headers=token("cra"), json={
        "event": "SCREEN", "form": "LB", "item": "HGB", "text": "Please confirm"},
    ).status_code == 201
    assert api.post("/api/v1/locks", headers=token("dm"), json={
        "level": "form", "kind": "freeze", "subject_id": world.subject_bj, "event": "SCREEN",
        "form": "LB", "reason": "interim"}).status_code == 201


@pytest.mark.parametrize("role", [r.value for r in Role])
def test_every_form_of_every_page_takes_hostile_input(app, world, token, role):
    _something_of_everything(app, world, token)
    client = app.test_client()
    assert login(client, role).status_code == 302
    s = world.subject_tj  # beside the start page, the signing pages
    forms = _walk(app, client, "/", f"/subjects/{s}/eligibility", f"/subjects/{s}/sign")
    assert forms, f"{role} reached no form"
    posted: set[str] = set()
    for action, form in forms.values():
        _fuzz(app, client, role, action, form, posted)
    assert posted  # each form was tried


def _fuzz(app, client, role: str | None, action: str, form: Form, posted: set[str]) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))
    @given(body=_body(form))
    def run(body):
        before = snapshot(app)
        response = client.post(action, data=body,
                               content_type="application/x-www-form-urlencoded")
        what = f"{role} POST {action} {body[:200]!r} -> {response.status_code}"
        assert response.status_code < 500, what
        posted.add(action)
        if response.status_code >= 400:
            assert_unchanged_but_refusals(app, before, what)
        else:  # accepted, or sent back to sign in: a change is never silent
            after = snapshot(app)
            changed = [t for t in before if t != "audit_seq" and before[t] != after[t]]
            if changed:
                audited = set(_audited_since(app, before["audit_seq"])) - REFUSALS
                assert audited, f"{what}: changed {changed} with nothing in the trail"
        location = response.headers.get("Location", "")
        if role and ("/login" in location or "/account/password" in location):
            _signed_in_again(app, client, role)

    run()


def test_the_sign_in_forms_take_hostile_input(app, world):
    client = app.test_client()
    forms = _walk(app, client, "/login")
    posted: set[str] = set()
    for action, form in forms.values():
        _fuzz(app, client, None, action, form, posted)
    assert "/login" in posted
