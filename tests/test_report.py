"""The report of a seeded simulated day: its figures equal counts taken directly from the databases,
the same seed plays the same day, and the HTML shows every chart in Chromium."""

from __future__ import annotations

import shutil
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from analytics.figures import compute
from scripts import report, simulate

pytestmark = pytest.mark.servers

USERS = 40
SEED = 11
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


def test_figures_equal_counts_taken_from_the_databases(day: Path) -> None:
    tracker, service = urls(day)
    figures = compute(tracker, service)

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
    assert figures["containment_rate"] == round(contained / answered, 3)
    assert figures["tickets_by_status"] == tickets
    assert {int(k): v for k, v in figures["ratings"].items() if v} == ratings
    assert sum(figures["topics"].values()) <= conversations
    assert transferred > 0 and ratings, "the simulated day should hold transfers and ratings"


def test_the_same_seed_plays_the_same_day(day: Path, tmp_path: Path) -> None:
    again = tmp_path / "again"
    simulate.simulate(again, date(2026, 11, 25), USERS, SEED)
    assert compute(*urls(again)) == compute(*urls(day))


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
        browser.close()
    assert len(widths) == 8 and all(width > 100 for width in widths)
    assert "智能客服解决率（对比文章的85%）" in captions
