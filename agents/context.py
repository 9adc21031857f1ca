"""The context panel beside a transcript: what the case is, what the bot already said, the tickets,
the ratings and the language, so an agent does not make the user repeat themselves."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from sqlalchemy import func, select

from agents.schema import agent_ratings, engine
from core import knowledge, store

# The actions whose messages are the bot's answer to the case (actions/smart_answer.py).
ANSWER_ACTIONS = {"action_answer_topic", "action_answer_follow_up", "action_more_channels"}


def _first_words(events: List[Any]) -> Optional[str]:
    """The first thing the user typed (not a button's or the widget's "/intent" payload)."""
    typed = (event.text for event in events if event.type_name == "user" and event.text)
    return next((text for text in typed if not text.startswith("/")), None)


def _unhelpful_answer(events: List[Any]) -> List[str]:
    """The messages of the bot's last answer (while an agent has the conversation the bot answers
    nothing, so the last answer is the one given before the user asked for a person)."""
    answer: List[str] = []
    in_answer = False
    for event in events:
        if event.type_name == "action":
            in_answer = event.action_name in ANSWER_ACTIONS
            if in_answer:
                answer = []
        elif event.type_name == "bot" and in_answer and event.text:
            answer.append(event.text)
    return answer


def _tickets(conversation_id: str) -> List[Dict[str, Any]]:
    evidence_count = (
        select(func.count())
        .where(store.evidence.c.ticket_number == store.tickets.c.number)
        .scalar_subquery()
        .label("evidence")
    )
    query = (
        select(store.tickets, evidence_count)
        .where(store.tickets.c.conversation_id == conversation_id, store.tickets.c.status != store.DRAFT)
        .order_by(store.tickets.c.id)
    )
    with engine().connect() as connection:
        rows = connection.execute(query).fetchall()
    return [
        {
            "number": row.number,
            "status": row.status,
            "topic_title": knowledge.topic_title(row.topic),
            "description": row.description,
            "evidence": row.evidence,
            "created_at": store.to_service_time(row.created_at).isoformat(),
        }
        for row in rows
    ]


def _ratings(conversation_id: str) -> List[Dict[str, Any]]:
    bot = select(store.ratings).where(store.ratings.c.conversation_id == conversation_id)
    human = select(agent_ratings).where(agent_ratings.c.conversation_id == conversation_id)
    with engine().connect() as connection:
        rows = [("bot", row) for row in connection.execute(bot)]
        rows += [("agent", row) for row in connection.execute(human)]
    rows.sort(key=lambda pair: pair[1].created_at)
    return [
        {
            "of": kind,
            "agent": getattr(row, "agent", None),
            "score": row.score,
            "topic_title": knowledge.topic_title(row.topic),
            "at": store.to_service_time(row.created_at).isoformat(),
        }
        for kind, row in rows
    ]


def conversation_context(tracker: Any) -> Dict[str, Any]:
    """The panel's content for a conversation, from its tracker and the service database."""
    events = list(tracker.events)
    topic = store.queue_topic(tracker.sender_id) or tracker.get_slot("topic")
    return {
        "topic": topic,
        "topic_title": knowledge.topic_title(topic) if topic else None,
        "language": tracker.get_slot("language") or "zh",
        "first_words": _first_words(events),
        "problem": tracker.get_slot("problem_text"),
        "unhelpful_answer": _unhelpful_answer(events),
        "tickets": _tickets(tracker.sender_id),
        "ratings": _ratings(tracker.sender_id),
    }
