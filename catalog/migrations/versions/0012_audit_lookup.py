"""An index for "who last did this to that" (a demo's owner is who last started it).

Revision ID: 0012
Revises: 0008
"""

from alembic import op

revision = "0012"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_audit_event_action_target", "audit_event", ["action", "target", "id"])


def downgrade() -> None:
    op.drop_index("ix_audit_event_action_target", table_name="audit_event")
