"""The smart answer: recognises the topic, answers from knowledge/, then asks whether it helped."""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import knowledge
from actions.answers import green_channel, topic_answer
from actions.handoff import transfer_to_human

SUGGESTION_COUNT = 3
BUTTON_PREFIX = "/"


def users_words(tracker: Tracker, topic: str) -> str:
    """What the user wrote about the problem; a button press stands for the topic's title."""
    text = tracker.latest_message.get("text") or ""
    return knowledge.topic_title(topic) if text.startswith(BUTTON_PREFIX) else text


class ActionAnswerTopic(Action):
    def name(self) -> str:
        return "action_answer_topic"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        topic = tracker.latest_message["intent"]["name"]
        if knowledge.topic(topic) is None:
            dispatcher.utter_message(response="utter_default")
            return []
        words = users_words(tracker, topic)
        events: List[EventType] = [
            SlotSet("topic", topic),
            SlotSet("problem_text", words),
            SlotSet("next_step_given", False),
        ]
        if tracker.get_slot("human_requested"):
            # The user already asked for a person and has now said what the case is.
            return events + transfer_to_human(dispatcher, tracker, topic, words)

        dispatcher.utter_message(
            text=topic_answer(topic, words, region=tracker.get_slot("region"), city=tracker.get_slot("city"))
        )
        green = green_channel(topic, words)
        if green:
            channel_name = knowledge.channel(green)["name"]
            dispatcher.utter_message(response="utter_green_channel", channel_name=channel_name)
        else:
            dispatcher.utter_message(response="utter_ask_resolved")
        return events


class ActionSuggestTopics(Action):
    """Low NLU confidence: offer the closest topics as buttons instead of guessing."""

    def name(self) -> str:
        return "action_suggest_topics"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        ranking = tracker.latest_message.get("intent_ranking") or []
        closest = [entry["name"] for entry in ranking if knowledge.topic(entry.get("name")) is not None][
            :SUGGESTION_COUNT
        ]
        buttons = [
            {"title": knowledge.topic_title(name), "payload": f"{BUTTON_PREFIX}{name}"} for name in closest
        ]
        buttons.append({"title": "转人工", "payload": f"{BUTTON_PREFIX}request_human"})
        dispatcher.utter_message(response="utter_suggest_topics", buttons=buttons)
        return []
