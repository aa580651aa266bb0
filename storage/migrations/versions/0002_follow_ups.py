"""Follow-ups agreed in a case, with their due dates.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "follow_ups",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("session_id", sa.String(36), sa.ForeignKey("case_sessions.id"), nullable=False),
        sa.Column("kind", sa.String(60), nullable=False),
        sa.Column("due_at", UTCDateTime(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_follow_ups_session_id", "follow_ups", ["session_id"])
    op.create_index("ix_follow_ups_status_due", "follow_ups", ["status", "due_at"])


def downgrade() -> None:
    op.drop_table("follow_ups")
