"""Normalizes what users type before the pipeline tokenizes it.

Users write traditional characters, full-width letters and punctuation, and stray spaces. Folding those
into one form here keeps the training data small instead of repeating every example in every script.
Every change maps one character to one character, so entity offsets stay valid.
"""

from __future__ import annotations

import unicodedata
from typing import Any, Dict, List, Optional

import zhconv
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

# Variants zhconv leaves that users and the training data write the common way (帳號 -> 账号).
COMMON_VARIANTS = str.maketrans({"帐": "账"})
# Rasa's own prefix for messages like "/request_human" (buttons): those must reach Rasa untouched.
INTENT_PREFIX = "/"


def _fold_char(char: str) -> str:
    """Full-width ASCII to half-width, traditional to simplified, one character at a time."""
    if unicodedata.east_asian_width(char) == "F":
        folded = unicodedata.normalize("NFKC", char)
        if len(folded) == 1:
            return folded
    if char == "\u3000":  # ideographic space
        return " "
    simplified = zhconv.convert(char, "zh-cn")
    return simplified if len(simplified) == 1 else char


def normalize_text(text: str) -> str:
    """Returns `text` in simplified characters with half-width letters, digits and punctuation.

    Whole-phrase conversion is used where it keeps the length (it resolves a few characters better in
    context); otherwise the text is folded character by character. Control characters become spaces.
    """
    if not text or text.startswith(INTENT_PREFIX):
        return text
    folded = "".join(" " if unicodedata.category(c) == "Cc" else _fold_char(c) for c in text)
    phrase = zhconv.convert(folded, "zh-cn")
    return (phrase if len(phrase) == len(folded) else folded).translate(COMMON_VARIANTS)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class ChineseTextNormalizer(GraphComponent):
    """Rewrites each message's text with `normalize_text`, in training and at prediction time."""

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> ChineseTextNormalizer:
        return cls()

    @staticmethod
    def _normalize(message: Message) -> None:
        text: Optional[str] = message.get(TEXT)
        if text:
            message.set(TEXT, normalize_text(text))

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            self._normalize(message)
        return messages

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        for example in training_data.training_examples:
            self._normalize(example)
        return training_data
