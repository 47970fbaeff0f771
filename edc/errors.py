"""Error pages and JSON errors: every failure answers with a clear 4xx, never a raw 500 page."""

from __future__ import annotations

from flask import jsonify, render_template, request
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException, MethodNotAllowed

MESSAGES = {
    400: "The request could not be understood.",
    401: "Please sign in.",
    403: "Your role does not allow this.",
    404: "Not found.",
    405: "This action is not available here.",
    409: "The record changed or is locked.",
    413: "The upload is too large.",
    422: "Some values are not valid.",
    429: "Too many attempts. Wait a minute and try again.",
    500: "Something went wrong on the server. The error was logged; nothing was saved.",
    503: "The database cannot take changes just now. Nothing was saved: try again in a "
         "minute.",
}
UNAVAILABLE = ("The database cannot take changes just now ({why}). Nothing was saved: keep "
               "this page open and try again in a minute; the administrators were alerted.")


def _wants_json() -> bool:
    return request.path.startswith("/api/") or (
        request.accept_mimetypes.best == "application/json"
    )


def render_error(status: int, message: str | None = None):
    message = message or MESSAGES.get(status, "Error.")
    if _wants_json():
        return jsonify({"error": message, "status": status}), status
    return render_template("error.html", status=status, message=message), status


def register_error_handlers(app) -> None:
    @app.errorhandler(CSRFError)
    def _csrf(exc):
        app.logger.warning("CSRF refused: %s", exc.description)
        return render_error(400, "The form expired or was not sent from this site "
                                 "(CSRF check failed). Reload the page and try again.")

    from edc.crf.policy import Locked

    @app.errorhandler(Locked)
    def _locked(exc):
        # a lock or freeze over the record, whichever route met it (pages and API alike)
        return render_error(409, str(exc))

    @app.errorhandler(MethodNotAllowed)
    def _method(exc):
        response = app.make_response(render_error(405))
        response.headers["Allow"] = ", ".join(sorted(exc.valid_methods or ()))
        return response

    @app.errorhandler(HTTPException)
    def _http(exc):
        message = None
        if exc.code not in MESSAGES and exc.description:
            message = exc.description
        return render_error(exc.code or 500, message)

    @app.errorhandler(Exception)
    def _unexpected(exc):
        from edc import health
        from edc.extensions import db

        db.session.rollback()
        why = health.unavailable(exc)
        if why is not None:  # the storage, not the request: a 503 to retry, never a crash
            app.logger.error("database unavailable: %s (%s)", why, type(exc).__name__)
            response, status = render_error(503, UNAVAILABLE.format(why=why))
            response = app.make_response((response, status))
            response.headers["Retry-After"] = "60"
            return response
        app.logger.exception("unhandled error")
        return render_error(500)
