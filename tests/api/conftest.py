"""App fixtures: the Flask app on a seeded database (SQLite, and PostgreSQL where the test asks)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.app import create_app
from ingest.snapshot import bundled_snapshot_lines, import_snapshot


def seeded_app(engine: Engine) -> Flask:
    with Session(engine) as session:
        import_snapshot(session, bundled_snapshot_lines())
    app = create_app(
        {"DATABASE_URL": engine.url.render_as_string(hide_password=False), "TESTING": True}
    )
    return app


@pytest.fixture
def app(sqlite_engine: Engine) -> Flask:
    return seeded_app(sqlite_engine)


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def any_db_client(engine: Engine) -> Iterator[FlaskClient]:
    """A client on SQLite and on PostgreSQL: for the parts where the database matters (search)."""
    app = seeded_app(engine)
    yield app.test_client()
    app.extensions["modelcatalog.engine"].dispose()
