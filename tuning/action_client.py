"""Action calls over kept connections, and event classes looked up once.

Rasa 3.6's `EndpointConfig.request` opens a new aiohttp `ClientSession` for every call to the action
server and closes it after the reply: each action costs a session, a name lookup and a TCP
connection (the action call was 10 % of the Rasa server's time under load, most of it this). Here a
server keeps one session per endpoint and event loop, whose connections to the action server stay
open between calls. The request itself is Rasa's: same URL, headers, parameters, timeout and errors.

Kept connections are dropped after `IDLE_SECONDS` idle, below the 5 s after which Sanic (the action
server) closes an idle connection, so a call never goes out on a connection the server is closing.

`Event.resolve_by_type` (turning each event of an action's reply into its class) walked every
subclass of `Event` and asked `inspect.isabstract` of each, per event; the classes are looked up in a
table made once, remade when a type name is missing from it (a subclass imported later).
"""

from __future__ import annotations

import asyncio
import os
import ssl
from typing import Any, Dict, Optional, Tuple, Type

import aiohttp
import rasa.shared.utils.common
from aiohttp import ContentTypeError
from rasa.core.constants import DEFAULT_REQUEST_TIMEOUT
from rasa.shared.core.events import Event
from rasa.shared.exceptions import FileNotFoundException
from rasa.utils.endpoints import ClientResponseError, EndpointConfig, concat_url

from tuning import patching

IDLE_SECONDS = 2.0

# One session per set of the session's own settings (an endpoint's headers and basic auth).
_sessions: Dict[Tuple[str, str], aiohttp.ClientSession] = {}


def kept_session(endpoint: EndpointConfig) -> aiohttp.ClientSession:
    """A session with the endpoint's headers and auth on the running event loop (made on first use,
    again if closed or made on another loop)."""
    loop = asyncio.get_running_loop()
    key = (repr(sorted(endpoint.headers.items())), repr(sorted(endpoint.basic_auth.items())))
    session = _sessions.get(key)
    if session is None or session.closed or session._loop is not loop:
        auth = None
        if endpoint.basic_auth:
            auth = aiohttp.BasicAuth(endpoint.basic_auth["username"], endpoint.basic_auth["password"])
        session = aiohttp.ClientSession(
            headers=endpoint.headers,
            auth=auth,
            timeout=aiohttp.ClientTimeout(total=DEFAULT_REQUEST_TIMEOUT),
            connector=aiohttp.TCPConnector(keepalive_timeout=IDLE_SECONDS),
        )
        _sessions[key] = session
    return session


async def request(
    self: EndpointConfig,
    method: str = "post",
    subpath: Optional[str] = None,
    content_type: Optional[str] = "application/json",
    compress: bool = False,
    **kwargs: Any,
) -> Optional[Any]:
    """Rasa's `EndpointConfig.request` on the endpoint's kept session."""
    headers = {}
    if content_type:
        headers["Content-Type"] = content_type
    if "headers" in kwargs:
        headers.update(kwargs.pop("headers"))
    if self.headers:
        headers.update(self.headers)
    url = concat_url(self.url, subpath)
    sslcontext = None
    if self.cafile:
        try:
            sslcontext = ssl.create_default_context(cafile=self.cafile)
        except FileNotFoundError as e:
            raise FileNotFoundException(
                f"Failed to find certificate file, '{os.path.abspath(self.cafile)}' does not exist."
            ) from e
    async with kept_session(self).request(
        method,
        url,
        headers=headers,
        params=self.combine_parameters(kwargs),
        compress=compress,
        ssl=sslcontext,
        **kwargs,
    ) as response:
        if response.status >= 400:
            raise ClientResponseError(response.status, response.reason, await response.content.read())
        try:
            return await response.json()
        except ContentTypeError:
            return None


_event_classes: Dict[str, Type[Event]] = {}


def resolve_by_type(type_name: str, default: Optional[Type[Event]] = None) -> Optional[Type[Event]]:
    """Rasa's `Event.resolve_by_type` from a table of the event classes (the first of a name wins,
    as in Rasa's walk)."""
    if type_name not in _event_classes:
        _event_classes.clear()
        for cls in rasa.shared.utils.common.all_subclasses(Event):
            _event_classes.setdefault(cls.type_name, cls)
    found = _event_classes.get(type_name)
    if found is not None:
        return found
    if type_name == "topic":
        return None  # Rasa's backwards compatibility for old TopicSet events
    if default is not None:
        return default
    raise ValueError(f"Unknown event name '{type_name}'.")


def install() -> None:
    patching.install(
        "action_client",
        [(EndpointConfig, "request", request), (Event, "resolve_by_type", staticmethod(resolve_by_type))],
    )


async def close_sessions(*_args: Any) -> None:
    """Closes the kept sessions (a Sanic `after_server_stop` listener: no warning about unclosed
    sessions when the server stops)."""
    while _sessions:
        _key, session = _sessions.popitem()
        if not session.closed and session._loop is asyncio.get_running_loop():
            await session.close()
