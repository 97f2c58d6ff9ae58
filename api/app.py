"""The application factory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, request

from api import database
from api.answer_cache import AnswerCache
from api.settings import Settings
from catalog.db import make_engine


def create_app(
    test_config: dict[str, Any] | None = None,
    settings: Settings | None = None,
    *,
    routes: bool = True,
) -> Flask:
    """Build the app: settings (from the environment unless given), database engine, API, pages.

    Without `routes`, the app serves nothing: settings, engine and sessions only, for commands that
    judge or fetch (`check`, `scan --check`). Importing the API and pages and building the OpenAPI
    document is about a third of such a command's start-up, which a pre-commit hook pays on every
    commit."""
    # The templates live in the package (api/templates) so that an installed wheel has them too.
    app = Flask(__name__)  # static files: api/static (page scripts; CSP allows no inline script)
    if settings is None:
        settings = Settings.from_environ(os.environ, Path(app.instance_path))
    app.config.from_mapping(
        SETTINGS=settings,
        MAX_CONTENT_LENGTH=256 * 1024,
        COMPLIANCE_BATCH_LIMIT=500,
        BOM_MAX_BYTES=4 * 1024 * 1024,
        # Sessions must survive restarts and be shared by every instance: set the key in production.
        SECRET_KEY=settings.access.secret_key,
        ANONYMOUS_ACCESS=settings.access.anonymous.value,
        RATE_LIMIT_ANONYMOUS=settings.access.rate_limit_anonymous,
        RATE_LIMIT_TOKEN=settings.access.rate_limit_token,
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
    app.extensions["modelcatalog.engine"] = make_engine(settings.database_url)
    app.extensions["modelcatalog.answers"] = AnswerCache(settings.web.search_cache)
    database.init_app(app)  # a session per app context, closed with it: routes or not
    if routes:
        _register(app)
        app.after_request(_conditional_get)
    return app


def settings() -> Settings:
    """The running app's settings."""
    value: Settings = current_app.config["SETTINGS"]
    return value


def _register(app: Flask) -> None:
    from api import (
        auth,
        catalog_api,
        demos_api,
        docs_assets,
        errors,
        health,
        input_guard,
        models_api,
        pages,
        people_api,
        people_pages,
        scan_pages,
        security_headers,
        webhooks_api,
    )

    input_guard.init_app(app)
    security_headers.init_app(app)
    api = errors.ProblemApi(app)
    api.register_blueprint(models_api.blp)
    api.register_blueprint(catalog_api.blp)
    api.register_blueprint(demos_api.blp)
    api.register_blueprint(people_api.blp)
    api.register_blueprint(webhooks_api.blp)
    errors.init_app(app)
    health.init_app(app)
    docs_assets.init_app(app)
    pages.init_app(app)
    scan_pages.init_app(app)
    people_pages.init_app(app)
    auth.init_app(app)  # last: every route must be in its authorisation map


def _conditional_get(response: Response) -> Response:
    """ETag every successful GET answer and honour If-None-Match (304)."""
    if request.method == "GET" and response.status_code == 200 and not response.direct_passthrough:
        response.add_etag()
        response.make_conditional(request)
    return response
