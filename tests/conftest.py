"""Shared fixtures: a real database per test (SQLite always, PostgreSQL when TEST_POSTGRES_URL is set)."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel

from catalog.db import make_engine, upgrade_schema
from catalog.licenses import knowledge_base
from catalog.registry import sync_licenses
from tests.fakehub import FakeHub

DATA = Path(__file__).parent / "data"
BACKENDS = ["sqlite", "postgres"]


@pytest.fixture(scope="session")
def fakehub_server() -> Iterator[FakeHub]:
    """One Hub stand-in for the whole session; each test's `hub` fixture resets its state."""
    hub = FakeHub().start()
    yield hub
    hub.stop()


def _postgres_url() -> str | None:
    return os.environ.get("TEST_POSTGRES_URL")


@pytest.fixture(scope="session")
def postgres_engine() -> Iterator[Engine]:
    url = _postgres_url()
    if not url:
        pytest.skip("TEST_POSTGRES_URL is not set; .ci/run starts PostgreSQL and sets it")
    engine = make_engine(url)
    with engine.begin() as connection:
        connection.execute(text("DROP SCHEMA public CASCADE"))
        connection.execute(text("CREATE SCHEMA public"))
    upgrade_schema(engine)
    yield engine
    engine.dispose()


def _empty(engine: Engine) -> None:
    tables = [t.name for t in reversed(SQLModel.metadata.sorted_tables)]
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text(f"TRUNCATE {', '.join(tables)} RESTART IDENTITY CASCADE"))
            connection.execute(
                text("INSERT INTO catalog_version (id, version) VALUES (1, 0)")
            )  # as migration 0004
        else:
            for table in tables:
                connection.execute(text(f"DELETE FROM {table}"))


@pytest.fixture(params=BACKENDS)
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    """An empty, migrated database with the license knowledge base loaded."""
    if request.param == "postgres":
        yield request.getfixturevalue("pg_engine")
    else:
        yield from _sqlite(tmp_path)


@pytest.fixture
def pg_engine(postgres_engine: Engine) -> Engine:
    """An empty, migrated PostgreSQL database with the knowledge base, for tests that need a server."""
    _empty(postgres_engine)
    _load_licenses(postgres_engine)
    return postgres_engine


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    """A migrated SQLite database, for tests where the backend does not matter."""
    yield from _sqlite(tmp_path)


def _load_licenses(engine: Engine) -> None:
    with Session(engine) as session:
        sync_licenses(session, knowledge_base())
        session.commit()


def _sqlite(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'catalog.db'}")
    upgrade_schema(engine)
    _load_licenses(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def session(sqlite_engine: Engine) -> Iterator[Session]:
    with Session(sqlite_engine) as session:
        yield session
