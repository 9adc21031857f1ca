"""Parts failing: the database going down under the ticket flow, on a real PostgreSQL server."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, func, select

from actions.tickets import ActionCreateTicket
from core import store
from tests import postgres
from tests.conftest import make_tracker, run_action

pytestmark = pytest.mark.skipif(not postgres.available(), reason="PostgreSQL is not installed")

TICKET_SLOTS = {
    "topic": "recharge_refund",
    "problem_text": "充值没到账",
    "contact_channel": "phone",
    "contact_detail": "13800138000",
}


def ticket_count(url: str) -> int:
    with create_engine(url).connect() as connection:
        return connection.execute(select(func.count()).select_from(store.tickets)).scalar_one()


def test_ticket_creation_survives_the_database_going_down_and_up(pg, monkeypatch, sim_now) -> None:
    sim_now("22:30")
    monkeypatch.setenv(store.DATABASE_URL_VARIABLE, pg.url)
    first, _ = run_action(ActionCreateTicket(), make_tracker(slots=TICKET_SLOTS, sender_id="pg-1"))
    assert first[0]["response"] == "utter_ticket_created"

    pg.stop()
    try:
        failed, events = run_action(ActionCreateTicket(), make_tracker(slots=TICKET_SLOTS, sender_id="pg-2"))
    finally:
        pg.start()
    assert failed[0]["response"] == "utter_ticket_not_saved"
    assert "400-992-2556" in failed[0]["channels"] and "feedback@douyin.com" in failed[0]["channels"]
    assert events == []  # the form's answers are kept, so asking again retries
    assert ticket_count(pg.url) == 1  # nothing half-written

    again, _ = run_action(ActionCreateTicket(), make_tracker(slots=TICKET_SLOTS, sender_id="pg-2"))
    assert again[0]["response"] == "utter_ticket_created"
    assert store.find_ticket(again[0]["ticket_number"]).conversation_id == "pg-2"
    assert ticket_count(pg.url) == 2
