"""The digest of the knowledge the stored verdicts were computed with.

`modelcatalog init` compares it with the bundled knowledge (licenses, compatibility rules,
generated-data rules, policies); when they differ it resolves every card's license again and
recomputes every stored verdict, so search by commercial use follows the current rules.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("catalog_version") as batch:
        batch.add_column(sa.Column("rules_digest", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("catalog_version") as batch:
        batch.drop_column("rules_digest")
