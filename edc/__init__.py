"""The CAR-T EDC Flask application."""

from __future__ import annotations

import logging
import os
import uuid

from flask import Flask, g, request
from werkzeug.routing import IntegerConverter

from edc.config import REPO_ROOT, Config, from_env
from edc.extensions import csrf, db, limiter, login_manager, migrations_cli

log = logging.getLogger("edc")


def _digits_up_to(limit: int) -> str:
    """A regular expression for the whole numbers 0 to ``limit`` (leading zeros aside), so a
    URL with a larger number has no route's shape at all."""
    top = str(limit)
    shorter = [rf"\d{{1,{len(top) - 1}}}"] if len(top) > 1 else []
    lowest = [1 if i == 0 and len(top) > 1 else 0 for i in range(len(top))]  # no leading 0
    below = [f"{top[:i]}[{lowest[i]}-{int(d) - 1}]" + rf"\d{{{len(top) - i - 1}}}"
             for i, d in enumerate(top) if int(d) > lowest[i]]
    return "(?:" + "|".join([*shorter, *below, top]) + ")"


class _DatabaseInt(IntegerConverter):
    """``<int:…>`` in a URL: ids and row numbers are database integers, so a larger number
    is no such page (404), not an overflow in the database. The bound is in the pattern:
    checked only after the match, it left the router answering 405 when another method's
    route has the same shape."""

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)
        self.regex = _digits_up_to(self.max)


def create_app(config: dict | None = None) -> Flask:
    app = Flask(
        __name__,
        instance_path=str(REPO_ROOT / "instance"),
        template_folder=str(REPO_ROOT / "templates"),
        static_folder=str(REPO_ROOT / "static"),
    )
    app.url_map.converters["int"] = _DatabaseInt
    app.config.from_object(Config)
    instance = REPO_ROOT / "instance"
    if config and config.get("SQLALCHEMY_DATABASE_URI") and config.get("SECRET_KEY"):
        app.config.update(config)  # fully specified (tests): the environment is not read
    else:
        app.config.update(from_env(dict(os.environ), instance))
        app.config.update(config or {})
    if app.config["SQLALCHEMY_DATABASE_URI"].startswith("sqlite:///"):
        instance.mkdir(parents=True, exist_ok=True)
    if not app.config.get("EDC_AUDIT_KEY_FILE"):
        app.config["EDC_AUDIT_KEY_FILE"] = str(instance / "audit_signing_key.pem")
    if not app.config.get("EDC_AUDIT_CHECKPOINT_LOG"):
        app.config["EDC_AUDIT_CHECKPOINT_LOG"] = str(instance / "audit_checkpoints.jsonl")

    _connect_subscribers()
    db.init_app(app)
    app.cli.add_command(migrations_cli)  # Flask-Migrate is loaded when a command needs it
    csrf.init_app(app)
    limiter.init_app(app)
    login_manager.init_app(app)
    from edc import i18n

    i18n.init_app(app)

    _register_blueprints(app)
    _register_request_hooks(app)
    _register_template_helpers(app)
    from edc.errors import register_error_handlers

    register_error_handlers(app)
    from edc import accesslog, anchor

    accesslog.register(app)

    anchor.register()
    from edc import jobs

    jobs.init_app(app)
    from edc.cli import register_commands

    register_commands(app)
    return app


def _connect_subscribers() -> None:
    """The areas that act on a saved form (edc/crf/signals.py) connect when imported; import
    them here so that no entry point can save a form without them."""
    from edc import deviations  # noqa: F401 - visit-window deviations
    from edc.eligibility import services as eligibility  # noqa: F401 - re-check, signatures
    from edc.queries import services as queries  # noqa: F401 - system queries from checks
    from edc.review import sdv, signoff  # noqa: F401 - auto-unverify, signature invalidation
    from edc.subjects import services as subjects  # noqa: F401 - status after infusion


def _register_blueprints(app: Flask) -> None:
    from edc.admin.routes import bp as admin_bp
    from edc.api import (
        exports,  # noqa: F401 - sponsor exports
        openapi,  # noqa: F401 - registers /api/v1/openapi.json
        review,  # noqa: F401 - queries, SDV, locks, sign-off
    )
    from edc.api.routes import bp as api_bp
    from edc.auth.routes import bp as auth_bp
    from edc.build.routes import bp as build_bp
    from edc.crf.routes import bp as crf_bp
    from edc.eligibility.routes import bp as eligibility_bp
    from edc.exports.routes import bp as exports_bp
    from edc.jobs.routes import bp as jobs_bp
    from edc.main.routes import bp as main_bp
    from edc.queries.routes import bp as queries_bp
    from edc.review.routes import bp as review_bp
    from edc.subjects.routes import bp as subjects_bp
    from edc.trail.routes import bp as trail_bp

    for bp in (main_bp, auth_bp, admin_bp, subjects_bp, crf_bp, trail_bp, api_bp,
               build_bp, eligibility_bp, queries_bp, review_bp, jobs_bp, exports_bp):
        app.register_blueprint(bp)


def _register_request_hooks(app: Flask) -> None:
    from edc.auth.hooks import enforce_password_change, load_site_scope

    @app.before_request
    def _request_id():
        g.request_id = str(uuid.uuid4())
        g.site_scope = frozenset()

    app.before_request(load_site_scope)
    app.before_request(enforce_password_change)

    @app.after_request
    def _headers(response):
        h = response.headers
        h.setdefault(
            "Content-Security-Policy",
            "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
            "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'",
        )
        h.setdefault("X-Frame-Options", "DENY")
        h.setdefault("X-Content-Type-Options", "nosniff")
        h.setdefault("Referrer-Policy", "same-origin")
        h.setdefault("Cross-Origin-Opener-Policy", "same-origin")
        h.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
        if app.config["SESSION_COOKIE_SECURE"]:
            h.setdefault("Strict-Transport-Security", "max-age=31536000; includeSubDomains")
        if request.endpoint != "static":
            # Pages carry clinical data: never kept in a shared or browser cache.
            h.setdefault("Cache-Control", "no-store")
        h["X-Request-ID"] = g.get("request_id", "")
        return response

    @app.teardown_request
    def _log(exc):
        if exc is not None and not isinstance(exc, GeneratorExit):
            log.error("request %s failed: %s", g.get("request_id"), type(exc).__name__)


def _register_template_helpers(app: Flask) -> None:
    from flask_login import current_user

    from edc import i18n, safety, security
    from edc.eligibility import words as eligibility_words
    from edc.study import STUDY_NAME, STUDY_OID
    from edc.subjects import progress
    from edc.timefmt import local_time, utc_time

    app.jinja_env.add_extension("jinja2.ext.do")
    app.jinja_env.globals.update(Perm=security.Perm, Role=security.Role)
    app.jinja_env.filters["linked_items"] = eligibility_words.linked
    app.jinja_env.filters["thread_text"] = i18n.thread_text
    app.jinja_env.filters["evidence_words"] = eligibility_words.evidence
    app.jinja_env.globals["item_label"] = eligibility_words.item_label
    app.jinja_env.globals["named"] = i18n.name_of
    app.jinja_env.globals["label_of"] = i18n.label_of
    app.jinja_env.globals["subject_header"] = progress.header
    app.jinja_env.globals["shown_statuses"] = progress.SHOWN
    app.jinja_env.filters["utc"] = utc_time
    app.jinja_env.filters["local"] = local_time
    app.jinja_env.filters["icaht_grade"] = safety.grade_text

    @app.context_processor
    def _helpers():
        return {
            "has_perm": lambda perm: security.has_perm(current_user, perm),
            "study_name": f"{STUDY_NAME} ({STUDY_OID})",
            "lang": i18n.language(),
        }
