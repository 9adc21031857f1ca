"""Service levels of the human queue for the report: how long users waited before an agent answered,
the share answered within a target, and the share who left unanswered, overall, per hour and per agent.

Read from the service database (`handoff_queue`, `agent_actions`, `agents` for display names), with
the chats of analytics/agents.py (a chat is one queue entry; an action belongs to the conversation's
latest entry queued at or before it):

- **answered**: an agent took the chat (接入: the user is told at once that 人工客服… has joined). Its
  **wait** runs from the queueing to that first take, and it counts for the agent who took it first
  (a later hand-over does not move it).
- **abandoned**: never taken, and either out of the queue (its status is neither waiting nor taken:
  the user left, or it was closed unanswered) or still waiting after `abandon_after` seconds (default
  30 minutes, the longest wait the bot ever promises) at the report's moment, the latest time the
  queue and the agents' actions record.
- **waiting**: never taken, in the queue for less than that: neither answered nor abandoned yet, left
  out of the rates.
- **service level**: the chats answered within the target (wait ≤ `target`, default 60 s) over the
  chats answered or abandoned; per agent, over the chats that agent answered (an abandoned chat has no
  agent). **Abandonment rate**: abandoned over answered or abandoned.
- **hour**: when the chat was queued, Beijing time (the stored times are UTC).

Waits are in seconds: mean, and 90th percentile by linear interpolation (as analytics/agents.py). A
figure with nothing to measure is None.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime
from typing import Any, Dict, List, Optional

from analytics.agents import Chat, _engine, chat_rows, percentile, read_chats
from core import store

DEFAULT_TARGET_SECONDS = 60.0
DEFAULT_ABANDON_AFTER_SECONDS = 30 * 60.0
OPEN_STATUSES = ("waiting", "taken")


def _ratio(part: int, whole: int) -> Optional[float]:
    return round(part / whole, 3) if whole else None


def _seconds(value: Optional[float]) -> Optional[float]:
    return None if value is None else round(value, 1)


def classify(chat: Chat, reference: datetime, abandon_after: float) -> str:
    """answered, abandoned or waiting (module docstring)."""
    if chat.first_take is not None:
        return "answered"
    if chat.status and chat.status not in OPEN_STATUSES:
        return "abandoned"
    return "abandoned" if (reference - chat.enqueued_at).total_seconds() > abandon_after else "waiting"


def summary(chats: List[Chat], kinds: Dict[int, str], target: float) -> Dict[str, Any]:
    """The figures of a group of chats."""
    waits = [(c.first_take - c.enqueued_at).total_seconds() for c in chats if kinds[id(c)] == "answered"]
    abandoned = sum(1 for c in chats if kinds[id(c)] == "abandoned")
    within = sum(1 for wait in waits if wait <= target)
    settled = len(waits) + abandoned
    return {
        "queued": len(chats),
        "answered": len(waits),
        "abandoned": abandoned,
        "waiting": len(chats) - settled,
        "mean_wait_s": _seconds(sum(waits) / len(waits)) if waits else None,
        "p90_wait_s": _seconds(percentile(waits, 0.9)),
        "answered_within_target": within,
        "service_level": _ratio(within, settled),
        "abandonment_rate": _ratio(abandoned, settled),
    }


def service_levels(
    service_url: str,
    target: float = DEFAULT_TARGET_SECONDS,
    abandon_after: float = DEFAULT_ABANDON_AFTER_SECONDS,
) -> Dict[str, Any]:
    engine = _engine(service_url)
    with engine.connect() as connection:
        queue_rows, action_rows, names = chat_rows(connection, engine)
    chats, _, _ = read_chats(queue_rows, action_rows)
    moments = [row.enqueued_at for row in queue_rows] + [row.at for row in action_rows]
    reference = max(moments) if moments else datetime.min
    kinds = {id(chat): classify(chat, reference, abandon_after) for chat in chats}

    by_hour: Dict[int, List[Chat]] = defaultdict(list)
    by_agent: Dict[str, List[Chat]] = defaultdict(list)
    for chat in chats:
        by_hour[store.to_service_time(chat.enqueued_at).hour].append(chat)
        if chat.first_taker is not None:
            by_agent[chat.first_taker].append(chat)
    agents = []
    for username in sorted(by_agent):
        figures = summary(by_agent[username], kinds, target)
        agents.append(
            {
                "username": username,
                "name": names.get(username) or username,
                **{
                    key: figures[key]
                    for key in ("answered", "mean_wait_s", "p90_wait_s", "answered_within_target")
                },
                "service_level": _ratio(figures["answered_within_target"], figures["answered"]),
            }
        )
    return {
        "target_s": target,
        "abandon_after_s": abandon_after,
        "overall": summary(chats, kinds, target),
        "by_hour": [{"hour": hour, **summary(by_hour[hour], kinds, target)} for hour in sorted(by_hour)],
        "by_agent": agents,
    }
