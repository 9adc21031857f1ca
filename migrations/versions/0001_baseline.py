"""Baseline: the service database's eleven tables as they were before migrations existed.

The tickets, the queue, agent actions, ratings and evidence (core/store.py) and the agents' accounts,
sessions, log-in failures, notes, console events and ratings (agents/schema.py). A database made
before migrations (every table made on first use) has some or all of them: those are kept as they are
(with their rows) and only the missing ones are created. Written out here rather than taken from the
code's tables, which later revisions change.

Revision ID: 0001
Revises:
Create Date: 2026-12-06
"""

from __future__ import annotations

from typing import Callable, Dict, List

import sqlalchemy as sa
from alembic import context, op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def _tickets() -> None:
    op.create_table(
        "tickets",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("number", sa.String(32)),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("contact_channel", sa.String(16), nullable=False),
        sa.Column("contact_detail", sa.String(255), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_tickets_conversation_id", "tickets", ["conversation_id"])
    op.create_index("ix_tickets_number", "tickets", ["number"], unique=True)


def _handoff_queue() -> None:
    op.create_table(
        "handoff_queue",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("description", sa.Text, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("enqueued_at", sa.DateTime, nullable=False),
        sa.Column("agent", sa.String(64)),
    )
    op.create_index("ix_handoff_queue_conversation_id", "handoff_queue", ["conversation_id"])


def _agent_actions() -> None:
    op.create_table(
        "agent_actions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("agent", sa.String(64), nullable=False),
        sa.Column("action", sa.String(16), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_agent_actions_conversation_id", "agent_actions", ["conversation_id"])


def _ratings() -> None:
    op.create_table(
        "ratings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_ratings_conversation_id", "ratings", ["conversation_id"])


def _evidence() -> None:
    op.create_table(
        "evidence",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("ticket_number", sa.String(32), nullable=False),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("content_type", sa.String(32), nullable=False),
        sa.Column("file_name", sa.String(96), nullable=False),
        sa.Column("thumbnail", sa.String(96)),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("sha256", sa.String(64), nullable=False),
        sa.Column("upload_size", sa.Integer, nullable=False),
        sa.Column("upload_sha256", sa.String(64), nullable=False),
        sa.Column("original_name", sa.String(255), nullable=False),
        sa.Column("note", sa.Text, nullable=False),
        sa.Column("uploader", sa.String(64), nullable=False),
        sa.Column("width", sa.Integer),
        sa.Column("height", sa.Integer),
        sa.Column("duration", sa.Float),
        sa.Column("preview", sa.String(16), nullable=False),
        sa.Column("notified", sa.Boolean, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.UniqueConstraint("ticket_number", "sha256", name="evidence_ticket_sha256"),
    )
    op.create_index("ix_evidence_ticket_number", "evidence", ["ticket_number"])
    op.create_index("ix_evidence_conversation_id", "evidence", ["conversation_id"])


def _agents() -> None:
    op.create_table(
        "agents",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("username", sa.String(32), nullable=False),
        sa.Column("display_name", sa.String(32), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("active", sa.Boolean, nullable=False),
        sa.Column("max_chats", sa.Integer),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_agents_username", "agents", ["username"], unique=True)


def _agent_sessions() -> None:
    op.create_table(
        "agent_sessions",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("token_hash", sa.String(64), nullable=False),
        sa.Column("agent_id", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
        sa.Column("expires_at", sa.DateTime, nullable=False),
        sa.Column("last_seen", sa.DateTime, nullable=False),
        sa.Column("revoked", sa.Boolean, nullable=False),
    )
    op.create_index("ix_agent_sessions_agent_id", "agent_sessions", ["agent_id"])
    op.create_index("ix_agent_sessions_token_hash", "agent_sessions", ["token_hash"], unique=True)


def _login_failures() -> None:
    op.create_table(
        "login_failures",
        sa.Column("username", sa.String(32), primary_key=True),
        sa.Column("failures", sa.Integer, nullable=False),
        sa.Column("locked_until", sa.DateTime),
        sa.Column("last_failure", sa.DateTime),
    )


def _agent_notes() -> None:
    op.create_table(
        "agent_notes",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("agent", sa.String(32), nullable=False),
        sa.Column("author", sa.String(32), nullable=False),
        sa.Column("text", sa.Text, nullable=False),
        sa.Column("at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_agent_notes_conversation_id", "agent_notes", ["conversation_id"])


def _console_events() -> None:
    op.create_table(
        "console_events",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("agent", sa.String(32)),
        sa.Column("at", sa.DateTime, nullable=False),
    )


def _agent_ratings() -> None:
    op.create_table(
        "agent_ratings",
        sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
        sa.Column("conversation_id", sa.String(255), nullable=False),
        sa.Column("agent", sa.String(32), nullable=False),
        sa.Column("topic", sa.String(64), nullable=False),
        sa.Column("score", sa.Integer, nullable=False),
        sa.Column("created_at", sa.DateTime, nullable=False),
    )
    op.create_index("ix_agent_ratings_conversation_id", "agent_ratings", ["conversation_id"])
    op.create_index("ix_agent_ratings_agent", "agent_ratings", ["agent"])


TABLES: Dict[str, Callable[[], None]] = {
    "tickets": _tickets,
    "handoff_queue": _handoff_queue,
    "agent_actions": _agent_actions,
    "ratings": _ratings,
    "evidence": _evidence,
    "agents": _agents,
    "agent_sessions": _agent_sessions,
    "login_failures": _login_failures,
    "agent_notes": _agent_notes,
    "console_events": _console_events,
    "agent_ratings": _agent_ratings,
}

# The columns each table had when it was made on first use; an older table (from before one of them
# was added) is refused with its missing columns named rather than half-upgraded.
COLUMNS: Dict[str, List[str]] = {
    "tickets": ["id", "number", "conversation_id", "topic", "description", "contact_channel",
                "contact_detail", "status", "created_at"],
    "handoff_queue": ["id", "conversation_id", "topic", "description", "status", "enqueued_at", "agent"],
    "agent_actions": ["id", "conversation_id", "agent", "action", "text", "at"],
    "ratings": ["id", "conversation_id", "topic", "score", "created_at"],
    "evidence": ["id", "ticket_number", "conversation_id", "kind", "content_type", "file_name",
                 "thumbnail", "size", "sha256", "upload_size", "upload_sha256", "original_name", "note",
                 "uploader", "width", "height", "duration", "preview", "notified", "created_at"],
    "agents": ["id", "username", "display_name", "password_hash", "active", "max_chats", "created_at"],
    "agent_sessions": ["id", "token_hash", "agent_id", "created_at", "expires_at", "last_seen", "revoked"],
    "login_failures": ["username", "failures", "locked_until", "last_failure"],
    "agent_notes": ["id", "conversation_id", "agent", "author", "text", "at"],
    "console_events": ["id", "conversation_id", "kind", "agent", "at"],
    "agent_ratings": ["id", "conversation_id", "agent", "topic", "score", "created_at"],
}  # fmt: skip


def upgrade() -> None:
    if context.is_offline_mode():  # statements for an empty database
        existing = set()
    else:
        inspector = sa.inspect(op.get_bind())
        existing = set(inspector.get_table_names())
        for name in sorted(existing & set(TABLES)):
            present = {column["name"] for column in inspector.get_columns(name)}
            missing = [column for column in COLUMNS[name] if column not in present]
            if missing:
                raise RuntimeError(
                    f"Table {name} lacks the columns {', '.join(missing)}: it was made by a version of "
                    "the project older than its first migration. Back up the database (make backup), "
                    "add the columns by hand or move the table aside, and migrate again."
                )
    for name, create in TABLES.items():
        if name not in existing:
            create()


def downgrade() -> None:
    for name in reversed(list(TABLES)):
        op.drop_table(name)
