"""``/api/v1`` for monitoring and data management: queries, SDV, locks, sign-off. The same
services as the pages (edc/queries, edc/review)."""

from __future__ import annotations

from flask import jsonify, request
from flask_login import current_user
from sqlalchemy import select

from edc import signatures
from edc.api import schemas as S
from edc.api.routes import _error, _fail, _parse, _subject, bp
from edc.crf import services as crf
from edc.extensions import db
from edc.models import QueryState, Site
from edc.queries import services as queries
from edc.requestctx import current_actor
from edc.review import locks, sdv, signoff
from edc.security import Perm, require
from edc.timefmt import utc_time
from edc.uow import unit_of_work


def query_json(q) -> dict:
    return {"id": q.id, "subject": q.subject.label, "site": q.subject.site.code,
            "event": q.event_oid, "event_repeat": q.event_repeat, "form": q.form_oid,
            "form_repeat": q.form_repeat, "item": q.item_oid, "origin": q.origin,
            "state": q.state, "next": q.ball, "age_days": queries.age_days(q),
            "opened_at_utc": utc_time(q.opened_at),
            "messages": [{"kind": m.kind, "text": m.text, "author": m.author_name,
                          "role": m.author_role, "at_utc": utc_time(m.created_at),
                          "form_version": m.form_version} for m in q.messages]}


def _filters() -> dict:
    state = request.args.get("state") or "unresolved"
    if state not in (*QueryState.ALL, "unresolved", "all"):
        _fail(422, "unknown filter", {"state": "unresolved, open, answered, closed or all"})
    ball = request.args.get("ball") or None
    if ball not in (None, "site", "monitor"):
        _fail(422, "unknown filter", {"ball": "site or monitor"})
    age = request.args.get("age") or None
    if age is not None and (not age.isdigit() or int(age) > S.MAX_AGE_DAYS):
        _fail(422, "unknown filter", {"age": "a whole number of days"})
    site_id = None
    if code := request.args.get("site"):
        site = db.session.scalar(select(Site).where(Site.code == code.upper()))
        site_id = site.id if site is not None else -1
    return {"state": None if state == "all" else state, "ball": ball,
            "min_age_days": int(age) if age else None, "site_id": site_id,
            "form_oid": (request.args.get("form") or "").upper() or None}


@bp.route("/queries")
@S.doc("Queries of your sites, oldest first, with their threads", ok=(200, S.QueryList),
       errors=(401, 403, 422), query=("state", "form", "ball", "age", "site"))
@require(Perm.VIEW_QUERIES)
def query_list():
    rows = queries.listing(**_filters())
    return jsonify({"queries": [query_json(q) for q in rows], "count": len(rows)})


@bp.route("/subjects/<int:subject_id>/queries")
@S.doc("A subject's queries with their threads", ok=(200, S.QueryList),
       errors=(401, 403, 404, 422), query=("state", "form", "ball", "age"))
@require(Perm.VIEW_QUERIES)
def subject_queries(subject_id: int):
    subject = _subject(subject_id)
    rows = queries.listing(subject=subject, **{**_filters(), "site_id": None})
    return jsonify({"queries": [query_json(q) for q in rows], "count": len(rows)})


def _query_problem(exc: queries.QueryProblem):
    return _error(exc.status, exc.message, {exc.field: exc.message})


@bp.route("/subjects/<int:subject_id>/queries", methods=["POST"])
@S.doc("Raise a query on an item or a form", body=S.QueryOpen, ok=(201, S.Query),
       errors=(400, 401, 403, 404, 409, 422))
@require(Perm.MANAGE_QUERY)
def query_open(subject_id: int):
    subject = _subject(subject_id)
    body = _parse(S.QueryOpen)
    place = queries.Place(body.event, body.form, body.item, body.event_repeat,
                          body.form_repeat)
    try:
        with unit_of_work():
            q = queries.open_query(subject, place, body.text, user=current_user,
                                   actor=current_actor("api"))
    except queries.QueryProblem as exc:
        return _query_problem(exc)
    return jsonify(query_json(q)), 201


def _act(query_id: int, action):
    q = queries.get(query_id)
    if q is None:
        _fail(404, "no such query")
    body = _parse(S.QueryText)
    try:
        with unit_of_work():
            action(q, body.text, user=current_user, actor=current_actor("api"))
    except queries.QueryProblem as exc:
        return _query_problem(exc)
    return jsonify(query_json(q))


@bp.route("/queries/<int:query_id>/answer", methods=["POST"])
@S.doc("Answer a query (the site); to correct the value, save the form with query_id",
       body=S.QueryText, ok=(200, S.Query), errors=(400, 401, 403, 404, 409, 422))
@require(Perm.ANSWER_QUERY)
def query_answer(query_id: int):
    return _act(query_id, queries.answer)


@bp.route("/queries/<int:query_id>/close", methods=["POST"])
@S.doc("Close a query with a note (monitor, data manager)", body=S.QueryText,
       ok=(200, S.Query), errors=(400, 401, 403, 404, 409, 422))
@require(Perm.MANAGE_QUERY)
def query_close(query_id: int):
    return _act(query_id, queries.close)


@bp.route("/queries/<int:query_id>/reopen", methods=["POST"])
@S.doc("Re-open a closed query (monitor, data manager)", body=S.QueryText,
       ok=(200, S.Query), errors=(400, 401, 403, 404, 409, 422))
@require(Perm.MANAGE_QUERY)
def query_reopen(query_id: int):
    return _act(query_id, queries.reopen)


# SDV ----------------------------------------------------------------------------------------

def _instance_json(i: sdv.InstanceSdv) -> dict:
    return {"event": i.event_oid, "event_repeat": i.event_repeat, "form": i.form_oid,
            "form_repeat": i.form_repeat, "required": i.required, "state": i.state,
            "items": [{"item": it.item, "state": it.state,
                       "verified_by": it.mark.verified_by_name if it.mark else None,
                       "verified_at_utc": utc_time(it.mark.verified_at) if it.mark else None}
                      for it in i.items]}


@bp.route("/subjects/<int:subject_id>/sdv")
@S.doc("SDV state of each saved form instance of a subject", ok=(200, S.SubjectSdv))
@require(Perm.REVIEW)
def subject_sdv(subject_id: int):
    subject = _subject(subject_id)
    return jsonify({"plan": sdv.plan().label,
                    "forms": [_instance_json(i) for i in sdv.for_subject(subject)]})


@bp.route("/subjects/<int:subject_id>/sdv", methods=["POST"])
@S.doc("Mark an item, or every valued item of a form, verified", body=S.SdvBody,
       ok=(200, S.SdvMarked), errors=(400, 401, 403, 404, 409, 422))
@require(Perm.SDV)
def sdv_mark(subject_id: int):
    subject = _subject(subject_id)
    body = _parse(S.SdvBody)
    try:
        crf.resolve(body.event, body.form)
        with unit_of_work():
            n = sdv.verify(subject, body.event, body.form, [body.item] if body.item else None,
                           user=current_user, actor=current_actor("api"),
                           event_repeat=body.event_repeat, form_repeat=body.form_repeat)
    except crf.UnknownForm as exc:
        return _error(422, str(exc), {"form": str(exc)})
    except sdv.SdvProblem as exc:
        return _error(exc.status, exc.message, {"item": exc.message})
    return jsonify({"marked": n})


@bp.route("/sdv/worklist")
@S.doc("SDV progress per site and subject, and what waits for SDV", ok=(200, S.SdvWorklist),
       errors=(401, 403))
@require(Perm.REVIEW)
def sdv_worklist():
    out = []
    for site in sdv.worklist():
        out.append({"site": site.site_code, "required": site.required,
                    "verified": site.verified, "percent": site.percent,
                    "subjects": [{"subject": sp.subject.label, "required": sp.required,
                                  "verified": sp.verified, "percent": sp.percent,
                                  "waiting": [{"event": i.event_oid,
                                               "event_repeat": i.event_repeat,
                                               "form": i.form_oid,
                                               "form_repeat": i.form_repeat, "date": i.date,
                                               "pending": i.pending} for i in sp.waiting]}
                                 for sp in site.subjects]})
    return jsonify({"plan": sdv.plan().label, "sites": out})


# Locks --------------------------------------------------------------------------------------

def lock_json(lk) -> dict:
    return {"id": lk.id, "level": lk.level, "kind": lk.kind, "subject_id": lk.subject_id,
            "event": lk.event_oid, "form": lk.form_oid, "active": lk.active,
            "locked_by": lk.locked_by_name, "locked_at_utc": utc_time(lk.locked_at),
            "reason": lk.reason}


@bp.route("/locks")
@S.doc("Active locks and freezes, and what blocks a study lock", ok=(200, S.LockList),
       errors=(401, 403))
@require(Perm.LOCK)
def lock_list():
    return jsonify({"locks": [lock_json(lk) for lk in locks.active()],
                    "study_lock_blockers": locks.study_lock_blockers()})


def _lock_problem(exc: locks.LockProblem):
    body, status = _error(exc.status, exc.message, {exc.field: exc.message})
    if exc.blockers:
        data = body.get_json()
        data["blockers"] = exc.blockers
        return jsonify(data), status
    return body, status


@bp.route("/locks", methods=["POST"])
@S.doc("Lock or freeze the study, a subject or a form (409 lists what blocks a study lock)",
       body=S.LockBody, ok=(201, S.Lock), errors=(400, 401, 403, 404, 409, 422),
       conflict=True)
@require(Perm.LOCK)
def lock_apply():
    body = _parse(S.LockBody)
    subject = _subject(body.subject_id) if body.subject_id else None
    try:
        with unit_of_work():
            lk = locks.apply(body.level, body.kind, user=current_user,
                             actor=current_actor("api"), reason=body.reason, subject=subject,
                             event_oid=body.event, form_oid=body.form,
                             event_repeat=body.event_repeat, form_repeat=body.form_repeat)
    except locks.LockProblem as exc:
        return _lock_problem(exc)
    return jsonify(lock_json(lk)), 201


@bp.route("/locks/<int:lock_id>/release", methods=["POST"])
@S.doc("Unlock or unfreeze, with a reason", body=S.ReleaseBody, ok=(200, S.Lock),
       errors=(400, 401, 403, 404, 409, 422))
@require(Perm.LOCK)
def lock_release(lock_id: int):
    lk = locks.get(lock_id)
    if lk is None:
        _fail(404, "no such lock")
    body = _parse(S.ReleaseBody)
    try:
        with unit_of_work():
            locks.release(lk, user=current_user, actor=current_actor("api"),
                          reason=body.reason)
    except locks.LockProblem as exc:
        return _lock_problem(exc)
    return jsonify(lock_json(lk))


# Sign-off -----------------------------------------------------------------------------------

@bp.route("/subjects/<int:subject_id>/sign", methods=["POST"])
@S.doc("Sign a form, a visit or the casebook (401 on a wrong user ID, password or code; 409 lists "
       "open queries and missing items)", body=S.SignOff, ok=(201, S.SignatureShown),
       errors=(400, 401, 403, 404, 409, 422), conflict=True)
@require(Perm.SIGN)
def signoff_sign(subject_id: int):
    subject = _subject(subject_id)
    body = _parse(S.SignOff)
    try:
        signoff.parse(body.target)
    except ValueError as exc:
        return _error(422, str(exc), {"target": S.FIELD_MESSAGES["target"]})
    try:
        with unit_of_work():
            signatures.sign(subject, body.target, user=current_user, username=body.username,
                            password=body.password, code=body.code,
                            actor=current_actor("api"))
    except signatures.SignatureRefused as exc:
        body_, status = _error(exc.status, exc.message)
        if exc.blockers:
            data = body_.get_json()
            data["blockers"] = exc.blockers
            return jsonify(data), status
        return body_, status
    return jsonify(signatures.shown(subject, body.target)[0].as_json()), 201
