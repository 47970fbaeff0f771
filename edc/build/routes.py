from __future__ import annotations

from flask import Blueprint, render_template, send_file

from edc.build import services
from edc.requestctx import current_actor
from edc.security import login_only
from edc.uow import unit_of_work
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
    """The blank annotated CRF of the active metadata version (PDF/A-2b), laid out once
    per build (``services.acrf_file``)."""
    path = services.acrf_file(BUILD)
    with unit_of_work():
        services.record_acrf(BUILD, actor=current_actor())
    return send_file(path, mimetype="application/pdf", as_attachment=True,
                     download_name=f"acrf-{BUILD.version}.pdf", max_age=0)
