"""Requesting, listing and downloading background jobs. Jobs are site-scoped (a job covers
only sites its requester may see, and only its requester sees and downloads it) and audited
(requested, finished with the SHA-256 of its result, failed, downloaded)."""

from __future__ import annotations

import json

from sqlalchemy import select

import audit
from audit import Actor
from edc.extensions import db
from edc.models import Job, Site, User
from edc.security import ALL_SITES, Perm, has_perm
from forms.text import N_, Message

KINDS = {
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


def label(job: Job) -> str:
    return KINDS.get(job.kind, (job.kind,))[0]


def request_job(kind: str, *, user: User, actor: Actor, site: Site | None = None,
                options: dict | None = None) -> Job:
    """Record a job for ``user`` (the caller commits, then enqueues it). An export's
    ``options`` (format, sites, as_of, since) are checked now and its snapshot fixed: the
    job exports the trail as it was when it was asked for."""
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
    if kind == "audit_pdf" and site is not None:
        raise JobProblem(N_("The audit trail PDF covers every site you may see."), "site")
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
                          **({"export": params["export"]} if "export" in params else {})})
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
