"""Requesting, listing and downloading background jobs. Jobs are site-scoped (a job covers
only sites its requester may see, and only its requester sees and downloads it) and audited
(requested, finished with the SHA-256 of its result, failed, downloaded)."""

from __future__ import annotations

import json
import shutil
from datetime import timedelta

from flask import current_app
from sqlalchemy import func, select

import audit
from audit import Actor
from audit.clock import utcnow
from edc.extensions import db
from edc.jobs import attempt_dir
from edc.models import Job, Site, Subject, User
from edc.security import ALL_SITES, Perm, has_perm
from edc.trail.services import TrailFilter
from forms.text import N_, Message

KINDS = {
    "casebook": ("Subject casebook", Perm.VIEW_QUERIES),
    "casebook_archive": ("Casebook archive", Perm.VIEW_QUERIES),
    "audit_pdf": ("Audit trail PDF", Perm.VIEW_AUDIT),
    "export": ("Sponsor export", Perm.EXPORT),
}


class JobProblem(Exception):
    status = 422

    def __init__(self, message: str, field: str = "kind"):
        super().__init__(message)
        self.message = message
        self.field = field


#: kinds started from their own page (a subject's, the exports page), not the jobs page
ELSEWHERE = ("casebook", "export")


def label(job: Job) -> str:
    return KINDS.get(job.kind, (job.kind,))[0]


def request_job(kind: str, *, user: User, actor: Actor, site: Site | None = None,
                options: dict | None = None, subject: Subject | None = None,
                trail: TrailFilter | None = None) -> Job:
    """Record a job for ``user`` (the caller commits, then enqueues it). An export's
    ``options`` (format, sites, as_of, since) are checked now and its snapshot fixed: the
    job exports the trail as it was when it was asked for. A subject's casebook names the
    ``subject`` (read by the caller through the site scope) and is of its site. An audit
    trail PDF covers the entries ``trail`` selects (all, if none) in the requester's sites,
    and says which sites those are."""
    if kind not in KINDS:
        raise JobProblem(Message(
                "unknown job %(kind)s: one of %(value)s",
                kind=repr(kind),
                value=', '.join(KINDS)))
    if not has_perm(user, KINDS[kind][1]):
        raise JobProblem(N_("Your role does not allow this output."), "kind")
    if site is not None and site.id not in user.site_scope:
        raise JobProblem(N_("Not one of your sites."), "site")
    scope = user.site_scope
    params = {"sites": None if scope is ALL_SITES else sorted(scope),
              "site": site.id if site else None,
              "show_pii": has_perm(user, Perm.VIEW_PII),
              "generated_by": f"{user.full_name} ({user.username}, {user.role.label})"}
    if (kind == "casebook") != (subject is not None):
        raise JobProblem(N_("A casebook is asked for from its subject's page."), "kind")
    if subject is not None:
        site = subject.site
        if site.id not in user.site_scope:
            raise JobProblem(N_("Not one of your sites."), "site")
        params["subject"] = subject.id
    if kind == "audit_pdf":
        if site is not None:
            raise JobProblem(N_("The audit trail PDF covers every site you may see."), "site")
        if trail is not None and (problems := trail.problems()):
            field, problem = next(iter(problems.items()))
            raise JobProblem(problem, field)
        own = [] if scope is ALL_SITES else sorted(user.sites, key=lambda s: s.code)
        params["filter"] = (trail or TrailFilter()).to_params()
        params["scope_note"] = "sites " + ", ".join(s.code for s in own) if own else ""
        params["zone"] = own[0].timezone if own else None
    elif trail is not None:
        raise JobProblem(N_("Only the audit trail PDF takes a filter."), "kind")
    if kind == "export":
        from edc.exports import dataset

        options = options or {}
        try:
            export = dataset.resolve(options.get("format", ""), sites=options.get("sites"),
                                     as_of=options.get("as_of"), since=options.get("since"),
                                     scope=scope)
        except dataset.ExportProblem as exc:
            raise JobProblem(exc.message, exc.field) from None
        params["export"] = {"format": export.format, "sites": list(export.sites)
                            if export.chosen_sites else None, "as_of": export.as_of,
                            "since": export.since}
    job = Job(kind=kind, params=json.dumps(params), site_id=site.id if site else None,
              requested_by_id=user.id, requested_by_name=user.full_name,
              requested_role=user.role.value, state="queued")
    db.session.add(job)
    db.session.flush()
    audit.record(db.session, "job.create", actor=actor, site=site, target_type="job",
                 target_id=str(job.id), new_value=kind,
                 details={"site": site.code if site else "all of the requester's sites",
                          **({"export": params["export"]} if "export" in params else {}),
                          **({"subject": subject.label} if subject is not None else {}),
                          **({"entries": TrailFilter.from_params(params["filter"]).describe()}
                             if "filter" in params else {})})
    return job


def mine(user: User, limit: int = 50) -> list[Job]:
    return list(db.session.scalars(select(Job).where(Job.requested_by_id == user.id)
                                   .order_by(Job.id.desc()).limit(limit)))


def get_own(job_id: int, user: User) -> Job | None:
    job = db.session.get(Job, job_id)
    return job if job is not None and job.requested_by_id == user.id else None


def record_download(job: Job, *, actor: Actor) -> None:
    site = db.session.get(Site, job.site_id) if job.site_id else None
    audit.record(db.session, "job.download", actor=actor, site=site, target_type="job",
                 target_id=str(job.id), new_value=job.result_name,
                 details={"sha256": job.result_sha256})


WORKER_RESTARTED = N_("The worker stopped while it ran this job; it is queued again.")
WORKER_STOPPED = N_("The worker stopped while it ran this job (it was killed or its machine "
                    "restarted), attempt after attempt: ask for it again.")


def recover_stale() -> list[int]:
    """Running jobs whose lease expired (no heartbeat for ``EDC_JOB_LEASE_SECONDS``: their
    worker was killed) go back to the queue, audited as ``job.retry``, until they have had
    ``EDC_JOB_ATTEMPTS``; then they fail with the reason (``job.failed``). The dead
    attempt's partial files are removed. Returns the ids to enqueue once the caller has
    committed."""
    config = current_app.config
    cutoff = utcnow() - timedelta(seconds=config["EDC_JOB_LEASE_SECONDS"])
    stale = select(Job).where(Job.state == "running",
                              func.coalesce(Job.heartbeat_at, Job.started_at) < cutoff
                              ).order_by(Job.id).with_for_update(skip_locked=True)
    again = []
    for job in db.session.scalars(stale):
        shutil.rmtree(attempt_dir(job.id, job.attempts), ignore_errors=True)
        site = db.session.get(Site, job.site_id) if job.site_id else None
        details = {"attempt": job.attempts, "worker": job.worker,
                   "last_heartbeat_utc": (job.heartbeat_at or job.started_at).isoformat()}
        if job.attempts < config["EDC_JOB_ATTEMPTS"]:
            job.state, job.message, job.done = "queued", WORKER_RESTARTED, 0
            audit.record(db.session, "job.retry", actor=Actor.system("job"), site=site,
                         target_type="job", target_id=str(job.id), new_value="queued",
                         details=details)
            again.append(job.id)
        else:
            job.state, job.finished_at, job.message = "failed", utcnow(), WORKER_STOPPED
            audit.record(db.session, "job.failed", actor=Actor.system("job"), site=site,
                         target_type="job", target_id=str(job.id), new_value="WorkerStopped",
                         details=details)
    return again
