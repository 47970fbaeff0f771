"""The interface in Chinese: every page each role reaches, in zh_CN, shows no text of the
catalog untranslated, and the catalog translates every text the code and templates use."""

from __future__ import annotations

import re
from collections import deque
from html.parser import HTMLParser
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from edc.i18n import TRANSLATIONS
from tests.conftest import csrf_token, enter_eligible, login

ROOT = Path(__file__).resolve().parent.parent
CATALOG = TRANSLATIONS / "zh" / "LC_MESSAGES" / "messages.po"
SKIP = ("/logout", "/export", ".pdf", ".csv", "/download", "/api/", "/static/", "page=")
# Texts still shown in English on Chinese pages, each written by Python code (status words,
# work-list rows, dashboard headers, the audit trail's and the checklist's words) or an
# English-only name of the study build (event names). They are the known gaps of the Chinese
# interface, to translate next; this list only shrinks: any other text fails the walk.
KNOWN_GAPS = frozenset()


def _catalog():
    with CATALOG.open("rb") as fh:
        return read_po(fh)


def _extracted() -> set:
    ids = set()
    for _, _, message, _, _ in extract_from_dir(
            str(ROOT), method_map=[("edc/**.py", "python"), ("forms/**.py", "python"),
                                   ("audit/actions.py", "python"),
                                   ("templates/**.html", "jinja2")],
            options_map={"templates/**.html": {"extensions": "jinja2.ext.do"}},
            keywords={"_": None, "gettext": None, "ngettext": (1, 2), "_l": None,
                      "lazy_gettext": None, "N_": None, "Message": None}):
        ids.add(message[0] if isinstance(message, tuple) else message)
    return ids


def test_the_catalog_translates_every_text_of_the_interface():
    catalog = _catalog()
    translated = {m.id[0] if isinstance(m.id, tuple) else m.id for m in catalog
                  if m.id and (m.string[0] if isinstance(m.string, tuple) else m.string)}
    missing = sorted(_extracted() - translated)
    assert not missing, f"untranslated (run `make messages` and translate): {missing[:20]}"


class _Text(HTMLParser):
    """The visible texts of a page (not scripts, styles or elements marked translate=no)."""

    def __init__(self):
        super().__init__()
        self.texts, self._skip = [], []

    def handle_starttag(self, tag, attrs):
        if tag in ("script", "style") or dict(attrs).get("translate") == "no" or (
                self._skip and tag == self._skip[-1]):
            self._skip.append(tag)

    def handle_endtag(self, tag):
        if self._skip and tag == self._skip[-1]:
            self._skip.pop()

    def handle_data(self, data):
        if not self._skip and data.strip():
            self.texts.append(" ".join(data.split()))


def test_every_page_in_chinese_shows_no_untranslated_text(app, world):
    catalog = {m.id.strip() for m in _catalog() if m.id and isinstance(m.id, str)
               and re.search(r"[A-Za-z]{3,}", m.id) and m.id.strip() not in (
                   "CAR-T EDC", "ICAHT", "SHA-256", "CDASH / SDTM", "IIM-4", "C-1 IIM-3",
                   "YYYY-MM-DD", "SDV", "· CAR-T EDC")}
    with app.app_context():
        enter_eligible(world.subject_tj)
    untranslated, seen, still = {}, set(), set()
    for role in ("crc", "pi", "cra", "dm", "sponsor", "admin"):
        c = app.test_client()
        login(c, role)
        token = csrf_token(c, "/account/password")
        r = c.post("/language", data={"csrf_token": token, "lang": "zh", "next": "/"})
        assert r.status_code == 303
        s = world.subject_tj
        queue = deque(["/", f"/subjects/{s}", f"/subjects/{s}/forms/SCREEN/DM",
                       f"/subjects/{s}/eligibility", "/dashboards"])
        visited = 0
        while queue and visited < 30:
            path = queue.popleft()
            visited += 1
            html = c.get(path).get_data(as_text=True)
            seen.add(f"{role} {path}")
            parser = _Text()
            parser.feed(html)
            english = {t for t in parser.texts if t in catalog}
            still |= english & KNOWN_GAPS
            left = sorted(english - KNOWN_GAPS)
            if left:
                untranslated[f"{role} {path}"] = left
            for href in re.findall(r'href="(/[^"#]*)"', html):
                href = href.replace("&amp;", "&")
                if not any(x in href for x in SKIP) and href not in queue and \
                        f"{role} {href}" not in seen:
                    queue.append(href)
    assert len(seen) > 60
    assert still == KNOWN_GAPS, f"translated now, remove from KNOWN_GAPS: {KNOWN_GAPS - still}"
    assert not untranslated, "\n".join(f"{k}: {v}" for k, v in untranslated.items())


def test_the_chinese_start_page_and_form(app, world):
    c = app.test_client()
    login(c, "crc")
    c.post("/language", data={"csrf_token": csrf_token(c, "/"), "lang": "zh", "next": "/"})
    html = c.get("/").get_data(as_text=True)
    assert "受试者" in html and "退出" in html and "Sign out" not in html
    assert '<html lang="zh-CN">' in html
    form = c.get(f"/subjects/{world.subject_tj}/forms/SCREEN/DM").get_data(as_text=True)
    assert "保存" in form and "人口学资料" in form


# Texts of the system (flash messages, refusals, edit checks, the trail's words) ---------------

def _in_chinese(app, role):
    c = app.test_client()
    login(c, role)
    c.post("/language", data={"csrf_token": csrf_token(c, "/"), "lang": "zh", "next": "/"})
    return c


def test_refusals_and_flags_in_chinese_and_the_record_in_english(app, world):
    """A coordinator reading Chinese sees the edit checks and the save message in Chinese;
    the system query and the audit trail keep the English text, whoever saved."""
    from audit.models import AuditEntry
    from edc.extensions import db
    from edc.models import Query
    c = _in_chinese(app, "crc")
    url = f"/subjects/{world.subject_tj}/forms/SCREEN/LB"
    r = c.post(url, data={"csrf_token": csrf_token(c, url), "version": "0",
                          "LBDAT": "2099-01-01", "HGB": "abc"})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    assert "晚于今天" in html and "请输入数字（小数点用 .）" in html
    assert "is after today" not in html and "enter a number" not in html
    r = c.post(url, data={"csrf_token": csrf_token(c, url), "version": "0",
                          "LBDAT": "2026-11-20", "HGB": "100"})
    assert r.status_code == 302
    html = c.get(url).get_data(as_text=True)
    assert '<p class="warn" id="HGB-warn">100 g/L 超出正常范围 115–175' in html
    assert '<a href="#HGB">血红蛋白: 100 g/L 超出正常范围 115–175</a>' in html
    assert "已保存并标记：超出正常范围或不一致" in html
    with app.app_context():
        query = db.session.scalar(db.select(Query).where(Query.item_oid == "HGB"))
        assert query.messages[0].text == "100 g/L is outside the normal range 115–175"
        texts = [str(e.details) for e in db.session.scalars(db.select(AuditEntry).where(
            AuditEntry.action == "query.open"))]
        assert any("outside the normal range" in t for t in texts)
        assert not any("超出" in t for t in texts)
        query_id = query.id
    # the system query's thread reads in Chinese too; the record stays English
    thread = c.get(f"/queries/{query_id}").get_data(as_text=True)
    assert "100 g/L 超出正常范围 115–175" in thread and "is outside the normal" not in thread
    listing = c.get("/queries?state=all").get_data(as_text=True)
    assert "100 g/L 超出正常范围 115–175" in listing
    r = c.post(url, data={"csrf_token": csrf_token(c, url), "version": "1", "LBDAT": "2026-11-20",
                          "HGB": "130", "reason": "Transcription error"})
    assert r.status_code == 302
    thread = c.get(f"/queries/{query_id}").get_data(as_text=True)
    assert "The edit check passes" not in thread  # the automatic closing note
    assert "第 2 版保存的值已通过编辑核查" in thread
    with app.app_context():
        note = db.session.get(Query, query_id).messages[-1].text
        assert note == "The edit check passes on the value saved in version 2."


def test_the_api_speaks_english_to_a_user_who_reads_chinese(app, world, token):
    _in_chinese(app, "crc")  # the account's language is now Chinese
    api = app.test_client()
    r = api.put(f"/api/v1/subjects/{world.subject_tj}/forms/SCREEN/LB",
                json={"items": {"HGB": "x"}, "version": 0}, headers=token("crc"))
    assert r.status_code == 422 and r.json["errors"]["HGB"].startswith("enter a number")


def test_flash_messages_roles_and_the_trail_in_chinese(app, world):
    c = _in_chinese(app, "crc")
    r = c.post("/logout", data={"csrf_token": csrf_token(c, "/")}, follow_redirects=True)
    assert "您已退出登录。" in r.get_data(as_text=True)
    c = _in_chinese(app, "dm")
    html = c.get("/").get_data(as_text=True)
    assert '<span class="role">数据管理员' in html
    trail = c.get("/audit/").get_data(as_text=True)
    assert "已登录" in trail and "角色或中心已更改" in trail and "Signed in" not in trail
    assert "<option value=\"auth.login\">已登录</option>" in trail


def test_checklist_work_list_and_dashboards_name_things_in_chinese(app, world):
    c = _in_chinese(app, "crc")
    checklist = c.get(f"/subjects/{world.subject_tj}/eligibility").get_data(as_text=True)
    assert "实验室检查 › 采样日期" in checklist and "Laboratory ›" not in checklist
    assert "缺失" in checklist and ">missing<" not in checklist
    # what a criterion lacks, in words and in Chinese (the evaluation keeps the English)
    assert "实验室检查 › 采样日期</a> 未录入" in checklist and "is not entered" not in checklist
    funnel = c.get("/dashboards").get_data(as_text=True)
    assert "已筛选" in funnel and ">screened<" not in funnel


# Templates: no text outside the catalog ------------------------------------------------------

_ATTRS = re.compile(r'\b(?:placeholder|title|aria-label|alt)="([^"{}]*)"')
_WORD = re.compile(r"[A-Za-z]{2,}")
CODES = {"TJ-S001", "LB", "HGB", "CAR-T EDC"}  # examples of codes, the product's name


def untranslated_texts(source: str) -> list[str]:
    """The literal texts of a template that are not gettext calls: text between HTML tags
    (not in <style> or <script>) and the texts of placeholder, title, aria-label and alt."""
    from jinja2 import Environment

    env = Environment(extensions=["jinja2.ext.do"], keep_trailing_newline=True,
                      autoescape=True)  # only its lexer is used
    found, text, tag = [], [], None
    raw = None
    for _, kind, value in env.lex(source):
        if kind != "data":
            if tag is None and text:
                found.append("".join(text))
                text = []
            if tag is not None:
                tag.append("\x00")  # an expression inside a tag
            continue
        for ch in value:
            if tag is not None:
                tag.append(ch)
                if ch == ">":
                    name = "".join(tag).lower()
                    found.extend(m for m in _ATTRS.findall("".join(tag)) if "\x00" not in m)
                    if name.startswith(("<style", "<script")):
                        raw = "</" + name[1:].split()[0].rstrip(">")
                    elif raw and name.startswith(raw):
                        raw = None
                    tag = None
            elif ch == "<":
                if text and not raw:
                    found.append("".join(text))
                text, tag = [], ["<"]
            elif not raw:
                text.append(ch)
    found.append("".join(text))
    return [t.strip() for t in found if _WORD.search(t) and t.strip() not in CODES]


def test_every_template_text_is_a_catalog_message():
    left = {str(p.relative_to(ROOT)): texts for p in sorted((ROOT / "templates").rglob("*.html"))
            if (texts := untranslated_texts(p.read_text()))}
    assert not left, left


def test_the_template_scan_finds_literal_text():
    assert untranslated_texts('<p title="Hello there">{{ x }} Save it</p>') == [
        "Hello there", "Save it"]
    assert untranslated_texts("<style>p { font: 9pt sans-serif; }</style><b>{{ _('Ok') }}</b>") \
        == []


def test_the_language_is_kept_with_the_account_and_defaults_from_the_site(app, world):
    from edc.extensions import db
    from edc.models import Site, User

    c = app.test_client()
    login(c, "crc")
    assert '<html lang="en">' in c.get("/").get_data(as_text=True)
    c.post("/language", data={"csrf_token": csrf_token(c, "/account/password"), "lang": "zh",
                               "next": "/"})
    again = app.test_client()
    login(again, "crc")  # a new session: the account remembers the choice
    assert '<html lang="zh-CN">' in again.get("/").get_data(as_text=True)
    with app.app_context():
        assert db.session.get(User, world.users["crc"]).language == "zh"
        site = db.session.get(Site, world.tj)
        site.language = "zh"  # a site whose users read Chinese until they choose
        import audit
        from edc.cli import cli_actor
        audit.record(db.session, "site.update", actor=cli_actor(), site=site,
                     target_type="site", target_id=str(site.id), item_oid="language",
                     old_value=None, new_value="zh", reason="test set-up")
        db.session.commit()
    pi = app.test_client()
    login(pi, "pi")  # never chose: the site's language
    assert '<html lang="zh-CN">' in pi.get("/").get_data(as_text=True)
    dm = app.test_client()
    login(dm, "dm")  # a role of all sites, without a choice: English
    assert '<html lang="en">' in dm.get("/").get_data(as_text=True)


def test_catalogs_compile_where_the_code_may_not_be_written(tmp_path, monkeypatch):
    from edc import i18n

    i18n.compile_catalogs(tmp_path)  # a fresh target: the .mo is built there
    mo = tmp_path / "zh" / "LC_MESSAGES" / "messages.mo"
    assert mo.stat().st_size > 10_000
    assert not list(tmp_path.rglob("*.tmp"))


def test_a_stored_system_message_reads_back_only_as_the_same_english_text():
    from forms.text import Message, from_json, to_json

    inner = Message("%(item)s is not entered", item="LB.LBDAT")
    outer = Message("%(first)s; %(rest)s", first=inner, rest=Message("%(items)s not entered",
                                                                    items="DX.COHORT"))
    back = from_json(to_json(outer), str(outer))
    assert isinstance(back, Message) and back == outer
    assert isinstance(back.params["first"], Message) and back.params["first"] == inner
    assert to_json("typed by a person") is None  # typed text never goes through the catalog
    assert from_json(to_json(outer), "another text") == "another text"  # not the record
    assert from_json("{not json", "the record") == "the record"
