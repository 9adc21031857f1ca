"""Roles on the agents' accounts (agent, supervisor) and the record of who read which transcript.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("agents") as batch:
        batch.add_column(sa.Column("role", sa.String(16), nullable=False, server_default="agent"))
    op.create_table(
        "transcript_reads",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("agent", sa.String(32), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("granted", sa.Boolean, nullable=False),
        sa.Column("unmasked", sa.Boolean, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_transcript_reads_conversation_id", "transcript_reads", ["conversation_id"])
    op.create_index("ix_transcript_reads_agent", "transcript_reads", ["agent"])


def downgrade() -> None:
    op.drop_index("ix_transcript_reads_agent", "transcript_reads")
    op.drop_index("ix_transcript_reads_conversation_id", "transcript_reads")
    op.drop_table("transcript_reads")
    with op.batch_alter_table("agents") as batch:
        batch.drop_column("role")
