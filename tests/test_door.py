"""Limits at the door (channels/door.py): the rules on their own, then through the real servers' REST
and socket.io channels — oversized messages refused at once with a clear reply while other users are
answered, a flooding sender or address slowed down while others are served."""

from __future__ import annotations

import http.client
import json
import sqlite3
import threading
import time
from typing import Dict, List, Tuple

import pytest

from channels import door
from tests.bot import RunningBot, joined, new_sender

SIM_NOW = "2026-11-25T10:00:00+08:00"
SENDER_BURST, ADDRESS_BURST, CONSOLE_BURST, LOGIN_BURST = 5, 30, 15, 3
ONE_MB = "啊" * 333_000  # 999,000 bytes of UTF-8
FIFTY_KB_ZH = "我的账号被封了怎么办" * 1700  # 51,000 bytes
FIFTY_KB_EN = "my account was banned " * 2300
# Within the socket.io frame limits (README, "Limits at the door") but over the message limit.
FIVE_THOUSAND_CHARS = "我的账号被封了怎么办" * 500


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_a_bucket_lets_a_burst_through_then_the_rate() -> None:
    clock = FakeClock()
    buckets = door.TokenBuckets(per_minute=60, burst=3, clock=clock)
    assert [buckets.take("a") for _ in range(3)] == [0, 0, 0]
    assert buckets.take("a") == pytest.approx(1.0)
    assert buckets.take("b") == 0  # another key has its own bucket
    clock.now += 1.0
    assert buckets.take("a") == 0  # one token a second
    assert buckets.take("a") > 0


def test_a_rate_of_zero_is_no_limit() -> None:
    buckets = door.TokenBuckets(per_minute=0, burst=1)
    assert all(buckets.take("a") == 0 for _ in range(100))


def test_buckets_forget_the_least_recent_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(door, "MAX_KEYS", 10)
    buckets = door.TokenBuckets(per_minute=1, burst=1, clock=FakeClock())
    for n in range(50):
        buckets.take(f"sender-{n}")
    assert len(buckets._buckets) == 10


def test_a_too_long_message_is_refused_without_taking_a_turn(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(door.MAX_CHARS_VARIABLE, "10")
    monkeypatch.setenv(door.SENDER_BURST_VARIABLE, "1")
    gate = door.Door()
    refusal = gate.check("s", None, "x" * 11)
    assert refusal is not None and refusal.status == 413
    assert refusal.values == {"chars": 11, "limit": 10}
    assert gate.check("s", None, "x" * 10) is None  # the refused one did not use the burst
    too_fast = gate.check("s", None, "again")
    assert too_fast is not None and too_fast.status == 429 and too_fast.retry_after >= 1


def test_bad_settings_fall_back_to_the_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(door.MAX_CHARS_VARIABLE, "many")
    monkeypatch.setenv(door.MAX_BODY_VARIABLE, "-5")
    assert door.Door().max_chars == door.DEFAULT_MAX_CHARS
    assert door.max_body_bytes() == door.DEFAULT_MAX_BODY


# ------------------------------------------------------------------ through the real servers


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory):
    running = RunningBot(tmp_path_factory.mktemp("door"))
    running.rasa.env.update(
        {
            # Slow refills, so that a slow machine's flood still outruns them.
            door.SENDER_RATE_VARIABLE: "6",
            door.SENDER_BURST_VARIABLE: str(SENDER_BURST),
            door.ADDRESS_RATE_VARIABLE: "6",
            door.ADDRESS_BURST_VARIABLE: str(ADDRESS_BURST),
            door.CONSOLE_RATE_VARIABLE: "6",
            door.CONSOLE_BURST_VARIABLE: str(CONSOLE_BURST),
            door.LOGIN_RATE_VARIABLE: "6",
            door.LOGIN_BURST_VARIABLE: str(LOGIN_BURST),
        }
    )
    running.start(SIM_NOW)
    yield running
    running.stop()


def console(bot: RunningBot, method: str, path: str, source: str, body: Dict = None) -> Tuple[int, Dict]:
    """One request to the agent console's API from a loopback address of its own."""
    connection = http.client.HTTPConnection(
        "127.0.0.1", bot.rasa_port, timeout=30, source_address=(source, 0)
    )
    try:
        data = json.dumps(body).encode() if body is not None else None
        connection.request(
            method, f"/webhooks/agent_console{path}", data, {"Content-Type": "application/json"}
        )
        answer = connection.getresponse()
        return answer.status, json.loads(answer.read() or b"{}")
    finally:
        connection.close()


def post(bot: RunningBot, sender: str, text: str, source: str = "127.0.0.2") -> Tuple[int, List[Dict], float]:
    """Sends one REST message from a loopback address of its own (each test its own address, so the
    address limit of one does not touch another); returns the status, the messages and the seconds."""
    body = json.dumps({"sender": sender, "message": text}, ensure_ascii=False).encode("utf-8")
    connection = http.client.HTTPConnection(
        "127.0.0.1", bot.rasa_port, timeout=60, source_address=(source, 0)
    )
    started = time.perf_counter()
    try:
        connection.request("POST", "/webhooks/rest/webhook", body, {"Content-Type": "application/json"})
        answer = connection.getresponse()
        status, data = answer.status, answer.read()
    finally:
        connection.close()
    return status, json.loads(data), time.perf_counter() - started


def test_oversized_messages_are_refused_at_once_while_others_are_answered(bot: RunningBot) -> None:
    latencies: List[float] = []
    answered: List[bool] = []
    stop = threading.Event()

    def other_user() -> None:
        while not stop.is_set():  # people of another address, each asking once
            status, messages, seconds = post(bot, new_sender(), "客服电话多少", source="127.0.0.3")
            answered.append(status == 200 and "400-992-2556" in joined(messages))
            latencies.append(seconds)
            time.sleep(0.2)

    post(bot, new_sender(), "你好", source="127.0.0.3")  # the other user's address is warm
    worker = threading.Thread(target=other_user)
    worker.start()
    try:
        refused = []
        for text in (ONE_MB, FIFTY_KB_ZH, FIFTY_KB_EN, ONE_MB):
            status, messages, seconds = post(bot, new_sender(), text)
            refused.append((status, joined(messages), seconds))
    finally:
        stop.set()
        worker.join()
    too_large, long_zh, long_en, _ = refused
    assert too_large[0] == 413 and "请求太大" in too_large[1] and "too large" in too_large[1]
    assert long_zh[0] == 413 and "1000 字的上限" in long_zh[1] and "没有发出" in long_zh[1]
    assert long_en[0] == 413 and "limit of 1000" in long_en[1]
    # Before the limits a 1 MB message held the server for 15 s and others waited 14 s; the figures
    # on a quiet machine (refused in milliseconds, others under 200 ms) are in the README.
    assert max(seconds for _, _, seconds in refused) < 2, refused
    assert answered and all(answered) and max(latencies) < 2, latencies


def test_a_refused_message_is_not_in_the_conversation(bot: RunningBot) -> None:
    sender = new_sender()
    status, _, _ = post(bot, sender, FIFTY_KB_ZH, source="127.0.0.4")
    assert status == 413
    status, messages, _ = post(bot, sender, "客服电话多少", source="127.0.0.4")
    assert status == 200 and "400-992-2556" in joined(messages)
    with sqlite3.connect(bot.workdir / "tracker.db") as tracker_store:
        rows = tracker_store.execute(
            "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user'", (sender,)
        ).fetchall()
    assert [json.loads(data)["text"] for (data,) in rows] == ["客服电话多少"]


def test_a_flooding_sender_is_slowed_down_while_another_is_served(bot: RunningBot) -> None:
    flooder, other = new_sender(), new_sender()
    statuses = [post(bot, flooder, "客服电话多少", source="127.0.0.5") for _ in range(SENDER_BURST + 3)]
    assert [s for s, _, _ in statuses[:SENDER_BURST]] == [200] * SENDER_BURST
    status, messages, _ = statuses[-1]
    assert status == 429 and "太快" in joined(messages)
    status, messages, _ = post(bot, other, "客服电话多少", source="127.0.0.5")
    assert status == 200 and "400-992-2556" in joined(messages)


def test_a_flooding_address_is_slowed_down_while_another_address_is_served(bot: RunningBot) -> None:
    answers = [post(bot, new_sender(), "hi", source="127.0.0.6")[0] for _ in range(ADDRESS_BURST + 5)]
    assert answers.count(429) >= 4 and answers[:ADDRESS_BURST].count(200) == ADDRESS_BURST
    status, _, _ = post(bot, new_sender(), "客服电话多少", source="127.0.0.7")
    assert status == 200


def test_log_ins_and_console_requests_from_one_address_are_slowed_down(bot: RunningBot) -> None:
    guesses = [
        console(bot, "POST", "/login", "127.0.0.8", {"username": f"name{n}", "password": "guess"})
        for n in range(LOGIN_BURST + 2)
    ]
    assert [status for status, _ in guesses[:LOGIN_BURST]] == [401] * LOGIN_BURST  # checked, refused
    status, answer = guesses[-1]
    assert status == 429 and "请求太频繁" in answer["error"] and answer["retry_after"] >= 1
    flood = [console(bot, "GET", "/me", "127.0.0.9")[0] for _ in range(CONSOLE_BURST + 3)]
    assert flood[:CONSOLE_BURST] == [401] * CONSOLE_BURST and flood[-1] == 429
    assert console(bot, "GET", "/me", "127.0.0.10")[0] == 401  # another address: served (and refused)


def test_the_widget_gets_the_same_refusals(bot: RunningBot) -> None:
    import socketio

    received: List[str] = []
    session_id = new_sender()
    client = socketio.Client()
    client.on("bot_uttered", lambda data: received.append(data.get("text", "")))
    ends: List[int] = []  # the page shows the next message once the reply has ended (channels/widget.py)
    client.on("bot_turn_end", lambda data: ends.append(len(received)))
    client.connect(f"http://localhost:{bot.rasa_port}", socketio_path="/socket.io/", wait_timeout=20)
    try:
        client.emit("session_request", {"session_id": session_id})
        started = time.perf_counter()
        client.emit("user_uttered", {"message": FIVE_THOUSAND_CHARS, "session_id": session_id})
        wait_for(lambda: any("5000 个字" in text and "上限" in text for text in received))
        assert time.perf_counter() - started < 1.0
        wait_for(lambda: ends == [1])  # the refusal is the whole reply
        client.emit("user_uttered", {"message": "客服电话多少", "session_id": session_id})
        wait_for(lambda: any("400-992-2556" in text for text in received))
        for _ in range(SENDER_BURST + 2):
            client.emit("user_uttered", {"message": "你好", "session_id": session_id})
        wait_for(lambda: any("太快" in text for text in received))
    finally:
        client.disconnect()


def wait_for(condition, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError("nothing arrived in time")
