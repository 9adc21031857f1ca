"""The queue's service levels in the report (analytics/service_levels.py) on a known day written into the
real tables: waits before an agent answered (mean, p90), the share answered within the target,
abandonment, per hour (Beijing time) and per agent; checked against a count by hand and against SQL
run on the same database, in report.json and in the page, with the target and the abandonment
horizon changed from the command line."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import List, Tuple

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from sqlalchemy import create_engine, text

from agents import schema
from analytics.service_levels import service_levels
from core import store
from scripts import report


def at(clock: str) -> datetime:
    """A stored time: naive UTC on 2026-11-25 (02:00 UTC is 10:00 in Beijing)."""
    hours, minutes, seconds = (int(part) for part in clock.split(":"))
    return datetime(2026, 11, 25, hours, minutes, seconds)


# (conversation, queued at UTC, queue status, [(agent, action, at UTC)]): one queue entry each.
CHATS: List[Tuple[str, str, str, List[Tuple[str, str, str]]]] = [
    ("a1", "02:00:00", "closed", [("agent1", "take", "02:00:30"), ("agent1", "close", "02:09:00")]),  # 30 s
    ("a2", "02:10:00", "closed", [("agent1", "take", "02:11:00"), ("agent1", "close", "02:20:00")]),  # 60 s
    ("a3", "02:20:00", "taken", [("agent2", "take", "02:22:30"), ("agent2", "reply", "02:23:00")]),  # 150 s
    # Handed over: the wait is agent1's, who took it.
    ("a4", "02:40:00", "closed", [("agent1", "take", "02:41:40"), ("agent1", "transfer", "02:45:00"),
                                  ("agent2", "close", "02:59:00")]),  # 100 s
    ("a5", "02:50:00", "closed", []),  # out of the queue, never taken: abandoned
    ("b1", "03:05:00", "closed", [("agent2", "take", "03:05:20"), ("agent2", "close", "03:15:00")]),  # 20 s
    ("b2", "03:10:00", "waiting", []),  # 45 min at the report's moment (03:55): abandoned
    ("a1", "03:30:00", "taken", [("agent2", "take", "03:33:00"), ("agent2", "reply", "03:55:00")]),  # 180 s
    ("b3", "03:50:00", "waiting", []),  # 5 min: still waiting
]  # fmt: skip

# By hand (seconds; p90 by linear interpolation between the sorted waits):
# every chat: waits 20 30 60 100 150 180 → mean 540 / 6 = 90, p90 rank 4.5 → 150 + 0.5 × 30 = 165;
#   within 60 s: 20 30 60 → 3; abandoned a5, b2; waiting b3; service level 3 / (6 + 2), abandoned 2 / 8.
# 10:00 Beijing: a1 a2 a3 a4 a5 → waits 30 60 100 150: mean 85, p90 rank 2.7 → 100 + 0.7 × 50 = 135;
#   within 2, abandoned 1: 2/5, 1/5. 11:00: b1 b2 a1 b3 → waits 20 180: mean 100, p90 20 + 0.9 × 160 =
#   164; within 1, abandoned 1, waiting 1: 1/3, 1/3.
# agent1 took a1 a2 a4 → 30 60 100: mean 63.3, p90 rank 1.8 → 60 + 0.8 × 40 = 92, within 2 of 3;
# agent2 took a3 b1 a1 → 150 20 180: mean 116.7, p90 150 + 0.8 × 30 = 174, within 1 of 3.
OVERALL = {"queued": 9, "answered": 6, "abandoned": 2, "waiting": 1, "mean_wait_s": 90.0, "p90_wait_s": 165.0,
           "answered_within_target": 3, "service_level": 0.375, "abandonment_rate": 0.25}  # fmt: skip
BY_HOUR = [
    {"hour": 10, "queued": 5, "answered": 4, "abandoned": 1, "waiting": 0, "mean_wait_s": 85.0,
     "p90_wait_s": 135.0, "answered_within_target": 2, "service_level": 0.4, "abandonment_rate": 0.2},
    {"hour": 11, "queued": 4, "answered": 2, "abandoned": 1, "waiting": 1, "mean_wait_s": 100.0,
     "p90_wait_s": 164.0, "answered_within_target": 1, "service_level": 0.333, "abandonment_rate": 0.333},
]  # fmt: skip
BY_AGENT = [
    {"username": "agent1", "name": "小美", "answered": 3, "mean_wait_s": 63.3, "p90_wait_s": 92.0,
     "answered_within_target": 2, "service_level": 0.667},
    {"username": "agent2", "name": "agent2", "answered": 3, "mean_wait_s": 116.7, "p90_wait_s": 174.0,
     "answered_within_target": 1, "service_level": 0.333},
]  # fmt: skip


def write_day() -> None:
    with store.engine().begin() as connection:
        for conversation, queued, status, actions in CHATS:
            taker = next((agent for agent, action, _ in actions if action == "take"), None)
            connection.execute(
                store.handoff_queue.insert().values(
                    conversation_id=conversation, topic="account_ban", description="", status=status,
                    enqueued_at=at(queued), agent=taker,
                )
            )  # fmt: skip
            for agent, action, moment in actions:
                connection.execute(
                    store.agent_actions.insert().values(
                        conversation_id=conversation, agent=agent, action=action, text="", at=at(moment)
                    )
                )
        connection.execute(  # agent2 has no account row (older data): shown by user name
            schema.agents.insert().values(
                username="agent1",
                display_name="小美",
                password_hash="-",
                active=True,
                created_at=at("00:00:00"),
            )
        )


def test_waits_service_level_and_abandonment_by_hand(database: str) -> None:
    write_day()
    levels = service_levels(database)
    assert (levels["target_s"], levels["abandon_after_s"]) == (60, 1800)
    assert levels["overall"] == OVERALL
    assert levels["by_hour"] == BY_HOUR
    assert levels["by_agent"] == BY_AGENT


# Each entry's first take: the conversation's first take at or after its queueing and before the
# conversation was queued again (the report's rule), in SQLite's SQL.
FIRST_TAKES = """
SELECT q.id, q.status, q.enqueued_at, (
    SELECT MIN(a.at) FROM agent_actions a
    WHERE a.conversation_id = q.conversation_id AND a.action = 'take' AND a.at >= q.enqueued_at
      AND NOT EXISTS (SELECT 1 FROM handoff_queue q2 WHERE q2.conversation_id = q.conversation_id
                      AND q2.enqueued_at > q.enqueued_at AND q2.enqueued_at <= a.at)
) AS first_take
FROM handoff_queue q
"""
WAITS = f"""
SELECT (julianday(first_take) - julianday(enqueued_at)) * 86400 AS wait, status, enqueued_at
FROM ({FIRST_TAKES})
"""


def test_the_same_figures_in_sql(database: str) -> None:
    write_day()
    with create_engine(database).connect() as connection:
        answered, mean, within = connection.execute(
            text(f"SELECT COUNT(wait), AVG(wait), SUM(wait <= 60.0001) FROM ({WAITS}) WHERE wait IS NOT NULL")
        ).one()
        left = connection.execute(
            text(f"SELECT COUNT(*) FROM ({WAITS}) WHERE wait IS NULL AND status NOT IN ('waiting', 'taken')")
        ).scalar()
        long_waiting = connection.execute(
            text(
                f"SELECT COUNT(*) FROM ({WAITS}) WHERE wait IS NULL AND status = 'waiting' AND "
                "(julianday((SELECT MAX(at) FROM agent_actions)) - julianday(enqueued_at)) * 86400 > 1800"
            )
        ).scalar()
    overall = service_levels(database)["overall"]
    assert (overall["answered"], overall["answered_within_target"]) == (answered, within)
    assert overall["mean_wait_s"] == pytest.approx(mean, abs=0.05)
    assert overall["abandoned"] == left + long_waiting
    assert overall["service_level"] == round(within / (answered + left + long_waiting), 3)


def run_report(tmp_path: Path, service_url: str, *options: str):
    tmp_path.mkdir(parents=True, exist_ok=True)
    tracker = f"sqlite:///{tmp_path / 'tracker.db'}"
    SQLTrackerStore.SQLEvent.__table__.create(create_engine(tracker))
    out = tmp_path / "report.html"
    args = ["--tracker-db", tracker, "--service-db", service_url, "--out", str(out), *options]
    assert report.main(args) == 0
    return out.read_text("utf-8"), json.loads(out.with_suffix(".json").read_text("utf-8"))


def test_the_report_shows_them_and_takes_the_target_and_horizon(database: str, tmp_path: Path) -> None:
    write_day()
    page, figures = run_report(tmp_path, database)
    assert figures["service_levels"]["overall"] == OVERALL
    cells = ["10:00-11:00", "5", "4", "1", "0", "1分25秒", "2分15秒", "40%", "20%"]
    assert '<tr data-hour="10">' + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>" in page
    agent1 = ["小美", "3", "1分3秒", "1分32秒", "67%"]
    assert '<tr data-agent="agent1">' + "".join(f"<td>{cell}</td>" for cell in agent1) + "</tr>" in page
    assert "服务水平（目标内接入）38%，放弃率 25%" in page

    _, figures = run_report(tmp_path / "2", database, "--answer-target", "120", "--abandon-minutes", "60")
    overall = figures["service_levels"]["overall"]
    # Within 120 s: 20 30 60 100; b2 (45 min) now still waiting: 4 / (6 + 1), 1 / 7.
    assert (overall["answered_within_target"], overall["abandoned"], overall["waiting"]) == (4, 1, 2)
    assert (overall["service_level"], overall["abandonment_rate"]) == (0.571, 0.143)
    assert figures["service_levels"]["by_agent"][0]["service_level"] == 1.0


def test_no_queue_no_figures(database: str) -> None:
    levels = service_levels(database)
    assert levels["overall"]["queued"] == 0 and levels["overall"]["service_level"] is None
    assert levels["by_hour"] == [] and levels["by_agent"] == []
