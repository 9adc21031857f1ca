"""Limits at the door: message length, request body size and sending rate, checked before the NLU.

A message's cost grows with its length (1 MB of text kept a Rasa server busy for 15 s, every other
user waiting), and a client can send as fast as it likes. So, before any message reaches Rasa:

- a message longer than `CS_MAX_MESSAGE_CHARS` (default 1,000) is refused whole, never cut, and the
  user is told the limit;
- a sender id, and a client address, may send a burst and then a steady rate (token buckets,
  `CS_SENDER_*` and `CS_ADDRESS_*`); past it the user is asked to slow down;
- a request body larger than `CS_MAX_BODY_BYTES` (default 64 KiB) is refused by the web server before
  it is read (`install_body_limit`). The widget's socket.io frames have their own bounds (Sanic's
  WEBSOCKET_MAX_SIZE, 1 MiB, and engine.io's max_http_buffer_size, 1 MB): within them a long message
  gets the same clear refusal as on REST; past them the connection is closed and the widget reconnects.

A rate of 0 turns that limit off (the benchmark's load comes from one address on purpose).
"""

from __future__ import annotations

import os
import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Callable, Dict, Optional, Tuple

from sanic import Sanic, response
from sanic.exceptions import PayloadTooLarge
from sanic.request import Request

MAX_CHARS_VARIABLE = "CS_MAX_MESSAGE_CHARS"
MAX_BODY_VARIABLE = "CS_MAX_BODY_BYTES"
SENDER_RATE_VARIABLE, SENDER_BURST_VARIABLE = "CS_SENDER_MESSAGES_PER_MINUTE", "CS_SENDER_BURST"
ADDRESS_RATE_VARIABLE, ADDRESS_BURST_VARIABLE = "CS_ADDRESS_MESSAGES_PER_MINUTE", "CS_ADDRESS_BURST"
CONSOLE_RATE_VARIABLE, CONSOLE_BURST_VARIABLE = "CS_CONSOLE_REQUESTS_PER_MINUTE", "CS_CONSOLE_BURST"
LOGIN_RATE_VARIABLE, LOGIN_BURST_VARIABLE = "CS_LOGINS_PER_MINUTE", "CS_LOGIN_BURST"

DEFAULT_MAX_CHARS = 1000  # README, "Limits at the door": what a message of this length costs
DEFAULT_MAX_BODY = 64 * 1024
# A person types a message every few seconds; buttons allow a short burst.
DEFAULT_SENDER_RATE, DEFAULT_SENDER_BURST = 30, 20
# Many people can share one address (an office, a mobile carrier's NAT).
DEFAULT_ADDRESS_RATE, DEFAULT_ADDRESS_BURST = 600, 120
# The agent console's API, per address: a console re-reads its conversation at each live event; log-in
# attempts are few (the per-name lock-out stops guessing one name; this, guessing many from one place).
DEFAULT_CONSOLE_RATE, DEFAULT_CONSOLE_BURST = 1200, 300
DEFAULT_LOGIN_RATE, DEFAULT_LOGIN_BURST = 20, 10
MAX_KEYS = 100_000  # buckets remembered per limit; the least recently used are forgotten

TOO_LONG_RESPONSE = "utter_message_too_long"
TOO_FAST_RESPONSE = "utter_too_fast"
TOO_LARGE_RESPONSE = "utter_request_too_large"


def _setting(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    try:
        return max(0, int(value)) if value else default
    except ValueError:
        return default


class TokenBuckets:
    """A bucket of `burst` tokens per key, refilled at `per_minute` a minute; a message takes one."""

    def __init__(self, per_minute: int, burst: int, clock: Callable[[], float] = time.monotonic) -> None:
        self.rate = per_minute / 60.0
        self.burst = max(1, burst)
        self.clock = clock
        self._buckets: OrderedDict[str, Tuple[float, float]] = OrderedDict()  # key -> (tokens, when)

    def take(self, key: str) -> float:
        """0 when a message may go now, else the seconds until it may."""
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        tokens, then = self._buckets.pop(key, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - then) * self.rate)
        wait = 0.0
        if tokens >= 1:
            tokens -= 1
        else:
            wait = (1 - tokens) / self.rate
        self._buckets[key] = (tokens, now)
        if len(self._buckets) > MAX_KEYS:
            self._buckets.popitem(last=False)
        return wait


@dataclass(frozen=True)
class Refusal:
    """Why a message was not let in: the response to say, its values, and the HTTP status for REST."""

    response: str
    values: Dict[str, int]
    status: int
    retry_after: int = 0


class Door:
    """The limits of one server, read from the environment once."""

    def __init__(self) -> None:
        self.max_chars = _setting(MAX_CHARS_VARIABLE, DEFAULT_MAX_CHARS)
        self.senders = TokenBuckets(
            _setting(SENDER_RATE_VARIABLE, DEFAULT_SENDER_RATE),
            _setting(SENDER_BURST_VARIABLE, DEFAULT_SENDER_BURST),
        )
        self.addresses = TokenBuckets(
            _setting(ADDRESS_RATE_VARIABLE, DEFAULT_ADDRESS_RATE),
            _setting(ADDRESS_BURST_VARIABLE, DEFAULT_ADDRESS_BURST),
        )
        self.console = TokenBuckets(
            _setting(CONSOLE_RATE_VARIABLE, DEFAULT_CONSOLE_RATE),
            _setting(CONSOLE_BURST_VARIABLE, DEFAULT_CONSOLE_BURST),
        )
        self.logins = TokenBuckets(
            _setting(LOGIN_RATE_VARIABLE, DEFAULT_LOGIN_RATE),
            _setting(LOGIN_BURST_VARIABLE, DEFAULT_LOGIN_BURST),
        )

    def console_wait(self, address: str, login: bool) -> int:
        """0 when a console request from `address` may go on, else the whole seconds to wait."""
        wait = max(self.console.take(address), self.logins.take(address) if login else 0.0)
        return max(1, int(wait + 0.999)) if wait > 0 else 0

    def check(self, sender: str, address: Optional[str], text: str) -> Optional[Refusal]:
        """None when the message may go on to the bot. The length is checked first: a refused long
        message takes no token, so the user can send it again, shortened, at once."""
        if self.max_chars and len(text) > self.max_chars:
            return Refusal(TOO_LONG_RESPONSE, {"chars": len(text), "limit": self.max_chars}, 413)
        wait = max(self.addresses.take(address) if address else 0.0, self.senders.take(sender))
        if wait > 0:
            seconds = max(1, int(wait + 0.999))
            return Refusal(TOO_FAST_RESPONSE, {"seconds": seconds}, 429, seconds)
        return None


_doors: Dict[int, Door] = {}


def door() -> Door:
    """This server's door (one per Sanic app: the tests start several in one process)."""
    key = id(Sanic.get_app())
    if key not in _doors:
        _doors[key] = Door()
    return _doors[key]


def client_address(request: Request) -> str:
    """The client's address; behind a proxy, Sanic's forwarded-header settings give the real one
    (SANIC_PROXIES_COUNT / SANIC_REAL_IP_HEADER, docs/deployment.md)."""
    return request.remote_addr or request.ip or ""


def max_body_bytes() -> int:
    return _setting(MAX_BODY_VARIABLE, DEFAULT_MAX_BODY) or DEFAULT_MAX_BODY


def install_body_limit(app: Sanic, too_large_text: Callable[[], str]) -> None:
    """Sanic reads the limit for each new connection, so setting it before the server starts is
    enough; an oversized body is answered, as REST replies are, with the reason in a message."""
    app.config.REQUEST_MAX_SIZE = max_body_bytes()

    def too_large(request: Request, exception: Exception) -> response.HTTPResponse:
        return response.json(
            [{"recipient_id": "", "text": too_large_text()}],
            status=413,
            headers={"Connection": "close"},
        )

    app.error_handler.add(PayloadTooLarge, too_large)
