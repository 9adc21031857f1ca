"""The agents' console API against the running bot: limits, hand-over, queue order, notes, canned facts,
the live stream, log-in lock-out and log-out. The browser side is in tests/test_browser.py."""

from __future__ import annotations

import json
import time

import pytest
import requests

from actions import knowledge
from tests.bot import RunningBot, joined, new_sender

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory):
    running = RunningBot(tmp_path_factory.mktemp("console")).start("2026-11-25T10:00:00+08:00")
    running.add_agent("ann", "安安", max_chats=2)
    running.add_agent("bo", "波波")
    running.add_agent("cy", "小财")
    yield running
    running.stop()


def queued_user(bot: RunningBot, problem: str) -> str:
    sender = new_sender()
    bot.say(sender, "转人工")
    assert "排在第" in joined(bot.say(sender, problem))
    return sender


def post(bot: RunningBot, headers: dict, conversation: str, command: str, **body) -> requests.Response:
    url = f"{bot.console_url}/conversations/{conversation}/{command}"
    return requests.post(url, json=body, headers=headers, timeout=30)


def conversation(bot: RunningBot, headers: dict, sender: str) -> dict:
    return requests.get(f"{bot.console_url}/conversations/{sender}", headers=headers, timeout=30).json()


def test_an_agent_holds_no_more_chats_than_their_limit(bot: RunningBot) -> None:
    ann = bot.agent_headers("ann")
    users = [queued_user(bot, f"我的直播间被限流了 {n}") for n in range(3)]
    assert [post(bot, ann, user, "take").status_code for user in users[:2]] == [200, 200]
    third = post(bot, ann, users[2], "take")
    assert third.status_code == 409 and "上限" in third.json()["error"]
    assert post(bot, ann, users[0], "close").status_code == 200
    assert post(bot, ann, users[2], "take").status_code == 200
    me = requests.get(f"{bot.console_url}/me", headers=ann, timeout=30).json()
    assert me["open_chats"] == 2 and me["agent"]["max_chats"] == 2
    for user in users[1:]:
        post(bot, ann, user, "close")


def test_the_queue_is_longest_waiting_first_with_green_channels_flagged(bot: RunningBot) -> None:
    ordinary = queued_user(bot, "充值的抖币没到账")
    time.sleep(1.1)
    stolen = queued_user(bot, "我的账号被盗了")
    queue = requests.get(f"{bot.console_url}/queue", headers=bot.agent_headers("bo"), timeout=30).json()[
        "queue"
    ]
    ids = [entry["conversation_id"] for entry in queue]
    assert ids.index(ordinary) < ids.index(stolen)
    waits = [entry["waiting_seconds"] for entry in queue]
    assert waits == sorted(waits, reverse=True)
    flags = {entry["conversation_id"]: entry["green_channel"] for entry in queue}
    assert flags[stolen] == knowledge.channel("emergency_line")["name"] and flags[ordinary] is None


def test_a_hand_over_goes_only_to_a_colleague_who_is_online(bot: RunningBot) -> None:
    ann = bot.agent_headers("ann")
    user = queued_user(bot, "企业号认证失败了")
    assert post(bot, ann, user, "take").status_code == 200
    offline = post(bot, ann, user, "transfer", to="cy")  # cy has an account but is not logged in
    assert offline.status_code == 409 and "不在线" in offline.json()["error"]
    cy = bot.agent_headers("cy")
    online = requests.get(f"{bot.console_url}/agents", headers=ann, timeout=30).json()["agents"]
    assert "cy" in [agent["username"] for agent in online]
    assert post(bot, ann, user, "transfer", to="cy").status_code == 200
    assert post(bot, ann, user, "reply", text="还在吗").status_code == 403  # no longer ann's
    assert post(bot, cy, user, "reply", text="您好，我是小财").status_code == 200
    said = [m["text"] for m in conversation(bot, cy, user)["messages"]]
    assert "您的会话已转交人工客服小财，请稍候。" in said and "人工客服小财：您好，我是小财" in said
    post(bot, cy, user, "close")


def test_notes_are_kept_for_agents_and_never_said_to_the_user(bot: RunningBot) -> None:
    bo = bot.agent_headers("bo")
    user = queued_user(bot, "我要投诉客服态度")
    assert post(bot, bo, user, "take").status_code == 200
    assert post(bot, bo, user, "notes", text="  ").status_code == 400
    assert post(bot, bo, user, "notes", text="用户第二次来电，先道歉").status_code == 200
    seen_by_colleague = conversation(bot, bot.agent_headers("ann"), user)
    assert [(n["author"], n["text"]) for n in seen_by_colleague["notes"]] == [
        ("波波", "用户第二次来电，先道歉")
    ]
    assert "先道歉" not in json.dumps(seen_by_colleague["messages"], ensure_ascii=False)
    post(bot, bo, user, "close")


def test_canned_facts_are_the_knowledge_files_own(bot: RunningBot) -> None:
    headers = bot.agent_headers("bo")
    for language in ("zh", "en"):
        canned = requests.get(
            f"{bot.console_url}/canned?language={language}", headers=headers, timeout=30
        ).json()
        by_channel = {group["channel"]: group for group in canned["channels"]}
        assert set(by_channel) == set(knowledge.channels())
        for channel_id, info in knowledge.channels().items():
            facts = {fact["aspect"]: fact["text"] for fact in by_channel[channel_id]["facts"]}
            assert knowledge.localized(info, "contact", language) in facts["contact"]
            assert ("hours" in facts) == bool(info.get("hours"))


def next_event_about(lines, sender: str) -> dict:
    deadline = time.monotonic() + 20
    for line in lines:
        if line.startswith("data:") and sender in line:
            return json.loads(line[len("data:") :])
        assert time.monotonic() < deadline, "nothing was announced"
    raise AssertionError("the stream ended")


def test_the_live_stream_tells_of_a_queued_conversation_and_what_the_user_adds(bot: RunningBot) -> None:
    headers = bot.agent_headers("bo")
    stream = requests.get(f"{bot.console_url}/events", headers=headers, stream=True, timeout=30)
    assert stream.headers["content-type"].startswith("text/event-stream")
    lines = stream.iter_lines(decode_unicode=True)
    assert next(lines) == "retry: 2000"
    sender = queued_user(bot, "直播间无法开播")
    assert next_event_about(lines, sender) == {"conversation_id": sender, "kind": "queued", "agent": None}
    bot.say(sender, "提示说我违反了社区规定")  # still waiting: the consoles hear it
    assert next_event_about(lines, sender) == {"conversation_id": sender, "kind": "message", "agent": None}
    stream.close()


def test_wrong_passwords_lock_the_name_and_log_out_ends_the_session(bot: RunningBot) -> None:
    bot.add_agent("dee", "迪迪")
    login = f"{bot.console_url}/login"
    for _ in range(5):
        wrong = requests.post(login, json={"username": "dee", "password": "guess-guess"}, timeout=30)
        assert wrong.status_code == 401 and wrong.json()["error"] == "用户名或密码错误"
    locked = requests.post(login, json={"username": "dee", "password": "correct-horse-battery"}, timeout=30)
    assert locked.status_code == 429 and locked.json()["retry_after"] > 0
    assert "token" not in locked.json()

    headers = bot.agent_headers("bo")
    assert requests.post(f"{bot.console_url}/logout", headers=headers, timeout=30).status_code == 200
    assert requests.get(f"{bot.console_url}/queue", headers=headers, timeout=30).status_code == 401
    garbage = requests.post(login, data="not json", timeout=30)
    assert garbage.status_code == 401
