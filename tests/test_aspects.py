"""Reading what a question asks: the learned aspect (entity `aspect`) with the word lists."""

from __future__ import annotations

import pytest

from core.aspects import LearnedAspect, combine, learned_aspect, read_question


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
