"""The report of a seeded simulated day: its figures equal counts taken directly from the databases
and the simulated users' goals (goals.json), the same seed plays the same day, and the HTML shows every
chart in Chromium."""

from __future__ import annotations

import json
import shutil
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from analytics.figures import compute
from scripts import report, simulate

pytestmark = pytest.mark.servers

USERS = 40
SEED = 12
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"


@pytest.fixture(scope="module")
def day(tmp_path_factory: pytest.TempPathFactory) -> Path:
    workdir = tmp_path_factory.mktemp("simulation") / "day"
    simulate.simulate(workdir, date(2026, 11, 25), USERS, SEED)
    return workdir


def urls(workdir: Path):
    return f"sqlite:///{workdir / 'tracker.db'}", f"sqlite:///{workdir / 'service.db'}"


def rows(url: str, query: str):
    with create_engine(url).connect() as connection:
        return connection.execute(text(query)).fetchall()


def goals(workdir: Path) -> list:
    return json.loads((workdir / "goals.json").read_text("utf-8"))["users"]


def test_figures_equal_counts_taken_from_the_databases(day: Path) -> None:
    tracker, service = urls(day)
    figures = compute(tracker, service, goals_path=day / "no-goals.json")  # the stores alone

    conversations = rows(tracker, "SELECT COUNT(DISTINCT sender_id) FROM events WHERE type_name = 'user'")[0][
        0
    ]
    answered = rows(
        tracker,
        "SELECT COUNT(DISTINCT sender_id) FROM events WHERE action_name = 'action_answer_topic'",
    )[0][0]
    transfer = "SELECT sender_id FROM events WHERE action_name IN ('action_transfer_human', 'ticket_form')"
    transferred = rows(tracker, f"SELECT COUNT(DISTINCT sender_id) FROM ({transfer})")[0][0]
    contained = rows(
        tracker,
        "SELECT COUNT(DISTINCT sender_id) FROM events "
        f"WHERE action_name = 'action_answer_topic' AND sender_id NOT IN ({transfer})",
    )[0][0]
    tickets = dict(rows(service, "SELECT status, COUNT(*) FROM tickets GROUP BY status"))
    ratings = dict(rows(service, "SELECT score, COUNT(*) FROM ratings GROUP BY score"))

    assert figures["conversations"] == conversations == USERS
    assert sum(figures["conversations_by_hour"].values()) == conversations
    assert (figures["answered"], figures["transfers"], figures["contained"]) == (
        answered,
        transferred,
        contained,
    )
    assert figures["containment_basis"] == "stores" and figures["asked"] == answered
    assert figures["containment_rate"] == round(contained / answered, 3)
    assert figures["tickets_by_status"] == tickets
    assert {int(k): v for k, v in figures["ratings"].items() if v} == ratings
    assert sum(figures["topics"].values()) <= conversations
    assert transferred > 0 and ratings, "the simulated day should hold transfers and ratings"


def test_containment_is_the_needs_the_bot_met_without_a_human(day: Path) -> None:
    """Recomputed from goals.json and the stores: the users who asked, those whose need the bot met
    (every expected string in a bot reply of theirs) with no transfer in the tracker store, those an
    agent took (agent_actions) and those who left a ticket (tickets)."""
    tracker, service = urls(day)
    figures = compute(tracker, service)  # goals.json beside tracker.db
    records = goals(day)
    assert len(records) == USERS
    transferred = {
        row[0]
        for row in rows(
            tracker,
            "SELECT DISTINCT sender_id FROM events "
            "WHERE action_name IN ('action_transfer_human', 'ticket_form')",
        )
    }
    asked = [r for r in records if r["asked"]]
    contained = [r for r in asked if r["by"] == "bot" and r["sender_id"] not in transferred]
    taken = {
        row[0] for row in rows(service, "SELECT conversation_id FROM agent_actions WHERE action = 'take'")
    }
    ticketed = {row[0] for row in rows(service, "SELECT conversation_id FROM tickets")}

    assert figures["containment_basis"] == "goals"
    assert (figures["asked"], figures["contained"]) == (len(asked), len(contained))
    assert figures["containment_rate"] == round(len(contained) / len(asked), 3)
    outcomes = figures["goal_outcomes"]
    assert outcomes["bot_first_try"] == sum(r["tries"] == 1 for r in contained)
    assert outcomes["bot_first_try"] + outcomes["bot_rephrase"] == len(contained)
    assert {r["sender_id"] for r in records if r["by"] == "human"} == taken
    assert {r["sender_id"] for r in records if r["by"] == "ticket"} == ticketed
    assert sum(outcomes.values()) == len(asked)
    assert {r["sender_id"] for r in records if r["rating"]} == {
        row[0] for row in rows(service, "SELECT conversation_id FROM ratings")
    }
    # The bot said every expected string to the users it satisfied.
    for record in contained:
        said = " ".join(
            json.loads(row[0]).get("text") or ""
            for row in rows(
                tracker,
                f"SELECT data FROM events WHERE type_name = 'bot' AND sender_id = '{record['sender_id']}'",
            )
        ).lower()
        assert all(expected.lower() in said for expected in record["expect"]), record
    assert contained, "the simulated day should hold needs the bot met"


def test_the_same_seed_plays_the_same_day(day: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    simulate.simulate(again, date(2026, 11, 25), USERS, SEED)
    assert compute(*urls(again)) == compute(*urls(day))
    assert goals(again) == goals(day)


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Chromium is not installed")
def test_the_report_shows_every_chart_in_chromium(day: Path, tmp_path: Path) -> None:
    from playwright.sync_api import sync_playwright

    out = tmp_path / "report.html"
    tracker, service = urls(day)
    assert report.main(["--tracker-db", tracker, "--service-db", service, "--out", str(out)]) == 0
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page()
        page.goto(out.as_uri())
        widths = page.eval_on_selector_all(
            "figure img", "imgs => imgs.map(i => i.complete && i.naturalWidth)"
        )
        captions = page.eval_on_selector_all("figcaption", "els => els.map(e => e.textContent)")
        summary = page.text_content("#summary")
        agent_rows = page.eval_on_selector_all(
            "#agents tbody tr", "rows => rows.map(r => [...r.cells].map(c => c.textContent))"
        )
        browser.close()
    figures = json.loads(out.with_suffix(".json").read_text("utf-8"))
    rated = any(agent["ratings"] for agent in figures["agents"])  # then the per-agent CSAT chart too
    assert len(widths) == 9 + rated and all(width > 100 for width in widths)
    assert {"智能客服解决率（对比文章的85%）", "模拟用户的需求结果"} <= set(captions)
    # The simulated agents (scripts/simulate.py) by display name, one row each, with what they did.
    assert [row[0] for row in agent_rows] == [agent["name"] for agent in figures["agents"]]
    assert figures["agents"] and all(agent["name"].startswith("坐席") for agent in figures["agents"])
    taken = rows(urls(day)[1], "SELECT COUNT(*) FROM agent_actions WHERE action = 'take'")[0][0]
    assert sum(agent["chats_taken"] for agent in figures["agents"]) == taken
    assert (
        f"无需人工 {figures['contained']}（解决率 {figures['containment_rate']:.0%}，文章为 85%）" in summary
    )
