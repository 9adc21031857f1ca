"""Pinyin features, so that "kefu", "kf" and the typos 客付/刻服 look like 客服 to the classifier.

Users of a Chinese customer-service bot often type pinyin ("kefu dianhua duoshao", "kefudianhua"), pinyin
initials ("kf", "zh" for 账号, "cz" for 充值) or accept the input method's wrong candidate (客付, 刻服, 抖因,
电化). Character and word counts see unrelated strings; the toneless pinyin is the same. This featurizer
reads each text as toneless pinyin syllables and counts syllable unigrams, syllable bigrams and bigrams of
initial letters, with a vocabulary learned in train(), next to the project's CountVectorsFeaturizers.
"""

from __future__ import annotations

import functools
import re
from typing import Any, Dict, FrozenSet, List, Optional, Type

from pypinyin import Style, lazy_pinyin
from pypinyin.contrib.tone_convert import to_normal
from pypinyin.pinyin_dict import pinyin_dict
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.nlu.constants import TOKENS_NAMES
from rasa.nlu.featurizers.sparse_featurizer.sparse_featurizer import SparseFeaturizer
from rasa.nlu.tokenizers.tokenizer import Tokenizer
from rasa.shared.exceptions import FileIOException, InvalidConfigException
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from rasa.shared.utils.io import dump_obj_as_json_to_file, read_json_file
from sklearn.feature_extraction.text import CountVectorizer

# Runs of Chinese characters (CJK Extension A and the unified block) or of Latin letters; the rest is dropped.
RUNS = re.compile(r"[\u3400-\u9fff]+|[A-Za-z]+")
LONGEST_SYLLABLE = 6  # zhuang, chuang, shuang
# A Latin run that is no pinyin is read as initials ("kf", "zh", "xl") only when it is this short and has
# no vowel: longer or voweled runs are English ("please", "the"), which the word counts already cover.
MAX_INITIALS = 4
# Rasa's prefix for button payloads such as "/request_human": they are not language.
INTENT_PREFIX = "/"


@functools.lru_cache(maxsize=None)
def syllables() -> FrozenSet[str]:
    """Every toneless syllable in pypinyin's dictionary (about 420), from its toned readings.

    Interjections without a vowel (m, n, ng, hm, hng) are left out: as Latin input they are initials.
    """
    readings = {reading for value in set(pinyin_dict.values()) for reading in value.split(",")}
    return frozenset(s for s in map(to_normal, readings) if re.fullmatch(r"[a-z]*[aeiouv][a-z]*", s))


def segment(word: str) -> Optional[List[str]]:
    """Splits a lowercase Latin run into the fewest valid syllables, or None when it is no pinyin.

    Fewest pieces is what people mean: "kefudianhua" is ke fu dian hua, not ke fu di an hua.
    """
    inventory = syllables()
    # fewest[end]: fewest syllables that spell word[:end], and where the last one starts (linear time).
    fewest: List[Optional[int]] = [0] + [None] * len(word)
    starts = [0] * (len(word) + 1)
    for end in range(1, len(word) + 1):
        for start in range(max(0, end - LONGEST_SYLLABLE), end):
            count = fewest[start]
            if count is not None and word[start:end] in inventory:
                if fewest[end] is None or count + 1 < fewest[end]:
                    fewest[end], starts[end] = count + 1, start
    if fewest[-1] is None:
        return None
    pieces, end = [], len(word)
    while end:
        pieces.append(word[starts[end] : end])
        end = starts[end]
    return pieces[::-1]


def to_pinyin(text: str) -> List[str]:
    """Reads a text as toneless pinyin: syllables, and bare letters for initials ("kf" -> k, f).

    Characters go through pypinyin (with its phrase dictionary for polyphones); Latin runs are segmented;
    anything else (digits, punctuation, emoji) is skipped.
    """
    units: List[str] = []
    for run in RUNS.findall(text):
        if not run.isascii():
            units.extend(lazy_pinyin(run, style=Style.NORMAL))
            continue
        word = run.lower()
        pieces = segment(word)
        if pieces is not None:
            units.extend(pieces)
        elif len(word) <= MAX_INITIALS and not re.search("[aeiou]", word):
            units.extend(word)
    return units


def pinyin_features(text: str) -> List[str]:
    """The analyzer: syllables (s:), syllable bigrams (b:) and bigrams of initial letters (i:)."""
    units = to_pinyin(text)
    inventory = syllables()
    features = [f"s:{unit}" for unit in units if unit in inventory]
    for left, right in zip(units, units[1:]):
        if left in inventory and right in inventory:
            features.append(f"b:{left}_{right}")
        features.append(f"i:{left[0]}{right[0]}")
    return features


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=True)
class PinyinFeaturizer(SparseFeaturizer, GraphComponent):
    """Sparse sentence features (and one row per token as sequence features) from `pinyin_features`.

    Features are added to every message that has tokens, as the CountVectorsFeaturizers do, even when all
    are zero ("/payload", emoji): classifiers stack each featurizer's columns, so a message without them
    would have a different width and fail at prediction time.
    """

    VOCABULARY_FILE = "pinyin_vocabulary.json"

    @classmethod
    def required_components(cls) -> List[Type]:
        return [Tokenizer]

    @staticmethod
    def required_packages() -> List[str]:
        return ["pypinyin", "sklearn"]

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        # Only the start of a text is read: intents show early, and a pasted 10,000-character text
        # must not cost seconds.
        return {**SparseFeaturizer.get_default_config(), "max_chars": 500}

    @classmethod
    def validate_config(cls, config: Dict[str, Any]) -> None:
        if not isinstance(config.get("max_chars"), int) or config["max_chars"] < 1:
            raise InvalidConfigException(f"{cls.__name__}: max_chars must be a positive integer.")

    def __init__(
        self,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        vocabulary: Optional[Dict[str, int]] = None,
    ) -> None:
        super().__init__(execution_context.node_name, config)
        self._model_storage = model_storage
        self._resource = resource
        self._max_chars: int = config["max_chars"]
        syllables()  # built here, when the model loads, rather than on the first user's message
        self._vectorizer: Optional[CountVectorizer] = (
            CountVectorizer(analyzer=pinyin_features, vocabulary=vocabulary) if vocabulary else None
        )

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> PinyinFeaturizer:
        return cls(config, model_storage, resource, execution_context)

    def _readable(self, text: Optional[str]) -> str:
        """The part of a text that is featurized: nothing for button payloads, the start of long texts."""
        return "" if not text or text.startswith(INTENT_PREFIX) else text[: self._max_chars]

    def train(self, training_data: TrainingData) -> Resource:
        texts = [self._readable(example.get(TEXT)) for example in training_data.training_examples]
        try:
            self._vectorizer = CountVectorizer(analyzer=pinyin_features).fit(texts)
        except ValueError:  # no pinyin anywhere in the data: the featurizer adds nothing
            self._vectorizer = None
        self.persist()
        return self._resource

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            tokens = message.get(TOKENS_NAMES[TEXT])
            if self._vectorizer is None or not tokens:
                continue
            text = self._readable(message.get(TEXT))
            per_token = [
                token.text[: len(text) - token.start] if token.start < len(text) else "" for token in tokens
            ]
            sequence = self._vectorizer.transform(per_token).tocoo()
            sentence = self._vectorizer.transform([text]).tocoo()
            self.add_features_to_message(sequence, sentence, TEXT, message)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        self.process(training_data.training_examples)
        return training_data

    def persist(self) -> None:
        """Stores the vocabulary as JSON, like Rasa's CountVectorsFeaturizer (no pickles in the model)."""
        if self._vectorizer is None:
            return
        vocabulary = {feature: int(index) for feature, index in self._vectorizer.vocabulary_.items()}
        with self._model_storage.write_to(self._resource) as directory:
            dump_obj_as_json_to_file(directory / self.VOCABULARY_FILE, vocabulary)

    @classmethod
    def load(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> PinyinFeaturizer:
        try:
            with model_storage.read_from(resource) as directory:
                vocabulary = read_json_file(directory / cls.VOCABULARY_FILE)
        except (ValueError, FileIOException):  # trained on data without pinyin: nothing was stored
            vocabulary = None
        return cls(config, model_storage, resource, execution_context, vocabulary)
