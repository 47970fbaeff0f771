"""Hostile and malformed input gets a clear 4xx, never a 500, and nothing is written."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import func, select

from edc.extensions import db
from edc.models import ItemData
from tests.conftest import csrf_token

BIG = 2**63


@pytest.mark.parametrize("body, status, field", [
    ("[" * 50000 + "]" * 50000, 400, None),                  # nested beyond the parser
    ('{"items": {"ECOG": ' + "9" * 5000 + "}}", 400, None),  # beyond int's digit limit
    ('{"items": {"ECOG": 1e1000000}}', 422, "ECOG"),         # infinity
    ('{"items": {"ECDAT": "\\ud800"}}', 422, "ECDAT"),       # a lone surrogate
    ('{"items": {"ICFVER": "v\\ud800"}}', 422, "ICFVER"),
    ('{"items": {"\\ud800": "1"}}', 422, None),
    ('{"items": {"ECOG": "1"}, "reason": "\\ud800"}', 422, "reason"),
])
def test_malformed_bodies_are_refused_plainly(app, world, token, body, status, field):
    url = f"/api/v1/subjects/{world.subject_tj}/forms/SCREEN/EC"
    if "ICFVER" in body:
        url = url.replace("/EC", "/IC")
    r = app.test_client().put(url, data=body, headers={**token("crc"),
                                                       "Content-Type": "application/json"})
    assert r.status_code == status, r.get_data(as_text=True)[:300]
    if field:
        assert field in r.json["errors"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ItemData)) == 0


@pytest.mark.parametrize("path", [
    f"/api/v1/subjects/{BIG}", f"/api/v1/subjects/{BIG * 2}/forms/SCREEN/EC",
    "/api/v1/subjects/{s}/forms/UNSCHED/VS?event_repeat=" + str(BIG),
])
def test_numbers_beyond_a_database_integer_are_not_found(app, world, token, path):
    r = app.test_client().get(path.format(s=world.subject_tj), headers=token("crc"))
    assert r.status_code == 404


@given(limit=st.integers(0, 2**31 - 1), n=st.integers(0, 2**40))
def test_the_url_pattern_of_a_number_admits_exactly_zero_to_its_maximum(limit, n):
    from edc import _digits_up_to

    pattern = re.compile(_digits_up_to(limit) + r"\Z")
    assert bool(pattern.match(str(n))) == (n <= limit)
    assert pattern.match(str(limit)) and not pattern.match(str(limit + 1))


@pytest.mark.parametrize("method, path", [
    ("POST", "/api/v1/subjects/2147483648/sdv"),  # one past a database integer
    ("POST", "/api/v1/subjects/4991188234915826004/sdv"),
    ("POST", "/api/v1/subjects/4991188234915826004/queries"),
    ("PUT", "/api/v1/subjects/4991188234915826004/forms/SCREEN/EC"),
])
def test_a_number_beyond_a_database_integer_is_no_page_for_any_method(app, world, token,
                                                                      method, path):
    r = app.test_client().open(path, method=method, json={}, headers=token("crc"))
    assert r.status_code == 404


def test_a_method_a_route_lacks_is_405_with_allow(app, world, token):
    r = app.test_client().delete(f"/api/v1/subjects/{world.subject_tj}", headers=token("crc"))
    assert r.status_code == 405
    assert "GET" in r.headers["Allow"]


def test_pages_answer_404_or_200_never_500(app, world, login_as):
    client = login_as("crc")
    s = world.subject_tj
    for path, status in ((f"/subjects/{BIG}", 404),
                         (f"/subjects/{s}/forms/UNSCHED/VS?event_repeat={BIG}", 404),
                         (f"/subjects/{s}/forms/LOG/AE/{BIG}", 404),
                         ("/audit/?until=9999-12-31", 200),
                         ("/audit/?since=0001-01-01&until=9999-12-31", 200)):
        assert client.get(path).status_code == status, path
    r = app.test_client().put(f"/api/v1/subjects/{s}/logs/AE/{BIG}", json={"items": {}})
    assert r.status_code in (401, 404)


@pytest.mark.parametrize("target", ["/\t/evil.example/", "/\\evil.example", "//evil.example",
                                    "https://evil.example/", "/\n/evil.example",
                                    "/%09/evil.example", "javascript:alert(1)"])
def test_the_language_switch_returns_only_to_this_site(world, login_as, target):
    client = login_as("crc")
    r = client.post("/language", data={"csrf_token": csrf_token(client, "/"), "lang": "zh",
                                       "next": target})
    assert r.status_code == 303
    location = r.headers["Location"]
    # a path of this site: the start page, or (percent-encoded, so no browser drops it)
    # a path on this host that merely contains the text
    assert location == "/" or (target == "/%09/evil.example" and location == target)
