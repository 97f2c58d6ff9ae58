"""Swagger UI's files, served from the swagger-ui-bundle package so the docs page works offline."""

from __future__ import annotations

from flask import Blueprint, Flask, Response, send_from_directory

blp = Blueprint("docs_assets", __name__)


@blp.get("/api/v1/docs/assets/<path:filename>")
def asset(filename: str) -> Response:
    from swagger_ui_bundle import swagger_ui_path

    return send_from_directory(swagger_ui_path, filename, max_age=86400)


def init_app(app: Flask) -> None:
    app.register_blueprint(blp)
