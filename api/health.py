"""GET /healthz: the service is up, and the state of each thing it depends on.

The answer is 200 while the catalog can be read (a read-only database or a broken demo cache
degrade the service but do not take it down) and 503 when the database cannot answer.
"""

from __future__ import annotations

from typing import Any

from flask import Blueprint, Flask, Response, jsonify
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from api.app import settings
from api.database import db
from catalog.db import database_access

blp = Blueprint("health", __name__)


def database_health() -> str:
    try:
        # The request's own connection: the authorisation check already holds it, and taking a
        # second one from the pool per request deadlocks once every pooled connection is held.
        connection = db().connection()
        connection.execute(text("SELECT 1"))
        return "ok" if database_access(connection) == "read-write" else "read-only"
    except SQLAlchemyError as exc:
        return f"error: {type(getattr(exc, 'orig', None) or exc).__name__}"


def demo_health() -> dict[str, str]:
    """The demo backend and its cache; never builds the demo manager (that loads CTranslate2)."""
    try:
        from demo_runner.cache import cache_problem
    except ImportError:
        return {"demo_backend": "not installed", "demo_cache": "not used"}
    problem = cache_problem(settings().demo.cache_dir)
    return {"demo_backend": "local", "demo_cache": f"unwritable: {problem}" if problem else "ok"}


@blp.get("/healthz")
def healthz() -> tuple[Response, int]:
    checks: dict[str, Any] = {"database": database_health(), **demo_health()}
    down = checks["database"].startswith("error")
    degraded = checks["database"] != "ok" or checks["demo_cache"].startswith("unwritable")
    status = "down" if down else "degraded" if degraded else "ok"
    return jsonify(status=status, checks=checks), 503 if down else 200


def init_app(app: Flask) -> None:
    app.register_blueprint(blp)
    app.register_blueprint(blp, url_prefix="/api/v1", name="health_v1")
