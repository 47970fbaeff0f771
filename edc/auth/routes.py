from __future__ import annotations

import time

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
from flask_babel import gettext as _
from flask_login import current_user, login_user, logout_user

from audit import Actor
from edc.auth import services, twofactor
from edc.auth.forms import ChangePasswordForm, CodeForm, LoginForm
from edc.auth.passwords import PasswordPolicyError
from edc.extensions import db, limiter
from edc.i18n import language, translate_error
from edc.models import User
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
        next_path = _safe_next(request.args.get("next"))
        session.clear()  # no session fixation: a fresh session (and CSRF token) per login
        if result.needs_code:  # the password was right: the second factor comes next
            session[_PENDING] = {"uid": result.user.id, "at": time.time(), "next": next_path}
            return redirect(url_for("auth.login_code"))
        return _signed_in(result, next_path)
    status = 422 if form.errors else 200
    return render_template("auth/login.html", form=form), status


_PENDING = "pending_login"
PENDING_SECONDS = 300  # the code is asked within five minutes of the password


def _signed_in(result: services.LoginResult, next_path: str | None):
    session.permanent = True
    session["sid"] = result.token
    login_user(result.user)
    if services.password_expired(result.user):
        flash(_("Your password has expired or was reset. Choose a new one to continue."),
              "warning")
        return redirect(url_for("auth.change_password"))
    if twofactor.must_enrol(result.user):
        return redirect(url_for("auth.two_factor"))
    return redirect(next_path or url_for("main.index"))


def _pending_user() -> User | None:
    pending = session.get(_PENDING)
    if not isinstance(pending, dict) or time.time() - pending.get("at", 0) > PENDING_SECONDS:
        return None
    user = db.session.get(User, pending.get("uid"))
    return user if user is not None and user.is_active else None


@bp.route("/login/code", methods=["GET", "POST"])
@limiter.limit(_login_limit, methods=["POST"])
@public
def login_code():
    """The second step of signing in, for an account with a second factor."""
    if current_user.is_authenticated:
        return redirect(url_for("main.index"))
    user = _pending_user()
    if user is None:
        session.pop(_PENDING, None)
        flash(_("Sign in again: the code is asked within five minutes of the password."), "info")
        return redirect(url_for("auth.login"))
    form = CodeForm()
    if form.validate_on_submit():
        base = current_actor()
        actor = Actor.for_user(user, source=base.source, request_id=base.request_id,
                               ip=base.ip)
        try:
            with unit_of_work():
                twofactor.check(user, form.code.data, actor=actor, action="auth.login_failed",
                                once=True)
                result = services.open_session(user, actor=actor)
        except twofactor.CodeRefused as exc:
            form.code.errors = [translate_error(exc)]
            if not db.session.get(User, user.id).is_active:  # locked by this failure
                session.pop(_PENDING, None)
            return render_template("auth/login_code.html", form=form), 401
        next_path = session[_PENDING].get("next")
        session.clear()
        return _signed_in(result, next_path)
    status = 422 if form.errors else 200
    return render_template("auth/login_code.html", form=form), status


@bp.route("/account/two-factor", methods=["GET", "POST"])
@login_only
def two_factor():
    """Set up one's own second factor: scan, then confirm with a first code."""
    user = current_user
    if twofactor.enrolled(user):
        return render_template("auth/two_factor.html", user=user, form=None)
    with unit_of_work():  # the secret waiting for its first code (operational)
        secret = twofactor.start_enrolment(user)
    uri = twofactor.provisioning_uri(user, secret)
    form = CodeForm()
    status = 200
    if form.validate_on_submit():
        try:
            with unit_of_work():
                twofactor.confirm_enrolment(user, form.code.data, actor=current_actor())
        except twofactor.CodeRefused as exc:
            form.code.errors = [translate_error(exc)]
        else:
            flash(_("Your second factor is set up. It is asked at sign-in and when you sign."),
                  "success")
            return redirect(url_for("main.index"))
    if form.errors:
        status = 422
    return render_template("auth/two_factor.html", user=user, form=form, secret=secret,
                           qr=twofactor.qr_svg_data_uri(uri)), status


@bp.route("/logout", methods=["POST"])
@login_only
def logout():
    with unit_of_work():
        services.logout(current_user, session.get("sid"), actor=current_actor())
    lang = language()
    logout_user()
    session.clear()
    session["lang"] = lang  # the sign-in page stays in the language of the one who left
    flash(_("You are signed out."), "info")
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
            form.new.errors = [translate_error(exc)]
        except ValueError as exc:
            form.current.errors = [translate_error(exc)]
        else:
            flash(_("Your password is changed. Your other sessions were signed out."), "success")
            return redirect(url_for("main.index"))
        return render_template("auth/change_password.html", form=form), 422
    status = 422 if form.errors else 200
    return render_template("auth/change_password.html", form=form), status
