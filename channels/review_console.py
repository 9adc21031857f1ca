"""The review page's API (/webhooks/review/...), for supervisors only.

The bot's misses from the tracker store (review/misses.py), shown with personal data replaced by
placeholders (review/scrub.py), as are the bot's answer and the conversation around them, and the
supervisors' claims and decisions (review/labels.py).

The same log-in as the agent console (agents/accounts.py: a bearer token); an account without the
supervisor role gets 403 for every request (agents/roles.py). Reading the misses needs Rasa's SQL
tracker store (the project's, SQLite or PostgreSQL); with another store the API answers 503.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any, Awaitable, Callable, Dict, List, Optional, Tuple

import sqlalchemy as sa
from rasa.core.channels.channel import InputChannel, UserMessage
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from agents import accounts, roles
from channels import door, web_origin
from core import knowledge
from review import datasets, labels
from review.misses import REASON_TITLES, REASONS, Miss, find_miss, find_misses, since_days
from review.scrub import scrub

logger = logging.getLogger(__name__)

DEFAULT_DAYS, MAX_DAYS = 30, 365
DEFAULT_LIMIT, MAX_LIMIT = 200, 1000


def _error(status: int, message: str, **extra: Any) -> HTTPResponse:
    return response.json({"error": message, **extra}, status=status)


def _bearer(request: Request) -> str:
    header = request.headers.get("Authorization", "")
    return header[len("Bearer ") :].strip() if header.startswith("Bearer ") else ""


def _number(raw: Optional[str], default: int, largest: int) -> int:
    if raw in (None, ""):
        return default
    value = int(raw)  # ValueError: a bad request
    if not 0 < value <= largest:
        raise ValueError(f"must be between 1 and {largest}")
    return value


def tracker_engine(rasa_agent: Any) -> Optional[sa.engine.Engine]:
    """The SQL tracker store's engine (Rasa wraps the store), or None for another kind of store."""
    tracker_store = getattr(rasa_agent, "tracker_store", None)
    tracker_store = getattr(tracker_store, "_tracker_store", tracker_store)
    return getattr(tracker_store, "engine", None)


def _titled(name: Optional[str]) -> Dict[str, Any]:
    return {"name": name, "title": labels.intent_title(name) if name else None}


def miss_json(miss: Miss, state: Optional[labels.Label], username: str, count: int) -> Dict[str, Any]:
    text = scrub(miss.text)
    guess = miss.guess
    return {
        "event_id": miss.event_id,
        "conversation_id": miss.conversation_id,
        "at": miss.at.isoformat(),
        "text": text,
        "count": count,  # users who wrote the same in the window
        "reason": miss.reason,
        "reasons": [{"name": name, "title": REASON_TITLES[name]} for name in miss.reasons],
        "intent": _titled(miss.intent),
        "confidence": miss.confidence,
        "ranking": [{**_titled(name), "confidence": conf} for name, conf in miss.ranking[:3]],
        "aspect": miss.aspect,
        "aspect_title": labels.ASPECT_TITLES.get(miss.aspect, miss.aspect),
        "aspect_source": miss.aspect_source,
        "aspect_confidence": miss.aspect_confidence,
        "guess": _titled(guess) if guess else None,
        "chosen": miss.chosen,
        "topic": _titled(miss.topic) if miss.topic else None,
        "answer": [scrub(line) for line in miss.answer],
        "before": [{"from": who, "text": scrub(line)} for who, line in miss.before],
        "after": [{"from": who, "text": scrub(line)} for who, line in miss.after],
        "held_out": datasets.held_out_in(text),
        "claimed_by": state.claimed_by if state is not None else None,
        "mine": state is not None and state.claimed_by == username,
    }


def label_json(label: labels.Label) -> Dict[str, Any]:
    return {
        "text": label.text,
        "status": label.status,
        "decision": label.decision,
        "intent": label.intent,
        "aspect": label.aspect,
        "claimed_by": label.claimed_by,
        "decided_by": label.decided_by,
    }


class ReviewInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "review"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> InputChannel:
        return cls()

    def __init__(self) -> None:
        web_origin.install()  # the Rasa server answers browsers from the project's web pages only
        self._cache: Dict[Tuple[Any, ...], List[Miss]] = {}

    def _misses(self, engine: sa.engine.Engine, days: int) -> List[Miss]:
        """The window's misses, found again only when the tracker store has new rows."""
        with engine.connect() as connection:
            newest = connection.execute(sa.text("SELECT MAX(id) FROM events")).scalar()
        key = (str(engine.url), newest, days)
        if key not in self._cache:
            self._cache = {key: find_misses(engine, since_days(days))}
        return self._cache[key]

    def blueprint(self, on_new_message: Callable[[UserMessage], Awaitable[Any]]) -> Blueprint:
        review = Blueprint("review_api", __name__)
        channel = self

        @review.middleware("request")
        async def supervisors_only(request: Request) -> Optional[HTTPResponse]:
            if request.method == "OPTIONS":
                return None
            wait = door.door().console_wait(door.client_address(request), False)
            if wait:  # the console's limit per address, before any session lookup (channels/door.py)
                return _error(429, f"请求太频繁，请{wait}秒后再试", retry_after=wait)
            given = _bearer(request)
            agent = accounts.session_agent(given) if given else None
            if agent is None:
                return _error(401, "未登录或登录已过期")
            try:
                roles.require_role(agent, roles.SUPERVISOR)
            except roles.RoleRequired as refused:
                return _error(refused.status, "仅主管可以使用复核页面")
            request.ctx.agent = agent
            engine = tracker_engine(request.app.ctx.agent)
            if engine is None:
                return _error(503, "复核需要 SQL 对话存储（endpoints.yml 的 tracker_store）")
            request.ctx.tracker = engine
            return None

        @review.route("/options", methods=["GET"])
        async def options(request: Request) -> HTTPResponse:
            """What a label may say: the intents (titled; which take an aspect), the aspects, the reasons."""
            agent = request.ctx.agent
            return response.json(
                {
                    "me": {"username": agent.username, "display_name": agent.display_name},
                    "intents": [
                        {**_titled(name), "aspect": labels.takes_aspect(name)} for name in labels.intents()
                    ],
                    "aspects": [
                        {"name": name, "title": labels.ASPECT_TITLES.get(name, name)}
                        for name in labels.aspects()
                    ],
                    "reasons": [{"name": name, "title": REASON_TITLES[name]} for name in REASONS],
                    "topics": [_titled(name) for name in knowledge.topics()],
                }
            )

        @review.route("/misses", methods=["GET"])
        async def misses(request: Request) -> HTTPResponse:
            """The misses not decided yet, newest first, one per text (with how many wrote it);
            `reason` and `topic` filter them, `days` (30) is the window."""
            try:
                days = _number(request.args.get("days"), DEFAULT_DAYS, MAX_DAYS)
                limit = _number(request.args.get("limit"), DEFAULT_LIMIT, MAX_LIMIT)
            except ValueError:
                return _error(400, f"days: 1-{MAX_DAYS}, limit: 1-{MAX_LIMIT}")
            reason, topic = request.args.get("reason") or "", request.args.get("topic") or ""
            if reason and reason not in REASONS:
                return _error(400, f"reason 必须是 {', '.join(REASONS)} 之一")
            found = await asyncio.to_thread(channel._misses, request.ctx.tracker, days)
            return response.json(
                await asyncio.to_thread(listing, found, request.ctx.agent.username, reason, topic, limit)
            )

        @review.route("/misses/<event_id>/<command>", methods=["POST"])
        async def act(request: Request, event_id: str, command: str) -> HTTPResponse:
            if command not in ("claim", "release", "label"):
                return _error(404, "unknown command")
            try:
                row = int(event_id)
            except ValueError:
                return _error(400, "消息编号必须是整数")
            try:
                body = request.json if request.body else {}
            except Exception:  # noqa: BLE001 - Sanic raises on malformed JSON: a bad request
                return _error(400, "请求不是有效的 JSON")
            if command == "label" and not _label_body(body):
                return _error(400, "请求须为 JSON 对象：decision（accept / correct / out_of_scope / skip），"
                              "correct 时另有 intent 和 aspect（字符串）")  # fmt: skip
            miss = await asyncio.to_thread(find_miss, request.ctx.tracker, row)
            if miss is None:
                return _error(404, "没有这条未答好的消息")
            username = request.ctx.agent.username
            try:
                if command == "claim":
                    label = await asyncio.to_thread(labels.claim, miss, username)
                elif command == "release":
                    released = await asyncio.to_thread(labels.release, miss, username)
                    return response.json({"ok": True, "released": released})
                else:
                    label = await asyncio.to_thread(
                        labels.decide,
                        miss,
                        username,
                        body["decision"],
                        body.get("intent"),
                        body.get("aspect"),
                    )
            except labels.LabelRefused as refused:
                return _error(refused.status, refused.message, holder=refused.holder)
            except ValueError as bad:
                return _error(400, str(bad))
            return response.json({"ok": True, "label": label_json(label)})

        return review


def _label_body(body: Any) -> bool:
    """A label request's shape: a JSON object with a decision, and strings (or nothing) for the rest."""
    return (
        isinstance(body, dict)
        and isinstance(body.get("decision"), str)
        and all(body.get(key) is None or isinstance(body.get(key), str) for key in ("intent", "aspect"))
        and set(body) <= {"decision", "intent", "aspect"}
    )


def listing(found: List[Miss], username: str, reason: str, topic: str, limit: int) -> Dict[str, Any]:
    """The page's list: undecided misses, one per text (the newest occurrence), filtered; the counts per
    reason are before the filters."""
    firsts: Dict[str, Miss] = {}
    counts: Dict[str, int] = {}
    for miss in found:  # newest first
        key = labels.text_key(scrub(miss.text))
        counts[key] = counts.get(key, 0) + 1
        firsts.setdefault(key, miss)
    states = labels.states(firsts)
    open_ = {
        key: miss
        for key, miss in firsts.items()
        if not (states.get(key) and states[key].status == labels.DECIDED)
    }
    per_reason = {name: 0 for name in REASONS}
    for miss in open_.values():
        per_reason[miss.reason] += 1
    shown = [
        (key, miss)
        for key, miss in open_.items()
        if (not reason or miss.reason == reason) and (not topic or miss.topic == topic)
    ]
    return {
        "misses": [miss_json(miss, states.get(key), username, counts[key]) for key, miss in shown[:limit]],
        "total": len(shown),
        "per_reason": per_reason,
        "reviewed": sum(1 for state in states.values() if state.status == labels.DECIDED),
    }
