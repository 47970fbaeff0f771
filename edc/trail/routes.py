from __future__ import annotations

from datetime import date, datetime, time, timedelta

from flask import (
    Blueprint,
    Response,
    flash,
    redirect,
    render_template,
    request,
    stream_with_context,
    url_for,
)
from flask_login import current_user

from edc import accesslog
from edc.i18n import translate
from edc.requestctx import current_actor
from edc.security import Perm, has_perm, require
from edc.trail import services, words
from edc.trail.forms import TrailFilterForm

bp = Blueprint("trail", __name__, url_prefix="/audit")
PER_PAGE = 100
FIELDS = ("subject", "form", "item", "user", "action", "since", "until")  # of the filter


def _filter_from_request(source=None):
    form = TrailFilterForm(request.args if source is None else source)
    ok = form.validate()
    f = services.TrailFilter(**{k: form[k].data or None for k in FIELDS},
                             zone=_zone()) if ok else None
    return form, f


def _zone() -> str | None:
    """The time zone of the filter's dates: the site's for a user of one site, else UTC."""
    sites = [] if current_user.role is None or current_user.role.all_sites else \
        list(current_user.sites)
    return sites[0].timezone if len(sites) == 1 else None


def _refused(form):
    """The page again, with each bad filter's message next to its field."""
    return render_template("trail/index.html", form=form, rows=[], total=0, page=1,
                           pages=1), 422


def _show_pii() -> bool:
    return has_perm(current_user, Perm.VIEW_PII)


@bp.route("/")
@require(Perm.VIEW_AUDIT)
def index():
    form, f = _filter_from_request()
    if f is None:
        return _refused(form)
    try:
        number = max(1, int(request.args.get("page", 1)))
    except ValueError:
        number = 1
    entries, total = services.page(f, number, PER_PAGE)
    zones = services.site_zones()
    names = words.people(entries)
    rows = []
    for e in entries:
        shown = services.present(e, zones, _show_pii())  # identifying values withheld here
        rows.append({**shown, "what": words.action(e),
                     "who": names.get(e.username, e.username or "system"),
                     "role_label": words.role(e.role), "place": words.where(e),
                     "detail_rows": words.details(shown.get("details")),
                     "old_shown": words.value(e, shown.get("old_value")),
                     "new_shown": words.value(e, shown.get("new_value"))})
    pages = max(1, -(-total // PER_PAGE))
    return render_template("trail/index.html", form=form, rows=rows, total=total, fields=FIELDS,
                           page=number, pages=pages, filter=f)


@bp.route("/export.csv")
@require(Perm.VIEW_AUDIT)
def export_csv():
    form, f = _filter_from_request()
    if f is None:
        return _refused(form)
    services.record_export("csv", f, actor=current_actor(), count=services.count(f))
    show = _show_pii()
    response = Response(stream_with_context(services.csv_lines(f, show)),
                        mimetype="text/csv")
    response.headers["Content-Disposition"] = 'attachment; filename="audit-trail.csv"'
    return response


@bp.route("/export.pdf", methods=["POST"])
@require(Perm.VIEW_AUDIT)
def export_pdf():
    """The PDF copy of the entries a filter selects, made in the background (a subject's
    trail is thousands of entries, and the copy verifies the chain first): the jobs page
    shows its progress and the download."""
    from edc.jobs.routes import launch
    from edc.jobs.services import JobProblem

    form, f = _filter_from_request(request.form)
    if f is None:
        return _refused(form)
    try:
        return launch("audit_pdf", trail=f)
    except JobProblem as exc:  # the role's permission, checked again for the job
        flash(translate(exc.message), "error")
        return redirect(url_for("trail.index"))


@bp.route("/access-log")
@require(Perm.VIEW_ACCESS_LOG)
def access_log():
    """Views of identifying data and refused requests, newest first; filter by user, kind
    and UTC dates."""
    errors = {}
    args = {k: (request.args.get(k) or "").strip() for k in ("user", "kind", "since",
                                                            "until", "page")}
    bounds = {}
    for key in ("since", "until"):
        if args[key]:
            try:
                day = date.fromisoformat(args[key])
                bounds[key] = datetime.combine(day + timedelta(days=key == "until"), time.min)
            except (ValueError, OverflowError):
                errors[key] = "enter a date as YYYY-MM-DD"
    if args["kind"] and args["kind"] not in (accesslog.IDENTIFYING, accesslog.REFUSED):
        errors["kind"] = "choose identifying data or refused"
    try:
        page = max(1, min(int(args["page"] or 1), 100000))
    except ValueError:
        page = 1
    rows = [] if errors else accesslog.search(user=args["user"] or None,
                                              kind=args["kind"] or None, page=page, **bounds)
    return render_template("trail/access_log.html", rows=rows, args=args, errors=errors,
                           page=page), 422 if errors else 200
