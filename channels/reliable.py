"""The user-facing channels (REST and socketio for the web widget), made to always answer clearly.

- A malformed REST request (not a JSON object, no sender, a message that is not text) gets a 400
  with a JSON error instead of a 500 or a shared "default" conversation.
- An empty or whitespace-only message gets a prompt to type a question.
- If handling a message raises, or produces no reply while the bot is not paused for a human agent
  (e.g. the action server is down), the user gets the domain's `utter_service_unavailable`, which
  names the hotline: the one fact the domain holds, because the actions cannot be reached then.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any, Awaitable, Callable, Dict, Optional

import socketio
from rasa.core.channels.channel import OutputChannel, UserMessage
from rasa.core.channels.rest import RestInput
from rasa.core.channels.socketio import SocketIOInput
from sanic import Blueprint, Sanic, response
from sanic.request import Request
from sanic.response import HTTPResponse

from channels import admission, door, widget
from components.language_detector import ENGLISH, detect_language
from tuning import action_call_events, action_client, action_result_validation

# Loaded by every Rasa server of this project (credentials.yml), so the server validates action replies
# with a compiled validator (tuning/action_result_validation.py).
action_result_validation.install()
# ... and sends the action server the current turn's events, not the whole conversation
# (tuning/action_call_events.py).
action_call_events.install()
# ... over connections kept open, its replies' events turned into classes from a table
# (tuning/action_client.py).
action_client.install()

logger = logging.getLogger(__name__)

EMPTY_MESSAGE_RESPONSE = "utter_empty_message"
UNAVAILABLE_RESPONSE = "utter_service_unavailable"
MAX_SENDER_CHARS = 255
SOCKETIO_REDIS_VARIABLE = "CS_SOCKETIO_REDIS_URL"
OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


class ForwardingOutputChannel(OutputChannel):
    """Passes every bot message on to the channel it wraps; subclasses look at or change it first."""

    def __init__(self, inner: OutputChannel) -> None:
        self.inner = inner

    def name(self) -> str:  # type: ignore[override]
        return self.inner.name()

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        await self.inner.send_response(recipient_id, message)


class CountingOutputChannel(ForwardingOutputChannel):
    """Counts the bot messages sent (to notice silence)."""

    def __init__(self, inner: OutputChannel) -> None:
        super().__init__(inner)
        self.sent = 0

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        self.sent += 1
        await self.inner.send_response(recipient_id, message)


# Mail and web addresses and phone numbers in the bot's text (the article's channels), for the widget's
# markdown. Phone numbers: 400-992-2556, 1010-9008, 028-6583-5566, +86-28-8435-5566 (never a date, a time
# range or a ticket number: a group of at least three digits, nothing glued before or after).
ADDRESS = re.compile(
    r"(?<![\w@./-])(www\.[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+|[\w.+-]+@[\w-]+(?:\.[\w-]+)+)"
    r"|(?<![\w+:./-])(\+\d{1,3}(?:-\d{2,4}){2,4}|\d{3,4}(?:-\d{3,4}){1,2})(?![\w-])"
)
DIALLED_WITH_PLUS = ("852-", "853-")  # Hong Kong and Macao numbers, written without their "+"


def markdown_links(text: str) -> str:
    """`feedback@douyin.com` -> `[feedback@douyin.com](mailto:…)`, `www.x.com` -> `[www.x.com](https://…)`,
    `400-992-2556` -> `[400-992-2556](tel:400-992-2556)` (tap to call; `852-…` is called as `+852-…`)."""

    def link(match: re.Match) -> str:
        address, phone = match.group(1), match.group(2)
        if phone:
            return f"[{phone}](tel:{'+' if phone.startswith(DIALLED_WITH_PLUS) else ''}{phone})"
        return f"[{address}]({'mailto:' if '@' in address else 'https://'}{address})"

    return ADDRESS.sub(link, text)


# A markdown link the widget may keep: to a web page, an address or a phone (its text without brackets,
# "<", backslashes or backticks, its target without spaces, brackets or quotes either).
SAFE_LINK = re.compile(r"!?\[[^\[\]<\\`]*\]\((?:https?://|mailto:|tel:)[^\s()<>\[\]\"'\\`]*\)", re.IGNORECASE)


def safe_links(text: str) -> str:
    """Markdown for the widget in which only http(s), mailto and tel links remain links: around them,
    every backslash, "[" and "]" is escaped and every "&" and "<" written as "&amp;" and "&lt;" (the
    widget's markdown shows them as typed), so `[x](javascript:…)`, `<javascript://…>`, references and
    raw HTML arrive as plain text."""

    def neutral(part: str) -> str:
        escaped = part.replace("\\", "\\\\").replace("[", "\\[").replace("]", "\\]")
        return escaped.replace("&", "&amp;").replace("<", "&lt;")

    kept, start = [], 0
    for match in SAFE_LINK.finditer(text):
        kept.append(neutral(text[start : match.start()]) + match.group(0))
        start = match.end()
    return "".join(kept) + neutral(text[start:])


def link_buttons_message(message: Dict[str, Any]) -> Optional[Dict[str, Any]]:
    """A message whose buttons include links (`url`, e.g. "上传证据") as rasa-webchat's own message:
    Rasa's socketio output keeps only a button's title and payload, which would turn a link into text
    sent back to the bot. Under `buttons` the widget keeps them shown (quick replies go once answered)."""
    buttons = message.get("buttons") or []
    if not any(button.get("url") for button in buttons):
        return None
    shown = [
        {"type": "web_url", "title": b["title"], "url": b["url"]}
        if b.get("url")
        else {"type": "postback", "title": b["title"], "payload": b["payload"]}
        for b in buttons
    ]
    return {"data": {"text": message.get("text") or "", "buttons": shown}}


class LinkingOutputChannel(ForwardingOutputChannel):
    """The web widget renders markdown: its messages get clickable addresses (the shell and REST keep
    plain text, and the tracker keeps the plain message), and link buttons open their page."""

    async def send_response(self, recipient_id: str, message: Dict[str, Any]) -> None:
        if message.get("text"):
            message = {**message, "text": safe_links(markdown_links(message["text"]))}
        custom = link_buttons_message(message)
        if custom is not None:
            message = {"custom": custom}
        await self.inner.send_response(recipient_id, message)


def with_links(on_new_message: OnNewMessage) -> OnNewMessage:
    async def handle(message: UserMessage) -> None:
        message.output_channel = LinkingOutputChannel(message.output_channel)
        await on_new_message(message)

    return handle


def _response_text(name: str, language: Optional[str] = None) -> str:
    """A response's Chinese text, or its English variant for a message written in English."""
    variants = Sanic.get_app().ctx.agent.domain.responses[name]
    if language == ENGLISH:
        english = [v for v in variants if any(c.get("value") == ENGLISH for c in v.get("condition", []))]
        variants = english or variants
    return variants[0]["text"]


def with_language(message: UserMessage) -> None:
    """Puts the message's language in its metadata: a new session's disclaimer (action_session_start)
    is said before the message reaches the tracker, so this is how it learns the language."""
    language = detect_language(message.text)
    if language:
        message.metadata = {**(message.metadata or {}), "language": language}


async def _is_paused(sender_id: str) -> bool:
    try:
        tracker = await Sanic.get_app().ctx.agent.processor.get_tracker(sender_id)
        return tracker.is_paused()
    except Exception:  # the tracker store itself may be what failed
        return False


def always_reply(on_new_message: OnNewMessage) -> OnNewMessage:
    """Wraps Rasa's message handler so that no user message goes unanswered."""

    async def handle(message: UserMessage) -> None:
        output = message.output_channel
        if not (message.text or "").strip():
            await output.send_text_message(message.sender_id, _response_text(EMPTY_MESSAGE_RESPONSE))
            return
        with_language(message)
        counting = CountingOutputChannel(output)
        message.output_channel = counting
        try:
            async with admission.admitted():
                await on_new_message(message)
        except Exception:
            logger.exception("Handling a message failed; answering with %s.", UNAVAILABLE_RESPONSE)
        if counting.sent == 0 and not await _is_paused(message.sender_id):
            language = (message.metadata or {}).get("language")
            await output.send_text_message(message.sender_id, _response_text(UNAVAILABLE_RESPONSE, language))

    return handle


def _bad_request(message: str) -> HTTPResponse:
    return response.json({"error": message}, status=400)


def refusal_text(refusal: door.Refusal, text: str) -> str:
    """The door's refusal in the language the message is written in (its start is enough)."""
    return _response_text(refusal.response, detect_language(text[:200])).format(**refusal.values)


def _too_large_text() -> str:
    """A body too large to read has no language to follow: both."""
    name = door.TOO_LARGE_RESPONSE
    return f"{_response_text(name)}\n{_response_text(name, ENGLISH)}"


def _install_limits(app: Sanic, _loop: Any) -> None:
    door.install_body_limit(app, _too_large_text)


class ReliableRestInput(RestInput):
    """Rasa's REST channel (same URL, /webhooks/rest/webhook) with request checks and always a reply.

    A JSON object under "metadata" is kept with the user's message in the tracker (the simulator
    records its clock there).
    """

    def get_metadata(self, request: Request) -> Optional[Dict[str, Any]]:
        metadata = request.json.get("metadata") if isinstance(request.json, dict) else None
        return metadata if isinstance(metadata, dict) else None

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        webhook = super().blueprint(always_reply(on_new_message))
        webhook.listener("after_server_stop")(action_client.close_sessions)

        @webhook.middleware("request")
        async def check_request(request: Request) -> Optional[HTTPResponse]:
            if request.method != "POST":
                return None
            try:
                body = request.json
            except Exception:
                return _bad_request("the body must be JSON")
            if not isinstance(body, dict):
                return _bad_request('the body must be a JSON object: {"sender": "...", "message": "..."}')
            sender = body.get("sender")
            if not isinstance(sender, str) or not sender.strip() or len(sender) > MAX_SENDER_CHARS:
                return _bad_request(
                    f'"sender" must be a non-empty string of at most {MAX_SENDER_CHARS} characters'
                )
            text = body.get("message", "")
            if not isinstance(text, str):
                return _bad_request('"message" must be a string')
            refusal = door.door().check(sender, door.client_address(request), text)
            if refusal is None:
                return None
            headers = {"Retry-After": str(refusal.retry_after)} if refusal.retry_after else None
            reply = [{"recipient_id": sender, "text": refusal_text(refusal, text)}]
            return response.json(reply, status=refusal.status, headers=headers)

        webhook.listener("before_server_start")(_install_limits)
        return webhook


def share_rooms_through_redis(sio: socketio.AsyncServer, redis_url: str) -> None:
    """Several Rasa servers: a message for a widget whose socket another server holds (e.g. an agent's
    reply arriving at the wrong server) is published in Redis and sent by the server that holds it.
    Rasa builds its socket.io server without a client manager, so it is set here, before any client
    connects (the server initializes its manager on the first connection)."""
    manager = socketio.AsyncRedisManager(redis_url)
    manager.set_server(sio)
    sio.manager = manager
    sio.manager_initialized = False


class ReliableSocketIOInput(SocketIOInput):
    """Rasa's socketio channel (used by the web widget) with always a reply, clickable addresses, the end
    of each reply signalled to the page (channels/widget.py), and the widgets' rooms shared between Rasa
    servers through Redis when CS_SOCKETIO_REDIS_URL is set."""

    def blueprint(self, on_new_message: OnNewMessage) -> Blueprint:
        blueprint = super().blueprint(widget.for_the_page(always_reply(with_links(on_new_message))))
        blueprint.listener("after_server_stop")(action_client.close_sessions)
        redis_url = os.environ.get(SOCKETIO_REDIS_VARIABLE)
        if self.sio is not None:
            self._guard_messages(self.sio)
            if redis_url:
                share_rooms_through_redis(self.sio, redis_url)
        return blueprint

    def _guard_messages(self, sio: socketio.AsyncServer) -> None:
        """Puts the door in front of Rasa's handler of the widget's messages: a message that is not
        let in is answered on the widget's socket and never reaches the bot."""
        handlers = sio.handlers[self.namespace or "/"]
        handle_message = handlers[self.user_message_evt]

        async def guarded(sid: str, data: Any) -> None:
            if not isinstance(data, dict):
                return
            text = data.get("message") or ""
            if not isinstance(text, str):
                return
            request = (sio.get_environ(sid, self.namespace) or {}).get("sanic.request")
            address = door.client_address(request) if request is not None else None
            sender = str(data.get("session_id") or sid)
            refusal = door.door().check(sender, address, text)
            if refusal is None:
                await handle_message(sid, data)
            else:
                await sio.emit(self.bot_message_evt, {"text": refusal_text(refusal, text)}, room=sid)
                await sio.emit(widget.TURN_END_EVENT, {}, room=sid)  # the whole reply

        handlers[self.user_message_evt] = guarded

    def get_output_channel(self) -> Optional[OutputChannel]:
        """Used for messages that do not answer the user (the agent console's): linked as well."""
        output = super().get_output_channel()
        return LinkingOutputChannel(output) if output is not None else None
