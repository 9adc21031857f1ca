"""After a smart answer: solved (ask for a rating), not solved (one more step, then a human); and the
rating itself, of the bot or, after a human agent closed the chat, of that agent."""

from __future__ import annotations

from typing import Any, Dict, List

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.language import conversation_language
from agents.csat import save_agent_rating
from core import clock, store
from core.answers import next_step_answer
from core.parsing import find_rating

NO_TOPIC = "unknown"


class ActionHandleSolved(Action):
    def name(self) -> str:
        return "action_handle_solved"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        dispatcher.utter_message(response="utter_ask_rating")
        # The bot's own rating now, not a human agent's asked earlier and left unanswered.
        return [SlotSet("rating_requested", True), SlotSet("rated_agent", None)]


class ActionHandleUnsolved(Action):
    def name(self) -> str:
        return "action_handle_unsolved"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        topic = tracker.get_slot("topic")
        if not topic:
            dispatcher.utter_message(response="utter_ask_what_problem")
            return []
        next_step = (
            None
            if tracker.get_slot("next_step_given")
            else next_step_answer(topic, conversation_language(tracker))
        )
        if next_step:
            dispatcher.utter_message(response="utter_next_step", next_step=next_step)
            dispatcher.utter_message(response="utter_ask_resolved")
            return [SlotSet("next_step_given", True)]
        dispatcher.utter_message(response="utter_offer_human")
        return []


class ActionSaveRating(Action):
    def name(self) -> str:
        return "action_save_rating"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        if not tracker.get_slot("rating_requested"):
            # A bare "5" nobody asked for (e.g. typed while other buttons were shown) is no rating.
            dispatcher.utter_message(response="utter_default")
            return []
        entity = next(tracker.get_latest_entity_values("rating"), None)
        score = find_rating(str(entity)) if entity else find_rating(tracker.latest_message.get("text"))
        if score is None:
            dispatcher.utter_message(response="utter_ask_rating_again")
            return []
        agent = tracker.get_slot("rated_agent")
        if agent:
            # Asked by the agent console when a human closed the chat: the score is that agent's.
            topic = store.queue_topic(tracker.sender_id) or tracker.get_slot("topic") or NO_TOPIC
            save_agent_rating(tracker.sender_id, agent, topic, score, clock.now())
            dispatcher.utter_message(
                response="utter_agent_rating_saved",
                score=score,
                agent_name=tracker.get_slot("agent_name") or agent,
            )
            return [SlotSet("rating_requested", False), SlotSet("rated_agent", None)]
        topic = tracker.get_slot("topic") or NO_TOPIC
        store.save_rating(tracker.sender_id, topic, score, clock.now())
        dispatcher.utter_message(response="utter_rating_saved", score=score)
        return [SlotSet("rating_requested", False)]
