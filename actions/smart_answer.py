"""The smart answer: the case (NLU intent) × the aspect asked (core/aspects.py), answered from
knowledge/; short follow-ups are answered for the case in the conversation. When the NLU is unsure
between two cases it asks which one in a short question; an answer given on a guess says which case
it assumed."""

from __future__ import annotations

from typing import Any, Dict, List, Optional

from rasa_sdk import Action, Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from actions import form_escape, handoff
from actions.elder import is_elder, one_fact
from actions.evidence_offer import offer_evidence
from actions.handoff import transfer_to_human
from actions.language import conversation_language, disclaim_once
from core import clock, knowledge
from core.answers import (
    Answer,
    also_asked,
    aspect_answer,
    green_channel,
    more_channels_answer,
    overview_line,
    topic_answer,
    with_notes,
)
from core.aspects import NO_ASPECT, Question, clause_readings, learned_aspect, named_channels, read_question
from core.wording import words

SUGGESTION_COUNT = 3
BUTTON_PREFIX = "/"
GENERAL_TOPIC = "contact_general"
WAITING_TOPIC = "waiting_time"  # asked while queued: the user's own place in the queue
MORE_PAYLOAD = "/more_channels"
HUMAN_BUTTON = {"zh": "转人工", "en": "Human agent"}
# An answer to a case read with less confidence than this says which case it assumed, and offers the
# runner-up; below the FallbackClassifier's threshold (config.yml) the bot asks which of two cases.
ASSUMED_BELOW = 0.5
# A case the NLU ranks at least this high is worth naming in the two-case question.
CANDIDATE_FLOOR = 0.05
# The only close case, at least this sure, is answered (with the case assumed named) rather than asked.
ANSWER_ALONE = 0.3


def question_of(tracker: Tracker) -> Question:
    """What the latest message asks: its learned aspect (entity `aspect`) with the word lists."""
    message = tracker.latest_message
    return read_question(message.get("text"), learned_aspect(message.get("entities")))


def topic_ranking(tracker: Tracker, exclude: Optional[str] = None) -> List[Dict[str, Any]]:
    """The FAQ topics among the NLU's ranking, best first (the fallback and other intents left out)."""
    ranking = tracker.latest_message.get("intent_ranking") or []
    return [r for r in ranking if knowledge.topic(r.get("name")) is not None and r.get("name") != exclude]


def reading_payload(topic: str, aspect: Optional[str]) -> str:
    """A button that asks the case again, with the aspect the user asked ('/account_ban{"aspect": …}')."""
    return f'{BUTTON_PREFIX}{topic}{{"aspect": "{aspect}"}}' if aspect else f"{BUTTON_PREFIX}{topic}"


def asked_aspect(tracker: Tracker) -> Optional[str]:
    """The aspect the message asks, when there is one (for buttons that repeat the question)."""
    aspects = question_of(tracker).aspects
    return aspects[0] if aspects else None


def reading_title(topic: str, aspect: Optional[str], language: str) -> str:
    """ "账号封禁/解封申诉（响应时间）" — a button's title for one reading of the question."""
    w = words(language)
    title = knowledge.topic_title(topic, language)
    return f"{title}{w['open']}{w['aspects'][aspect]}{w['close']}" if aspect else title


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
    text = tracker.latest_message.get("text")
    if question.no_aspect and not follow_up and not (knowledge.topic(topic) or {}).get("aspect"):
        # A story or a complaint that names a channel ("智能客服就是个摆设") is about the case.
        answer = topic_answer(topic, text, region, city, language)
    else:
        found = aspect_answer(topic, question, language, region, city, clock.now(), preferred)
        answer = found or topic_answer(topic, text, region, city, language)
    # Two questions in one message: the other's answer too.
    answer = also_asked(answer, topic, clause_readings(text), language, region, city)
    return with_notes(answer, topic, text, language)


def send(
    dispatcher: CollectingDispatcher,
    answer: Answer,
    language: str,
    shown_before: Optional[List[str]] = None,
    extra_buttons: Optional[List[Dict[str, str]]] = None,
    elder: bool = False,
) -> List[EventType]:
    """The answer, with an "其他渠道" button when the case has channels it did not name. The channels
    named so far in the case are remembered, so "其他渠道" shows only the others. In the elder mode, one
    fact at a time (actions/elder.py)."""
    if elder:
        answer = one_fact(answer, language)
    buttons = [{"title": words(language)["more_button"], "payload": MORE_PAYLOAD}] if answer.more else []
    dispatcher.utter_message(text=answer.text, buttons=buttons + (extra_buttons or []))
    shown = list(dict.fromkeys([*(shown_before or []), *answer.shown]))
    return [SlotSet("shown_channels", shown)]


def assumed(
    tracker: Tracker, topic: str, confidence: float, language: str, answer: Answer
) -> List[Dict[str, str]]:
    """A case read with little confidence: the answer first says which case it assumed, and a button
    offers the runner-up case (with the aspect asked). Returns that button, or none."""
    if confidence >= ASSUMED_BELOW:
        return []
    w = words(language)
    answer.text = w["assumed"].format(case=knowledge.topic_title(topic, language)) + "\n" + answer.text
    runner_up = next(iter(topic_ranking(tracker, exclude=topic)), None)
    if runner_up is None:
        return []
    aspect = asked_aspect(tracker)
    return [
        {
            "title": w["rather"] + reading_title(runner_up["name"], aspect, language),
            "payload": reading_payload(runner_up["name"], aspect),
        }
    ]


def answer_if_clear(
    dispatcher: CollectingDispatcher, tracker: Tracker, language: str, of_the_case: bool = True
) -> Optional[List[EventType]]:
    """A message the NLU could not place (or placed out of scope) that still names a channel, or a kind
    of channel and an aspect ("热线 几点"), or (`of_the_case`) an aspect of the case in hand: answered,
    not asked back."""
    question = question_of(tracker)
    case = tracker.get_slot("topic")
    has_case = knowledge.topic(case) is not None
    named = question.channels or (question.kinds and question.aspects)
    if not (named or (of_the_case and has_case and (question.aspects or question.kinds))):
        return None
    topic = case if has_case else GENERAL_TOPIC
    answer = answer_for(tracker, topic, question, language, follow_up=True)
    return send(dispatcher, answer, language, tracker.get_slot("shown_channels"), elder=is_elder(tracker))


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
        intent = tracker.latest_message.get("intent") or {}
        if knowledge.topic(intent.get("name")) is None:
            dispatcher.utter_message(response="utter_default")
            return []
        confidence = intent.get("confidence")
        return answer_topic(dispatcher, tracker, intent["name"], 1.0 if confidence is None else confidence)


def answer_topic(
    dispatcher: CollectingDispatcher, tracker: Tracker, topic: str, confidence: float
) -> List[EventType]:
    """The answer for a case (the topic) read with `confidence`: the aspect asked, else the overview."""
    if asked_of_other_platform(tracker):  # "怎么举报一个B站的up主": a Douyin case, another platform
        return other_platform_reply(dispatcher, tracker)
    language = conversation_language(tracker)
    events = disclaim_once(dispatcher, tracker)
    if topic == WAITING_TOPIC and tracker.get_slot("queued_for_human"):
        # "还要等多久" while waiting in the queue: their own place, not the article's waits.
        told = handoff.tell_place(dispatcher, tracker)
        if told is not None:
            return events + told
    question = question_of(tracker)
    case = tracker.get_slot("topic")
    follow_up = knowledge.topic(topic).get("follow_up")
    if follow_up and knowledge.topic(case) is not None and case != topic:
        # "电话呢" / "要多久" during another case: answered for that case, which stays.
        answer = answer_for(tracker, case, follow_up_of(question, follow_up), language, follow_up=True)
        return events + send(
            dispatcher, answer, language, tracker.get_slot("shown_channels"), elder=is_elder(tracker)
        )

    words_ = users_words(tracker, topic)
    in_ticket_form = (tracker.active_loop or {}).get("name") == form_escape.TICKET_FORM
    if not in_ticket_form:
        # Asked while the ticket form waits (data/form_rules.yml): answered, the ticket's case stays.
        events += [
            SlotSet("topic", topic),
            SlotSet("problem_text", words_),
            SlotSet("next_step_given", False),
        ]
    if tracker.get_slot("human_requested"):
        # The user already asked for a person and has now said what the case is.
        return events + transfer_to_human(dispatcher, tracker, topic, words_)

    answer = answer_for(tracker, topic, question, language)
    events += send(
        dispatcher,
        answer,
        language,
        extra_buttons=assumed(tracker, topic, confidence, language, answer),
        elder=is_elder(tracker),
    )
    if not in_ticket_form:  # the ticket being filled in is the one its evidence will go to
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
        answer = answer_for(tracker, topic, question_of(tracker), language, follow_up=True)
        return events + send(
            dispatcher, answer, language, tracker.get_slot("shown_channels"), elder=is_elder(tracker)
        )


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
        answer = more_channels_answer(topic, shown, language)
        return send(dispatcher, answer, language, shown, elder=is_elder(tracker))


class ActionSuggestTopics(Action):
    """Low NLU confidence: one short question naming the two closest cases (with the aspect asked), a
    guess named as such when only one case is close, and the list of topics only when none is."""

    def name(self) -> str:
        return "action_suggest_topics"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        language = conversation_language(tracker)
        if asked_of_other_platform(tracker):
            return other_platform_reply(dispatcher, tracker)
        events = disclaim_once(dispatcher, tracker)
        if tracker.get_slot("human_requested"):
            return events + transfer_described(dispatcher, tracker)
        clear = answer_if_clear(dispatcher, tracker, language)
        if clear is not None:
            return events + clear
        ranking = topic_ranking(tracker)
        close = [entry["name"] for entry in ranking if entry["confidence"] >= CANDIDATE_FLOOR][:2]
        aspect = asked_aspect(tracker)
        if len(close) == 2 and same_answer(tracker, close, language):
            # Either case answers the question with the same fact ("I appealed on the website: how
            # long?"): answered, saying which case was assumed.
            return events + answer_topic(dispatcher, tracker, close[0], ranking[0]["confidence"])
        if len(close) == 2:
            return events + ask_which(dispatcher, close, aspect, language)
        if close and ranking[0]["confidence"] >= ANSWER_ALONE:
            # One case, unsure only against a message that is no case (out of scope, a greeting …):
            # answered, saying which case was assumed.
            return events + answer_topic(dispatcher, tracker, close[0], ranking[0]["confidence"])
        if close:
            return events + ask_which(dispatcher, close, aspect, language)
        buttons = [
            {
                "title": knowledge.topic_title(entry["name"], language),
                "payload": BUTTON_PREFIX + entry["name"],
            }
            for entry in ranking[:SUGGESTION_COUNT]
        ]
        buttons.append({"title": HUMAN_BUTTON[language], "payload": f"{BUTTON_PREFIX}request_human"})
        dispatcher.utter_message(response="utter_suggest_topics", buttons=buttons)
        return events


def same_answer(tracker: Tracker, topics: List[str], language: str) -> bool:
    """The aspect asked has the same answer for each of `topics` (the same channels' same fact)."""
    question = question_of(tracker)
    if not question.aspects:
        return False
    region, city = tracker.get_slot("region"), tracker.get_slot("city")
    answers = [aspect_answer(topic, question, language, region, city) for topic in topics]
    return all(a is not None for a in answers) and len({a.text for a in answers}) == 1


def ask_which(
    dispatcher: CollectingDispatcher, topics: List[str], aspect: Optional[str], language: str
) -> List[EventType]:
    """ "您是想问“账号封禁/解封申诉”多久有结果，还是“作品限流”多久有结果？" with a button for each;
    with one case, "您是想问…吗？" and a button for it and one for a human."""
    w = words(language)
    template = w["ask_aspect"].get(aspect or NO_ASPECT, w["ask_aspect"][NO_ASPECT])
    readings = [template.format(title=knowledge.topic_title(t, language)) for t in topics]
    buttons = [
        {"title": reading_title(t, aspect, language), "payload": reading_payload(t, aspect)} for t in topics
    ]
    if len(topics) == 1:
        buttons.append({"title": HUMAN_BUTTON[language], "payload": f"{BUTTON_PREFIX}request_human"})
        text = w["which_one"].format(first=readings[0])
    else:
        text = w["which"].format(first=readings[0], second=readings[1])
    dispatcher.utter_message(text=text, buttons=buttons)
    return []


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


class ActionOtherPlatform(Action):
    """A question about another company's platform: this simulates Douyin's service and says so; Douyin's
    own channel of the same name is named only when the question names one ("快手的创作者平台" →
    Douyin's creator platform, labelled as Douyin's), and the nearest Douyin topic is offered as a button."""

    def name(self) -> str:
        return "action_other_platform"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        return other_platform_reply(dispatcher, tracker)


def asked_of_other_platform(tracker: Tracker) -> bool:
    """The message names another company's platform and not Douyin, and no human was asked for."""
    text = tracker.latest_message.get("text")
    return knowledge.only_other_platform(text) and not tracker.get_slot("human_requested")


def other_platform_reply(dispatcher: CollectingDispatcher, tracker: Tracker) -> List[EventType]:
    """This is Douyin's service, not the other platform's; Douyin's channel the question names, and
    the nearest Douyin topic as a button."""
    language = conversation_language(tracker)
    events = disclaim_once(dispatcher, tracker)
    text = tracker.latest_message.get("text") or ""
    w = words(language)
    platform, rest = knowledge.platform_named(text, language)
    lines = [w["other_platform"].format(platform=platform)]
    channels, _ = named_channels(rest)
    if channels:
        said: List[str] = []
        lines.append(w["douyins_own"] + overview_line(channels[0], language, said))
    nearest = next(iter(topic_ranking(tracker)), None)
    buttons = []
    if nearest is not None:
        title = knowledge.topic_title(nearest["name"], language)
        payload = f"{BUTTON_PREFIX}{nearest['name']}"
        buttons.append({"title": w["douyins_topic"].format(title=title), "payload": payload})
    dispatcher.utter_message(text="\n".join(lines), buttons=buttons)
    return events
