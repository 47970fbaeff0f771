"""The form page and the casebook, through the browser-facing routes."""

from __future__ import annotations

import re

from sqlalchemy import select

import audit
from edc.crf.services import save_form
from edc.extensions import db
from edc.models import AuditEntry, Subject
from tests.conftest import count_statements, csrf_token, login, mark_enrolled

EC = "/subjects/{}/forms/SCREEN/EC"


def post(client, url, data):
    return client.post(url, data={"csrf_token": csrf_token(client, url), **data})


def test_enter_read_back_and_correct_with_a_reason(app, world):
    c = app.test_client()
    login(c, "crc")
    url = EC.format(world.subject_tj)
    page = c.get(url).get_data(as_text=True)
    assert 'name="ECOG"' in page and "ECOG performance status" in page
    r = post(c, url, {"version": "0", "ECDAT": "2026-11-20", "ECOG": "1"})
    assert r.status_code == 302
    page = c.get(url).get_data(as_text=True)
    assert "Version 1 · complete" in page and '<option selected value="1">' in page
    assert "Reason for change" in page
    r = post(c, url, {"version": "1", "ECDAT": "2026-11-20", "ECOG": "0"})
    assert r.status_code == 422
    assert "give a reason for change" in r.get_data(as_text=True)
    r = post(c, url, {"version": "1", "ECDAT": "2026-11-20", "ECOG": "0",
                      "reason": "Transcription error", "reason_text": "source says 0"})
    assert r.status_code == 302
    with app.app_context():
        entry = db.session.scalar(db.select(audit.AuditEntry).where(
            audit.AuditEntry.item_oid == "ECOG", audit.AuditEntry.action == "data.update"))
        assert entry.reason == "Transcription error: source says 0"


def test_bad_value_is_shown_next_to_the_field_and_nothing_saved(app, world):
    c = app.test_client()
    login(c, "pi")
    url = f"/subjects/{world.subject_tj}/forms/SCREEN/LB"
    r = post(c, url, {"version": "0", "LBDAT": "2026-11-20", "HGB": "500", "ANC": "abc"})
    assert r.status_code == 422
    html = r.get_data(as_text=True)
    # the summary at the top links to each field; the message is next to it and named by it
    summary = html[html.index('id="summary"'):html.index("</div>", html.index('id="summary"'))]
    assert "nothing was saved" in summary and 'role="alert"' in html[:html.index("summary-title")]
    assert '<a href="#HGB">Haemoglobin: 500 g/L is outside the plausible range' in summary
    assert '<a href="#ANC">Absolute neutrophil count: enter a number' in summary
    assert re.search(r'<small class="hint" id="HGB-hint">g/L, normal 115–175[^<]*</small>\s*'
                     r'<p class="error" id="HGB-error"><span class="visually-hidden">Error:'
                     r'</span> 500 g/L is outside the plausible range', html)
    hgb = re.search(r'<input[^>]*name="HGB"[^>]*>', html).group(0)
    assert 'aria-describedby="HGB-hint HGB-error"' in hgb and 'aria-invalid="true"' in hgb
    assert 'value="500"' in hgb  # what was typed stays to be corrected
    assert "enter a number (use . for decimals)" in html
    assert "Haemoglobin · 血红蛋白" in html  # both labels of the metadata
    assert "Version 0 · not started" in html


def test_someone_else_saved_first_answers_409_with_the_differences(app, world):
    first, second = app.test_client(), app.test_client()
    login(first, "crc")
    login(second, "pi")
    url = EC.format(world.subject_tj)
    token2 = csrf_token(second, url)  # the investigator opened the form at version 0
    assert post(first, url, {"version": "0", "ECDAT": "2026-11-20", "ECOG": "1"}
                ).status_code == 302
    r = second.post(url, data={"csrf_token": token2, "version": "0", "ECDAT": "2026-11-20",
                               "ECOG": "2"})
    assert r.status_code == 409
    html = r.get_data(as_text=True)
    assert "Someone else saved this form first" in html
    assert re.search(r"<td>ECOG</td><td>1</td><td>2</td>", html)


def test_roles_without_pii_see_the_form_read_only_and_withheld(app, world):
    with app.app_context():
        subject = db.session.get(Subject, world.subject_tj)
        save_form(subject, "SCREEN", "DM", {"INITIALS": "LXM", "BRTHDAT": "1980-01-02",
                                            "SEX": "F", "HEIGHT": "160", "WEIGHT": "55"},
                  version=0, actor=audit.Actor.system())
        db.session.commit()
    url = f"/subjects/{world.subject_tj}/forms/SCREEN/DM"
    for role, sees in (("crc", True), ("cra", True), ("dm", False), ("sponsor", False)):
        c = app.test_client()
        login(c, role)
        html = c.get(url).get_data(as_text=True)
        assert ("LXM" in html) is sees, role
        assert ("1980-01-02" in html) is sees, role
        assert ('<button type="submit">Save</button>' in html) is (role == "crc"), role


def test_casebook_shows_form_statuses_with_constant_queries(app, world):
    c = app.test_client()
    login(c, "crc")
    url = f"/subjects/{world.subject_tj}"

    def statements() -> int:
        return count_statements(app, c, url)

    with app.app_context():
        mark_enrolled(world.subject_tj)
        subject = db.session.get(Subject, world.subject_tj)
        save_form(subject, "D1", "VS", {"VSDAT": "2026-11-20", "TEMP": "37"}, version=0,
                  actor=audit.Actor.system())
        db.session.commit()
    one = statements()
    with app.app_context():
        subject = db.session.get(Subject, world.subject_tj)
        for d in range(2, 15):
            for form in ("VS", "CRS", "LB"):
                items = {"VS": {"VSDAT": "2026-11-20", "TEMP": "37"},
                         "CRS": {"CRSDAT": "2026-11-20", "FEVER": "N", "HYPOTEN": "none",
                                 "HYPOXIA": "none"},
                         "LB": {"LBDAT": "2026-11-20", "HGB": "120"}}[form]
                save_form(subject, f"D{d}", form, items, version=0, actor=audit.Actor.system())
        db.session.commit()
    many = statements()
    assert many == one, (one, many)
    html = c.get(url).get_data(as_text=True)
    assert html.count('class="st st-complete"') + html.count('class="st st-incomplete"') == 40


def test_log_rows_from_the_subject_page(app, world):
    c = app.test_client()
    login(c, "crc")
    r = c.get(f"/subjects/{world.subject_tj}/logs/AE/new")
    assert r.status_code == 302 and r.headers["Location"].endswith("/forms/LOG/AE")
    r = post(c, r.headers["Location"], {"version": "0", "AETERM": "Fever", "AESTDAT": "2026-11-20",
                                        "AETOXGR": "1", "AESER": "N", "AERELCT": "RELATED"})
    assert r.status_code == 302
    assert c.get(f"/subjects/{world.subject_tj}/logs/AE/new").headers["Location"].endswith(
        "/forms/LOG/AE/2")
    assert c.get(f"/subjects/{world.subject_tj}/forms/SCREEN/EC/2").status_code == 404


def test_data_dictionary_lists_every_item_with_its_metadata(app, world):
    from forms.study_build import BUILD

    c = app.test_client()
    login(c, "sponsor")
    html = c.get("/study/dictionary").get_data(as_text=True)
    for form in BUILD.forms.values():
        for item in form.items:
            assert f"<td>{item.oid(form.oid)}</td>" in html
    assert "umol/L: 10–2500" in html and "if SEX = F" in html and "LBORRES:HGB" in html


def test_form_pages_load_the_unsaved_changes_warning(app, world):
    c = app.test_client()
    login(c, "crc")
    html = c.get(EC.format(world.subject_tj)).get_data(as_text=True)
    assert '<script src="/static/edc.js" defer></script>' in html and 'class="card crf"' in html
    assert "beforeunload" in c.get("/static/edc.js").get_data(as_text=True)


def test_blank_annotated_crf_pdf(app, world):
    import io

    import pikepdf
    from pypdf import PdfReader

    c = app.test_client()
    login(c, "dm")
    r = c.get("/study/acrf.pdf")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    # pypdf reads the two-byte codes of a large WeasyPrint font subset with a NUL high byte
    text = "\n".join(p.extract_text() for p in PdfReader(io.BytesIO(r.data)).pages)
    text = text.replace("\x00", "")
    for needle in ("I.LB.HGB", "SDTM LBORRES:HGB", "plausible 30", "F.AE (repeating)",
                   "PII: withheld from sponsor exports", "derived: crs", "SE.Y15",
                   "IG.DA.SLEDAI", "I.VS.WEIGHT"):
        assert needle in text, needle
    with pikepdf.open(io.BytesIO(r.data)) as pdf, pdf.open_metadata() as meta:
        assert meta["pdfaid:part"] == "2"


def test_the_annotated_crf_is_laid_out_once_and_kept(app, world, tmp_path, monkeypatch):
    from edc.build import services

    app.config["EDC_CACHE_DIR"] = str(tmp_path)
    c = app.test_client()
    login(c, "crc")

    def broken(*_args):
        raise RuntimeError("the layout failed")

    real = services.render_acrf
    monkeypatch.setattr(services, "render_acrf", broken)
    assert c.get("/study/acrf.pdf").status_code == 500
    assert list(tmp_path.iterdir()) == []  # no half-written file left
    monkeypatch.setattr(services, "render_acrf", real)
    first = c.get("/study/acrf.pdf").data
    [kept] = tmp_path.iterdir()
    assert kept.read_bytes() == first and kept.name.startswith("acrf-")
    monkeypatch.setattr(services, "render_acrf", broken)  # no second layout
    r = c.get("/study/acrf.pdf")
    assert r.status_code == 200 and r.data == first
    assert r.headers["Content-Disposition"].startswith("attachment")
    with app.app_context():
        handed_out = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "build.acrf_pdf")).all()
    assert [e.username for e in handed_out] == ["crc", "crc"]  # each download audited


def test_edc_init_lays_out_the_annotated_crf_and_a_failure_does_not_fail_it(
        app, world, tmp_path, monkeypatch):
    from edc.build import services

    app.config["EDC_CACHE_DIR"] = str(tmp_path)
    real = services.render_acrf

    def broken(*_args):
        raise RuntimeError("no fonts here")

    monkeypatch.setattr(services, "render_acrf", broken)
    result = app.test_cli_runner().invoke(args=["init"])
    assert result.exit_code == 0 and "could not be laid out now" in result.output
    assert list(tmp_path.iterdir()) == []
    monkeypatch.setattr(services, "render_acrf", real)
    result = app.test_cli_runner().invoke(args=["init"])
    [made] = tmp_path.iterdir()
    assert result.exit_code == 0 and str(made) in result.output


def test_labels_switch_between_english_and_chinese(app, world):
    c = app.test_client()
    login(c, "crc")
    url = f"/subjects/{world.subject_tj}/forms/SCREEN/SR"
    html = c.get(url).get_data(as_text=True)
    assert "HBsAg · 乙肝表面抗原" in html and "Positive (POS)" in html
    r = c.post("/language", data={"csrf_token": csrf_token(c, url), "lang": "zh",
                                  "next": url})
    assert r.status_code == 303 and r.headers["Location"].endswith(url)
    html = c.get(url).get_data(as_text=True)
    assert "乙肝表面抗原 · HBsAg" in html and "阳性 (POS)" in html and "感染筛查" in html
    r = c.post("/language", data={"csrf_token": csrf_token(c, url), "lang": "fr",
                                  "next": "https://elsewhere.example/"})
    assert r.status_code == 303 and r.headers["Location"].endswith("/")  # no open redirect
    for elsewhere in ("//evil.example/", "/\\evil.example/"):
        r = c.post("/language", data={"csrf_token": csrf_token(c, url), "lang": "zh",
                                      "next": elsewhere})
        assert r.headers["Location"] in ("/", "http://localhost/")
    assert "乙肝表面抗原 · HBsAg" in c.get(url).get_data(as_text=True)  # unchanged


def test_item_groups_structure_the_page_the_dictionary_and_the_api(app, world, token):
    body = app.test_client().get("/api/v1/study", headers=token("crc")).json
    da = body["forms"]["DA"]
    assert [g["oid"] for g in da["item_groups"]] == [
        "IG.DA", "IG.DA.SLEDAI", "IG.DA.LN", "IG.DA.SSC", "IG.DA.IIM", "IG.DA.AAV"]
    by_name = {i["name"]: i["group"] for i in da["items"]}
    assert by_name["SLEDAI01"] == "IG.DA.SLEDAI" and by_name["DADAT"] == "IG.DA"
    assert {g["oid"] for g in body["forms"]["LB"]["item_groups"]} == {"IG.LB"}
    c = app.test_client()
    login(c, "crc")
    html = c.get(f"/subjects/{world.subject_tj}/forms/SCREEN/DA").get_data(as_text=True)
    assert html.count('class="item-group"') == 6 and "SSc: skin score and lung function" in html
    assert 'class="item-group"' not in c.get(
        f"/subjects/{world.subject_tj}/forms/SCREEN/LB").get_data(as_text=True)
    assert "IG.DX.SLE2019" in c.get("/study/dictionary").get_data(as_text=True)


def test_chinese_labels_print_in_a_cjk_font(app, world):
    """The annotated CRF (like every PDF) embeds Noto Sans CJK for the Chinese labels."""
    import glob
    import io

    import pytest
    from pypdf import PdfReader

    from tests.conftest import REQUIRE_PG

    if not glob.glob("/usr/share/fonts/**/NotoSansCJK*", recursive=True):
        if REQUIRE_PG:  # CI: the test command installs Debian's fonts-noto-cjk
            pytest.fail("fonts-noto-cjk is not installed")
        pytest.skip("Chinese fonts are not installed (apt-get install fonts-noto-cjk)")
    c = app.test_client()
    login(c, "dm")
    reader = PdfReader(io.BytesIO(c.get("/study/acrf.pdf").data))
    text = "".join(p.extract_text() for p in reader.pages[:12]).replace("\x00", "")
    assert "知情同意日期" in text  # IC.RFICDAT
    embedded = {str(f.get_object()["/BaseFont"]) for p in reader.pages[:12]
                for f in p["/Resources"].get("/Font", {}).values()}
    assert any("CJK" in name for name in embedded), embedded
