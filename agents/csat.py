"""The user's rating of a human agent (CSAT), asked when the agent closes the chat.

The console sets the slot `rated_agent` (the agent's user name) with `rating_requested` and says
utter_ask_agent_rating; action_save_rating (actions/resolution.py) then stores the score here, in
`agent_ratings`, instead of the bot's own `ratings`.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import List, Tuple

from sqlalchemy import select

from agents.schema import agent_ratings, engine


def save_agent_rating(conversation_id: str, agent: str, topic: str, score: int, now: datetime) -> None:
    """Stores a 1-5 score for the agent (user name) who handled the conversation."""
    if not 1 <= score <= 5:
        raise ValueError(f"a rating is 1-5, not {score}")
    with engine().begin() as connection:
        connection.execute(
            agent_ratings.insert().values(
                conversation_id=conversation_id,
                agent=agent,
                topic=topic,
                score=score,
                created_at=now.astimezone(timezone.utc).replace(tzinfo=None),
            )
        )


def agent_scores(agent: str) -> List[Tuple[str, str, int]]:
    """(conversation, topic, score) of every rating the agent received, oldest first."""
    query = (
        select(agent_ratings.c.conversation_id, agent_ratings.c.topic, agent_ratings.c.score)
        .where(agent_ratings.c.agent == agent)
        .order_by(agent_ratings.c.id)
    )
    with engine().connect() as connection:
        return [tuple(row) for row in connection.execute(query)]
