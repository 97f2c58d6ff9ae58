"""Search: license and language rows per model, full-text search, indexes for sorting and facets.

SQLite gets an FTS5 table kept in sync by triggers; PostgreSQL a generated tsvector with a GIN index.

Revision ID: 0002
Revises: 0001
"""

from typing import Any

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

SQLITE_FTS = [
    """CREATE VIRTUAL TABLE model_fts USING fts5(
           id, author, tags, summary, content='model', tokenize="unicode61 tokenchars '-.'")""",
    """CREATE TRIGGER model_fts_insert AFTER INSERT ON model BEGIN
           INSERT INTO model_fts(rowid, id, author, tags, summary)
           VALUES (new.rowid, new.id, new.author, new.tags, new.summary);
       END""",
    """CREATE TRIGGER model_fts_delete AFTER DELETE ON model BEGIN
           INSERT INTO model_fts(model_fts, rowid, id, author, tags, summary)
           VALUES ('delete', old.rowid, old.id, old.author, old.tags, old.summary);
       END""",
    """CREATE TRIGGER model_fts_update AFTER UPDATE OF id, author, tags, summary ON model BEGIN
           INSERT INTO model_fts(model_fts, rowid, id, author, tags, summary)
           VALUES ('delete', old.rowid, old.id, old.author, old.tags, old.summary);
           INSERT INTO model_fts(rowid, id, author, tags, summary)
           VALUES (new.rowid, new.id, new.author, new.tags, new.summary);
       END""",
    "INSERT INTO model_fts(model_fts) VALUES ('rebuild')",
]

POSTGRES_FTS = [
    """ALTER TABLE model ADD COLUMN search tsvector GENERATED ALWAYS AS (
           to_tsvector('simple', replace(id, '/', ' ') || ' ' || coalesce(author, '') || ' '
                       || coalesce(tags::text, '') || ' ' || coalesce(summary, ''))) STORED""",
    "CREATE INDEX ix_model_search ON model USING gin (search)",
]


def upgrade() -> None:
    op.create_table(
        "model_license",
        sa.Column(
            "model_id", sa.String(), sa.ForeignKey("model.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("license_id", sa.String(), primary_key=True),
    )
    op.create_index("ix_model_license_license_id", "model_license", ["license_id", "model_id"])
    op.create_table(
        "model_language",
        sa.Column(
            "model_id", sa.String(), sa.ForeignKey("model.id", ondelete="CASCADE"), primary_key=True
        ),
        sa.Column("language", sa.String(), primary_key=True),
    )
    op.create_index("ix_model_language_language", "model_language", ["language", "model_id"])
    op.create_index("ix_model_downloads", "model", ["downloads"])
    op.create_index("ix_model_likes", "model", ["likes"])
    op.create_index("ix_model_last_modified", "model", ["last_modified"])
    op.create_index("ix_model_created_at", "model", ["created_at"])
    op.create_index(
        "ix_model_verdict_model", "model_verdict", ["use", "policy", "model_id", "verdict"]
    )
    bind = op.get_bind()
    statements = POSTGRES_FTS if bind.dialect.name == "postgresql" else SQLITE_FTS
    for statement in statements:
        op.execute(statement)
    # Backfill the per-model rows from the JSON columns written before this revision.
    rows = bind.execute(sa.text("SELECT id, license_ids, languages FROM model")).fetchall()
    import json

    for model_id, license_ids, languages in rows:
        for license_id in set(_load(json, license_ids)):
            bind.execute(
                sa.text("INSERT INTO model_license VALUES (:m, :l)"),
                {"m": model_id, "l": license_id},
            )
        for language in set(_load(json, languages)):
            bind.execute(
                sa.text("INSERT INTO model_language VALUES (:m, :l)"),
                {"m": model_id, "l": language},
            )


def _load(json: Any, value: Any) -> list[Any]:
    if value is None:
        return []
    return value if isinstance(value, list) else json.loads(value)


def downgrade() -> None:
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        op.execute("DROP INDEX ix_model_search")
        op.execute("ALTER TABLE model DROP COLUMN search")
    else:
        for trigger in ("model_fts_insert", "model_fts_delete", "model_fts_update"):
            op.execute(f"DROP TRIGGER {trigger}")
        op.execute("DROP TABLE model_fts")
    for index, table in (
        ("ix_model_verdict_model", "model_verdict"),
        ("ix_model_created_at", "model"),
        ("ix_model_last_modified", "model"),
        ("ix_model_likes", "model"),
        ("ix_model_downloads", "model"),
    ):
        op.drop_index(index, table_name=table)
    op.drop_table("model_language")
    op.drop_table("model_license")
