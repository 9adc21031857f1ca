"""The review loop's labels: one row per message text a supervisor claimed or decided (review/schema.py).

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-07
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "review_labels",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("text_key", sa.String(64), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("event_id", sa.Integer, nullable=False),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("reason", sa.String(16), nullable=False),
        sa.Column("message_at", sa.DateTime, nullable=False),
        sa.Column("bot_intent", sa.String(64)),
        sa.Column("bot_confidence", sa.Float),
        sa.Column("bot_aspect", sa.String(16)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decision", sa.String(16)),
        sa.Column("intent", sa.String(64)),
        sa.Column("aspect", sa.String(16)),
        sa.Column("claimed_by", sa.String(32), nullable=False),
        sa.Column("claimed_at", sa.DateTime, nullable=False),
        sa.Column("decided_by", sa.String(32)),
        sa.Column("decided_at", sa.DateTime),
        sa.UniqueConstraint("text_key"),
    )


def downgrade() -> None:
    op.drop_table("review_labels")
