"""The queue as users live it (agents/user_queue.py) on the real service database: positions count
only who still waits; leaving, or a silence longer than CS_QUEUE_IDLE_MINUTES, takes an entry out of
every console and count, and the consoles hear of it."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from agents import assignment, user_queue
from agents.schema import console_events
from core import store
from core.clock import SERVICE_TIMEZONE

TEN = datetime(2026, 11, 25, 10, 0, tzinfo=SERVICE_TIMEZONE)


def minutes(n: float) -> datetime:
    return TEN + timedelta(minutes=n)


def statuses() -> dict:
    with store.engine().connect() as connection:
        rows = connection.execute(select(store.handoff_queue.c.conversation_id, store.handoff_queue.c.status))
        return dict(rows.fetchall())


def left_events() -> list:
    with store.engine().connect() as connection:
        query = select(console_events.c.conversation_id).where(console_events.c.kind == "left")
        return sorted(connection.execute(query).scalars())


def test_silent_entries_leave_the_queue_and_the_positions(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(user_queue.IDLE_VARIABLE, "30")
    for name in ("silent", "writing", "new"):
        store.enqueue_for_human(name, "account_ban", "账号被封", TEN if name != "new" else minutes(25))
    user_queue.touch("writing", minutes(20))  # wrote while waiting

    assert user_queue.place("new", minutes(20)).position == 3  # nobody idle yet
    assert user_queue.abandon_idle(minutes(40)) == ["silent"]  # silent since 10:00, over 30 minutes
    assert statuses() == {"silent": "abandoned", "writing": "waiting", "new": "waiting"}
    assert user_queue.place("writing", minutes(40)).position == 1
    assert user_queue.place("new", minutes(40)).position == 2
    assert user_queue.place("silent", minutes(40)) is None
    assert left_events() == ["silent"]
    # The consoles' queue (the same sweep): the silent one is gone, the others as they were.
    listed = [item.conversation_id for item in assignment.queue(minutes(51))]
    assert listed == ["new"]  # "writing" went silent at 10:20: abandoned at 10:51
    assert left_events() == ["silent", "writing"]


def test_leaving_counts_once_and_not_for_a_chat_an_agent_has(monkeypatch: pytest.MonkeyPatch) -> None:
    store.enqueue_for_human("a", "account_ban", "账号被封", TEN)
    store.enqueue_for_human("b", "account_ban", "账号被封", TEN)
    assert user_queue.leave("a", minutes(1)) is True
    assert user_queue.leave("a", minutes(2)) is False  # already out
    with store.engine().begin() as connection:
        connection.execute(store.handoff_queue.update().values(status="taken", agent="xiaodou"))
    assert user_queue.leave("b", minutes(3)) is False  # an agent has it: not left
    assert user_queue.place("b", minutes(3)).status == "taken"
    assert left_events() == ["a"]
    with store.engine().connect() as connection:
        left_at = connection.execute(
            select(store.handoff_queue.c.left_at).where(store.handoff_queue.c.conversation_id == "a")
        ).scalar_one()
    assert left_at == store.to_stored_time(minutes(1))


def test_an_idle_time_of_zero_keeps_everyone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(user_queue.IDLE_VARIABLE, "0")
    store.enqueue_for_human("a", "account_ban", "账号被封", TEN)
    assert user_queue.abandon_idle(minutes(600)) == []
    monkeypatch.setenv(user_queue.IDLE_VARIABLE, "soon")  # a bad value: the default
    assert user_queue.idle_minutes() == user_queue.DEFAULT_IDLE_MINUTES
