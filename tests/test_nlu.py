"""NLU triage on the held-out file, with the real trained model."""

from __future__ import annotations

import asyncio
import glob
import re
from typing import Dict, List, Tuple

import pytest
import yaml

from tests.bot import MODEL
from tests.conftest import ROOT

HOLDOUT = ROOT / "tests" / "nlu_holdout.yml"
MIN_ACCURACY = 0.95


def examples(path) -> List[Tuple[str, str]]:
    items = yaml.safe_load(path.read_text("utf-8"))["nlu"]
    return [
        (item["intent"], line.strip()[2:].strip())
        for item in items
        if "intent" in item
        for line in item["examples"].splitlines()
        if line.strip()
    ]


def training_examples() -> List[Tuple[str, str]]:
    files = [ROOT / "data" / "nlu.yml", *map(type(ROOT), glob.glob(str(ROOT / "data" / "nlu" / "*.yml")))]
    return [pair for path in files for pair in examples(path)]


def comparable(text: str) -> str:
    return re.sub(r"[\s,.!?;:，。！？；：、~]+", "", text.lower())


# Which intents the held-out file and the training data cover, and that they share no sentence:
# tests/test_topic_consistency.py.


@pytest.fixture(scope="module")
def parse():
    from rasa.core.agent import Agent

    agent = Agent.load(str(MODEL))

    def parse_text(text: str) -> Dict:
        return asyncio.run(agent.parse_message(text))

    return parse_text


def top_intent(result: Dict) -> str:
    """The best intent other than the fallback, as `rasa test nlu` scores it."""
    ranking = [r["name"] for r in result["intent_ranking"] if r["name"] != "nlu_fallback"]
    return ranking[0]


def test_holdout_intent_accuracy(parse) -> None:
    cases = examples(HOLDOUT)
    errors = [(intent, text, top_intent(parse(text))) for intent, text in cases]
    errors = [e for e in errors if e[0] != e[2]]
    accuracy = 1 - len(errors) / len(cases)
    report = "\n".join(f"{want} -> {got}: {text}" for want, text, got in errors)
    assert accuracy >= MIN_ACCURACY, f"accuracy {accuracy:.3f}\n{report}"


@pytest.mark.parametrize(
    "text, entity, value",
    [
        ("我在香港怎么联系客服", "region", "香港"),
        ("HK用户有专线吗", "region", "香港"),
        ("蓉城有线下中心吗", "city", "成都"),
        ("帝都的网点在哪", "city", "北京"),
        ("查询工单 DY20261125-000123", "ticket_id", "DY20261125-000123"),
        ("我人在國外", "region", "海外"),
    ],
)
def test_entities_from_the_spacy_rules(parse, text, entity, value) -> None:
    found = {(e["entity"], e["value"]) for e in parse(text)["entities"]}
    assert (entity, value) in found


def test_reviewed_examples_are_read_as_labelled(parse) -> None:
    """data/nlu/reviewed.yml (the review loop, review/): the trained model reads every reviewed message
    as its supervisor labelled it: the intent, not a fallback, and the aspect where the model reads one."""
    from review import check, datasets, export

    readings = check.read_all(export.read_entries(datasets.REVIEWED), parse)
    wrong = [found for found in readings if not found.right]
    assert not wrong, "read wrongly (make review-check):\n" + check.table(wrong)


def test_traditional_and_full_width_text_is_understood(parse) -> None:
    assert top_intent(parse("ＫＦ電話號碼係幾多")) == top_intent(parse("kf电话号码是多少"))


@pytest.mark.parametrize(
    "text, aspect",
    [("客服热线几点能打通", "hours"), ("打客服电话扣话费吗", "cost"), ("抖音限流是什么现象", "none")],
)
def test_the_model_puts_the_aspect_asked_on_the_message(parse, text, aspect) -> None:
    found = [e for e in parse(text)["entities"] if e["entity"] == "aspect"]
    assert [e["value"] for e in found] == [aspect]
    ranking = found[0]["additional_info"]["ranking"]
    assert ranking[0] == {"name": aspect, "confidence": found[0]["confidence_entity"]}


def test_a_buttons_aspect_comes_from_its_payload(parse) -> None:
    entities = parse('/account_ban{"aspect": "response"}')["entities"]
    assert [(e["entity"], e["value"]) for e in entities] == [("aspect", "response")]
