"""Eligibility pages: the checklist with its signature and the enrollment button, and the
study settings the rules read."""

from __future__ import annotations

import json

from flask import Blueprint, Response, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user

from edc import anchor, signatures
from edc.clock import utcnow
from edc.eligibility import enrollment, services, settings
from edc.extensions import db
from edc.requestctx import current_actor
from edc.security import Perm, can, has_perm, require
from edc.subjects.services import get_subject
from edc.uow import unit_of_work
from edc_pdf import fonts

bp = Blueprint("eligibility", __name__)


def _subject(subject_id: int):
    subject = get_subject(subject_id)
    if subject is None or not can(current_user, Perm.VIEW_SUBJECTS, subject):
        abort(404)
    return subject


def _page(subject, status: int = 200, **extra):
    rep = services.report(subject, pii_ok=has_perm(current_user, Perm.VIEW_PII))
    return render_template("eligibility/checklist.html", subject=subject, rep=rep,
                           result=rep["result"], meaning=services.MEANING,
                           texts=rep["result"]["texts"], **extra), status


@bp.route("/subjects/<int:subject_id>/eligibility")
@require(Perm.VIEW_SUBJECTS)
def checklist(subject_id: int):
    return _page(_subject(subject_id))


@bp.route("/subjects/<int:subject_id>/eligibility.pdf")
@require(Perm.VIEW_SUBJECTS)
def checklist_pdf(subject_id: int):
    """The checklist as printed (PDF/A-2b): verdict, rule version, clarifications, every
    signature with name, UTC and local time, meaning and status, and the evidence."""
    from weasyprint import HTML

    subject = _subject(subject_id)
    rep = services.report(subject, pii_ok=has_perm(current_user, Perm.VIEW_PII))
    with unit_of_work():
        services.record_print(subject, rep, actor=current_actor())
    signed = anchor.checkpoint_now(db.session)
    html = render_template("eligibility/print.html", subject=subject, rep=rep,
                           result=rep["result"], texts=rep["result"]["texts"], now=utcnow(),
                           printed_by=f"{current_user.full_name} ({current_user.username})",
                           anchor_line=anchor.printed(), head=signed,
                           pdf_font_faces=fonts.font_face_css(),
                           pdf_font_stack=fonts.stack("DejaVu Sans"))
    pdf = HTML(string=html).write_pdf(pdf_variant="pdf/a-2b")
    return Response(pdf, mimetype="application/pdf", headers={
        "Content-Disposition": f'attachment; filename="eligibility-{subject.label}.pdf"'})


@bp.route("/subjects/<int:subject_id>/eligibility/sign", methods=["POST"])
@require(Perm.SIGN)
def sign(subject_id: int):
    subject = _subject(subject_id)
    username = request.form.get("username", "")
    password = request.form.get("password", "")
    errors = {}
    if not username.strip():
        errors["username"] = "Enter your user ID."
    if not password:
        errors["password"] = "Enter your password."  # noqa: S105 - a message
    if errors:
        return _page(subject, 422, sign_errors=errors)
    try:
        with unit_of_work():
            signatures.sign(subject, services.TARGET, user=current_user, username=username,
                            password=password, code=request.form.get("code"),
                            actor=current_actor())
    except signatures.WrongCode as exc:
        return _page(subject, 401, sign_errors={"code": exc.message})
    except signatures.WrongCredentials as exc:
        return _page(subject, 401, sign_errors={"password": exc.message})
    except signatures.SignatureRefused as exc:
        return _page(subject, exc.status, sign_errors={"form": exc.message},
                     blockers=exc.blockers)
    flash(_("Eligibility checklist signed."), "success")
    return redirect(url_for("eligibility.checklist", subject_id=subject.id), 303)


@bp.route("/subjects/<int:subject_id>/enroll", methods=["POST"])
@require(Perm.ENROLL)
def enroll(subject_id: int):
    subject = _subject(subject_id)
    try:
        with unit_of_work():
            number = enrollment.enroll(subject, user=current_user, actor=current_actor())
    except enrollment.EnrollmentRefused as exc:
        return _page(subject, exc.status, refusal=exc)
    flash(_("Subject enrolled as %(number)s.", number=number), "success")
    return redirect(url_for("subjects.detail", subject_id=subject.id), 303)


# Study settings ------------------------------------------------------------------------------

def _settings_page(status: int = 200, errors: dict | None = None, form: dict | None = None):
    rows = settings.history()
    current = settings.to_settings(rows[0])
    values = current.as_dict()
    if form is None:
        form = {**{k: values[k] for k in (*settings.WINDOWS, *settings.CLARIFICATIONS)},
                "half_life_hours": "\n".join(f"{a} = {h:g}" for a, h in
                                             values["half_life_hours"].items()),
                "reason": ""}
    history = [(r, json.loads(r.settings)) for r in rows]
    return render_template("eligibility/settings.html", current=current, rows=history,
                           windows=settings.WINDOWS, form=form, errors=errors or {},
                           may_change=has_perm(current_user, Perm.MANAGE_SETTINGS)), status


@bp.route("/study/eligibility-settings")
@require(Perm.VIEW_SUBJECTS)
def settings_view():
    return _settings_page()


@bp.route("/study/eligibility-settings", methods=["POST"])
@require(Perm.MANAGE_SETTINGS)
def settings_change():
    form = {k: request.form.get(k, "") for k in (*settings.WINDOWS, "half_life_hours",
                                                 "reason")}
    form |= {k: request.form.get(k) == "y" for k in settings.CLARIFICATIONS}  # checkboxes
    try:
        data = {k: v for k, v in form.items() if k != "reason"}
        data["half_life_hours"] = settings.parse_half_lives(form["half_life_hours"])
        with unit_of_work():
            row = settings.change_settings(data, reason=form["reason"],
                                           actor=current_actor(), user_id=current_user.id)
    except settings.SettingsError as exc:
        return _settings_page(422, {exc.field: exc.message}, form)
    flash(_("Eligibility settings version %(version)d stored.", version=row.version), "success")
    return redirect(url_for("eligibility.settings_view"), 303)
