"""Request hooks: who is signed in, what they may see, whether they must change password."""

from __future__ import annotations

from flask import g, redirect, request, session, url_for
from flask_login import current_user

from edc.auth import twofactor
from edc.auth.services import password_expired, resume_session
from edc.extensions import db, login_manager
from edc.uow import unit_of_work


@login_manager.user_loader
def _load_user(user_id: str):
    with unit_of_work():  # the session check at the start of a request: its own unit
        return resume_session(user_id, session.get("sid"))


login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in."
login_manager.login_message_category = "info"


def load_site_scope():
    """Who is asking, and the data-layer site scope that follows from it.

    The JSON API authenticates by bearer token only: a session cookie is ignored there (the
    API is exempt from CSRF, so a cookie must not be able to drive it).
    """
    if request.endpoint == "static":
        return None
    if request.blueprint == "api":
        from edc.auth.tokens import user_for

        g._login_user = user_for(request.headers.get("Authorization"))
        if db.session.dirty:  # the token's last use, written at most every few minutes;
            db.session.commit()  # else no commit, which would make the user load again
        if g._login_user is None:
            g._login_user = login_manager.anonymous_user()
    if current_user.is_authenticated:
        g.site_scope = current_user.site_scope
    return None


_ALLOWED_WHILE_EXPIRED = {"auth.change_password", "auth.logout", "static", "main.healthz"}
_ALLOWED_BEFORE_FACTOR = _ALLOWED_WHILE_EXPIRED | {"auth.two_factor", "main.set_language"}


def enforce_password_change():
    """An expired or temporary password is changed first; an administrator then sets up a
    second factor before anything else (the API's tokens are refused the same below)."""
    if not current_user.is_authenticated or request.blueprint == "api":
        return None
    if request.endpoint not in _ALLOWED_WHILE_EXPIRED and password_expired(current_user):
        return redirect(url_for("auth.change_password"))
    if request.endpoint not in _ALLOWED_BEFORE_FACTOR and twofactor.must_enrol(current_user):
        return redirect(url_for("auth.two_factor"))
    return None
