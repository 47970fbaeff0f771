from __future__ import annotations

from flask import Blueprint, abort, render_template
from flask_login import current_user

from edc.eligibility import services
from edc.security import Perm, can, require
from edc.subjects.services import get_subject

bp = Blueprint("eligibility", __name__, url_prefix="/subjects/<int:subject_id>")


@bp.route("/eligibility")
@require(Perm.VIEW_SUBJECTS)
def checklist(subject_id: int):
    subject = get_subject(subject_id)
    if subject is None or not can(current_user, Perm.VIEW_SUBJECTS, subject):
        abort(404)
    result = services.evaluate_subject(subject)
    return render_template("eligibility/checklist.html", subject=subject, result=result,
                           criteria=services.checklist(result))
