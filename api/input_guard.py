"""Reject JSON bodies the rest of the app cannot hold before any view parses them.

Python's json module accepts input that later code cannot handle: nesting deep enough to exhaust
the interpreter's recursion limit, lone UTF-16 surrogates (`"\\ud800"`) that no database or
encoder will take, and integers too long to convert. A JSON request body is checked once here so
that each of these is a 400 problem, never a 500 from wherever the value ends up.
"""

from __future__ import annotations

import json
from typing import Any

from flask import Flask, current_app, request
from werkzeug.exceptions import BadRequest

JSON_MAX_DEPTH = 32
# Endpoints that take a CycloneDX document, allowed BOM_MAX_BYTES rather than MAX_CONTENT_LENGTH.
LARGER_BODIES = ("models.ComplianceBom", "scan_pages.scan_submit")


class BadJsonBody(BadRequest):
    """A JSON body that parses but cannot be used safely."""


def json_body_problem(raw: bytes) -> str | None:
    """Why this body cannot be accepted, or None when it can."""
    try:
        document = json.loads(raw.decode("utf-8"))
    except RecursionError:
        return f"the JSON body is nested more than {JSON_MAX_DEPTH} levels deep"
    except ValueError as exc:  # JSONDecodeError, UnicodeDecodeError, over-long integers
        return f"the body is not valid UTF-8 JSON: {exc}"
    return _walk_problem(document)


def _walk_problem(document: Any) -> str | None:
    """Check depth and strings without recursion (the point is to survive deep input)."""
    pending: list[tuple[Any, int]] = [(document, 1)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, dict | list):
            if depth > JSON_MAX_DEPTH:
                return f"the JSON body is nested more than {JSON_MAX_DEPTH} levels deep"
            children = [*value.keys(), *value.values()] if isinstance(value, dict) else value
            pending.extend((child, depth + 1) for child in children)
        elif isinstance(value, str) and not _is_utf8(value):
            return "the JSON body holds a lone surrogate (\\ud800-\\udfff): not valid Unicode text"
    return None


def _is_utf8(text: str) -> bool:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _check_json_body() -> None:
    if not request.is_json or request.content_length == 0:
        return
    if request.endpoint in LARGER_BODIES:  # the view raises the size limit, then reads the body
        limit = current_app.config["BOM_MAX_BYTES"]
        request.max_content_length = limit
    raw = request.get_data(cache=True)
    if raw and (reason := json_body_problem(raw)):
        raise BadJsonBody(reason)


def init_app(app: Flask) -> None:
    app.before_request(_check_json_body)
