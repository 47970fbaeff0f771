from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from edc import deviations as deviation_service
from edc import safety, signatures
from edc.clock import local_today
from edc.crf.casebook import casebook, visit_schedule
from edc.extensions import db
from edc.i18n import translate_error
from edc.models import Site
from edc.queries import services as queries
from edc.requestctx import current_actor
from edc.review import locks, sdv, signoff
from edc.security import Perm, can, has_perm, require
from edc.subjects import progress, services
from edc.uow import unit_of_work
from forms.study_build import BUILD, LOG_FORMS

bp = Blueprint("subjects", __name__, url_prefix="/subjects")


def _creatable_sites() -> list[Site]:
    scope = current_user.site_scope
    sites = db.session.scalars(select(Site).where(Site.active.is_(True)).order_by(Site.code))
    return [s for s in sites if s.id in scope]


@bp.route("/")
@require(Perm.VIEW_SUBJECTS)
def index():
    sites = _creatable_sites() if can(current_user, Perm.CREATE_SUBJECT) else []
    q = (request.args.get("q") or "").strip()[:32]
    found = services.search_subjects(q, user=current_user) \
        if q else services.list_subjects()
    if q and len(found) == 1:  # one subject: straight to it
        return redirect(url_for("subjects.detail", subject_id=found[0].id))
    return render_template("subjects/index.html", subjects=found, sites=sites, q=q,
                           shown=progress.statuses(found))


@bp.route("/new", methods=["POST"])
@require(Perm.CREATE_SUBJECT)
def create():
    code = (request.form.get("site") or "").strip().upper()
    site = db.session.scalar(select(Site).where(Site.code == code))
    if site is None:
        flash(_("Choose one of your sites."), "error")
        return redirect(url_for("subjects.index")), 303
    try:
        with unit_of_work():
            subject = services.create_subject(site, actor=current_actor(),
                                              created_by_id=current_user.id)
            number, subject_id = subject.screening_number, subject.id
    except services.SubjectError as exc:
        flash(translate_error(exc), "error")
        return redirect(url_for("subjects.index")), 303
    flash(_("Subject %(number)s registered at %(site)s.", number=number, site=site.code), "success")
    return redirect(url_for("subjects.detail", subject_id=subject_id))


@bp.route("/<int:subject_id>")
@require(Perm.VIEW_SUBJECTS)
def detail(subject_id: int):
    subject = services.get_subject(subject_id)
    if subject is None or not can(current_user, Perm.VIEW_SUBJECTS, subject):
        abort(404)
    visits = {v.event: v for v in visit_schedule(subject)}
    saved = casebook(subject)
    rows: dict[tuple[str, str], list] = {}  # repeating forms: their saved rows, in order
    for (event_oid, _visit, form_oid, repeat), row in sorted(saved.items()):
        if BUILD.form(form_oid).repeating or event_oid == "LOG":
            rows.setdefault((event_oid, form_oid), []).append((repeat, row))
    repeats: dict[str, list[int]] = {}  # repeatable events (unscheduled visits): visit numbers
    for event_oid, event_repeat, *_rest in saved:
        if BUILD.event(event_oid).repeatable and event_repeat not in repeats.get(event_oid, []):
            repeats.setdefault(event_oid, []).append(event_repeat)
    return render_template("subjects/detail.html", subject=subject, saved=saved, rows=rows,
                           repeats={k: sorted(v) for k, v in repeats.items()},
                           visits=visits, deviations=deviation_service.for_subject(subject),
                           icaht=safety.icaht(subject), saes=safety.sae_clocks(subject),
                           events=[e for e in BUILD.events if e.oid != "LOG"],
                           log_forms=[BUILD.form(f) for f in LOG_FORMS], build=BUILD,
                           may_edit=can(current_user, Perm.ENTER_DATA, subject),
                           today=local_today(subject.site.timezone), **_review(subject))


def _review(subject) -> dict:
    """Queries, SDV, locks and sign-off of the subject, for the casebook's badges."""
    counts = queries.counts(subject) if has_perm(current_user, Perm.VIEW_QUERIES) else {}
    progress = sdv.for_subject(subject) if has_perm(current_user, Perm.REVIEW) else []
    required = [i for i in progress if i.required]
    return {"qcounts": counts, "locks": locks.active(subject),
            "sdv_required": sum(len(i.items) for i in required),
            "sdv_verified": sum(i.verified for i in required),
            "casebook_signature": (signatures.shown(subject, "casebook") or [None])[0],
            "visit_target": signoff.visit_target}


@bp.route("/deviations")
@require(Perm.VIEW_SUBJECTS)
def deviations():
    """Protocol deviations of the caller's sites (investigators and data managers act on
    them; the data-layer scope limits the rows)."""
    return render_template("subjects/deviations.html",
                           rows=deviation_service.all_in_scope())
