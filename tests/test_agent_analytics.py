"""The report's per-agent figures (analytics/agents.py) on a known day written into the real tables of a
fresh SQLite database: two agents with accounts and one without (older data), a hand-over each way, a
conversation queued twice; CSAT, first response and handling times checked to the second, in
results/report.json and in the HTML; and the report of a database with no human-agent chats."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path
from typing import List, Tuple

import pytest
from rasa.core.tracker_store import SQLTrackerStore
from sqlalchemy import create_engine

from agents import schema
from analytics.agents import agent_figures, percentile
from core import store
from scripts import report

DAY = (2026, 11, 25)


def at(clock: str) -> datetime:
    """A stored time: naive UTC on the test day."""
    hours, minutes, seconds = (int(part) for part in clock.split(":"))
    return datetime(*DAY, hours, minutes, seconds)


# (conversation, queued at, [(agent, action, text, at)]) — one handoff_queue entry each.
CHATS: List[Tuple[str, str, List[Tuple[str, str, str, str]]]] = [
    ("c1", "10:00:00", [("agent1", "take", "", "10:00:30"), ("agent1", "reply", "您好", "10:01:00"),
                        ("agent1", "reply", "已处理", "10:02:00"), ("agent1", "close", "", "10:05:30")]),
    ("c2", "10:10:00", [("agent1", "take", "", "10:12:00"), ("agent1", "reply", "您好", "10:13:00"),
                        ("agent1", "close", "", "10:20:00")]),
    ("c3", "10:30:00", [("agent1", "take", "", "10:30:10"), ("agent1", "reply", "您好", "10:32:00"),
                        ("agent1", "close", "", "10:42:10")]),
    # Handed over before any reply: agent2 replies first and closes.
    ("c4", "11:00:00", [("agent1", "take", "", "11:01:00"), ("agent1", "transfer", "agent2", "11:02:00"),
                        ("agent2", "reply", "我来处理", "11:03:30"), ("agent2", "close", "", "11:16:00")]),
    # Handed over after agent1's reply: the first response is agent1's, the handling agent2's.
    ("c5", "11:30:00", [("agent1", "take", "", "11:30:20"), ("agent1", "reply", "您好", "11:31:00"),
                        ("agent1", "transfer", "agent2", "11:35:00"), ("agent2", "reply", "我来", "11:36:00"),
                        ("agent2", "close", "", "11:50:20")]),
    ("c6", "12:00:00", [("agent2", "take", "", "12:00:05"), ("agent2", "reply", "您好", "12:00:45"),
                        ("agent2", "close", "", "12:06:05")]),
    # An agent whose account row is gone (older data): shown by user name.
    ("c7", "13:00:00", [("old7", "take", "", "13:02:00"), ("old7", "reply", "您好", "13:05:00"),
                        ("old7", "close", "", "13:10:00")]),
    # c1 queued again after its close: a new chat, timed from its own queueing.
    ("c1", "14:00:00", [("agent2", "take", "", "14:10:00"), ("agent2", "reply", "又见面了", "14:11:00"),
                        ("agent2", "close", "", "14:15:00")]),
    ("c8", "15:00:00", []),  # still waiting: no one's figure
]  # fmt: skip
RATINGS = {"agent1": [5, 4, 5], "agent2": [3, 4, 5, 2], "old7": [3]}

# By hand from CHATS (seconds; p90 by linear interpolation between the sorted values):
# agent1 first responses 60, 180, 120, 60 (c5) → median 90, p90 120 + 0.7 × 60 = 162;
#        handling 300, 480, 720 → median 480, p90 480 + 0.8 × 240 = 672.
# agent2 first responses 210 (c4), 45, 660 (c1 again, from 14:00) → median 210, p90 210 + 0.8 × 450 = 570;
#        handling 900 (c4, from agent1's take), 1200 (c5), 360, 300 → median 630, p90 900 + 0.7 × 300 = 1110.
EXPECTED = [
    {"username": "agent1", "name": "小美", "chats_taken": 5, "chats_closed": 3, "csat": 4.67, "ratings": 3,
     "first_responses": 4, "first_response_median_s": 90.0, "first_response_p90_s": 162.0,
     "handled": 3, "handling_median_s": 480.0, "handling_p90_s": 672.0},
    {"username": "agent2", "name": "小王", "chats_taken": 2, "chats_closed": 4, "csat": 3.5, "ratings": 4,
     "first_responses": 3, "first_response_median_s": 210.0, "first_response_p90_s": 570.0,
     "handled": 4, "handling_median_s": 630.0, "handling_p90_s": 1110.0},
    {"username": "old7", "name": "old7", "chats_taken": 1, "chats_closed": 1, "csat": 3.0, "ratings": 1,
     "first_responses": 1, "first_response_median_s": 300.0, "first_response_p90_s": 300.0,
     "handled": 1, "handling_median_s": 480.0, "handling_p90_s": 480.0},
]  # fmt: skip


def write_day() -> None:
    with store.engine().begin() as connection:
        for conversation, queued, actions in CHATS:
            status = "waiting" if not actions else "closed"
            closer = next((agent for agent, action, _, _ in actions if action == "close"), None)
            connection.execute(
                store.handoff_queue.insert().values(
                    conversation_id=conversation, topic="account_ban", description="", status=status,
                    enqueued_at=at(queued), agent=closer,
                )
            )  # fmt: skip
            for agent, action, text, moment in actions:
                connection.execute(
                    store.agent_actions.insert().values(
                        conversation_id=conversation, agent=agent, action=action, text=text, at=at(moment)
                    )
                )
    with schema.engine().begin() as connection:
        for username, name in [("agent1", "小美"), ("agent2", "小王")]:
            connection.execute(
                schema.agents.insert().values(
                    username=username,
                    display_name=name,
                    password_hash="-",
                    active=True,
                    created_at=at("08:00:00"),
                )
            )
        for agent, scores in RATINGS.items():
            for score in scores:
                connection.execute(
                    schema.agent_ratings.insert().values(
                        conversation_id="c1", agent=agent, topic="account_ban", score=score,
                        created_at=at("16:00:00"),
                    )
                )  # fmt: skip


def tracker_db(tmp_path: Path) -> str:
    """An empty tracker store with Rasa's own `events` table."""
    url = f"sqlite:///{tmp_path / 'tracker.db'}"
    SQLTrackerStore.SQLEvent.__table__.create(create_engine(url))
    return url


def run_report(tmp_path: Path, service_url: str):
    out = tmp_path / "report.html"
    args = ["--tracker-db", tracker_db(tmp_path), "--service-db", service_url, "--out", str(out)]
    assert report.main(args) == 0
    return out.read_text("utf-8"), json.loads(out.with_suffix(".json").read_text("utf-8"))


def test_percentile_interpolates_between_sorted_values() -> None:
    assert percentile([], 0.5) is None
    assert percentile([7], 0.9) == 7
    assert percentile([30, 10, 20], 0.5) == 20
    assert percentile([10, 20, 30, 40], 0.5) == 25
    assert percentile([60, 120, 180], 0.9) == pytest.approx(168)


def test_per_agent_figures_of_a_known_day(database: str) -> None:
    write_day()
    assert agent_figures(database) == EXPECTED


def test_the_report_shows_the_per_agent_figures(database: str, tmp_path: Path) -> None:
    write_day()
    page, figures = run_report(tmp_path, database)
    assert figures["agents"] == EXPECTED
    rows = {
        "agent1": ["小美", "5", "3", "4.67（3条）", "1分30秒", "2分42秒", "8分0秒", "11分12秒"],
        "agent2": ["小王", "2", "4", "3.50（4条）", "3分30秒", "9分30秒", "10分30秒", "18分30秒"],
        "old7": ["old7", "1", "1", "3.00（1条）", "5分0秒", "5分0秒", "8分0秒", "8分0秒"],
    }
    for username, cells in rows.items():
        expected = f'<tr data-agent="{username}">' + "".join(f"<td>{cell}</td>" for cell in cells) + "</tr>"
        assert expected in page
    assert "各坐席满意度（CSAT）" in page
    assert report.NO_AGENT_CHATS not in page


def test_no_human_agent_chats_yet(database: str, tmp_path: Path) -> None:
    store.engine(), schema.engine()  # the tables, empty
    page, figures = run_report(tmp_path, database)
    assert figures["agents"] == []
    assert f'<p id="agents-empty">{report.NO_AGENT_CHATS}</p>' in page
    assert 'id="agents"' not in page and "各坐席满意度" not in page and "NaN" not in page


def test_an_older_database_without_the_agents_tables(tmp_path: Path) -> None:
    """A service database from before agents/schema.py: user names, no ratings, and it is not altered."""
    url = f"sqlite:///{tmp_path / 'old.db'}"
    engine = create_engine(url)
    store.metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(
            store.handoff_queue.insert().values(
                conversation_id="c1", topic="account_ban", description="", status="closed",
                enqueued_at=at("10:00:00"), agent="agent9",
            )
        )  # fmt: skip
        for action, moment in [("take", "10:01:00"), ("reply", "10:02:00"), ("close", "10:09:00")]:
            connection.execute(
                store.agent_actions.insert().values(
                    conversation_id="c1", agent="agent9", action=action, text="", at=at(moment)
                )
            )
    [agent] = agent_figures(url)
    assert (agent["name"], agent["csat"], agent["ratings"]) == ("agent9", None, 0)
    assert (agent["first_response_median_s"], agent["handling_median_s"]) == (120.0, 480.0)
    assert "agent_ratings" not in set(create_engine(url).dialect.get_table_names(engine.connect()))
    assert report.agents_section([agent]).count("<td>—（0条）</td>") == 1
