"""In a real browser (Debian's Chromium driven by Playwright): inline errors, the
unsaved-changes warning (JavaScript), and the investigator's signature and enrollment."""

from __future__ import annotations

import os
import shutil
import threading

import pytest
from werkzeug.serving import make_server

from tests.conftest import PASSWORD, REQUIRE_PG, TOTP_SECRETS, pi_code, totp_code

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]


@pytest.fixture
def browser_page():
    if not os.path.exists(CHROMIUM):
        if REQUIRE_PG:  # CI: the test command installs Debian's chromium
            pytest.fail("Debian's chromium is not installed")
        pytest.skip("Debian's chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        yield page
        browser.close()


@pytest.fixture
def live_url(app):
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()


def test_coordinator_sees_errors_at_the_field_and_is_warned_before_losing_input(
        live_url, world, browser_page):
    page = browser_page
    page.goto(f"{live_url}/login")
    page.fill("#username", "crc")
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url == f"{live_url}/"
    form_url = f"{live_url}/subjects/{world.subject_tj}/forms/SCREEN/LB"
    page.goto(form_url)
    page.fill("input[name=LBDAT]", "2026-11-20")
    page.click("input[name=HGB]")
    page.keyboard.type("500")
    with page.expect_navigation():
        page.click("form.crf button[type=submit]")
    error = page.locator(".field.has-error", has=page.locator("input[name=HGB]"))
    assert "outside the plausible range 30–250 g/L" in error.inner_text()

    page.click("input[name=ANC]")
    page.keyboard.type("1.5")  # unsaved
    dialogs = []

    def on_dialog(dialog):
        dialogs.append(dialog.type)
        dialog.dismiss()  # stay on the page

    page.on("dialog", on_dialog)
    page.evaluate("document.querySelector('a.brand').click()")
    page.wait_for_timeout(500)
    assert dialogs == ["beforeunload"]
    assert page.url == form_url


def sign_in(page, live_url, username):
    """Sign in through the page (the code too, for an account with a second factor)."""
    page.goto(f"{live_url}/login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    if page.url.endswith("/login/code"):  # an account with a second factor
        page.fill("#code", totp_code(TOTP_SECRETS[username]))
        with page.expect_navigation():
            page.click("button[type=submit]")


def test_investigator_signs_and_coordinator_enrolls_in_the_browser(app, live_url, world,
                                                                   browser_page):
    from tests.conftest import enter_eligible

    with app.app_context():
        enter_eligible(world.subject_tj, "AAV")
    page = browser_page
    checklist = f"{live_url}/subjects/{world.subject_tj}/eligibility"
    sign_in(page, live_url, "pi")
    page.goto(checklist)
    page.fill("form.sign-form #username", "pi")
    page.fill("form.sign-form #password", PASSWORD)
    page.fill("form.sign-form #code", pi_code())
    with page.expect_navigation():
        page.click("form.sign-form button[type=submit]")
    signature = page.locator(".signature").first.inner_text()
    assert "Test Investigator" in signature and "UTC" in signature
    assert "Asia/Shanghai" in signature and "valid" in signature
    assert "I confirm this subject meets all eligibility criteria" in signature
    with page.expect_navigation():
        page.click("form.inline button.link:text('Sign out')")

    sign_in(page, live_url, "crc")
    page.goto(checklist)
    assert page.locator("form.sign-form").count() == 0  # a coordinator does not sign
    with page.expect_navigation():
        page.click("#enrollment button[type=submit]")
    assert "Subject enrolled as TJ-001." in page.inner_text("body")
    page.screenshot(path=str(_shots() / "investigator-signed-coordinator-enrolled.png"),
                    full_page=True)


def test_monitor_raises_a_query_coordinator_corrects_monitor_closes_and_verifies(
        app, live_url, world, browser_page):
    from edc.cli import cli_actor
    from edc.crf.services import save_form
    from edc.extensions import db
    from edc.models import Subject
    from edc.uow import unit_of_work

    with app.app_context(), unit_of_work():
        save_form(db.session.get(Subject, world.subject_tj), "SCREEN", "EC",
                  {"ECDAT": "2026-11-20", "ECOG": "1"}, version=0, actor=cli_actor())
    page = browser_page
    form_url = f"{live_url}/subjects/{world.subject_tj}/forms/SCREEN/EC"

    sign_in(page, live_url, "cra")
    page.goto(form_url)
    with page.expect_navigation():
        page.click("#item-ECOG .item-actions a:text('query')")
    page.fill("#text", "The clinic note says ECOG 0.")
    with page.expect_navigation():
        page.click("button:text('Raise the query')")
    assert "1 open" in page.inner_text("#item-ECOG")
    page.context.clear_cookies()  # the next person signs in

    sign_in(page, live_url, "crc")
    page.goto(form_url)
    with page.expect_navigation():
        page.click("a:text('correct the value')")
    assert "Answering query" in page.inner_text("#answering")
    page.select_option("select[name=ECOG]", "0")
    page.fill("#query_answer", "Corrected from the clinic note.")
    with page.expect_navigation():
        page.click("form.crf button[type=submit]")
    assert "answered" in page.inner_text("#queries")
    page.context.clear_cookies()  # the next person signs in

    sign_in(page, live_url, "cra")
    page.goto(form_url)
    with page.expect_navigation():
        page.click("#queries h3 a")
    page.fill("#text-m", "Matches the source.")
    with page.expect_navigation():
        page.click("button:text('Close the query')")
    assert "closed" in page.inner_text("h1")
    page.goto(form_url)
    with page.expect_navigation():
        page.click("button:text('Verify all')")
    assert "verified" in page.inner_text("#item-ECOG")
    assert "SDV: verified" in page.content()


def test_the_form_shows_what_applies_and_asks_a_reason_only_for_a_change(live_url, world,
                                                                         browser_page):
    page = browser_page
    sign_in(page, live_url, "crc")
    page.goto(f"{live_url}/subjects/{world.subject_tj}/forms/SCREEN/DM")
    childpot, partpot = page.locator("#item-CHILDPOT"), page.locator("#item-PARTPOT")
    assert not childpot.is_visible() and not partpot.is_visible()  # sex not chosen yet
    page.select_option("select[name=SEX]", "M")
    assert partpot.is_visible() and not childpot.is_visible()
    page.select_option("select[name=SEX]", "F")
    assert childpot.is_visible() and not partpot.is_visible()
    page.select_option("select[name=CHILDPOT]", "Y")
    page.fill("input[name=BRTHDAT]", "1980-05-01")
    with page.expect_navigation():
        page.click("form.crf button[type=submit]")
    assert page.locator("#summary").is_visible()  # height and weight are still required
    assert "Required, not yet entered" in page.locator("#summary").inner_text()

    reason = page.locator("#reason-fields")
    page.fill("input[name=HEIGHT]", "160")  # a first value is not a change: no reason
    assert not reason.is_visible()
    page.select_option("select[name=SEX]", "M")  # a saved value changes: the reason is asked,
    assert reason.is_visible()  # and the held CHILDPOT stays, asking to be removed
    assert childpot.is_visible() and page.locator("#CHILDPOT-na").is_visible()
    page.select_option("select[name=CHILDPOT]", "")
    assert not childpot.is_visible() and partpot.is_visible()
    page.select_option("select[name=SEX]", "F")
    page.select_option("select[name=CHILDPOT]", "Y")
    page.fill("input[name=HEIGHT]", "")
    assert not reason.is_visible()  # back to the saved values


def test_a_session_timeout_warns_and_loses_no_typed_value(app, live_url, world, browser_page):
    from datetime import timedelta

    app.config.update(EDC_IDLE_TIMEOUT=timedelta(seconds=8),
                      EDC_SESSION_TOUCH_INTERVAL=timedelta(0))
    page = browser_page
    sign_in(page, live_url, "crc")
    form_url = f"{live_url}/subjects/{world.subject_tj}/forms/SCREEN/LB"
    page.goto(form_url)
    warning = page.locator("#timeout-warning")
    assert not warning.is_visible()
    page.fill("input[name=LBDAT]", "2026-11-20")
    warning.wait_for(state="visible", timeout=8000)  # two minutes (here: 4 s) before the end
    assert page.evaluate("document.activeElement.id") == "stay-signed-in"
    page.click("#stay-signed-in")  # the session goes on
    warning.wait_for(state="hidden", timeout=3000)

    page.fill("input[name=HGB]", "131")  # typed, not saved; then nobody touches the page
    page.wait_for_url(f"{live_url}/login**", timeout=20000)  # the session ended
    page.screenshot(path=str(_shots() / "timeout-signed-out.png"))
    page.fill("#username", "crc")  # the sign-in page it was sent to returns to the form
    page.fill("#password", PASSWORD)
    with page.expect_navigation():
        page.click("button[type=submit]")
    assert page.url == form_url  # back to the form
    offer = page.locator("#draft-offer")
    assert offer.is_visible() and page.input_value("input[name=HGB]") == ""
    page.screenshot(path=str(_shots() / "timeout-offer.png"))
    page.click("[data-restore]")
    assert page.input_value("input[name=HGB]") == "131"
    assert page.input_value("input[name=LBDAT]") == "2026-11-20"
    with page.expect_navigation():
        page.click("form.crf button[type=submit]")
    assert "Laboratory saved" in page.inner_text(".flash-success")
    assert page.evaluate("Object.keys(sessionStorage).length") == 0  # cleared on save
    assert not page.locator("#draft-offer").is_visible()


def _shots():
    """Screenshots of the browser journeys, for people to look at (not compared)."""
    from pathlib import Path

    folder = Path(os.environ.get("EDC_TEST_OUTPUT", "test-output")) / "screenshots"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def test_a_coordinator_screens_a_subject_in_chinese(app, live_url, world, browser_page):
    """The whole screening through the pages in Chinese: every screening form typed in,
    saved with "Save and go to" the next one, until the checklist says the subject is
    eligible and waits for the investigator."""
    from edc.demo import screening_forms
    from edc.eligibility.services import site_today
    from edc.extensions import db
    from edc.models import Subject

    with app.app_context():
        today = site_today(db.session.get(Subject, world.subject_tj))
    page = browser_page
    sign_in(page, live_url, "crc")
    with page.expect_navigation():
        page.click("form.lang button")  # 中文
    assert page.locator("html").get_attribute("lang") == "zh-CN"
    assert "退出" in page.inner_text("header")
    base = f"{live_url}/subjects/{world.subject_tj}"
    for form, row, values in screening_forms("SLE", today):
        page.goto(f"{base}/forms/SCREEN/{form}" + (f"/{row}" if row > 1 else ""))
        for name, value in values.items():
            field = page.locator(f"form.crf [name={name}]")
            if field.evaluate("e => e.tagName") == "SELECT":
                field.select_option(value)
            else:
                field.fill(value)
        with page.expect_navigation():
            page.click("form.crf button[type=submit]:not([name])")
        flash = page.locator(".flash-success")
        assert flash.count() == 1 and "已保存" in flash.inner_text(), (form, page.url)
        if form in ("DM", "LB"):
            page.screenshot(path=str(_shots() / f"coordinator-zh-{form}.png"), full_page=True)
    page.goto(f"{base}/eligibility")
    body = page.inner_text("body")
    assert "等待研究者签名" in body and "入选标准核查表" in body
    page.screenshot(path=str(_shots() / "coordinator-zh-eligibility.png"), full_page=True)
    page.goto(live_url + "/")
    start = page.inner_text("main")
    assert "欢迎" in start and "质疑" in start
