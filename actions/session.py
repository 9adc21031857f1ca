"""Starts every conversation with the simulator disclaimer, in the language of the first message."""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecuted, EventType, SessionStarted, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.language import DEFAULT_LANGUAGE, LANGUAGES, disclaimer_response


class ActionSessionStart(Action):
    def name(self) -> str:
        return "action_session_start"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        # The channels put the language of the message that starts the session in its metadata
        # (channels/reliable.py); the message itself is not in the tracker yet.
        metadata = tracker.get_slot("session_started_metadata") or {}
        language = metadata.get("language") if metadata.get("language") in LANGUAGES else DEFAULT_LANGUAGE
        dispatcher.utter_message(response=disclaimer_response(language))
        return [
            SessionStarted(),
            SlotSet("language", language),
            SlotSet("disclaimer_languages", [language]),
            ActionExecuted("action_listen"),
        ]
