"""What the web chat page (web/static/chat.js) exchanges with the socketio channel besides messages.

- **The end of a reply.** Rasa sends a reply as several messages and says nothing when the last one has
  gone. After the bot has handled a user's message (answered it, or stayed silent because a human agent
  has the conversation) the channel emits `bot_turn_end` to the conversation's room, so the page shows
  the user's next message only below the whole reply to the previous one. A message refused at the
  door (channels/reliable.py) gets it after its refusal.
- **The page's mode.** The widget sends its `customData` with every message (credentials.yml reads it
  as the message's metadata); only the page's mode (`{"mode": "elder"}` for 长辈模式) is kept, so the
  tracker records which messages were written in the elder mode and nothing else a page might send.
"""

from __future__ import annotations

import logging
from typing import Any, Awaitable, Callable, Dict, Optional

from rasa.core.channels.channel import UserMessage

logger = logging.getLogger(__name__)

TURN_END_EVENT = "bot_turn_end"
PAGE_MODES = ("normal", "elder")
OnNewMessage = Callable[[UserMessage], Awaitable[Any]]


def page_metadata(metadata: Optional[Dict[str, Any]]) -> Dict[str, Any]:
    """The part of a widget message's metadata the bot keeps: the page's mode, when it is a known one."""
    mode = metadata.get("mode") if isinstance(metadata, dict) else None
    return {"mode": mode} if mode in PAGE_MODES else {}


def for_the_page(on_new_message: OnNewMessage) -> OnNewMessage:
    """Wraps the socketio channel's message handler: metadata filtered, `bot_turn_end` once handled."""

    async def handle(message: UserMessage) -> None:
        output = message.output_channel  # Rasa's SocketIOOutput, before any wrapping
        message.metadata = page_metadata(message.metadata)
        try:
            await on_new_message(message)
        finally:
            sio = getattr(output, "sio", None)
            if sio is not None:
                try:
                    await sio.emit(TURN_END_EVENT, {}, room=message.sender_id)
                except Exception:  # the page falls back on a time limit
                    logger.exception("Could not tell the page that the reply has ended.")

    return handle
