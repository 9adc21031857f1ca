"""The review's table in the service database: one row per message text a supervisor claimed or decided.

Kept in its own MetaData, like agents/schema.py; its revision is migrations/versions/0004_review_labels.py.
A text is decided once: `text_key` (the sha256 of the scrubbed text, compared without spaces, punctuation
or case) is unique, so two supervisors can never both label it, and the same question asked by many
users is labelled once (review/labels.py).
"""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Float, Integer, MetaData, String, Table, Text

metadata = MetaData()

review_labels = Table(
    "review_labels",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("text_key", String(64), nullable=False, unique=True),
    Column("text", Text, nullable=False),  # scrubbed (review/scrub.py): what training data gets
    Column("event_id", Integer, nullable=False),  # the miss's user message in the tracker store's events
    Column("conversation_id", String(255), nullable=False),
    Column("reason", String(16), nullable=False),  # review/misses.py REASONS
    Column("message_at", DateTime, nullable=False),  # when the user said it (naive UTC)
    Column("bot_intent", String(64)),  # what the bot read: intent, confidence, aspect
    Column("bot_confidence", Float),
    Column("bot_aspect", String(16)),
    Column("status", String(16), nullable=False),  # claimed | decided
    Column("decision", String(16)),  # accept | correct | out_of_scope | skip (once decided)
    Column("intent", String(64)),  # the label (none for skip)
    Column("aspect", String(16)),  # for a topic or a follow-up; none for other intents
    Column("claimed_by", String(32), nullable=False),  # username
    Column("claimed_at", DateTime, nullable=False),  # naive UTC; a claim runs out (CLAIM_MINUTES)
    Column("decided_by", String(32)),
    Column("decided_at", DateTime),
)
