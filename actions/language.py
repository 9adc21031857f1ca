"""The conversation's language (slot `language`, filled by the NLU's LanguageDetector) and the
simulator disclaimer, said once in each language the conversation is held in."""

from __future__ import annotations

from typing import List

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

LANGUAGES = ("zh", "en")
DEFAULT_LANGUAGE = "zh"


def disclaimer_response(language: str) -> str:
    """The disclaimer's response name: chosen here, not by a slot condition, because at the start of a
    session the slot is not set yet when the response is rendered."""
    return "utter_disclaimer_en" if language == "en" else "utter_disclaimer"


def conversation_language(tracker: Tracker) -> str:
    language = tracker.get_slot("language")
    return language if language in LANGUAGES else DEFAULT_LANGUAGE


def disclaim_once(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
    """The disclaimer, if the conversation has not had it in its current language (a conversation
    started by a button in Chinese and continued in English gets it again, in English)."""
    language = conversation_language(tracker)
    said = tracker.get_slot("disclaimer_languages") or []
    if language in said:
        return []
    dispatcher.utter_message(response=disclaimer_response(language))
    return [SlotSet("disclaimer_languages", [*said, language])]
