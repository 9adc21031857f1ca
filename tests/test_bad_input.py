"""Bad input and a failing action server, through the REST channel of the real servers."""

from __future__ import annotations

import pytest
import requests
import yaml

from tests.bot import RunningBot, joined, new_sender
from tests.conftest import ROOT

pytestmark = pytest.mark.servers

CORPUS = yaml.safe_load((ROOT / "tests" / "data" / "bad_inputs.yml").read_text("utf-8"))
SIM_NOW = "2026-11-25T10:00:00+08:00"


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory):
    running = RunningBot(tmp_path_factory.mktemp("bad-input")).start(SIM_NOW)
    yield running
    running.stop()


def webhook(bot: RunningBot) -> str:
    return f"http://localhost:{bot.rasa_port}/webhooks/rest/webhook"


def assert_clear_reply(messages) -> None:
    assert messages, "silence"
    text = joined(messages)
    assert text.strip(), "only empty messages"
    assert "Traceback" not in text and "Error" not in text


@pytest.mark.parametrize("entry", CORPUS["messages"], ids=[e["name"] for e in CORPUS["messages"]])
def test_every_bad_message_gets_a_clear_reply(bot: RunningBot, entry) -> None:
    text = entry["text"] * entry.get("repeat", 1)
    sender = new_sender()
    response = requests.post(webhook(bot), json={"sender": sender, "message": text}, timeout=60)
    assert response.status_code == (413 if entry.get("refused") else 200)
    replies = response.json()
    assert_clear_reply(replies)
    assert ("上限" in joined(replies)) == bool(entry.get("refused"))
    # and the conversation still works afterwards
    assert "400-992-2556" in joined(bot.say(sender, "客服电话多少"))


@pytest.mark.parametrize("entry", CORPUS["requests"], ids=[e["name"] for e in CORPUS["requests"]])
def test_every_malformed_request_gets_a_clear_4xx(bot: RunningBot, entry) -> None:
    response = requests.post(
        webhook(bot),
        data=entry["body"].encode("utf-8"),
        headers={"Content-Type": entry["content_type"]},
        timeout=30,
    )
    assert 400 <= response.status_code < 500
    assert "error" in response.json()


def test_action_server_down_gets_the_hotline_not_silence(bot: RunningBot) -> None:
    sender = new_sender()
    bot.say(sender, "你好")
    bot.actions.stop()
    try:
        reply = joined(bot.say(sender, "作品被限流了怎么办"))
    finally:
        bot.restart_actions(SIM_NOW)
    assert "暂时无法为您查询" in reply and "400-992-2556" in reply
    assert "作品限流" in joined(bot.say(sender, "作品被限流了怎么办"))


def test_domain_hotline_is_the_knowledge_hotline() -> None:
    from core import knowledge

    domain = yaml.safe_load((ROOT / "domain.yml").read_text("utf-8"))
    text = domain["responses"]["utter_service_unavailable"][0]["text"]
    hotline = knowledge.channel("hotline")
    assert hotline["contact"] in text and hotline["hours"].split("（")[0] in text
