"""Query pages: the list with filters, one query's thread with its actions, raising a query
on an item or a form. Thin: parse, authorise, call the service, render."""

from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_login import current_user
from sqlalchemy import select

from edc.crf import policy
from edc.crf import services as crf
from edc.extensions import db
from edc.i18n import translate
from edc.models import QueryState, Site
from edc.queries import services as queries
from edc.requestctx import current_actor
from edc.security import Perm, can, require
from edc.subjects.services import get_subject
from edc.uow import unit_of_work
from forms.study_build import BUILD

bp = Blueprint("queries", __name__)

FILTERS = ("state", "form", "site", "ball", "age")


def _int_arg(name: str, default: int | None = None, *, low: int = 0,
             high: int = 2**31 - 1) -> int | None:
    raw = request.values.get(name, "")
    if raw in ("", None):
        return default
    try:
        value = int(raw)
    except ValueError:
        abort(400)
    if not low <= value <= high:
        abort(400)
    return value


def _subject(subject_id: int):
    subject = get_subject(subject_id)
    if subject is None or not can(current_user, Perm.VIEW_SUBJECTS, subject):
        abort(404)
    return subject


def form_url(q, **extra) -> str:
    return url_for("crf.view", subject_id=q.subject_id, event_oid=q.event_oid,
                   form_oid=q.form_oid, repeat=q.form_repeat,
                   **({"event_repeat": q.event_repeat} if q.event_repeat > 1 else {}),
                   **extra) + (f"#item-{q.item_oid}" if q.item_oid else "")


@bp.route("/queries")
@require(Perm.VIEW_QUERIES)
def index():
    args = {k: (request.args.get(k) or "").strip() for k in FILTERS}
    state = args["state"] or "unresolved"
    if state not in (*QueryState.ALL, "unresolved", "all"):
        abort(400)
    if args["ball"] not in ("", "site", "monitor"):
        abort(400)
    site_id = None
    if args["site"]:
        site = db.session.scalar(select(Site).where(Site.code == args["site"].upper()))
        site_id = site.id if site is not None else -1
    rows = queries.listing(state=None if state == "all" else state,
                           form_oid=args["form"].upper() or None, site_id=site_id,
                           ball=args["ball"] or None,
                           min_age_days=_int_arg("age", low=0, high=100000))
    return render_template("queries/index.html", rows=rows, args={**args, "state": state},
                           age=queries.age_days, form_url=form_url, build=BUILD,
                           sites=db.session.scalars(select(Site).order_by(Site.code)).all())


def _query(query_id: int):
    q = queries.get(query_id)
    if q is None:
        abort(404)
    return q


def _detail(q, status: int = 200, error: str | None = None):
    locked = policy.lock_over(q.subject, q.event_oid, q.form_oid, q.event_repeat,
                              q.form_repeat, data=False)
    return render_template("queries/detail.html", q=q, age=queries.age_days(q), error=error,
                           form_url=form_url, locked=locked, build=BUILD,
                           may_correct=policy.can_edit(current_user, q.subject, q.event_oid,
                                                       q.form_oid, q.event_repeat,
                                                       q.form_repeat)), status


@bp.route("/queries/<int:query_id>")
@require(Perm.VIEW_QUERIES)
def detail(query_id: int):
    return _detail(_query(query_id))[0]


def _act(query_id: int, action):
    q = _query(query_id)
    try:
        with unit_of_work():
            action(q, request.form.get("text", ""), user=current_user,
                   actor=current_actor())
    except queries.QueryProblem as exc:
        return _detail(_query(query_id), exc.status, exc.message)
    flash(_("Query #%(id)d: %(state)s.", id=query_id, state=translate(q.state)), "success")
    return redirect(url_for("queries.detail", query_id=query_id))


@bp.route("/queries/<int:query_id>/answer", methods=["POST"])
@require(Perm.ANSWER_QUERY)
def answer(query_id: int):
    return _act(query_id, queries.answer)


@bp.route("/queries/<int:query_id>/close", methods=["POST"])
@require(Perm.MANAGE_QUERY)
def close(query_id: int):
    return _act(query_id, queries.close)


@bp.route("/queries/<int:query_id>/reopen", methods=["POST"])
@require(Perm.MANAGE_QUERY)
def reopen(query_id: int):
    return _act(query_id, queries.reopen)


@bp.route("/subjects/<int:subject_id>/queries/new", methods=["GET", "POST"])
@require(Perm.MANAGE_QUERY)
def new(subject_id: int):
    """Raise a query on an item (``item``) or a form instance (no item)."""
    subject = _subject(subject_id)
    event_oid = request.values.get("event", "")
    form_oid = request.values.get("form", "")
    try:
        crf.resolve(event_oid, form_oid)
    except crf.UnknownForm:
        abort(404)
    place = queries.Place(event_oid, form_oid, request.values.get("item") or None,
                          _int_arg("event_repeat", 1, low=1), _int_arg("form_repeat", 1, low=1))
    error, status = None, 200
    if request.method == "POST":
        try:
            with unit_of_work():
                q = queries.open_query(subject, place, request.form.get("text", ""),
                                       user=current_user, actor=current_actor())
        except queries.QueryProblem as exc:
            error, status = exc.message, exc.status
        else:
            flash(_("Query #%(id)d raised.", id=q.id), "success")
            return redirect(form_url(q))
    form = BUILD.form(form_oid)
    item = form.item(place.item_oid) if place.item_oid in form.item_names else None
    return render_template("queries/new.html", subject=subject, place=place, form=form,
                           item=item, error=error,
                           text=request.form.get("text", "")), status
