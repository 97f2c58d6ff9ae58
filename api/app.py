"""The application factory."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, Response, request

from catalog.db import database_url, make_engine

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: configuration, database engine, API, pages, error handler."""
    app = Flask(__name__, template_folder=os.path.join(ROOT, "templates"), static_folder=None)
    app.config.from_mapping(
        DATABASE_URL=database_url(),
        MAX_CONTENT_LENGTH=256 * 1024,
        COMPLIANCE_BATCH_LIMIT=500,
        # Sessions must survive restarts and be shared by every instance: set the key in production.
        SECRET_KEY=os.environ.get("MODELCATALOG_SECRET_KEY") or None,
        ANONYMOUS_ACCESS=os.environ.get("MODELCATALOG_ANONYMOUS", "read"),
        RATE_LIMIT_ANONYMOUS=os.environ.get("MODELCATALOG_RATE_LIMIT_ANONYMOUS", "300/minute"),
        RATE_LIMIT_TOKEN=os.environ.get("MODELCATALOG_RATE_LIMIT_TOKEN", "3000/minute"),
        API_TITLE="modelcatalog",
        API_VERSION="v1",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/api/v1",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="docs",
        OPENAPI_SWAGGER_UI_URL="/api/v1/docs/assets/",
        API_SPEC_OPTIONS={
            "info": {
                "description": "Search open models and check their licenses, lineage included."
            }
        },
    )
    if test_config:
        app.config.update(test_config)
    app.extensions["modelcatalog.engine"] = make_engine(app.config["DATABASE_URL"])
    _register(app)
    app.after_request(_conditional_get)
    return app


def _register(app: Flask) -> None:
    from api import (
        auth,
        catalog_api,
        database,
        demos_api,
        docs_assets,
        errors,
        health,
        models_api,
        pages,
        people_api,
        people_pages,
        webhooks_api,
    )

    database.init_app(app)
    api = errors.ProblemApi(app)
    api.register_blueprint(models_api.blp)
    api.register_blueprint(catalog_api.blp)
    api.register_blueprint(demos_api.blp)
    api.register_blueprint(people_api.blp)
    api.register_blueprint(webhooks_api.blp)
    demos_api.init_app(app)
    errors.init_app(app)
    health.init_app(app)
    docs_assets.init_app(app)
    pages.init_app(app)
    people_pages.init_app(app)
    auth.init_app(app)  # last: every route must be in its authorisation map


def _conditional_get(response: Response) -> Response:
    """ETag every successful GET answer and honour If-None-Match (304)."""
    if request.method == "GET" and response.status_code == 200 and not response.direct_passthrough:
        response.add_etag()
        response.make_conditional(request)
    return response
