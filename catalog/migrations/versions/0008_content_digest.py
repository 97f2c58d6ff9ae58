"""A digest of each repo's normalised record, so an import sees edits that kept lastModified.

Revision ID: 0008
Revises: 0011
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Rows from before this revision have no digest: the next import of each rewrites it once.
    for table in ("model", "dataset"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("content_digest", sa.String(), nullable=True))


def downgrade() -> None:
    for table in ("model", "dataset"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("content_digest")
