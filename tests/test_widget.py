"""What the socketio channel adds for the chat page (channels/widget.py): the end of each reply, and
only the page's mode kept from the widget's customData. (In a real browser: tests/test_browser.py.)"""

from __future__ import annotations

import asyncio
from typing import Any, Dict, List, Tuple

import pytest
from rasa.core.channels.channel import UserMessage
from rasa.core.channels.socketio import SocketIOOutput

from channels.widget import TURN_END_EVENT, for_the_page, page_metadata


class RecordingServer:
    """Stands in for the socket.io server: records what is emitted, to which room."""

    def __init__(self) -> None:
        self.emitted: List[Tuple[str, Any, str]] = []

    async def emit(self, event: str, data: Any = None, room: str = "") -> None:
        self.emitted.append((event, data, room))


def handle(handler, text: str, metadata: Dict[str, Any]) -> Tuple[RecordingServer, UserMessage]:
    server = RecordingServer()
    message = UserMessage(text, SocketIOOutput(server, "bot_uttered"), "session-1", metadata=metadata)
    asyncio.run(for_the_page(handler)(message))
    return server, message


def test_the_end_of_a_reply_follows_its_last_message() -> None:
    async def answer(message: UserMessage) -> None:
        for text in ("☎ 普通热线（内地）：400-992-2556", "以上回答解决您的问题了吗？"):
            await message.output_channel.send_text_message(message.sender_id, text)

    server, _ = handle(answer, "客服电话多少", {})
    assert [event for event, _, _ in server.emitted] == ["bot_uttered", "bot_uttered", TURN_END_EVENT]
    assert {room for _, _, room in server.emitted} == {"session-1"}  # the conversation's room


def test_a_silent_bot_or_a_failure_still_ends_the_reply() -> None:
    async def silent(message: UserMessage) -> None:  # a human agent has the conversation
        return None

    async def failing(message: UserMessage) -> None:
        raise RuntimeError("the tracker store is down")

    server, _ = handle(silent, "还在吗", {})
    assert [event for event, _, _ in server.emitted] == [TURN_END_EVENT]
    server = RecordingServer()
    message = UserMessage("hi", SocketIOOutput(server, "bot_uttered"), "session-2")
    with pytest.raises(RuntimeError):  # the channel's own handler (always_reply) answers the user
        asyncio.run(for_the_page(failing)(message))
    assert server.emitted == [(TURN_END_EVENT, {}, "session-2")]


def test_only_the_page_mode_is_kept_from_the_widget_metadata() -> None:
    seen: List[Dict[str, Any]] = []

    async def record(message: UserMessage) -> None:
        seen.append(message.metadata)

    handle(record, "客服电话", {"mode": "elder", "language": "en", "blob": "x" * 10_000})
    handle(record, "客服电话", {"mode": "<script>"})
    assert seen == [{"mode": "elder"}, {}]
    assert page_metadata(None) == {} and page_metadata("elder") == {}  # type: ignore[arg-type]
    assert page_metadata({"mode": "normal"}) == {"mode": "normal"}
