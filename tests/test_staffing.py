"""Honest waiting: staffing from the real agents' tables, the wait estimate, and what the transfer says."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from typing import Any, Dict, Optional

import pytest
import yaml
from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator

from actions.handoff import ActionTransferHuman
from agents import schema
from agents.staffing import Staffing, estimate_wait, has_agent_accounts, staffing_now
from core import store
from tests.conftest import ROOT, make_tracker, run_action

# 10:00 Beijing time, as the sim_now fixture plays it ("10:00" → 2026-11-25T10:00:00+08:00).
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=timezone(timedelta(hours=8)))
UTC_NOW = NOW.astimezone(timezone.utc).replace(tzinfo=None)
CHINESE = re.compile(r"[\u4e00-\u9fff]")


def add_agent(username: str, max_chats: Optional[int] = None, active: bool = True) -> int:
    with schema.engine().begin() as connection:
        return connection.execute(
            schema.agents.insert().values(
                username=username,
                display_name=username.title(),
                password_hash="not-a-hash",
                active=active,
                max_chats=max_chats,
                created_at=UTC_NOW - timedelta(days=30),
            )
        ).inserted_primary_key[0]


def add_session(
    agent_id: int, seen_seconds_ago: float = 10, expires_in_hours: float = 8, revoked: bool = False
) -> None:
    """A log-in, stamped in real time as agents/accounts.py stamps them (whatever the simulated clock)."""
    real_now = datetime.now(timezone.utc).replace(tzinfo=None)
    with schema.engine().begin() as connection:
        connection.execute(
            schema.agent_sessions.insert().values(
                token_hash=f"{agent_id}-{seen_seconds_ago}-{expires_in_hours}-{revoked}".ljust(64, "0"),
                agent_id=agent_id,
                created_at=real_now - timedelta(hours=1),
                expires_at=real_now + timedelta(hours=expires_in_hours),
                last_seen=real_now - timedelta(seconds=seen_seconds_ago),
                revoked=revoked,
            )
        )


def online_agent(username: str, max_chats: Optional[int] = None) -> int:
    agent_id = add_agent(username, max_chats)
    add_session(agent_id)
    return agent_id


def add_queue_entry(conversation_id: str, status: str, agent: Optional[str] = None) -> None:
    with store.engine().begin() as connection:
        connection.execute(
            store.handoff_queue.insert().values(
                conversation_id=conversation_id,
                topic="account_ban",
                description="号被封了",
                status=status,
                enqueued_at=UTC_NOW - timedelta(minutes=5),
                agent=agent,
            )
        )


def log_action(conversation_id: str, agent: str, action: str, minutes_ago: float) -> None:
    with store.engine().begin() as connection:
        connection.execute(
            store.agent_actions.insert().values(
                conversation_id=conversation_id,
                agent=agent,
                action=action,
                text="",
                at=UTC_NOW - timedelta(minutes=minutes_ago),
            )
        )


def handled_chat(conversation_id: str, minutes: float, closed_minutes_ago: float = 60) -> None:
    log_action(conversation_id, "amy", "take", closed_minutes_ago + minutes)
    log_action(conversation_id, "amy", "reply", closed_minutes_ago + minutes / 2)
    log_action(conversation_id, "amy", "close", closed_minutes_ago)


# --- staffing_now -------------------------------------------------------------------------------------


def test_nobody_at_all() -> None:
    assert staffing_now(NOW) == Staffing(online=0, capacity=0, open_chats=0, mean_handling_minutes=None)
    assert not has_agent_accounts()
    add_agent("disabled", active=False)  # a deployment whose only account is disabled has no agents
    assert not has_agent_accounts()


def test_online_means_active_with_a_live_recent_session(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CS_AGENT_MAX_CHATS", raising=False)
    online_agent("amy")  # no limit of her own: the default, 3
    online_agent("bob", max_chats=2)
    twice = online_agent("cat", max_chats=1)
    add_session(twice, seen_seconds_ago=5)  # two browsers: still one agent
    add_session(add_agent("revoked"), revoked=True)
    add_session(add_agent("expired"), expires_in_hours=-1)
    add_session(add_agent("idle"), seen_seconds_ago=schema.ONLINE_SECONDS + 30)
    add_session(add_agent("disabled", active=False))
    add_agent("never_logged_in")
    staffing = staffing_now(NOW)
    assert (staffing.online, staffing.capacity) == (3, 3 + 2 + 1)
    assert has_agent_accounts()
    monkeypatch.setenv("CS_AGENT_MAX_CHATS", "5")
    assert staffing_now(NOW).capacity == 5 + 2 + 1


def test_open_chats_are_those_taken_by_online_agents() -> None:
    online_agent("amy")
    online_agent("bob")
    add_session(add_agent("gone"), seen_seconds_ago=3600)
    add_queue_entry("c1", "taken", "amy")
    add_queue_entry("c2", "taken", "amy")
    add_queue_entry("c3", "taken", "bob")
    add_queue_entry("c4", "taken", "gone")  # an agent who left: not a slot of anyone online
    add_queue_entry("c5", "waiting")
    add_queue_entry("c6", "closed", "bob")
    staffing = staffing_now(NOW)
    assert (staffing.capacity, staffing.open_chats, staffing.free_slots) == (6, 3, 3)


def test_mean_handling_time_of_the_last_seven_days() -> None:
    handled_chat("c1", 10)
    handled_chat("c2", 20)
    assert staffing_now(NOW).mean_handling_minutes is None  # two chats are no measurement
    handled_chat("c3", 30)
    handled_chat("old", 100, closed_minutes_ago=8 * 24 * 60)  # closed 8 days ago: not counted
    log_action("open", "amy", "take", 500)  # taken, not closed yet: not counted
    assert staffing_now(NOW).mean_handling_minutes == pytest.approx(20)


def test_a_handed_over_chat_counts_from_its_take_to_the_colleagues_close() -> None:
    handled_chat("c1", 10)
    handled_chat("c2", 10)
    log_action("c3", "amy", "take", 100)
    log_action("c3", "amy", "transfer", 90)
    log_action("c3", "bob", "close", 60)  # 40 minutes in a slot
    assert staffing_now(NOW).mean_handling_minutes == pytest.approx(20)


def test_a_conversation_queued_twice_counts_each_chat() -> None:
    handled_chat("again", 4, closed_minutes_ago=300)
    handled_chat("again", 16, closed_minutes_ago=100)
    handled_chat("c1", 10)
    assert staffing_now(NOW).mean_handling_minutes == pytest.approx(10)


# --- estimate_wait ------------------------------------------------------------------------------------


def test_nobody_online_gives_no_estimate() -> None:
    assert estimate_wait(1, Staffing(0, 0, 0, 12.0), peak=False) is None
    assert estimate_wait(1, Staffing(0, 0, 0, None), peak=True) is None


def test_without_a_measurement_the_articles_figures() -> None:
    staffing = Staffing(online=2, capacity=6, open_chats=6, mean_handling_minutes=None)
    assert estimate_wait(1, staffing, peak=False) == (2, 5)
    assert estimate_wait(3, staffing, peak=False) == (6, 15)
    assert estimate_wait(3, staffing, peak=True) == (6, 30)


def test_a_position_within_the_free_slots_is_about_a_minute() -> None:
    staffing = Staffing(online=2, capacity=6, open_chats=4, mean_handling_minutes=20.0)
    assert estimate_wait(1, staffing, peak=True) == (1, 1)
    assert estimate_wait(2, staffing, peak=False) == (1, 1)
    assert estimate_wait(3, staffing, peak=False) != (1, 1)


def test_beyond_the_free_slots_chats_end_at_capacity_over_handling_time() -> None:
    # 4 slots, all busy, 20 minutes a chat: one ends every 5 minutes on average.
    full = Staffing(online=2, capacity=4, open_chats=4, mean_handling_minutes=20.0)
    assert estimate_wait(1, full, peak=False) == (1, 10)  # 5 ± 5
    assert estimate_wait(4, full, peak=False) == (10, 30)  # 20 ± 10
    assert estimate_wait(4, full, peak=True) == (10, 30)  # measured: the peak is in the measurement
    # one free slot: the fifth in line waits for four chats to end, as the fourth did with none free
    assert estimate_wait(5, Staffing(2, 4, 3, 20.0), peak=False) == (10, 30)
    # twice the agents, half the wait
    assert estimate_wait(4, Staffing(4, 8, 8, 20.0), peak=False) == (5, 15)


# --- what the transfer says ---------------------------------------------------------------------------

DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text("utf-8"))
NLG = TemplatedNaturalLanguageGenerator(DOMAIN["responses"])
DISPATCHER_KEYS = {"text", "buttons", "elements", "custom", "template", "response", "image", "attachment"}


def render(message: Dict[str, Any], language: str) -> Dict[str, Any]:
    """The response as the Rasa server renders it for a conversation in `language`."""
    kwargs = {k: v for k, v in message.items() if k not in DISPATCHER_KEYS}
    return NLG.generate_from_slots(message["response"], {"language": language}, "rest", **kwargs)


def queue_rows():
    with store.engine().connect() as connection:
        return connection.execute(store.handoff_queue.select()).fetchall()


@pytest.mark.parametrize("language", ["zh", "en"])
def test_no_agent_online_queues_and_says_so_in_the_users_language(sim_now, language) -> None:
    sim_now("10:00")
    add_session(add_agent("amy"), seen_seconds_ago=3600)  # an account, logged in an hour ago
    tracker = make_tracker(
        "request_human",
        slots={"topic": "account_ban", "language": language, "disclaimer_languages": [language]},
        sender_id="waiting-user",
    )
    messages, _ = run_action(ActionTransferHuman(), tracker)
    assert [m["response"] for m in messages] == ["utter_queued_no_agent_online"]
    assert messages[0]["position"] == 1
    rows = queue_rows()
    assert [(r.conversation_id, r.status) for r in rows] == [("waiting-user", "waiting")]
    shown = render(messages[0], language)
    assert [b["payload"] for b in shown["buttons"]] == ["/create_ticket"]
    if language == "zh":
        assert "没有人工客服在线" in shown["text"] and "排在第 1 位" in shown["text"]
        assert "账号封禁/解封申诉" in shown["text"] and "分钟" not in shown["text"]
    else:
        assert "no agent is online" in shown["text"] and "Your position: 1" in shown["text"]
        assert not CHINESE.search(shown["text"] + "".join(b["title"] for b in shown["buttons"]))


def test_without_agent_accounts_the_articles_wait_as_before(sim_now) -> None:
    sim_now("10:00")
    messages, _ = run_action(
        ActionTransferHuman(), make_tracker("request_human", slots={"topic": "throttling"})
    )
    assert messages[0]["response"] == "utter_queued" and messages[0]["wait"] == "2-5分钟"


def test_agents_online_without_a_measurement_promise_the_articles_wait(sim_now) -> None:
    sim_now("20:00")  # peak
    online_agent("amy")
    handled_chat("c1", 10)
    handled_chat("c2", 10)  # two chats: not yet a measurement
    messages, _ = run_action(
        ActionTransferHuman(), make_tracker("request_human", slots={"topic": "throttling"})
    )
    assert messages[0]["response"] == "utter_queued"
    assert messages[0]["wait"] == "2-30分钟（高峰时段，最长约30分钟）"


@pytest.mark.parametrize(
    "language, expected",
    [("zh", ["约1分钟", "1-10分钟", "2-18分钟"]), ("en", ["about 1 min", "1-10 minutes", "2-18 minutes"])],
)
def test_agents_online_with_a_measurement_promise_the_estimate(sim_now, language, expected) -> None:
    sim_now("10:00")
    online_agent("amy", max_chats=2)  # 2 slots, 1 busy: the first in line is taken at once
    add_queue_entry("busy", "taken", "amy")
    for n in range(3):
        handled_chat(f"done{n}", 10)  # 10 minutes a chat: one ends every 5 minutes
    waits = []
    for user in ("u1", "u2", "u3"):
        tracker = make_tracker(
            "request_human",
            slots={"topic": "throttling", "language": language, "disclaimer_languages": [language]},
            sender_id=user,
        )
        messages, _ = run_action(ActionTransferHuman(), tracker)
        assert messages[0]["response"] == "utter_queued"
        waits.append(messages[0]["wait"])
    # u2 waits for the busy chat to end (5 ± 5 minutes), u3 for two chats to end (10 ± 7)
    assert waits == expected
    assert expected[2] in render(messages[0], language)["text"]
