"""Per-model facet contributions, so facet counts are updated by difference after each write.

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "model_facets",
        sa.Column("model_id", sa.String(), primary_key=True),
        sa.Column("contribution", sa.String(), nullable=False),
    )
    # Counts built before this revision have no per-model record: rebuild them on the next write.
    op.execute("UPDATE catalog_version SET facets_version = NULL")


def downgrade() -> None:
    op.drop_table("model_facets")
