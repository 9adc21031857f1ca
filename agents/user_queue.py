"""The user's side of the human-agent queue: where they are, leaving it, and entries left idle.

An entry leaves the queue as `abandoned` when its user says they will not wait any longer, or when
they have written nothing for `CS_QUEUE_IDLE_MINUTES` (default 30) while it waited: then it is in no
console and no position count, and the consoles hear a `left` event. Positions count only the
entries still waiting ahead. The clock is the service's (core/clock.py), like the queue's times.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import List, Optional

from sqlalchemy import and_, func, or_, select

from agents import live
from core import store

logger = logging.getLogger(__name__)

IDLE_VARIABLE = "CS_QUEUE_IDLE_MINUTES"
DEFAULT_IDLE_MINUTES = 30
ABANDONED = "abandoned"
queue = store.handoff_queue


def idle_minutes() -> float:
    """The configured idle time after which a waiting entry is abandoned (0: never)."""
    value = os.environ.get(IDLE_VARIABLE, "").strip()
    try:
        return max(0.0, float(value)) if value else DEFAULT_IDLE_MINUTES
    except ValueError:
        return DEFAULT_IDLE_MINUTES


@dataclass(frozen=True)
class Place:
    """A conversation's open entry: waiting at `position`, or taken by `agent`."""

    status: str
    position: int
    agent: Optional[str]


def place(conversation_id: str, now: datetime) -> Optional[Place]:
    """Where the conversation is in the queue now (None: not in it), after idle entries have left."""
    abandon_idle(now)
    with store.engine().connect() as connection:
        entry = connection.execute(
            select(queue.c.id, queue.c.status, queue.c.agent)
            .where(queue.c.conversation_id == conversation_id, queue.c.status.in_(store.OPEN_QUEUE_STATUSES))
            .order_by(queue.c.id.desc())
        ).first()
        if entry is None:
            return None
        position = 0
        if entry.status == "waiting":
            position = connection.execute(
                select(func.count()).where(queue.c.status == "waiting", queue.c.id <= entry.id)
            ).scalar_one()
    return Place(entry.status, position, entry.agent)


def leave(conversation_id: str, now: datetime) -> bool:
    """The user leaves the queue: their waiting entry becomes abandoned. False when none was waiting
    (an agent already has the chat, or it was never queued)."""
    with store.engine().begin() as connection:
        left = connection.execute(
            queue.update()
            .where(queue.c.conversation_id == conversation_id, queue.c.status == "waiting")
            .values(status=ABANDONED, left_at=store.to_stored_time(now))
        ).rowcount
    if left:
        live.safe_publish(conversation_id, "left")
    return bool(left)


def touch(conversation_id: str, now: datetime) -> None:
    """The user wrote while queued: their entry is not idle."""
    with store.engine().begin() as connection:
        connection.execute(
            queue.update()
            .where(queue.c.conversation_id == conversation_id, queue.c.status == "waiting")
            .values(last_seen_at=store.to_stored_time(now))
        )


def safe_touch(conversation_id: str, now: datetime) -> None:
    """`touch` for the tracker store, whose save must not fail because the queue cannot be written."""
    try:
        touch(conversation_id, now)
    except store.StoreError:
        logger.exception("Could not mark %s as active in the queue", conversation_id)


def abandon_idle(now: datetime) -> List[str]:
    """Waiting entries whose user has been silent for the idle time leave the queue; returns their
    conversations."""
    minutes = idle_minutes()
    if not minutes:
        return []
    cutoff = store.to_stored_time(now - timedelta(minutes=minutes))
    silent = and_(
        queue.c.status == "waiting",
        or_(
            and_(queue.c.last_seen_at.is_(None), queue.c.enqueued_at < cutoff),
            queue.c.last_seen_at < cutoff,
        ),
    )
    with store.engine().begin() as connection:
        conversations = list(connection.execute(select(queue.c.conversation_id).where(silent)).scalars())
        if conversations:
            connection.execute(
                queue.update().where(silent).values(status=ABANDONED, left_at=store.to_stored_time(now))
            )
    for conversation_id in conversations:
        live.safe_publish(conversation_id, "left")
    return conversations
