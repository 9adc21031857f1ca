"""Shared fixtures: a fresh SQLite database per test and helpers to run actions on a real tracker."""

from __future__ import annotations

import asyncio
import os
from pathlib import Path
from typing import Any, Dict, Iterator, List, Optional

import pytest
from rasa_sdk import Action, Tracker
from rasa_sdk.executor import CollectingDispatcher

from core import store
from tests import postgres

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def database(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """Every test gets its own SQLite file: the real store, no shared state."""
    url = f"sqlite:///{tmp_path / 'service.db'}"
    monkeypatch.setenv(store.DATABASE_URL_VARIABLE, url)
    # The evidence offer is on only where a test turns it on (a developer's shell may have it set).
    for name in [name for name in os.environ if name.startswith("CS_EVIDENCE_")]:
        monkeypatch.delenv(name)
    return url


@pytest.fixture
def sim_now(monkeypatch: pytest.MonkeyPatch):
    """Sets the simulated clock: sim_now("22:30") plays 2026-11-25 22:30 Beijing time."""

    def set_clock(clock: str, date: str = "2026-11-25") -> None:
        monkeypatch.setenv("CS_SIM_NOW", f"{date}T{clock}:00+08:00")

    return set_clock


def make_tracker(
    intent: str = "greet",
    text: str = "",
    slots: Optional[Dict[str, Any]] = None,
    entities: Optional[List[Dict[str, Any]]] = None,
    sender_id: str = "test-user",
    ranking: Optional[List[Dict[str, Any]]] = None,
    events: Optional[List[Dict[str, Any]]] = None,
    active_loop: Optional[str] = None,
) -> Tracker:
    latest = {
        "intent": {"name": intent, "confidence": 0.9},
        "intent_ranking": ranking or [{"name": intent, "confidence": 0.9}],
        "entities": entities or [],
        "text": text,
    }
    # The disclaimer was said at the session's start unless a test says otherwise.
    slots = {"disclaimer_languages": ["zh"], **(slots or {})}
    loop = {"name": active_loop} if active_loop else None
    return Tracker(sender_id, slots, latest, events or [], False, None, loop, "action_listen")


def run_action(action: Action, tracker: Tracker) -> tuple:
    """Runs an action the way the action server does; returns (messages, events)."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, {}))
    return dispatcher.messages, events


def slot_events(events: List[Dict[str, Any]]) -> Dict[str, Any]:
    return {e["name"]: e["value"] for e in events if e.get("event") == "slot"}


@pytest.fixture(scope="module")
def pg() -> Iterator[postgres.TempPostgres]:
    """A throwaway PostgreSQL server for a test module (skipped where PostgreSQL is not installed)."""
    if not postgres.available():
        pytest.skip("needs PostgreSQL")
    server = postgres.TempPostgres().init()
    yield server
    server.destroy()
