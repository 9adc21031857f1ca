"""Whole conversations through the REST channel against the real Rasa server and action server."""

from __future__ import annotations

import json
import re

import pytest
import requests
import yaml
from sqlalchemy import create_engine, inspect, text

from core import knowledge
from core.answers import case_channels
from tests.bot import RunningBot, button_payloads, joined, new_sender
from tests.conftest import ROOT

pytestmark = pytest.mark.servers

TOPIC_QUESTIONS = yaml.safe_load((ROOT / "tests" / "data" / "topic_questions.yml").read_text("utf-8"))
DISCLAIMER = "这是抖音智能客服的模拟器"
TICKET = re.compile(r"DY\d{8}-\d{6}")


def sim(clock: str) -> str:
    return f"2026-11-25T{clock}:00+08:00"


@pytest.fixture(scope="module")
def bot(tmp_path_factory: pytest.TempPathFactory):
    running = RunningBot(tmp_path_factory.mktemp("bot")).start(sim("10:00"))
    yield running
    running.stop()


@pytest.fixture
def clock(bot: RunningBot):
    """Restarts the action server at a simulated time; back to 10:00 afterwards."""
    yield lambda moment: bot.restart_actions(sim(moment))
    bot.restart_actions(sim("10:00"))


def test_disclaimer_opens_the_conversation_once(bot: RunningBot) -> None:
    sender = new_sender()
    first = bot.say(sender, "你好")
    assert DISCLAIMER in first[0]["text"]
    second = bot.say(sender, "抖音的客服电话是多少")
    assert DISCLAIMER not in joined(second)
    assert "400-992-2556" in joined(second)


# One question per topic (tests/test_topic_consistency.py checks that every topic has one).
@pytest.mark.parametrize("topic", sorted(TOPIC_QUESTIONS))
def test_each_topic_gets_its_smart_answer(bot: RunningBot, topic: str) -> None:
    messages = bot.say(new_sender(), TOPIC_QUESTIONS[topic])
    answer = messages[1]["text"]  # messages[0] is the disclaimer
    named = [c for c in case_channels(topic) if knowledge.channel(c)["name"] in answer]
    assert named, answer  # the overview, or the one channel of the aspect asked
    assert len(answer.splitlines()) <= 8
    assert "/request_human" in button_payloads(messages)


def test_out_of_scope_gets_a_polite_refusal_not_a_channel(bot: RunningBot) -> None:
    for question in ["今天北京天气怎么样", "帮我写一首关于春天的诗", "asdkjh qweoiu"]:
        reply = joined(bot.say(new_sender(), question))
        assert "只能处理抖音客服相关的问题" in reply or "没有完全理解" in reply, reply
        assert "400-992-2556" not in reply


def test_solved_then_rated(bot: RunningBot) -> None:
    sender = new_sender()
    bot.say(sender, TOPIC_QUESTIONS["account_ban"])
    asked = bot.say(sender, "好了谢谢")
    assert "打分" in joined(asked)
    rated = bot.say(sender, '/rate{"rating":"5"}')
    assert "5分" in joined(rated)
    with create_engine(bot.database_url).connect() as connection:
        row = connection.execute(
            text("SELECT topic, score FROM ratings WHERE conversation_id = :s"), {"s": sender}
        ).one()
    assert tuple(row) == ("account_ban", 5)


def test_not_solved_next_step_then_human_in_hours(bot: RunningBot) -> None:
    sender = new_sender()
    bot.say(sender, TOPIC_QUESTIONS["report_content"])
    step = joined(bot.say(sender, "没用"))
    assert "jubao@douyin.com" in step
    offer = bot.say(sender, "还是不行")
    assert "/request_human" in button_payloads(offer) and "/create_ticket" in button_payloads(offer)
    queued = joined(bot.say(sender, "转人工"))
    assert re.search(r"排在第 \d+ 位", queued) and "2-5分钟" in queued


def test_direct_human_request_asks_for_the_problem_then_transfers(bot: RunningBot) -> None:
    sender = new_sender()
    asked = joined(bot.say(sender, "人工！人工！"))
    assert "描述" in asked
    queued = joined(bot.say(sender, "账号被封了"))
    assert "账号封禁/解封申诉" in queued and "排在第" in queued


def queue_entries(bot: RunningBot, sender: str) -> list:
    """(status, description) of the conversation's queue entries, oldest first."""
    with create_engine(bot.database_url).connect() as connection:
        rows = connection.execute(
            text("SELECT status, description FROM handoff_queue WHERE conversation_id = :s ORDER BY id"),
            {"s": sender},
        )
        return [tuple(row) for row in rows]


def test_a_queued_user_asks_their_place_leaves_and_comes_back(bot: RunningBot) -> None:
    sender = new_sender()
    bot.say(sender, "转人工")
    assert "排在第" in joined(bot.say(sender, "我的账号被封了"))
    for question in ("我前面还有几个人", "我还在排队吗"):
        reply = joined(bot.say(sender, question))
        assert re.search(r"当前排在第 \d+ 位，预计等待", reply) and "取消排队" in reply, reply
    assert "已为您取消排队" in joined(bot.say(sender, "算了不等了，取消排队"))
    assert queue_entries(bot, sender) == [("abandoned", "我的账号被封了")]
    not_queued = joined(bot.say(sender, "我前面还有几个人"))
    # Not in this queue: the app's own waits follow (the question may be about the app's queue).
    assert "没有在排队" in not_queued and "30分钟" in not_queued, not_queued
    again = joined(bot.say(sender, "转人工"))  # what they said is kept: queued again at once
    assert "排在第" in again, again
    assert [status for status, _ in queue_entries(bot, sender)] == ["abandoned", "waiting"]
    assert "已为您取消排队" in joined(bot.say(sender, "取消"))  # no form open: a cancel leaves the queue


def test_an_english_user_asks_their_place_and_leaves(bot: RunningBot) -> None:
    sender = new_sender()
    bot.say(sender, "I need a real person")
    assert "Your position" in joined(bot.say(sender, "my account was banned"))
    reply = joined(bot.say(sender, "how many people are ahead of me?"))
    assert re.search(r"position \d+, expected wait", reply), reply
    assert "left the queue" in joined(bot.say(sender, "I don't want to wait any longer"))
    assert [status for status, _ in queue_entries(bot, sender)] == ["abandoned"]


def test_peak_hour_warns_of_a_longer_wait(bot: RunningBot, clock) -> None:
    clock("20:00")
    sender = new_sender()
    bot.say(sender, TOPIC_QUESTIONS["throttling"])
    assert "最长约30分钟" in joined(bot.say(sender, "真人客服"))
    english = new_sender()
    bot.say(english, "my videos are being throttled")
    assert "up to 30" in joined(bot.say(english, "real person please"))


def test_after_hours_at_22_30_names_the_phone_line_and_offers_a_ticket(bot: RunningBot, clock) -> None:
    clock("22:30")
    sender = new_sender()
    bot.say(sender, TOPIC_QUESTIONS["recharge_refund"])
    reply = bot.say(sender, "找真人")
    assert "明天 9:00" in joined(reply) and "400-992-2556" in joined(reply)
    assert "/create_ticket" in button_payloads(reply)


def test_ticket_at_02_00_survives_an_action_server_restart(bot: RunningBot, clock) -> None:
    clock("02:00")
    sender = new_sender()
    bot.say(sender, TOPIC_QUESTIONS["recharge_refund"])
    closed = joined(bot.say(sender, "转人工"))
    assert "今天 9:00" in closed and "feedback@douyin.com" in closed
    assert "联系您" in joined(bot.say(sender, "/create_ticket"))
    assert "联系方式" in joined(bot.say(sender, "电话回访"))
    created = joined(bot.say(sender, "13800138000"))
    number = TICKET.search(created).group(0)
    assert number.startswith("DY20261125-")

    clock("10:00")  # a restarted action server must still find it
    owner = joined(bot.say(sender, f"查询工单 {number}"))
    assert number in owner and "已受理" in owner and "充值" in owner

    stranger = new_sender()  # another conversation must give the contact left on the ticket
    asked = joined(bot.say(stranger, f"查询工单 {number}"))
    assert "联系方式" in asked and "已受理" not in asked
    assert "不一致" in joined(bot.say(stranger, "13900000000"))
    bot.say(stranger, f"查询工单 {number}")
    assert "已受理" in joined(bot.say(stranger, "13800138000"))


def tickets_of(bot: RunningBot, sender: str) -> list:
    """The conversation's tickets in the service database (created with its first ticket)."""
    engine = create_engine(bot.database_url)
    if not inspect(engine).has_table("tickets"):
        return []
    with engine.connect() as connection:
        rows = connection.execute(
            text(
                "SELECT description, contact_channel, contact_detail FROM tickets"
                " WHERE conversation_id = :s"
            ),
            {"s": sender},
        )
        return [tuple(row) for row in rows]


def test_a_question_during_the_ticket_form_is_answered_and_the_ticket_resumed(bot: RunningBot) -> None:
    sender = new_sender()
    bot.say(sender, "帮我提交一个工单")
    assert "联系您" in joined(bot.say(sender, "我的视频一直上传失败"))
    assert "联系方式" in joined(bot.say(sender, "电话回访"))
    aside = bot.say(sender, "举报邮箱是多少")  # asked instead of the contact detail
    reply = joined(aside)
    assert knowledge.channel("report_email")["contact"] in reply
    assert "格式不对" not in reply and "没有提交" in reply
    assert "/create_ticket" in button_payloads(aside)
    assert tickets_of(bot, sender) == []
    resumed = joined(bot.say(sender, "/create_ticket"))  # only what is missing is asked
    assert "联系方式" in resumed and "哪种方式" not in resumed and "描述" not in resumed
    created = joined(bot.say(sender, "13800138000"))
    assert TICKET.search(created)
    assert tickets_of(bot, sender) == [("我的视频一直上传失败", "phone", "13800138000")]


def test_an_invalid_contact_that_is_no_question_is_still_refused(bot: RunningBot) -> None:
    sender = new_sender()
    for message in ["帮我提交一个工单", "我的账号被盗了", "邮件回复"]:
        bot.say(sender, message)
    assert "格式不对" in joined(bot.say(sender, "abc"))
    assert TICKET.search(joined(bot.say(sender, "me@example.org")))
    assert tickets_of(bot, sender) == [("我的账号被盗了", "email", "me@example.org")]


@pytest.mark.parametrize("cancel", ["取消", "不填了", "算了，不提交了"])
def test_cancel_ends_the_ticket_form_and_creates_nothing(bot: RunningBot, cancel: str) -> None:
    sender = new_sender()
    bot.say(sender, "帮我提交一个工单")
    bot.say(sender, "我的账号被盗了")
    assert "联系方式" in joined(bot.say(sender, "电话回访"))
    cancelled = bot.say(sender, cancel)
    assert "没有提交" in joined(cancelled) and "/create_ticket" in button_payloads(cancelled)
    assert "格式不对" not in joined(bot.say(sender, "13800138000"))  # no longer the form's answer
    assert tickets_of(bot, sender) == []
    assert "描述" in joined(bot.say(sender, "/create_ticket"))  # a new ticket starts from the problem


def test_english_question_and_cancel_during_the_ticket_form(bot: RunningBot) -> None:
    sender = new_sender()
    bot.say(sender, "I want to open a ticket")
    bot.say(sender, "my videos keep failing to upload")
    assert "leave your contact" in joined(bot.say(sender, "email"))
    aside = joined(bot.say(sender, "What's the customer service phone number?"))
    assert knowledge.channel("hotline")["contact"] in aside and "not been submitted" in aside
    assert "does not look right" not in aside
    assert "leave your contact" in joined(bot.say(sender, "/create_ticket"))
    cancelled = joined(bot.say(sender, "cancel"))
    assert "no ticket was submitted" in cancelled and not re.search(r"[\u4e00-\u9fff]{4}", cancelled)
    assert tickets_of(bot, sender) == []


def test_a_question_or_a_cancel_during_the_ticket_contact_check(bot: RunningBot) -> None:
    owner = new_sender()
    for message in ["帮我提交一个工单", "闪退", "电话回访"]:
        bot.say(owner, message)
    number = TICKET.search(joined(bot.say(owner, "13800138000"))).group(0)
    stranger = new_sender()
    assert "联系方式" in joined(bot.say(stranger, f"查询工单 {number}"))
    aside = bot.say(stranger, "客服电话多少")
    assert knowledge.channel("hotline")["contact"] in joined(aside) and "不一致" not in joined(aside)
    again = [p for p in button_payloads(aside) if number in p]
    assert again and "联系方式" in joined(bot.say(stranger, again[0]))
    assert "不查看" in joined(bot.say(stranger, "取消"))
    assert "已受理" not in joined(bot.say(stranger, "13800138000"))  # the check ended with the cancel


def test_green_channel_for_a_stolen_account_skips_the_resolution_question(bot: RunningBot) -> None:
    messages = bot.say(new_sender(), TOPIC_QUESTIONS["account_stolen"])
    assert "1010-9008" in messages[1]["text"]
    assert "/deny_unsolved" not in button_payloads(messages)


@pytest.mark.parametrize("moment, on_duty", [("10:00", True), ("23:30", False)])
def test_asking_the_human_hours_answers_them_and_does_not_transfer(
    bot: RunningBot, clock, moment, on_duty
) -> None:
    clock(moment)
    reply = joined(bot.say(new_sender(), "人工客服几点上班"))
    assert "9:00-21:00" in reply and "排在第" not in reply
    assert ("人工客服在线" in reply) == on_duty and ("不在人工服务时间" in reply) != on_duty


@pytest.mark.parametrize("moment, asked", [("02:00", "转人工"), ("03:00", "我要人工")])
def test_out_of_hours_a_human_request_says_nobody_is_on_duty(bot: RunningBot, clock, moment, asked) -> None:
    clock(moment)
    reply = bot.say(new_sender(), asked)
    text_ = joined(reply)
    assert "现在没有人工可以接入" in text_ and "今天 9:00" in text_ and "马上" not in text_
    assert "/create_ticket" in button_payloads(reply)


def test_a_conversation_in_english_stays_in_english(bot: RunningBot) -> None:
    sender = new_sender()
    first = bot.say(sender, "What's your customer service phone number?")
    assert "simulator" in first[0]["text"] and DISCLAIMER not in joined(first)
    assert "400-992-2556" in joined(first) and "Did this solve your problem?" in joined(first)
    titles = [b["title"] for m in first for b in m.get("buttons", [])]
    assert "Solved" in titles and "Human agent" in titles
    assert not re.search(r"[\u4e00-\u9fff]{4}", joined(bot.say(sender, "ok")))  # "ok" keeps English
    follow = joined(bot.say(sender, "how long do I have to wait?"))
    assert "5-15" in follow and not re.search(r"[\u4e00-\u9fff]{4}", follow)
    queued = joined(bot.say(sender, "/request_human"))
    assert "Your position" in queued and "排在第" not in queued
    bot.add_agent("amy", "Amy")
    headers = bot.agent_headers("amy")
    took = requests.post(f"{bot.console_url}/conversations/{sender}/take", headers=headers, timeout=30)
    assert took.status_code == 200, took.text
    transcript = requests.get(f"{bot.console_url}/conversations/{sender}", headers=headers, timeout=30).json()
    assert "Human agent Amy has joined" in json.dumps(transcript, ensure_ascii=False)
    assert transcript["context"]["language"] == "en" and transcript["mine"]
    closed = requests.post(f"{bot.console_url}/conversations/{sender}/close", headers=headers, timeout=30)
    assert closed.status_code == 200, closed.text
    asked = requests.get(f"{bot.console_url}/conversations/{sender}", headers=headers, timeout=30).json()
    last = asked["messages"][-1]["text"]
    assert "Amy" in last and not re.search(r"[\u4e00-\u9fff]{4}", last)  # the rating question, in English


def test_english_after_hours_offer_and_ticket_form(bot: RunningBot, clock) -> None:
    clock("22:30")
    sender = new_sender()
    offer = bot.say(sender, "I need a real person, my recharge never arrived")
    assert "outside human service hours" in joined(offer) or "Your position" not in joined(offer)
    asked = joined(bot.say(sender, "/create_ticket"))
    assert "How should the agent contact you?" in asked or "describe your problem" in asked
    if "describe your problem" in asked:
        asked = joined(bot.say(sender, "my coins never arrived"))
    assert "leave your contact" in joined(bot.say(sender, "email reply"))
    created = joined(bot.say(sender, "me@example.org"))
    assert TICKET.search(created) and "Ticket opened" in created and "邮件" not in created


def test_pinyin_and_mixed_chinese_stay_chinese(bot: RunningBot) -> None:
    for question in ["kefu dianhua duoshao", "dy kf电话多少"]:
        reply = joined(bot.say(new_sender(), question))
        assert DISCLAIMER in reply and "400-992-2556" in reply and "Did this" not in reply


def test_an_appeal_offers_an_evidence_link_and_the_ticket_shows_what_arrived(bot: RunningBot) -> None:
    sender = new_sender()
    first = bot.say(sender, TOPIC_QUESTIONS["account_ban"])
    links = [b for m in first for b in m.get("buttons", []) if b.get("url")]
    assert [b["title"] for b in links] == ["上传证据"] and "/evidence/DY20261125-" in links[0]["url"]
    assert links[0]["url"] not in joined(first)  # a button, not a line of text
    number = re.search(r"/evidence/(DY\d{8}-\d{6})\?", links[0]["url"]).group(1)
    assert "还没有工单" in joined(bot.say(sender, "查询工单"))  # a link is not a ticket yet

    console = f"http://localhost:{bot.rasa_port}/webhooks/agent_console/conversations"
    notice = {"ticket": number, "count": 2}
    assert requests.post(f"{console}/{sender}/evidence", json=notice, timeout=30).status_code == 401
    headers = {"Authorization": f"Bearer {bot.agent_token}"}
    other = requests.post(f"{console}/{new_sender()}/evidence", json=notice, headers=headers, timeout=30)
    assert other.status_code == 404  # not that conversation's ticket
    told = requests.post(f"{console}/{sender}/evidence", json=notice, headers=headers, timeout=30)
    assert told.status_code == 200
    assert requests.get(f"{console}/{sender}", headers=headers, timeout=30).status_code == 401  # no agent
    bot.add_agent("evidence_viewer", "小证", role="supervisor")  # never queued: a supervisor reads it
    transcript = requests.get(f"{console}/{sender}", headers=bot.agent_headers("evidence_viewer"), timeout=30)
    assert f"已收到 2 个文件，已加入工单 {number}" in json.dumps(transcript.json(), ensure_ascii=False)

    assert "联系" in joined(bot.say(sender, "/create_ticket"))
    bot.say(sender, "电话回访")
    created = bot.say(sender, "13800138000")
    assert number in joined(created)  # the case's ticket, completed by the form
    assert [b["title"] for m in created for b in m.get("buttons", []) if b.get("url")] == ["上传证据"]


def test_an_appeal_asked_how_long_gets_the_appeals_own_response_time(bot: RunningBot) -> None:
    reply = joined(bot.say(new_sender(), "抖音申诉要几天才有结果"))
    assert "24小时" in reply and "即时答复" not in reply


def test_the_human_agents_phone_number_is_the_hotline(bot: RunningBot) -> None:
    reply = joined(bot.say(new_sender(), "抖音人工客服电话是多少"))
    assert "400-992-2556" in reply


@pytest.mark.parametrize(
    "question, path",
    [("How can I contact Douyin customer service?", "Feedback and help"), ("抖音客服怎么联系", "反馈与帮助")],
)
def test_how_to_contact_at_all_names_the_app_the_hotline_and_the_mailbox(
    bot: RunningBot, question, path
) -> None:
    reply = joined(bot.say(new_sender(), question))
    assert path in reply and "400-992-2556" in reply and "feedback@douyin.com" in reply


def test_unsure_between_two_cases_asks_which_and_the_button_keeps_the_aspect(bot: RunningBot) -> None:
    sender = new_sender()
    # The NLU is unsure: a stolen account or a ban, whose "how long" differ (the emergency line's, the
    # website's); two cases with the same answer are answered (test_actions.py).
    asked = bot.say(sender, "账号冻结了余额要多久退")
    assert "您是想问" in joined(asked) and "还是" in joined(asked)
    payloads = button_payloads(asked)
    assert len(payloads) == 2 and all('"aspect": "response"' in p for p in payloads), payloads
    chosen = next(p for p in payloads if p.startswith("/account_ban"))
    assert "24小时" in joined(bot.say(sender, chosen))


def test_another_platform_is_said_to_be_outside_this_simulator(bot: RunningBot) -> None:
    reply = joined(bot.say(new_sender(), "小红书号被限流了怎么申诉"))
    assert "小红书" in reply and "抖音客服的模拟器" in reply and "www.douyin.com" not in reply


def test_real_name_verification_is_its_own_case(bot: RunningBot) -> None:
    reply = joined(bot.say(new_sender(), "抖音实名了但是显示未认证怎么回事"))
    assert "【实名认证问题】" in reply and "创作者中心" not in reply


def test_the_elder_mode_answers_one_fact_at_a_time(bot: RunningBot) -> None:
    """长辈模式 sends {"mode": "elder"} with each message: one fact, then the next on 其他渠道."""
    sender, url = new_sender(), f"http://localhost:{bot.rasa_port}/webhooks/rest/webhook"

    def say_elder(text: str) -> list:
        body = {"sender": sender, "message": text, "metadata": {"mode": "elder"}}
        return requests.post(url, json=body, timeout=60).json()

    first = say_elder("我的号被封了怎么办")
    facts = [line for line in joined(first).splitlines() if line.startswith(("▸", "☎", "✉"))]
    assert len(facts) == 1 and "其他渠道" in joined(first), joined(first)
    more = [
        line for line in joined(say_elder("/more_channels")).splitlines() if line.startswith(("▸", "☎", "✉"))
    ]
    assert len(more) == 1 and more != facts
