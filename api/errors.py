"""Every error handler of the app. API routes answer application/problem+json (RFC 9457); pages
answer an HTML page with the same status. Catalog and demo errors carry their own status."""

from __future__ import annotations

import http
from typing import Any

from apispec import BasePlugin
from flask import Flask, Response, current_app, g, json, render_template, request
from flask_smorest import Api
from marshmallow import Schema, fields
from sqlalchemy.exc import TimeoutError as PoolTimeout
from werkzeug.exceptions import HTTPException

from catalog.errors import CatalogError
from demo_runner.errors import DemoError

PROBLEM_TYPE = "about:blank"
PROBLEM_MIMETYPE = "application/problem+json"


class ProblemSchema(Schema):
    """RFC 9457 problem details, as every API error is answered."""

    type = fields.String()
    title = fields.String()
    status = fields.Integer()
    detail = fields.String()
    errors = fields.Dict(metadata={"description": "Validation messages by field."})


class ProblemResponses(BasePlugin):
    """Documents error responses with the content type they are answered with.

    The only responses registered as components are flask-smorest's error responses (one per
    status, and the default one); they are described with ERROR_SCHEMA as application/json.
    """

    def response_helper(self, response: dict[str, Any], **kwargs: Any) -> dict[str, Any] | None:
        content = response.get("content") or {}
        if Api.DEFAULT_RESPONSE_CONTENT_TYPE not in content:
            return None
        return {"content": {PROBLEM_MIMETYPE: content[Api.DEFAULT_RESPONSE_CONTENT_TYPE]}}


class ProblemApi(Api):
    """flask-smorest's Api with problem+json errors instead of its own error shape."""

    ERROR_SCHEMA = ProblemSchema

    def __init__(self, app: Flask) -> None:
        super().__init__(app, spec_kwargs={"extra_plugins": [ProblemResponses()]})

    def handle_http_exception(self, error: HTTPException) -> Response:
        return http_error(error)


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


def _answer(status: int, detail: str, errors: dict[str, Any] | None = None) -> Response:
    """The one shape of every error: a problem for API routes, the error page for pages."""
    try:
        title = http.HTTPStatus(status).phrase
    except ValueError:  # a status outside the standard list
        title = "Error"
    if _wants_html():
        html = render_template("error.html", status=status, title=title, detail=detail)
        return Response(html, status=status, mimetype="text/html")
    return problem(status, title, detail, errors)


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


def http_error(error: HTTPException) -> Response:
    status = error.code or 500
    data = getattr(error, "data", {}) or {}
    errors = _field_errors(data)
    detail = data.get("message") or error.description or error.name
    if errors:
        detail = "The request's parameters are not valid; see errors."
    response = _answer(status, detail, errors)
    allow = error.get_response().headers.get("Allow") if status == 405 else None
    if allow:
        response.headers["Allow"] = allow
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="modelcatalog"'
    return response


def catalog_error(error: CatalogError) -> Response:
    return _answer(error.status, str(error))


def retry_after(seconds: int) -> dict[str, str]:
    """The Retry-After header of an answer, kept as it is through the rate limiter.

    Flask-Limiter writes Retry-After on every answer (its window's reset, up to a minute), which
    would tell a client refused for a second to wait a minute; `_keep_retry_after` puts ours back.
    """
    g.retry_after = str(seconds)
    return {"Retry-After": g.retry_after}


def _keep_retry_after(response: Response) -> Response:
    if "retry_after" in g:
        response.headers["Retry-After"] = g.retry_after
    return response


def demo_error(error: DemoError) -> Response:
    response = _answer(error.status, str(error))
    seconds = getattr(error, "retry_after", None)  # DemoBusy: too much is running already
    if seconds is not None:
        response.headers.update(retry_after(seconds))
    return response


def database_busy(_error: PoolTimeout) -> Response:
    """Every pooled database connection stayed in use for the pool's whole timeout."""
    current_app.logger.warning("no database connection became free in time")
    response = _answer(503, "The database is busy; try again shortly.")
    response.headers.update(retry_after(2))
    return response


def init_app(app: Flask) -> None:
    app.register_error_handler(HTTPException, http_error)
    app.register_error_handler(PoolTimeout, database_busy)
    app.register_error_handler(CatalogError, catalog_error)
    app.register_error_handler(DemoError, demo_error)
    # Registered before the limiter's hook, so it runs after it (Flask runs them in reverse).
    app.after_request(_keep_retry_after)
