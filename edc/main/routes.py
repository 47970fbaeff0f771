from __future__ import annotations

from flask import Blueprint, redirect, render_template, url_for
from flask_login import current_user
from sqlalchemy import text

from edc.extensions import db
from edc.security import Perm, has_perm, login_only, public
from edc.subjects.services import subject_counts

bp = Blueprint("main", __name__)


@bp.route("/")
@login_only
def index():
    if has_perm(current_user, Perm.MANAGE_USERS):
        return redirect(url_for("admin.users"))
    counts = subject_counts() if has_perm(current_user, Perm.VIEW_SUBJECTS) else None
    return render_template("main/index.html", counts=counts)


@bp.route("/healthz")
@public
def healthz():
    db.session.execute(text("SELECT 1"))
    return {"status": "ok"}
