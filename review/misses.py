"""Finds the bot's misses in the tracker store (Rasa's `events` table, SQLite or PostgreSQL).

The misses are the user messages it did not understand or answer well, each with its reasons, the
conversation around it, the intent, aspect and confidence it used, and the answer it gave.

A message is a miss when:

- `fallback`: the NLU could not place it (`nlu_fallback` → "did you mean" buttons,
  `action_suggest_topics`) or the dialogue fell back (`action_default_fallback`);
- `out_of_scope`: it was read as outside Douyin's service;
- `low_confidence`: the intent was read with a confidence under LOW_CONFIDENCE;
- `unsolved`: the user said 没解决 right after its answer (whatever the message was read as);
- `human`: the user asked for a human right after its answer;
- `rephrased`: the user's next message asks the same again (the same text, the same intent and
  aspect, or a text that shares most of its character pairs);
- `agent`: it is the user's last question before an agent took the conversation over
  (ConversationPaused).

Not candidates: button presses ("/account_ban"), answers to a form's questions (a contact while the
ticket form asks), and messages while an agent holds the conversation (the bot did not answer them).

The aspect is the NLU's entity `aspect` when the model has one (components/aspect_classifier.py),
else the word lists' reading that the actions use (core/aspects.py). No Rasa: plain SQL and JSON.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Iterable, List, Optional, Sequence, Tuple, Union

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from core import knowledge
from core.aspects import read_question
from core.clock import SERVICE_TIMEZONE, parse_iso_datetime

LOW_CONFIDENCE = 0.5
FALLBACK_INTENT = "nlu_fallback"
OUT_OF_SCOPE = "out_of_scope"
FALLBACK_ACTIONS = {"action_default_fallback", "action_suggest_topics"}
# What a user says to steer the conversation rather than to ask something: not a question of its own.
CONTROL_INTENTS = {
    "affirm_solved", "deny_unsolved", "request_human", "rate", "decline", "cancel", "leave_queue",
    "ask_queue_position", "greet", "goodbye", "thanks", "create_ticket", "query_ticket", "more_channels",
}  # fmt: skip
# What the user says about an answer (没解决 after 没解决 is no miss of the first).
VERDICTS = {"affirm_solved", "deny_unsolved", "request_human", "rate"}
REASONS = ("fallback", "out_of_scope", "low_confidence", "unsolved", "human", "rephrased", "agent")
REASON_TITLES = {
    "fallback": "没听懂（猜您想问）",
    "out_of_scope": "判为无关",
    "low_confidence": "置信度低",
    "unsolved": "答复后说没解决",
    "human": "答复后转人工",
    "rephrased": "用户换了说法再问",
    "agent": "人工接管",
}
SIMILAR = 0.5  # share of character pairs two messages have in common to count as the same question
CONTEXT_BEFORE, CONTEXT_AFTER = 4, 3  # messages shown around a miss
ASPECT_ENTITY = "aspect"
NO_ASPECT = "none"
_COMPARABLE = re.compile(r"[\s,.!?;:，。！？；：、~]+")
# The rows that tell the story: messages, actions, forms, pauses and new sessions.
_KINDS = ("user", "bot", "action", "active_loop", "pause", "resume", "session_started")


def comparable(text: str) -> str:
    """The text as two messages are compared: lower case, without spaces and punctuation."""
    return _COMPARABLE.sub("", (text or "").lower())


def similarity(first: str, second: str) -> float:
    """Jaccard similarity of the two texts' character pairs (single characters for one-letter texts)."""

    def pairs(text: str) -> set:
        text = comparable(text)
        return {text[i : i + 2] for i in range(len(text) - 1)} or set(text)

    a, b = pairs(first), pairs(second)
    return len(a & b) / len(a | b) if a and b else 0.0


@dataclass
class Miss:
    event_id: int  # the user message's row in `events`
    conversation_id: str
    at: datetime  # when it was said (service time; the simulated time when the message carries it)
    text: str  # as typed: scrub it (review/scrub.py) before it is shown or stored
    reasons: List[str]
    intent: Optional[str]
    confidence: Optional[float]
    ranking: List[Tuple[str, float]]  # the NLU's intents, best first
    aspect: str
    aspect_confidence: Optional[float]  # None when read from the word lists
    aspect_source: str  # "nlu" | "words"
    answer: List[str]  # what the bot said in reply
    action: Optional[str]  # the first action the bot ran for it
    chosen: Optional[str] = None  # the intent the user then picked from "did you mean" buttons
    topic: Optional[str] = None  # the case: the topic read, chosen, or of the conversation
    before: List[Tuple[str, str]] = field(default_factory=list)  # (user|bot, text) before it
    after: List[Tuple[str, str]] = field(default_factory=list)  # after the answer

    @property
    def reason(self) -> str:
        """The first of its reasons in REASONS' order: the one it is grouped under."""
        return min(self.reasons, key=REASONS.index)

    @property
    def guess(self) -> Optional[str]:
        """The intent to accept in one click: the user's own choice, else the bot's best real intent."""
        if self.chosen:
            return self.chosen
        return next((name for name, _ in self.ranking if name != FALLBACK_INTENT), None)


@dataclass
class _Turn:
    """A user message and what followed it until the next one."""

    id: int
    at: datetime
    data: Dict[str, Any]
    in_form: bool
    paused: bool
    position: int  # index of the message among the conversation's messages
    actions: List[str] = field(default_factory=list)
    answer: List[str] = field(default_factory=list)
    paused_after: bool = False

    @property
    def text(self) -> str:
        return self.data.get("text") or ""

    @property
    def parse(self) -> Dict[str, Any]:
        return self.data.get("parse_data") or {}

    @property
    def intent(self) -> Optional[str]:
        return (self.parse.get("intent") or {}).get("name")

    @property
    def confidence(self) -> Optional[float]:
        value = (self.parse.get("intent") or {}).get("confidence")
        return float(value) if value is not None else None

    @property
    def button(self) -> bool:
        return self.text.startswith("/")

    @property
    def candidate(self) -> bool:
        return bool(self.text.strip()) and not (self.button or self.in_form or self.paused)

    @property
    def question(self) -> bool:
        return self.candidate and self.intent not in CONTROL_INTENTS


def event_time(data: Dict[str, Any], timestamp: Optional[float]) -> datetime:
    """The simulated time a message carries (scripts/simulate.py), else when it was logged."""
    sim_now = (data.get("metadata") or {}).get("sim_now")
    if sim_now:
        try:
            return parse_iso_datetime(sim_now).astimezone(SERVICE_TIMEZONE)
        except ValueError:
            pass
    return datetime.fromtimestamp(timestamp or 0, SERVICE_TIMEZONE)


def aspect_of(parse: Dict[str, Any], text: str) -> Tuple[str, Optional[float], str]:
    """(aspect, confidence, source): the NLU's entity when present, else the word lists' reading."""
    for entity in parse.get("entities") or []:
        if entity.get("entity") == ASPECT_ENTITY and entity.get("value"):
            confidence = entity.get("confidence_entity")
            return str(entity["value"]), float(confidence) if confidence is not None else None, "nlu"
    question = read_question(text)
    if question.aspects:
        return question.aspects[0], None, "words"
    return ("contact" if question.kinds or question.channels else NO_ASPECT), None, "words"


def _conversation_misses(sender_id: str, rows: Sequence[Any]) -> List[Miss]:
    topics = set(knowledge.topics())
    messages: List[Tuple[str, str]] = []
    turns: List[_Turn] = []
    taken_over: List[int] = []  # turn indexes after which an agent took the conversation
    in_form = paused = False
    for row in rows:
        kind = row.type_name
        data = json.loads(row.data or "{}")
        if kind == "user":
            at = event_time(data, row.timestamp)
            turns.append(_Turn(row.id, at, data, in_form, paused, len(messages)))
            messages.append(("user", data.get("text") or ""))
        elif kind == "bot":
            if data.get("text"):
                messages.append(("bot", data["text"]))
                if turns:
                    turns[-1].answer.append(data["text"])
        elif kind == "action":
            if turns and row.action_name != "action_listen":
                turns[-1].actions.append(row.action_name)
        elif kind == "active_loop":
            in_form = bool(data.get("name"))
        elif kind == "pause":
            paused = True
            if turns:
                turns[-1].paused_after = True
                taken_over.append(len(turns) - 1)
        elif kind == "resume":
            paused = False
        elif kind == "session_started":
            in_form = paused = False

    found: Dict[int, Miss] = {}

    def flag(index: int, reason: str) -> None:
        miss = found.get(index)
        if miss is None:
            miss = found[index] = _miss(sender_id, turns, index, messages, topics)
        if reason not in miss.reasons:
            miss.reasons.append(reason)

    for index, turn in enumerate(turns):
        if not turn.candidate:
            continue
        fallback = turn.intent == FALLBACK_INTENT or bool(FALLBACK_ACTIONS & set(turn.actions))
        if fallback:
            flag(index, "fallback")
        if turn.intent == OUT_OF_SCOPE:
            flag(index, "out_of_scope")
        elif not fallback and turn.confidence is not None and turn.confidence < LOW_CONFIDENCE:
            flag(index, "low_confidence")
        following = turns[index + 1] if index + 1 < len(turns) else None
        if not (turn.answer and following) or turn.paused_after:
            continue
        if following.intent == "deny_unsolved" and turn.intent not in VERDICTS:
            flag(index, "unsolved")  # whatever it was read as ("查询工单"): the answer did not solve it
        elif not turn.question:
            continue
        elif following.intent == "request_human":
            flag(index, "human")
        elif following.question and _same_question(turn, following):
            flag(index, "rephrased")
    for last in taken_over:
        asked = [i for i in range(last, -1, -1) if turns[i].question]
        if asked:
            flag(asked[0], "agent")
    return list(found.values())


def _same_question(first: _Turn, second: _Turn) -> bool:
    if comparable(first.text) == comparable(second.text):
        return True
    if first.intent == second.intent and first.intent not in (FALLBACK_INTENT, "ask_followup"):
        return aspect_of(first.parse, first.text)[0] == aspect_of(second.parse, second.text)[0]
    return similarity(first.text, second.text) >= SIMILAR


def _miss(
    sender_id: str, turns: List[_Turn], index: int, messages: List[Tuple[str, str]], topics: set
) -> Miss:
    turn = turns[index]
    ranking = [
        (str(entry.get("name")), float(entry.get("confidence") or 0))
        for entry in turn.parse.get("intent_ranking") or []
        if entry.get("name")
    ]
    aspect, aspect_confidence, source = aspect_of(turn.parse, turn.text)
    following = turns[index + 1] if index + 1 < len(turns) else None
    chosen = None
    if following is not None and following.button and following.intent in topics:
        chosen = following.intent  # picked from the "did you mean" buttons
    earlier_topic = next(
        (turns[i].intent for i in range(index - 1, -1, -1) if turns[i].intent in topics), None
    )
    topic = chosen or (turn.intent if turn.intent in topics else None) or earlier_topic
    start = turn.position
    after_start = start + 1 + len(turn.answer)
    return Miss(
        event_id=turn.id,
        conversation_id=sender_id,
        at=turn.at,
        text=turn.text,
        reasons=[],
        intent=turn.intent,
        confidence=turn.confidence,
        ranking=ranking[:5],
        aspect=aspect,
        aspect_confidence=aspect_confidence,
        aspect_source=source,
        answer=list(turn.answer),
        action=turn.actions[0] if turn.actions else None,
        chosen=chosen,
        topic=topic,
        before=messages[max(0, start - CONTEXT_BEFORE) : start],
        after=messages[after_start : after_start + CONTEXT_AFTER],
    )


def _events_table(engine: Engine) -> sa.Table:
    return sa.Table("events", sa.MetaData(), autoload_with=engine)


def find_misses(
    tracker: Union[Engine, str],
    since: Optional[datetime] = None,
    conversation_ids: Optional[Iterable[str]] = None,
) -> List[Miss]:
    """Every miss of the conversations with a user message logged since `since` (all when None), or of
    `conversation_ids`; newest first."""
    engine = sa.create_engine(tracker) if isinstance(tracker, str) else tracker
    events = _events_table(engine)
    wanted = sa.select(events.c.sender_id).where(events.c.type_name == "user")
    if since is not None:
        wanted = wanted.where(events.c.timestamp >= since.timestamp())
    if conversation_ids is not None:
        wanted = wanted.where(events.c.sender_id.in_(list(conversation_ids)))
    kinds = events.c.type_name.in_(_KINDS)
    query = (
        sa.select(
            events.c.id,
            events.c.sender_id,
            events.c.type_name,
            events.c.timestamp,
            events.c.action_name,
            events.c.data,
        )
        .where(events.c.sender_id.in_(wanted.distinct()), kinds)
        .order_by(events.c.sender_id, events.c.id)
    )
    misses: List[Miss] = []
    with engine.connect() as connection:
        sender, rows = None, []
        for row in connection.execute(query):
            if row.sender_id != sender:
                if rows:
                    misses.extend(_conversation_misses(sender, rows))
                sender, rows = row.sender_id, []
            rows.append(row)
        if rows:
            misses.extend(_conversation_misses(sender, rows))
    misses.sort(key=lambda miss: (miss.at, miss.event_id), reverse=True)
    return misses


def find_miss(tracker: Union[Engine, str], event_id: int) -> Optional[Miss]:
    """The miss whose user message is the row `event_id`, or None (no such row, or not a miss)."""
    engine = sa.create_engine(tracker) if isinstance(tracker, str) else tracker
    events = _events_table(engine)
    with engine.connect() as connection:
        sender = connection.execute(
            sa.select(events.c.sender_id).where(events.c.id == event_id, events.c.type_name == "user")
        ).scalar()
    if sender is None:
        return None
    return next((m for m in find_misses(engine, conversation_ids=[sender]) if m.event_id == event_id), None)


def since_days(days: float, now: Optional[datetime] = None) -> datetime:
    return (now or datetime.now(timezone.utc)) - timedelta(days=days)
