"""GET /healthz: the service is up and its database answers."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, jsonify
from sqlalchemy import text

from api.database import engine

blp = Blueprint("health", __name__)


@blp.get("/healthz")
def healthz() -> Response:
    with engine().connect() as connection:
        connection.execute(text("SELECT 1"))
    return jsonify(status="ok")


def init_app(app: Flask) -> None:
    app.register_blueprint(blp)
    app.register_blueprint(blp, url_prefix="/api/v1", name="health_v1")
