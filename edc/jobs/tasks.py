"""What a worker does with a job: the job is a boundary (each step is its own unit of work,
short: progress, audit entries), and the long rendering holds no transaction.

``casebook_archive``: one casebook PDF/A per subject of the requested site (or of every site
the requester may see) and ``manifest.json`` with the SHA-256 and page count of each file,
in one zip. ``audit_pdf``: the study-wide audit trail PDF.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

from sqlalchemy import select

import audit
from audit import Actor
from audit.clock import utcnow
from edc.extensions import db
from edc.jobs import result_dir
from edc.models import Job, Site, Subject
from edc.security import ALL_SITES, site_scope
from edc.timefmt import utc_time
from edc.uow import unit_of_work


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _job(job_id: int) -> Job:
    return db.session.get(Job, job_id)


def _actor(job: Job) -> Actor:
    return Actor(job.requested_by_id, None, job.requested_role, "job")


def _progress(job_id: int, done: int, total: int, message: str) -> None:
    with unit_of_work():
        job = _job(job_id)
        job.done, job.total, job.message = done, total, message


def run(job_id: int) -> None:
    with site_scope(ALL_SITES):
        job = _job(job_id)
        if job is None or job.state != "queued":
            return
        params = json.loads(job.params)
        with unit_of_work():
            job.state, job.started_at = "running", utcnow()
    scope = ALL_SITES if params["sites"] is None else set(params["sites"])
    try:
        out_dir = result_dir() / str(job_id)
        out_dir.mkdir(parents=True, exist_ok=True)
        with site_scope(scope):
            if job.kind == "casebook_archive":
                path = _casebook_archive(job_id, params, out_dir)
            elif job.kind == "export":
                path = _export(job_id, params, out_dir, scope)
            else:
                path = _audit_pdf(job_id, params, out_dir)
        digest = _sha256(path)
        with site_scope(ALL_SITES), unit_of_work():
            job = _job(job_id)
            job.state, job.finished_at = "done", utcnow()
            job.result_path, job.result_name, job.result_sha256 = str(path), path.name, digest
            job.done = job.total or job.done
            site = db.session.get(Site, job.site_id) if job.site_id else None
            audit.record(db.session, "job.done", actor=_actor(job), site=site,
                         target_type="job", target_id=str(job.id), new_value=path.name,
                         details={"sha256": digest, "bytes": path.stat().st_size})
    except Exception as exc:  # a failed job says so on its page; the error is logged
        db.session.rollback()
        with site_scope(ALL_SITES), unit_of_work():
            job = _job(job_id)
            job.state, job.finished_at = "failed", utcnow()
            job.message = f"{type(exc).__name__}: {str(exc)[:500]}"
            audit.record(db.session, "job.failed", actor=_actor(job), target_type="job",
                         target_id=str(job.id), new_value=type(exc).__name__)
        raise


def _casebook_archive(job_id: int, params: dict, out_dir: Path) -> Path:
    from edc.review import casebook

    stmt = select(Subject).order_by(Subject.site_id, Subject.id)
    if params["site"]:
        stmt = stmt.where(Subject.site_id == params["site"])
    subject_ids = list(db.session.scalars(stmt.with_only_columns(Subject.id)))
    code = db.session.get(Site, params["site"]).code if params["site"] else "all-sites"
    total = len(subject_ids)
    _progress(job_id, 0, total, f"{total} subjects")
    files = []
    actor = _actor(_job(job_id))
    for n, subject_id in enumerate(subject_ids, start=1):
        subject = db.session.get(Subject, subject_id)
        with unit_of_work():
            casebook.record(subject, actor=actor, purpose=f"archive job {job_id}")
        name = f"casebook-{subject.label}.pdf"
        path = out_dir / name
        made = casebook.render(subject, path, show_pii=params["show_pii"],
                               generated_by=params["generated_by"])
        files.append({"file": name, "subject": subject.label,
                      "screening_number": subject.screening_number, "pages": made.pages,
                      "sha256": _sha256(path), "chain_head_seq": made.head_seq,
                      "chain_head": made.head_hash})
        _progress(job_id, n, total, f"{n} of {total}: {subject.label}")
    manifest = {"job": job_id, "kind": "casebook archive", "site": code,
                "generated_at_utc": utc_time(utcnow()), "generated_by": params["generated_by"],
                "identifying_data": params["show_pii"], "files": files}
    archive = out_dir / f"casebooks-{code}-job{job_id}.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("manifest.json", json.dumps(manifest, indent=2, ensure_ascii=False))
        for f in files:
            zf.write(out_dir / f["file"], f["file"])
            (out_dir / f["file"]).unlink()
    return archive


def _audit_pdf(job_id: int, params: dict, out_dir: Path) -> Path:
    from edc.trail.services import TrailFilter, export_pdf

    _progress(job_id, 0, 1, "rendering")
    path = out_dir / f"audit-trail-job{job_id}.pdf"
    export_pdf(TrailFilter(), path, actor=_actor(_job(job_id)), show_pii=params["show_pii"],
               generated_by=params["generated_by"])
    _progress(job_id, 1, 1, "done")
    return path


def _export(job_id: int, params: dict, out_dir: Path, scope) -> Path:
    """A sponsor export of the snapshot fixed when the job was asked for. Progress is
    written between subjects in short transactions of its own (the export reads the trail
    up to a fixed sequence, so it needs no single long read)."""
    from edc.exports import services
    from edc.extensions import READ_ONLY
    from edc.uow import read_only

    asked = params["export"]
    export = services.resolve(asked["format"], sites=asked["sites"], as_of=asked["as_of"],
                              since=asked["since"], scope=scope)
    actor = _actor(_job(job_id))

    def report(done: int, total: int) -> None:
        if done and done != total and done % 5:
            return
        token = READ_ONLY.set(False)
        try:
            _progress(job_id, done, total, f"{done} of {total} subjects")
        finally:
            READ_ONLY.reset(token)

    with services.spool() as sp:
        with read_only():
            files = services.prepare(export, sp, scope_ids=scope, progress=report)
        with unit_of_work():
            services.record(export, files, actor=actor, via=f"job {job_id}")
        path = out_dir / services.file_name(export)
        with open(path, "wb") as fh:
            services.pack(sp, services.manifest(export, files,
                                                generated_by=params["generated_by"]),
                          fh, export.as_of_time)
    return path
