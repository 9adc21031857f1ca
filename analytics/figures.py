"""Counts the report shows, read straight from the stores: Rasa's tracker store (table `events`) and the
service tables of core/store.py (tickets, handoff_queue, agent_actions, ratings), the per-agent
figures of analytics/agents.py (CSAT, first response and handling times), the queue's service levels
(analytics/service_levels.py: waits before an agent answered, share within a target, abandonment),
the bot's misses per day and reason and how many a supervisor reviewed (analytics/review.py),
plus, for a simulated day, what became of each simulated user's need (goals.json, written by
scripts/simulate.py beside the SQLite stores).

Containment: with goals.json, the users whose need the bot met (every expected string in its reply)
and whose conversation the tracker store shows never transferred to a human or a ticket, over the
users who asked a question (basis "goals"). Without it (a real bot's stores: no one knows what the
users needed), the conversations that had a smart answer and no transfer, over those answered
(basis "stores").
"""

from __future__ import annotations

import json
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, Dict, List, Optional, Union

from sqlalchemy import MetaData, Table, create_engine, select
from sqlalchemy.engine import make_url

from analytics.agents import agent_figures
from analytics.review import review_figures
from analytics.service_levels import DEFAULT_ABANDON_AFTER_SECONDS, DEFAULT_TARGET_SECONDS, service_levels
from core import knowledge, store
from core.clock import SERVICE_TIMEZONE, parse_iso_datetime

LOW_CONFIDENCE = 0.5
TRANSFER_ACTIONS = {"action_transfer_human", "ticket_form"}
ARTICLE_CONTAINMENT = 0.85  # "对85%的常见问题实现即时解答"
GOALS_FILE = "goals.json"
GOAL_OUTCOMES = ("bot_first_try", "bot_rephrase", "human", "ticket", "not_met")


@dataclass
class Conversation:
    sender_id: str
    started: Optional[datetime] = None
    topic: Optional[str] = None
    answered: bool = False
    transferred: bool = False
    in_form: bool = False  # answers to a form's questions (contacts …) are not NLU material
    low_confidence: List[str] = field(default_factory=list)


def _event_time(data: Dict[str, Any], timestamp: Optional[float]) -> Optional[datetime]:
    """The simulated time the simulator attached to a message, else when it was logged."""
    sim_now = (data.get("metadata") or {}).get("sim_now")
    if sim_now:
        try:
            return parse_iso_datetime(sim_now).astimezone(SERVICE_TIMEZONE)
        except ValueError:
            pass
    return datetime.fromtimestamp(timestamp, SERVICE_TIMEZONE) if timestamp else None


def read_conversations(tracker_url: str) -> List[Conversation]:
    engine = create_engine(tracker_url)
    events = Table("events", MetaData(), autoload_with=engine)
    topics = set(knowledge.topics())
    conversations: Dict[str, Conversation] = {}
    with engine.connect() as connection:
        rows = connection.execute(select(events).order_by(events.c.id)).fetchall()
    for row in rows:
        conversation = conversations.setdefault(row.sender_id, Conversation(row.sender_id))
        if row.type_name == "user":
            data = json.loads(row.data or "{}")
            conversation.started = conversation.started or _event_time(data, row.timestamp)
            intent = (data.get("parse_data") or {}).get("intent") or {}
            if conversation.topic is None and row.intent_name in topics:
                conversation.topic = row.intent_name
            text = data.get("text") or ""
            unsure = row.intent_name == "nlu_fallback" or (intent.get("confidence") or 1) < LOW_CONFIDENCE
            if unsure and not text.startswith("/") and not conversation.in_form:
                conversation.low_confidence.append(text)
        elif row.type_name == "active_loop":
            conversation.in_form = bool(json.loads(row.data or "{}").get("name"))
        elif row.type_name == "action":
            conversation.answered |= row.action_name == "action_answer_topic"
            conversation.transferred |= row.action_name in TRANSFER_ACTIONS
    return [c for c in conversations.values() if c.started is not None]


def _service_time(stored: datetime) -> datetime:
    return stored.replace(tzinfo=timezone.utc).astimezone(SERVICE_TIMEZONE)


def queue_length_by_quarter(service_url: str) -> Dict[str, int]:
    """Conversations waiting for a human at each quarter hour: queued and not yet taken."""
    engine = create_engine(service_url)
    with engine.connect() as connection:
        queued = connection.execute(
            select(store.handoff_queue.c.conversation_id, store.handoff_queue.c.enqueued_at)
        ).fetchall()
        takes = connection.execute(
            select(store.agent_actions.c.conversation_id, store.agent_actions.c.at).where(
                store.agent_actions.c.action == "take"
            )
        ).fetchall()
    if not queued:
        return {}
    taken = {row.conversation_id: _service_time(row.at) for row in takes}
    entries = [(_service_time(row.enqueued_at), taken.get(row.conversation_id)) for row in queued]
    day = min(start for start, _ in entries).replace(hour=0, minute=0, second=0, microsecond=0)
    lengths = {}
    for quarter in range(96):
        moment = day + timedelta(minutes=15 * quarter)
        lengths[moment.strftime("%H:%M")] = sum(
            1 for start, end in entries if start <= moment and (end is None or end > moment)
        )
    return lengths


def service_counts(service_url: str) -> Dict[str, Dict[str, int]]:
    engine = create_engine(service_url)
    with engine.connect() as connection:
        statuses = Counter(
            row.status
            for row in connection.execute(
                select(store.tickets.c.status).where(store.tickets.c.status != store.DRAFT)
            )
        )
        scores = Counter(row.score for row in connection.execute(select(store.ratings.c.score)))
    return {
        "tickets_by_status": dict(sorted(statuses.items())),
        "ratings": {str(score): scores.get(score, 0) for score in range(1, 6)},
    }


def goal_outcome(record: Dict[str, Any]) -> str:
    """What became of one simulated user's need: one of GOAL_OUTCOMES, or no_question."""
    if not record["asked"]:
        return "no_question"
    if record["by"] == "bot":
        return "bot_first_try" if record["tries"] == 1 else "bot_rephrase"
    return record["by"] if record["by"] in ("human", "ticket") else "not_met"


def goals_path_for(tracker_url: str) -> Optional[Path]:
    """goals.json beside a SQLite tracker store (where scripts/simulate.py writes it), else None."""
    url = make_url(tracker_url)
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    return Path(url.database).parent / GOALS_FILE


def read_goals(path: Optional[Path]) -> Optional[List[Dict[str, Any]]]:
    if path is None or not path.exists():
        return None
    return json.loads(path.read_text("utf-8"))["users"]


def containment(conversations: List[Conversation], goals: Optional[List[Dict[str, Any]]]) -> Dict[str, Any]:
    """The containment figures, on the simulated users' goals when known, else on the stores alone."""
    transferred = {c.sender_id for c in conversations if c.transferred}
    if goals is None:
        answered = [c for c in conversations if c.answered]
        contained = [c for c in answered if not c.transferred]
        asked, outcomes = len(answered), {}
    else:
        known = {c.sender_id for c in conversations}
        records = [r for r in goals if r["sender_id"] in known and goal_outcome(r) != "no_question"]
        contained = [r for r in records if r["by"] == "bot" and r["sender_id"] not in transferred]
        counts = Counter(goal_outcome(r) for r in records)
        asked, outcomes = len(records), {name: counts.get(name, 0) for name in GOAL_OUTCOMES}
    return {
        "containment_basis": "stores" if goals is None else "goals",
        "asked": asked,
        "contained": len(contained),
        "containment_rate": round(len(contained) / asked, 3) if asked else 0.0,
        "goal_outcomes": outcomes,
    }


def compute(
    tracker_url: str,
    service_url: str,
    goals_path: Union[Path, str, None] = None,
    answer_target: float = DEFAULT_TARGET_SECONDS,
    abandon_after: float = DEFAULT_ABANDON_AFTER_SECONDS,
) -> Dict[str, Any]:
    """Every figure of the report, as plain numbers (also written to results/report.json). The goals
    are read from `goals_path`, else from goals.json beside a SQLite tracker store if there is one; the
    queue's service levels use `answer_target` and `abandon_after` (seconds, analytics/service_levels.py)."""
    conversations = read_conversations(tracker_url)
    goals = read_goals(Path(goals_path) if goals_path else goals_path_for(tracker_url))
    by_hour: Dict[int, List[Conversation]] = defaultdict(list)
    by_topic: Dict[str, List[Conversation]] = defaultdict(list)
    for conversation in conversations:
        by_hour[conversation.started.hour].append(conversation)
        if conversation.topic:
            by_topic[conversation.topic].append(conversation)
    answered = [c for c in conversations if c.answered]

    def rate(group: List[Conversation]) -> float:
        return round(sum(c.transferred for c in group) / len(group), 3) if group else 0.0

    return {
        "conversations": len(conversations),
        "conversations_by_hour": {str(h): len(by_hour.get(h, [])) for h in range(24)},
        "topics": {
            topic: len(group) for topic, group in sorted(by_topic.items(), key=lambda kv: -len(kv[1]))
        },
        "answered": len(answered),
        **containment(conversations, goals),
        "article_containment_rate": ARTICLE_CONTAINMENT,
        "transfers": sum(c.transferred for c in conversations),
        "transfer_rate_by_hour": {str(h): rate(by_hour.get(h, [])) for h in range(24)},
        "transfer_rate_by_topic": {topic: rate(group) for topic, group in sorted(by_topic.items())},
        "queue_length": queue_length_by_quarter(service_url),
        **service_counts(service_url),
        "agents": agent_figures(service_url),
        "service_levels": service_levels(service_url, answer_target, abandon_after),
        "low_confidence_messages": sorted({text for c in conversations for text in c.low_confidence}),
        "misses": review_figures(tracker_url, service_url),
    }
