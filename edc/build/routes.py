from __future__ import annotations

import io

from flask import Blueprint, Response, render_template

from edc.build import services
from edc.requestctx import current_actor
from edc.security import login_only
from edc.uow import unit_of_work
from forms import consistency
from forms.acrf import render_acrf
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
    out = io.BytesIO()
    render_acrf(BUILD, out)
    with unit_of_work():
        services.record_acrf(BUILD, actor=current_actor())
    return Response(out.getvalue(), mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="acrf-{BUILD.version}.pdf"'})
