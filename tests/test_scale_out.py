"""The production profile: two Rasa servers sharing a PostgreSQL tracker store and a Redis lock store
(endpoints.production.yml, configured by environment only), one action server with the tickets in
the same PostgreSQL. One conversation alternating between the servers keeps its state, and concurrent
messages to one conversation are handled one at a time."""

from __future__ import annotations

import json
import re
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests
from sqlalchemy import create_engine, text

from bench.production import production_env
from scripts.agent_client import add_agent, agent_headers
from scripts.servers import ROOT, action_server, free_port, rasa_server
from tests import postgres, redis_server
from tests.bot import AGENT_PASSWORD, MODEL, joined

pytestmark = [
    pytest.mark.servers,
    pytest.mark.skipif(
        not (postgres.available() and redis_server.available()), reason="needs PostgreSQL and Redis"
    ),
]
SIM_NOW = "2026-11-25T10:00:00+08:00"
AGENT_TOKEN = "scale-out-agent"


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    workdir: Path = tmp_path_factory.mktemp("cluster")
    pg = postgres.TempPostgres().init()
    redis = redis_server.TempRedis().start()
    action_port = free_port()
    env = {**production_env(pg, redis, action_port), "CS_SIM_NOW": SIM_NOW, "CS_AGENT_TOKEN": AGENT_TOKEN}
    servers = [action_server(action_port, workdir / "actions.log", env).launch()]
    endpoints = ROOT / "endpoints.production.yml"
    ports = [free_port(), free_port()]
    # Each Rasa server once the one before has made the tracker store's tables (they would race).
    for index, port in enumerate(ports):
        servers.append(rasa_server(MODEL, port, endpoints, workdir / f"rasa{index}.log", env).start())
    servers[0].wait_ready()
    yield {
        "urls": [f"http://localhost:{p}/webhooks/rest/webhook" for p in ports],
        "servers": [f"http://localhost:{p}" for p in ports],
        "pg": pg,
    }
    for server in servers:
        server.stop()
    redis.stop()
    pg.destroy()


def say(url: str, sender: str, message: str) -> str:
    # Eight messages of one conversation wait for each other across two servers; beside the other
    # test workers on two cores the last can take over a minute (this is about order, not speed).
    reply = requests.post(url, json={"sender": sender, "message": message}, timeout=240)
    reply.raise_for_status()
    return joined(reply.json())


def test_a_conversation_alternating_between_servers_keeps_its_state(cluster) -> None:
    first, second = cluster["urls"]
    sender = "scale-out-1"
    assert "账号封禁" in say(first, sender, "我的号被封了怎么办")
    assert "feedback@douyin.com" in say(second, sender, "没用")  # the topic's next step: the slot survived
    assert "没能帮您解决" in say(first, sender, "还是不行")  # next step given: now the offer
    queued = say(second, sender, "转人工")
    assert "排在第 1 位" in queued and "账号封禁" in queued
    assert "联系您" in say(first, sender, "/create_ticket")
    assert "联系方式" in say(second, sender, "电话回访")
    number = re.search(r"DY\d{8}-\d{6}", say(first, sender, "13800138000")).group(0)
    shown = say(second, sender, f"查询工单 {number}")
    assert "我的号被封了怎么办" in shown  # the owner's view, from the other server
    with create_engine(cluster["pg"].url).connect() as connection:
        stored = connection.execute(
            text("SELECT conversation_id FROM tickets WHERE number = :n"), {"n": number}
        )
        assert stored.scalar_one() == sender


def test_concurrent_messages_to_one_conversation_are_serialized(cluster) -> None:
    sender = "scale-out-2"
    messages = [
        "客服电话多少",
        "客服邮箱",
        "官网在哪",
        "微信公众号",
        "微博客服",
        "线下中心",
        "知乎专栏",
        "要等多久",
    ]
    with ThreadPoolExecutor(len(messages)) as pool:
        replies = list(
            pool.map(lambda i: say(cluster["urls"][i % 2], sender, messages[i]), range(len(messages)))
        )
    assert all(reply.strip() for reply in replies)

    with create_engine(cluster["pg"].url).connect() as connection:
        rows = connection.execute(
            text("SELECT type_name, action_name, data FROM events WHERE sender_id = :s ORDER BY id"),
            {"s": sender},
        ).fetchall()
    turns, in_turn = 0, False
    for type_name, action_name, _ in rows:
        if type_name == "user":
            assert not in_turn, "a message was handled while another was still being answered"
            turns, in_turn = turns + 1, True
        elif type_name == "action" and action_name == "action_listen":
            in_turn = False
    users = [json.loads(data)["text"] for type_name, _, data in rows if type_name == "user"]
    assert sorted(users) == sorted(messages), [(t, a) for t, a, _ in rows]
    assert turns == len(messages)


def test_an_agent_reply_through_one_server_reaches_a_widget_held_by_the_other(cluster) -> None:
    import socketio

    widget_server, agent_server = cluster["servers"]
    received: list = []
    session_id = f"widget-{uuid.uuid4().hex[:8]}"
    client = socketio.Client()
    client.on("bot_uttered", lambda data: received.append(data.get("text", "")))
    client.connect(widget_server, socketio_path="/socket.io/", wait_timeout=20)
    try:
        client.emit("session_request", {"session_id": session_id})
        client.emit("user_uttered", {"message": "转人工", "session_id": session_id})
        wait_for(lambda: any("描述" in text for text in received))
        client.emit("user_uttered", {"message": "我的账号被封了", "session_id": session_id})
        wait_for(lambda: any("排在第" in text for text in received))

        # The agent logs in on the other server; the account and the claim are in the shared database.
        add_agent(cluster["pg"].url, "xiaodou", "小抖", AGENT_PASSWORD)
        headers = agent_headers(f"{agent_server}/webhooks/agent_console", "xiaodou", AGENT_PASSWORD)
        console = f"{agent_server}/webhooks/agent_console/conversations/{session_id}"
        for command, body in [("take", {}), ("reply", {"text": "您好，请提供抖音号"})]:
            reply = requests.post(f"{console}/{command}", json=body, headers=headers, timeout=30)
            assert reply.status_code == 200, reply.text
        wait_for(lambda: any("人工客服小抖已接入" in text for text in received))
        wait_for(lambda: any("请提供抖音号" in text for text in received))
        # The user's next words, through the widget's server, reach the agent's live stream on the other.
        # From the latest event on (earlier ones of this conversation are not what is awaited).
        events = requests.get(
            f"{agent_server}/webhooks/agent_console/events", headers=headers, stream=True, timeout=30
        )
        client.emit("user_uttered", {"message": "我的抖音号是 dy_12345", "session_id": session_id})
        assert wait_for_event(events, "message", session_id)
        transcript = requests.get(console, headers=headers, timeout=30).json()
        assert "dy_12345" in transcript["messages"][-1]["text"]
    finally:
        client.disconnect()


def wait_for_event(stream: requests.Response, kind: str, conversation_id: str, seconds: float = 20) -> bool:
    """Reads the console's server-sent events until one of `kind` for the conversation arrives."""
    deadline = time.monotonic() + seconds
    for line in stream.iter_lines(decode_unicode=True):
        if line.startswith("data:") and '"kind"' in line:
            data = json.loads(line[len("data:") :])
            if data["kind"] == kind and data["conversation_id"] == conversation_id:
                stream.close()
                return True
        if time.monotonic() > deadline:
            break
    stream.close()
    return False


def wait_for(condition, seconds: float = 20) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.2)
    raise AssertionError("nothing arrived in time")
