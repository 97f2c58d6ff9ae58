"""Facet counts maintained on write, and covering indexes for deep pages in the default sorts.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "facet_count",
        sa.Column("policy", sa.String(), primary_key=True),
        sa.Column("filter_facet", sa.String(), primary_key=True),
        sa.Column("filter_value", sa.String(), primary_key=True),
        sa.Column("facet", sa.String(), primary_key=True),
        sa.Column("value", sa.String(), primary_key=True),
        sa.Column("count", sa.Integer(), nullable=False),
    )
    op.add_column("catalog_version", sa.Column("facets_version", sa.Integer(), nullable=True))
    op.create_index("ix_model_page_downloads", "model", ["downloads", "id", "missing"])
    op.create_index("ix_model_page_likes", "model", ["likes", "id", "missing"])


def downgrade() -> None:
    op.drop_index("ix_model_page_likes", table_name="model")
    op.drop_index("ix_model_page_downloads", table_name="model")
    with op.batch_alter_table("catalog_version") as batch:
        batch.drop_column("facets_version")
    op.drop_table("facet_count")
