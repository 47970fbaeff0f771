"""The export page of data managers and sponsors: choose a format, sites and the snapshot;
the export runs as a background job (progress and download on the jobs page)."""

from __future__ import annotations

from flask import Blueprint, redirect, render_template, request, url_for
from flask_login import current_user

from edc import jobs
from edc.exports import dataset
from edc.jobs import services as job_services
from edc.requestctx import current_actor
from edc.security import Perm, require
from edc.study import sites_in

bp = Blueprint("exports", __name__, url_prefix="/exports")


@bp.route("/")
@require(Perm.EXPORT)
def index(status: int = 200, error: job_services.JobProblem | None = None, form=None):
    recent = [j for j in job_services.mine(current_user) if j.kind == "export"][:10]
    return render_template("exports/index.html", formats=dataset.FORMATS,
                           sites=sites_in(current_user.site_scope), head=dataset.head() or 0,
                           error=error, form=form or {}, recent=recent,
                           chosen=form.getlist("site") if form else []), status


@bp.route("/", methods=["POST"])
@require(Perm.EXPORT)
def start():
    options = {"format": request.form.get("format", ""),
               "sites": request.form.getlist("site"),
               "as_of": request.form.get("as_of", "").strip() or None,
               "since": request.form.get("since", "").strip() or None}
    try:
        job_id = jobs.submit("export", user=current_user, actor=current_actor(),
                             options=options)
    except job_services.JobProblem as exc:
        return index(422, exc, request.form)
    return redirect(url_for("jobs.index", started=job_id))
