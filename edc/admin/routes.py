from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, url_for
from flask_babel import gettext as _
from wtforms.fields.choices import SelectChoice

from edc.admin import services
from edc.admin.forms import (
    GrantForm,
    ProfileForm,
    ReasonForm,
    SiteCreateForm,
    SiteEditForm,
    UserCreateForm,
)
from edc.auth import twofactor
from edc.extensions import db
from edc.i18n import translate, translate_error
from edc.models import Site, User
from edc.requestctx import current_actor
from edc.security import Perm, Role, require
from edc.uow import unit_of_work
from forms.text import N_

bp = Blueprint("admin", __name__, url_prefix="/admin")


def _site_choices():
    return [SelectChoice(s.code, f"{s.code} — {s.name}") for s in services.list_sites()]


def _user_or_404(user_id: int) -> User:
    user = db.session.get(User, user_id)
    if user is None:
        abort(404)
    return user


def _field_error(form, exc: services.AdminError) -> None:
    field = getattr(form, exc.field, None) if exc.field else None
    if field is not None:
        field.errors = [*field.errors, translate_error(exc)]
    else:
        flash(translate_error(exc), "error")


# Users ---------------------------------------------------------------------------------------

@bp.route("/users")
@require(Perm.MANAGE_USERS)
def users():
    return render_template("admin/users.html", users=services.list_users())


@bp.route("/users/new", methods=["GET", "POST"])
@require(Perm.MANAGE_USERS)
def user_new():
    form = UserCreateForm()
    form.sites.choices = _site_choices()
    if form.validate_on_submit():
        try:
            with unit_of_work():
                user, temp = services.create_user(
                    username=form.username.data, full_name=form.full_name.data,
                    email=form.email.data, role=Role(form.role.data), site_codes=form.sites.data,
                    password=None, actor=current_actor())
        except services.AdminError as exc:
            _field_error(form, exc)
        else:
            return render_template("admin/temp_password.html", user=user, password=temp,
                                   created=True)
        return render_template("admin/user_new.html", form=form), 422
    return render_template("admin/user_new.html", form=form), (422 if form.errors else 200)


def _user_page(user: User, status: int = 200, **forms):
    profile = forms.get("profile") or ProfileForm(prefix="p", obj=user)
    grant = forms.get("grant") or GrantForm(prefix="g")
    if "grant" not in forms:
        grant.role.data = user.role.value if user.role else Role.CRC.value
        grant.sites.data = [s.code for s in user.sites]
    grant.sites.choices = _site_choices()
    action = forms.get("action") or ReasonForm(prefix="a")
    return render_template("admin/user_detail.html", user=user, profile=profile, grant=grant,
                           action=action, reset_by=twofactor.pending_reset(user)), status


@bp.route("/users/<int:user_id>")
@require(Perm.MANAGE_USERS)
def user_detail(user_id: int):
    return _user_page(_user_or_404(user_id))


@bp.route("/users/<int:user_id>/profile", methods=["POST"])
@require(Perm.MANAGE_USERS)
def user_profile(user_id: int):
    user = _user_or_404(user_id)
    form = ProfileForm(prefix="p")
    if form.validate_on_submit():
        try:
            with unit_of_work():
                services.update_profile(user, full_name=form.full_name.data, email=form.email.data,
                                        actor=current_actor(), reason=form.reason_value())
        except services.AdminError as exc:
            _field_error(form, exc)
        else:
            flash(_("Profile saved."), "success")
            return redirect(url_for("admin.user_detail", user_id=user.id))
    return _user_page(user, 422, profile=form)


@bp.route("/users/<int:user_id>/grants", methods=["POST"])
@require(Perm.MANAGE_USERS)
def user_grants(user_id: int):
    user = _user_or_404(user_id)
    form = GrantForm(prefix="g")
    form.sites.choices = _site_choices()
    if form.validate_on_submit():
        try:
            with unit_of_work():
                services.set_grants(user, Role(form.role.data), form.sites.data,
                                    actor=current_actor(), reason=form.reason_value())
        except services.AdminError as exc:
            _field_error(form, exc)
        else:
            flash(_("Role and sites saved. The user's open sessions were ended."), "success")
            return redirect(url_for("admin.user_detail", user_id=user.id))
    return _user_page(user, 422, grant=form)


def _account_action(user_id: int, operation, done: str):
    user = _user_or_404(user_id)
    form = ReasonForm(prefix="a")
    if form.validate_on_submit():
        try:
            with unit_of_work():
                result = operation(user, actor=current_actor(), reason=form.reason_value())
        except services.AdminError as exc:
            _field_error(form, exc)
        else:
            if isinstance(result, str):  # a temporary password, shown once
                return render_template("admin/temp_password.html", user=user, password=result,
                                       created=False)
            flash(translate(done), "success")
            return redirect(url_for("admin.user_detail", user_id=user.id))
    return _user_page(user, 422, action=form)


@bp.route("/users/<int:user_id>/deactivate", methods=["POST"])
@require(Perm.MANAGE_USERS)
def user_deactivate(user_id: int):
    return _account_action(user_id, services.deactivate, N_("Account deactivated."))


@bp.route("/users/<int:user_id>/reactivate", methods=["POST"])
@require(Perm.MANAGE_USERS)
def user_reactivate(user_id: int):
    return _account_action(user_id, services.reactivate, N_("Account reactivated."))


@bp.route("/users/<int:user_id>/unlock", methods=["POST"])
@require(Perm.MANAGE_USERS)
def user_unlock(user_id: int):
    return _account_action(user_id, services.unlock, N_("Account unlocked."))


@bp.route("/users/<int:user_id>/reset-password", methods=["POST"])
@require(Perm.MANAGE_USERS)
def user_reset_password(user_id: int):
    return _account_action(user_id, services.reset_password, "")


@bp.route("/users/<int:user_id>/second-factor/request-reset", methods=["POST"])
@require(Perm.MANAGE_USERS)
def user_factor_reset_request(user_id: int):
    return _account_action(user_id, services.request_factor_reset,
                           N_("Reset of the second factor requested: a second administrator "
                              "approves it."))


@bp.route("/users/<int:user_id>/second-factor/approve-reset", methods=["POST"])
@require(Perm.MANAGE_USERS)
def user_factor_reset_approve(user_id: int):
    return _account_action(user_id, services.approve_factor_reset,
                           N_("Second factor reset. The user sets up a new one."))


# Sites ---------------------------------------------------------------------------------------

@bp.route("/sites")
@require(Perm.MANAGE_USERS)
def sites():
    return render_template("admin/sites.html", sites=services.list_sites())


@bp.route("/sites/new", methods=["GET", "POST"])
@require(Perm.MANAGE_USERS)
def site_new():
    form = SiteCreateForm()
    if form.validate_on_submit():
        try:
            with unit_of_work():
                site = services.create_site(code=form.code.data, name=form.name.data,
                                            timezone=form.timezone.data, actor=current_actor(),
                                            language=form.language.data)
        except services.AdminError as exc:
            _field_error(form, exc)
        else:
            flash(_("Site %(code)s created.", code=site.code), "success")
            return redirect(url_for("admin.sites"))
        return render_template("admin/site_form.html", form=form, site=None), 422
    return render_template("admin/site_form.html", form=form, site=None), (
        422 if form.errors else 200)


@bp.route("/sites/<int:site_id>", methods=["GET", "POST"])
@require(Perm.MANAGE_USERS)
def site_edit(site_id: int):
    site = db.session.get(Site, site_id)
    if site is None:
        abort(404)
    form = SiteEditForm(obj=site)
    if form.validate_on_submit():
        try:
            with unit_of_work():
                services.update_site(site, name=form.name.data, timezone=form.timezone.data,
                                     active=form.active.data, actor=current_actor(),
                                     reason=form.reason_value(), language=form.language.data)
        except services.AdminError as exc:
            _field_error(form, exc)
        else:
            flash(_("Site %(code)s saved.", code=site.code), "success")
            return redirect(url_for("admin.sites"))
        return render_template("admin/site_form.html", form=form, site=site), 422
    return render_template("admin/site_form.html", form=form, site=site), (
        422 if form.errors else 200)

