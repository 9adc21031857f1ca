"""Per-agent figures of the report, read from the service database: the queue and what the agents did
(core/store.py: `handoff_queue`, `agent_actions`) and the agents' own tables (agents/schema.py:
`agents` for the display names, `agent_ratings` for the users' ratings of the human service).

A *chat* is one entry of `handoff_queue`: a conversation queued for a human. A conversation queued
again after a close is a new chat; an action belongs to the conversation's latest entry queued at or
before it. Per agent (user name; shown by display name, or the user name when the `agents` row is
missing, as in data older than that table):

- **chats taken**: chats the agent took from the queue (`take`). A chat handed over to them by a
  colleague (`transfer`) logs no new take, so it is not counted here.
- **chats closed**: chats the agent closed (`close`).
- **first response time**: from the chat entering the queue (`enqueued_at`) to the first agent reply
  in it. It counts for the agent who wrote that reply — with a hand-over, whoever replied first.
- **handling time**: from the chat's first take to its close. It counts for the agent who closed it —
  with a hand-over, the colleague, for the whole time from the first agent's take (as agents/staffing.py
  measures how long a chat holds a slot).
- **CSAT**: the mean of the 1-5 scores the users gave the agent (`agent_ratings`), and how many.

Times are in seconds, medians and 90th percentiles by linear interpolation between the sorted values
(numpy's default). A figure with nothing to measure is None, never NaN.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Dict, List, Optional, Sequence, Tuple

from sqlalchemy import create_engine, inspect, select
from sqlalchemy.engine import Engine

from agents import schema
from core import store


def percentile(values: Sequence[float], fraction: float) -> Optional[float]:
    """The `fraction` quantile (0.5: the median) by linear interpolation; None without values."""
    if not values:
        return None
    ordered = sorted(values)
    rank = fraction * (len(ordered) - 1)
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)


@dataclass
class Chat:
    conversation_id: str
    enqueued_at: datetime  # naive UTC, like every stored time
    status: str = ""  # the queue entry's: waiting | taken | closed (when the rows read carry it)
    first_take: Optional[datetime] = None
    first_taker: Optional[str] = None
    first_reply: Optional[datetime] = None
    first_replier: Optional[str] = None
    closed_at: Optional[datetime] = None
    closer: Optional[str] = None


def _engine(service_url: str) -> Engine:
    """The bot's configured database (CS_DATABASE_URL) through agents.schema.engine(), which creates the
    agents' tables; another one (--service-db) is only read: a table it lacks reads as empty."""
    return schema.engine() if service_url == store.database_url() else create_engine(service_url)


def _rows(connection, engine: Engine, query, table) -> List[Any]:
    if not inspect(engine).has_table(table.name):
        return []
    return connection.execute(query).fetchall()


def chat_rows(connection, engine: Engine) -> Tuple[List[Any], List[Any], Dict[str, str]]:
    """The queue's entries, the agents' actions and the agents' display names, as the figures read them."""
    queue, actions, agents = store.handoff_queue, store.agent_actions, schema.agents
    queue_rows = _rows(
        connection,
        engine,
        select(queue.c.id, queue.c.conversation_id, queue.c.enqueued_at, queue.c.status),
        queue,
    )
    action_rows = _rows(
        connection,
        engine,
        select(actions.c.id, actions.c.conversation_id, actions.c.agent, actions.c.action, actions.c.at),
        actions,
    )
    names = dict(_rows(connection, engine, select(agents.c.username, agents.c.display_name), agents))
    return queue_rows, action_rows, names


def read_chats(
    queue_rows: List[Any], action_rows: List[Any]
) -> Tuple[List[Chat], Dict[str, int], Dict[str, int]]:
    """The chats, and per agent the number of takes and closes, from rows ordered by time."""
    entries: Dict[str, List[Chat]] = defaultdict(list)
    for row in sorted(queue_rows, key=lambda r: (r.enqueued_at, r.id)):
        entries[row.conversation_id].append(
            Chat(row.conversation_id, row.enqueued_at, getattr(row, "status", ""))
        )
    taken: Dict[str, int] = defaultdict(int)
    closed: Dict[str, int] = defaultdict(int)
    for row in sorted(action_rows, key=lambda r: (r.at, r.id)):
        if row.action == "take":
            taken[row.agent] += 1
        elif row.action == "close":
            closed[row.agent] += 1
        chat = next(
            (c for c in reversed(entries.get(row.conversation_id, [])) if c.enqueued_at <= row.at), None
        )
        if chat is None:  # an action with no queue entry before it (a hand-edited database): no times
            continue
        if row.action == "take" and chat.first_take is None:
            chat.first_take, chat.first_taker = row.at, row.agent
        elif row.action == "reply" and chat.first_reply is None:
            chat.first_reply, chat.first_replier = row.at, row.agent
        elif row.action == "close" and chat.closed_at is None:
            chat.closed_at, chat.closer = row.at, row.agent
    return [chat for chats in entries.values() for chat in chats], taken, closed


def _seconds(start: datetime, end: datetime) -> float:
    return (end - start).total_seconds()


def agent_figures(service_url: str) -> List[Dict[str, Any]]:
    """One dict per agent who took, replied, handed over, closed or was rated, by user name."""
    engine = _engine(service_url)
    with engine.connect() as connection:
        queue_rows, action_rows, names = chat_rows(connection, engine)
        rating_rows = _rows(
            connection,
            engine,
            select(schema.agent_ratings.c.agent, schema.agent_ratings.c.score),
            schema.agent_ratings,
        )
    chats, taken, closed = read_chats(queue_rows, action_rows)
    first_responses: Dict[str, List[float]] = defaultdict(list)
    handling: Dict[str, List[float]] = defaultdict(list)
    for chat in chats:
        if chat.first_reply is not None:
            first_responses[chat.first_replier].append(_seconds(chat.enqueued_at, chat.first_reply))
        if chat.closed_at is not None and chat.first_take is not None:
            handling[chat.closer].append(_seconds(chat.first_take, chat.closed_at))
    scores: Dict[str, List[int]] = defaultdict(list)
    for row in rating_rows:
        scores[row.agent].append(row.score)

    def rounded(value: Optional[float], digits: int = 1) -> Optional[float]:
        return None if value is None else round(value, digits)

    usernames = sorted({row.agent for row in action_rows} | set(scores))
    return [
        {
            "username": username,
            "name": names.get(username) or username,
            "chats_taken": taken.get(username, 0),
            "chats_closed": closed.get(username, 0),
            "csat": rounded(sum(scores[username]) / len(scores[username]), 2) if scores[username] else None,
            "ratings": len(scores[username]),
            "first_responses": len(first_responses[username]),
            "first_response_median_s": rounded(percentile(first_responses[username], 0.5)),
            "first_response_p90_s": rounded(percentile(first_responses[username], 0.9)),
            "handled": len(handling[username]),
            "handling_median_s": rounded(percentile(handling[username], 0.5)),
            "handling_p90_s": rounded(percentile(handling[username], 0.9)),
        }
        for username in usernames
    ]
