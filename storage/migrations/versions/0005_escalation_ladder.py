"""The escalation ladder: tiers and deadlines on escalations, on-call and backup supervisors.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-24
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from storage.models import UTCDateTime

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("escalations") as table:
        table.add_column(sa.Column("tier", sa.Integer(), nullable=False, server_default="0"))
        table.add_column(sa.Column("deadline_at", UTCDateTime(), nullable=True))
        table.create_index("ix_escalations_deadline_at", ["deadline_at"])
    with op.batch_alter_table("members") as table:
        table.add_column(sa.Column("on_call", sa.Boolean(), nullable=False, server_default=sa.false()))
        table.add_column(sa.Column("backup", sa.Boolean(), nullable=False, server_default=sa.false()))


def downgrade() -> None:
    with op.batch_alter_table("members") as table:
        table.drop_column("backup")
        table.drop_column("on_call")
    with op.batch_alter_table("escalations") as table:
        table.drop_index("ix_escalations_deadline_at")
        table.drop_column("deadline_at")
        table.drop_column("tier")
