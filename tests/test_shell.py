"""`make shell`'s client (scripts/shell.py): typed lines are sent as typed, buttons only by #n or title."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from typing import List

import pytest
from sqlalchemy import create_engine, text

from scripts.servers import free_port
from scripts.shell import Chat
from tests.bot import RunningBot, button_payloads, new_sender
from tests.conftest import ROOT

SHELL = ROOT / "scripts" / "shell.py"
BUTTONS = [{"title": "已解决", "payload": "/affirm_solved"}, {"title": "转人工", "payload": "/request_human"}]


def run_shell(url: str, sender: str, lines: List[str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, str(SHELL), "--url", url, "--sender", sender],
        input="".join(line + "\n" for line in lines),
        capture_output=True,
        text=True,
        encoding="utf-8",
        timeout=180,
        env={**os.environ, "PYTHONWARNINGS": "default"},  # the client silences warnings itself
    )


def user_texts(bot: RunningBot, sender: str) -> List[str]:
    """What the server received from `sender`, from its SQL tracker store (the HTTP API is not enabled)."""
    with create_engine(f"sqlite:///{bot.workdir / 'tracker.db'}").connect() as connection:
        rows = connection.execute(
            text("SELECT data FROM events WHERE sender_id = :s AND type_name = 'user' ORDER BY id"),
            {"s": sender},
        )
        return [json.loads(data)["text"] for (data,) in rows]


def test_a_line_is_sent_as_typed_and_a_button_only_by_number_or_title() -> None:
    chat = Chat("http://localhost:1", "me")
    assert chat.to_send("#1") is None  # no buttons shown: nothing sent
    chat.buttons = BUTTONS
    assert chat.to_send("5") == "5"
    assert chat.to_send("1") == "1"
    assert chat.to_send(" 我的账号被封了 ") == " 我的账号被封了 "
    assert chat.to_send("#2") == "/request_human"
    assert chat.to_send("已解决") == "/affirm_solved"
    assert chat.to_send("#3") is None
    assert chat.to_send("#抖音") == "#抖音"


def test_an_unreachable_server_gets_one_line_and_the_prompt_again() -> None:
    result = run_shell(f"http://127.0.0.1:{free_port()}", "nobody", ["你好", "还在吗"])
    assert result.returncode == 0
    assert result.stdout.count("did not answer") == 2, result.stdout
    assert "Traceback" not in result.stdout + result.stderr
    assert result.stderr == ""


@pytest.mark.servers
def test_typed_digits_are_messages_and_hash_numbers_choose_buttons(tmp_path) -> None:
    bot = RunningBot(tmp_path).start("2026-11-25T10:00:00+08:00")
    try:
        # The same conversation through the REST channel directly: the buttons the shell will show.
        mirror = new_sender()
        greeting = bot.say(mirror, "你好")
        for line in ["我的账号被封了", "5"]:
            bot.say(mirror, line)
        first_payload = button_payloads(bot.say(mirror, "我的账号被封了"))[0]
        assert button_payloads(greeting), "the greeting should show buttons"

        sender = new_sender()
        lines = ["你好", "我的账号被封了", "5", "我的账号被封了", "#1", "/stop", "not sent after /stop"]
        result = run_shell(f"http://127.0.0.1:{bot.rasa_port}", sender, lines)
        sent = user_texts(bot, sender)
    finally:
        bot.stop()

    assert result.returncode == 0, result.stderr
    assert sender in result.stdout.splitlines()[0]  # the conversation id, for the agent console
    assert "  [1] " in result.stdout and result.stdout.count("#1, #2") == 1  # the hint, once
    assert "Warning" not in result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    # "5" typed while 已解决/没解决/转人工 are shown is the text "5", not the first button's payload.
    assert sent == ["你好", "我的账号被封了", "5", "我的账号被封了", first_payload]
    assert not any(message.startswith("/rate") for message in sent)
