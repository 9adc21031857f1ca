"""Who has which conversation: taking one from the queue, handing it to a colleague, closing it.

The queue is `handoff_queue` in the service database (core/store.py). A conversation is an agent's
when its open entry is `taken` with the agent's user name; the claim is one conditional UPDATE, so two
agents (on one Rasa server or two) cannot both take it. Every step is logged in `agent_actions`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import List, Optional

from sqlalchemy import func, select

from agents import user_queue
from agents.accounts import Agent, find_agent, online_agents
from agents.schema import engine
from core import knowledge, store
from core.answers import green_channel

queue_table = store.handoff_queue


class AssignmentRefused(Exception):
    """The step is not allowed; `message` is shown to the agent as is."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


@dataclass(frozen=True)
class QueueItem:
    conversation_id: str
    topic: str
    topic_title: str
    description: str
    status: str  # waiting | taken
    agent: Optional[str]  # user name of the agent who has it
    agent_name: Optional[str]  # their display name
    enqueued_at: datetime  # service time zone
    waiting_seconds: int
    green_channel: Optional[str]  # the channel the article routes this case straight to


def _log(connection, conversation_id: str, agent: str, action: str, text: str, now: datetime) -> None:
    connection.execute(
        store.agent_actions.insert().values(
            conversation_id=conversation_id,
            agent=agent,
            action=action,
            text=text,
            at=store.to_stored_time(now),
        )
    )


def _open_chats(connection, username: str) -> int:
    query = select(func.count()).where(queue_table.c.status == "taken", queue_table.c.agent == username)
    return connection.execute(query).scalar_one()


def open_chats(username: str) -> int:
    with engine().connect() as connection:
        return _open_chats(connection, username)


def _open_entry(connection, conversation_id: str):
    query = (
        select(queue_table)
        .where(
            queue_table.c.conversation_id == conversation_id,
            queue_table.c.status.in_(store.OPEN_QUEUE_STATUSES),
        )
        .order_by(queue_table.c.id.desc())
    )
    return connection.execute(query).first()


def _display(username: Optional[str]) -> str:
    agent = find_agent(username) if username else None
    return agent.display_name if agent else (username or "")


def owner(conversation_id: str) -> Optional[str]:
    """The user name of the agent who has the conversation now, if any."""
    with engine().connect() as connection:
        entry = _open_entry(connection, conversation_id)
    return entry.agent if entry is not None and entry.status == "taken" else None


def take(conversation_id: str, agent: Agent, now: datetime) -> None:
    """Makes the waiting conversation the agent's, within their limit of open chats."""
    with engine().begin() as connection:
        entry = _open_entry(connection, conversation_id)
        if entry is None:
            raise AssignmentRefused(404, "该会话不在排队中")
        if entry.status == "taken":
            if entry.agent == agent.username:
                raise AssignmentRefused(409, "您已接入该会话")
            raise AssignmentRefused(409, f"该会话已由{_display(entry.agent)}接入")
        if _open_chats(connection, agent.username) >= agent.max_chats:
            raise AssignmentRefused(409, f"您已有{agent.max_chats}个进行中的会话（上限），请先结束一个")
        claimed = connection.execute(
            queue_table.update()
            .where(queue_table.c.id == entry.id, queue_table.c.status == "waiting")
            .values(status="taken", agent=agent.username)
        ).rowcount
        if claimed != 1:  # another agent's UPDATE came first
            raise AssignmentRefused(409, "该会话刚被其他客服接入")
        _log(connection, conversation_id, agent.username, "take", "", now)


def require_owner(conversation_id: str, agent: Agent) -> None:
    holder = owner(conversation_id)
    if holder is None:
        raise AssignmentRefused(409, "请先接入该会话")
    if holder != agent.username:
        raise AssignmentRefused(403, f"该会话由{_display(holder)}处理，您不能在其中回复")


def hand_over(conversation_id: str, agent: Agent, colleague_username: str, now: datetime) -> Agent:
    """Gives the agent's conversation to a colleague who is online and below their limit."""
    colleague = next((a for a in online_agents() if a.username == colleague_username), None)
    if colleague is None:
        raise AssignmentRefused(409, "对方不在线，无法转交")
    if colleague.username == agent.username:
        raise AssignmentRefused(400, "不能转交给自己")
    with engine().begin() as connection:
        entry = _open_entry(connection, conversation_id)
        if entry is None or entry.status != "taken" or entry.agent != agent.username:
            raise AssignmentRefused(403, "只能转交您自己接入的会话")
        if _open_chats(connection, colleague.username) >= colleague.max_chats:
            raise AssignmentRefused(409, f"{colleague.display_name}的进行中会话已达上限")
        connection.execute(
            queue_table.update()
            .where(queue_table.c.id == entry.id, queue_table.c.agent == agent.username)
            .values(agent=colleague.username)
        )
        _log(connection, conversation_id, agent.username, "transfer", colleague.username, now)
    return colleague


def record_reply(conversation_id: str, agent: Agent, text: str, now: datetime) -> None:
    with engine().begin() as connection:
        _log(connection, conversation_id, agent.username, "reply", text, now)


def close(conversation_id: str, agent: Agent, note: str, now: datetime) -> None:
    with engine().begin() as connection:
        entry = _open_entry(connection, conversation_id)
        if entry is None or entry.agent != agent.username:
            raise AssignmentRefused(403, "只能结束您自己接入的会话")
        connection.execute(queue_table.update().where(queue_table.c.id == entry.id).values(status="closed"))
        _log(connection, conversation_id, agent.username, "close", note, now)


def queue(now: datetime) -> List[QueueItem]:
    """Open conversations, the longest-waiting first; green-channel cases flagged."""
    items = []
    user_queue.abandon_idle(now)  # who stopped waiting leaves every console
    for entry in store.open_queue():
        items.append(
            QueueItem(
                conversation_id=entry.conversation_id,
                topic=entry.topic,
                topic_title=knowledge.topic_title(entry.topic),
                description=entry.description,
                status=entry.status,
                agent=entry.agent,
                agent_name=_display(entry.agent) if entry.agent else None,
                enqueued_at=entry.enqueued_at,
                waiting_seconds=max(0, int((now - entry.enqueued_at).total_seconds())),
                green_channel=green_channel(entry.topic, entry.description),
            )
        )
    return sorted(items, key=lambda item: item.enqueued_at)
