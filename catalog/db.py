"""Database engines and schema upgrades (Alembic). SQLite (WAL) by default, PostgreSQL supported."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Engine, make_url
from sqlmodel import create_engine

# Long IN lists are cut to this size: PostgreSQL plans short lists better, SQLite bounds parameters.
IN_LIST_SIZE = 500


def chunked(ids: Iterable[str], size: int = IN_LIST_SIZE) -> Iterator[list[str]]:
    """The ids in lists of at most `size`, for `IN (...)` conditions."""
    batch: list[str] = []
    for repo_id in ids:
        batch.append(repo_id)
        if len(batch) == size:
            yield batch
            batch = []
    if batch:
        yield batch


def as_utc(value: datetime) -> datetime:
    """A timestamp with its zone: SQLite hands back naive datetimes, all of them stored as UTC."""
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets readers (the web server) run while a crawl writes.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def make_engine(url: str) -> Engine:
    """Build an engine for a database URL, creating a SQLite file's folder if needed."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return create_engine(url, pool_pre_ping=True)


def upgrade_schema(engine: Engine) -> None:
    """Create or upgrade the schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("catalog") / "migrations"))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def schema_ready(engine: Engine) -> bool:
    """Whether the database can be reached and holds the catalog's tables (`init` has run)."""
    from sqlalchemy import inspect
    from sqlalchemy.exc import OperationalError

    try:
        return inspect(engine).has_table("model")
    except OperationalError:  # e.g. a SQLite file in a folder that does not exist
        return False
