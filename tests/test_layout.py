"""The base layout: navigation by role, the signed-in user with role and sites, flashes."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import base_config, csrf_token, login


@pytest.mark.parametrize("role, shown, hidden", [
    ("crc", ["Subjects"], ["Users", "Sites"]),
    ("dm", ["Subjects"], ["Users"]),
    ("admin", ["Users", "Sites"], ["Subjects"]),
])
def test_navigation_depends_on_the_role(app, world, role, shown, hidden):
    c = app.test_client()
    login(c, role)
    html = c.get("/", follow_redirects=True).get_data(as_text=True)
    nav = html.split('<nav class="mainnav"')[1].split("</nav>")[0]
    for label in shown:
        assert f">{label}</a>" in nav
    for label in hidden:
        assert f">{label}</a>" not in nav


def test_header_names_the_user_role_and_sites(app, world):
    c = app.test_client()
    login(c, "cra")
    html = c.get("/").get_data(as_text=True)
    assert "Test Monitor (CRA)" in html and "Monitor (CRA)" in html and "· TJ" in html
    c2 = app.test_client()
    login(c2, "sponsor")
    assert "all sites" in c2.get("/").get_data(as_text=True)


def test_flash_message_after_an_action(app, world):
    c = app.test_client()
    login(c, "crc")
    token = csrf_token(c, "/subjects/")
    html = c.post("/subjects/new", data={"site": "TJ", "csrf_token": token},
                  follow_redirects=True).get_data(as_text=True)
    assert 'class="flash flash-success"' in html and "TJ-S002 registered" in html


def _redis_up() -> bool:
    try:
        socket.create_connection(("127.0.0.1", 6379), timeout=0.5).close()
        return True
    except OSError:
        return False


@pytest.mark.skipif(not _redis_up(), reason="Redis (optional rate-limit store) not running")
def test_rate_limit_counts_in_redis_across_workers(database_url, world):
    """Two app instances (two gunicorn workers) share one login budget through Redis."""
    import redis

    from edc import create_app

    url = "redis://127.0.0.1:6379/15"  # a database index of the tests' own
    redis.Redis.from_url(url).flushdb()
    cfg = base_config(database_url)
    cfg.update(RATELIMIT_STORAGE_URI=url, EDC_LOGIN_RATE_LIMIT="3 per minute")
    worker_a, worker_b = create_app(cfg), create_app(cfg)
    codes = []
    for worker in (worker_a, worker_b, worker_a, worker_b):
        codes.append(login(worker.test_client(), "crc", "wrong-password-123").status_code)
    assert codes == [401, 401, 401, 429]
