"""Database engines and schema upgrades (Alembic). SQLite (WAL) by default, PostgreSQL supported."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlsplit

from sqlalchemy import event
from sqlalchemy.engine import URL, Connection, Engine, make_url
from sqlmodel import create_engine

# Long IN lists are cut to this size: PostgreSQL plans short lists better, SQLite bounds parameters.
IN_LIST_SIZE = 500


T = TypeVar("T")


def chunked(ids: Iterable[T], size: int = IN_LIST_SIZE) -> Iterator[list[T]]:
    """The ids (or rows) in lists of at most `size`, for `IN (...)` conditions and batched inserts."""
    batch: list[T] = []
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


def sqlite_file(url: URL) -> tuple[Path | None, bool]:
    """A SQLite URL's file (None in memory) and whether the URL opens it read-only.

    Plain paths and SQLite URI filenames (`sqlite:///file:/srv/catalog.db?mode=ro&uri=true`) both.
    """
    database = url.database or ""
    if database in ("", ":memory:"):
        return None, False
    if not database.startswith("file:"):
        return Path(database), False
    parts = urlsplit(database)
    options = parse_qs(parts.query) | {k: [str(v)] for k, v in url.query.items()}
    read_only = options.get("mode") == ["ro"] or options.get("immutable") == ["1"]
    if options.get("mode") == ["memory"] or not parts.path:
        return None, read_only
    return Path(parts.path), read_only


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # Only per-connection settings here: none of them writes, so a read-only file still serves
    # reads. WAL is a property of the file, set once by upgrade_schema.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


def _postgres_settings(dbapi_connection: Any, _record: Any) -> None:
    # JIT compiles a query whose estimated cost is high, which a search's walk down a 1M-row
    # index is (the cursor reads a few hundred rows of it): 50 ms of compiling for a 1 ms query.
    # The catalog's queries are all short; none gains from it.
    cursor = dbapi_connection.cursor()
    cursor.execute("SET jit = off")
    cursor.close()
    dbapi_connection.commit()


def make_engine(url: str) -> Engine:
    """Build an engine for a database URL, creating a SQLite file's folder if needed."""
    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        path, read_only = sqlite_file(parsed)
        if path is not None and not read_only:
            path.parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    engine = create_engine(url, pool_pre_ping=True)
    if parsed.get_backend_name() == "postgresql":
        event.listen(engine, "connect", _postgres_settings)
    return engine


def upgrade_schema(engine: Engine) -> None:
    """Create or upgrade the schema to the newest Alembic revision."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(resources.files("catalog") / "migrations"))
    if engine.dialect.name == "sqlite":
        with engine.connect() as connection:
            # WAL lets readers (the web server) run while a crawl writes; it persists in the file.
            connection.exec_driver_sql("PRAGMA journal_mode=WAL")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def database_access(connection: Connection) -> str:
    """ "read-write" or "read-only": whether this process can write to the database.

    Asked on a connection the caller already holds: taking a second one from the pool while
    holding the first deadlocks once every pooled connection is held by a caller doing the same.
    """
    if connection.dialect.name == "sqlite":
        path, read_only = sqlite_file(connection.engine.url)
        if path is None:
            return "read-write"
        writable = os.access(path, os.W_OK) and os.access(path.parent, os.W_OK)
        return "read-write" if writable and not read_only else "read-only"
    setting = connection.exec_driver_sql("SHOW transaction_read_only").scalar()
    return "read-only" if setting == "on" else "read-write"


def schema_ready(engine: Engine) -> bool:
    """Whether the database can be reached and holds the catalog's tables (`init` has run)."""
    from sqlalchemy import inspect
    from sqlalchemy.exc import OperationalError

    try:
        return inspect(engine).has_table("model")
    except OperationalError:  # e.g. a SQLite file in a folder that does not exist
        return False
