"""Every custom action against the real knowledge files and a real SQLite database."""

from __future__ import annotations

import asyncio
import re

import pytest
import yaml
from rasa_sdk.executor import CollectingDispatcher

from actions.form_escape import CANCEL_INTENTS, OTHER_REQUESTS, ActionCancelTicket, ActionSetFormAside
from actions.handoff import ActionTransferHuman
from actions.resolution import ActionHandleSolved, ActionHandleUnsolved, ActionSaveRating
from actions.session import ActionSessionStart
from actions.smart_answer import (
    ActionAnswerFollowUp,
    ActionAnswerTopic,
    ActionOtherPlatform,
    ActionSuggestTopics,
)
from actions.tickets import (
    ActionCreateTicket,
    ActionQueryTicket,
    ActionShowVerifiedTicket,
    ValidateTicketForm,
    ValidateTicketVerifyForm,
)
from core import knowledge, store
from core.answers import OVERVIEW_CHANNELS, case_channels
from tests.conftest import ROOT, make_tracker, run_action, slot_events


def texts(messages) -> str:
    return "\n".join(m.get("text") or "" for m in messages)


def responses(messages) -> list:
    return [m.get("response") for m in messages]


# Topics with an `aspect` (human_hours, waiting_time) answer it when a question asks none: no overview.
TOPICS_WITHOUT_OVERVIEW = {name for name, topic in knowledge.topics().items() if topic.get("aspect")}


@pytest.mark.parametrize("topic", sorted(set(knowledge.topics()) - TOPICS_WITHOUT_OVERVIEW))
def test_every_topic_is_answered_with_its_first_channels(topic) -> None:
    messages, events = run_action(ActionAnswerTopic(), make_tracker(topic, "问个问题"))
    answer = messages[0]["text"]
    info = knowledge.topic(topic)
    assert answer.startswith(f"【{info['title']}】")
    channels = case_channels(topic)
    for channel_id in channels[:OVERVIEW_CHANNELS]:
        assert knowledge.channel(channel_id)["contact"] in answer
    assert len(answer.splitlines()) <= 8
    more = [b["payload"] for b in messages[0]["buttons"]]
    assert more == (["/more_channels"] if len(channels) > OVERVIEW_CHANNELS else [])
    followup = "utter_green_channel" if info.get("green") else "utter_ask_resolved"
    assert responses(messages)[1] == followup
    slots = slot_events(events)
    assert slots["shown_channels"] == channels[:OVERVIEW_CHANNELS]
    assert {k: slots[k] for k in ("topic", "problem_text", "next_step_given")} == {
        "topic": topic,
        "problem_text": "问个问题",
        "next_step_given": False,
    }


@pytest.mark.parametrize("language, response", [(None, "utter_disclaimer"), ("en", "utter_disclaimer_en")])
def test_session_starts_with_the_disclaimer_in_the_first_messages_language(language, response) -> None:
    metadata = {"language": language} if language else {}
    tracker = make_tracker(slots={"session_started_metadata": metadata, "disclaimer_languages": []})
    messages, events = run_action(ActionSessionStart(), tracker)
    assert responses(messages) == [response]
    assert [e["event"] for e in events] == ["session_started", "slot", "slot", "action"]
    assert slot_events(events) == {"language": language or "zh", "disclaimer_languages": [language or "zh"]}


def test_a_conversation_that_turns_english_gets_the_disclaimer_once_in_english() -> None:
    slots = {"language": "en", "disclaimer_languages": ["zh"]}
    first, events = run_action(
        ActionAnswerTopic(), make_tracker("account_ban", "my account is banned", slots)
    )
    assert responses(first)[0] == "utter_disclaimer_en"
    again, _ = run_action(
        ActionAnswerTopic(), make_tracker("account_ban", "banned", {**slots, **slot_events(events)})
    )
    assert "utter_disclaimer_en" not in responses(again)


def test_urgent_ban_goes_to_the_emergency_green_channel() -> None:
    calm, _ = run_action(ActionAnswerTopic(), make_tracker("account_ban", "号被封了"))
    urgent, _ = run_action(ActionAnswerTopic(), make_tracker("account_ban", "号被封了很急"))
    assert responses(calm)[1] == "utter_ask_resolved"
    assert "48小时" in urgent[0]["text"] and responses(urgent)[1] == "utter_green_channel"


def test_stolen_account_gets_the_security_line_first() -> None:
    messages, _ = run_action(ActionAnswerTopic(), make_tracker("account_stolen", "号被盗了"))
    lines = messages[0]["text"].splitlines()
    assert "1010-9008" in lines[1]
    assert messages[1]["channel_name"] == knowledge.channel("emergency_line")["name"]


def test_minors_answer_says_the_article_gives_no_number() -> None:
    messages, _ = run_action(ActionAnswerTopic(), make_tracker("minors_protection", "孩子乱充值"))
    assert "文章未给出专线号码" in messages[0]["text"]


def test_region_puts_its_line_first() -> None:
    tracker = make_tracker("phone_hotline", "我在香港", slots={"region": "香港"})
    messages, _ = run_action(ActionAnswerTopic(), tracker)
    assert "852-8192-2556" in messages[0]["text"].splitlines()[1]
    abroad = make_tracker("contact_general", "人在国外", slots={"region": "美国"})
    messages, _ = run_action(ActionAnswerTopic(), abroad)
    assert "+86-28-8435-5566" in messages[0]["text"].splitlines()[1]


def test_city_puts_its_center_first() -> None:
    tracker = make_tracker("offline_center", "上海的线下网点", slots={"city": "上海"})
    messages, _ = run_action(ActionAnswerTopic(), tracker)
    assert "上海浦东" in messages[0]["text"].splitlines()[0]


def test_button_press_stores_the_topic_title_as_the_users_words() -> None:
    _, events = run_action(ActionAnswerTopic(), make_tracker("throttling", "/throttling"))
    assert slot_events(events)["problem_text"] == knowledge.topic_title("throttling")


ENGLISH = {"language": "en", "disclaimer_languages": ["en"]}


def aspect_entity(value: str, confidence: float = 0.9) -> dict:
    return {"entity": "aspect", "value": value, "confidence_entity": confidence}


def test_low_confidence_asks_which_of_the_two_closest_cases() -> None:
    ranking = [
        {"name": "nlu_fallback", "confidence": 0.4},
        {"name": "greet", "confidence": 0.3},
        {"name": "throttling", "confidence": 0.2},
        {"name": "account_ban", "confidence": 0.1},
    ]
    tracker = make_tracker("nlu_fallback", "嗯那个", ranking=ranking)
    messages, _ = run_action(ActionSuggestTopics(), tracker)
    assert messages[0]["text"] == "您是想问“作品限流”，还是“账号封禁/解封申诉”？"
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/throttling", "/account_ban"]


def test_the_two_case_question_keeps_the_aspect_asked_in_both_languages() -> None:
    ranking = [
        {"name": "account_ban", "confidence": 0.28},
        {"name": "creator_earnings", "confidence": 0.25},
    ]
    entities = [aspect_entity("response", 0.95)]
    tracker = make_tracker("nlu_fallback", "申诉要多久", ranking=ranking, entities=entities)
    messages, _ = run_action(ActionSuggestTopics(), tracker)
    assert (
        messages[0]["text"]
        == "您是想问“账号封禁/解封申诉”多久有结果，还是“创作者收益提现/分成结算”多久有结果？"
    )
    payloads = [b["payload"] for b in messages[0]["buttons"]]
    assert payloads == ['/account_ban{"aspect": "response"}', '/creator_earnings{"aspect": "response"}']
    english = make_tracker("nlu_fallback", "how long?", ENGLISH, entities, ranking=ranking)
    messages, _ = run_action(ActionSuggestTopics(), english)
    assert messages[0]["text"].startswith(
        'Do you mean how long "Account ban / unban appeal" takes, or how long'
    )


def test_two_close_cases_with_the_same_answer_are_answered_not_asked() -> None:
    # The appeal and the real-name check are both the website's: "how long" has one answer.
    ranking = [
        {"name": "account_ban", "confidence": 0.28},
        {"name": "real_name_verification", "confidence": 0.25},
    ]
    entities = [aspect_entity("response", 0.95)]
    tracker = make_tracker("nlu_fallback", "申诉要多久", ranking=ranking, entities=entities)
    text = texts(run_action(ActionSuggestTopics(), tracker)[0])
    assert "24小时" in text and "您是想问" not in text and "我按“账号封禁/解封申诉”来回答" in text


def test_with_no_close_case_the_topics_are_listed() -> None:
    ranking = [{"name": "greet", "confidence": 0.9}, {"name": "throttling", "confidence": 0.02}]
    messages, _ = run_action(ActionSuggestTopics(), make_tracker("nlu_fallback", "嗯", ranking=ranking))
    assert messages[0]["response"] == "utter_suggest_topics"
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/throttling", "/request_human"]


def test_one_close_case_is_answered_when_fairly_sure_else_asked() -> None:
    ranking = [{"name": "report_content", "confidence": 0.47}, {"name": "out_of_scope", "confidence": 0.42}]
    tracker = make_tracker("nlu_fallback", "I reported a seller, how long?", ENGLISH, ranking=ranking)
    messages, events = run_action(ActionSuggestTopics(), tracker)
    assert messages[0]["text"].startswith('(I took this as "Report content that breaks the rules"')
    assert slot_events(events)["topic"] == "report_content"
    ranking = [{"name": "throttling", "confidence": 0.21}, {"name": "affirm_solved", "confidence": 0.1}]
    messages, _ = run_action(ActionSuggestTopics(), make_tracker("nlu_fallback", "限溜了", ranking=ranking))
    assert messages[0]["text"] == "您是想问“作品限流”吗？"
    assert [b["payload"] for b in messages[0]["buttons"]] == ["/throttling", "/request_human"]


def test_an_answer_on_a_guess_says_which_case_it_assumed_and_offers_the_other() -> None:
    ranking = [{"name": "overseas_user", "confidence": 0.42}, {"name": "account_ban", "confidence": 0.3}]
    tracker = make_tracker("overseas_user", "banned while abroad", ENGLISH, ranking=ranking)
    tracker.latest_message["intent"]["confidence"] = 0.42
    messages, _ = run_action(ActionAnswerTopic(), tracker)
    assert messages[0]["text"].startswith('(I took this as "Overseas / international users"')
    assert {"title": "I meant: Account ban / unban appeal", "payload": "/account_ban"} in messages[0][
        "buttons"
    ]
    sure, _ = run_action(ActionAnswerTopic(), make_tracker("overseas_user", "banned while abroad"))
    assert not sure[0]["text"].startswith("（我按")


def test_the_learned_aspect_is_answered_for_the_cases_own_channel() -> None:
    tracker = make_tracker("account_ban", "申诉要几天才有结果", entities=[aspect_entity("response", 0.97)])
    messages, _ = run_action(ActionAnswerTopic(), tracker)
    assert messages[0]["text"] == "▸ 官方网站服务大厅 www.douyin.com：账号申诉/举报受理24小时内响应"
    what_is = make_tracker("throttling", "抖音限流是什么现象", entities=[aspect_entity("none", 0.85)])
    messages, _ = run_action(ActionAnswerTopic(), what_is)
    assert messages[0]["text"].startswith("【作品限流】")  # the overview, not "是什么" read as a contact


def test_the_human_agents_phone_number_is_the_hotline() -> None:
    tracker = make_tracker("phone_hotline", "抖音人工客服电话是多少", entities=[aspect_entity("contact")])
    messages, _ = run_action(ActionAnswerTopic(), tracker)
    assert "400-992-2556" in messages[0]["text"] and "转接人工" not in messages[0]["text"]


@pytest.mark.parametrize("language, path", [("zh", "反馈与帮助"), ("en", "Feedback and help")])
def test_how_to_contact_at_all_names_the_app_the_hotline_and_the_mailbox(language, path) -> None:
    tracker = make_tracker(
        "contact_general", "how can I contact you", {"language": language, "disclaimer_languages": [language]}
    )
    tracker.latest_message["entities"] = [aspect_entity("contact", 0.8)]
    text = run_action(ActionAnswerTopic(), tracker)[0][0]["text"]
    assert path in text and "400-992-2556" in text and "feedback@douyin.com" in text
    assert len(text.splitlines()) == 3


def test_another_platform_is_named_and_only_douyins_own_channel_offered() -> None:
    ranking = [
        {"name": "other_platform", "confidence": 0.9},
        {"name": "creator_earnings", "confidence": 0.05},
    ]
    tracker = make_tracker("other_platform", "快手创作者平台的客服怎么联系", ranking=ranking)
    messages, _ = run_action(ActionOtherPlatform(), tracker)
    text = messages[0]["text"]
    assert "抖音客服的模拟器" in text and "快手" in text
    assert "如果您问的是抖音自己的同类渠道" in text and "创作者平台" in text
    assert messages[0]["buttons"] == [
        {"title": "问抖音的“创作者收益提现/分成结算”", "payload": "/creator_earnings"}
    ]
    plain, _ = run_action(
        ActionOtherPlatform(), make_tracker("other_platform", "小红书被限流了", ranking=ranking)
    )
    assert "小红书" in plain[0]["text"] and "同类渠道" not in plain[0]["text"]
    channels, _ = run_action(
        ActionOtherPlatform(), make_tracker("other_platform", "微信视频号的收益多久到账")
    )
    assert "微信视频号" in channels[0]["text"] and "抖音客服中心" not in channels[0]["text"]
    english = make_tracker("other_platform", "bilibili support?", ENGLISH, ranking=ranking)
    assert "Bilibili" in run_action(ActionOtherPlatform(), english)[0][0]["text"]


def test_two_questions_in_one_message_get_both_answers() -> None:
    tracker = make_tracker(
        "report_content", "举报按钮在哪里？可以发邮件举报吗", entities=[aspect_entity("contact")]
    )
    text = run_action(ActionAnswerTopic(), tracker)[0][0]["text"]
    assert "右上角" in text and "jubao@douyin.com" in text
    hours = make_tracker("vip_channel", "VIP通道几点有人？要等多久", entities=[aspect_entity("response")])
    text = run_action(ActionAnswerTopic(), hours)[0][0]["text"]
    assert "排班" in text and "<3分钟" in text
    one = make_tracker("vip_channel", "VIP通道要等多久", entities=[aspect_entity("response")])
    assert "排班" not in run_action(ActionAnswerTopic(), one)[0][0]["text"]


def test_a_way_to_get_the_money_back_and_a_number_in_one_message() -> None:
    tracker = make_tracker(
        "recharge_refund", "抖币重复扣费了怎么退？热线是多少", entities=[aspect_entity("contact")]
    )
    text = run_action(ActionAnswerTopic(), tracker)[0][0]["text"]
    assert "www.douyin.com" in text and "400-992-2556" in text


@pytest.mark.parametrize("topic", ["contact_general", "in_app_help"])
def test_several_kinds_named_get_a_line_each(topic) -> None:
    tracker = make_tracker(
        topic, "APP里的、电话、邮件都可以，怎么联系你们", entities=[aspect_entity("contact")]
    )
    text = run_action(ActionAnswerTopic(), tracker)[0][0]["text"]
    assert "反馈与帮助" in text and "400-992-2556" in text and "feedback@douyin.com" in text
    phone_or_mail = make_tracker(
        "contact_general", "怎么找客服，电话邮箱都可以", entities=[aspect_entity("contact")]
    )
    text = run_action(ActionAnswerTopic(), phone_or_mail)[0][0]["text"]
    assert "反馈与帮助" in text and "400-992-2556" in text and "feedback@douyin.com" in text


def test_a_feature_a_channel_offers_is_answered_with_that_channel() -> None:
    tracker = make_tracker("elderly_care", "长辈模式去哪里打开", entities=[aspect_entity("contact")])
    text = run_action(ActionAnswerTopic(), tracker)[0][0]["text"]
    assert "长辈模式" in text and "抖音客服中心" in text
    plain = make_tracker("elderly_care", "老人找客服去哪", entities=[aspect_entity("contact")])
    assert "长辈模式" not in run_action(ActionAnswerTopic(), plain)[0][0]["text"]


def test_the_evidence_of_a_report_goes_to_the_reporting_mailbox() -> None:
    tracker = make_tracker("report_content", "截图和录屏要交到哪", entities=[aspect_entity("prepare")])
    assert "jubao@douyin.com" in run_action(ActionAnswerTopic(), tracker)[0][0]["text"]


def test_a_douyin_case_asked_of_another_platform_gets_the_honest_reply() -> None:
    tracker = make_tracker("report_content", "怎么举报B站的一个主播")
    text = run_action(ActionAnswerTopic(), tracker)[0][0]["text"]
    assert "抖音客服的模拟器" in text and "哔哩哔哩" in text and "右上角" not in text
    douyin = make_tracker("copyright_complaint", "我的视频被搬到快手上了，在抖音能投诉吗")
    assert "抖音客服的模拟器" not in texts(run_action(ActionAnswerTopic(), douyin)[0])


def test_solved_asks_for_a_rating_and_the_rating_is_stored(database) -> None:
    messages, _ = run_action(ActionHandleSolved(), make_tracker("affirm_solved"))
    assert responses(messages) == ["utter_ask_rating"]
    tracker = make_tracker(
        "rate", "给4分", slots={"topic": "throttling", "rating_requested": True}, sender_id="u-rate"
    )
    messages, _ = run_action(ActionSaveRating(), tracker)
    assert messages[0]["score"] == 4
    with store.engine().connect() as connection:
        rows = connection.execute(store.ratings.select()).fetchall()
    assert [(r.conversation_id, r.topic, r.score) for r in rows] == [("u-rate", "throttling", 4)]


def test_rating_from_a_button_entity_wins_over_the_text() -> None:
    entities = [{"entity": "rating", "value": "2"}]
    tracker = make_tracker("rate", '/rate{"rating":"2"}', {"rating_requested": True}, entities)
    messages, _ = run_action(ActionSaveRating(), tracker)
    assert messages[0]["score"] == 2


def test_unclear_rating_asks_again() -> None:
    tracker = make_tracker("rate", "还可以吧哈哈", {"rating_requested": True})
    messages, _ = run_action(ActionSaveRating(), tracker)
    assert responses(messages) == ["utter_ask_rating_again"]


def test_a_number_nobody_asked_a_rating_for_is_not_stored() -> None:
    messages, _ = run_action(ActionSaveRating(), make_tracker("rate", "5", {"topic": "account_ban"}))
    assert responses(messages) == ["utter_default"]
    with store.engine().connect() as connection:
        assert connection.execute(store.ratings.select()).fetchall() == []


def test_unsolved_gives_one_more_step_then_offers_a_human() -> None:
    first, events = run_action(
        ActionHandleUnsolved(), make_tracker("deny_unsolved", slots={"topic": "report_content"})
    )
    assert "jubao@douyin.com" in first[0]["next_step"]
    assert responses(first) == ["utter_next_step", "utter_ask_resolved"]
    assert slot_events(events) == {"next_step_given": True}
    tracker = make_tracker("deny_unsolved", slots={"topic": "report_content", "next_step_given": True})
    second, _ = run_action(ActionHandleUnsolved(), tracker)
    assert responses(second) == ["utter_offer_human"]


def test_unsolved_without_a_next_step_offers_a_human_at_once() -> None:
    tracker = make_tracker("deny_unsolved", slots={"topic": "phone_hotline"})
    messages, _ = run_action(ActionHandleUnsolved(), tracker)
    assert responses(messages) == ["utter_offer_human"]


def test_human_request_without_topic_asks_for_the_problem_first(sim_now) -> None:
    sim_now("10:00")
    messages, events = run_action(ActionTransferHuman(), make_tracker("request_human", "转人工"))
    assert responses(messages) == ["utter_ask_problem_for_human"]
    assert slot_events(events) == {"human_requested": True}
    tracker = make_tracker("account_ban", "号被封了", slots={"human_requested": True})
    messages, events = run_action(ActionAnswerTopic(), tracker)
    assert responses(messages) == ["utter_queued"]
    assert slot_events(events)["human_requested"] is False


@pytest.mark.parametrize(
    "action, intent", [(ActionAnswerFollowUp(), "ask_followup"), (ActionSuggestTopics(), "nlu_fallback")]
)
def test_the_description_asked_for_a_human_is_never_answered_instead(sim_now, action, intent) -> None:
    sim_now("10:00")
    tracker = make_tracker(intent, "how long will it take", slots={"human_requested": True})
    messages, events = run_action(action, tracker)
    assert responses(messages) == ["utter_queued"]
    assert slot_events(events) == {"human_requested": False, "queued_for_human": True}


def test_a_transfer_after_asking_the_hours_still_asks_for_the_problem(sim_now) -> None:
    sim_now("10:00")
    tracker = make_tracker("request_human", "转人工", slots={"topic": "human_hours"})
    messages, _ = run_action(ActionTransferHuman(), tracker)
    assert responses(messages) == ["utter_ask_problem_for_human"]


def test_in_hours_transfer_queues_with_position_and_wait(sim_now) -> None:
    sim_now("10:00")
    # "a" asking again keeps its place instead of queueing twice
    for user, expected in [("a", 1), ("b", 2), ("a", 1)]:
        tracker = make_tracker("request_human", slots={"topic": "throttling"}, sender_id=user)
        messages, _ = run_action(ActionTransferHuman(), tracker)
        assert messages[0]["position"] == expected
    assert messages[0]["wait"] == "2-5分钟"
    assert messages[0]["hours"] == "9:00-21:00"


def test_peak_transfer_warns_of_up_to_30_minutes(sim_now) -> None:
    sim_now("20:00")
    tracker = make_tracker("request_human", slots={"topic": "throttling"})
    messages, _ = run_action(ActionTransferHuman(), tracker)
    assert "30分钟" in messages[0]["wait"]


@pytest.mark.parametrize(
    "moment, first_line, reopens",
    [("22:30", "400-992-2556", "明天 9:00"), ("02:00", "feedback@douyin.com", "今天 9:00")],
)
def test_after_hours_names_the_open_channel_and_offers_a_ticket(sim_now, moment, first_line, reopens) -> None:
    sim_now(moment)
    tracker = make_tracker("request_human", slots={"topic": "recharge_refund"})
    messages, _ = run_action(ActionTransferHuman(), tracker)
    message = messages[0]
    assert message["response"] == "utter_after_hours"
    assert first_line in message["open_channels"].splitlines()[0]
    assert message["reopens"] == reopens and message["clock"] == moment
    with store.engine().connect() as connection:
        assert connection.execute(store.handoff_queue.select()).fetchall() == []


@pytest.mark.parametrize("moment", ["23:30", "02:00", "03:00"])
def test_a_human_request_out_of_hours_says_nobody_is_on_duty_first(sim_now, moment) -> None:
    sim_now(moment)
    messages, events = run_action(ActionTransferHuman(), make_tracker("request_human", "我要人工"))
    assert responses(messages) == ["utter_after_hours"]
    assert messages[0]["reopens"].endswith("9:00")
    assert slot_events(events) == {"human_requested": False}


def test_after_hours_green_topic_names_its_line_first(sim_now) -> None:
    sim_now("02:00")
    tracker = make_tracker("request_human", slots={"topic": "account_stolen"})
    messages, _ = run_action(ActionTransferHuman(), tracker)
    assert "1010-9008" in messages[0]["open_channels"].splitlines()[0]


def test_ticket_form_validation() -> None:
    form = ValidateTicketForm()
    tracker = make_tracker("account_ban", "我号被封了三天")
    assert form.validate_problem_text("我号被封了三天", None, tracker, {}) == {
        "problem_text": "我号被封了三天",
        "topic": "account_ban",
    }
    dispatcher = CollectingDispatcher()
    assert form.validate_contact_channel("邮件回复", dispatcher, tracker, {}) == {"contact_channel": "email"}
    assert form.validate_contact_channel("随便", dispatcher, tracker, {}) == {"contact_channel": None}
    email_tracker = make_tracker(slots={"contact_channel": "email"})
    assert form.validate_contact_detail("a@b.cn", dispatcher, email_tracker, {}) == {
        "contact_detail": "a@b.cn"
    }
    assert form.validate_contact_detail("abc", dispatcher, email_tracker, {}) == {"contact_detail": None}
    assert responses(dispatcher.messages) == [
        "utter_invalid_contact_channel",
        "utter_invalid_contact_detail",
    ]


FORM_DOMAIN = {
    "forms": {
        "ticket_form": {"required_slots": ["problem_text", "contact_channel", "contact_detail"]},
        "ticket_verify_form": {"required_slots": ["verify_contact"]},
    }
}


def run_validation(action, tracker) -> tuple:
    """A form validation action as the action server runs it, with the forms of the domain."""
    dispatcher = CollectingDispatcher()
    events = asyncio.run(action.run(dispatcher, tracker, FORM_DOMAIN))
    return dispatcher.messages, events


def form_turn(intent: str, text: str, slot: str, confidence: float = 0.9, **slots) -> tuple:
    """The ticket form's validation of `text`, typed as the answer to `slot` (extracted from the text)."""
    tracker = make_tracker(
        intent,
        text,
        slots={"requested_slot": slot, slot: text, **slots},
        events=[{"event": "user", "text": text}, {"event": "slot", "name": slot, "value": text}],
        ranking=[{"name": intent, "confidence": confidence}],
    )
    tracker.latest_message["intent"]["confidence"] = confidence
    return run_validation(ValidateTicketForm(), tracker)


def rejected(events) -> bool:
    return any(e["event"] == "action_execution_rejected" for e in events)


@pytest.mark.parametrize(
    "intent, text, slot, slots",
    [
        ("email_contact", "举报邮箱是多少", "contact_detail", {"contact_channel": "phone"}),
        ("request_human", "转人工", "contact_channel", {}),
        ("greet", "你好呀", "contact_detail", {"contact_channel": "app"}),
        ("cancel", "取消", "contact_channel", {}),
        ("cancel", "stop", "contact_detail", {"contact_channel": "app"}),  # a cancel, not a Douyin ID
        ("decline", "算了，不提交了", "problem_text", {}),
    ],
)
def test_ticket_form_steps_back_for_another_question_or_a_cancel(intent, text, slot, slots) -> None:
    messages, events = form_turn(intent, text, slot, **slots)
    assert messages == []  # no "invalid" message: the rules answer it
    assert rejected(events) and slot_events(events) == {slot: None}


@pytest.mark.parametrize(
    "intent, text, slot, slots, kept",
    [
        ("account_stolen", "我的账号被盗了", "problem_text", {}, "我的账号被盗了"),  # the problem itself
        ("email_contact", "邮件回复", "contact_channel", {}, "email"),
        ("phone_hotline", "电话回访", "contact_channel", {}, "phone"),
        ("rate", "13800138000", "contact_detail", {"contact_channel": "phone"}, "13800138000"),
        ("email_contact", "Me@Example.org", "contact_detail", {"contact_channel": "email"}, "me@example.org"),
        ("cancel", "13800138000", "contact_detail", {"contact_channel": "app"}, "13800138000"),
    ],
)
def test_ticket_form_keeps_taking_valid_answers(intent, text, slot, slots, kept) -> None:
    messages, events = form_turn(intent, text, slot, **slots)
    assert not rejected(events) and slot_events(events)[slot] == kept
    assert "utter_invalid_contact_channel" not in responses(messages)


def test_an_unclear_invalid_answer_is_still_refused() -> None:
    for confidence in (0.9, 0.4):  # out of scope, or another topic the NLU only guesses
        intent = "out_of_scope" if confidence > 0.5 else "account_ban"
        messages, events = form_turn(intent, "abc", "contact_detail", confidence, contact_channel="email")
        assert not rejected(events) and slot_events(events)["contact_detail"] is None
        assert responses(messages) == ["utter_invalid_contact_detail"]


def test_the_verify_form_steps_back_for_a_question_but_takes_a_contact() -> None:
    form = ValidateTicketVerifyForm()
    for intent, text, leaves in [("phone_hotline", "客服电话多少", True), ("rate", "13800138000", False)]:
        tracker = make_tracker(
            intent,
            text,
            slots={"requested_slot": "verify_contact", "verify_contact": text},
            events=[
                {"event": "user", "text": text},
                {"event": "slot", "name": "verify_contact", "value": text},
            ],
        )
        _, events = run_validation(form, tracker)
        assert rejected(events) == leaves


def test_every_message_a_form_rejects_has_a_rule_in_each_form() -> None:
    """form_escape's intents and data/form_rules.yml agree: a rejected message is always answered."""
    rules = yaml.safe_load((ROOT / "data" / "form_rules.yml").read_text("utf-8"))["rules"]
    covered: dict = {}
    for rule in rules:
        first = rule["steps"][0]
        intents = {step["intent"] for step in first.get("or", [first])}
        covered.setdefault(rule["condition"][0]["active_loop"], set()).update(intents)
    expected = set(knowledge.topics()) | OTHER_REQUESTS | CANCEL_INTENTS
    # The topics' lines are written by `make topic-lists`; the other requests' by hand.
    missing = [
        f"a message read as `{intent}` leaves {form} but no rule of data/form_rules.yml answers it there: "
        f"add `- intent: {intent}` to a rule with `active_loop: {form}`"
        for form in ("ticket_form", "ticket_verify_form")
        for intent in sorted(expected - covered.get(form, set()))
    ]
    extra = [
        f"data/form_rules.yml answers `{intent}` during {form}, but actions/form_escape.py does not let it "
        "leave the form: add it to OTHER_REQUESTS there, or take the rule out"
        for form, intents in covered.items()
        for intent in sorted(intents - expected)
    ]
    assert not missing + extra, "\n".join(missing + extra)


def test_a_form_set_aside_keeps_the_ticket_and_offers_to_resume() -> None:
    slots = {"problem_text": "闪退", "contact_channel": "phone", "requested_slot": "contact_detail"}
    messages, events = run_action(ActionSetFormAside(), make_tracker(slots=slots, active_loop="ticket_form"))
    assert responses(messages) == ["utter_ticket_set_aside"]
    assert {"event": "active_loop", "name": None, "timestamp": None} in events
    assert slot_events(events) == {"requested_slot": None}  # the answers given stay

    verify = {"ticket_to_verify": "DY20261125-000001", "requested_slot": "verify_contact"}
    messages, events = run_action(
        ActionSetFormAside(), make_tracker(slots=verify, active_loop="ticket_verify_form")
    )
    assert responses(messages) == ["utter_ticket_query_set_aside"]
    assert messages[0]["ticket_number"] == "DY20261125-000001"
    assert slot_events(events) == {"requested_slot": None, "verify_contact": None, "ticket_to_verify": None}


def test_an_answer_given_during_the_ticket_form_leaves_the_tickets_case() -> None:
    slots = {"topic": "app_bug", "problem_text": "闪退"}
    tracker = make_tracker("report_content", "举报邮箱是多少", slots=slots, active_loop="ticket_form")
    messages, events = run_action(ActionAnswerTopic(), tracker)
    assert "jubao@douyin.com" in texts(messages)
    assert "topic" not in slot_events(events) and "problem_text" not in slot_events(events)


def test_cancel_drops_the_forms_answers() -> None:
    deactivated = [{"event": "user", "text": "取消"}, {"event": "action", "name": "action_deactivate_loop"}]
    slots = {"problem_text": "闪退", "contact_channel": "phone"}
    cancel = make_tracker("cancel", "取消", slots, events=deactivated)
    messages, events = run_action(ActionCancelTicket(), cancel)
    assert responses(messages) == ["utter_ticket_cancelled"]
    assert slot_events(events) == {"problem_text": None, "contact_channel": None, "contact_detail": None}
    # "取消" with nothing to cancel is a polite no, and the case in hand stays.
    nothing = make_tracker("cancel", "取消", {"problem_text": "闪退"})
    messages, events = run_action(ActionCancelTicket(), nothing)
    assert responses(messages) == ["utter_decline"] and events == []


def test_ticket_is_created_numbered_and_found(sim_now) -> None:
    sim_now("22:30")
    slots = {
        "topic": "recharge_refund",
        "problem_text": "充值了100抖币没到账",
        "contact_channel": "phone",
        "contact_detail": "13800138000",
    }
    messages, events = run_action(ActionCreateTicket(), make_tracker(slots=slots, sender_id="u1"))
    number = messages[0]["ticket_number"]
    assert number == "DY20261125-000001"
    assert slot_events(events)["ticket_number"] == number
    ticket = store.find_ticket(number)
    assert (ticket.conversation_id, ticket.description, ticket.status) == (
        "u1",
        "充值了100抖币没到账",
        "open",
    )
    assert ticket.created_at.strftime("%H:%M") == "22:30"
    second, _ = run_action(ActionCreateTicket(), make_tracker(slots=slots, sender_id="u2"))
    assert second[0]["ticket_number"] == "DY20261125-000002"

    owner = make_tracker("query_ticket", f"查询工单 {number}", sender_id="u1")
    found, _ = run_action(ActionQueryTicket(), owner)
    assert found[0]["response"] == "utter_ticket_status" and found[0]["ticket_number"] == number
    assert found[0]["description"] == "充值了100抖币没到账"


def test_someone_else_sees_a_ticket_only_with_its_contact(sim_now) -> None:
    sim_now("10:00")
    slots = {
        "topic": "app_bug",
        "problem_text": "闪退",
        "contact_channel": "email",
        "contact_detail": "a@b.cn",
    }
    created, _ = run_action(ActionCreateTicket(), make_tracker(slots=slots, sender_id="owner"))
    number = created[0]["ticket_number"]

    stranger = make_tracker("query_ticket", f"查询工单 {number}", sender_id="stranger")
    messages, events = run_action(ActionQueryTicket(), stranger)
    assert messages == []  # no detail before the contact is given
    assert events == [
        {"event": "slot", "timestamp": None, "name": "ticket_to_verify", "value": number},
        {"event": "followup", "timestamp": None, "name": "ticket_verify_form"},
    ]
    form = ValidateTicketVerifyForm()
    for given, verified in [("A@B.cn", number), ("c@d.cn", None)]:
        tracker = make_tracker(slots={"ticket_to_verify": number}, sender_id="stranger")
        result = form.validate_verify_contact(given, CollectingDispatcher(), tracker, {})
        assert result["verified_ticket"] == verified
        shown, _ = run_action(
            ActionShowVerifiedTicket(),
            make_tracker(
                slots={"ticket_to_verify": number, "verified_ticket": verified}, sender_id="stranger"
            ),
        )
        expected = "utter_ticket_status" if verified else "utter_ticket_contact_mismatch"
        assert shown[0]["response"] == expected


def test_ticket_query_without_number_uses_the_conversations_ticket_or_asks() -> None:
    messages, _ = run_action(ActionQueryTicket(), make_tracker("query_ticket", "我的工单呢"))
    assert responses(messages) == ["utter_ask_ticket_number"]
    tracker = make_tracker("query_ticket", "查一下", slots={"ticket_number": "DY20261125-000009"})
    messages, _ = run_action(ActionQueryTicket(), tracker)
    assert messages[0]["response"] == "utter_ticket_not_found"


def test_an_english_conversation_gets_the_next_step_in_english() -> None:
    tracker = make_tracker("deny_unsolved", slots={"topic": "report_content", "language": "en"})
    messages, _ = run_action(ActionHandleUnsolved(), tracker)
    assert "jubao@douyin.com" in messages[0]["next_step"]
    assert not re.search(r"[\u4e00-\u9fff]{4}", messages[0]["next_step"])


# --- 长辈模式: one fact a reply, the same facts ------------------------------------------------


def elder(tracker):
    tracker.latest_message["metadata"] = {"mode": "elder"}
    return tracker


@pytest.mark.parametrize(
    "topic, text, language",
    [
        ("account_ban", "我的号被封了怎么办", "zh"),
        ("account_ban", "my account was banned, what can I do", "en"),
    ],
)
def test_the_elder_mode_gives_the_first_fact_and_the_rest_behind_a_button(
    sim_now, topic, text, language
) -> None:
    sim_now("10:00")
    slots = {"language": language, "disclaimer_languages": [language]}
    full, _ = run_action(ActionAnswerTopic(), make_tracker(topic, text, slots))
    short, events = run_action(ActionAnswerTopic(), elder(make_tracker(topic, text, slots)))
    full_lines, short_lines = full[0]["text"].splitlines(), short[0]["text"].splitlines()
    channel_lines = [line for line in full_lines if line.startswith(("▸", "☎", "✉"))]
    assert len(channel_lines) >= 2 and len(short_lines) == 2
    assert short_lines[0] == channel_lines[0]  # the same fact, word for word
    assert ("其他渠道" if language == "zh" else "Other channels") in short_lines[1]
    assert [b["payload"] for b in short[0]["buttons"]][0] == "/more_channels"
    assert (
        slot_events(events)["shown_channels"]
        == slot_events(run_action(ActionAnswerTopic(), make_tracker(topic, text, slots))[1])[
            "shown_channels"
        ][:1]
    )
