"""Request hooks: who is signed in, what they may see, whether they must change password."""

from __future__ import annotations

from flask import g, redirect, request, session, url_for
from flask_login import current_user

from edc.auth.services import password_expired, resume_session
from edc.extensions import login_manager


@login_manager.user_loader
def _load_user(user_id: str):
    return resume_session(user_id, session.get("sid"))


login_manager.login_view = "auth.login"
login_manager.login_message = "Please sign in."
login_manager.login_message_category = "info"


def load_site_scope():
    """Set the data-layer site scope for this request from the signed-in user."""
    if request.endpoint == "static":
        return None
    if current_user.is_authenticated:
        g.site_scope = current_user.site_scope
    return None


_ALLOWED_WHILE_EXPIRED = {"auth.change_password", "auth.logout", "static", "main.healthz"}


def enforce_password_change():
    if (
        current_user.is_authenticated
        and request.endpoint not in _ALLOWED_WHILE_EXPIRED
        and password_expired(current_user)
    ):
        return redirect(url_for("auth.change_password"))
    return None
