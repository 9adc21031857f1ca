"""Who may read which conversation in the agent console (least privilege), and who sees it unmasked.

An agent reads the conversations waiting in the human queue (to decide whether to take one), the one
assigned to them, and those they handled before (took, answered, handed over, were handed, closed); a
supervisor (agents/roles.py) reads any. The personal data users typed is shown only to the agent the
conversation is assigned to (agents/masking.py masks it for everyone else, supervisors included).
Conversation ids are any text a client chose, so a guessed id gives nothing more than a 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Optional

from sqlalchemy import and_, or_, select

from agents.accounts import Agent
from agents.roles import is_supervisor
from agents.schema import engine
from core import store


@dataclass(frozen=True)
class Reading:
    allowed: bool
    unmasked: bool  # the personal data shown: the conversation is assigned to this agent
    holder: Optional[str]  # user name of the agent it is assigned to now, if any
    waiting: bool  # in the human queue, not taken yet


class ReadRefused(Exception):
    """The agent may not read the conversation (HTTP 403); `message` is shown to them as is."""

    status = 403
    message = "您无权查看该会话：它不在排队中，也不是您接入或处理过的会话"

    def __init__(self) -> None:
        super().__init__(self.message)


def reading(agent: Agent, conversation_id: str) -> Reading:
    """Whether the agent may read the conversation now, and how. Two indexed queries at most."""
    queue = store.handoff_queue
    actions = store.agent_actions
    with engine().connect() as connection:
        entry = connection.execute(
            select(queue.c.status, queue.c.agent)
            .where(queue.c.conversation_id == conversation_id, queue.c.status.in_(store.OPEN_QUEUE_STATUSES))
            .order_by(queue.c.id.desc())
            .limit(1)
        ).first()
        waiting = entry is not None and entry.status == "waiting"
        holder = entry.agent if entry is not None and entry.status == "taken" else None
        mine = holder == agent.username
        allowed = waiting or mine or is_supervisor(agent)
        if not allowed:
            handled = connection.execute(
                select(actions.c.id)
                .where(
                    actions.c.conversation_id == conversation_id,
                    or_(
                        actions.c.agent == agent.username,
                        and_(actions.c.action == "transfer", actions.c.text == agent.username),
                    ),
                )
                .limit(1)
            ).first()
            allowed = handled is not None
    return Reading(allowed=allowed, unmasked=mine, holder=holder, waiting=waiting)


def require_read(agent: Agent, conversation_id: str) -> Reading:
    """`reading`, raising ReadRefused when it is not allowed."""
    found = reading(agent, conversation_id)
    if not found.allowed:
        raise ReadRefused()
    return found
