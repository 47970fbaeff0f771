"""What a worker does with a job: the job is a boundary (each step is its own unit of work,
short: progress, audit entries), and the long rendering holds no transaction.

``casebook_archive``: one casebook PDF/A per subject of the requested site (or of every site
the requester may see) and ``manifest.json`` with the SHA-256 and page count of each file,
in one zip. ``audit_pdf``: the audit trail PDF of a filter (the whole study if none).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import shutil
import socket
import threading
import zipfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import current_app
from sqlalchemy import select, update

import audit
from audit import Actor
from audit.clock import utcnow
from edc.extensions import db
from edc.jobs import attempt_dir
from edc.models import Job, Site, Subject, User
from edc.security import ALL_SITES, site_scope
from edc.timefmt import utc_time
from edc.uow import unit_of_work
from edc_pdf import LayoutPool

log = logging.getLogger(__name__)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _job(job_id: int) -> Job:
    return db.session.get(Job, job_id)


def _actor(job: Job) -> Actor:
    """The requester, by id and user name, as the job's entries name them."""
    user = db.session.get(User, job.requested_by_id)
    return Actor(job.requested_by_id, user.username if user else None, job.requested_role,
                 "job")


class LeaseLost(Exception):
    """This worker's lease on the job expired and the job was taken back (a worker that
    stalled longer than the lease): its work is dropped, the other attempt's stands."""


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"[:120]


def _mine(job_id: int, attempt: int):
    """The job row, if this attempt still holds it; LeaseLost if not."""
    job = _job(job_id)
    if job is None or job.state != "running" or job.attempts != attempt:
        raise LeaseLost(job_id)
    return job


def _progress(job_id: int, done: int, total: int, message: str, attempt: int) -> None:
    with unit_of_work():
        job = _mine(job_id, attempt)
        job.done, job.total, job.message = done, total, message
        job.heartbeat_at = utcnow()


@contextmanager
def _heartbeat(job_id: int, attempt: int, every: float) -> Iterator[None]:
    """Renew the job's lease every ``every`` seconds while the work runs (a thread with its
    own connection: one short UPDATE, no audit entry, no transaction held between beats)."""
    engine = db.engine
    stop = threading.Event()

    def beat() -> None:
        while not stop.wait(every):
            try:
                with engine.begin() as conn:
                    conn.execute(update(Job).where(
                        Job.id == job_id, Job.attempts == attempt, Job.state == "running"
                    ).values(heartbeat_at=utcnow()))
            except Exception:  # the database away for a moment: the next beat tries again
                log.warning("job %s: heartbeat not written", job_id, exc_info=True)

    thread = threading.Thread(target=beat, name=f"job-{job_id}-heartbeat", daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()


def _claim(job_id: int) -> int | None:
    """Take a queued job (one conditional UPDATE, so two workers never both run it): its
    attempt number, or None when it is not queued (done, failed, taken)."""
    now = utcnow()
    with unit_of_work():
        taken = db.session.execute(update(Job).where(
            Job.id == job_id, Job.state == "queued").values(
            state="running", started_at=now, heartbeat_at=now, worker=worker_name(),
            attempts=Job.attempts + 1).execution_options(synchronize_session=False))
        if taken.rowcount != 1:
            return None
    return db.session.scalar(select(Job.attempts).where(Job.id == job_id))


def _remove(out_dir: Path | None) -> None:
    if out_dir is not None:
        shutil.rmtree(out_dir, ignore_errors=True)


def run(job_id: int) -> None:
    with site_scope(ALL_SITES):
        attempt = _claim(job_id)
        if attempt is None:
            return
        job = _job(job_id)
        params = json.loads(job.params)
        kind = job.kind
    lease = current_app.config["EDC_JOB_LEASE_SECONDS"]
    scope = ALL_SITES if params["sites"] is None else set(params["sites"])
    out_dir = None
    try:
        out_dir = attempt_dir(job_id, attempt)
        out_dir.mkdir(parents=True, exist_ok=True)
        with _heartbeat(job_id, attempt, max(lease / 6, 0.2)), site_scope(scope):
            if kind == "casebook":
                path = _casebook(job_id, params, out_dir, attempt)
            elif kind == "casebook_archive":
                path = _casebook_archive(job_id, params, out_dir, attempt)
            elif kind == "export":
                path = _export(job_id, params, out_dir, scope, attempt)
            else:
                path = _audit_pdf(job_id, params, out_dir, attempt)
        digest = _sha256(path)
        with site_scope(ALL_SITES), unit_of_work():
            job = _mine(job_id, attempt)
            job.state, job.finished_at = "done", utcnow()
            job.result_path, job.result_name, job.result_sha256 = str(path), path.name, digest
            job.done = job.total or job.done
            site = db.session.get(Site, job.site_id) if job.site_id else None
            audit.record(db.session, "job.done", actor=_actor(job), site=site,
                         target_type="job", target_id=str(job.id), new_value=path.name,
                         details={"sha256": digest, "bytes": path.stat().st_size,
                                  "attempt": attempt})
    except LeaseLost:
        db.session.rollback()
        _remove(out_dir)
        log.warning("job %s attempt %s: the lease expired; another attempt runs it",
                    job_id, attempt)
    except Exception as exc:  # a failed job says so on its page; the error is logged
        db.session.rollback()
        _remove(out_dir)
        with site_scope(ALL_SITES), unit_of_work():
            try:
                job = _mine(job_id, attempt)
            except LeaseLost:
                return
            job.state, job.finished_at = "failed", utcnow()
            job.message = f"{type(exc).__name__}: {str(exc)[:500]}"
            audit.record(db.session, "job.failed", actor=_actor(job), target_type="job",
                         target_id=str(job.id), new_value=type(exc).__name__)
        raise


def _casebook(job_id: int, params: dict, out_dir: Path, attempt: int) -> Path:
    """One subject's casebook PDF (the download on the subject's page)."""
    from edc.review import casebook

    subject = db.session.get(Subject, params["subject"])
    if subject is None:  # outside the requester's sites since they asked
        raise LookupError("the subject is not one of the requester's sites")
    _progress(job_id, 0, 1, subject.label, attempt)
    with unit_of_work():
        casebook.record(subject, actor=_actor(_job(job_id)), purpose=f"job {job_id}")
    path = out_dir / f"casebook-{subject.label}.pdf"
    casebook.render(subject, path, show_pii=params["show_pii"],
                    generated_by=params["generated_by"],
                    workers=current_app.config.get("EDC_PDF_WORKERS"))
    _progress(job_id, 1, 1, subject.label, attempt)
    return path


def _casebook_archive(job_id: int, params: dict, out_dir: Path, attempt: int) -> Path:
    from edc.review import casebook

    stmt = select(Subject).order_by(Subject.site_id, Subject.id)
    if params["site"]:
        stmt = stmt.where(Subject.site_id == params["site"])
    subject_ids = list(db.session.scalars(stmt.with_only_columns(Subject.id)))
    code = db.session.get(Site, params["site"]).code if params["site"] else "all-sites"
    total = len(subject_ids)
    _progress(job_id, 0, total, f"{total} subjects", attempt)
    files = []
    actor = _actor(_job(job_id))
    # one pool of layout workers for every casebook: started once, not once a subject
    with LayoutPool(current_app.config.get("EDC_PDF_WORKERS")) as pool:
        for n, subject_id in enumerate(subject_ids, start=1):
            subject = db.session.get(Subject, subject_id)
            with unit_of_work():
                casebook.record(subject, actor=actor, purpose=f"archive job {job_id}")
            name = f"casebook-{subject.label}.pdf"
            path = out_dir / name
            made = casebook.render(subject, path, show_pii=params["show_pii"],
                                   generated_by=params["generated_by"], pool=pool)
            files.append({"file": name, "subject": subject.label,
                          "screening_number": subject.screening_number, "pages": made.pages,
                          "sha256": _sha256(path), "chain_head_seq": made.head_seq,
                          "chain_head": made.head_hash})
            _progress(job_id, n, total, f"{n} of {total}: {subject.label}", attempt)
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


def _audit_pdf(job_id: int, params: dict, out_dir: Path, attempt: int) -> Path:
    from edc.trail.services import TrailFilter, export_pdf

    f = TrailFilter.from_params(params.get("filter") or {})
    _progress(job_id, 0, 1, f.describe(), attempt)
    path = out_dir / f"audit-trail-job{job_id}.pdf"
    export_pdf(f, path, actor=_actor(_job(job_id)), show_pii=params["show_pii"],
               generated_by=params["generated_by"], scope_note=params.get("scope_note", ""),
               zone=params.get("zone"))
    _progress(job_id, 1, 1, f.describe(), attempt)
    return path


def _export(job_id: int, params: dict, out_dir: Path, scope, attempt: int) -> Path:
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
            _progress(job_id, done, total, f"{done} of {total} subjects", attempt)
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
