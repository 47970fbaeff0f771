"""Human-readable and electronic copies of the trail: viewer, CSV, PDF (part11.md point 7)."""

from __future__ import annotations

import csv
import io
import re
from pathlib import Path

import pytest
from pypdf import PdfReader
from sqlalchemy import select

from edc.cli import cli_actor
from edc.clinical.store import write_items
from edc.extensions import db
from edc.models import AuditEntry, Job, Subject
from tests.conftest import audit_pdf, csrf_token, login


def _entry_data(app, world):
    with app.app_context():
        subject = db.session.get(Subject, world.subject_tj)
        write_items(subject, "SCREEN", "DM", {"INITIALS": "LXM", "SEX": "F"}, actor=cli_actor())
        write_items(subject, "SCREEN", "LB", {"HGB": "112"}, actor=cli_actor())
        db.session.commit()
        write_items(subject, "SCREEN", "LB", {"HGB": "121"}, actor=cli_actor(),
                    reason="transcription error")
        db.session.commit()


def test_viewer_filters_by_subject_item_and_shows_old_new_reason(app, world):
    _entry_data(app, world)
    c = app.test_client()
    login(c, "crc")
    html = c.get("/audit/?subject=tj-s001&item=HGB").get_data(as_text=True)
    assert "2 entries" in html
    assert '<span class="old">112</span> → <span class="new">121</span>' in html
    assert "transcription error" in html
    assert "CST (Asia/Shanghai)" in html and "UTC" in html


def test_viewer_is_site_scoped(app, world):
    c = app.test_client()
    login(c, "crc_bj")
    html = c.get("/audit/").get_data(as_text=True).split("<tbody>")[1]
    assert "BJ-S001" in html and "TJ-S001" not in html
    assert "auth.login" not in html  # sign-ins carry no site: all-site roles only


def test_identifying_values_are_withheld_from_roles_without_pii(app, world):
    _entry_data(app, world)
    for role, visible in (("crc", True), ("cra", True), ("dm", False), ("sponsor", False),
                          ("admin", False)):
        c = app.test_client()
        login(c, role)
        html = c.get("/audit/?item=INITIALS").get_data(as_text=True)
        assert ("LXM" in html) is visible, role
        body = c.get("/audit/export.csv?item=INITIALS").get_data(as_text=True)
        assert ("LXM" in body) is visible, role
        assert ("[withheld: identifying]" in body) is not visible, role


def _jobs(app) -> list[Job]:
    with app.app_context():
        return db.session.scalars(select(Job)).all()


def test_bad_filter_is_refused_next_to_the_field(app, world):
    c = app.test_client()
    login(c, "dm")
    r = c.get("/audit/?since=2026-13-01")
    assert r.status_code == 422 and "Not a valid date value." in r.get_data(as_text=True)
    r = c.get("/audit/?since=2026-11-02&until=2026-11-01")
    assert r.status_code == 422 and "before the start date" in r.get_data(as_text=True)
    r = c.post("/audit/export.pdf", data={"csrf_token": csrf_token(c, "/audit/"),
                                          "action": "nonsense"})
    assert r.status_code == 422 and not _jobs(app)  # nothing asked for
    r = c.get("/audit/?subject=TJ%01S001")  # printed on the copy: plain text only
    assert r.status_code == 422 and "control or invalid" in r.get_data(as_text=True)


def test_a_filter_is_bounded_plain_text_on_every_path(app, world, token, tmp_path):
    """A filter is kept in the audit entry of every copy: the page, the API, the command
    line and the service itself refuse control characters and over-long text."""
    from edc.cli import cli_actor
    from edc.trail.services import TrailFilter, record_export

    def exports() -> int:
        with app.app_context():
            return len(db.session.scalars(select(AuditEntry).where(
                AuditEntry.action.like("audit.export_%"))).all())

    api = app.test_client()
    for subject in ("TJ\x01S001", "S" * 33):
        r = api.get("/api/v1/audit", query_string={"subject": subject}, headers=token("cra"))
        assert r.status_code == 422 and set(r.json["errors"]) == {"subject"}, r.json
    runner = app.test_cli_runner()
    out = tmp_path / "trail.csv"
    for command in ("csv", "copy", "pdf"):
        r = runner.invoke(args=["audit", command, "--subject", "TJ\x1bS001", "-o", str(out)])
        assert r.exit_code == 2 and "--subject" in r.output and not out.exists(), command
    with app.app_context(), pytest.raises(ValueError):
        record_export("csv", TrailFilter(item="X" * 129), actor=cli_actor(), count=0)
    assert exports() == 0
    assert api.get("/api/v1/audit", query_string={"subject": "TJ-S001"},
                   headers=token("cra")).status_code == 200
    assert exports() == 1


def test_viewer_pages(app, world):
    with app.app_context():
        subject = db.session.get(Subject, world.subject_tj)
        write_items(subject, "SCREEN", "LB", {f"X{i}": str(i) for i in range(120)},
                    actor=cli_actor())
        db.session.commit()
    c = app.test_client()
    login(c, "dm")
    first = c.get("/audit/?action=data.create").get_data(as_text=True)
    assert "page 1 of 2" in first and ">#" not in first
    second = c.get("/audit/?action=data.create&page=2").get_data(as_text=True)
    assert "X119" in second and "X119" not in first


def test_csv_export_is_complete_and_audited(app, world):
    _entry_data(app, world)
    c = app.test_client()
    login(c, "dm")
    r = c.get("/audit/export.csv?subject=TJ-S001")
    rows = list(csv.DictReader(io.StringIO(r.get_data(as_text=True))))
    assert r.headers["Content-Disposition"].startswith("attachment")
    with app.app_context():
        expected = db.session.scalars(select(AuditEntry.seq).where(
            AuditEntry.subject_key == "TJ-S001").order_by(AuditEntry.seq)).all()
        export = db.session.scalar(select(AuditEntry).where(
            AuditEntry.action == "audit.export_csv"))
    assert [int(row["Seq"]) for row in rows] == expected
    assert export.username == "dm" and '"subject": "TJ-S001"' in export.details


def test_csv_neutralises_formulas_but_keeps_numbers(app, world):
    with app.app_context():
        subject = db.session.get(Subject, world.subject_tj)
        write_items(subject, "SCREEN", "LB", {"A": "=HYPERLINK(\"x\")", "B": "-5"},
                    actor=cli_actor())
        db.session.commit()
    c = app.test_client()
    login(c, "crc")
    body = c.get("/audit/export.csv?form=LB").get_data(as_text=True)
    assert "'=HYPERLINK" in body and ",-5," in body


def _pdf_text(data: bytes) -> str:
    reader = PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_the_pdf_is_a_background_job_of_the_filter_shown(app, world):
    import json

    c = app.test_client()
    login(c, "crc")
    page = c.get("/audit/?subject=TJ-S001&since=2026-01-01").get_data(as_text=True)
    assert 'name="subject" value="TJ-S001"' in page and 'name="since" value="2026-01-01"' in page
    assert c.get("/audit/export.pdf?subject=TJ-S001").status_code == 405  # a GET starts nothing
    assert c.post("/audit/export.pdf", data={"subject": "TJ-S001"}).status_code == 400  # CSRF
    assert not _jobs(app)
    r = c.post("/audit/export.pdf", data={"csrf_token": csrf_token(c, "/audit/"),
                                          "subject": "tj-s001", "since": "2026-01-01"})
    assert r.status_code == 302 and "/jobs/" in r.headers["Location"]
    [job] = _jobs(app)
    params = json.loads(job.params)
    assert job.kind == "audit_pdf" and job.state == "done" and job.requested_by_name
    assert params["filter"] == {"subject": "tj-s001", "since": "2026-01-01",
                                "zone": "Asia/Shanghai"}
    assert params["scope_note"] == "sites TJ" and params["sites"] == [world.tj]
    with app.app_context():
        asked = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "job.create"))
    assert asked.username == "crc" and "subject tj-s001, since 2026-01-01" in asked.details
    text = _pdf_text(c.get(f"/jobs/{job.id}/download").data)
    assert "(sites TJ)" in text and "Audit trail: subject tj-s001" in text


def test_pdf_download_is_a_headed_pdfa_copy_and_audited(app, world):
    import pikepdf

    _entry_data(app, world)
    c = app.test_client()
    login(c, "cra")
    r = audit_pdf(c, subject="TJ-S001")
    assert r.status_code == 200 and r.mimetype == "application/pdf"
    text = _pdf_text(r.data)
    assert "Page 1 of 1" in text
    assert "Audit trail: subject TJ-S001" in text and "site TJ" in text
    # its headings in Chinese too, once, on the first page
    assert "Audit trail / 稽查轨迹" in text and "Old → new value / 原值 → 新值" in text
    assert "Generated by Test Monitor (CRA) (cra, Monitor (CRA))" in text
    assert "Verification: chain intact" in text
    assert re.search(r"112\s+→\s+121", text) and "Reason: transcription error" in text
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(
            AuditEntry.action == "audit.export_pdf"))
    assert entry.username == "cra"
    assert entry.hash[:32] in text  # the copy covers the chain up to its own export entry
    pdf = pikepdf.open(io.BytesIO(r.data))
    with pdf.open_metadata(set_pikepdf_as_editor=False) as meta:
        assert meta["pdfaid:part"] == "2" and meta["pdfaid:conformance"] == "B"
    width, height = float(pdf.pages[0].mediabox[2]), float(pdf.pages[0].mediabox[3])
    assert width > height  # landscape


def test_pdf_command_for_many_entries_numbers_every_page(app, world, tmp_path):
    with app.app_context():
        subject = db.session.get(Subject, world.subject_tj)
        for chunk in range(4):
            write_items(subject, "SCREEN", f"F{chunk}", {f"I{i}": "v" * (i % 7 + 1)
                                                         for i in range(200)},
                        actor=cli_actor())
        db.session.commit()
    out = tmp_path / "all.pdf"
    result = app.test_cli_runner().invoke(args=["audit", "pdf", "--all", "-o", str(out)])
    assert result.exit_code == 0, result.output
    text = _pdf_text(out.read_bytes())
    pages = int(result.output.split(" pages")[0].rsplit(" ", 1)[1])
    assert pages > 5
    for n in (1, pages // 2, pages):
        assert f"Page {n} of {pages}" in text
    assert "F3 · I199" in text and text.count("Verification: chain intact") == pages
    bad = app.test_cli_runner().invoke(args=["audit", "pdf", "-o", str(out)])
    assert bad.exit_code != 0 and "exactly one of" in bad.output


def test_each_entry_names_its_request_and_the_pdf_prints_it_with_local_time(app, world,
                                                                            login_as,
                                                                            tmp_path):
    """part11.md point 2 (the request it came from) and point 8 (site local time beside
    UTC): removing either from an entry or from the PDF fails here."""
    from pypdf import PdfReader
    from sqlalchemy import select

    from audit.models import AuditEntry
    from tests.conftest import csrf_token

    crc = login_as("crc")
    page = f"/subjects/{world.subject_tj}/forms/SCREEN/EC"
    r = crc.post(page, data={"csrf_token": csrf_token(crc, page), "version": "0",
                             "ECDAT": "2026-11-01", "ECOG": "1"})
    assert r.status_code == 302
    request_id = r.headers["X-Request-ID"]
    with app.app_context():
        entries = db.session.scalars(select(AuditEntry).where(
            AuditEntry.form_oid == "EC")).all()
    assert entries and {e.request_id for e in entries} == {request_id}
    pdf = audit_pdf(crc, form="EC")
    out = tmp_path / "ec.pdf"
    out.write_bytes(pdf.data)
    text = "".join(p.extract_text() for p in PdfReader(str(out)).pages).replace("\n", " ")
    assert f"request{request_id}" in re.sub(r"\s", "", text)  # long cells are pre-wrapped
    assert "(Asia/Shanghai)" in text and " UTC" in text


def test_long_cells_are_broken_into_short_lines_before_layout():
    from audit.pdf import _cells, _prewrap

    text = "x" * 64000
    wrapped = _prewrap(text, 88)
    assert max(len(line) for line in wrapped.split("\n")) <= 88
    assert wrapped.replace("\n", "") == text
    words = "transcription error " * 3000
    assert max(len(line) for line in _prewrap(words, 72).split("\n")) <= 72
    row = {"seq": "1", "time_utc": "t", "time_local": "", "user": "u", "role": "", "source":
           "web", "request_id": "", "site": "", "subject": "", "event": "", "form": "",
           "repeat": "", "item": "", "action": "data.update", "target": "",
           "reason": "r" * 5000, "old_value": "a", "new_value": "b" * 5000, "details": ""}
    for cell in _cells(row):
        assert max(len(line) for line in cell.split("\n")) <= 88


def test_a_failed_or_killed_render_leaves_no_scratch_file(app, world, login_as, monkeypatch):
    import os
    import time

    from edc import scratch
    from edc.trail import services

    client = login_as("dm")
    before = set(scratch.folder().iterdir())

    def broken(*_args, **_kwargs):
        raise RuntimeError("the render failed")

    monkeypatch.setattr(services, "render_pdf", broken)
    token = csrf_token(client, "/audit/")
    client.post("/audit/export.pdf", data={"csrf_token": token})
    assert [job.state for job in _jobs(app)] == ["failed"]
    assert set(scratch.folder().iterdir()) == before  # removed on the error path too
    assert not list(Path(app.config["EDC_JOB_DIR"]).rglob("*.pdf"))  # the job's file too
    # what a killed worker left hours ago is swept by the next output
    stale = scratch.folder() / "12345-left-by-a-killed-worker.pdf"
    stale.write_bytes(b"")
    old = time.time() - scratch.STALE_SECONDS - 60
    os.utime(stale, (old, old))
    fresh = scratch.folder() / "12345-still-rendering.pdf"
    fresh.write_bytes(b"")
    scratch.sweep()
    assert not stale.exists() and fresh.exists()
    fresh.unlink()
