"""Job pages: start a long output, watch its progress, download its result."""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, send_file, url_for
from flask_login import current_user
from sqlalchemy import select

from edc import jobs
from edc.extensions import db
from edc.jobs import services
from edc.models import Site
from edc.requestctx import current_actor
from edc.security import login_only
from edc.study import sites_in
from edc.uow import unit_of_work

bp = Blueprint("jobs", __name__, url_prefix="/jobs")


@bp.route("/")
@login_only
def index(status: int = 200, error: services.JobProblem | None = None):
    rows = services.mine(current_user)
    running = any(j.state in ("queued", "running") for j in rows)
    return render_template("jobs/index.html", rows=rows, label=services.label, error=error,
                           sites=sites_in(current_user.site_scope), kinds=services.KINDS,
                           elsewhere=services.ELSEWHERE, running=running), status


@bp.route("/", methods=["POST"])
@login_only
def start():
    kind = request.form.get("kind", "")
    site = None
    if code := request.form.get("site"):
        site = db.session.scalar(select(Site).where(Site.code == code.upper()))
        if site is None:
            return index(422, services.JobProblem("Choose one of your sites.", "site"))
    try:
        return launch(kind, site=site)
    except services.JobProblem as exc:
        return index(422, exc)


def launch(kind: str, **where):
    """Record the job (its own unit of work), queue it, and show the jobs page. Raises
    ``JobProblem`` with nothing written."""
    job_id = jobs.submit(kind, user=current_user, actor=current_actor(), **where)
    return redirect(url_for("jobs.index", started=job_id))


@bp.route("/<int:job_id>/download")
@login_only
def download(job_id: int):
    job = services.get_own(job_id, current_user)
    if job is None or job.state != "done" or not job.result_path:
        abort(404)
    with unit_of_work():
        services.record_download(job, actor=current_actor())
    return send_file(job.result_path, as_attachment=True, download_name=job.result_name,
                     max_age=0)
