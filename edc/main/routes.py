from __future__ import annotations

from flask import Blueprint, flash, redirect, render_template, request, session, url_for
from flask_login import current_user

from edc import dashboards as dashboards_service
from edc import deviations, health, requestctx, safety
from edc.auth import services as auth_services
from edc.extensions import db
from edc.i18n import translate_error
from edc.main import worklists
from edc.review import locks, sdv
from edc.security import Perm, has_perm, login_only, public, require
from edc.subjects.services import list_subjects
from edc.uow import unit_of_work

bp = Blueprint("main", __name__)


@bp.route("/")
@login_only
def index():
    if has_perm(current_user, Perm.MANAGE_USERS):
        return redirect(url_for("admin.users"))
    clinical = has_perm(current_user, Perm.VIEW_SUBJECTS)
    deviation_count = deviations.count_in_scope() if clinical else 0
    # investigators and coordinators report SAEs: their start page shows every clock
    site_staff = has_perm(current_user, Perm.ENTER_DATA)
    saes = safety.sae_clocks() if site_staff else []
    lists = {}
    if clinical and not has_perm(current_user, Perm.VIEW_PII) and \
            not has_perm(current_user, Perm.REVIEW):
        lists["summary"] = worklists.enrollment_summary()  # the sponsor: counts only
        lists["safety"] = worklists.safety_summary()
    elif clinical:
        subjects = list_subjects()
        if site_staff:
            lists["visits"] = worklists.visits_due(subjects)
            lists["incomplete"] = worklists.incomplete_forms()
            lists["answer"] = worklists.query_rows("open")
        if has_perm(current_user, Perm.SIGN):
            lists["sign"] = worklists.awaiting_signature(subjects)
        if has_perm(current_user, Perm.SDV):
            lists["sdv"] = sdv.worklist()
            lists["review"] = worklists.query_rows("answered")
        if has_perm(current_user, Perm.LOCK):
            lists["unresolved"] = worklists.query_rows("unresolved")
            lists["lock"] = locks.study_lock_blockers()
    return render_template("main/index.html", lists=lists, clinical=clinical,
                           deviations=deviation_count, saes=saes, icaht=None)


@bp.route("/language", methods=["POST"])
@login_only
def set_language():
    """Show eCRF labels and code lists in English or Chinese (the other language stays
    beside it). Returns to the page the user came from."""
    lang = request.form.get("lang", "")
    try:
        with unit_of_work():
            auth_services.choose_language(current_user, lang, actor=requestctx.current_actor())
    except ValueError as exc:
        flash(translate_error(exc), "error")
    else:
        session["lang"] = lang
    back = requestctx.safe_path(request.form.get("next", "")) or url_for("main.index")
    return redirect(back, 303)


@bp.route("/dashboards")
@require(Perm.VIEW_SUBJECTS)
def dashboards():
    """Enrollment, visit compliance, CRS/ICANS, adverse events and follow-up, in the
    caller's sites: SVG charts with their tables."""
    return render_template("main/dashboards.html", charts=dashboards_service.build())


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
