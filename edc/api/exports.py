"""The de-identified sponsor export through the API.

``GET /api/v1/exports/{format}`` answers with the zip, streamed: the files are written first,
from a snapshot, into a scratch folder (bounded memory; no write lock held), the export is
audited with the SHA-256 of each file, and the zip is then sent a piece at a time (chunked),
the scratch folder removed when the download ends or is abandoned. The request waits while
the files are written: seconds for a study of a few hundred subjects.

``POST /api/v1/exports/{format}/jobs`` asks for the same export as a background job (the job
queue of the export page) and answers at once (202) with the job; ``GET
/api/v1/exports/jobs/{id}`` follows its progress and ``.../download`` fetches the zip. This is
the way for large studies and pipelines: no web request does the work."""

from __future__ import annotations

import contextlib
import json

from flask import Response, jsonify, request, send_file, url_for
from flask_login import current_user

from edc import jobs
from edc.api import schemas as S
from edc.api.routes import _error, bp
from edc.exports import dataset, sdtm, services
from edc.extensions import db
from edc.jobs import services as job_services
from edc.models import Job
from edc.requestctx import current_actor
from edc.security import Perm, require
from edc.timefmt import utc_time
from edc.uow import read_only, unit_of_work


@bp.route("/exports/<fmt>")
@S.doc("The de-identified sponsor export (csv, odm, xpt or json) as a zip with "
       "manifest.json, streamed; audited with the SHA-256 of each file",
       ok=(200, None), media="application/zip", errors=(401, 403, 404, 409, 422),
       query=("site", "as_of", "since_seq"))
@require(Perm.EXPORT)
def export(fmt: str):
    if fmt not in dataset.FORMATS:
        return _unknown(fmt)
    try:
        scope = services.resolve(fmt, **_asked(), scope=current_user.site_scope)
    except services.ExportProblem as exc:
        return _refused(exc.status, exc.field, exc.message)
    actor = current_actor("api")
    stack = contextlib.ExitStack()
    try:
        sp = stack.enter_context(services.spool())
        with read_only():
            # in this process: a web worker starts no processes of its own (the jobs
            # page and the command line do)
            files = services.prepare(scope, sp, scope_ids=current_user.site_scope, workers=0)
        with unit_of_work():
            services.record(scope, files, actor=actor, via="api")
    except sdtm.TooLong as exc:
        stack.close()
        return _error(409, f"cannot be written as {fmt}: {exc}")
    except BaseException:
        stack.close()
        raise
    manifest = services.manifest(scope, files, generated_by=f"{actor.username} (API)")

    response = Response(services.stream(sp, manifest, scope.as_of_time),
                        mimetype="application/zip", headers={
        "Content-Disposition": f'attachment; filename="{services.file_name(scope)}"',
        "X-Export-As-Of": str(scope.as_of), "Cache-Control": "no-store"})
    # the scratch files go when the response is closed: sent, abandoned, or never started
    response.call_on_close(stack.close)
    return response


@bp.route("/exports/<fmt>/jobs", methods=["POST"])
@S.doc("Ask for the de-identified sponsor export as a background job: answers at once "
       "(202, Location: the job) with the snapshot fixed; follow the job, then download",
       ok=(202, S.ExportJob), errors=(401, 403, 404, 422),
       query=("site", "as_of", "since_seq"))
@require(Perm.EXPORT)
def export_job_start(fmt: str):
    if fmt not in dataset.FORMATS:
        return _unknown(fmt)
    try:
        job_id = jobs.submit("export", user=current_user, actor=current_actor("api"),
                             options={"format": fmt, **_asked()})
    except job_services.JobProblem as exc:
        return _refused(exc.status, exc.field, str(exc.message))
    response = _shown(db.session.get(Job, job_id))  # the one just asked for
    response.status_code = 202
    response.headers["Location"] = url_for("api.export_job", job_id=job_id)
    return response


@bp.route("/exports/jobs/<int:job_id>")
@S.doc("An export job of yours: its state and progress, and once done its file, SHA-256 "
       "and download address", ok=(200, S.ExportJob))
@require(Perm.EXPORT)
def export_job(job_id: int):
    job = _own_export_job(job_id)
    if job is None:
        return _error(404, "no such export job of yours")
    return _shown(job)


@bp.route("/exports/jobs/<int:job_id>/download")
@S.doc("The zip of a finished export job of yours (each download is audited)",
       ok=(200, None), media="application/zip", errors=(401, 403, 404, 409))
@require(Perm.EXPORT)
def export_job_download(job_id: int):
    job = _own_export_job(job_id)
    if job is None:
        return _error(404, "no such export job of yours")
    if job.state != "done" or not job.result_path:
        return _error(409, f"the job is {job.state}: nothing to download yet"
                      if job.state in ("queued", "running") else "the job failed: no file")
    with unit_of_work():
        job_services.record_download(job, actor=current_actor("api"))
    return send_file(job.result_path, mimetype="application/zip", as_attachment=True,
                     download_name=job.result_name, max_age=0)


def _unknown(fmt: str):
    return _error(404, f"no export format {fmt[:20]!r}: one of {', '.join(dataset.FORMATS)}")


def _asked() -> dict:
    """The export's query parameters, as ``resolve`` takes them."""
    return {"sites": request.args.getlist("site"), "as_of": request.args.get("as_of"),
            "since": request.args.get("since_seq")}


def _refused(status: int, field: str, message: str):
    """A refusal naming the query parameter (``since`` is asked for as ``since_seq``)."""
    name = {"since": "since_seq"}.get(field, field)
    return _error(status, message, {name: message})


def _own_export_job(job_id: int) -> Job | None:
    job = job_services.get_own(job_id, current_user)
    return job if job is not None and job.kind == "export" else None


def _shown(job: Job):
    export = json.loads(job.params).get("export", {})
    done = job.state == "done" and bool(job.result_path)
    body = S.ExportJob(
        id=job.id, format=export.get("format", ""), state=job.state, done=job.done,
        total=job.total, message=job.message if job.state == "failed" else None,
        as_of=export.get("as_of", 0), since_seq=export.get("since"),
        sites=export.get("sites"), created_utc=utc_time(job.created_at),
        finished_utc=utc_time(job.finished_at) if job.finished_at else None,
        file=job.result_name if done else None, sha256=job.result_sha256 if done else None,
        download=url_for("api.export_job_download", job_id=job.id) if done else None)
    return jsonify(body.model_dump())
