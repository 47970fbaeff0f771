"""Every page each role reaches passes axe-core (axe-playwright-python in Debian's Chromium)
with no serious or critical violation. The pages are found by walking the links from each
role's start page (downloads and sign-out left out), with data in them."""

from __future__ import annotations

from collections import deque
from urllib.parse import urldefrag, urlparse

import audit
from edc.extensions import db
from edc.models import Subject, User
from edc.queries import services as queries
from tests.conftest import enter_eligible
from tests.test_browser import browser_page, live_url, sign_in  # noqa: F401 - fixtures

PAGES_PER_ROLE = 24
SKIP = ("/logout", "/export", ".pdf", ".csv", "/download", "/api/", "/static/", "page=",
        "/acrf", "/print")
ROLES = ("crc", "pi", "cra", "dm", "sponsor", "admin")


def _data(app, world):
    with app.app_context():
        enter_eligible(world.subject_tj)
        cra = db.session.get(User, world.users["cra"])
        queries.open_query(db.session.get(Subject, world.subject_tj),
                           queries.Place("SCREEN", "DM", "HEIGHT"), "Height in cm?", user=cra,
                           actor=audit.Actor.for_user(cra, source="web"))
        db.session.commit()


def _serious(axe, page) -> list[str]:
    found = axe.run(page).response["violations"]
    return [f"{v['id']} ({v['impact']}): {v['help']} — "
            + "; ".join(n["target"][0] if isinstance(n["target"][0], str) else str(n["target"])
                        for n in v["nodes"][:3])
            for v in found if v["impact"] in ("serious", "critical")]


def test_every_page_passes_axe_core(app, world, live_url, browser_page):  # noqa: F811
    from axe_playwright_python.sync_playwright import Axe

    _data(app, world)
    axe, page, problems, seen = Axe(), browser_page, {}, set()
    page.goto(f"{live_url}/login")
    problems.update({"/login": p} if (p := _serious(axe, page)) else {})
    for role in ROLES:
        page.context.clear_cookies()
        sign_in(page, live_url, role)
        s = world.subject_tj  # the pages of a subject first: they are where the work is
        queue, visited = deque(["/", f"/subjects/{s}", f"/subjects/{s}/forms/SCREEN/DM",
                                f"/subjects/{s}/forms/SCREEN/LB", f"/subjects/{s}/forms/SCREEN/DA",
                                f"/subjects/{s}/eligibility", "/dashboards", "/audit/"]), 0
        while queue and visited < PAGES_PER_ROLE:
            path = queue.popleft()
            page.goto(live_url + path)
            visited += 1
            key = f"{role} {urlparse(page.url).path}"
            if key not in seen:
                seen.add(key)
                if found := _serious(axe, page):
                    problems[key] = found
            for href in page.eval_on_selector_all("a[href]", "els => els.map(e => e.href)"):
                href = urldefrag(href)[0]
                if not href.startswith(live_url) or any(s in href for s in SKIP):
                    continue
                link = href[len(live_url):] or "/"
                if link not in queue and f"{role} {urlparse(link).path}" not in seen:
                    queue.append(link)
    assert len(seen) > 80, sorted(seen)  # the walk reached the pages of every role
    assert {f"crc /subjects/{world.subject_tj}/forms/SCREEN/DA", "cra /monitoring/sdv",
            "dm /data-management/locks", "pi /queries", "admin /admin/users",
            "sponsor /dashboards"} <= seen, sorted(seen)
    assert not problems, "\n".join(f"{k}: {v}" for k, v in problems.items())
