"""The OpenAPI 3.1 description of ``/api/v1`` (served at ``/api/v1/openapi.json``),
generated from the URL map and the pydantic models each route is described with
(``edc.api.schemas.doc``): a route cannot be added without appearing here."""

from __future__ import annotations

import re

from flask import current_app, jsonify

from edc.api import schemas
from edc.api.routes import bp
from edc.security import public

_CONVERTERS = {"int": {"type": "integer", "minimum": 0}}
_PARAM = re.compile(r"<(?:(\w+):)?(\w+)>")


def _ref(model) -> dict:
    return {"$ref": f"#/components/schemas/{model.__name__}"}


def _json(model) -> dict:
    return {"application/json": {"schema": _ref(model)}}


def document(app) -> dict:
    models: set = {schemas.Error}
    paths: dict[str, dict] = {}
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("api."):
            continue
        view = app.view_functions[rule.endpoint]
        described = getattr(view, "api_doc", None)
        if described is None:
            raise LookupError(f"{rule.endpoint} has no API description (schemas.doc)")
        path = _PARAM.sub(lambda m: "{" + m.group(2) + "}", rule.rule[len("/api/v1"):])
        params = [{"name": name, "in": "path", "required": True,
                   "schema": _CONVERTERS.get(conv or "", {"type": "string"})}
                  for conv, name in _PARAM.findall(rule.rule)]
        params += [{"name": q, "in": "query", "description": schemas.QUERY[q][1],
                    "schema": schemas.QUERY[q][0]} for q in described["query"]]
        status, model = described["ok"]
        if described.get("media"):
            content = {described["media"]: {"schema": {"type": "string", "format": "binary"}}}
        else:
            models.add(model)
            content = _json(model)
        responses = {str(status): {"description": "OK", "content": content}}
        for code in described["errors"]:
            error_model = schemas.Conflict if code == 409 else schemas.Error
            models.add(error_model)
            responses[str(code)] = {"description": schemas.ERRORS[code],
                                    "content": _json(error_model)}
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            op = {"operationId": rule.endpoint.split(".", 1)[1] + "_" + method.lower(),
                  "summary": described["summary"], "parameters": params,
                  "responses": responses}
            if described["body"] is not None:
                models.add(described["body"])
                op["requestBody"] = {"required": True, "content": _json(described["body"])}
            if rule.endpoint == "api.openapi":
                op["security"] = []
            paths.setdefault(path, {})[method.lower()] = op
    components: dict[str, dict] = {}
    for model in sorted(models, key=lambda m: m.__name__):
        schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
        components.update(schema.pop("$defs", {}))
        components[model.__name__] = schema
    return {
        "openapi": "3.1.0",
        "info": {"title": "CAR-T EDC API", "version": "1",
                 "description": "Site-scoped access to the study build, subjects and eCRF "
                                "data. Authenticate with `Authorization: Bearer <token>` "
                                "(`edc token create`). Values travel as strings or numbers, "
                                "dates as YYYY-MM-DD, coded values as their code."},
        "servers": [{"url": "/api/v1"}],
        "security": [{"bearer": []}],
        "paths": dict(sorted(paths.items())),
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
                       "schemas": components},
    }


@bp.route("/openapi.json")
@schemas.doc("This document", ok=(200, schemas.OpenApi), errors=())
@public
def openapi():
    return jsonify(document(current_app))
