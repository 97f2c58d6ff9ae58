"""The one error handler: every API error is application/problem+json; pages get an HTML page."""

from __future__ import annotations

import http
from typing import Any

from flask import Flask, Response, json, render_template, request
from flask_smorest import Api
from marshmallow import Schema, fields
from werkzeug.exceptions import HTTPException, default_exceptions

from catalog.errors import (
    CatalogError,
    DatasetNotFound,
    InvalidRecord,
    LicenseNotFound,
    ModelNotFound,
    PolicyError,
    RecordNotFound,
    UnknownUse,
    UserExists,
    UserNotFound,
)

PROBLEM_TYPE = "about:blank"
PROBLEM_MIMETYPE = "application/problem+json"

# Catalog exceptions and the HTTP status each means.
CATALOG_STATUS: dict[type[CatalogError], int] = {
    ModelNotFound: 404,
    DatasetNotFound: 404,
    LicenseNotFound: 404,
    PolicyError: 400,
    UnknownUse: 400,
    InvalidRecord: 422,
    RecordNotFound: 404,
    UserNotFound: 404,
    UserExists: 409,
}


def _field_errors(data: dict[str, Any]) -> dict[str, Any] | None:
    """webargs nests messages by location ({"query": {"page": [...]}}); clients want them by field."""
    messages = data.get("messages")
    if not isinstance(messages, dict):
        return None
    flat: dict[str, Any] = {}
    for location, errors in messages.items():
        if isinstance(errors, dict):
            flat.update(errors)
        else:
            flat[location] = errors
    return flat


def problem(status: int, title: str, detail: str, errors: dict[str, Any] | None = None) -> Response:
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE,
        "title": title,
        "status": status,
        "detail": detail,
    }
    if errors:
        body["errors"] = errors
    return Response(json.dumps(body), status=status, mimetype=PROBLEM_MIMETYPE)


def _wants_html() -> bool:
    return not request.path.startswith("/api/") and request.path != "/healthz"


def http_error(error: HTTPException) -> Response:
    status = error.code or 500
    if _wants_html():
        html = render_template(
            "error.html", status=status, title=error.name, detail=error.description
        )
        return Response(html, status=status, mimetype="text/html")
    data = getattr(error, "data", {}) or {}
    errors = _field_errors(data)
    detail = data.get("message") or error.description or error.name
    if errors:
        detail = "The request's parameters are not valid; see errors."
    response = problem(status, error.name, detail, errors)
    for name, value in error.get_response().headers.items() if status == 405 else []:
        if name == "Allow":
            response.headers["Allow"] = value
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="modelcatalog"'
    return response


def catalog_error(error: CatalogError) -> Response:
    status = CATALOG_STATUS.get(type(error), 400)
    if _wants_html():
        return http_error(default_exceptions[status](str(error)))
    title = http.HTTPStatus(status).phrase
    return problem(status, title, str(error))


class ProblemSchema(Schema):
    """RFC 9457 problem details, as every API error is answered."""

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.Dict(metadata={"description": "Validation messages by field."})


class ProblemApi(Api):
    """flask-smorest's Api with problem+json errors instead of its own error shape."""

    ERROR_SCHEMA = ProblemSchema

    def _register_responses(self) -> None:
        # As flask-smorest does, but documenting the problem+json content type we answer with.
        for status in http.HTTPStatus:
            response: dict[str, Any] = {"description": status.phrase}
            if not (100 <= status < 200) and status not in (204, 304):
                response["content"] = {PROBLEM_MIMETYPE: {"schema": self.ERROR_SCHEMA}}
            self.spec.components.response(status.name, response, lazy=True)
        default = {
            "description": "Default error response",
            "content": {PROBLEM_MIMETYPE: {"schema": self.ERROR_SCHEMA}},
        }
        self.spec.components.response("DEFAULT_ERROR", default, lazy=True)

    def handle_http_exception(self, error: HTTPException) -> Response:  # type: ignore[override]
        return http_error(error)


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(CatalogError, catalog_error)
