"""App fixtures: the Flask app on a seeded database (SQLite, and PostgreSQL where the test asks)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.engine import Engine
from sqlmodel import Session

from api.app import create_app
from api.settings import Settings
from demo_runner.settings import DemoSettings
from ingest.snapshot import bundled_snapshot_lines, import_snapshot

_DEMO_CACHES: list[Path] = []


@pytest.fixture(scope="session", autouse=True)
def _demo_cache_root(tmp_path_factory: pytest.TempPathFactory) -> None:
    # Under pytest's own temporary folder, which it prunes: never loose folders in /tmp.
    _DEMO_CACHES.append(tmp_path_factory.mktemp("demo-caches"))


def _demo_cache() -> Path:
    """A fresh demo cache folder for one app."""
    return Path(tempfile.mkdtemp(prefix="demos-", dir=_DEMO_CACHES[-1] if _DEMO_CACHES else None))


def seeded_app(engine: Engine, **config: object) -> Flask:
    with Session(engine) as session:
        import_snapshot(session, bundled_snapshot_lines())
    # Demos started by API tests stay in a temporary folder and never reach a real Hub.
    demo = DemoSettings(cache_dir=_demo_cache(), endpoint="http://127.0.0.1:9")
    url = engine.url.render_as_string(hide_password=False)
    test_config = {
        "TESTING": True,
        # Tests send many requests from one address; the rate-limit tests set their own.
        "RATE_LIMIT_ANONYMOUS": "100000/minute",
        "RATE_LIMIT_TOKEN": "100000/minute",
        **config,
    }
    return create_app(test_config, Settings(database_url=url, demo=demo))


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


def app_with(url: str, **changes: object) -> Flask:
    """An app on an existing database with some settings changed (web=…, demo=…)."""
    demo = DemoSettings(cache_dir=_demo_cache(), endpoint="http://127.0.0.1:9")
    settings = replace(Settings(database_url=url, demo=demo), **changes)  # type: ignore[arg-type]
    config = {
        "TESTING": True,
        "RATE_LIMIT_ANONYMOUS": "100000/minute",
        "RATE_LIMIT_TOKEN": "100000/minute",
    }
    return create_app(config, settings)
