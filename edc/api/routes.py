"""The JSON API of shared/spec/interfaces.md (``/api/v1``). Same services as the pages."""

from __future__ import annotations

from datetime import date

from flask import Blueprint, abort, jsonify, make_response, request
from flask_login import current_user
from pydantic import ValidationError

from edc import deidentify, safety, signatures
from edc.api import schemas as S
from edc.crf import services as crf
from edc.eligibility import enrollment
from edc.eligibility import services as eligibility_services
from edc.extensions import csrf, db
from edc.models import Site
from edc.queries import services as queries
from edc.requestctx import current_actor
from edc.security import Perm, can, has_perm, require
from edc.subjects import services as subjects
from edc.trail.services import TrailFilter, iter_presented, record_export
from edc.uow import unit_of_work
from forms import consistency
from forms.study_build import BUILD, CHANGES

bp = Blueprint("api", __name__, url_prefix="/api/v1")
csrf.exempt(bp)  # bearer tokens only (see edc/auth/hooks.py): no cookie reaches these views


def _error(status: int, message: str, errors: dict | None = None):
    body = {"error": message, "status": status}
    if errors is not None:
        body["errors"] = errors
    return jsonify(body), status


def _fail(status: int, message: str, errors: dict | None = None):
    """Stop the request with a JSON error."""
    body, code = _error(status, message, errors)
    abort(make_response(body, code))


def _json_body() -> dict:
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # nested beyond what the parser follows: not a body we take
        data = None
    if not isinstance(data, dict):
        _fail(400, "send a JSON object (Content-Type: application/json)")
    return data


def _parse(model):
    """The request body through its model (edc/api/schemas.py): 422 naming each field."""
    try:
        return model.model_validate(_json_body())
    except ValidationError as exc:
        _fail(422, "the request does not fit its description", S.field_errors(exc))


def _subject(subject_id: int):
    subject = subjects.get_subject(subject_id)
    if subject is None or not can(current_user, Perm.VIEW_SUBJECTS, subject):
        _fail(404, "no such subject")
    return subject


def _withhold(form_oid: str, items: dict, pii: bool | None = None) -> dict:
    allowed = has_perm(current_user, Perm.VIEW_PII) if pii is None else pii
    return deidentify.items(form_oid, items, allowed=allowed)


def _state(state: crf.FormState, form_oid: str, pii: bool | None = None) -> dict:
    return {"items": _withhold(form_oid, state.items, pii), "derived": state.derived,
            "derived_rules": state.rules,
            "version": state.version, "status": state.status,
            "metadata_version": state.metadata_version, "locked": state.locked,
            "warnings": state.warnings, "missing": list(state.missing),
            "not_applicable": sorted(state.hidden), "applies": state.applies}


def _condition(cond) -> dict | None:
    """A show_if condition as the API names it: the item (``FORM.ITEM`` for another form)
    and the codes under which the item or form applies."""
    return {"item": cond.item, "values": list(cond.values)} if cond else None


@bp.route("/study")
@S.doc(
    "Events, forms, items, code lists and checks (the data dictionary)",
    ok=(200, S.Study), errors=(401, 403))
@require(Perm.VIEW_SUBJECTS)
def study():
    def item(i, form_oid):
        return {"name": i.name, "oid": i.oid(form_oid), "label": i.label,
                "group": i.group_oid(form_oid),
                "label_zh": i.label_zh,
                "type": i.type, "unit": i.unit, "codelist": i.codelist,
                "hard_range": str(i.hard) if i.hard else None,
                "soft_range": str(i.soft) if i.soft else None, "required": i.required,
                "required_if": list(i.required_if) if i.required_if else None, "pii": i.pii,
                "show_if": _condition(i.show_if),
                "derived": i.derived, "cdash": i.cdash, "sdtm": i.sdtm}

    forms = {oid: {"name": f.name, "name_zh": f.name_zh, "repeating": f.repeating,
                   "show_if": _condition(f.show_if),
                   "item_groups": [{"oid": g.oid, "name": g.name, "name_zh": g.name_zh}
                                   for g in f.item_groups()],
                   "items": [item(i, oid) for i in f.items]}
             for oid, f in BUILD.forms.items()}
    events = [{"oid": e.oid, "name": e.name, "day": e.day,
               "window": list(e.window) if e.window else None, "repeatable": e.repeatable,
               "forms": list(e.forms)} for e in BUILD.events]
    codelists = {oid: [{"code": c, "en": en, "zh": zh} for c, en, zh in cl.terms]
                 for oid, cl in BUILD.codelists.items()}
    checks = [{"id": c.id, "form": c.form, "item": c.item, "text": c.text,
               "kind": "hard" if c.hard else "soft"} for c in consistency.CHECKS]
    return jsonify({"metadata_version": BUILD.version, "events": events, "forms": forms,
                    "codelists": codelists, "checks": checks,
                    "metadata_versions": [{"version": v, "changes": note}
                                          for v, note in CHANGES.items()]})


def _subject_json(s) -> dict:
    return {"id": s.id, "screening_number": s.screening_number,
            "subject_number": s.subject_number, "site": s.site.code, "status": s.status}


@bp.route("/subjects")
@S.doc("Subjects of your sites", ok=(200, S.SubjectList), errors=(401, 403))
@require(Perm.VIEW_SUBJECTS)
def subject_list():
    return jsonify({"subjects": [_subject_json(s) for s in subjects.list_subjects()]})


@bp.route("/subjects", methods=["POST"])
@S.doc(
    "Register a screened subject",
    body=S.NewSubject, ok=(201, S.SubjectCreated), errors=(400, 401, 403, 422))
@require(Perm.CREATE_SUBJECT)
def subject_create():
    code = _parse(S.NewSubject).site
    if not code.strip():
        return _error(422, "site is required", {"site": S.FIELD_MESSAGES["site"]})
    site = db.session.scalar(db.select(Site).where(Site.code == code.strip().upper()))
    if site is None:
        return _error(422, "unknown site", {"site": f"no site {code.strip().upper()}"})
    try:
        with unit_of_work():
            subject = subjects.create_subject(site, actor=current_actor("api"),
                                              created_by_id=current_user.id)
            body = {"id": subject.id, "screening_number": subject.screening_number}
    except subjects.SubjectError as exc:
        return _error(422, str(exc), {"site": str(exc)})
    return jsonify(body), 201


@bp.route("/subjects/<int:subject_id>")
@S.doc(
    "A subject with its events, windows, form statuses and safety (ICAHT, SAE clocks)",
    ok=(200, S.Subject))
@require(Perm.VIEW_SUBJECTS)
def subject_detail(subject_id: int):
    subject = _subject(subject_id)
    saved = crf.casebook(subject)
    visits = {v.event: v for v in crf.visit_schedule(subject)}
    events = []
    for e in BUILD.events:
        v = visits.get(e.oid)
        forms = []
        for f in e.forms:
            rows = [r for key, r in saved.items() if key[0] == e.oid and key[2] == f]
            forms.append({"form": f, "rows": [
                {"event_repeat": r.event_repeat, "repeat": r.form_repeat, "status": r.status,
                 "version": r.version}
                for r in sorted(rows, key=lambda r: (r.event_repeat, r.form_repeat))]})
        events.append({"event": e.oid, "name": e.name, "day": e.day,
                       "window": list(e.window) if e.window else None,
                       "target_date": _iso(v.target if v else None),
                       "earliest": _iso(v.earliest if v else None),
                       "latest": _iso(v.latest if v else None),
                       "visit_date": _iso(v.actual if v else None),
                       "status": v.status if v else None, "forms": forms})
    icaht = safety.icaht(subject)
    return jsonify({**_subject_json(subject), "events": events, "safety": {
        "icaht": None if icaht is None else {
            "early": list(icaht["early"]) if icaht["early"] else None,
            "late": list(icaht["late"]) if icaht.get("late") else None,
            "provisional": icaht.get("provisional"), "measurements": icaht["measurements"],
            "rule_version": icaht["rule_version"]},
        "serious_adverse_events": [c.as_json() for c in safety.sae_clocks(subject)]}})


def _iso(d) -> str | None:
    return d.isoformat() if d else None


def _resolve(event: str, form: str) -> int:
    """Check the event and form; the visit number asked for (``?event_repeat=``, unscheduled
    visits), 1 by default."""
    try:
        found, _ = crf.resolve(event, form)
        return crf.visit_number(found, request.args.get("event_repeat"))
    except crf.UnknownForm as exc:
        _fail(404, str(exc))
    except ValueError:
        _fail(404, f"no such visit of {event}")


@bp.route("/subjects/<int:subject_id>/forms/<event_oid>/<form_oid>")
@S.doc(
    "A form's items, derived values, version and status",
    ok=(200, S.FormState), query=("event_repeat",))
@require(Perm.VIEW_SUBJECTS)
def form_get(subject_id: int, event_oid: str, form_oid: str):
    subject = _subject(subject_id)
    visit = _resolve(event_oid, form_oid)
    return jsonify({"event_repeat": visit, **_state(crf.read_form(
        subject, event_oid, form_oid, event_repeat=visit), form_oid)})


def _put(subject, event_oid: str, form_oid: str, repeat: int, visit: int = 1):
    body = _parse(S.FormCorrection)
    # decided before the commit expires the user and their grants (three statements fewer)
    pii = has_perm(current_user, Perm.VIEW_PII)
    try:
        with unit_of_work():
            if body.query_id is not None:  # the correction answers the query
                state = queries.save_correction(
                    subject, queries.Place(event_oid, form_oid, None, visit, repeat),
                    body.items, query_id=body.query_id, answer_text=body.answer,
                    version=body.version, reason=body.reason, user=current_user,
                    actor=current_actor("api"))
            else:
                state = crf.save_form(subject, event_oid, form_oid, body.items,
                                      version=body.version, actor=current_actor("api"),
                                      reason=body.reason, form_repeat=repeat,
                                      event_repeat=visit)
    except crf.StaleVersion as exc:
        body = {"error": str(exc), "status": 409,
                "current": _state(exc.current, form_oid, pii)}
        return jsonify(body), 409
    except (crf.Locked, crf.NotEnrolled) as exc:
        return _error(409, str(exc))
    except crf.Invalid as exc:
        return _error(422, "some values are not valid", exc.errors)
    except queries.QueryProblem as exc:
        return _error(exc.status, exc.message, {exc.field: exc.message})
    return jsonify({"event_repeat": visit, **_state(state, form_oid, pii)})


@bp.route("/subjects/<int:subject_id>/forms/<event_oid>/<form_oid>", methods=["PUT"])
@S.doc(
    "Save a form",
    body=S.FormCorrection, ok=(200, S.FormState), errors=(400, 401, 403, 404, 409, 422),
    query=("event_repeat",))
@require(Perm.ENTER_DATA)
def form_put(subject_id: int, event_oid: str, form_oid: str):
    subject = _subject(subject_id)
    visit = _resolve(event_oid, form_oid)
    return _put(subject, event_oid, form_oid, 1, visit)


def _log_form(form_oid: str) -> str:
    """The event of a repeating form's rows (LOG, or SCREEN for PT, LD for LDD)."""
    event = BUILD.row_event(form_oid)
    if event is None:
        _fail(404, f"{form_oid} is not a repeating form")
    return event


@bp.route("/subjects/<int:subject_id>/logs/<form_oid>")
@S.doc(
    "Rows of a repeating form: the logs (AE, CM, SM, DTH, PGN, HO), prior treatments "
    "(PT), lymphodepletion days (LDD)",
    ok=(200, S.LogRows))
@require(Perm.VIEW_SUBJECTS)
def log_list(subject_id: int, form_oid: str):
    subject = _subject(subject_id)
    event = _log_form(form_oid)
    rows = sorted(k[3] for k in crf.casebook(subject) if k[0] == event and k[2] == form_oid)
    return jsonify({"event": event, "rows": [
        {"seq": n, **_state(crf.read_form(subject, event, form_oid, form_repeat=n), form_oid)}
        for n in rows]})


@bp.route("/subjects/<int:subject_id>/logs/<form_oid>", methods=["POST"])
@S.doc(
    "Add a row (201 with its seq)",
    body=S.FormSave, ok=(201, S.FormState), errors=(400, 401, 403, 404, 409, 422))
@require(Perm.ENTER_DATA)
def log_add(subject_id: int, form_oid: str):
    subject = _subject(subject_id)
    event = _log_form(form_oid)
    seq = crf.next_log_row(subject, form_oid)
    response = _put(subject, event, form_oid, seq)
    if isinstance(response, tuple):
        return response
    body = response.get_json()
    return jsonify({"seq": seq, **body}), 201


@bp.route("/subjects/<int:subject_id>/logs/<form_oid>/<int:seq>", methods=["PUT"])
@S.doc(
    "Change a row",
    body=S.FormCorrection, ok=(200, S.FormState), errors=(400, 401, 403, 404, 409, 422))
@require(Perm.ENTER_DATA)
def log_put(subject_id: int, form_oid: str, seq: int):
    subject = _subject(subject_id)
    event = _log_form(form_oid)
    if seq < 1:
        return _error(404, "no such row")
    return _put(subject, event, form_oid, seq)


@bp.route("/audit")
@S.doc(
    "Audit entries, oldest first (audited as an electronic copy)",
    ok=(200, S.AuditEntries), errors=(401, 403, 422), query=("subject", "since", "limit"))
@require(Perm.VIEW_AUDIT)
def audit_entries():
    try:
        since = date.fromisoformat(request.args["since"]) if request.args.get("since") else None
        limit = min(max(int(request.args.get("limit", 1000)), 1), 10000)
    except ValueError:
        return _error(422, "bad query", {"since": "YYYY-MM-DD", "limit": "1 to 10000"})
    f = TrailFilter(subject=request.args.get("subject") or None, since=since)
    if problems := f.problems():  # kept in the audit entry of this copy
        return _error(422, "bad query", problems)
    rows = []
    for row in iter_presented(f, has_perm(current_user, Perm.VIEW_PII)):
        rows.append(row)
        if len(rows) >= limit:
            break
    # an electronic copy of the trail: audited like the page's and the CLI's copies
    record_export("api", f, actor=current_actor("api"), count=len(rows),
                  extra={"limit": limit, "last_seq": rows[-1]["seq"] if rows else None})
    return jsonify({"entries": rows, "count": len(rows)})


@bp.route("/subjects/<int:subject_id>/eligibility")
@S.doc(
    "Every criterion with its result and evidence, and the overall status",
    ok=(200, S.Eligibility))
@require(Perm.VIEW_SUBJECTS)
def eligibility(subject_id: int):
    subject = _subject(subject_id)
    rep = eligibility_services.report(subject, pii_ok=has_perm(current_user, Perm.VIEW_PII))
    return jsonify(eligibility_services.report_json(subject, rep))


@bp.route("/subjects/<int:subject_id>/eligibility/sign", methods=["POST"])
@S.doc(
    "Investigator's signature of the eligibility checklist: user ID, password and the "
    "second factor's code (401 when wrong, 409 while the subject is not eligible)",
    body=S.Signing, ok=(201, S.SignatureShown), errors=(400, 401, 403, 404, 409, 422))
@require(Perm.SIGN)
def eligibility_sign(subject_id: int):
    subject = _subject(subject_id)
    signing = _parse(S.Signing)
    username, password = signing.username, signing.password
    try:
        with unit_of_work():
            row = signatures.sign(subject, eligibility_services.TARGET, user=current_user,
                                  username=username, password=password, code=signing.code,
                                  actor=current_actor("api"))
            shown = signatures.Shown(row, True, "valid").as_json()
    except signatures.WrongCode as exc:
        return _error(401, exc.message, {"code": exc.message})
    except signatures.WrongCredentials as exc:
        return _error(401, exc.message, {"password": exc.message})
    except signatures.SignatureRefused as exc:
        return jsonify({"error": exc.message, "status": exc.status,
                        "blockers": exc.blockers}), exc.status
    return jsonify(shown), 201


@bp.route("/subjects/<int:subject_id>/enroll", methods=["POST"])
@S.doc(
    "Enroll: 201 with the subject number; 409 with the failing criteria when the subject "
    "is not eligible now or the signature is missing or invalidated",
    ok=(201, S.Enrolled), errors=(401, 403, 404, 409))
@require(Perm.ENROLL)
def enroll(subject_id: int):
    subject = _subject(subject_id)
    try:
        with unit_of_work():
            number = enrollment.enroll(subject, user=current_user,
                                       actor=current_actor("api"))
    except enrollment.EnrollmentRefused as exc:
        return jsonify({**exc.as_json(), "status": exc.status}), exc.status
    return jsonify({"subject_number": number}), 201
