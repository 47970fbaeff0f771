"""Monitoring and data management pages: SDV marks and the worklist, the SDV plan, locks and
freezes, and the investigator's sign-off of a form, a visit or the casebook."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    flash,
    make_response,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user
from sqlalchemy import select

from edc import signatures
from edc.crf import policy
from edc.crf import services as crf
from edc.errors import render_error
from edc.extensions import db
from edc.i18n import translate
from edc.jobs.services import JobProblem
from edc.models import Site
from edc.queries.routes import _int_arg, _subject
from edc.requestctx import current_actor, safe_path
from edc.review import locks, sdv, signoff
from edc.security import Perm, require
from edc.uow import unit_of_work
from forms.study_build import BUILD
from forms.text import N_

bp = Blueprint("review", __name__)


def _back(default: str) -> str:
    return safe_path(request.form.get("next")) or default


def _instance_args() -> tuple[str, str, int, int]:
    event_oid, form_oid = request.form.get("event", ""), request.form.get("form", "")
    try:
        crf.resolve(event_oid, form_oid)
    except crf.UnknownForm as exc:
        abort(make_response(*render_error(422, f"Name the event and the form: {exc}.")))
    return (event_oid, form_oid, _int_arg("event_repeat", 1, low=1),
            _int_arg("form_repeat", 1, low=1))


@bp.route("/subjects/<int:subject_id>/sdv", methods=["POST"])
@require(Perm.SDV)
def mark(subject_id: int):
    """Verify one item (``item``) or every valued item of a form instance."""
    subject = _subject(subject_id)
    event_oid, form_oid, er, fr = _instance_args()
    item = request.form.get("item") or None
    back = _back(url_for("subjects.detail", subject_id=subject.id))
    try:
        with unit_of_work():
            n = sdv.verify(subject, event_oid, form_oid, [item] if item else None,
                           user=current_user, actor=current_actor(), event_repeat=er,
                           form_repeat=fr)
    except sdv.SdvProblem as exc:
        return render_error(exc.status, translate(exc.message))
    flash(ngettext("%(num)d item marked verified.", "%(num)d items marked verified.", n)
          if n else _("Already verified."), "success")
    return redirect(back)


@bp.route("/monitoring/sdv")
@require(Perm.REVIEW)
def worklist():
    site_code = (request.args.get("site") or "").upper()
    site = db.session.scalar(select(Site).where(Site.code == site_code)) if site_code else None
    if site_code and site is None:
        abort(404)
    return render_template("review/worklist.html", sites=sdv.worklist(site.id if site else None),
                           plan=sdv.plan(), build=BUILD)


@bp.route("/monitoring/sdv-plan")
@require(Perm.VIEW_SUBJECTS)
def plan():
    return render_template("review/plan.html", plan=sdv.plan(), build=BUILD)


@bp.route("/data-management/locks")
@require(Perm.LOCK)
def locks_page(status: int = 200, error: locks.LockProblem | None = None):
    return render_template("review/locks.html", active=locks.active(),
                           history=locks.history(), blockers=locks.study_lock_blockers(),
                           error=error), status


@bp.route("/data-management/locks", methods=["POST"])
@require(Perm.LOCK)
def lock_apply():
    level = request.form.get("level", "")
    kind = request.form.get("kind", "")
    subject = None
    place: dict = {}
    if level in ("subject", "form"):
        subject = _subject(_int_arg("subject_id", 0, low=1) or abort(404))
    if level == "form":
        event_oid, form_oid, er, fr = _instance_args()
        place = {"event_oid": event_oid, "form_oid": form_oid, "event_repeat": er,
                 "form_repeat": fr}
    back = _back(url_for("review.locks_page"))
    try:
        with unit_of_work():
            lock = locks.apply(level, kind, user=current_user, actor=current_actor(),
                               reason=request.form.get("reason"), subject=subject, **place)
    except locks.LockProblem as exc:
        return locks_page(exc.status, exc)
    flash(_("%(scope)s: frozen.", scope=translate(lock.scope_label)) if kind == "freeze"
          else _("%(scope)s: locked.", scope=translate(lock.scope_label)), "success")
    return redirect(back)


@bp.route("/data-management/locks/<int:lock_id>/release", methods=["POST"])
@require(Perm.LOCK)
def lock_release(lock_id: int):
    lock = locks.get(lock_id)
    if lock is None:
        abort(404)
    back = _back(url_for("review.locks_page"))
    try:
        with unit_of_work():
            locks.release(lock, user=current_user, actor=current_actor(),
                          reason=request.form.get("reason"))
    except locks.LockProblem as exc:
        return locks_page(exc.status, exc)
    flash(_("Released."), "success")
    return redirect(back)


@bp.route("/subjects/<int:subject_id>/casebook", methods=["POST"])
@require(Perm.VIEW_QUERIES)
def casebook_job(subject_id: int):
    """The subject's casebook PDF, made in the background (a long follow-up is hundreds of
    pages): the jobs page shows its progress and the download. Audited when asked for,
    when made and when downloaded; identifying values only for roles that see them."""
    from edc.jobs.routes import launch

    subject = _subject(subject_id)
    try:
        return launch("casebook", subject=subject)
    except JobProblem as exc:
        flash(translate(exc.message), "error")
        return redirect(url_for("subjects.detail", subject_id=subject_id))


def _target() -> str:
    name = request.values.get("target", "")
    try:
        signoff.parse(name)
    except ValueError:
        abort(404)
    return name


@bp.route("/subjects/<int:subject_id>/sign")
@require(Perm.VIEW_SUBJECTS)
def sign_page(subject_id: int, status: int = 200, error: str | None = None,
              blockers: list[str] | None = None):
    subject = _subject(subject_id)
    name = _target()
    spec = signatures.target(name)
    lock = policy.lock_over(subject, **(spec.place or {}), data=False)
    return render_template("review/sign.html", subject=subject, target=name, spec=spec,
                           parsed=signoff.parse(name), build=BUILD,
                           locked=policy.Locked(lock, N_("nothing can be signed")).message
                           if lock else None,
                           shown=signatures.shown(subject, name),
                           blockers=blockers if blockers is not None else spec.blockers(subject),
                           error=error), status


@bp.route("/subjects/<int:subject_id>/sign", methods=["POST"])
@require(Perm.SIGN)
def sign(subject_id: int):
    subject = _subject(subject_id)
    name = _target()
    if not request.form.get("username") or not request.form.get("password"):
        return sign_page(subject_id, 422, "Give your user ID and password: both components "
                                          "of the signature are required.")
    try:
        with unit_of_work():
            signatures.sign(subject, name, user=current_user,
                            username=request.form.get("username", ""),
                            password=request.form.get("password", ""),
                            code=request.form.get("code"), actor=current_actor())
    except signatures.SignatureRefused as exc:
        return sign_page(subject_id, exc.status, exc.message, exc.blockers or None)
    flash(_("Signed."), "success")
    return redirect(url_for("review.sign_page", subject_id=subject.id, target=name))
