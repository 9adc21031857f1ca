"""The queue remembers the user's last message while waiting and when they left (abandoned entries).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("handoff_queue") as batch:
        batch.add_column(sa.Column("last_seen_at", sa.DateTime, nullable=True))
        batch.add_column(sa.Column("left_at", sa.DateTime, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("handoff_queue") as batch:
        batch.drop_column("left_at")
        batch.drop_column("last_seen_at")
