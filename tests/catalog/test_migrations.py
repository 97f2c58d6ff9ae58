"""The Alembic migrations build exactly the schema the SQLModel tables describe, on both databases."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect
from sqlalchemy.engine import Engine
from sqlmodel import SQLModel

import catalog.tables  # noqa: F401

# Full-text search lives outside the ORM: FTS5 tables on SQLite, a generated tsvector on PostgreSQL;
# so does PostgreSQL's row number for the search bitmaps (SQLite uses rowid).
SEARCH_ONLY = ("model_fts", "'search'", "ix_model_search'", "'seq'", "ix_model_seq")


def _is_search_object(diff: object) -> bool:
    text = repr(diff)
    return any(name in text for name in SEARCH_ONLY)


def test_migrations_match_the_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": False})
        diffs = [
            d for d in compare_metadata(context, SQLModel.metadata) if not _is_search_object(d)
        ]
    assert diffs == []


def test_upgrade_creates_every_table(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert set(SQLModel.metadata.tables) <= tables
