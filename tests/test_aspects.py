"""Reading what a question asks: the learned aspect (entity `aspect`) with the word lists."""

from __future__ import annotations

import pytest

from core.aspects import (
    LearnedAspect,
    asked_part,
    clause_readings,
    clauses,
    combine,
    learned_aspect,
    read_question,
)


def sure(name: str) -> LearnedAspect:
    return LearnedAspect(name, 0.9)


def test_the_entity_gives_the_aspect_its_confidence_and_ranking() -> None:
    entity = {
        "entity": "aspect",
        "value": "response",
        "confidence_entity": 0.8,
        "additional_info": {
            "ranking": [{"name": "response", "confidence": 0.8}, {"name": "none", "confidence": 0.1}]
        },
    }
    found = learned_aspect([{"entity": "language", "value": "zh"}, entity])
    assert found == LearnedAspect("response", 0.8, (("response", 0.8), ("none", 0.1)))
    assert learned_aspect([]) is None
    assert learned_aspect([{"entity": "aspect", "value": "cost"}]).confidence == 1.0  # a button's payload


@pytest.mark.parametrize(
    "words, learned, expected",
    [
        ((), sure("response"), ("response",)),  # what the word lists miss ("要经过哪些环节")
        (("contact",), sure("none"), ()),  # "限流是什么现象": no aspect, the overview
        (("cost",), sure("contact"), ("cost",)),  # a specific word beats the catch-all "contact"
        (("booking",), sure("none"), ("booking",)),
        (("cost", "hours"), sure("hours"), ("hours", "cost")),  # a sure specific aspect first
        (("location",), LearnedAspect("cost", 0.3), ("location",)),  # unsure: the word lists
        ((), LearnedAspect("cost", 0.3), ()),  # unsure and no words: the overview, not a guess
        (("hours",), None, ("hours",)),  # no classifier in the model
    ],
)
def test_combined_reading(words, learned, expected) -> None:
    assert combine(words, learned, "combined") == expected


def test_the_other_readings_are_the_learned_aspect_or_the_words_alone() -> None:
    assert combine(("cost",), sure("contact"), "learned") == ("contact",)
    assert combine(("cost",), sure("none"), "learned") == ()
    assert combine(("cost",), sure("contact"), "words") == ("cost",)


def test_a_channel_of_another_kind_than_asked_names_no_channel() -> None:
    question = read_question("人工客服电话是多少", sure("contact"))
    assert question.channels == () and question.kinds == ("phone",)
    assert read_question("港澳台专线电话", sure("contact")).channels == ("hmt_line",)


def test_a_buttons_payload_carries_its_aspect() -> None:
    assert read_question('/account_ban{"aspect": "response"}', sure("response")).aspects == ("response",)
    assert read_question("/account_ban", None).aspects == ()


def test_a_story_before_the_question_does_not_say_what_is_asked() -> None:
    # "晚上" tells the story (hours), "这种找谁" asks: where to go.
    story = read_question("昨天晚上充的钱一直没到，等了一整晚了，这种找谁", sure("contact"))
    assert story.aspects == ("contact",)
    # The e-mail that went unanswered is the story; the question asks where to complain.
    complaint = read_question("发邮件也没人理，客服太差了，哪里能投诉", None)
    assert complaint.kinds == () and "email" not in complaint.kinds
    assert asked_part("退款之后多久到账") == "退款之后多久到账"  # one clause: all of it


def test_a_channel_named_in_the_story_is_told_not_asked() -> None:
    question = read_question("给商业合作邮箱发过邮件了，要附带哪些材料", sure("prepare"))
    assert question.channels == () and question.told == ("partner_email",)
    asked = read_question("商业合作邮箱要附带哪些材料", sure("prepare"))
    assert asked.channels == ("partner_email",) and asked.told == ()


def test_the_way_the_user_already_knows_is_not_the_kind_asked() -> None:
    assert read_question("除了打电话还能发邮件吗", None).kinds == ("email",)
    assert read_question("besides the app, is there a phone number?", None).kinds == ("phone",)


def test_a_channel_whose_name_is_of_the_kind_asked_stays_named() -> None:
    assert read_question("未成年人保护专线电话是多少", sure("contact")).channels == ("minors_line",)
    assert read_question("人工客服电话是多少", sure("contact")).channels == ()


def test_each_question_of_a_message_is_read_alone() -> None:
    first, second = clause_readings("VIP通道什么时候有人接？打过去要等多久")
    assert "hours" in first.aspects and second.aspects == ("response",)
    assert clause_readings("客服电话是多少") == []  # one question
    assert clause_readings("My company wants to partner with you. What do we send, and to which email?")
    assert [c for c in clauses("where is it. and when?")] == ["where is it", "and when?"]
