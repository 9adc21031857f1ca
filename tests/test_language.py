"""The language rule (components/language_detector.py) on held-out messages it was not written from:
the English, pinyin and Chinese questions of tests/data/answer_holdout.yml and tests/nlu_holdout.yml."""

from __future__ import annotations

import re

import pytest
import yaml

from components.language_detector import detect_language
from tests.conftest import ROOT
from tests.test_nlu import HOLDOUT, examples

ANSWERS = ROOT / "tests" / "data" / "answer_holdout.yml"
LATIN_ONLY = re.compile(r"^[^\u3400-\u9fff]*$")


def labelled_messages():
    """(text, expected language) for every held-out message that has letters or characters."""
    pairs = []
    for case in yaml.safe_load(ANSWERS.read_text("utf-8"))["cases"]:
        expected = "en" if case["style"] == "english" else "zh"
        pairs += [(turn, expected) for turn in case["turns"] if case["style"] != "followup"]
    for _, text in examples(HOLDOUT):
        # The NLU set marks no language: Latin-only lines are English unless they read as pinyin,
        # which test_pinyin_and_initials_stay_chinese covers; here only Chinese-character lines count.
        if not LATIN_ONLY.match(text):
            pairs.append((text, "zh"))
    return pairs


def test_the_rule_tells_english_from_chinese_and_pinyin_on_held_out_messages() -> None:
    pairs = labelled_messages()
    wrong = [(text, expected) for text, expected in pairs if detect_language(text) != expected]
    assert len(pairs) > 400
    assert len(wrong) / len(pairs) <= 0.02, wrong


@pytest.mark.parametrize(
    "text", ["kefu dianhua duoshao", "zhanghao bei dao le", "chongzhi mei daozhang", "dy kf电话", "kf"]
)
def test_pinyin_and_initials_stay_chinese(text) -> None:
    assert detect_language(text) == "zh"


@pytest.mark.parametrize("text", ["What's your customer service phone number?", "Someone stole my account!!"])
def test_english_is_english(text) -> None:
    assert detect_language(text) == "en"


@pytest.mark.parametrize(
    "text", ["ok", "5", "/affirm_solved", "👍", "", "VIP", "tiktok", "me@example.org", "www.douyin.com"]
)
def test_messages_without_language_keep_the_conversations(text) -> None:
    assert detect_language(text) is None
