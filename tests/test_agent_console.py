"""The agents' console API against the running bot: limits, hand-over, queue order, notes, canned facts,
the live stream, log-in lock-out and log-out, who reads which transcript (masked or not, recorded),
streams that end with their session, ids as users' channels chose them, and CORS. The browser side is in
tests/test_browser.py."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from urllib.parse import quote

import pytest
import requests

from core import knowledge, store
from evidence.config import Settings
from evidence.notify import tell_conversation
from tests.bot import RunningBot, joined, new_sender
from tests.conftest import ROOT

pytestmark = pytest.mark.servers


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory):
    running = RunningBot(tmp_path_factory.mktemp("console")).start("2026-11-25T10:00:00+08:00")
    running.add_agent("ann", "安安", max_chats=2)
    running.add_agent("bo", "波波")
    running.add_agent("cy", "小财")
    running.add_agent("sue", "苏主管", role="supervisor")
    yield running
    running.stop()


def queued_user(bot: RunningBot, problem: str) -> str:
    sender = new_sender()
    bot.say(sender, "转人工")
    assert "排在第" in joined(bot.say(sender, problem))
    return sender


def post(bot: RunningBot, headers: dict, conversation: str, command: str, **body) -> requests.Response:
    """A console command, the id encoded as the console page encodes it (encodeURIComponent)."""
    url = f"{bot.console_url}/conversations/{quote(conversation, safe='')}/{command}"
    return requests.post(url, json=body, headers=headers, timeout=30)


def read(bot: RunningBot, headers: dict, sender: str) -> requests.Response:
    url = f"{bot.console_url}/conversations/{quote(sender, safe='')}"
    return requests.get(url, headers=headers, timeout=30)


def conversation(bot: RunningBot, headers: dict, sender: str) -> dict:
    answer = read(bot, headers, sender)
    assert answer.status_code == 200, answer.text
    return answer.json()


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
    seen_by_supervisor = conversation(bot, bot.agent_headers("sue"), user)
    assert [(n["author"], n["text"]) for n in seen_by_supervisor["notes"]] == [
        ("波波", "用户第二次来电，先道歉")
    ]
    assert "先道歉" not in json.dumps(seen_by_supervisor["messages"], ensure_ascii=False)
    # A colleague who has nothing to do with the conversation neither reads nor annotates it.
    assert post(bot, bot.agent_headers("ann"), user, "notes", text="我也来看看").status_code == 403
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
    listed = requests.get(f"{bot.console_url}/queue", headers=headers, timeout=30).json()
    assert sender in json.dumps(listed)
    assert "取消排队" in joined(bot.say(sender, "不想等了，取消排队吧"))  # the user leaves the queue
    assert next_event_about(lines, sender) == {"conversation_id": sender, "kind": "message", "agent": None}
    assert next_event_about(lines, sender) == {"conversation_id": sender, "kind": "left", "agent": None}
    listed = requests.get(f"{bot.console_url}/queue", headers=headers, timeout=30).json()
    assert sender not in json.dumps(listed)  # gone from every console's queue
    assert post(bot, headers, sender, "take").status_code == 404  # nobody takes who left
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


# --- least privilege: who reads which transcript, masked or not, and the record of it ---------------

PERSONAL = "我的手机号13812345678，邮箱zhang.san@qq.com，密码是Abc@12345，账号被盗了"


def test_an_agent_reads_what_is_queued_theirs_or_handled_and_every_read_is_recorded(bot: RunningBot) -> None:
    ann, bo, sue = bot.agent_headers("ann"), bot.agent_headers("bo"), bot.agent_headers("sue")
    user = queued_user(bot, PERSONAL)

    # Waiting in the queue: any agent may look before taking it, with the personal data masked.
    waiting = conversation(bot, bo, user)
    said = json.dumps(waiting, ensure_ascii=False)
    assert waiting["masked"] is True and "138****5678" in said and "z***@qq.com" in said
    assert "13812345678" not in said and "zhang.san" not in said and "Abc@12345" not in said
    queue = requests.get(f"{bot.console_url}/queue", headers=bo, timeout=30).json()["queue"]
    (entry,) = [entry for entry in queue if entry["conversation_id"] == user]
    assert "13812345678" not in entry["description"] and "138****5678" in entry["description"]

    # Taken by ann: she reads it unmasked (a published number stays as it is in any case) ...
    assert post(bot, ann, user, "take").status_code == 200
    owned = conversation(bot, ann, user)
    assert owned["masked"] is False and owned["mine"] is True
    assert PERSONAL in [message["text"] for message in owned["messages"]]
    assert "13812345678" in owned["context"]["problem"] and "Abc@12345" in owned["context"]["problem"]
    # ... a colleague is refused, with a reason, and cannot write a note in it either ...
    refused = read(bot, bo, user)
    assert refused.status_code == 403 and "无权查看" in refused.json()["error"]
    assert "messages" not in refused.json()
    assert post(bot, bo, user, "notes", text="看看").status_code == 403
    # ... and a supervisor reads any conversation, masked unless it is theirs.
    supervised = conversation(bot, sue, user)
    assert supervised["masked"] is True and "13812345678" not in json.dumps(supervised, ensure_ascii=False)

    # After the close ann still reads what she handled (masked now); bo never had it.
    assert post(bot, ann, user, "close").status_code == 200
    handled = conversation(bot, ann, user)
    assert handled["masked"] is True and "13812345678" not in json.dumps(handled, ensure_ascii=False)
    assert read(bot, bo, user).status_code == 403

    # A conversation that never asked for a person (an id a client could guess): agents are refused.
    guessed = new_sender()
    bot.say(guessed, "客服电话多少？我的号码 13900001111")
    assert read(bot, ann, guessed).status_code == 403
    assert read(bot, bo, guessed).status_code == 403
    assert "139****1111" in json.dumps(conversation(bot, sue, guessed), ensure_ascii=False)

    # Every read, granted or not, is listed for supervisors, newest first; agents may not list them.
    audit = f"{bot.console_url}/audit/reads"
    assert requests.get(audit, headers=ann, timeout=30).status_code == 403
    reads = requests.get(audit, params={"conversation_id": user}, headers=sue, timeout=30).json()["reads"]
    assert [(r["agent"], r["role"], r["granted"], r["unmasked"]) for r in reversed(reads)] == [
        ("bo", "agent", True, False),
        ("ann", "agent", True, True),
        ("bo", "agent", False, False),
        ("sue", "supervisor", True, False),
        ("ann", "agent", True, False),
        ("bo", "agent", False, False),
    ]
    assert {r["conversation_id"] for r in reads} == {user}
    guessed_reads = requests.get(audit, params={"conversation_id": guessed}, headers=sue, timeout=30).json()
    assert [(r["agent"], r["granted"]) for r in reversed(guessed_reads["reads"])] == [
        ("ann", False),
        ("bo", False),
        ("sue", True),
    ]


# --- sessions end at once -----------------------------------------------------------------------------


class Stream:
    """An agent's live stream, read by a thread that records the events' names and when the server ended
    it (http.client, whose socket the test can shut to stop reading at once)."""

    def __init__(self, bot: RunningBot, headers: dict) -> None:
        self.connection = http.client.HTTPConnection("localhost", bot.rasa_port, timeout=30)
        self.connection.request("GET", "/webhooks/agent_console/events", headers=headers)
        response = self.connection.getresponse()
        assert response.status == 200
        self.events: list = []
        self.ended_at = 0.0
        self.closing = False
        self.thread = threading.Thread(target=self._follow, args=(response,), daemon=True)
        self.thread.start()
        time.sleep(0.5)  # the stream is up: its hello was sent

    def _follow(self, response: http.client.HTTPResponse) -> None:
        try:
            for line in iter(response.readline, b""):
                if line.startswith(b"event:"):
                    self.events.append(line.decode().strip())
        except (OSError, ValueError, http.client.HTTPException):
            pass
        if not self.closing:
            self.ended_at = time.monotonic()

    def close(self) -> None:
        self.closing = True
        if self.connection.sock is not None:
            self.connection.sock.shutdown(socket.SHUT_RDWR)  # the reading thread sees the end
        self.thread.join(timeout=5)
        self.connection.close()


def test_a_disabled_agents_stream_closes_within_a_second(bot: RunningBot) -> None:
    bot.add_agent("fay", "菲菲")
    stream, colleague = Stream(bot, bot.agent_headers("fay")), Stream(bot, bot.agent_headers("cy"))
    env = {**os.environ, "CS_DATABASE_URL": bot.database_url, "PYTHONPATH": str(ROOT)}
    command = [sys.executable, "-m", "agents.cli", "disable", "fay"]
    subprocess.run(command, env=env, check=True, capture_output=True)
    disabled_at = time.monotonic()  # the CLI (another process) has committed and exited
    stream.thread.join(timeout=5)
    try:
        assert stream.ended_at, "the stream of a disabled agent is still open"
        print(f"\nstream closed {stream.ended_at - disabled_at:.2f} s after the CLI returned")
        assert stream.ended_at - disabled_at < 1.0
        assert stream.events[-1] == "event: ended"
        assert not colleague.ended_at and colleague.thread.is_alive()  # a colleague's stays open
    finally:
        stream.close()
        colleague.close()


def test_log_out_closes_the_stream_at_once(bot: RunningBot) -> None:
    headers = bot.agent_headers("cy")
    stream, other_tab = Stream(bot, headers), Stream(bot, bot.agent_headers("cy"))  # two sessions
    logged_out_at = time.monotonic()
    assert requests.post(f"{bot.console_url}/logout", headers=headers, timeout=30).status_code == 200
    stream.thread.join(timeout=5)
    try:
        assert stream.ended_at and stream.ended_at - logged_out_at < 1.0
        print(f"\nstream closed {stream.ended_at - logged_out_at:.2f} s after the log-out was sent")
        assert stream.events[-1] == "event: ended"
        time.sleep(0.3)
        assert not other_tab.ended_at and other_tab.thread.is_alive()
    finally:
        stream.close()
        other_tab.close()


# --- the lock-out holds under concurrency --------------------------------------------------------------


def test_thirty_wrong_passwords_at_once_get_at_most_five_checks(bot: RunningBot) -> None:
    bot.add_agent("gus", "古斯")
    log = bot.workdir / "rasa.log"
    before = log.read_text("utf-8", errors="replace").count("Log-in refused for 'gus'")

    def attempt(n: int) -> int:
        body = {"username": "gus", "password": f"wrong-guess-{n}"}
        return requests.post(f"{bot.console_url}/login", json=body, timeout=60).status_code

    with ThreadPoolExecutor(max_workers=30) as pool:
        statuses = list(pool.map(attempt, range(30)))
    checks = log.read_text("utf-8", errors="replace").count("Log-in refused for 'gus'") - before
    assert statuses.count(401) + statuses.count(429) == 30
    assert statuses.count(401) == checks <= 5  # each 401 is one argon2 check, logged by the server
    assert checks == 5  # the limit is reached, not undercounted
    locked = requests.post(f"{bot.console_url}/login", json={"username": "gus", "password": "x" * 9})
    assert locked.status_code == 429


# --- ids as the user's channel chose them ---------------------------------------------------------------


def test_an_id_with_spaces_chinese_slashes_and_percent_signs_works_end_to_end(
    bot: RunningBot, monkeypatch: pytest.MonkeyPatch
) -> None:
    bo = bot.agent_headers("bo")
    user = f"王 小明/订单 100%41?#{new_sender()[-6:]}"
    bot.say(user, "转人工")
    assert "排在第" in joined(bot.say(user, "我的直播间被封了"))
    queue = requests.get(f"{bot.console_url}/queue", headers=bo, timeout=30).json()["queue"]
    assert user in [entry["conversation_id"] for entry in queue]

    assert post(bot, bo, user, "take").status_code == 200
    assert post(bot, bo, user, "reply", text="您好，我来看一下").status_code == 200
    assert post(bot, bo, user, "notes", text="id 有空格和斜杠").status_code == 200
    seen = conversation(bot, bo, user)
    assert seen["conversation_id"] == user and seen["mine"] is True
    assert "人工客服波波：您好，我来看一下" in [message["text"] for message in seen["messages"]]
    assert [note["text"] for note in seen["notes"]] == ["id 有空格和斜杠"]

    # The upload server's notice (evidence/notify.py encodes the id the same way).
    monkeypatch.setenv(store.DATABASE_URL_VARIABLE, bot.database_url)
    ticket = store.create_ticket(user, "account_ban", "直播间被封", "app", "13800000000", datetime.now())
    settings = Settings(
        secret="s", directory=bot.workdir, public_url="http://x", rasa_url=f"http://localhost:{bot.rasa_port}",
        agent_token=bot.agent_token,
    )  # fmt: skip
    assert tell_conversation(settings, user, ticket.number, 2)
    assert post(bot, bo, user, "close").status_code == 200
    said = [message["text"] for message in conversation(bot, bo, user)["messages"]]
    assert any("已收到 2 个文件" in text for text in said)
    # Decoded once: "%41" stays "%41" (decoding twice would read "A"); a bad encoding is a 400.
    assert read(bot, bo, user.replace("%41", "A")).status_code == 403
    bad = requests.get(f"{bot.console_url}/conversations/%FF%FE", headers=bo, timeout=30)
    assert bad.status_code == 400


# --- CORS: the configured web page only ----------------------------------------------------------------


def test_cors_answers_the_web_page_only(bot: RunningBot) -> None:
    page = f"http://localhost:{bot.web_port}"
    for origin, allowed in [("https://evil.example", False), ("null", False), (page, True)]:
        preflight = requests.options(
            f"{bot.console_url}/login",
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "POST",
                "Access-Control-Request-Headers": "content-type,authorization",
            },
            timeout=30,
        )
        answer = requests.get(f"{bot.console_url}/queue", headers={"Origin": origin}, timeout=30)
        for reply in (preflight, answer):
            assert reply.headers.get("Access-Control-Allow-Origin") == (origin if allowed else None), origin
            if not allowed:
                assert "Access-Control-Allow-Credentials" not in reply.headers
