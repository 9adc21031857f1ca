"""Internal notes on a conversation: written and read by agents only, never sent to the user."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import List

from sqlalchemy import select

from agents.accounts import Agent
from agents.schema import agent_notes, engine
from core import store

MAX_NOTE_CHARS = 2000


@dataclass(frozen=True)
class Note:
    author: str  # display name when written
    agent: str  # user name
    text: str
    at: datetime  # service time zone


def add_note(conversation_id: str, agent: Agent, text: str, now: datetime) -> Note:
    """Stores the note; raises ValueError for an empty or too long one."""
    text = text.strip()
    if not text:
        raise ValueError("备注不能为空")
    if len(text) > MAX_NOTE_CHARS:
        raise ValueError(f"备注不能超过{MAX_NOTE_CHARS}字")
    with engine().begin() as connection:
        connection.execute(
            agent_notes.insert().values(
                conversation_id=conversation_id,
                agent=agent.username,
                author=agent.display_name,
                text=text,
                at=store.to_stored_time(now),
            )
        )
    return Note(agent.display_name, agent.username, text, now)


def notes_of(conversation_id: str) -> List[Note]:
    query = (
        select(agent_notes).where(agent_notes.c.conversation_id == conversation_id).order_by(agent_notes.c.id)
    )
    with engine().connect() as connection:
        rows = connection.execute(query).fetchall()
    return [Note(row.author, row.agent, row.text, store.to_service_time(row.at)) for row in rows]
