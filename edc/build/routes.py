from __future__ import annotations

import io

from flask import Blueprint, Response, render_template

from edc.security import login_only
from forms import consistency
from forms.study_build import BUILD, CHANGES

bp = Blueprint("build", __name__, url_prefix="/study")


@bp.route("/dictionary")
@login_only
def dictionary():
    """The data dictionary of the active metadata version: events, forms, items."""
    return render_template("build/dictionary.html", build=BUILD, changes=CHANGES,
                           checks=consistency.CHECKS)


@bp.route("/acrf.pdf")
@login_only
def acrf():
    """The blank annotated CRF of the active metadata version (PDF/A-2b)."""
    import audit
    from edc.extensions import db
    from edc.requestctx import current_actor
    from forms.acrf import render_acrf

    out = io.BytesIO()
    render_acrf(BUILD, out)
    audit.record(db.session, "build.acrf_pdf", actor=current_actor(),
                 details={"metadata_version": BUILD.version})
    db.session.commit()
    return Response(out.getvalue(), mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="acrf-{BUILD.version}.pdf"'})
