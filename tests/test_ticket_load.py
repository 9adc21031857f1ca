"""Tickets under load: 1,000 tickets from 20 concurrent conversations, with a kill -9 of the action
server in the middle. Every ticket confirmed to a user must be in the store, under a unique number."""

from __future__ import annotations

import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import List

import pytest
import requests
from sqlalchemy import create_engine, select

from core import store
from scripts.servers import action_server, free_port

pytestmark = pytest.mark.servers

CONVERSATIONS = 20
TICKETS_EACH = 50
KILL_AFTER = 400  # confirmed tickets


def ticket_request(conversation: str, index: int) -> dict:
    slots = {
        "topic": "app_bug",
        "problem_text": f"第{index}次闪退",
        "contact_channel": "email",
        "contact_detail": f"user{index}@example.org",
    }
    tracker = {
        "sender_id": conversation,
        "slots": slots,
        "latest_message": {"intent": {}, "entities": [], "text": ""},
        "events": [],
        "paused": False,
        "followup_action": None,
        "active_loop": {},
        "latest_action_name": "ticket_form",
    }
    return {
        "next_action": "action_create_ticket",
        "sender_id": conversation,
        "tracker": tracker,
        "domain": {},
    }


def test_no_confirmed_ticket_is_lost_or_duplicated(tmp_path: Path) -> None:
    database_url = f"sqlite:///{tmp_path / 'load.db'}"
    port = free_port()
    env = {"CS_DATABASE_URL": database_url, "CS_SIM_NOW": "2026-11-25T10:00:00+08:00"}
    server = action_server(port, tmp_path / "actions.log", env).start()
    url = f"http://localhost:{port}/webhook"
    confirmed: List[str] = []
    lock = threading.Lock()
    restarted = threading.Event()

    def create(conversation: str, index: int) -> None:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                reply = requests.post(url, json=ticket_request(conversation, index), timeout=10)
            except requests.RequestException:
                time.sleep(0.2)  # the server is down: the user tries again
                continue
            numbers = [r["ticket_number"] for r in reply.json().get("responses", []) if "ticket_number" in r]
            if reply.status_code == 200 and numbers:
                with lock:
                    confirmed.extend(numbers)
                    if len(confirmed) >= KILL_AFTER and not restarted.is_set():
                        restarted.set()
                        server.stop(signal.SIGKILL)
                        threading.Thread(target=server.start, daemon=True).start()
                return
        raise TimeoutError(f"{conversation} ticket {index} never confirmed")

    def conversation_worker(number: int) -> None:
        for index in range(TICKETS_EACH):
            create(f"load-{number}", index)

    try:
        with ThreadPoolExecutor(CONVERSATIONS) as pool:
            list(pool.map(conversation_worker, range(CONVERSATIONS)))
    finally:
        server.stop()

    assert restarted.is_set()
    assert len(confirmed) == CONVERSATIONS * TICKETS_EACH
    assert len(set(confirmed)) == len(confirmed), "a number was confirmed twice"
    with create_engine(database_url).connect() as connection:
        stored = [row.number for row in connection.execute(select(store.tickets.c.number))]
    assert None not in stored, "a half-written ticket"
    assert len(set(stored)) == len(stored)
    assert set(confirmed) <= set(stored)
