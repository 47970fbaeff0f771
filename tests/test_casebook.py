"""The subject casebook PDF (command line and page) and the site archive as a background job,
on both databases. Content is checked by text extraction."""

from __future__ import annotations

import hashlib
import io
import json
import zipfile

from pypdf import PdfReader
from sqlalchemy import select

from audit import Actor
from edc import signatures
from edc.extensions import db
from edc.models import AuditEntry, Job, Subject, User
from edc.queries import services as queries
from edc.review import sdv, signoff
from edc.uow import unit_of_work
from tests.conftest import PASSWORD, csrf_token, enter_eligible, login, pi_code


def _casebook_data(app, world) -> str:
    """Screening data, a query with its answer, SDV of the consent form and the investigator's
    signature of it. Returns the screening number and the initials entered."""
    with app.app_context():
        enter_eligible(world.subject_tj)
        subject = db.session.get(Subject, world.subject_tj)
        cra = db.session.get(User, world.users["cra"])
        crc = db.session.get(User, world.users["crc"])
        pi = db.session.get(User, world.users["pi"])
        with unit_of_work():
            q = queries.open_query(subject, queries.Place("SCREEN", "IC", "ICFVER"),
                                   "Which consent version was signed?", user=cra,
                                   actor=Actor.for_user(cra, source="web"))
            queries.answer(q, "Version 2.1, as in the binder.", user=crc,
                           actor=Actor.for_user(crc, source="web"))
            queries.close(q, "Confirmed in the binder.", user=cra,
                          actor=Actor.for_user(cra, source="web"))
            sdv.verify(subject, "SCREEN", "IC", None, user=cra,
                       actor=Actor.for_user(cra, source="web"))
            signatures.sign(subject, signoff.form_target("SCREEN", "IC"), user=pi,
                            username="pi", password=PASSWORD, code=pi_code(),
                            actor=Actor.for_user(pi, source="web"))
        from edc.crf.services import read_form, save_form

        with unit_of_work():
            save_form(subject, "SCREEN", "DM", {"INITIALS": "LXQ"},
                      version=read_form(subject, "SCREEN", "DM").version,
                      actor=Actor.for_user(crc, source="web"), reason="transcription error")
        return subject.screening_number, "LXQ"


def _text(data: bytes) -> tuple[str, list[str], int]:
    reader = PdfReader(io.BytesIO(data))
    text = "\n".join(page.extract_text() for page in reader.pages)

    def titles(items):
        for item in items:
            if isinstance(item, list):
                yield from titles(item)
            else:
                yield item.title

    return text, list(titles(reader.outline)), len(reader.pages)


def test_casebook_pdf_from_the_command_line_holds_every_part(app, world, tmp_path):
    number, initials = _casebook_data(app, world)
    out = tmp_path / "casebook.pdf"
    result = app.test_cli_runner().invoke(args=["casebook", "pdf", "--subject", number,
                                                "-o", str(out)])
    assert result.exit_code == 0, result.output
    text, bookmarks, pages = _text(out.read_bytes())
    assert "Informed consent" in text and "知情同意" in text  # English and Chinese labels
    assert "Which consent version was signed?" in text and "Confirmed in the binder." in text
    assert "verified by Test Monitor (CRA)" in text
    assert "Test Investigator (PI/Sub-I)" in text
    assert "I have reviewed and approve the data in this form" in text
    assert f"Page 1 of {pages}" in text and f"Page {pages} of {pages}" in text
    assert "Audit trail of subject" in text and "query.close" in text
    assert initials not in text  # identifying data withheld without --include-identifying
    assert "Screening 筛选期" in bookmarks and "Informed consent 知情同意" in bookmarks
    # the headings in both languages: one file for every reader
    assert f"Casebook of subject {number} / 受试者 {number} 的病例档案" in text
    assert "Signatures / 签名" in text and "Value / 值" in text
    assert "Entry · time · user / 条目 · 时间 · 用户" in text  # the trail's column heads
    with app.app_context():
        head = db.session.scalar(select(AuditEntry).where(
            AuditEntry.action == "casebook.export_pdf"))
        assert head is not None and head.subject_id == world.subject_tj
    assert "Chain head" in text
    identified = tmp_path / "identified.pdf"
    app.test_cli_runner().invoke(args=["casebook", "pdf", "--subject", number, "-o",
                                       str(identified), "--include-identifying"])
    assert initials in _text(identified.read_bytes())[0]


def _casebook_of(app, client, subject_id: int):
    """Ask for the casebook from the subject's page; the finished job's download."""
    page = client.get(f"/subjects/{subject_id}")
    assert f'action="/subjects/{subject_id}/casebook"' in page.get_data(as_text=True)
    token = csrf_token(client, f"/subjects/{subject_id}")
    started = client.post(f"/subjects/{subject_id}/casebook", data={"csrf_token": token})
    assert started.status_code == 302 and "/jobs/" in started.headers["Location"]
    with app.app_context():
        job = db.session.scalars(select(Job).where(Job.kind == "casebook")
                                 .order_by(Job.id.desc())).first()
        assert job.state == "done", job.message
        job_id, name = job.id, job.result_name
    assert name in client.get("/jobs/").get_data(as_text=True)
    download = client.get(f"/jobs/{job_id}/download")
    assert download.status_code == 200 and download.mimetype == "application/pdf"
    return download.data


def test_casebook_download_on_the_subject_page_is_made_in_the_background(app, world,
                                                                          tmp_path):
    app.config["EDC_JOB_DIR"] = str(tmp_path / "jobs")
    _, initials = _casebook_data(app, world)
    client = app.test_client()
    login(client, "cra")
    text, _, _ = _text(_casebook_of(app, client, world.subject_tj))
    assert initials in text  # the monitor sees identifying data (SDV needs it)
    dm = app.test_client()
    login(dm, "dm")
    text, _, _ = _text(_casebook_of(app, dm, world.subject_tj))
    assert initials not in text and "[withheld: identifying]" in text
    with app.app_context():
        asked = [e for e in db.session.scalars(select(AuditEntry).where(
            AuditEntry.target_type == "job").order_by(AuditEntry.seq))]
        assert [e.action for e in asked] == ["job.create", "job.done", "job.download"] * 2
        assert json.loads(asked[0].details)["subject"]
        made = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "casebook.export_pdf")).all()
        assert len(made) == 2 and all(e.subject_id == world.subject_tj for e in made)
    sponsor = app.test_client()
    login(sponsor, "sponsor")
    token = csrf_token(sponsor, "/jobs/")
    refused = sponsor.post(f"/subjects/{world.subject_tj}/casebook",
                           data={"csrf_token": token})
    assert refused.status_code == 403
    # another site's coordinator: the subject does not exist for them
    other = app.test_client()
    login(other, "crc_bj")
    assert other.post(f"/subjects/{world.subject_tj}/casebook",
                      data={"csrf_token": csrf_token(other, "/jobs/")}).status_code == 404
    # a casebook is not offered on the jobs page (it needs its subject)
    assert 'value="casebook"' not in client.get("/jobs/").get_data(as_text=True)
    bad = client.post("/jobs/", data={"csrf_token": csrf_token(client, "/jobs/"),
                                      "kind": "casebook"})
    assert bad.status_code == 422


def test_site_casebook_archive_runs_as_a_job_with_a_manifest(app, world, tmp_path):
    app.config["EDC_JOB_DIR"] = str(tmp_path / "jobs")
    _casebook_data(app, world)
    client = app.test_client()
    login(client, "dm")
    token = csrf_token(client, "/jobs/")
    bad = client.post("/jobs/", data={"csrf_token": token, "kind": "nope"})
    assert bad.status_code == 422 and "unknown job" in bad.get_data(as_text=True)
    started = client.post("/jobs/", data={"csrf_token": token, "kind": "casebook_archive",
                                          "site": "TJ"})
    assert started.status_code == 302
    with app.app_context():
        job = db.session.scalar(select(Job))
        assert (job.state, job.done, job.total) == ("done", 1, 1), job.message
        job_id, digest = job.id, job.result_sha256
    page = client.get("/jobs/").get_data(as_text=True)
    assert digest in page and "casebooks-TJ" in page
    download = client.get(f"/jobs/{job_id}/download")
    assert download.status_code == 200
    assert hashlib.sha256(download.data).hexdigest() == digest
    with zipfile.ZipFile(io.BytesIO(download.data)) as zf:
        manifest = json.loads(zf.read("manifest.json"))
        [entry] = manifest["files"]
        assert hashlib.sha256(zf.read(entry["file"])).hexdigest() == entry["sha256"]
        assert entry["pages"] >= 2 and manifest["identifying_data"] is False
    # only its requester downloads it
    other = app.test_client()
    login(other, "cra")
    assert other.get(f"/jobs/{job_id}/download").status_code == 404
    with app.app_context():
        actions = [e.action for e in db.session.scalars(
            select(AuditEntry).where(AuditEntry.target_type == "job").order_by(AuditEntry.seq))]
        assert actions == ["job.create", "job.done", "job.download"]
