"""The application factory."""

from __future__ import annotations

import os
from typing import Any

from flask import Flask

from catalog.db import database_url, make_engine


def create_app(test_config: dict[str, Any] | None = None) -> Flask:
    """Build the app: configuration, database engine, blueprints, error handler."""
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    app = Flask(__name__, template_folder=os.path.join(root, "templates"))
    app.config.from_mapping(
        DATABASE_URL=database_url(),
        MAX_CONTENT_LENGTH=1024 * 1024,
        COMPLIANCE_BATCH_LIMIT=500,
        PER_PAGE_MAX=100,
    )
    if test_config:
        app.config.update(test_config)
    app.extensions["modelcatalog.engine"] = make_engine(app.config["DATABASE_URL"])
    _register(app)
    return app


def _register(app: Flask) -> None:
    from api import health

    health.init_app(app)
