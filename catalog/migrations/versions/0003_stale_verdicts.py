"""Stale verdicts: models whose stored verdicts a crawl must recompute, kept across a killed run.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table("stale_verdict", sa.Column("model_id", sa.String(), primary_key=True))


def downgrade() -> None:
    op.drop_table("stale_verdict")
