"""The human agents' side of the transfer: an input channel whose API the agent console page calls.

An agent logs in (agents/accounts.py: a short-lived bearer token), hears about the queue and their
conversations through a server-sent event stream (agents/live.py), takes a conversation (Rasa's
ConversationPaused: the bot stops answering; agents/assignment.py makes it theirs alone), replies (an
utterance sent through the user's own channel, e.g. the web widget), hands it to a colleague, writes
internal notes, and closes it (ConversationResumed: the bot answers again and asks the user to rate the
human service). It does what Rasa's HTTP API endpoints `/conversations/{id}/tracker/events` and
`/conversations/{id}/execute` do, behind each agent's own session instead of the server's admin token.

Least privilege (agents/access.py): an agent reads only the conversations waiting in the queue, assigned
to them or handled by them, a supervisor any; every read is recorded (agents/audit.py) and listed for
supervisors (/audit/reads); personal data is masked (agents/masking.py) for all but the agent the
conversation is assigned to. A conversation id is sent URL-encoded as one path segment (slashes as %2F)
and decoded here, once.

CS_AGENT_TOKEN is no agent's credential: it is the API token the upload server uses to report evidence.
"""

from __future__ import annotations

import asyncio
import hmac
import json
import logging
import os
import secrets
import time
from functools import lru_cache
from typing import Any, Awaitable, Callable, Dict, FrozenSet, List, Optional, Tuple
from urllib.parse import unquote

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, OutputChannel, UserMessage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, ConversationPaused, ConversationResumed, SlotSet
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from agents import access, accounts, assignment, audit, live, masking, roles
from agents.canned import canned_facts
from agents.context import conversation_context
from agents.notes import add_note, notes_of
from channels import door, web_origin
from core import clock, knowledge, store
from evidence.links import TICKET_NUMBER

logger = logging.getLogger(__name__)

TOKEN_VARIABLE = "CS_AGENT_TOKEN"
MAX_REPLY_CHARS = 2000
MAX_EVIDENCE = 1000  # files in one "已收到 N 个文件" (a ticket holds far fewer)
FAILED_LOGIN_DELAY = 0.5  # seconds before a refused log-in is answered: guessing is slow
STREAM_SECONDS = 300  # an event stream ends after this; the page reconnects where it left off
TOUCH_SECONDS = 20  # how often a stream marks its agent as online (agents/schema.py ONLINE_SECONDS)

Step = Tuple[List[Any], str]  # events to apply, then the utterance to say


def _error(status: int, message: str, **extra: Any) -> HTTPResponse:
    return response.json({"error": message, **extra}, status=status)


def _bearer(request: Request) -> str:
    header = request.headers.get("Authorization", "")
    return header[len("Bearer ") :].strip() if header.startswith("Bearer ") else ""


def _body(request: Request) -> Dict[str, Any]:
    try:
        body = request.json
    except Exception:  # noqa: BLE001 - Sanic raises on malformed JSON; it is a bad request, not a crash
        return {}
    return body if isinstance(body, dict) else {}


def _conversation_id(raw: str) -> str:
    """The id as the user's channel knows it: Sanic hands path segments on undecoded, and the console
    encodes the id as one segment (encodeURIComponent), so it is decoded here exactly once."""
    try:
        return unquote(raw, errors="strict")
    except UnicodeDecodeError:
        raise ValueError("会话编号不是有效的 UTF-8") from None


@lru_cache(maxsize=1)
def _published_contacts() -> FrozenSet[str]:
    """The knowledge's own phone numbers and addresses: said by the bot, never masked."""
    return frozenset(masking.published([json.dumps(knowledge.channels(), ensure_ascii=False)]))


def _shown(text: Optional[str], unmasked: bool) -> Optional[str]:
    return text if unmasked or not text else masking.mask(text, _published_contacts())


def _transcript(tracker: Any, unmasked: bool = True) -> List[Dict[str, Any]]:
    """User and bot messages of a tracker, oldest first, as plain text (rendered as text by the page),
    the personal data masked unless `unmasked`."""
    lines = []
    for event in tracker.events:
        if event.type_name in ("user", "bot") and event.text:
            lines.append(
                {"from": event.type_name, "text": _shown(event.text, unmasked), "at": event.timestamp}
            )
    return lines


def _masked_context(context: Dict[str, Any]) -> Dict[str, Any]:
    """The context panel with what users typed masked (their first words, problem, tickets' texts)."""
    return {
        **context,
        "first_words": _shown(context.get("first_words"), False),
        "problem": _shown(context.get("problem"), False),
        "unhelpful_answer": [_shown(line, False) for line in context.get("unhelpful_answer") or []],
        "tickets": [
            {**ticket, "description": _shown(ticket.get("description"), False)}
            for ticket in context.get("tickets") or []
        ],
    }


def _agent_json(agent: accounts.Agent) -> Dict[str, Any]:
    return {
        "username": agent.username,
        "display_name": agent.display_name,
        "max_chats": agent.max_chats,
        "role": agent.role,
    }


def _queue_json(item: assignment.QueueItem, agent: accounts.Agent) -> Dict[str, Any]:
    green = item.green_channel
    return {
        "conversation_id": item.conversation_id,
        "topic": item.topic,
        "topic_title": item.topic_title,
        "description": _shown(item.description, item.agent == agent.username),
        "status": item.status,
        "agent": item.agent,
        "agent_name": item.agent_name,
        "mine": item.agent == agent.username,
        "enqueued_at": item.enqueued_at.isoformat(),
        "waiting_seconds": item.waiting_seconds,
        "green_channel": knowledge.channel(green)["name"] if green else None,
    }


class AgentConsoleInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "agent_console"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> InputChannel:
        return cls()

    def __init__(self, token: Optional[str] = None) -> None:
        web_origin.install()  # the Rasa server answers browsers from the project's web pages only
        self.token = token or os.environ.get(TOKEN_VARIABLE) or ""
        if not self.token:
            self.token = secrets.token_urlsafe(18)
            logger.warning("%s is not set; API token for this run: %s", TOKEN_VARIABLE, self.token)

    def _is_api_token(self, given: str) -> bool:
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:  # the console does not send user messages
        console = Blueprint("agent_console_api", __name__)
        channel = self

        @console.middleware("request")
        async def require_session(request: Request) -> Optional[HTTPResponse]:
            if request.method == "OPTIONS":
                return None
            is_login = request.path.endswith("/agent_console/login")
            wait = door.door().console_wait(door.client_address(request), is_login)
            if wait:  # before any database query or password check (channels/door.py)
                return _error(429, f"请求太频繁，请{wait}秒后再试", retry_after=wait)
            if is_login:
                return None
            given = _bearer(request)
            if request.path.endswith("/evidence") and request.method == "POST":
                return None if channel._is_api_token(given) else _error(401, "unauthorized")
            agent = accounts.session_agent(given) if given else None
            if agent is None:
                return _error(401, "未登录或登录已过期")
            accounts.touch(given)  # any use of the console keeps the agent online (agents/schema.py)
            request.ctx.agent, request.ctx.session_token = agent, given
            return None

        @console.route("/login", methods=["POST"])
        async def login(request: Request) -> HTTPResponse:
            body = _body(request)
            username, password = str(body.get("username") or ""), str(body.get("password") or "")
            try:
                session = await asyncio.to_thread(accounts.log_in, username, password)
            except accounts.LoginRefused as refused:
                await asyncio.sleep(FAILED_LOGIN_DELAY)
                if refused.reason == "locked":
                    minutes = max(1, (refused.retry_after + 59) // 60)
                    return _error(
                        429, f"密码错误次数过多，请{minutes}分钟后再试", retry_after=refused.retry_after
                    )
                return _error(401, "用户名或密码错误")
            return response.json(
                {
                    "token": session.token,
                    "expires_at": session.expires_at.isoformat(),
                    "agent": _agent_json(session.agent),
                }
            )

        @console.route("/logout", methods=["POST"])
        async def logout(request: Request) -> HTTPResponse:
            accounts.log_out(request.ctx.session_token)
            return response.json({"ok": True})

        @console.route("/me", methods=["GET"])
        async def me(request: Request) -> HTTPResponse:
            agent = request.ctx.agent
            return response.json(
                {"agent": _agent_json(agent), "open_chats": assignment.open_chats(agent.username)}
            )

        @console.route("/agents", methods=["GET"])
        async def colleagues(request: Request) -> HTTPResponse:
            """Agents online, for a hand-over."""
            online = [
                {**_agent_json(agent), "open_chats": assignment.open_chats(agent.username)}
                for agent in accounts.online_agents()
            ]
            return response.json({"agents": online})

        @console.route("/queue", methods=["GET"])
        async def queue(request: Request) -> HTTPResponse:
            items = assignment.queue(clock.now())
            return response.json({"queue": [_queue_json(item, request.ctx.agent) for item in items]})

        @console.route("/canned", methods=["GET"])
        async def canned(request: Request) -> HTTPResponse:
            language = "en" if request.args.get("language") == "en" else "zh"
            return response.json({"channels": canned_facts(language)})

        @console.route("/events", methods=["GET"])
        async def events(request: Request) -> Optional[HTTPResponse]:
            return await channel._stream(request)

        @console.route("/audit/reads", methods=["GET"])
        async def transcript_reads(request: Request) -> HTTPResponse:
            """Supervisors only: who opened which transcript, when (agents/audit.py)."""
            try:
                roles.require_role(request.ctx.agent, roles.SUPERVISOR)
            except roles.RoleRequired as refused:
                return _error(refused.status, refused.message)
            try:
                limit = int(request.args.get("limit") or 100)
            except ValueError:
                return _error(400, "limit must be a whole number")
            found = audit.reads(limit, request.args.get("conversation_id"), request.args.get("agent"))
            return response.json(
                {
                    "reads": [
                        {
                            "conversation_id": read.conversation_id,
                            "agent": read.agent,
                            "role": read.role,
                            "granted": read.granted,
                            "unmasked": read.unmasked,
                            "at": read.at.isoformat(),
                        }
                        for read in found
                    ]
                }
            )

        @console.route("/conversations/<conversation_id>", methods=["GET"])
        async def conversation(request: Request, conversation_id: str) -> HTTPResponse:
            try:
                conversation_id = _conversation_id(conversation_id)
            except ValueError as bad:
                return _error(400, str(bad))
            agent = request.ctx.agent
            reading = access.reading(agent, conversation_id)
            audit.record_read(conversation_id, agent, reading.allowed, reading.unmasked, clock.now())
            if not reading.allowed:
                holder = accounts.find_agent(reading.holder) if reading.holder else None
                message = (
                    f"该会话已由{holder.display_name}接入，您无权查看"
                    if holder
                    else access.ReadRefused.message
                )
                return _error(access.ReadRefused.status, message, conversation_id=conversation_id)
            tracker = await request.app.ctx.agent.processor.get_tracker(conversation_id)
            context = conversation_context(tracker)
            unmasked = reading.unmasked
            return response.json(
                {
                    "conversation_id": conversation_id,
                    "paused": tracker.is_paused(),
                    "agent": reading.holder,
                    "mine": reading.holder == agent.username,
                    "masked": not unmasked,
                    "messages": _transcript(tracker, unmasked),
                    "context": context if unmasked else _masked_context(context),
                    "notes": [
                        {
                            "author": note.author,
                            "text": _shown(note.text, unmasked),
                            "at": note.at.isoformat(),
                        }
                        for note in notes_of(conversation_id)
                    ],
                }
            )

        @console.route("/conversations/<conversation_id>/<command>", methods=["POST"])
        async def act(request: Request, conversation_id: str, command: str) -> HTTPResponse:
            try:
                conversation_id = _conversation_id(conversation_id)
            except ValueError as bad:
                return _error(400, str(bad))
            if command == "evidence":
                return await channel._evidence_received(request, conversation_id)
            handler = {
                "take": channel._take,
                "reply": channel._reply,
                "transfer": channel._transfer,
                "close": channel._close,
                "notes": channel._note,
            }.get(command)
            if handler is None:
                return _error(404, "unknown command")
            try:
                await handler(request, conversation_id, request.ctx.agent, _body(request))
            except (assignment.AssignmentRefused, access.ReadRefused) as refused:
                return _error(refused.status, refused.message)
            except ValueError as bad:
                return _error(400, str(bad))
            return response.json({"ok": True, "command": command})

        return console

    # The commands. Each one checks in the database first (who has the conversation), then changes it.

    async def _take(self, request: Request, conversation_id: str, agent: accounts.Agent, body: Dict) -> None:
        assignment.take(conversation_id, agent, clock.now())
        greeting = ([SlotSet("agent_name", agent.display_name)], "utter_agent_joined")
        await self._turn(request, conversation_id, [greeting], pause=True)
        live.safe_publish(conversation_id, "taken", agent.username)

    async def _reply(self, request: Request, conversation_id: str, agent: accounts.Agent, body: Dict) -> None:
        text = str(body.get("text") or "").strip()
        if not text:
            raise ValueError("回复不能为空")
        if len(text) > MAX_REPLY_CHARS:
            raise ValueError(f"回复不能超过{MAX_REPLY_CHARS}字")
        assignment.require_owner(conversation_id, agent)
        slots = [SlotSet("agent_name", agent.display_name), SlotSet("agent_message", text)]
        await self._turn(request, conversation_id, [(slots, "utter_agent_message")])
        assignment.record_reply(conversation_id, agent, text, clock.now())

    async def _transfer(
        self, request: Request, conversation_id: str, agent: accounts.Agent, body: Dict
    ) -> None:
        colleague = assignment.hand_over(conversation_id, agent, str(body.get("to") or ""), clock.now())
        step = ([SlotSet("agent_name", colleague.display_name)], "utter_agent_transferred")
        await self._turn(request, conversation_id, [step])
        live.safe_publish(conversation_id, "transferred", colleague.username)

    async def _close(self, request: Request, conversation_id: str, agent: accounts.Agent, body: Dict) -> None:
        """Resumes the bot, says goodbye (with the ticket recorded, if asked) and asks for a rating.

        Closing with `ticket` records the case as a closed ticket: the conversation's own ticket if it
        has one, else a new one with the agent's note (or the user's words) as its description.
        """
        note = str(body.get("text") or "").strip()[:MAX_REPLY_CHARS]
        assignment.require_owner(conversation_id, agent)
        goodbye: List[Any] = [
            SlotSet("agent_name", agent.display_name),
            SlotSet("queued_for_human", False),
            ConversationResumed(),
        ]
        utterance = "utter_agent_left"
        if body.get("ticket"):
            tracker = await request.app.ctx.agent.processor.get_tracker(conversation_id)
            goodbye.append(SlotSet("ticket_number", self._close_ticket(tracker, note)))
            utterance = "utter_agent_left_with_ticket"
        rating = [SlotSet("rated_agent", agent.username), SlotSet("rating_requested", True)]
        assignment.close(conversation_id, agent, note, clock.now())
        await self._turn(request, conversation_id, [(goodbye, utterance), (rating, "utter_ask_agent_rating")])
        live.safe_publish(conversation_id, "closed", agent.username)

    async def _note(self, request: Request, conversation_id: str, agent: accounts.Agent, body: Dict) -> None:
        access.require_read(agent, conversation_id)  # notes are written where the agent may read
        add_note(conversation_id, agent, str(body.get("text") or ""), clock.now())
        live.safe_publish(conversation_id, "note", agent.username)

    async def _turn(
        self, request: Request, conversation_id: str, steps: List[Step], pause: bool = False
    ) -> None:
        """The bot's turn in the user's channel: for each step its events, then its utterance; ended
        with action_listen (so that the user's next message is answered, not met with a listen) and,
        with `pause`, ConversationPaused (the bot stays silent while the agent has the conversation)."""
        rasa_agent = request.app.ctx.agent
        processor = rasa_agent.processor
        async with rasa_agent.lock_store.lock(conversation_id):
            for events, utterance in steps:
                tracker = await processor.fetch_tracker_and_update_session(conversation_id)
                for event in events:
                    tracker.update(event)
                await processor.save_tracker(tracker)
                output = self._output_channel_for(request, tracker.get_latest_input_channel())
                await rasa_agent.execute_action(conversation_id, utterance, output, None, 1.0)
            tracker = await processor.get_tracker(conversation_id)
            tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
            if pause:
                tracker.update(ConversationPaused())
            await processor.save_tracker(tracker)

    async def _stream(self, request: Request) -> None:
        """Server-sent events: every console event after the last one the page saw (Last-Event-ID).

        The stream ends as soon as its session does: a log-out, a disabled agent or a new password writes
        a `session_ended` event (agents/accounts.py), read here at once in this process and within a
        second from another one, and the session is checked then; an expiry is noticed at the next
        touch (TOUCH_SECONDS)."""
        token = request.ctx.session_token
        username = request.ctx.agent.username
        try:
            last_id = int(
                request.headers.get("Last-Event-ID") or request.args.get("after") or live.latest_id()
            )
        except ValueError:
            last_id = live.latest_id()
        stream = await request.respond(
            content_type="text/event-stream", headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        )
        started = last_touch = time.monotonic()
        accounts.touch(token)
        try:
            await stream.send(f"retry: 2000\nevent: hello\ndata: {json.dumps({'last_id': last_id})}\n\n")
            while time.monotonic() - started < STREAM_SECONDS:
                if time.monotonic() - last_touch >= TOUCH_SECONDS:
                    if accounts.session_agent(token) is None:
                        break  # logged out or expired: the page must log in again
                    accounts.touch(token)
                    last_touch = time.monotonic()
                    await stream.send(": still here\n\n")
                ended = False
                for event in live.events_after(last_id):
                    if event.kind == live.SESSION_ENDED and event.agent == username:
                        ended = accounts.session_agent(token) is None
                        if ended:
                            break
                    data = {
                        "conversation_id": event.conversation_id,
                        "kind": event.kind,
                        "agent": event.agent,
                    }
                    await stream.send(f"id: {event.id}\nevent: console\ndata: {json.dumps(data)}\n\n")
                    last_id = event.id
                if ended:
                    await stream.send("event: ended\ndata: {}\n\n")  # the page asks to log in again
                    break
                await live.wait_for_news()
        except (ConnectionError, asyncio.CancelledError):
            return  # the page went away
        await stream.eof()

    async def _evidence_received(self, request: Request, conversation_id: str) -> HTTPResponse:
        """The upload server (evidence/notify.py) reports files received for the conversation's ticket:
        the user is told in their own channel (utter_evidence_received), as an agent's reply is."""
        body = _body(request)
        ticket, count = str(body.get("ticket") or ""), body.get("count")
        if not TICKET_NUMBER.match(ticket) or not isinstance(count, int) or not 0 < count <= MAX_EVIDENCE:
            return _error(400, "ticket number and a file count required")
        found = store.find_ticket(ticket)
        if found is None or found.conversation_id != conversation_id:
            return _error(404, "no such ticket in this conversation")
        slots = [SlotSet("ticket_number", ticket), SlotSet("evidence_received", str(count))]
        await self._turn(request, conversation_id, [(slots, "utter_evidence_received")])
        live.safe_publish(conversation_id, "evidence")
        return response.json({"ok": True, "command": "evidence"})

    @staticmethod
    def _close_ticket(tracker: Any, note: str) -> str:
        number = tracker.get_slot("ticket_number")
        if number and store.find_ticket(number):
            store.set_ticket_status(number, "closed")
            return number
        conversation_id = tracker.sender_id
        topic = store.queue_topic(conversation_id) or tracker.get_slot("topic") or "contact_general"
        ticket = store.create_ticket(
            conversation_id=conversation_id,
            topic=topic,
            description=note or tracker.get_slot("problem_text") or knowledge.topic_title(topic),
            contact_channel="app",
            contact_detail=conversation_id[:64],
            now=clock.now(),
            status="closed",
        )
        return ticket.number

    @staticmethod
    def _output_channel_for(request: Request, channel_name: Optional[str]) -> OutputChannel:
        """The output of the channel the user last wrote from (as `output_channel=latest` does)."""
        for input_channel in getattr(request.app.ctx, "input_channels", None) or []:
            if input_channel.name() == channel_name:
                output = input_channel.get_output_channel()
                if output is not None:
                    return output
        return CollectingOutputChannel()
