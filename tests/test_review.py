"""The review loop without servers: personal data scrubbed from realistic messages, the misses found in
conversations written by Rasa's own SQL tracker store (SQLite and a real PostgreSQL), the labels store
under concurrent supervisors, the export to reviewed.yml as Rasa reads it, and the report's figures."""

from __future__ import annotations

import asyncio
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Dict, List, Optional

import pytest
import sqlalchemy as sa

from core import store
from review import datasets, export, labels
from review.misses import Miss, comparable, find_miss, find_misses, similarity
from review.scrub import scrub
from tests.conftest import ROOT

SIM_DAY = "2026-11-25T{}:00+08:00"

# --- personal data -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed, stored",
    [
        ("我手机号13912345678绑定的抖音登不上了", "我手机号<手机号>绑定的抖音登不上了"),
        ("回电 138-1234-5678 或者 +86 139 1234 5678", "回电 <手机号> 或者 <手机号>"),
        ("座机010-62345678白天有人", "座机<电话>白天有人"),
        ("邮箱zhang.wei88@163.com收不到验证码", "邮箱<邮箱>收不到验证码"),
        ("reach me at Li.Lei+dy@example.com.cn please", "reach me at <邮箱> please"),
        ("身份证110101199003074578被别人拿去实名了", "身份证<身份证号>被别人拿去实名了"),
        ("身份证号 11010119900307457X 认证失败", "身份证号 <身份证号> 认证失败"),
        ("抖音号dy_kitty2020的直播间被关了", "抖音号<抖音号>的直播间被关了"),
        ("我的抖音号是 test_user_01，被封了", "我的抖音号是 <抖音号>，被封了"),
        ("抖音ID：88990011 登不上", "抖音ID：<抖音号> 登不上"),
        ("小号被限流了，UID 778899123，怎么解除", "小号被限流了，UID <抖音号>，怎么解除"),
        ("有人冒充我的抖音号 uid 556677889 发广告", "有人冒充我的抖音号 uid <抖音号> 发广告"),
        ("我的账号 abcdefg 登不上", "我的账号 <抖音号> 登不上"),
        ("my douyin id is john_doe99, banned", "my douyin id is <抖音号>, banned"),
        ("DY20261120-000321这个单子三天了没人理", "<工单号>这个单子三天了没人理"),
        ("工单号 dy20261120 000321 查一下", "工单号 <工单号> 查一下"),
        ("密码是Abc@12345，被人改了", "密码是<密码>，被人改了"),
        ("加我QQ 10086123 或者微信号 wx_li_88", "加我QQ <账号> 或者微信号 <账号>"),
        ("银行卡6222021234567890123扣了两次", "银行卡<号码>扣了两次"),
    ],
)
def test_personal_data_becomes_placeholders(typed: str, stored: str) -> None:
    assert scrub(typed) == stored
    assert scrub(stored) == stored  # nothing left to find


@pytest.mark.parametrize(
    "text",
    [
        "400-992-2556打不通怎么办",  # the bot's own hotline
        "投诉打028-6583-5566没人接",
        "发邮件到feedback@douyin.com多久回",
        "账号被封了怎么申诉",  # 账号 with no name after it
        "账号abc被封",  # too short to be a name
        "订单在 2026-11-25 10:00 下的，金额 128 元",
        "等了3天，还要等几个小时？",
        "人工客服9:00-21:00在吗",
    ],
)
def test_published_contacts_and_ordinary_text_stay(text: str) -> None:
    assert scrub(text) == text


def test_no_digit_of_a_personal_item_survives() -> None:
    typed = "我叫李雷，手机13800001111，身份证110101199003074578，邮箱lilei@qq.com，抖音号 lilei_2020"
    stored = scrub(typed)
    assert stored == "我叫李雷，手机<手机号>，身份证<身份证号>，邮箱<邮箱>，抖音号 <抖音号>"
    for item in ("13800001111", "110101199003074578", "lilei@qq.com", "lilei_2020"):
        assert item not in stored


# --- the misses, in conversations stored by Rasa's SQL tracker store -------------------------------------


def ranking(*pairs) -> List[Dict]:
    return [{"name": name, "confidence": confidence} for name, confidence in pairs]


def user(text: str, intent: str, confidence: float, at: str, alternatives=(), entities=None):
    from rasa.shared.core.events import UserUttered

    parse = {
        "intent": {"name": intent, "confidence": confidence},
        "entities": entities or [],
        "intent_ranking": ranking((intent, confidence), *alternatives),
        "text": text,
    }
    return UserUttered(
        text, parse["intent"], parse["entities"], parse, metadata={"sim_now": SIM_DAY.format(at)}
    )


def turn(user_event, action: Optional[str] = None, *said: str) -> list:
    from rasa.shared.core.events import ActionExecuted, BotUttered

    events = [user_event]
    if action:
        events.append(ActionExecuted(action))
    events += [BotUttered(text) for text in said]
    return events + [ActionExecuted("action_listen")]


def conversations() -> Dict[str, list]:
    from rasa.shared.core.events import (
        ActionExecuted,
        ActiveLoop,
        ConversationPaused,
        ConversationResumed,
    )

    start = [ActionExecuted("action_listen")]
    answer, ask = "action_answer_topic", "以上回答解决您的问题了吗？"
    return {
        # "did you mean", then the user picks a topic from the buttons: the pick is the guess.
        "chose": start
        + turn(
            user(
                "淘宝买的东西怎么退",
                "nlu_fallback",
                0.3,
                "10:00",
                [("recharge_refund", 0.25), ("app_bug", 0.1)],
            ),
            "action_suggest_topics",
            "抱歉，我没有完全理解。您想咨询的是下面哪一类？",
        )
        + turn(user("/recharge_refund", "recharge_refund", 1.0, "10:01"), answer, "充值退款……", ask),
        # A guess under 0.5, then 没解决 (the button): two reasons, grouped under the first.
        "unsure": start
        + turn(user("钱扣了没到", "recharge_refund", 0.42, "11:00"), answer, "充值退款……", ask)
        + turn(user("/deny_unsolved", "deny_unsolved", 1.0, "11:01"), "action_handle_unsolved", "您可以……"),
        # Answered, then a human; an agent takes the conversation: what they said while paused is no miss.
        "human": start
        + turn(user("我朋友的号被盗了找谁", "account_stolen", 0.93, "12:00"), answer, "账号被盗……", ask)
        + turn(user("转人工", "request_human", 0.96, "12:01"), "action_transfer_human", "您当前排在第 1 位")
        + [ConversationPaused()]
        + turn(user("在吗", "greet", 0.31, "12:03"))
        + [ConversationResumed()],
        # The same question again in other words (same case, same aspect), then a real follow-up.
        "rephrased": start
        + turn(user("申诉多久有结果", "account_ban", 0.91, "13:00"), answer, "账号封禁……", ask)
        + turn(user("封号申诉一般要等几天", "account_ban", 0.88, "13:01"), answer, "24小时内响应", ask)
        + turn(user("要准备什么材料", "ask_followup", 0.9, "13:02"), "action_answer_follow_up", "请准备……"),
        # Out of scope; a ticket form's answers and a button are not misses.
        "other": start
        + turn(user("明天北京下雨吗", "out_of_scope", 0.95, "14:00"), "action_out_of_scope", "抱歉，我只能……")
        + turn(
            user("/create_ticket", "create_ticket", 1.0, "14:01"),
            "ticket_form",
            "希望客服通过哪种方式联系您？",
        )
        + [ActiveLoop("ticket_form")]
        + turn(user("13800138000", "nlu_fallback", 0.3, "14:02"), "ticket_form", "已记录")
        + [ActiveLoop(None)],
        # The NLU's aspect entity, when the model has one, is the aspect used.
        "aspect": start
        + turn(
            user(
                "客服几点下班呀",
                "human_hours",
                0.45,
                "15:00",
                entities=[{"entity": "aspect", "value": "hours", "confidence_entity": 0.81}],
            ),
            answer,
            "人工客服9:00-21:00",
        ),
    }


def save_conversations(tracker_store) -> None:
    from rasa.shared.core.trackers import DialogueStateTracker

    for sender, events in conversations().items():
        asyncio.run(tracker_store.save(DialogueStateTracker.from_events(sender, events)))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def tracker_url(request, tmp_path_factory: pytest.TempPathFactory) -> str:
    """The conversations above, saved by Rasa's SQLTrackerStore into SQLite or PostgreSQL."""
    from rasa.core.tracker_store import SQLTrackerStore
    from rasa.shared.core.domain import Domain

    domain = Domain.load(str(ROOT / "domain.yml"))
    if request.param == "sqlite":
        path = tmp_path_factory.mktemp("tracker") / "tracker.db"
        save_conversations(SQLTrackerStore(domain, dialect="sqlite", db=str(path)))
        return f"sqlite:///{path}"
    server = request.getfixturevalue("pg")
    tracker_store = SQLTrackerStore(
        domain, dialect="postgresql", host="127.0.0.1", port=server.port, db="postgres", username="postgres"
    )
    save_conversations(tracker_store)
    tracker_store.engine.dispose()
    return server.url


def by_text(misses: List[Miss]) -> Dict[str, Miss]:
    return {miss.text: miss for miss in misses}


def test_each_kind_of_miss_is_found_with_its_reasons(tracker_url: str) -> None:
    found = by_text(find_misses(tracker_url))
    assert {text: miss.reasons for text, miss in found.items()} == {
        "淘宝买的东西怎么退": ["fallback"],
        "钱扣了没到": ["low_confidence", "unsolved"],
        "我朋友的号被盗了找谁": ["human", "agent"],
        "申诉多久有结果": ["rephrased"],
        "明天北京下雨吗": ["out_of_scope"],
        "客服几点下班呀": ["low_confidence"],
    }
    assert found["钱扣了没到"].reason == "low_confidence"
    # Newest first, by the time the message carries.
    assert [miss.at.hour for miss in find_misses(tracker_url)] == [15, 14, 13, 12, 11, 10]


def test_a_miss_carries_what_the_bot_read_and_said(tracker_url: str) -> None:
    found = by_text(find_misses(tracker_url))
    chose = found["淘宝买的东西怎么退"]
    assert (chose.intent, chose.confidence, chose.action) == ("nlu_fallback", 0.3, "action_suggest_topics")
    assert chose.answer == ["抱歉，我没有完全理解。您想咨询的是下面哪一类？"]
    assert (chose.chosen, chose.guess, chose.topic) == (
        "recharge_refund",
        "recharge_refund",
        "recharge_refund",
    )
    assert chose.at == datetime(2026, 11, 25, 2, 0, tzinfo=timezone.utc)
    assert chose.after == [
        ("user", "/recharge_refund"),
        ("bot", "充值退款……"),
        ("bot", "以上回答解决您的问题了吗？"),
    ]

    unsure = found["钱扣了没到"]
    assert (unsure.guess, unsure.aspect, unsure.aspect_source) == ("recharge_refund", "none", "words")
    rephrased = found["申诉多久有结果"]
    assert (rephrased.aspect, rephrased.aspect_source) == ("response", "words")
    assert found["客服几点下班呀"].aspect == "hours"
    assert (found["客服几点下班呀"].aspect_confidence, found["客服几点下班呀"].aspect_source) == (0.81, "nlu")
    human = found["我朋友的号被盗了找谁"]
    assert human.before == [] and human.after[0] == ("user", "转人工")


def test_one_miss_is_found_by_its_row(tracker_url: str) -> None:
    miss = by_text(find_misses(tracker_url))["钱扣了没到"]
    assert find_miss(tracker_url, miss.event_id).reasons == ["low_confidence", "unsolved"]
    assert find_miss(tracker_url, miss.event_id + 1) is None  # not a user message
    assert find_miss(tracker_url, 10**9) is None


def test_the_window_counts_conversations_by_when_they_were_logged(tracker_url: str) -> None:
    assert find_misses(tracker_url, since=datetime.now(timezone.utc) + timedelta(minutes=1)) == []
    assert len(find_misses(tracker_url, since=datetime.now(timezone.utc) - timedelta(days=1))) == 6


def test_rephrasings_are_told_from_follow_ups() -> None:
    assert similarity("抖音客服电话是多少", "抖音的客服电话是多少？") > 0.5
    assert similarity("我的号被封了", "要准备什么材料") == 0
    assert comparable("How long?  要多久！") == "howlong要多久"


# --- labels: one decision per text, whoever asks at the same moment --------------------------------


def a_miss(text: str, intent: Optional[str] = "recharge_refund", event_id: int = 7) -> Miss:
    return Miss(
        event_id=event_id,
        conversation_id="c1",
        at=datetime(2026, 11, 25, 2, 0, tzinfo=timezone.utc),
        text=text,
        reasons=["low_confidence"],
        intent=intent,
        confidence=0.42,
        ranking=[(intent, 0.42)] if intent else [],
        aspect="response",
        aspect_confidence=None,
        aspect_source="words",
        answer=["……"],
        action="action_answer_topic",
    )


def label_rows() -> list:
    with store.engine().connect() as connection:  # migrated on first use
        return connection.execute(
            sa.text("SELECT status, decision, intent, aspect, text FROM review_labels")
        ).all()


@pytest.fixture(params=["sqlite", "postgresql"])
def service_db(request, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return store.database_url()  # conftest: this test's own file
    server = request.getfixturevalue("pg")
    name = f"r_{tmp_path.name.lower().replace('-', '_')}"[:60]
    admin = sa.create_engine(server.url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = server.url.rsplit("/", 1)[0] + f"/{name}"
    monkeypatch.setenv(store.DATABASE_URL_VARIABLE, url)
    return url


def test_a_decision_is_stored_scrubbed_with_its_label(service_db: str) -> None:
    miss = a_miss("我手机13912345678充的钱多久到账")
    label = labels.decide(miss, "lin", "correct", "recharge_refund", "response")
    assert (label.text, label.intent, label.aspect, label.decided_by) == (
        "我手机<手机号>充的钱多久到账",
        "recharge_refund",
        "response",
        "lin",
    )
    assert label_rows() == [
        ("decided", "correct", "recharge_refund", "response", "我手机<手机号>充的钱多久到账")
    ]
    # The same words from another user (another number) are the same text: decided already.
    with pytest.raises(labels.LabelRefused, match="已由lin处理"):
        labels.decide(a_miss("我手机13800001111充的钱多久到账", event_id=9), "wang", "skip")


def test_two_supervisors_at_once_decide_a_text_once(service_db: str) -> None:
    miss = a_miss("充值的抖币一直没到账怎么办")
    outcomes: List[str] = []
    gate = threading.Barrier(8)

    def supervisor(name: str) -> None:
        gate.wait()
        try:
            labels.decide(miss, name, "accept")
            outcomes.append("ok")
        except labels.LabelRefused:
            outcomes.append("refused")

    threads = [threading.Thread(target=supervisor, args=(f"sup{i}",)) for i in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(outcomes) == ["ok"] + ["refused"] * 7
    assert len(label_rows()) == 1


def test_a_claim_holds_a_text_until_it_runs_out(service_db: str) -> None:
    miss = a_miss("钱扣了两次能退一次吗")
    now = datetime(2026, 12, 6, 10, 0, tzinfo=timezone.utc)
    labels.claim(miss, "lin", now)
    with pytest.raises(labels.LabelRefused, match="lin正在标注"):
        labels.decide(miss, "wang", "accept", now=now + timedelta(minutes=1))
    with pytest.raises(labels.LabelRefused):
        labels.claim(miss, "wang", now + timedelta(minutes=2))
    labels.claim(miss, "lin", now + timedelta(minutes=5))  # renewed by its holder
    late = now + timedelta(minutes=5 + labels.CLAIM_MINUTES + 1)
    assert labels.decide(miss, "wang", "out_of_scope", now=late).decided_by == "wang"  # ran out: taken over
    assert label_rows() == [("decided", "out_of_scope", "out_of_scope", None, "钱扣了两次能退一次吗")]
    assert labels.release(a_miss("别的话"), "lin") is False


@pytest.mark.parametrize(
    "decision, intent, aspect, message",
    [
        ("delete", None, None, "decision"),
        ("correct", None, None, "未知的意图"),
        ("correct", "no_such_intent", "hours", "未知的意图"),
        ("correct", "nlu_fallback", None, "未知的意图"),
        ("correct", "account_ban", "weather", "未知的方面"),
        ("correct", 5, None, "未知的意图"),
    ],
)
def test_a_malformed_decision_writes_nothing(decision, intent, aspect, message) -> None:
    with pytest.raises(ValueError, match=message):
        labels.decide(a_miss("充值没到账"), "lin", decision, intent, aspect)
    assert label_rows() == []


def test_accepting_needs_a_guess_and_drops_the_aspect_where_it_means_nothing() -> None:
    with pytest.raises(ValueError, match="没有可采纳"):
        labels.decide(a_miss("嗯嗯嗯", intent=None), "lin", "accept")
    assert labels.decide(a_miss("谢谢你啊小助手", intent="thanks"), "lin", "accept").aspect is None
    assert (
        labels.decide(a_miss("充值多久到账", intent="recharge_refund"), "lin", "accept").aspect == "response"
    )


def test_held_out_sentences_and_contradictions_never_become_training_data() -> None:
    held = datasets.nlu_examples(ROOT / "tests" / "nlu_holdout.yml")
    intent, text = next(held)
    with pytest.raises(labels.LabelRefused, match="测试集（tests/nlu_holdout.yml）"):
        labels.decide(a_miss(text, intent=intent), "lin", "accept")
    trained_intent, trained = next(datasets.nlu_examples(ROOT / "data" / "nlu" / "faq_account.yml"))
    other = "greet" if trained_intent != "greet" else "thanks"
    with pytest.raises(labels.LabelRefused, match=f"data/nlu/faq_account.yml 已把这句标为 {trained_intent}"):
        labels.decide(a_miss(trained), "lin", "correct", other)
    assert label_rows() == []
    assert labels.decide(a_miss(text, intent=intent), "lin", "skip").decision == "skip"  # skipping is fine


# --- export: reviewed.yml as Rasa reads it --------------------------------------------------------------


def test_the_export_writes_each_label_once_in_the_aspect_format(tmp_path: Path) -> None:
    labels.decide(a_miss("我手机13912345678充的钱多久到账"), "lin", "correct", "recharge_refund", "response")
    labels.decide(a_miss("帮我写首诗吧", intent="out_of_scope"), "wang", "out_of_scope")
    labels.decide(a_miss("嗯那个"), "lin", "skip")
    labels.decide(a_miss("谢谢你啊小助手", intent="thanks"), "lin", "accept")
    out = tmp_path / "reviewed.yml"
    outcome = export.export(path=out)
    assert [(e.intent, e.aspect, e.text) for e in outcome.added] == [
        ("recharge_refund", "response", "我手机<手机号>充的钱多久到账"),
        ("out_of_scope", None, "帮我写首诗吧"),
        ("thanks", None, "谢谢你啊小助手"),
    ]
    text = out.read_text("utf-8")
    assert "13912345678" not in text
    block = (
        "- intent: recharge_refund\n  metadata: {aspect: response}\n  examples: |\n    - 我手机<手机号>充的钱"
    )
    assert block in text
    assert "# lin " in text and "· 置信度低 · correct (bot: recharge_refund 0.42, aspect response)" in text
    # Again: nothing new, the file as it was; a hand-written block is kept.
    assert export.export(path=out).added == []
    out.write_text(text + "- intent: greet\n  examples: |\n    - 哈喽哈喽\n", encoding="utf-8")
    assert [(e.intent, e.text) for e in export.read_entries(out)][-1] == ("greet", "哈喽哈喽")

    from rasa.shared.nlu.training_data.loading import load_data

    examples = {m.get("text"): m for m in load_data(str(out)).intent_examples}
    assert examples["我手机<手机号>充的钱多久到账"].get("intent") == "recharge_refund"
    # components/aspect_classifier.py reads the block's metadata: {"intent": {"aspect": ...}}
    assert examples["我手机<手机号>充的钱多久到账"].get("metadata") == {"intent": {"aspect": "response"}}
    assert set(examples) == {"我手机<手机号>充的钱多久到账", "帮我写首诗吧", "谢谢你啊小助手", "哈喽哈喽"}


def test_the_export_never_writes_what_training_or_testing_already_holds(tmp_path: Path) -> None:
    intent, trained = next(datasets.nlu_examples(ROOT / "data" / "nlu" / "faq_account.yml"))
    held_intent, held = next(datasets.nlu_examples(ROOT / "tests" / "nlu_holdout.yml"))
    with store.engine().begin() as connection:  # rows as a hand or an older version might have left them
        for number, (text, label) in enumerate([(trained, intent), (held, held_intent)]):
            connection.execute(
                labels.review_labels.insert().values(
                    text_key=labels.text_key(text),
                    text=text,
                    event_id=number,
                    conversation_id="c",
                    reason="fallback",
                    message_at=datetime(2026, 11, 25),
                    status="decided",
                    decision="correct",
                    intent=label,
                    claimed_by="lin",
                    claimed_at=datetime(2026, 11, 25),
                    decided_by="lin",
                    decided_at=datetime(2026, 11, 25),
                )  # fmt: skip
            )
    out = tmp_path / "reviewed.yml"
    outcome = export.export(path=out)
    assert outcome.added == [] and export.read_entries(out) == []
    assert outcome.refused == [
        (trained, "already trained"),
        (held, "held-out sentence (tests/nlu_holdout.yml)"),
    ]


# --- the report's figures ---------------------------------------------------------------------------


def test_the_report_counts_misses_per_day_and_reason_and_the_reviewed(tracker_url: str) -> None:
    from analytics.review import review_figures

    service = store.database_url()
    store.engine()  # migrated
    labels.decide(by_text(find_misses(tracker_url))["钱扣了没到"], "lin", "accept")
    figures = review_figures(tracker_url, service)
    assert figures["total"] == figures["texts"] == 6
    assert figures["by_day"] == {
        "2026-11-25": {
            "fallback": 1, "out_of_scope": 1, "low_confidence": 2, "unsolved": 0, "human": 1, "rephrased": 1,
            "agent": 0, "total": 6,
        }
    }  # fmt: skip
    assert (figures["reviewed"], figures["pending"], figures["by_decision"]["accept"]) == (1, 5, 1)
