from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from edc import deviations, health, requestctx, safety
from edc.extensions import db
from edc.security import Perm, has_perm, login_only, public
from edc.subjects.services import subject_counts

bp = Blueprint("main", __name__)


@bp.route("/")
@login_only
def index():
    if has_perm(current_user, Perm.MANAGE_USERS):
        return redirect(url_for("admin.users"))
    clinical = has_perm(current_user, Perm.VIEW_SUBJECTS)
    counts = subject_counts() if clinical else None
    deviation_count = deviations.count_in_scope() if clinical else 0
    # investigators and coordinators report SAEs: their start page shows every clock
    saes = safety.sae_clocks() if has_perm(current_user, Perm.ENTER_DATA) else []
    return render_template("main/index.html", counts=counts, deviations=deviation_count,
                           saes=saes, subject=None, icaht=None)


@bp.route("/language", methods=["POST"])
@login_only
def set_language():
    """Show eCRF labels and code lists in English or Chinese (the other language stays
    beside it). Returns to the page the user came from."""
    lang = request.form.get("lang", "")
    if lang in requestctx.LANGUAGES:
        session["lang"] = lang
    else:
        flash("Choose English or 中文.", "error")
    back = requestctx.safe_path(request.form.get("next", "")) or url_for("main.index")
    return redirect(back, 303)


@bp.route("/session/alive", methods=["POST"])
@login_only
def stay_signed_in():
    """"Stay signed in": a request of the signed-in user, which moves the idle clock of the
    session (the user loader touches it). The page's warning calls it; nothing else changes."""
    return "", 204


@bp.route("/healthz")
@public
def healthz():
    """200 when the database answers and takes a change; 503 naming what stops it (a
    read-only or full database, low disk, no connection), for the load balancer."""
    found = health.problems(db.session)
    if found:
        return {"status": "unavailable", "problems": found}, 503, {"Retry-After": "60"}
    return {"status": "ok"}
