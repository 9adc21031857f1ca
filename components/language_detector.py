"""Which language a message is written in: English, or Chinese (characters, pinyin or mixed).

A measured rule rather than a statistical library: the users write Chinese characters, toneless pinyin
("kefu dianhua duoshao"), pinyin initials (kf, dy), English, or mixtures; a general language detector
takes pinyin for Vietnamese or English. The rule (figures in README, "The user's language"):

- any Chinese character → Chinese (mixed Chinese stays Chinese);
- otherwise the Latin words decide: English words (a small vocabulary of common and customer-service
  words) against words that are only pinyin; English wins a tie;
- nothing to go on (digits, emoji, "ok", a button payload) → None: the conversation keeps its language.

The component puts the result in an entity `language`, which fills the slot of the same name, so a
button press or an "ok" does not change the conversation's language.
"""

from __future__ import annotations

import re
from typing import Any, Dict, List, Optional

from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import ENTITIES, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData

ENGLISH, CHINESE = "en", "zh"
LANGUAGE_ENTITY = "language"

CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
LATIN_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
ADDRESS = re.compile(r"\S+@\S+|https?://\S+|www\.\S+", re.IGNORECASE)

# Toneless pinyin syllables: an optional initial and a final (a few impossible pairs are accepted,
# which is harmless here).
_INITIALS = "zh|ch|sh|b|p|m|f|d|t|n|l|g|k|h|j|q|x|r|z|c|s|y|w"
_FINALS = (
    "iang|iong|uang|ueng|ang|eng|ing|ong|ian|iao|uai|uan|van|ai|ei|ao|ou|an|en|er|ia|ie|in|iu|"
    "ua|uo|ue|ui|un|ve|vn|a|o|e|i|u|v"
)
PINYIN_WORD = re.compile(rf"(?:(?:{_INITIALS})?(?:{_FINALS}))+")
# Pinyin initials users type for whole words: kf 客服, dy 抖音, zh 账号, cz 充值, tk 退款 …
PINYIN_ABBREVIATIONS = {"kf", "dy", "zh", "cz", "tk", "xl", "fh", "jf", "rg", "sj", "dh", "yx", "gw", "wx"}
# Words that say nothing about the language on their own.
NEUTRAL_WORDS = {"ok", "okay", "vip", "app", "id", "tiktok", "douyin", "www", "com", "http", "https", "dy"}

# Common English words, and the words of customer-service questions. Many are also valid pinyin
# ("you", "long", "man", "change"), which is why English is recognised by vocabulary, not by shape.
ENGLISH_WORDS = set(
    """
    a about account after again all am an and any anyone appeal are as ask at available back ban banned
    be been bug business but by call can cannot can't center centre change channel charge charged chat
    china chinese coins company complain complaint contact copyright cost could creator customer day
    delete did do does doesn't don't down email english error even for free from get give go got hacked
    has have hello help here hey hi hotline hours how human i i'm if in interview is it it's its just
    know last like line live long mail me media minor money my need no not now number of off on one
    open or other out password pay person phone please problem real refund report reset say service
    should shut some someone still stolen support suspended team thank thanks that the their them there
    they this time to today tomorrow up us use user video videos views want was way we website what
    what's when where which who why will with work working would wrong yes yesterday you your
    agent agents appointment book booking documents prepare requirements process office located
    address where's reach weekend night morning evening quickly fast slow wait waiting queue reply
    response respond still tell talk speak anybody nobody rate rating good bad great hate love
    anyone's legit official fraud scam ticket status check case close closed friday sunday monday
    """.split()
)


def detect_language(text: Optional[str]) -> Optional[str]:
    """'en', 'zh', or None when the message gives nothing to decide on."""
    if not text or text.startswith("/"):
        return None
    sample = ADDRESS.sub(" ", text[:500])  # "me@example.org" is a contact, not English
    if CJK.search(sample):
        return CHINESE
    words = [w for w in LATIN_WORD.findall(sample.lower()) if w not in NEUTRAL_WORDS]
    if not words:
        return None
    english = sum(1 for w in words if w in ENGLISH_WORDS)
    pinyin = sum(
        1 for w in words if w not in ENGLISH_WORDS and (w in PINYIN_ABBREVIATIONS or PINYIN_WORD.fullmatch(w))
    )
    if english == 0 and pinyin == 0:
        return None  # letters that are neither ("asdkjh"): nothing to go on
    return ENGLISH if english >= pinyin else CHINESE


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.MESSAGE_FEATURIZER], is_trainable=False)
class LanguageDetector(GraphComponent):
    """Adds the entity `language` (en/zh) to each message whose language can be told."""

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> LanguageDetector:
        return cls()

    def process_training_data(self, training_data: TrainingData) -> TrainingData:
        """Nothing to learn, and nothing added: the training data stays as written."""
        return training_data

    def process(self, messages: List[Message]) -> List[Message]:
        for message in messages:
            text = message.get(TEXT)
            language = detect_language(text)
            if language:
                entity = {
                    "entity": LANGUAGE_ENTITY,
                    "value": language,
                    "start": 0,
                    "end": len(text),
                    "confidence": 1.0,
                    "extractor": self.__class__.__name__,
                }
                message.set(ENTITIES, [*message.get(ENTITIES, []), entity], add_to_output=True)
        return messages
