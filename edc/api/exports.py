"""``GET /api/v1/exports/{format}``: the de-identified sponsor export as a streamed zip.

The files are written first, from a snapshot, into a scratch folder (bounded memory; no
write lock held), the export is audited with the SHA-256 of each file, and the zip is then
sent a piece at a time (chunked), the scratch folder removed when the download ends or is
abandoned."""

from __future__ import annotations

import contextlib

from flask import Response, request
from flask_login import current_user

from edc.api import schemas as S
from edc.api.routes import _error, bp
from edc.exports import dataset, sdtm, services
from edc.requestctx import current_actor
from edc.security import Perm, require
from edc.uow import read_only, unit_of_work


@bp.route("/exports/<fmt>")
@S.doc("The de-identified sponsor export (csv, odm, xpt or json) as a zip with "
       "manifest.json, streamed; audited with the SHA-256 of each file",
       ok=(200, None), media="application/zip", errors=(401, 403, 404, 409, 422),
       query=("site", "as_of", "since_seq"))
@require(Perm.EXPORT)
def export(fmt: str):
    if fmt not in dataset.FORMATS:
        return _error(404, f"no export format {fmt[:20]!r}: one of "
                           f"{', '.join(dataset.FORMATS)}")
    try:
        scope = services.resolve(fmt, sites=request.args.getlist("site"),
                                 as_of=request.args.get("as_of"),
                                 since=request.args.get("since_seq"),
                                 scope=current_user.site_scope)
    except services.ExportProblem as exc:
        name = {"since": "since_seq"}.get(exc.field, exc.field)
        return _error(exc.status, exc.message, {name: exc.message})
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
