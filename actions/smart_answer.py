"""The smart answer: the case (NLU intent) × the aspect asked (actions/aspects.py), answered from
knowledge/; short follow-ups are answered for the case in the conversation."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import clock, form_escape, handoff, knowledge
from actions.answers import Answer, aspect_answer, green_channel, more_channels_answer, topic_answer
from actions.aspects import Question, read_question
from actions.evidence_offer import offer_evidence
from actions.handoff import transfer_to_human
from actions.language import conversation_language, disclaim_once
from actions.wording import words

SUGGESTION_COUNT = 3
BUTTON_PREFIX = "/"
GENERAL_TOPIC = "contact_general"
WAITING_TOPIC = "waiting_time"  # asked while queued: the user's own place in the queue
MORE_PAYLOAD = "/more_channels"
HUMAN_BUTTON = {"zh": "转人工", "en": "Human agent"}


def users_words(tracker: Tracker, topic: str) -> str:
    """What the user wrote about the problem; a button press stands for the topic's title."""
    text = tracker.latest_message.get("text") or ""
    return knowledge.topic_title(topic) if text.startswith(BUTTON_PREFIX) else text


def follow_up_of(question: Question, follow_up: Dict[str, str]) -> Question:
    """A generic question ("客服电话多少" = the phone kind) read as a question about the current case."""
    return Question(
        aspects=question.aspects or tuple(filter(None, [follow_up.get("aspect")])),
        kinds=tuple(dict.fromkeys([*question.kinds, *filter(None, [follow_up.get("kind")])])),
        channels=tuple(dict.fromkeys([*question.channels, *filter(None, [follow_up.get("channel")])])),
    )


def answer_for(
    tracker: Tracker, topic: str, question: Question, language: str, follow_up: bool = False
) -> Answer:
    """The aspect's answer when the question asks one, else the case's overview. A follow-up asks
    first about the channels the conversation already named ("紧急求助在哪" → "要多久")."""
    region, city = tracker.get_slot("region"), tracker.get_slot("city")
    preferred = tracker.get_slot("shown_channels") if follow_up else None
    found = aspect_answer(topic, question, language, region, city, clock.now(), preferred)
    return found or topic_answer(topic, tracker.latest_message.get("text"), region, city, language)


def send(
    dispatcher: CollectingDispatcher, answer: Answer, language: str, shown_before: Optional[List[str]] = None
) -> List[EventType]:
    """The answer, with an "其他渠道" button when the case has channels it did not name. The channels
    named so far in the case are remembered, so "其他渠道" shows only the others."""
    buttons = [{"title": words(language)["more_button"], "payload": MORE_PAYLOAD}] if answer.more else []
    dispatcher.utter_message(text=answer.text, buttons=buttons)
    shown = list(dict.fromkeys([*(shown_before or []), *answer.shown]))
    return [SlotSet("shown_channels", shown)]


def answer_if_clear(
    dispatcher: CollectingDispatcher, tracker: Tracker, language: str, of_the_case: bool = True
) -> Optional[List[EventType]]:
    """A message the NLU could not place (or placed out of scope) that still names a channel, or a kind
    of channel and an aspect ("热线 几点"), or (`of_the_case`) an aspect of the case in hand: answered,
    not asked back."""
    question = read_question(tracker.latest_message.get("text"))
    case = tracker.get_slot("topic")
    has_case = knowledge.topic(case) is not None
    named = question.channels or (question.kinds and question.aspects)
    if not (named or (of_the_case and has_case and (question.aspects or question.kinds))):
        return None
    topic = case if has_case else GENERAL_TOPIC
    answer = answer_for(tracker, topic, question, language, follow_up=True)
    return send(dispatcher, answer, language, tracker.get_slot("shown_channels"))


def transfer_described(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
    """The user was asked to describe the problem for a human agent: whatever the description reads
    like (a follow-up, something unclear), it is the description, and the transfer goes on."""
    case = tracker.get_slot("topic")
    topic = case if knowledge.topic(case) is not None else GENERAL_TOPIC
    return transfer_to_human(dispatcher, tracker, topic, tracker.latest_message.get("text") or "")


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
        language = conversation_language(tracker)
        events = disclaim_once(dispatcher, tracker)
        if topic == WAITING_TOPIC and tracker.get_slot("queued_for_human"):
            # "还要等多久" while waiting in the queue: their own place, not the article's waits.
            told = handoff.tell_place(dispatcher, tracker)
            if told is not None:
                return events + told
        question = read_question(tracker.latest_message.get("text"))
        case = tracker.get_slot("topic")
        follow_up = knowledge.topic(topic).get("follow_up")
        if follow_up and knowledge.topic(case) is not None and case != topic:
            # "电话呢" / "要多久" during another case: answered for that case, which stays.
            answer = answer_for(tracker, case, follow_up_of(question, follow_up), language, follow_up=True)
            return events + send(dispatcher, answer, language, tracker.get_slot("shown_channels"))

        words_ = users_words(tracker, topic)
        if (tracker.active_loop or {}).get("name") != form_escape.TICKET_FORM:
            # Asked while the ticket form waits (data/form_rules.yml): answered, the ticket's case stays.
            events += [
                SlotSet("topic", topic),
                SlotSet("problem_text", words_),
                SlotSet("next_step_given", False),
            ]
        if tracker.get_slot("human_requested"):
            # The user already asked for a person and has now said what the case is.
            return events + transfer_to_human(dispatcher, tracker, topic, words_)

        events += send(dispatcher, answer_for(tracker, topic, question, language), language)
        events += offer_evidence(dispatcher, tracker, topic, words_, language)
        green = green_channel(topic, words_)
        if green:
            channel_name = knowledge.localized(knowledge.channel(green), "name", language)
            dispatcher.utter_message(response="utter_green_channel", channel_name=channel_name)
        else:
            dispatcher.utter_message(response="utter_ask_resolved")
        return events


class ActionAnswerFollowUp(Action):
    """A short question naming only an aspect or a channel ("要多久", "那邮箱呢"): for the current case."""

    def name(self) -> str:
        return "action_answer_follow_up"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        language = conversation_language(tracker)
        events = disclaim_once(dispatcher, tracker)
        case: Optional[str] = tracker.get_slot("topic")
        topic = case if knowledge.topic(case) is not None else GENERAL_TOPIC
        if tracker.get_slot("human_requested"):
            return events + transfer_described(dispatcher, tracker)
        question = read_question(tracker.latest_message.get("text"))
        answer = answer_for(tracker, topic, question, language, follow_up=True)
        return events + send(dispatcher, answer, language, tracker.get_slot("shown_channels"))


class ActionMoreChannels(Action):
    """The case's channels that the answers so far did not name."""

    def name(self) -> str:
        return "action_more_channels"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        language = conversation_language(tracker)
        if not (tracker.latest_message.get("text") or "").startswith(BUTTON_PREFIX):
            clear = answer_if_clear(dispatcher, tracker, language)  # "VIP channel's connection rate?"
            if clear is not None:
                return clear
        case = tracker.get_slot("topic")
        topic = case if knowledge.topic(case) is not None else GENERAL_TOPIC
        shown = tracker.get_slot("shown_channels") or []
        return send(dispatcher, more_channels_answer(topic, shown, language), language, shown)


class ActionSuggestTopics(Action):
    """Low NLU confidence: offer the closest topics as buttons instead of guessing."""

    def name(self) -> str:
        return "action_suggest_topics"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        language = conversation_language(tracker)
        events = disclaim_once(dispatcher, tracker)
        ranking = tracker.latest_message.get("intent_ranking") or []
        if tracker.get_slot("human_requested"):
            return events + transfer_described(dispatcher, tracker)
        clear = answer_if_clear(dispatcher, tracker, language)
        if clear is not None:
            return events + clear
        closest = [entry["name"] for entry in ranking if knowledge.topic(entry.get("name")) is not None][
            :SUGGESTION_COUNT
        ]
        buttons = [
            {"title": knowledge.topic_title(name, language), "payload": f"{BUTTON_PREFIX}{name}"}
            for name in closest
        ]
        buttons.append({"title": HUMAN_BUTTON[language], "payload": f"{BUTTON_PREFIX}request_human"})
        dispatcher.utter_message(response="utter_suggest_topics", buttons=buttons)
        return events


class ActionOutOfScope(Action):
    """Outside Douyin service, unless the message names a channel or asks about the case in hand."""

    def name(self) -> str:
        return "action_out_of_scope"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        language = conversation_language(tracker)
        events = disclaim_once(dispatcher, tracker)
        clear = answer_if_clear(dispatcher, tracker, language, of_the_case=False)
        if clear is not None:
            return events + clear
        dispatcher.utter_message(response="utter_out_of_scope")
        return events
