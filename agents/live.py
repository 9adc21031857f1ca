"""What the agent consoles must hear about, as rows of `console_events` that every console's stream tails.

Producers write a row (the action server when it queues a conversation, the tracker store when a user
writes in a conversation an agent holds, the console API on take/hand-over/close/note, agents/accounts.py
when an agent's sessions end: log-out, disabled, new password); each Rasa
server's event stream (channels/agent_console.py) reads the rows after the last one it sent. The table
is in the shared service database, so an agent connected to one Rasa server hears about a widget
connected to another. Rows written in this process also wake the streams at once; rows from other
processes are picked up within `POLL_SECONDS`, a query on the server, not a request from the browser.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import List, Optional, Set

from sqlalchemy import delete, func, select
from sqlalchemy.engine import Connection

from agents.schema import console_events, engine

logger = logging.getLogger(__name__)

POLL_SECONDS = 1.0
KEEP_DAYS = 2  # rows older than this are deleted now and then: a console only needs the last minutes
# An agent's sessions ended (`agent` is who; no conversation): their streams check and close.
SESSION_ENDED = "session_ended"

_wakers: Set[asyncio.Event] = set()


@dataclass(frozen=True)
class ConsoleEvent:
    id: int
    conversation_id: str
    kind: str  # queued | message | taken | transferred | closed | note | evidence | session_ended
    agent: Optional[str]


def record(connection: Connection, conversation_id: str, kind: str, agent: Optional[str] = None) -> int:
    """Writes the event in the caller's transaction (it is seen when that commits); returns its id.
    The caller then calls `wake_streams()`."""
    now = datetime.now(timezone.utc).replace(tzinfo=None)
    event_id = connection.execute(
        console_events.insert().values(conversation_id=conversation_id, kind=kind, agent=agent, at=now)
    ).inserted_primary_key[0]
    if event_id % 1000 == 0:
        connection.execute(delete(console_events).where(console_events.c.at < now - timedelta(KEEP_DAYS)))
    return event_id


def publish(conversation_id: str, kind: str, agent: Optional[str] = None) -> int:
    """Records the event for every console and wakes this process's streams; returns its id."""
    with engine().begin() as connection:
        event_id = record(connection, conversation_id, kind, agent)
    wake_streams()
    return event_id


def safe_publish(conversation_id: str, kind: str, agent: Optional[str] = None) -> None:
    """`publish` for callers whose own work must not fail because the consoles cannot be told."""
    try:
        publish(conversation_id, kind, agent)
    except Exception:  # noqa: BLE001 - a missed notice only delays a console until its next refresh
        logger.exception("Could not tell the agent consoles about %s (%s)", conversation_id, kind)


def latest_id() -> int:
    with engine().connect() as connection:
        return connection.execute(select(func.max(console_events.c.id))).scalar() or 0


def events_after(last_id: int, limit: int = 200) -> List[ConsoleEvent]:
    query = (
        select(console_events).where(console_events.c.id > last_id).order_by(console_events.c.id).limit(limit)
    )
    with engine().connect() as connection:
        rows = connection.execute(query).fetchall()
    return [ConsoleEvent(row.id, row.conversation_id, row.kind, row.agent) for row in rows]


async def wait_for_news(timeout: float = POLL_SECONDS) -> None:
    """Returns when this process published something, or after `timeout` (others may have)."""
    waker = asyncio.Event()
    _wakers.add(waker)
    try:
        await asyncio.wait_for(waker.wait(), timeout)
    except asyncio.TimeoutError:
        pass
    finally:
        _wakers.discard(waker)


def wake_streams() -> None:
    """Wakes this process's streams at once (other processes' read the table within POLL_SECONDS)."""
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return  # not in an event loop (the action server's thread, a script): nobody to wake here
    for waker in list(_wakers):
        waker.set()
