"""The record of every time a person opened a conversation's transcript in the agent console, or was
refused it: who, in which role, when, which conversation, whether unmasked (`transcript_reads`,
agents/schema.py). Supervisors read it through the console (channels/agent_console.py, /audit/reads).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import List, Optional

from sqlalchemy import select

from agents.accounts import Agent
from agents.schema import engine, transcript_reads
from core import store

MAX_LISTED = 500


@dataclass(frozen=True)
class Read:
    conversation_id: str
    agent: str  # user name
    role: str
    granted: bool
    unmasked: bool
    at: datetime  # service time zone


def record_read(conversation_id: str, agent: Agent, granted: bool, unmasked: bool, now: datetime) -> None:
    with engine().begin() as connection:
        connection.execute(
            transcript_reads.insert().values(
                conversation_id=conversation_id,
                agent=agent.username,
                role=agent.role,
                granted=granted,
                unmasked=unmasked,
                at=store.to_stored_time(now),
            )
        )


def reads(limit: int = 100, conversation_id: Optional[str] = None, agent: Optional[str] = None) -> List[Read]:
    """The latest reads first, of one conversation or one agent if given."""
    query = (
        select(transcript_reads).order_by(transcript_reads.c.id.desc()).limit(max(1, min(limit, MAX_LISTED)))
    )
    if conversation_id is not None:
        query = query.where(transcript_reads.c.conversation_id == conversation_id)
    if agent is not None:
        query = query.where(transcript_reads.c.agent == agent)
    with engine().connect() as connection:
        rows = connection.execute(query).fetchall()
    return [
        Read(
            conversation_id=row.conversation_id,
            agent=row.agent,
            role=row.role,
            granted=bool(row.granted),
            unmasked=bool(row.unmasked),
            at=store.to_service_time(row.at),
        )
        for row in rows
    ]
