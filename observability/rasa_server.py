"""The Rasa server's metrics on GET /metrics: user messages, the time to reply, the NLU's confidence,
fallbacks and the actions run.

Rasa lets a project add routes through an input channel, so `MetricsInput` is listed in
credentials.yml; when Rasa loads it, four of Rasa's methods are wrapped to count (a few microseconds
per message, measured in tests/test_operations.py):

- `UserMessage.__init__` stamps the message's arrival (the channel makes it as the request comes in);
- `Agent.handle_message` counts it and observes the time from arrival to the end of its handling,
  waits for a turn (channels/admission.py) and for the conversation's lock included;
- `MessageProcessor._handle_message_with_tracker` reads the NLU's result once it is on the tracker;
- `MessageProcessor._run_action` counts each action by name (but action_listen).
"""

from __future__ import annotations

from time import perf_counter
from typing import Any, Dict, Optional

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, Histogram, generate_latest
from rasa.core.agent import Agent
from rasa.core.channels.channel import InputChannel, UserMessage
from rasa.core.processor import MessageProcessor
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

MESSAGES = Counter("douyin_cs_messages", "User messages handled, by input channel", ["channel"])
MESSAGE_ERRORS = Counter(
    "douyin_cs_message_errors", "User messages whose handling failed (no reply from Rasa)", ["channel"]
)
REPLY_SECONDS = Histogram(
    "douyin_cs_reply_seconds",
    "From a user message's arrival at the Rasa server to the end of its handling (every reply sent)",
    ["channel"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
NLU_CONFIDENCE = Histogram(
    "douyin_cs_nlu_confidence",
    "The NLU's confidence in its best intent for a typed message (buttons' /intent payloads not counted)",
    buckets=(0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1.0),
)
FALLBACKS = Counter(
    "douyin_cs_fallbacks",
    "Messages the bot could not place: low_confidence (below the NLU's threshold: the closest topics "
    "offered), out_of_scope, no_rule (Rasa's default fallback action)",
    ["reason"],
)
ACTIONS = Counter(
    "douyin_cs_actions",
    "Actions run (responses, custom actions, forms; not action_listen), by name",
    ["action"],
)

FALLBACK_INTENTS = {"nlu_fallback": "low_confidence", "out_of_scope": "out_of_scope"}
FALLBACK_ACTIONS = {"action_default_fallback": "no_rule"}
ACTION_LISTEN = "action_listen"
OTHER_CHANNEL = "other"  # messages without an input channel (Rasa's HTTP API)

# Each label's child, looked up once (labels() takes a lock and builds a tuple on every call).
_children: Dict[Any, Any] = {}


def _child(metric: Any, label: str) -> Any:
    child = _children.get((metric, label))
    if child is None:
        child = _children[(metric, label)] = metric.labels(label)
    return child


def record_reply(message: UserMessage, started: float, failed: bool) -> None:
    channel = message.input_channel or OTHER_CHANNEL
    _child(MESSAGES, channel).inc()
    if failed:
        _child(MESSAGE_ERRORS, channel).inc()
    _child(REPLY_SECONDS, channel).observe(perf_counter() - getattr(message, "received_at", started))


def record_understanding(text: Optional[str], parse_data: Dict[str, Any]) -> None:
    intent = (parse_data.get("intent") or {}).get("name")
    reason = FALLBACK_INTENTS.get(intent)
    if reason:
        _child(FALLBACKS, reason).inc()
    if text and not text.startswith("/"):
        ranking = parse_data.get("intent_ranking") or [parse_data.get("intent") or {}]
        best = max(
            (entry.get("confidence") or 0.0 for entry in ranking if entry.get("name") != "nlu_fallback"),
            default=0.0,
        )
        NLU_CONFIDENCE.observe(best)


def record_action(name: str) -> None:
    if name == ACTION_LISTEN:  # waiting for the user, after every turn: not counted
        return
    _child(ACTIONS, name).inc()
    reason = FALLBACK_ACTIONS.get(name)
    if reason:
        _child(FALLBACKS, reason).inc()


_installed = False


def install() -> None:
    """Wraps Rasa's methods (once per process)."""
    global _installed
    if _installed:
        return
    _installed = True
    message_init = UserMessage.__init__
    agent_handle = Agent.handle_message
    processor_log = MessageProcessor._handle_message_with_tracker
    processor_run = MessageProcessor._run_action

    def __init__(self: UserMessage, *args: Any, **kwargs: Any) -> None:
        message_init(self, *args, **kwargs)
        self.received_at = perf_counter()

    async def handle_message(self: Agent, message: UserMessage) -> Any:
        started, failed = perf_counter(), True
        try:
            result = await agent_handle(self, message)
            failed = False
            return result
        finally:
            record_reply(message, started, failed)

    async def _handle_message_with_tracker(
        self: MessageProcessor, message: UserMessage, tracker: Any
    ) -> None:
        await processor_log(self, message, tracker)
        latest = tracker.latest_message
        if latest is not None:
            record_understanding(latest.text, latest.parse_data)

    async def _run_action(self: MessageProcessor, action: Any, *args: Any, **kwargs: Any) -> Any:
        record_action(action.name())
        return await processor_run(self, action, *args, **kwargs)

    UserMessage.__init__ = __init__
    Agent.handle_message = handle_message
    MessageProcessor._handle_message_with_tracker = _handle_message_with_tracker
    MessageProcessor._run_action = _run_action


async def metrics(_request: Request) -> HTTPResponse:
    return response.raw(generate_latest(REGISTRY), content_type=CONTENT_TYPE_LATEST)


class MetricsInput(InputChannel):
    """Not a channel users talk through: GET /metrics, in Prometheus' text format."""

    @classmethod
    def name(cls) -> str:
        return "metrics"

    def url_prefix(self) -> str:
        return "/metrics"  # joined to Rasa's /webhooks/, an absolute path stays as it is

    def blueprint(self, on_new_message: Any) -> Blueprint:
        install()
        blueprint = Blueprint("douyin_cs_metrics", url_prefix="/metrics")
        blueprint.add_route(metrics, "/", methods=["GET"])
        return blueprint
