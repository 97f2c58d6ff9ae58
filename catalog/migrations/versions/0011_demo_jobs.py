"""Demo job state in the database, so any web worker can answer for a demo and a restart loses nothing.

Revision ID: 0011
Revises: 0009
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "demo_job",
        sa.Column("id", sa.String(length=32), primary_key=True),
        sa.Column("model", sa.String(), nullable=False),
        sa.Column("backend", sa.String(), nullable=False),
        sa.Column("state", sa.String(), nullable=False),
        sa.Column("progress", sa.Float(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("error_status", sa.Integer(), nullable=True),
        sa.Column("device", sa.String(), nullable=True),
        sa.Column("compute_type", sa.String(), nullable=True),
        sa.Column("model_key", sa.String(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("heartbeat_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_demo_job_model", "demo_job", ["model"])


def downgrade() -> None:
    op.drop_index("ix_demo_job_model", table_name="demo_job")
    op.drop_table("demo_job")
