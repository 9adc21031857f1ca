"""The user's rating of a human agent after the agent closes the chat (CSAT), stored per agent."""

from __future__ import annotations

import asyncio
import re
from datetime import datetime
from typing import Any, Dict, List

import pytest
import yaml
from rasa.core.nlg.response import TemplatedNaturalLanguageGenerator

from actions.resolution import ActionHandleSolved, ActionSaveRating
from agents import schema
from agents.csat import agent_scores, save_agent_rating
from core import clock, store
from tests.conftest import ROOT, make_tracker, run_action, slot_events

DOMAIN = yaml.safe_load((ROOT / "domain.yml").read_text("utf-8"))
NLG = TemplatedNaturalLanguageGenerator(DOMAIN["responses"])
DISPATCHER_KEYS = {"text", "buttons", "elements", "custom", "template", "response", "image", "attachment"}
MODEL = ROOT / "models" / "douyin-cs.tar.gz"
CHINESE = re.compile(r"[\u4e00-\u9fff]")
RATE_PAYLOADS = [f'/rate{{"rating":"{n}"}}' for n in (5, 4, 3, 2, 1)]


def render(name: str, language: str, **kwargs: Any) -> Dict[str, Any]:
    """The response as the Rasa server renders it for a conversation in `language`."""
    return NLG.generate_from_slots(name, {"language": language}, "rest", **kwargs)


def rendered(message: Dict[str, Any], language: str) -> Dict[str, Any]:
    kwargs = {k: v for k, v in message.items() if k not in DISPATCHER_KEYS}
    return render(message["response"], language, **kwargs)


def bot_ratings() -> List:
    with store.engine().connect() as connection:
        return connection.execute(store.ratings.select()).fetchall()


def after_close(language: str = "zh", **extra: Any) -> Dict[str, Any]:
    """The slots once the console has closed the chat and asked for the agent's rating."""
    return {
        "agent_name": "小美",
        "rated_agent": "xiaomei",
        "rating_requested": True,
        "topic": "throttling",
        "language": language,
        "disclaimer_languages": [language],
        **extra,
    }


@pytest.mark.parametrize("language", ["zh", "en"])
def test_a_button_rating_after_a_human_goes_to_that_agent(sim_now, language) -> None:
    sim_now("10:00")
    store.enqueue_for_human("u-agent", "account_ban", "号被封了", clock.now())  # the topic queued with
    entities = [{"entity": "rating", "value": "4"}]
    tracker = make_tracker(
        "rate", '/rate{"rating":"4"}', after_close(language), entities, sender_id="u-agent"
    )
    messages, events = run_action(ActionSaveRating(), tracker)
    assert agent_scores("xiaomei") == [("u-agent", "account_ban", 4)]
    assert bot_ratings() == []  # not the bot's own rating
    assert slot_events(events) == {"rating_requested": False, "rated_agent": None}
    assert [m["response"] for m in messages] == ["utter_agent_rating_saved"]
    text = rendered(messages[0], language)["text"]
    if language == "zh":
        assert "人工客服小美" in text and "4分" in text
    else:
        assert "agent 小美" in text and "4/5" in text and not CHINESE.search(text.replace("小美", ""))


def test_a_typed_number_after_the_agents_question_is_the_agents_rating(sim_now) -> None:
    sim_now("10:00")
    tracker = make_tracker("rate", "5", after_close(), sender_id="u-typed")
    messages, _ = run_action(ActionSaveRating(), tracker)
    assert messages[0]["score"] == 5 and messages[0]["agent_name"] == "小美"
    assert agent_scores("xiaomei") == [("u-typed", "throttling", 5)]  # no queue entry: the slot's topic


def test_an_unclear_answer_asks_again_and_keeps_the_agent() -> None:
    messages, events = run_action(ActionSaveRating(), make_tracker("rate", "还可以吧哈哈", after_close()))
    assert [m["response"] for m in messages] == ["utter_ask_rating_again"]
    assert events == [] and agent_scores("xiaomei") == []


def test_the_bots_own_rating_question_forgets_an_unanswered_agent_rating(sim_now) -> None:
    sim_now("10:00")
    _, events = run_action(ActionHandleSolved(), make_tracker("affirm_solved", slots=after_close()))
    slots = {**after_close(), **slot_events(events)}
    assert slots["rated_agent"] is None and slots["rating_requested"] is True
    run_action(ActionSaveRating(), make_tracker("rate", "3", slots, sender_id="u-bot"))
    assert agent_scores("xiaomei") == []
    assert [(r.conversation_id, r.topic, r.score) for r in bot_ratings()] == [("u-bot", "throttling", 3)]


def test_save_agent_rating_refuses_a_score_out_of_range() -> None:
    with pytest.raises(ValueError):
        save_agent_rating("c", "xiaomei", "throttling", 6, datetime.now(clock.SERVICE_TIMEZONE))
    with schema.engine().connect() as connection:
        assert connection.execute(schema.agent_ratings.select()).fetchall() == []


@pytest.mark.parametrize("language", ["zh", "en"])
def test_the_consoles_responses_in_both_languages(language) -> None:
    asked = render("utter_ask_agent_rating", language, agent_name="小美")
    assert [b["payload"] for b in asked["buttons"]] == RATE_PAYLOADS
    moved = render("utter_agent_transferred", language, agent_name="小美")["text"]
    if language == "zh":
        assert "人工客服小美" in asked["text"] and "1-5分" in asked["text"]
        assert moved == "您的会话已转交人工客服小美，请稍候。"
    else:
        titles = "".join(b["title"] for b in asked["buttons"])
        assert "agent 小美" in asked["text"] and not CHINESE.search(
            asked["text"].replace("小美", "") + titles
        )
        assert "agent 小美" in moved and not CHINESE.search(moved.replace("小美", ""))


# --- the trained model: after the console's events, a rating goes to action_save_rating ---------------


@pytest.fixture(scope="module")
def rasa_agent():
    from rasa.core.agent import Agent

    return Agent.load(str(MODEL))


def console_closed_and_asked(rasa_agent) -> Any:
    """A tracker as channels/agent_console.py leaves it: queued, taken, closed, the rating asked."""
    from rasa.shared.core.events import (
        ActionExecuted,
        BotUttered,
        ConversationPaused,
        ConversationResumed,
        SessionStarted,
        SlotSet,
        UserUttered,
    )
    from rasa.shared.core.trackers import DialogueStateTracker

    def said(action: str) -> list:
        return [ActionExecuted(action), BotUttered("…"), ActionExecuted("action_listen")]

    events = [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        ActionExecuted("action_listen"),
        UserUttered("转人工", {"name": "request_human", "confidence": 1.0}),
        ActionExecuted("action_transfer_human"),
        BotUttered("…"),
        ActionExecuted("action_listen"),
        UserUttered("账号被封了", {"name": "account_ban", "confidence": 1.0}),
        ActionExecuted("action_answer_topic"),
        SlotSet("topic", "account_ban"),
        ActionExecuted("action_listen"),
        SlotSet("agent_name", "小美"),
        *said("utter_agent_joined"),
        ConversationPaused(),
        UserUttered("还是登不上", {"name": "account_ban", "confidence": 1.0}),
        SlotSet("agent_name", "小美"),
        ConversationResumed(),
        *said("utter_agent_left"),
        SlotSet("rated_agent", "xiaomei"),
        SlotSet("rating_requested", True),
        *said("utter_ask_agent_rating"),
    ]
    return DialogueStateTracker.from_events("u-model", events, slots=rasa_agent.domain.slots)


@pytest.mark.parametrize("text", ['/rate{"rating":"4"}', "5"])
def test_the_model_answers_a_rating_after_the_agents_question_with_save_rating(rasa_agent, text) -> None:
    from rasa.shared.core.events import UserUttered

    tracker = console_closed_and_asked(rasa_agent)
    parsed = asyncio.run(rasa_agent.parse_message(text))
    assert parsed["intent"]["name"] == "rate"
    tracker.update(UserUttered(text, parsed["intent"], parsed["entities"], parse_data=parsed))
    prediction = rasa_agent.processor.predict_next_with_tracker(tracker)
    best = max(prediction["scores"], key=lambda score: score["score"])
    assert best["action"] == "action_save_rating"
    assert tracker.get_slot("rated_agent") == "xiaomei"
