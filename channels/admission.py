"""At most a few user messages handled at once per Rasa server; the others wait in arrival order.

A Rasa server handles its messages in one event loop, which interleaves every message in progress:
at each wait (an action call, a database query) a message goes to the back of the line, behind every
other one in progress. Under load (50 conversations at once) a message that calls the action server
three times (a transfer, a ticket step) waited three rounds of the whole line while a plain answer
waited one: replies took 0.1 s at the median and 1.5 s at the 95th percentile. Admitting a few at a
time (enough to keep the action server busy while the server works on another message) serves the
messages in the order they came, at the same rate: each one waits for those ahead of it.

`CS_MESSAGES_AT_ONCE` sets how many (default 4; 0 admits every message at once, Rasa's way).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
from typing import AsyncIterator, Dict, Optional, Tuple

AT_ONCE_VARIABLE = "CS_MESSAGES_AT_ONCE"
DEFAULT_AT_ONCE = 4

# The running loop's semaphore (None: no limit), with the loop it was made on (ids are reused).
_gates: Dict[int, Tuple[asyncio.AbstractEventLoop, Optional[asyncio.Semaphore]]] = {}


def messages_at_once() -> int:
    """The configured number of messages handled at once (0: no limit)."""
    value = os.environ.get(AT_ONCE_VARIABLE, "").strip()
    try:
        return max(0, int(value)) if value else DEFAULT_AT_ONCE
    except ValueError:
        return DEFAULT_AT_ONCE


def _gate() -> Optional[asyncio.Semaphore]:
    """The running event loop's semaphore (asyncio's wakes its waiters in arrival order)."""
    loop = asyncio.get_running_loop()
    made = _gates.get(id(loop))
    if made is None or made[0] is not loop:
        limit = messages_at_once()
        made = _gates[id(loop)] = (loop, asyncio.Semaphore(limit) if limit else None)
    return made[1]


@contextlib.asynccontextmanager
async def admitted() -> AsyncIterator[None]:
    """Waits for a turn to handle a message, and holds it while the message is handled."""
    gate = _gate()
    if gate is None:
        yield
        return
    async with gate:
        yield
