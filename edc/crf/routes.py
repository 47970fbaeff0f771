from __future__ import annotations

from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from flask_login import current_user

from edc import deidentify, safety, signatures
from edc.crf import policy, services
from edc.deidentify import WITHHELD
from edc.i18n import label_of, language, name_of, translate, translate_error
from edc.queries import services as queries
from edc.requestctx import current_actor
from edc.review import sdv, signoff
from edc.security import Perm, can, has_perm, require
from edc.subjects.services import get_subject
from edc.uow import unit_of_work
from forms.builder import form_class
from forms.study_build import BUILD
from forms.validate import is_required

bp = Blueprint("crf", __name__, url_prefix="/subjects/<int:subject_id>")


def _subject(subject_id: int):
    subject = get_subject(subject_id)
    if subject is None or not can(current_user, Perm.VIEW_SUBJECTS, subject):
        abort(404)
    return subject


def _resolve(event: str, form: str):
    try:
        return services.resolve(event, form)
    except services.UnknownForm:
        abort(404)


def _reason(wtf) -> str | None:
    pick, text = (wtf.reason.data or "").strip(), (wtf.reason_text.data or "").strip()
    if pick == "Other":
        return text or None
    return f"{pick}: {text}" if pick and text else (pick or None)


def _query_id() -> int | None:
    """The query a correction answers: the posted ``query_id`` or ``?query=``."""
    raw = request.values.get("query_id") or request.args.get("query") or ""
    return int(raw) if raw.isdigit() and len(raw) < 10 else None


def _answering(subject, event_oid: str, form_oid: str, visit: int, repeat: int):
    if not has_perm(current_user, Perm.ANSWER_QUERY):
        return None
    return queries.answerable(subject, queries.Place(event_oid, form_oid, None, visit, repeat),
                              _query_id())


def _render(subject, event, build, form, state, wtf, status=200, stale=None, offer=None,
            visit=1, repeat=1, answer_error=None):
    show_pii = has_perm(current_user, Perm.VIEW_PII)
    shown = {}
    for item in form.items:
        value = (state.derived if item.derived else state.items).get(item.name)
        shown[item.name] = deidentify.value(form.oid, item.name, value, allowed=show_pii)
    instance = dict(event_oid=state.event, form_oid=state.form, event_repeat=visit,
                    form_repeat=repeat)
    here = [q for q in queries.listing(subject=subject, form_oid=form.oid)
            if (q.event_oid, q.event_repeat, q.form_repeat) == (state.event, visit, repeat)]
    counts = queries.counts(subject)
    key = (state.event, visit, form.oid, repeat)
    sdv_now = sdv.for_instance(subject, **instance) if state.version else None
    target = signoff.form_target(state.event, form.oid, visit, repeat)
    current = dict(state.items)  # what the page shows: the saved values, or those posted
    if request.method == "POST":
        current.update({i.name: getattr(wtf, i.name).data or None
                        for i in form.items if not i.derived})
    return render_template("crf/form.html", subject=subject, event=event, form=form,
                           summary=_summary(form, state, wtf, answer_error),
                           required_now={i.name for i in form.items
                                         if is_required(i, current)
                                         and i.name not in state.hidden},
                           hidden_groups={g.oid for g in form.item_groups() if all(
                               i.name in state.hidden and current.get(i.name) is None
                               for i in g.items)},
                           state=state, wtf=wtf, shown=shown, stale=stale, offer=offer,
                           withheld=WITHHELD, queries_here=here,
                           qcount=lambda item=None: counts.get((*key, item) if item else key),
                           sdv_items={i.item: i for i in sdv_now.items} if sdv_now else {},
                           sdv_was={i.item: deidentify.value(
                               form.oid, i.item, i.mark.verified_value, allowed=show_pii)
                               for i in (sdv_now.items if sdv_now else []) if i.mark},
                           sdv_now=sdv_now, lock=policy.lock_over(subject, **instance),
                           sign_target=target,
                           signature=(signatures.shown(subject, target) or [None])[0],
                           answering=_answering(subject, state.event, form.oid, visit, repeat),
                           answer_error=answer_error,
                           visit=visit, repeat=repeat,
                           may_edit=can(current_user, Perm.ENTER_DATA, subject),
                           build=build), status


def _summary(form, state, wtf, answer_error) -> dict[str, list[dict]]:
    """What the page's summary lists first, each linking to its field (the GOV.UK error
    summary): values refused (nothing was saved), required items not yet entered, and values
    saved but flagged (outside the normal range, inconsistent)."""
    labels = {i.name: label_of(i) for i in form.items}
    refused = [{"item": name, "label": labels[name], "message": message}
               for name in labels if name in wtf and (message := next(iter(
                   getattr(wtf, name).errors), None))]
    if wtf.reason.errors:
        refused.append({"item": "reason", "label": _("Reason for change"),
                        "message": wtf.reason.errors[0]})
    if answer_error:
        refused.append({"item": "query_answer", "label": _("Answer to the query"),
                        "message": answer_error})
    missing = [{"item": name, "label": labels[name], "message": _("required, not yet entered")}
               for name in state.missing if not getattr(wtf, name).errors]
    flagged = [{"item": name, "label": labels[name], "message": message}
               for name, message in state.flags.items() if name in labels]
    return {"refused": refused, "missing": missing, "flagged": flagged}


def _page(subject_id: int, event_oid: str, form_oid: str, repeat: int):
    """The subject, event, visit number (``?event_repeat=`` for unscheduled visits), and the
    build and form definition of this instance (the metadata version it was entered under)."""
    subject = _subject(subject_id)
    event, form = _resolve(event_oid, form_oid)
    if repeat < 1 or (repeat > 1 and not form.repeating):
        abort(404)
    try:
        visit = services.visit_number(event, request.args.get("event_repeat"))
    except ValueError:
        abort(404)
    build, form = services.definition(subject, event_oid, form_oid, event_repeat=visit,
                                      form_repeat=repeat)
    return subject, event, visit, build, form


@bp.route("/forms/<event_oid>/<form_oid>", defaults={"repeat": 1})
@bp.route("/forms/<event_oid>/<form_oid>/<int:repeat>")
@require(Perm.VIEW_SUBJECTS)
def view(subject_id: int, event_oid: str, form_oid: str, repeat: int):
    subject, event, visit, build, form = _page(subject_id, event_oid, form_oid, repeat)
    state = services.read_form(subject, event_oid, form_oid, event_repeat=visit,
                               form_repeat=repeat)
    wtf = form_class(form, build, language())(data={**state.items,
                                                            "version": state.version})
    if not has_perm(current_user, Perm.VIEW_PII):
        for item in form.items:
            if not item.derived and deidentify.identifying(form.oid, item.name):
                getattr(wtf, item.name).data = WITHHELD if state.items.get(item.name) else ""
    offer = None
    if form_oid == "AE" and state.version == 0 and can(current_user, Perm.ENTER_DATA, subject):
        # a new adverse event: offer ICAHT of grade 3 or more, computed from the counts
        offer = safety.icaht_offer(subject)
        if offer and request.args.get("from") == "icaht":
            for name in ("AETERM", "AETOXGR", "AESTDAT", "AESI"):
                getattr(wtf, name).data = offer[name]
    return _render(subject, event, build, form, state, wtf, offer=offer, visit=visit,
                   repeat=repeat)


@bp.route("/forms/<event_oid>/<form_oid>", methods=["POST"], defaults={"repeat": 1})
@bp.route("/forms/<event_oid>/<form_oid>/<int:repeat>", methods=["POST"])
@require(Perm.ENTER_DATA)
def save(subject_id: int, event_oid: str, form_oid: str, repeat: int):
    subject, event, visit, build, form = _page(subject_id, event_oid, form_oid, repeat)
    wtf = form_class(form, build, language())()
    if not wtf.validate_on_submit():  # only the CSRF token can fail here
        abort(400)
    entered = {i.name: getattr(wtf, i.name).data for i in form.items if not i.derived}
    try:
        version = int(wtf.version.data or 0)
    except ValueError:
        version = -1
    query_id = _query_id() if request.form.get("query_id") else None
    again = dict(visit=visit, repeat=repeat)
    try:
        with unit_of_work():
            if query_id is not None:  # the correction answers the query, linked to it
                state = queries.save_correction(
                    subject, queries.Place(event_oid, form_oid, None, visit, repeat), entered,
                    query_id=query_id, answer_text=request.form.get("query_answer"),
                    version=version, reason=_reason(wtf), user=current_user,
                    actor=current_actor())
            else:
                state = services.save_form(subject, event_oid, form_oid, entered,
                                           version=version, actor=current_actor(),
                                           reason=_reason(wtf), event_repeat=visit,
                                           form_repeat=repeat)
    except services.StaleVersion as exc:
        return _render(subject, event, build, form, exc.current, wtf, 409, stale=exc, **again)
    except (services.Locked, services.NotEnrolled) as exc:
        flash(translate_error(exc), "error")
        state = services.read_form(subject, event_oid, form_oid, event_repeat=visit,
                                   form_repeat=repeat)
        return _render(subject, event, build, form, state, wtf, 409, **again)
    except queries.QueryProblem as exc:
        if exc.field == "query_id":  # the query was closed meanwhile: nothing was saved
            flash(_("Query #%(id)d cannot be answered here: %(why)s. Nothing was saved.",
                    id=query_id, why=translate(exc.message)), "error")
        state = services.read_form(subject, event_oid, form_oid, event_repeat=visit,
                                   form_repeat=repeat)
        return _render(subject, event, build, form, state, wtf, exc.status,
                       answer_error=exc.message, **again)
    except services.Invalid as exc:
        for name, message in exc.errors.items():
            target = getattr(wtf, name, None) if name != "reason" else wtf.reason
            if target is not None:
                target.errors = [message]
            else:  # about the form as a whole (e.g. a form only the system writes)
                flash(translate(message), "error")
        state = services.read_form(subject, event_oid, form_oid, event_repeat=visit,
                                   form_repeat=repeat)
        return _render(subject, event, build, form, state, wtf, 422, **again)
    flags, missing = len(state.flags), len(state.missing)
    parts = [_("%(form)s saved (version %(version)d, %(status)s).", form=name_of(form),
               version=state.version, status=translate(state.status))]
    if missing:
        parts.append(ngettext("%(num)d required item not yet entered.",
                              "%(num)d required items not yet entered.", missing))
    if flags:
        parts.append(ngettext(
            "%(num)d value flagged (outside the normal range or inconsistent): see the list "
            "below.", "%(num)d values flagged (outside the normal range or inconsistent): "
            "see the list below.", flags))
    if query_id is not None:
        parts.append(_("Query #%(id)d answered.", id=query_id))
    flash(" ".join(parts), "success")
    flash(request.full_path.rstrip("?"), "saved-path")  # the page clears this form's draft
    target = form_oid
    if request.form.get("then") == "next" and not form.repeating and form_oid in event.forms:
        later = event.forms[event.forms.index(form_oid) + 1:]  # "Save and go to the next form"
        target, repeat = (later[0], 1) if later else (form_oid, repeat)
    return redirect(url_for("crf.view", subject_id=subject.id, event_oid=event_oid,
                            form_oid=target, repeat=repeat,
                            **({"event_repeat": visit} if visit > 1 else {})))


@bp.route("/logs/<form_oid>/new")
@require(Perm.ENTER_DATA)
def new_log_row(subject_id: int, form_oid: str):
    """Open the next free row of a log form (nothing is written until it is saved)."""
    subject = _subject(subject_id)
    event = BUILD.row_event(form_oid)
    if event is None:
        abort(404)
    return redirect(url_for("crf.view", subject_id=subject.id, event_oid=event,
                            form_oid=form_oid, repeat=services.next_log_row(subject, form_oid)))


@bp.route("/visits/<event_oid>/new")
@require(Perm.ENTER_DATA)
def new_visit(subject_id: int, event_oid: str):
    """Open the next visit of a repeatable event (unscheduled visits) at its first form;
    nothing is written until a form is saved."""
    subject = _subject(subject_id)
    try:
        event = BUILD.event(event_oid)
    except KeyError:
        abort(404)
    if not event.repeatable:
        abort(404)
    return redirect(url_for("crf.view", subject_id=subject.id, event_oid=event_oid,
                            form_oid=event.forms[0],
                            event_repeat=services.next_visit(subject, event_oid)))
