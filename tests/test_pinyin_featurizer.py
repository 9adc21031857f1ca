"""The pinyin featurizer, as the pipeline runs it: real tokenizer, real training and a real model archive."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Dict, List

import numpy as np
import pytest
from rasa.engine.graph import ExecutionContext, GraphModelConfiguration, GraphSchema
from rasa.engine.storage.local_model_storage import LocalModelStorage
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.tokenizers.jieba_tokenizer import JiebaTokenizer
from rasa.shared.core.domain import Domain
from rasa.shared.data import TrainingType
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

from components.pinyin_featurizer import PinyinFeaturizer, pinyin_features, segment, to_pinyin

TRAINING = {
    "客服电话多少": "phone_hotline",
    "我要找人工客服": "request_human",
    "我的账号被盗了": "account_stolen",
    "充值一直没到账": "recharge_refund",
    "抖音的官方邮箱是什么": "email_contact",
}
CONTEXT = ExecutionContext(graph_schema=GraphSchema({}), node_name="pinyin_featurizer")
RESOURCE = Resource("pinyin_featurizer")


def tokenized(texts: List[str]) -> List[Message]:
    tokenizer = JiebaTokenizer.create(JiebaTokenizer.get_default_config(), None, RESOURCE, CONTEXT)
    return tokenizer.process([Message(data={TEXT: text}) for text in texts])


def train(storage: ModelStorage, texts: Dict[str, str] = TRAINING) -> PinyinFeaturizer:
    messages = tokenized(list(texts))
    for message in messages:
        message.set("intent", texts[message.get(TEXT)])
    data = TrainingData(messages)
    featurizer = PinyinFeaturizer.create(PinyinFeaturizer.get_default_config(), storage, RESOURCE, CONTEXT)
    featurizer.train(data)
    featurizer.process_training_data(data)
    return featurizer


def sentence(featurizer: PinyinFeaturizer, text: str) -> np.ndarray:
    (message,) = featurizer.process(tokenized([text]))
    return message.get_sparse_features(TEXT)[1].features.toarray()[0]


def new_storage(directory: Path) -> LocalModelStorage:
    directory.mkdir()
    return LocalModelStorage.create(directory)


@pytest.fixture
def featurizer(tmp_path: Path) -> PinyinFeaturizer:
    return train(new_storage(tmp_path / "storage"))


@pytest.mark.parametrize(
    "word, syllables",
    [
        ("kefudianhua", ["ke", "fu", "dian", "hua"]),
        ("zhanghao", ["zhang", "hao"]),
        ("chongzhi", ["chong", "zhi"]),
        ("daozhang", ["dao", "zhang"]),
        ("please", None),
        ("kf", None),
    ],
)
def test_segment_splits_latin_into_fewest_syllables(word, syllables):
    assert segment(word) == syllables


def test_text_reads_as_pinyin_with_initials_for_abbreviations():
    assert to_pinyin("kefu dianhua duoshao") == ["ke", "fu", "dian", "hua", "duo", "shao"]
    assert to_pinyin("客服电话多少") == ["ke", "fu", "dian", "hua", "duo", "shao"]
    assert to_pinyin("kf电话") == ["k", "f", "dian", "hua"]
    assert to_pinyin("zh cz") == ["z", "h", "c", "z"]
    # English is left to the word counts; emoji, digits and punctuation are no pinyin.
    assert to_pinyin("please help 😀 123！") == []


@pytest.mark.parametrize("pair", [("客付", "客服"), ("刻服", "客服"), ("抖因", "抖音"), ("电化", "电话")])
def test_homophone_typos_have_the_same_features(pair):
    assert pinyin_features(pair[0]) == pinyin_features(pair[1])


def test_pinyin_typos_and_initials_share_features_with_characters(featurizer):
    right = sentence(featurizer, "客服")
    assert right.any()
    for variant in ["客付", "刻服", "kefu"]:
        assert np.array_equal(sentence(featurizer, variant), right), variant
    assert sentence(featurizer, "kf") @ right > 0
    assert sentence(featurizer, "kf dianhua duoshao") @ sentence(featurizer, "客服电话多少") > 0
    assert sentence(featurizer, "zhanghao bei dao le") @ sentence(featurizer, "我的账号被盗了") > 0


def test_features_survive_a_model_archive(tmp_path):
    storage = new_storage(tmp_path / "storage")
    trained = train(storage)
    configuration = GraphModelConfiguration(
        GraphSchema({}), GraphSchema({}), TrainingType.NLU, "test", "zh", None, None
    )
    archive = tmp_path / "model.tar.gz"
    storage.create_model_package(archive, configuration, Domain.empty())
    (tmp_path / "unpacked").mkdir()
    unpacked, _ = LocalModelStorage.from_model_archive(tmp_path / "unpacked", archive)
    config = PinyinFeaturizer.get_default_config()
    loaded = PinyinFeaturizer.load(config, unpacked, RESOURCE, CONTEXT)
    for text in ["kefu dianhua duoshao", "客付电化", "cz没到账", "我的账号被盗了"]:
        assert np.array_equal(sentence(loaded, text), sentence(trained, text)), text


@pytest.mark.parametrize("text", ["/request_human", "😀😀😀", "hello there", "？？？"])
def test_payloads_and_non_pinyin_get_zero_features_of_the_right_shape(featurizer, text):
    """Zeros, not missing features: the classifier stacks every featurizer's columns."""
    (message,) = featurizer.process(tokenized([text]))
    sequence, sentence_features = message.get_sparse_features(TEXT)
    width = len(featurizer._vectorizer.vocabulary_)
    assert sentence_features.features.shape == (1, width)
    assert sequence.features.shape == (len(message.get("text_tokens")), width)
    assert sentence_features.features.nnz == 0


def test_empty_text_adds_nothing(featurizer):
    (message,) = featurizer.process([Message(data={TEXT: ""})])
    assert message.features == []


def test_long_text_is_fast_and_read_from_its_start(featurizer):
    text = "客服电话多少" + "啊" * 10_000 + "kefu" * 2_000
    started = time.monotonic()
    (message,) = featurizer.process(tokenized([text]))
    assert time.monotonic() - started < 2
    assert message.get_sparse_features(TEXT)[1].features.toarray()[0] @ sentence(featurizer, "客服") > 0


def test_data_without_pinyin_trains_and_loads_to_a_featurizer_that_adds_nothing(tmp_path):
    storage = new_storage(tmp_path / "storage")
    trained = train(storage, {"hello": "greet", "123": "greet"})
    loaded = PinyinFeaturizer.load(PinyinFeaturizer.get_default_config(), storage, RESOURCE, CONTEXT)
    for component in (trained, loaded):
        (message,) = component.process(tokenized(["客服"]))
        assert message.features == []
