"""Ways out of the ticket forms: a cancel, or another question asked while a form waits for an answer."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import ActionExecutionRejected, ActiveLoop, EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.handoff import leave_queue
from core import knowledge

TICKET_FORM = "ticket_form"
VERIFY_FORM = "ticket_verify_form"
TICKET_SLOTS = ("problem_text", "contact_channel", "contact_detail")
VERIFY_SLOTS = ("verify_contact", "ticket_to_verify")
# "取消", "不填了", "不用了": the user leaves the form.
CANCEL_INTENTS = frozenset({"cancel", "decline"})
# Requests with a reply of their own (data/form_rules.yml), besides the FAQ topics.
OTHER_REQUESTS = frozenset(
    {
        "ask_followup",
        "more_channels",
        "request_human",
        "query_ticket",
        "greet",
        "goodbye",
        "thanks",
        "bot_identity",
        "other_platform",
    }
)
# Below this the NLU is guessing: the message is taken as an answer (and refused if it is not one).
MIN_CONFIDENCE = 0.6


def _confident_intent(tracker: Tracker) -> Optional[str]:
    intent = tracker.latest_message.get("intent") or {}
    return intent.get("name") if (intent.get("confidence") or 0) >= MIN_CONFIDENCE else None


def is_other_request(intent: Optional[str]) -> bool:
    return intent in OTHER_REQUESTS or knowledge.topic(intent) is not None


def leaves_form(tracker: Tracker, is_answer: bool, strict_answer: bool) -> bool:
    """Whether the latest message leaves the form instead of answering it.

    `is_answer`: the message is a valid answer to the question asked; `strict_answer`: it cannot be
    anything else (a phone number, an e-mail, a channel's name), so it wins even over a cancel — a
    Douyin ID may well read "stop".
    """
    intent = _confident_intent(tracker)
    if intent in CANCEL_INTENTS:
        return not strict_answer
    return is_other_request(intent) and not is_answer


def cancels(tracker: Tracker) -> bool:
    return _confident_intent(tracker) in CANCEL_INTENTS


def answered(tracker: Tracker, slot: Optional[str]) -> bool:
    """Whether the user's latest message was taken as the answer to `slot` (not the form's activation,
    nor its return after another action, which have nothing to judge)."""
    return slot is not None and slot in tracker.slots_to_validate()


def actions_this_turn(tracker: Tracker) -> List[str]:
    """The actions run since the user's latest message (the action server gets only this turn's events)."""
    names: List[str] = []
    for event in reversed(tracker.events):
        if event.get("event") == "user":
            break
        if event.get("event") == "action":
            names.append(event.get("name"))
    return names


def reject(form: str, slot: str) -> List[EventType]:
    """The form steps back: the message is not kept as the answer, and the rules take the turn."""
    return [SlotSet(slot, None), ActionExecutionRejected(form)]


class ActionSetFormAside(Action):
    """After the answer to another question: the form steps aside until the user resumes it."""

    def name(self) -> str:
        return "action_set_form_aside"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        form = (tracker.active_loop or {}).get("name")
        events: List[EventType] = [ActiveLoop(None), SlotSet("requested_slot", None)]
        if form == VERIFY_FORM:
            number = tracker.get_slot("ticket_to_verify")
            dispatcher.utter_message(response="utter_ticket_query_set_aside", ticket_number=number)
            return events + [SlotSet(name, None) for name in VERIFY_SLOTS]
        dispatcher.utter_message(response="utter_ticket_set_aside")
        return events


class ActionCancelTicket(Action):
    """ "取消": the form's answers are dropped and nothing is created."""

    def name(self) -> str:
        return "action_cancel_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        # A form was running (deactivated by the rule just before), or one set aside with a channel.
        in_form = "action_deactivate_loop" in actions_this_turn(tracker)
        if tracker.get_slot("ticket_to_verify"):
            dropped, response = VERIFY_SLOTS, "utter_ticket_query_cancelled"
        elif in_form or tracker.get_slot("contact_channel") or tracker.get_slot("contact_detail"):
            dropped, response = TICKET_SLOTS, "utter_ticket_cancelled"
        else:  # no form: the queue, if the user waits in it; else nothing to cancel
            left = leave_queue(dispatcher, tracker)
            if left is not None:
                return left
            dropped, response = (), "utter_decline"
        dispatcher.utter_message(response=response)
        return [SlotSet(name, None) for name in dropped]
