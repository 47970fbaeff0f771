"""Sponsor exports: every format valid against its standard, read back value by value,
de-identified (byte-searched for every identifying value), reproducible from the trail as
of a sequence, incremental, audited; bad requests refused with nothing written."""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import zipfile
from pathlib import Path

import jsonschema
import odmlib
import pyreadstat
import pytest
import xmlschema
from sqlalchemy import func, select

from audit.models import AuditEntry
from edc.extensions import db
from edc.models import FormData, ItemData, Job, Subject
from tests.conftest import csrf_token, enter_eligible, login, mark_enrolled

ROOT = Path(__file__).resolve().parent.parent
ODM_XSD = Path(odmlib.__file__).parent / "schemas/odm/1.3.2/ODM1-3-2.xsd"
DATASET_JSON = json.loads((ROOT / "standards/dataset-json-1.1.schema.json").read_text())
FORMATS = ("csv", "odm", "xpt", "json")
PII_MRN = "MRN-PII-77341"


def _export(app, fmt: str, out: Path, *args: str):
    return app.test_cli_runner().invoke(args=["export", "--format", fmt, "-o", str(out), *args])


def _members(path: Path) -> dict[str, bytes]:
    with zipfile.ZipFile(path) as zf:
        return {name: zf.read(name) for name in zf.namelist()}


def _exports(app, tmp_path, *args: str, tag: str = "") -> dict[str, dict[str, bytes]]:
    out = {}
    for fmt in FORMATS:
        path = tmp_path / f"{fmt}{tag}.zip"
        result = _export(app, fmt, path, *args)
        assert result.exit_code == 0, result.output
        out[fmt] = _members(path)
    return out


def _data(members: dict[str, bytes]) -> dict[str, bytes]:
    return {k: v for k, v in members.items() if k != "manifest.json"}


def _csv(raw: bytes) -> list[dict]:
    return list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))


@pytest.fixture
def demo(app):
    """The demo study over every stage (13 subjects), with a hospital record number."""
    result = app.test_cli_runner().invoke(args=["demo", "--password", "tianjin-demo-2026",
                                                "--subjects", "13"])
    assert result.exit_code == 0, result.output
    from edc.cli import cli_actor
    from edc.crf.services import read_form, save_form

    with app.app_context():
        subject = db.session.scalar(select(Subject).where(Subject.subject_number.is_not(None))
                                    .order_by(Subject.id))
        version = read_form(subject, "SCREEN", "DM").version
        save_form(subject, "SCREEN", "DM", {"MRN": PII_MRN}, version=version,
                  actor=cli_actor(), today=None)
        db.session.commit()


def test_every_format_is_valid_complete_and_holds_no_identifying_value(app, demo, tmp_path):
    exports = _exports(app, tmp_path)
    with app.app_context():
        from edc import deidentify

        identifying = [r for r in db.session.scalars(select(ItemData).execution_options(
            all_sites=True)) if deidentify.identifying(r.form_oid, r.item_oid)]
        assert {r.item_oid for r in identifying} == {"INITIALS", "BRTHDAT", "MRN"}
        tables = {(r.subject_id, r.event_oid, r.event_repeat, r.form_oid, r.form_repeat,
                   r.item_oid): r.value for r in db.session.scalars(
            select(ItemData).where(ItemData.removed.is_(False))
            .execution_options(all_sites=True)) if not deidentify.identifying(
            r.form_oid, r.item_oid)}
        labels = {s.id: (s.subject_number or "", s.screening_number)
                  for s in db.session.scalars(select(Subject))}
        forms = {(f.subject_id, f.event_oid, f.event_repeat, f.form_oid, f.form_repeat):
                 (f.version, f.status, f.metadata_version)
                 for f in db.session.scalars(select(FormData))}
        entries = db.session.scalars(select(AuditEntry).where(
            AuditEntry.action == "export.create").order_by(AuditEntry.seq)).all()
    # de-identified: no identifying value anywhere, in any file of any format
    values = {r.value for r in identifying} | {PII_MRN}
    for fmt, members in exports.items():
        for name, raw in members.items():
            for value in values:
                assert value.encode() not in raw, f"{value!r} in {fmt}/{name}"

    # CSV: the long file equals the tables, value for value; forms carry their versions
    by_label = {v: k for k, v in labels.items()}
    rows = _csv(exports["csv"]["items.csv"])
    got = {(by_label[(r["SUBJECT"], r["SCREENING"])], r["EVENT"], int(r["EVENT_REPEAT"]),
            r["FORM"], int(r["FORM_REPEAT"]), r["ITEM"]): r["VALUE"] for r in rows}
    assert got == tables
    vs = _csv(exports["csv"]["forms/VS.csv"])
    assert vs and all((int(r["FORM_VERSION"]), r["STATUS"], r["METADATA_VERSION"]) == forms[(
        by_label[(r["SUBJECT"], r["SCREENING"])], r["EVENT"], int(r["EVENT_REPEAT"]), "VS",
        int(r["FORM_REPEAT"]))] for r in vs)
    subjects = _csv(exports["csv"]["subjects.csv"])
    assert len(subjects) == 13 and any(r["AGE_AT_CONSENT"].isdigit() for r in subjects)
    dm = _csv(exports["csv"]["forms/DM.csv"])
    assert "BRTHDAT" not in dm[0] and "INITIALS" not in dm[0] and "SEX_DECODE" in dm[0]
    dictionary = _csv(exports["csv"]["dictionary.csv"])
    assert {r["METADATA_VERSION"] for r in dictionary} == {"1.0", "1.1", "1.2", "1.3"}
    assert any(r["ITEM"] == "BRTHDAT" and r["IN_EXPORT"].startswith("N") for r in dictionary)

    # ODM 1.3.2: valid against the XSD odmlib ships, every value with its audit record
    odm = exports["odm"]["study.odm.xml"]
    xmlschema.XMLSchema(str(ODM_XSD)).validate(io.BytesIO(odm))
    assert odm.count(b"<ItemData ") == len(tables)
    assert odm.count(b"<AuditRecord>") == len(tables)
    assert b"<Signature>" in odm and b'FileType="Snapshot"' in odm
    assert b'<MetaDataVersion OID="MDV.1.0"' in odm and b'<MetaDataVersion OID="MDV.1.2"' in odm

    # XPT v5 read back with pyreadstat equals Dataset-JSON, row for row
    for name in ("dm", "ds", "ex", "cm", "mh", "ae", "lb", "vs", "fa", "qs"):
        path = tmp_path / f"{name}.xpt"
        path.write_bytes(exports["xpt"][f"{name}.xpt"])
        data, meta = pyreadstat.read_xport(str(path), encoding="utf-8", output_format="dict")
        doc = json.loads(exports["json"][f"{name.upper()}.json"])
        jsonschema.validate(doc, DATASET_JSON)
        assert meta.table_name == name.upper()
        assert [c["name"] for c in doc["columns"]] == list(data)
        assert all(len(c) <= 8 for c in data) and all(len(lb) <= 40
                                                       for lb in meta.column_labels)
        assert doc["records"] == len(doc["rows"]) == meta.number_rows
        for n, row in enumerate(doc["rows"]):
            for col, value in zip(doc["columns"], row, strict=True):
                read = data[col["name"]][n]
                if col["dataType"] == "double":
                    assert (value is None and read != read) or read == pytest.approx(value), (
                        name, n, col["name"])
                else:
                    assert read == (value or ""), (name, n, col["name"])
    # …and with the source: every laboratory result of the tables is an LB row
    path = tmp_path / "lb.xpt"
    lb, _ = pyreadstat.read_xport(str(path), encoding="utf-8", output_format="dict")
    got = {(u.rsplit("-", 2)[-2] + "-" + u.rsplit("-", 1)[-1], spid.split("-")[0], code, res)
           for u, spid, code, res in zip(lb["USUBJID"], lb["LBSPID"], lb["LBTESTCD"],
                                         lb["LBORRES"], strict=True)}
    for (sid, _, _, form, _, item), value in tables.items():
        if form == "LB" and item in ("HGB", "ANC", "PLT", "ALT"):
            label = labels[sid][0] or labels[sid][1]
            assert (label, "LB", item, value) in got
    age = json.loads(exports["json"]["DM.json"])
    assert any(row[[c["name"] for c in age["columns"]].index("AGE")] for row in age["rows"])

    # audited: who, scope, format, as-of sequence and each file's SHA-256 (= the manifest)
    assert [json.loads(e.details)["format"] for e in entries] == list(FORMATS)
    for entry, fmt in zip(entries, FORMATS, strict=True):
        manifest = json.loads(exports[fmt]["manifest.json"])
        assert json.loads(entry.details)["files"] == {f["file"]: f["sha256"]
                                                      for f in manifest["files"]}
        assert manifest["as_of_seq"] < entry.seq and len(manifest["chain_head"]) == 64


def _subject_with_data(app, world) -> None:
    from edc.cli import cli_actor
    from edc.crf.services import save_form

    with app.app_context():
        enter_eligible(world.subject_tj)
        enter_eligible(world.subject_bj, "AAV")
        mark_enrolled(world.subject_tj)
        subject = db.session.get(Subject, world.subject_tj)
        save_form(subject, "D1", "VS", {"VSDAT": "2026-11-20", "TEMP": "38.1", "HR": "90"},
                  version=0, actor=cli_actor())
        db.session.commit()


def _head(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.max(AuditEntry.seq)))


def test_an_as_of_export_gives_the_same_bytes_after_later_changes(app, world, tmp_path):
    _subject_with_data(app, world)
    as_of = _head(app)  # each export is audited: the next one's newest entry is later
    first = _exports(app, tmp_path, "--as-of", str(as_of), tag="-first")
    head = json.loads(first["csv"]["manifest.json"])
    from edc.cli import cli_actor
    from edc.crf.services import save_form

    with app.app_context():  # later: a value changes, a subject is registered
        subject = db.session.get(Subject, world.subject_tj)
        save_form(subject, "D1", "VS", {"TEMP": "38.6"}, version=1, actor=cli_actor(),
                  reason="transcription error")
        db.session.commit()
    again = _exports(app, tmp_path, "--as-of", str(as_of), tag="-again")
    newest = _exports(app, tmp_path, tag="-newest")
    for fmt in FORMATS:
        assert _data(again[fmt]) == _data(first[fmt]), fmt
        assert _data(newest[fmt]) != _data(first[fmt]), fmt
        manifest = json.loads(again[fmt]["manifest.json"])
        assert (manifest["as_of_seq"], manifest["chain_head"]) == (as_of, head["chain_head"])
    assert b"38.6" in newest["csv"]["forms/VS.csv"] and b"38.6" not in again["csv"][
        "forms/VS.csv"]
    tj_only = _members(tmp_path / "tj.zip") if _export(
        app, "csv", tmp_path / "tj.zip", "--site", "TJ").exit_code == 0 else {}
    assert {r["SITE"] for r in _csv(tj_only["subjects.csv"])} == {"TJ"}


def test_an_incremental_export_takes_changed_instances_and_removals(app, world, tmp_path):
    _subject_with_data(app, world)
    since = _head(app)
    from edc.cli import cli_actor
    from edc.crf.services import save_form

    with app.app_context():
        subject = db.session.get(Subject, world.subject_tj)
        save_form(subject, "D1", "VS", {"HR": ""}, version=1, actor=cli_actor(),
                  reason="entered in error")
        db.session.commit()
    for fmt in ("csv", "odm"):
        assert _export(app, fmt, tmp_path / f"inc-{fmt}.zip", "--since", str(since)
                       ).exit_code == 0
    members = _members(tmp_path / "inc-csv.zip")
    assert [(r["EVENT"], r["HR"]) for r in _csv(members["forms/VS.csv"])] == [("D1", "")]
    assert _csv(members["forms/LB.csv"]) == []
    removed = _csv(members["removals.csv"])
    assert [(r["FORM"], r["ITEM"]) for r in removed] == [("VS", "HR")]
    odm = _members(tmp_path / "inc-odm.zip")["study.odm.xml"]
    xmlschema.XMLSchema(str(ODM_XSD)).validate(io.BytesIO(odm))
    assert b'FileType="Transactional"' in odm and b'TransactionType="Remove"' in odm


def test_bad_requests_are_refused_and_nothing_is_written_or_audited(app, world, token,
                                                                   tmp_path):
    _subject_with_data(app, world)
    head = _head(app)
    out = tmp_path / "x.zip"
    cases = [("pdf", []), ("csv", ["--as-of", str(head + 50)]),
             ("csv", ["--as-of", "5", "--since", "9"]), ("xpt", ["--since", "3"]),
             ("csv", ["--site", "ZZ"]), ("odm", ["--as-of", "0"])]
    for fmt, args in cases:
        result = _export(app, fmt, out, *args)
        assert result.exit_code == 2 and "Error" in result.output, (fmt, args, result.output)
    client = app.test_client()
    sponsor = token("sponsor")
    assert client.get("/api/v1/exports/pdf", headers=sponsor).status_code == 404
    for query, field in ((f"as_of={head + 50}", "as_of"), ("as_of=abc", "as_of"),
                         ("as_of=5&since_seq=9", "since_seq"), ("site=ZZ", "site"),
                         (f"as_of={2**70}", "as_of")):
        response = client.get(f"/api/v1/exports/csv?{query}", headers=sponsor)
        assert response.status_code == 422, query
        assert field in response.get_json()["errors"], query
    assert client.get("/api/v1/exports/csv", headers=token("crc")).status_code == 403
    assert client.get("/api/v1/exports/csv", headers=token("cra")).status_code == 403
    assert not out.exists() and not list(tmp_path.iterdir())
    with app.app_context():
        assert not db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "export.create"))
        assert not os.listdir(tmp_path)


def test_the_api_streams_the_export_for_data_managers_and_sponsors(app, world, token):
    _subject_with_data(app, world)
    response = app.test_client().get("/api/v1/exports/odm", headers=token("dm"),
                                     buffered=False)
    assert response.status_code == 200 and response.is_streamed
    assert response.mimetype == "application/zip"
    body = b"".join(response.response)
    response.close()
    from edc import scratch

    assert not list(scratch.folder().glob("export-*")), "scratch files left after the download"
    members = _members_of(body)
    assert "study.odm.xml" in members and "manifest.json" in members
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(
            AuditEntry.action == "export.create"))
        assert entry.username == "dm" and json.loads(entry.details)["via"] == "api"
    # a server that never reads the body (the client went away first) only closes it
    from werkzeug.test import EnvironBuilder

    environ = EnvironBuilder("/api/v1/exports/csv", headers=token("sponsor")).get_environ()
    statuses = []
    body = app.wsgi_app(environ, lambda status, headers, *_: statuses.append(status))
    assert statuses == ["200 OK"] and list(scratch.folder().glob("export-*"))
    body.close()
    assert not list(scratch.folder().glob("export-*")), "scratch files left when abandoned"
    spec = app.test_client().get("/api/v1/openapi.json").get_json()
    op = spec["paths"]["/exports/{fmt}"]["get"]
    assert "application/zip" in op["responses"]["200"]["content"]
    assert {p["name"] for p in op["parameters"]} >= {"fmt", "site", "as_of", "since_seq"}


def test_the_api_asks_for_an_export_job_follows_it_and_downloads_it(app, world, token,
                                                                   tmp_path):
    """A pipeline's way: the export as a background job (no web request does the work),
    its progress, then its zip; refusals name their parameter and leave no job."""
    _subject_with_data(app, world)
    app.config["EDC_JOB_DIR"] = str(tmp_path / "jobs")
    api = app.test_client()
    dm = token("dm")
    started = api.post("/api/v1/exports/csv/jobs?site=TJ", headers=dm)
    assert started.status_code == 202, started.get_json()
    job = started.get_json()
    assert started.headers["Location"].endswith(f"/api/v1/exports/jobs/{job['id']}")
    assert (job["format"], job["sites"], job["since_seq"]) == ("csv", ["TJ"], None)
    shown = api.get(f"/api/v1/exports/jobs/{job['id']}", headers=dm).get_json()
    assert shown["state"] == "done" and shown["done"] == shown["total"] == 1
    assert shown["download"] == f"/api/v1/exports/jobs/{job['id']}/download"
    download = api.get(shown["download"], headers=dm)
    assert download.status_code == 200 and download.mimetype == "application/zip"
    assert hashlib.sha256(download.data).hexdigest() == shown["sha256"]
    members = _members_of(download.data)
    assert {r["SITE"] for r in _csv(members["subjects.csv"])} == {"TJ"}
    # the same snapshot from the command line: the same data files
    cli = _one_export(app, tmp_path, "csv", "cli", "--site", "TJ", "--as-of",
                      str(shown["as_of"]))
    assert _data(cli) == _data(members)
    with app.app_context():
        entry = db.session.scalar(select(AuditEntry).where(
            AuditEntry.action == "job.download").order_by(AuditEntry.seq.desc()))
        assert (entry.username, entry.source, entry.target_id) == ("dm", "api",
                                                                   str(job["id"]))
        jobs_before = db.session.scalar(select(func.count()).select_from(Job))
    # another user's job is not shown; a site role may not export
    assert api.get(f"/api/v1/exports/jobs/{job['id']}", headers=token("sponsor")
                   ).status_code == 404
    assert api.post("/api/v1/exports/csv/jobs", headers=token("crc")).status_code == 403
    # refused: named, nothing asked for
    for url, status, field in (("/api/v1/exports/csv/jobs?as_of=99999999", 422, "as_of"),
                               ("/api/v1/exports/xpt/jobs?since_seq=1", 422, "since_seq"),
                               ("/api/v1/exports/csv/jobs?site=XX", 422, "site"),
                               ("/api/v1/exports/pdf/jobs", 404, None)):
        refused = api.post(url, headers=dm)
        assert refused.status_code == status, url
        if field:
            assert field in refused.get_json()["errors"], url
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Job)) == jobs_before
    assert api.get("/api/v1/exports/jobs/999999/download", headers=dm).status_code == 404
    spec = api.get("/api/v1/openapi.json").get_json()
    assert "202" in spec["paths"]["/exports/{fmt}/jobs"]["post"]["responses"]


def test_an_unfinished_export_job_has_nothing_to_download(app, world, token, tmp_path,
                                                         monkeypatch):
    from edc import jobs

    with app.app_context():
        monkeypatch.setattr(jobs.queue(), "run_job", lambda job_id: None)  # a busy worker
    app.config["EDC_JOB_DIR"] = str(tmp_path / "jobs")
    dm = token("dm")
    job = app.test_client().post("/api/v1/exports/odm/jobs", headers=dm).get_json()
    assert job["state"] == "queued" and job["download"] is None
    refused = app.test_client().get(f"/api/v1/exports/jobs/{job['id']}/download", headers=dm)
    assert refused.status_code == 409 and "queued" in refused.get_json()["error"]


def _members_of(body: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(body)) as zf:
        return {n: zf.read(n) for n in zf.namelist()}


def test_the_export_page_runs_a_job_with_progress_and_download(app, world, tmp_path,
                                                                monkeypatch):
    from edc.exports import dataset

    monkeypatch.setattr(dataset, "PARALLEL_FROM", 1)  # the job's subjects in a worker
    _subject_with_data(app, world)
    app.config["EDC_JOB_DIR"] = str(tmp_path / "jobs")
    sponsor = app.test_client()
    login(sponsor, "sponsor")
    page = sponsor.get("/exports/")
    assert page.status_code == 200 and "Dataset-JSON" in page.get_data(as_text=True)
    token = csrf_token(sponsor, "/exports/")
    refused = sponsor.post("/exports/", data={"csrf_token": token, "format": "csv",
                                              "as_of": "99999999"})
    assert refused.status_code == 422
    assert "beyond the newest audit entry" in refused.get_data(as_text=True)
    started = sponsor.post("/exports/", data={"csrf_token": token, "format": "json",
                                              "site": ["BJ"]})
    assert started.status_code == 302
    with app.app_context():
        job = db.session.scalar(select(Job).where(Job.kind == "export"))
        assert (job.state, job.done, job.total) == ("done", 1, 1), job.message
        job_id = job.id
    download = sponsor.get(f"/jobs/{job_id}/download")
    assert download.status_code == 200
    members = _members_of(download.data)
    manifest = json.loads(members["manifest.json"])
    assert manifest["sites"] == ["BJ"] and manifest["format"] == "json"
    assert json.loads(members["DM.json"])["records"] == 1
    assert sponsor.get("/exports/").status_code == 200
    crc = app.test_client()
    login(crc, "crc")
    assert crc.get("/exports/").status_code == 403


def test_a_time_as_the_database_gives_it_is_written_as_utc_time_writes_it():
    """The item-level file cuts SQLite's stored text instead of parsing it; PostgreSQL
    gives a datetime. Both give what ``utc_time`` writes."""
    from datetime import datetime

    from edc.exports.dataset import utc_text
    from edc.timefmt import utc_time

    for when in (datetime(2026, 12, 5, 3, 15, 47, 123456), datetime(2026, 1, 2, 0, 0, 0)):
        stored = when.strftime("%Y-%m-%d %H:%M:%S.%f")  # SQLAlchemy's SQLite text
        assert utc_text(stored) == utc_time(when) == utc_text(when)
    assert utc_text("2026-01-02T00:00:00") == utc_time(datetime(2026, 1, 2))  # parsed


def _one_export(app, tmp_path, fmt: str, tag: str, *args: str) -> dict[str, bytes]:
    path = tmp_path / f"{fmt}-{tag}.zip"
    result = _export(app, fmt, path, *args)
    assert result.exit_code == 0, result.output
    return _members(path)


def test_subjects_rendered_in_worker_processes_give_the_same_bytes(app, demo, tmp_path,
                                                                     monkeypatch):
    """Exports rebuild and render their subjects in other processes (chunks of them,
    written in roster order as they come back): every format's files are byte for byte
    those of the export done in one process, for the newest snapshot (named by its
    sequence: each export is audited, so the newest moves on), an earlier one and an
    incremental one; and worker processes did the work."""
    from edc.exports import dataset

    monkeypatch.setattr(dataset, "PARALLEL_FROM", 1)
    monkeypatch.setattr(dataset, "CHUNK", 2)  # 13 subjects: 7 tasks, 4 in flight
    head = _head(app)
    variants = [(fmt, "newest", ("--as-of", str(head))) for fmt in FORMATS]
    variants += [(fmt, "as-of", ("--as-of", str(head // 2))) for fmt in FORMATS]
    variants += [(fmt, "since", ("--as-of", str(head), "--since", str(head // 2)))
                 for fmt in ("csv", "odm")]
    app.config["EDC_EXPORT_WORKERS"] = 0
    alone = {(fmt, tag): _one_export(app, tmp_path, fmt, f"alone-{tag}", *args)
             for fmt, tag, args in variants}
    pools = []

    class Counted(dataset.ProcessPoolExecutor):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            pools.append(self)

    monkeypatch.setattr(dataset, "ProcessPoolExecutor", Counted)
    app.config["EDC_EXPORT_WORKERS"] = 2
    for fmt, tag, args in variants:
        apart = _one_export(app, tmp_path, fmt, f"apart-{tag}", *args)
        assert _data(apart) == _data(alone[fmt, tag]), (fmt, tag)
        files = json.loads(apart["manifest.json"])["files"]
        assert files == json.loads(alone[fmt, tag]["manifest.json"])["files"], (fmt, tag)
    assert len(pools) == len(variants)  # each export had its worker processes
    newest, since = alone["csv", "newest"], alone["csv", "since"]
    assert len(_csv(newest["subjects.csv"])) == 13
    assert _csv(since["items.csv"]) != _csv(newest["items.csv"])


def _raises(subject_id):
    raise RuntimeError("the database went away")


def _dies(subject_id):
    os._exit(9)  # as the out-of-memory killer would end it


@pytest.mark.parametrize(("fault", "fmt", "said"), [
    (_raises, "csv", "the database went away"),
    (_dies, "odm", "a worker process of the export stopped"),
])
def test_a_worker_process_that_fails_or_dies_fails_the_export_and_leaves_nothing(
        app, demo, tmp_path, monkeypatch, fault, fmt, said):
    """A worker whose rebuild raises, or that is killed mid-export: the export fails at
    once with a message, nothing is written or audited, nothing waits forever (a worker
    that dies would take this process with it if the work were not in a worker)."""
    from edc import scratch
    from edc.exports import dataset

    monkeypatch.setattr(dataset, "PARALLEL_FROM", 1)
    monkeypatch.setattr(dataset, "CHUNK", 2)
    app.config["EDC_EXPORT_WORKERS"] = 2
    with app.app_context():
        victim = db.session.scalars(select(Subject.id).order_by(Subject.id)
                                    .execution_options(all_sites=True)).all()[7]
    real = dataset.rebuild

    def faulty(subject_id, *args, **kwargs):
        if subject_id == victim:
            fault(subject_id)
        return real(subject_id, *args, **kwargs)

    monkeypatch.setattr(dataset, "rebuild", faulty)  # the forked workers inherit it
    before = _audited_exports(app)
    with app.app_context():
        spooled = set(scratch.folder().glob("export-*"))
    out = tmp_path / "failed.zip"
    result = _export(app, fmt, out)
    assert result.exit_code != 0
    assert said in result.output + str(result.exception)
    assert not out.exists()
    assert _audited_exports(app) == before
    with app.app_context():
        assert set(scratch.folder().glob("export-*")) == spooled


def _audited_exports(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(AuditEntry).where(
            AuditEntry.action == "export.create").execution_options(all_sites=True))
