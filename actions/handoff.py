"""Transfer to a human agent under the article's rules: queue in service hours, else a ticket offer."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any, Callable, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions.language import conversation_language, disclaim_once
from agents import live, user_queue
from agents.accounts import find_agent
from agents.staffing import Staffing, estimate_wait, has_agent_accounts, staffing_now
from core import clock, knowledge, store
from core.answers import aspect_answer, green_channel
from core.aspects import Question
from core.service_hours import (
    HumanAvailability,
    estimated_wait_minutes,
    human_availability,
    open_channels_now,
    reopens_text,
)
from observability.action_server import count_transfer

WAIT = {
    "zh": ("{low}-{high}分钟", "约{low}分钟", "（高峰时段，最长约30分钟）"),
    "en": ("{low}-{high} minutes", "about {low} min", " (peak time: up to 30)"),
}

WAITING_TOPIC = "waiting_time"  # the article's waits, for a user who is not in this queue
logger = logging.getLogger(__name__)


def transfer_to_human(
    dispatcher: CollectingDispatcher, tracker: Tracker, topic: str, description: str
) -> List[EventType]:
    """Queues the conversation when agents are on duty; otherwise says what is open and offers a ticket."""
    now = clock.now()
    language = conversation_language(tracker)
    availability = human_availability(now)
    if availability.on_duty:
        try:
            user_queue.abandon_idle(now)  # positions count only the people still waiting
            position = store.enqueue_for_human(tracker.sender_id, topic, description, now)
        except store.StoreError:
            logger.exception("Could not queue %s for a human agent", tracker.sender_id)
            count_transfer("failed")
            dispatcher.utter_message(
                response="utter_store_unavailable",
                channels=knowledge.store_failure_channels(language),
            )
            return [SlotSet("human_requested", False)]
        live.safe_publish(tracker.sender_id, "queued")  # the agents' consoles hear of it at once
        # While queued, what the user adds reaches the consoles live (tracker_stores/cached_sql.py).
        queued = [SlotSet("human_requested", False), SlotSet("queued_for_human", True)]
        staffing = current_staffing(now)
        count_transfer("queued_nobody_online" if staffing is not None and staffing.online == 0 else "queued")
        if staffing is not None and staffing.online == 0:
            # Queued all the same, so that the first agent to log in sees the conversation.
            dispatcher.utter_message(
                response="utter_queued_no_agent_online",
                topic_title=knowledge.topic_title(topic, language),
                position=position,
                hours=availability.hours,
            )
            return queued
        dispatcher.utter_message(
            response="utter_queued",
            topic_title=knowledge.topic_title(topic, language),
            position=position,
            wait=promised_wait(position, availability, staffing, language),
            hours=availability.hours,
        )
        return queued
    else:
        count_transfer("after_hours")
        after_hours_offer(dispatcher, now, language, green_channel(topic, description) if topic else None)
    return [SlotSet("human_requested", False)]


def current_staffing(now: datetime) -> Optional[Staffing]:
    """The agents online and their load, or None where that says nothing: a deployment with no agent
    accounts yet (`make run` before `make agent-add`), or agents' tables that cannot be read."""
    try:
        return staffing_now(now) if has_agent_accounts() else None
    except store.StoreError:
        logger.exception("Could not read the agents' staffing; promising the article's wait")
        return None


def promised_wait(
    position: int, availability: HumanAvailability, staffing: Optional[Staffing], language: str
) -> str:
    """ "4-9分钟": from the measured staffing when there is a measurement, else the article's figures
    (2-5 minutes a person ahead, "up to 30" at peak)."""
    span, about, peak_note = WAIT[language]
    estimate = estimate_wait(position, staffing, availability.peak) if staffing is not None else None
    if estimate is None or staffing.mean_handling_minutes is None:
        low, high = estimated_wait_minutes(position, availability.peak)
        return span.format(low=low, high=high) + (peak_note if availability.peak else "")
    low, high = estimate
    return (about if low == high else span).format(low=low, high=high)


def after_hours_offer(
    dispatcher: CollectingDispatcher, now: datetime, language: str, green: Optional[str] = None
) -> None:
    """Nobody is on duty: when they are back, what is open now (a green channel first), a ticket offer."""
    availability = human_availability(now)
    channel_ids = open_channels_now(now)
    if green:
        channel_ids = [green] + [c for c in channel_ids if c != green]
    dispatcher.utter_message(
        response="utter_after_hours",
        clock=now.strftime("%H:%M"),
        hours=availability.hours,
        reopens=reopens_text(availability, language),
        open_channels=knowledge.channel_lines(channel_ids, language),
    )


class ActionTransferHuman(Action):
    def name(self) -> str:
        return "action_transfer_human"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        events = disclaim_once(dispatcher, tracker)
        topic = tracker.get_slot("topic")
        if (knowledge.topic(topic) or {}).get("not_a_case"):
            topic = None  # "人工几点上班" then "转人工": the agent still needs to know the problem
        now = clock.now()
        if not human_availability(now).on_duty:
            # Nobody to transfer to: say so first, never "right away".
            green = green_channel(topic, tracker.get_slot("problem_text")) if topic else None
            count_transfer("after_hours")
            after_hours_offer(dispatcher, now, conversation_language(tracker), green)
            return events + [SlotSet("human_requested", False)]
        if not topic:
            # A person needs to know what the case is about: ask once, then transfer (smart_answer).
            dispatcher.utter_message(response="utter_ask_problem_for_human")
            return events + [SlotSet("human_requested", True)]
        description = tracker.get_slot("problem_text") or knowledge.topic_title(topic)
        return events + transfer_to_human(dispatcher, tracker, topic, description)


class ActionQueuePosition(Action):
    """ "我前面还有几个人", "am I still in the queue?": the position and wait, or who has the chat."""

    def name(self) -> str:
        return "action_queue_position"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        events = for_queued_user(dispatcher, tracker, tell_place)
        if SlotSet("queued_for_human", False) in events:
            # Not in this queue: the wait asked about is the app's ("排了半小时还没轮到我"), so the
            # article's waits for its human agents follow.
            language = conversation_language(tracker)
            waits = aspect_answer(WAITING_TOPIC, Question(aspects=("response",)), language)
            if waits is not None:
                dispatcher.utter_message(text=waits.text)
        return events


QueueStep = Callable[[CollectingDispatcher, Tracker], Optional[List[EventType]]]


def for_queued_user(dispatcher: CollectingDispatcher, tracker: Tracker, step: QueueStep) -> List[EventType]:
    """Runs `step` for a user in the queue; one who is not in it is told so."""
    events = disclaim_once(dispatcher, tracker)
    done = step(dispatcher, tracker)
    if done is not None:
        return events + done
    dispatcher.utter_message(response="utter_not_in_queue")
    return events + [SlotSet("queued_for_human", False)]


def tell_place(dispatcher: CollectingDispatcher, tracker: Tracker) -> Optional[List[EventType]]:
    """The user's place in the queue (or who has their chat); None when they are not in it."""
    now = clock.now()
    language = conversation_language(tracker)
    try:
        place = user_queue.place(tracker.sender_id, now)
    except store.StoreError:
        logger.exception("Could not read the queue for %s", tracker.sender_id)
        dispatcher.utter_message(
            response="utter_store_unavailable", channels=knowledge.store_failure_channels(language)
        )
        return []
    if place is None:
        return None
    if place.status == "taken":
        dispatcher.utter_message(response="utter_queue_with_agent", agent=display_name(place.agent))
        return []
    wait = promised_wait(place.position, human_availability(now), current_staffing(now), language)
    dispatcher.utter_message(response="utter_queue_position", position=place.position, wait=wait)
    return []


def display_name(username: Optional[str]) -> str:
    agent = find_agent(username) if username else None
    return agent.display_name if agent else ""


def leave_queue(dispatcher: CollectingDispatcher, tracker: Tracker) -> Optional[List[EventType]]:
    """The user leaves the queue if they are waiting in it: told so; None when they were not."""
    try:
        left = user_queue.leave(tracker.sender_id, clock.now())
    except store.StoreError:
        logger.exception("Could not take %s out of the queue", tracker.sender_id)
        return None
    if not left:
        return None
    dispatcher.utter_message(response="utter_queue_left")
    return [SlotSet("queued_for_human", False)]


class ActionLeaveQueue(Action):
    """ "不等了", "取消排队", "I'll stop waiting": out of the queue, what they said kept for later."""

    def name(self) -> str:
        return "action_leave_queue"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        return for_queued_user(dispatcher, tracker, leave_queue)
