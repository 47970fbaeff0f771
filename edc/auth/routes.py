from __future__ import annotations

from flask import (
    Blueprint,
    current_app,
    flash,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user, login_user, logout_user

from edc.auth import services
from edc.auth.forms import ChangePasswordForm, LoginForm
from edc.auth.passwords import PasswordPolicyError
from edc.extensions import limiter
from edc.requestctx import current_actor, safe_path
from edc.security import login_only, public
from edc.uow import unit_of_work

bp = Blueprint("auth", __name__)


def _safe_next(target: str | None) -> str | None:
    """Only a path on this site (see ``requestctx.safe_path``)."""
    return safe_path(target)


def _login_limit() -> str:
    return current_app.config["EDC_LOGIN_RATE_LIMIT"]


@bp.route("/login", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@public
def login():
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    form = LoginForm()
    if form.validate_on_submit():
        with unit_of_work():
            result = services.authenticate(form.username.data, form.password.data,
                                           actor=current_actor())
        if result.user is None:
            form.password.errors = [result.error]
            return render_template("auth/login.html", form=form), 401
        session.clear()  # no session fixation: a fresh session (and CSRF token) per login
        session.permanent = True
        session["sid"] = result.token
        login_user(result.user)
        if services.password_expired(result.user):
            flash("Your password has expired or was reset. Choose a new one to continue.",
                  "warning")
            return redirect(url_for("auth.change_password"))
        return redirect(_safe_next(request.args.get("next")) or url_for("main.index"))
    status = 422 if form.errors else 200
    return render_template("auth/login.html", form=form), status


@bp.route("/logout", methods=["POST"])
@login_only
def logout():
    with unit_of_work():
        services.logout(current_user, session.get("sid"), actor=current_actor())
    logout_user()
    session.clear()
    flash("You are signed out.", "info")
    return redirect(url_for("auth.login"))


@bp.route("/account/password", methods=["GET", "POST"])
@login_only
def change_password():
    form = ChangePasswordForm()
    if form.validate_on_submit():
        try:
            with unit_of_work():
                services.change_own_password(current_user, form.current.data, form.new.data,
                                             token=session.get("sid"), actor=current_actor())
        except PasswordPolicyError as exc:
            form.new.errors = [str(exc)]
        except ValueError as exc:
            form.current.errors = [str(exc)]
        else:
            flash("Your password is changed. Your other sessions were signed out.", "success")
            return redirect(url_for("main.index"))
        return render_template("auth/change_password.html", form=form), 422
    status = 422 if form.errors else 200
    return render_template("auth/change_password.html", form=form), status
