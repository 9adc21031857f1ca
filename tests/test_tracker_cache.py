"""The cached SQL tracker store (tracker_stores/cached_sql.py) and the incremental applied events
(tuning/applied_events.py) give Rasa's results: unit tests on the store and the tracker, then real
servers: two Rasa servers sharing one SQLite tracker store, and a kill -9 right after a reply."""

from __future__ import annotations

import asyncio
import json
import signal
import sqlite3
from pathlib import Path
from typing import List

import pytest
import yaml
from rasa.core.tracker_store import SQLTrackerStore
from rasa.shared.core.domain import Domain
from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    BotUttered,
    Event,
    Restarted,
    SessionStarted,
    SlotSet,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

from scripts.servers import ROOT, action_server, free_port, rasa_server, write_endpoints
from tests.bot import MODEL, joined, rest_message
from tracker_stores.cached_sql import CachedSQLTrackerStore
from tuning import applied_events

STORE_TYPE = "tracker_stores.cached_sql.CachedSQLTrackerStore"
SIM_NOW = "2026-11-25T10:00:00+08:00"
DOMAIN = Domain.from_yaml(
    """
version: "3.1"
intents: [greet, ask]
slots:
  topic:
    type: text
    mappings: [{type: custom}]
forms:
  ticket_form:
    required_slots: [topic]
"""
)


def run(coroutine):
    return asyncio.run(coroutine)


def store(path: Path, **kwargs) -> CachedSQLTrackerStore:
    return CachedSQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(path), **kwargs)


def turn(text: str, slot: str = "") -> List[Event]:
    events: List[Event] = [UserUttered(text, {"name": "ask", "confidence": 1.0}), ActionExecuted("utter_x")]
    if slot:
        events.append(SlotSet("topic", slot))
    return events + [BotUttered(text.upper()), ActionExecuted("action_listen")]


def stored_texts(path: Path, sender: str) -> List[str]:
    with sqlite3.connect(path) as connection:
        rows = connection.execute(
            "SELECT data FROM events WHERE sender_id = ? AND type_name = 'user' ORDER BY id", (sender,)
        ).fetchall()
    return [json.loads(data)["text"] for (data,) in rows]


def grow(tracker: DialogueStateTracker, events: List[Event]) -> None:
    for event in events:
        tracker.update(event, DOMAIN)


def test_two_stores_on_one_database_see_each_others_events(tmp_path: Path) -> None:
    path = tmp_path / "tracker.db"
    first, second = store(path), store(path)
    tracker = run(first.get_or_create_tracker("s"))
    grow(tracker, [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")])
    run(first.save(tracker))
    for index in range(6):  # alternate: each store's cached tracker is stale every other message
        current = first if index % 2 == 0 else second
        tracker = run(current.retrieve("s"))
        grow(tracker, turn(f"m{index}", slot=f"t{index}"))
        run(current.save(tracker))
    assert stored_texts(path, "s") == [f"m{index}" for index in range(6)]
    for current in (first, second):
        tracker = run(current.retrieve("s"))
        assert tracker.get_slot("topic") == "t5"
        assert [e.text for e in tracker.events if isinstance(e, UserUttered)] == [f"m{i}" for i in range(6)]
        reference = run(SQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(path)).retrieve("s"))
        assert list(tracker.events) == list(reference.events)
        assert tracker.current_state() == reference.current_state()


def test_a_handed_out_tracker_changed_but_not_saved_leaves_the_cache_alone(tmp_path: Path) -> None:
    path = tmp_path / "tracker.db"
    cached = store(path)
    tracker = run(cached.get_or_create_tracker("s"))
    grow(tracker, [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")])
    run(cached.save(tracker))
    tracker = run(cached.retrieve("s"))
    grow(tracker, turn("saved", slot="kept"))
    run(cached.save(tracker))
    hit = run(cached.retrieve("s"))
    assert "s" in cached._cache
    grow(hit, turn("failed", slot="lost") + [ActiveLoop("ticket_form")])  # the message fails: no save
    again = run(cached.retrieve("s"))
    assert again.get_slot("topic") == "kept" and again.active_loop_name is None
    assert [e.text for e in again.events if isinstance(e, UserUttered)] == ["saved"]
    assert stored_texts(path, "s") == ["saved"]


def test_a_new_conversation_is_cached_as_rasa_would_load_it(tmp_path: Path, monkeypatch) -> None:
    """The first save of a conversation starts its session: the tracker cached then is the one Rasa's
    store loads (the rows from the session's start on), made without reading the database; a later
    session of the same conversation is loaded Rasa's way."""
    path = tmp_path / "tracker.db"
    cached, loads = store(path), []
    rasas_load = SQLTrackerStore._retrieve

    async def counted_load(self, *args, **kwargs):
        loads.append(args[0])
        return await rasas_load(self, *args, **kwargs)

    monkeypatch.setattr(SQLTrackerStore, "_retrieve", counted_load)
    reference_store = SQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(path))
    for session_index in range(2):
        tracker = run(cached.get_or_create_tracker("s"))
        grow(tracker, [ActionExecuted("action_session_start"), SessionStarted(), SlotSet("topic", "kept")])
        grow(tracker, [ActionExecuted("action_listen")] + turn(f"first of session {session_index}"))
        run(cached.save(tracker))
        loads.clear()
        hit = run(cached.retrieve("s"))
        reference = run(rasas_load(reference_store, "s", fetch_events_from_all_sessions=False))
        assert loads == ([] if session_index == 0 else ["s"])  # a later session: Rasa's load
        assert list(hit.events) == list(reference.events)
        assert hit.current_state() == reference.current_state()
        assert not isinstance(hit.events[0], ActionExecuted)  # written before the session's start
        grow(hit, turn("second"))
        run(cached.save(hit))
    assert stored_texts(path, "s") == ["first of session 0", "second", "first of session 1", "second"]


def test_the_cache_is_bounded(tmp_path: Path) -> None:
    cached = store(tmp_path / "tracker.db", cache_size=2)
    for sender in ("a", "b", "c"):
        tracker = run(cached.get_or_create_tracker(sender))
        grow(tracker, [ActionExecuted("action_session_start"), SessionStarted()])
        run(cached.save(tracker))
        run(cached.retrieve(sender))
    assert list(cached._cache) == ["b", "c"]


def test_the_service_database_on_sqlite_keeps_its_connections_in_write_ahead_log_mode(tmp_path: Path) -> None:
    """Tickets, queue and consoles' events (core/store.py) use the same SQLite settings as the
    tracker store: one kept connection serves one user after another."""
    from core import store as service_store

    engine = service_store._engine_for(f"sqlite:///{tmp_path / 'service.db'}")
    with engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
        first = connection.connection.dbapi_connection
    with engine.connect() as connection:
        assert connection.connection.dbapi_connection is first


def test_sqlite_in_write_ahead_log_mode_and_a_write_between_retrieve_and_save(tmp_path: Path) -> None:
    """The store's SQLite connections use the write-ahead log (commits not waiting for the disk); a
    turn written by another server between this store's retrieve and save is not overwritten, and
    this store's turn is saved whole (the stored events are then both turns, in order)."""
    path = tmp_path / "tracker.db"
    first, second = store(path), store(path)
    with first.engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA synchronous").scalar() == 1  # NORMAL
    assert run(first.retrieve("s")) is None  # no row: nothing loaded
    tracker = run(first.get_or_create_tracker("s"))
    grow(tracker, [ActionExecuted("action_session_start"), SessionStarted(), ActionExecuted("action_listen")])
    run(first.save(tracker))
    mine = run(first.retrieve("s"))
    theirs = run(second.retrieve("s"))
    grow(theirs, turn("theirs"))
    run(second.save(theirs))
    grow(mine, turn("mine", slot="mine"))
    run(first.save(mine))
    assert stored_texts(path, "s") == ["theirs", "mine"]
    again = run(first.retrieve("s"))  # reloaded: the database holds what the cached tracker lacks
    reference = run(SQLTrackerStore(domain=DOMAIN, dialect="sqlite", db=str(path)).retrieve("s"))
    assert list(again.events) == list(reference.events) and again.get_slot("topic") == "mine"


HISTORY: List[Event] = [
    ActionExecuted("action_session_start"),
    SessionStarted(),
    ActionExecuted("action_listen"),
    *turn("a"),
    UserUttered("/create_ticket", {"name": "ask", "confidence": 1.0}),
    ActionExecuted("ticket_form"),
    ActiveLoop("ticket_form"),
    ActionExecuted("action_listen"),
    UserUttered("b", {"name": "ask", "confidence": 1.0}),
    ActionExecuted("ticket_form"),
    SlotSet("topic", "x"),
    ActionExecuted("action_listen"),
    UserUttered("c", {"name": "ask", "confidence": 1.0}),
    ActionExecutionRejected("ticket_form"),
    ActionExecuted("utter_x"),
    ActionExecuted("ticket_form"),
    ActiveLoop(None),
    ActionExecuted("action_listen"),
    *turn("d"),
    UserUtteranceReverted(),
    *turn("e"),
    ActionExecuted("utter_y"),
    ActionReverted(),
    ActionExecuted("action_listen"),
    Restarted(),
    ActionExecuted("action_listen"),
    *turn("f"),
    UserUttered("/create_ticket", {"name": "ask", "confidence": 1.0}),
    ActionExecuted("other_form"),
    ActiveLoop("other_form"),
    ActionExecuted("action_listen"),
    UserUttered("g", {"name": "ask", "confidence": 1.0}),
    ActionExecuted("other_form"),
    ActionExecuted("action_listen"),
]


def test_incremental_applied_events_equal_rasas_after_every_event() -> None:
    applied_events.install()
    tracker = DialogueStateTracker("s", DOMAIN.slots)
    for event in HISTORY:
        tracker.update(event, DOMAIN)
        ours, rasas = tracker.applied_events(), applied_events._ORIGINAL(tracker)
        assert ours == rasas and all(a is b for a, b in zip(ours, rasas))
    # A tracker with a bounded history (its first events drop out) is recomputed, not continued.
    bounded = DialogueStateTracker("s", DOMAIN.slots, max_event_history=5)
    for event in HISTORY:
        bounded.update(event, DOMAIN)
        assert bounded.applied_events() == applied_events._ORIGINAL(bounded)


# Real servers: the model of `make train`, the project's action server.


def say(port: int, sender: str, text: str) -> str:
    return joined(rest_message(port, sender, text))


def test_both_profiles_use_the_cached_store_and_send_the_domain_only_where_read() -> None:
    for name in ("endpoints.yml", "endpoints.production.yml"):
        endpoints = yaml.safe_load((ROOT / name).read_text("utf-8"))
        assert endpoints["tracker_store"]["type"] == STORE_TYPE, name
        assert endpoints["action_endpoint"]["enable_selective_domain"] is True, name


@pytest.mark.servers
def test_two_servers_on_one_sqlite_file_and_a_kill_right_after_a_reply(tmp_path: Path) -> None:
    if not MODEL.exists():
        pytest.skip("run `make train` first")
    env = {"CS_SIM_NOW": SIM_NOW, "CS_DATABASE_URL": f"sqlite:///{tmp_path / 'service.db'}"}
    action_port = free_port()
    tracker_db = tmp_path / "tracker.db"
    endpoints = write_endpoints(tmp_path / "endpoints.yml", action_port, tracker_db)
    ports = [free_port(), free_port()]
    servers = [action_server(action_port, tmp_path / "actions.log", env).launch()]
    try:
        # The first Rasa server starts with the action server; the second once the first has made the
        # tracker store's tables (two servers creating them at once would race).
        for index, port in enumerate(ports):
            servers.append(rasa_server(MODEL, port, endpoints, tmp_path / f"rasa{index}.log", env).launch())
            servers[-1].wait_ready()
        servers[0].wait_ready()
        first, second = ports
        sender = "cache-two-servers"
        said = ["我的号被封了怎么办", "没用", "还是不行", "客服电话多少"]
        assert "账号封禁" in say(first, sender, said[0])
        assert "feedback@douyin.com" in say(second, sender, said[1])  # the topic reached server 2
        assert "没能帮您解决" in say(first, sender, said[2])  # server 1 saw server 2's turn
        say(second, sender, said[3])
        assert stored_texts(tracker_db, sender) == said

        # kill -9 right after a reply: every event of it is already in the database.
        sender = "cache-kill"
        assert "账号封禁" in say(first, sender, "我的号被封了怎么办")
        reply = [m["text"] for m in rest_message(first, sender, "没用") if m.get("text")]
        servers[1].stop(signal.SIGKILL)
        with sqlite3.connect(tracker_db) as connection:
            rows = connection.execute(
                "SELECT type_name, action_name, data FROM events WHERE sender_id = ? ORDER BY id",
                (sender,),
            ).fetchall()
        last_user = max(i for i, row in enumerate(rows) if row[0] == "user")
        assert json.loads(rows[last_user][2])["text"] == "没用"
        stored = [json.loads(data).get("text") for kind, _, data in rows[last_user:] if kind == "bot"]
        assert [text for text in stored if text] == reply
        assert rows[-1][:2] == ("action", "action_listen")  # the turn is complete
        servers[1] = rasa_server(MODEL, first, endpoints, tmp_path / "rasa0b.log", env).start()
        assert "没能帮您解决" in say(first, sender, "还是不行")  # the restarted server goes on from there
    finally:
        for server in servers:
            server.stop()
