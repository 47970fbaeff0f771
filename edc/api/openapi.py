"""The OpenAPI 3.1 description of ``/api/v1`` (served at ``/api/v1/openapi.json``)."""

from __future__ import annotations

from flask import jsonify

from edc.api.routes import bp
from edc.security import public

_ERR = {"$ref": "#/components/schemas/Error"}


def _op(summary: str, *, body: str | None = None, ok: str = "200", errors=(401, 403, 404),
        params=()) -> dict:
    op = {"summary": summary, "parameters": [{"$ref": f"#/components/parameters/{p}"}
                                              for p in params],
          "responses": {ok: {"description": "OK", "content": {"application/json": {}}},
                        **{str(e): {"description": {400: "Bad request", 401: "No valid token",
                                                    403: "Role does not allow it",
                                                    404: "Not found (or another site's)",
                                                    409: "Conflict: stale version, locked "
                                                         "form, not eligible or not signed",
                                                    422: "Invalid values, named by item"}[e],
                                    "content": {"application/json": {"schema": _ERR}}}
                           for e in errors}}}
    if body:
        op["requestBody"] = {"required": True, "content": {"application/json": {
            "schema": {"$ref": f"#/components/schemas/{body}"}}}}
    return op


SPEC = {
    "openapi": "3.1.0",
    "info": {"title": "CAR-T EDC API", "version": "1",
             "description": "Site-scoped access to the study build, subjects and eCRF data. "
                            "Authenticate with `Authorization: Bearer <token>` "
                            "(`edc token create`). Values travel as strings or numbers, "
                            "dates as YYYY-MM-DD, coded values as their code."},
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearer": []}],
    "paths": {
        "/study": {"get": _op("Events, forms, items and code lists (data dictionary)",
                              errors=(401, 403))},
        "/subjects": {
            "get": _op("Subjects of your sites", errors=(401, 403)),
            "post": _op("Register a screened subject", body="NewSubject", ok="201",
                        errors=(400, 401, 403, 422)),
        },
        "/subjects/{id}": {"get": _op("A subject with its events and form statuses",
                                      params=("id",))},
        "/subjects/{id}/forms/{event}/{form}": {
            "get": _op("A form's items, derived values, version and status",
                       params=("id", "event", "form", "event_repeat")),
            "put": _op("Save a form", body="FormSave",
                       params=("id", "event", "form", "event_repeat"),
                       errors=(400, 401, 403, 404, 409, 422)),
        },
        "/subjects/{id}/logs/{form}": {
            "get": _op("Rows of a repeating form: the logs (AE, CM, SM, DTH, PGN, HO), prior "
                       "treatments (PT) and lymphodepletion days (LDD)", params=("id", "form")),
            "post": _op("Add a row (201 with its seq)", body="FormSave", ok="201",
                        params=("id", "form"), errors=(400, 401, 403, 404, 422)),
        },
        "/subjects/{id}/logs/{form}/{seq}": {
            "put": _op("Change a row", body="FormSave", params=("id", "form", "seq"),
                       errors=(400, 401, 403, 404, 409, 422)),
        },
        "/subjects/{id}/eligibility": {"get": _op(
            "Every criterion with its result and evidence, and the overall status",
            params=("id",))},
        "/subjects/{id}/eligibility/sign": {"post": _op(
            "Investigator's signature of the eligibility checklist (password re-entered; "
            "401 on a wrong password, 409 while the subject is not eligible)",
            body="Signing", ok="201", params=("id",), errors=(400, 401, 403, 404, 409, 422))},
        "/subjects/{id}/enroll": {"post": _op(
            "Enroll: 201 with the subject number; 409 with the failing criteria when the "
            "subject is not eligible now or the checklist signature is missing or invalidated",
            ok="201", params=("id",), errors=(401, 403, 404, 409))},
        "/audit": {"get": _op("Audit entries, oldest first", params=("subject", "since",
                                                                       "limit"),
                              errors=(401, 403, 422))},
    },
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        "parameters": {
            "id": {"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}},
            "event": {"name": "event", "in": "path", "required": True,
                      "schema": {"type": "string"}, "example": "SCREEN"},
            "form": {"name": "form", "in": "path", "required": True,
                     "schema": {"type": "string"}, "example": "LB"},
            "seq": {"name": "seq", "in": "path", "required": True,
                    "schema": {"type": "integer", "minimum": 1}},
            "event_repeat": {"name": "event_repeat", "in": "query",
                             "description": "visit number of a repeatable event (unscheduled "
                                            "visits); 1 by default",
                             "schema": {"type": "integer", "minimum": 1}},
            "subject": {"name": "subject", "in": "query", "schema": {"type": "string"}},
            "since": {"name": "since", "in": "query",
                      "schema": {"type": "string", "format": "date"}},
            "limit": {"name": "limit", "in": "query",
                      "schema": {"type": "integer", "minimum": 1, "maximum": 10000}},
        },
        "schemas": {
            "Error": {"type": "object", "required": ["error", "status"], "properties": {
                "error": {"type": "string"}, "status": {"type": "integer"},
                "errors": {"type": "object", "additionalProperties": {"type": "string"}}}},
            "NewSubject": {"type": "object", "required": ["site"],
                           "properties": {"site": {"type": "string", "example": "TJ"}}},
            "Signing": {"type": "object", "required": ["password"], "properties": {
                "password": {"type": "string"},
                "username": {"type": "string", "description": "optional; must be the "
                             "token's user when given"}}},
            "FormSave": {"type": "object", "required": ["items"], "properties": {
                "items": {"type": "object", "additionalProperties": {
                    "type": ["string", "number", "null"]}},
                "version": {"type": "integer", "description": "the version you read; 0 "
                            "for a new form"},
                "reason": {"type": "string", "description": "required once saved before"}}},
        },
    },
}


@bp.route("/openapi.json")
@public
def openapi():
    return jsonify(SPEC)
