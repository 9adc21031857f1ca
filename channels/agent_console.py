"""The human agents' side of the transfer: an input channel whose API the agent console page calls.

An agent lists the queue, reads a transcript, takes a conversation (Rasa's ConversationPaused: the bot
stops answering), replies (an utterance sent through the user's own channel, e.g. the web widget), and
closes the case (ConversationResumed: the bot answers again). It does what Rasa's HTTP API endpoints
`/conversations/{id}/tracker/events` and `/conversations/{id}/execute?output_channel=...` do, behind
the agent token instead of the server's admin token. Every agent action is recorded in the SQL store.
"""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from typing import Any, Awaitable, Callable, Dict, List, Optional

from rasa.core.channels.channel import CollectingOutputChannel, InputChannel, OutputChannel, UserMessage
from rasa.shared.core.constants import ACTION_LISTEN_NAME
from rasa.shared.core.events import ActionExecuted, ConversationPaused, ConversationResumed, SlotSet
from sanic import Blueprint, response
from sanic.request import Request
from sanic.response import HTTPResponse

from actions import clock, knowledge, store
from evidence.links import TICKET_NUMBER

logger = logging.getLogger(__name__)

TOKEN_VARIABLE = "CS_AGENT_TOKEN"
MAX_REPLY_CHARS = 2000
AGENT_NAME_CHARS = 32
MAX_EVIDENCE = 1000  # files in one "已收到 N 个文件" (a ticket holds far fewer)


def _error(status: int, message: str) -> HTTPResponse:
    return response.json({"error": message}, status=status)


def _transcript(tracker: Any) -> List[Dict[str, Any]]:
    """User and bot messages of a tracker, oldest first, as plain text (rendered as text by the page)."""
    lines = []
    for event in tracker.events:
        if event.type_name in ("user", "bot") and event.text:
            lines.append({"from": event.type_name, "text": event.text, "at": event.timestamp})
    return lines


class AgentConsoleInput(InputChannel):
    @classmethod
    def name(cls) -> str:
        return "agent_console"

    @classmethod
    def from_credentials(cls, credentials: Optional[Dict[str, Any]]) -> InputChannel:
        return cls()

    def __init__(self, token: Optional[str] = None) -> None:
        self.token = token or os.environ.get(TOKEN_VARIABLE) or ""
        if not self.token:
            self.token = secrets.token_urlsafe(18)
            logger.warning("%s is not set; agent console token for this run: %s", TOKEN_VARIABLE, self.token)

    def _authorized(self, request: Request) -> bool:
        header = request.headers.get("Authorization", "")
        given = header[len("Bearer ") :] if header.startswith("Bearer ") else ""
        return bool(given) and hmac.compare_digest(given.encode(), self.token.encode())

    def blueprint(
        self, on_new_message: Callable[[UserMessage], Awaitable[Any]]
    ) -> Blueprint:  # the console does not send user messages
        console = Blueprint("agent_console_api", __name__)
        channel = self

        @console.middleware("request")
        async def require_token(request: Request) -> Optional[HTTPResponse]:
            if request.method != "OPTIONS" and not channel._authorized(request):
                return _error(401, "unauthorized")
            return None

        @console.route("/queue", methods=["GET"])
        async def queue(request: Request) -> HTTPResponse:
            now = clock.now()
            entries = [
                {
                    "conversation_id": entry.conversation_id,
                    "topic": entry.topic,
                    "topic_title": knowledge.topic_title(entry.topic),
                    "description": entry.description,
                    "status": entry.status,
                    "agent": entry.agent,
                    "enqueued_at": entry.enqueued_at.isoformat(),
                    "waiting_seconds": max(0, int((now - entry.enqueued_at).total_seconds())),
                }
                for entry in store.open_queue()
            ]
            return response.json({"queue": entries})

        @console.route("/conversations/<conversation_id>", methods=["GET"])
        async def transcript(request: Request, conversation_id: str) -> HTTPResponse:
            tracker = await request.app.ctx.agent.processor.get_tracker(conversation_id)
            return response.json(
                {
                    "conversation_id": conversation_id,
                    "paused": tracker.is_paused(),
                    "messages": _transcript(tracker),
                }
            )

        @console.route("/conversations/<conversation_id>/<command>", methods=["POST"])
        async def act(request: Request, conversation_id: str, command: str) -> HTTPResponse:
            if command == "evidence":
                return await channel._evidence_received(request, conversation_id)
            if command not in ("take", "reply", "close"):
                return _error(404, "unknown command")
            body = request.json if isinstance(request.json, dict) else {}
            agent_name = str(body.get("agent") or "").strip()[:AGENT_NAME_CHARS]
            text = str(body.get("text") or "").strip()
            if not agent_name:
                return _error(400, "agent name required")
            if command == "reply" and not text:
                return _error(400, "empty reply")
            if len(text) > MAX_REPLY_CHARS:
                return _error(400, f"reply longer than {MAX_REPLY_CHARS} characters")
            with_ticket = command == "close" and bool(body.get("ticket"))
            await channel._apply(request, conversation_id, command, agent_name, text, with_ticket)
            store.record_agent_action(conversation_id, agent_name, command, text, clock.now())
            return response.json({"ok": True, "command": command})

        return console

    async def _apply(
        self,
        request: Request,
        conversation_id: str,
        command: str,
        agent: str,
        text: str,
        with_ticket: bool = False,
    ) -> None:
        """Pauses, relays or resumes the conversation, and tells the user through their own channel.

        Closing `with_ticket` records the case as a closed ticket: the conversation's own ticket if it
        has one, else a new one with the agent's note (or the user's words) as its description.
        """
        rasa_agent = request.app.ctx.agent
        processor = rasa_agent.processor
        async with rasa_agent.lock_store.lock(conversation_id):
            tracker = await processor.fetch_tracker_and_update_session(conversation_id)
            tracker.update(SlotSet("agent_name", agent))
            if command == "reply":
                tracker.update(SlotSet("agent_message", text))
            elif command == "close":
                tracker.update(ConversationResumed())
            utterance = {
                "take": "utter_agent_joined",
                "reply": "utter_agent_message",
                "close": "utter_agent_left",
            }[command]
            if with_ticket:
                tracker.update(SlotSet("ticket_number", self._close_ticket(tracker, text)))
                utterance = "utter_agent_left_with_ticket"
            await processor.save_tracker(tracker)
            output = self._output_channel_for(request, tracker.get_latest_input_channel())
            await rasa_agent.execute_action(conversation_id, utterance, output, None, 1.0)
            # The utterance is the bot's turn: end it with action_listen so that the user's next message
            # is answered (after close) instead of predicting a listen first.
            tracker = await processor.get_tracker(conversation_id)
            tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
            if command == "take":
                # Paused once the agent's greeting is out: the bot stays silent in this conversation.
                tracker.update(ConversationPaused())
            await processor.save_tracker(tracker)

    async def _evidence_received(self, request: Request, conversation_id: str) -> HTTPResponse:
        """The upload server (evidence/notify.py) reports files received for the conversation's ticket:
        the user is told in their own channel (utter_evidence_received), as an agent's reply is."""
        body = request.json if isinstance(request.json, dict) else {}
        ticket, count = str(body.get("ticket") or ""), body.get("count")
        if not TICKET_NUMBER.match(ticket) or not isinstance(count, int) or not 0 < count <= MAX_EVIDENCE:
            return _error(400, "ticket number and a file count required")
        found = store.find_ticket(ticket)
        if found is None or found.conversation_id != conversation_id:
            return _error(404, "no such ticket in this conversation")
        slots = [SlotSet("ticket_number", ticket), SlotSet("evidence_received", str(count))]
        await self._say(request, conversation_id, "utter_evidence_received", slots)
        return response.json({"ok": True, "command": "evidence"})

    async def _say(self, request: Request, conversation_id: str, utterance: str, events: List[Any]) -> None:
        """Applies `events`, then says `utterance` in the user's channel as the bot's turn."""
        rasa_agent = request.app.ctx.agent
        processor = rasa_agent.processor
        async with rasa_agent.lock_store.lock(conversation_id):
            tracker = await processor.fetch_tracker_and_update_session(conversation_id)
            for event in events:
                tracker.update(event)
            await processor.save_tracker(tracker)
            output = self._output_channel_for(request, tracker.get_latest_input_channel())
            await rasa_agent.execute_action(conversation_id, utterance, output, None, 1.0)
            tracker = await processor.get_tracker(conversation_id)
            tracker.update(ActionExecuted(ACTION_LISTEN_NAME))
            await processor.save_tracker(tracker)

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
