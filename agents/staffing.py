"""Honest waiting: how many human agents are online now, how busy they are, and the wait that follows.

The bot used to promise the article's figures (2-5 minutes a person ahead, up to 30 at peak) whatever
the staffing. `staffing_now` reads the service database instead, and `estimate_wait` turns it into a
range of minutes with a simple queueing estimate:

- free slots = capacity (the online agents' `max_chats`, summed) − the chats they have open now;
- a position that fits in the free slots is about 1 minute away (an agent only has to take it);
- otherwise the user waits for `ahead = position − free slots` chats to end. With every slot busy and
  handling times taken as exponential with the measured mean `m` (minutes, take → close over the last
  7 days), chats end at `capacity / m` a minute, so the `ahead`-th end comes after `ahead·m/capacity`
  minutes on average, give or take one standard deviation `√ahead·m/capacity` (an Erlang
  distribution): the range promised is that mean ± that deviation, whole minutes, at least 1;
- with fewer than 3 measured chats (a new deployment, a quiet week) there is nothing to measure from:
  the article's figures, 2-5 minutes a person ahead, up to 30 at peak (core/service_hours.py);
- with nobody online (or no capacity) no wait can be promised: `None`.

"Online" is agents/accounts.py's `online_agents`: an active agent with a log-in session that is not
revoked, not expired and was seen within `schema.ONLINE_SECONDS`. Sessions are stamped in real time
(accounts.py), the queue's actions with the service clock (core/clock.py, simulated in tests and
`make simulate`): so who is online is asked at the real time, the handling times are measured up to
`now`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Dict, List, Optional, Tuple

from sqlalchemy import func, select

from agents.accounts import online_agents
from agents.schema import agents, engine
from core import store
from core.service_hours import estimated_wait_minutes

MEASURE_DAYS = 7  # handling times are measured over the chats closed in this many days
MIN_MEASURED_CHATS = 3  # fewer than this: no measurement, the article's figures
PICK_UP_MINUTES = 1  # a free slot: about a minute for an agent to take the chat


@dataclass(frozen=True)
class Staffing:
    online: int  # agents online now
    capacity: int  # chats they can hold at once (their max_chats, summed)
    open_chats: int  # chats they hold now (queue entries `taken` by them)
    mean_handling_minutes: Optional[float]  # take → close, last 7 days; None when < 3 chats

    @property
    def free_slots(self) -> int:
        return max(self.capacity - self.open_chats, 0)


def has_agent_accounts() -> bool:
    """True when the deployment has at least one active agent account (the agents' workspace is used)."""
    with engine().connect() as connection:
        return (
            connection.execute(select(agents.c.id).where(agents.c.active.is_(True)).limit(1)).first()
            is not None
        )


def _open_chats(connection, usernames: List[str]) -> int:
    if not usernames:
        return 0
    queue = store.handoff_queue
    query = select(func.count()).where(queue.c.status == "taken", queue.c.agent.in_(usernames))
    return connection.execute(query).scalar_one()


def _handling_minutes(connection, now: datetime) -> List[float]:
    """Minutes from the take to the close of every chat closed in the last MEASURE_DAYS days.

    A chat handed to a colleague keeps its first take (a hand-over logs no new take), so it counts
    from the first agent's take to the colleague's close: the time it held a slot.
    """
    actions = store.agent_actions
    since = now - timedelta(days=MEASURE_DAYS)
    closed_recently = (
        select(actions.c.conversation_id)
        .where(actions.c.action == "close", actions.c.at >= since, actions.c.at <= now)
        .scalar_subquery()
    )
    query = (
        select(actions.c.conversation_id, actions.c.action, actions.c.at)
        .where(actions.c.action.in_(("take", "close")), actions.c.conversation_id.in_(closed_recently))
        .order_by(actions.c.conversation_id, actions.c.at, actions.c.id)
    )
    minutes: List[float] = []
    taken_at: Dict[str, datetime] = {}
    for row in connection.execute(query):
        if row.action == "take":
            taken_at[row.conversation_id] = row.at
            continue
        start = taken_at.pop(row.conversation_id, None)
        if start is not None and since <= row.at <= now:
            minutes.append((row.at - start).total_seconds() / 60)
    return minutes


def staffing_now(now: datetime, online_at: Optional[datetime] = None) -> Staffing:
    """Who is online (at `online_at`, by default the real time: sessions are stamped in real time), what
    they can hold, what they hold, and how long a chat took them in the MEASURE_DAYS days up to `now`."""
    online = online_agents(online_at)
    with engine().connect() as connection:
        open_chats = _open_chats(connection, [agent.username for agent in online])
        durations = _handling_minutes(connection, store.to_stored_time(now))
    mean = sum(durations) / len(durations) if len(durations) >= MIN_MEASURED_CHATS else None
    return Staffing(
        online=len(online),
        capacity=sum(agent.max_chats for agent in online),
        open_chats=open_chats,
        mean_handling_minutes=mean,
    )


def estimate_wait(position: int, staffing: Staffing, peak: bool) -> Optional[Tuple[int, int]]:
    """(low, high) minutes of waiting for the 1-based queue `position`, or None when nobody can take it.

    See the module's docstring; `peak` matters only for the article's figures (no measurement yet).
    """
    if staffing.online == 0 or staffing.capacity <= 0:
        return None
    if staffing.mean_handling_minutes is None:
        return estimated_wait_minutes(position, peak)
    ahead = position - staffing.free_slots
    if ahead <= 0:
        return PICK_UP_MINUTES, PICK_UP_MINUTES
    per_chat = staffing.mean_handling_minutes / staffing.capacity  # minutes between two chats ending
    mean = ahead * per_chat
    deviation = math.sqrt(ahead) * per_chat
    low = max(PICK_UP_MINUTES, math.floor(mean - deviation))
    high = max(low + 1, math.ceil(mean + deviation))
    return low, high
