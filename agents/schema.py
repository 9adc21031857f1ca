"""The agents' tables, in the service database beside the tickets and the queue (core/store.py).

Kept in their own MetaData so the bot's actions need not know them; the database is CS_DATABASE_URL's
(SQLite by default), its tables made and changed by migrations/' revisions, like the store's: a change
to a table here is a new revision there.
"""

from __future__ import annotations

from sqlalchemy import Boolean, Column, DateTime, Integer, MetaData, String, Table, Text
from sqlalchemy.engine import Engine

from core import store

metadata = MetaData()

# An agent is online while active with a session that is neither revoked nor expired and was seen (the
# console's live stream touches it every ~20 s) within this many seconds.
ONLINE_SECONDS = 90

# One row per person; disabled agents keep their row so their past actions and ratings still name them.
agents = Table(
    "agents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("username", String(32), nullable=False, unique=True, index=True),
    Column("display_name", String(32), nullable=False),  # what the user sees: "人工客服{display_name}"
    Column("password_hash", String(255), nullable=False),  # argon2id, never the password
    Column("active", Boolean, nullable=False, default=True),
    Column("max_chats", Integer),  # open chats at once; none: CS_AGENT_MAX_CHATS (default 3)
    Column("created_at", DateTime, nullable=False),  # naive UTC
    # agent | supervisor (agents/access.py); migrations/versions/0003_agent_roles.py added it.
    Column("role", String(16), nullable=False, default="agent", server_default="agent"),
)

# A log-in: the bearer token's sha256 (the token itself is only ever in the agent's browser).
agent_sessions = Table(
    "agent_sessions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("token_hash", String(64), nullable=False, unique=True, index=True),
    Column("agent_id", Integer, nullable=False, index=True),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
    Column("last_seen", DateTime, nullable=False),  # the console's live stream touches it: "online"
    Column("revoked", Boolean, nullable=False, default=False),  # logged out
)

# Log-in attempts per user name since its last success, counted before the password is checked
# (agents/accounts.py): the one that reaches the limit locks the name until `locked_until`.
login_failures = Table(
    "login_failures",
    metadata,
    Column("username", String(32), primary_key=True),
    Column("failures", Integer, nullable=False, default=0),  # attempts, the checks in progress included
    Column("locked_until", DateTime),
    Column("last_failure", DateTime),  # the last attempt
)

# Internal notes: agents only, never sent to the user.
agent_notes = Table(
    "agent_notes",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(255), nullable=False, index=True),
    Column("agent", String(32), nullable=False),  # username
    Column("author", String(32), nullable=False),  # display name at the time
    Column("text", Text, nullable=False),
    Column("at", DateTime, nullable=False),
)

# What the consoles must hear about, in order: a conversation queued, a user message while an agent
# has it, taken, handed over, closed, a note. Every Rasa server sharing the database tails this table.
console_events = Table(
    "console_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(255), nullable=False),
    # queued | message | taken | transferred | closed | note | evidence | session_ended (no conversation)
    Column("kind", String(16), nullable=False),
    Column("agent", String(32)),  # the agent concerned (username), if any
    Column("at", DateTime, nullable=False),
)

# Every time a person opened a conversation's transcript in the console, or was refused it
# (agents/audit.py): supervisors can see who read what.
transcript_reads = Table(
    "transcript_reads",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(255), nullable=False, index=True),
    Column("agent", String(32), nullable=False, index=True),  # username
    Column("role", String(16), nullable=False),  # their role then
    Column("granted", Boolean, nullable=False),  # False: refused (403)
    Column("unmasked", Boolean, nullable=False),  # shown with the personal data (the owner)
    Column("at", DateTime, nullable=False),  # naive UTC
)

# The user's rating of the human service, asked when the agent closes the chat.
agent_ratings = Table(
    "agent_ratings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("conversation_id", String(255), nullable=False, index=True),
    Column("agent", String(32), nullable=False, index=True),  # username
    Column("topic", String(64), nullable=False),
    Column("score", Integer, nullable=False),
    Column("created_at", DateTime, nullable=False),
)


def engine() -> Engine:
    """The service database's engine (its first use brings every table to the newest revision)."""
    return store.engine()
