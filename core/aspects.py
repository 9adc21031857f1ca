"""Reads WHAT a question asks (its aspects) and WHICH channels it names. The aspect is learned: the NLU
pipeline's AspectClassifier (components/aspect_classifier.py) puts it on the message as the entity
`aspect` with its confidence; the word lists of knowledge/lexicon.yml break its ties and name the
channels (with the channels' aliases). The topic (the case) comes from the NLU intent; this is the other
half of "answer = case × aspect"."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Dict, List, Optional, Pattern, Tuple

from core import knowledge

DIGITS = re.compile(r"\d+")
# Aspects only places have: with one, a place's name alone names it ("上海的怎么预约").
PLACE_FIELDS = {"location", "booking"}
ASPECT_ENTITY = "aspect"
NO_ASPECT = "none"  # the classifier's label for a message that asks no aspect (the case's overview)
# The labels the classifier falls back on when unsure what is asked; a specific word list hit beats them.
CATCH_ALL = ("contact", NO_ASPECT)
# Aspects whose words ask more than one thing: "在哪" is a place's location or an entry's contact
# ("长辈模式在哪里打开"); the classifier, which reads the whole question, decides between them.
AMBIGUOUS_WORDS = ("location",)
# Below this confidence the learned aspect is a guess, left to the word lists (README, "Precise answers").
SURE_ASPECT = 0.5
# Where the aspect comes from: "combined" (the learned aspect, the word lists for its ties), "learned"
# or "words" (the word lists alone, as before the classifier); the other two are for measurement.
READING_VARIABLE = "CS_ASPECT_READING"
READINGS = ("combined", "learned", "words")


@dataclass(frozen=True)
class LearnedAspect:
    name: str  # an aspect of lexicon.yml, or NO_ASPECT
    confidence: float
    ranking: Tuple[Tuple[str, float], ...] = ()  # (aspect, confidence), best first

    @property
    def sure(self) -> bool:
        return self.confidence >= SURE_ASPECT


def learned_aspect(entities: Optional[List[Dict[str, Any]]]) -> Optional[LearnedAspect]:
    """The entity `aspect` of a parsed message: the classifier's, or a button's (which is sure)."""
    for entity in entities or []:
        if entity.get("entity") != ASPECT_ENTITY or not entity.get("value"):
            continue
        confidence = entity.get("confidence_entity")
        ranking = (entity.get("additional_info") or {}).get("ranking") or []
        return LearnedAspect(
            name=str(entity["value"]),
            confidence=1.0 if confidence is None else float(confidence),
            ranking=tuple((str(r["name"]), float(r["confidence"])) for r in ranking),
        )
    return None


def reading() -> str:
    value = os.environ.get(READING_VARIABLE, "combined")
    return value if value in READINGS else "combined"


@dataclass(frozen=True)
class Question:
    aspects: Tuple[str, ...] = ()  # aspect names, strongest first (lexicon order)
    kinds: Tuple[str, ...] = ()  # channel kinds named ("邮箱" -> email)
    channels: Tuple[str, ...] = ()  # channel ids named ("商务邮箱" -> partner_email)
    # The classifier is sure no aspect is asked ("智能客服就是个摆设"): a channel named is not a question
    # about that channel, so a case's first message gets the case's overview.
    no_aspect: bool = False
    # Channels named only in the story around the question ("给商业合作邮箱发邮件，要附带哪些材料",
    # "人工客服挂我电话，哪里能投诉他"): the channel asked when it is one of the case's.
    told: Tuple[str, ...] = ()

    @property
    def is_empty(self) -> bool:
        return not (self.aspects or self.kinds or self.channels)


def _word_pattern(word: str) -> str:
    """Latin words match on word boundaries ("free" not in "freeze"); Chinese words anywhere."""
    escaped = re.escape(word.lower())
    return rf"(?<![a-z]){escaped}(?![a-z])" if re.search("[a-z]", word.lower()) else escaped


def _alternation(words: List[str]) -> Pattern:
    ordered = sorted({str(w) for w in words}, key=len, reverse=True)  # longest first
    return re.compile("|".join(_word_pattern(w) for w in ordered))


@lru_cache(maxsize=None)
def _aspect_patterns() -> Tuple[Tuple[str, Pattern], ...]:
    return tuple((name, _alternation(spec["words"])) for name, spec in knowledge.lexicon()["aspects"].items())


@lru_cache(maxsize=None)
def _kind_patterns() -> Tuple[Tuple[str, Pattern], ...]:
    return tuple((name, _alternation(spec["words"])) for name, spec in knowledge.lexicon()["kinds"].items())


@lru_cache(maxsize=None)
def _aliases() -> Tuple[Tuple[Pattern, str], ...]:
    """(pattern, channel id) for every alias, longest alias first, so "人工电话" beats "人工"."""
    pairs = [
        (str(alias), cid) for cid, info in knowledge.channels().items() for alias in info.get("aliases", [])
    ]
    pairs.sort(key=lambda pair: len(pair[0]), reverse=True)
    return tuple((re.compile(_word_pattern(alias)), cid) for alias, cid in pairs)


@lru_cache(maxsize=None)
def _purposes() -> Tuple[Tuple[str, str, Pattern], ...]:
    """(channel id, kind, pattern of its purpose words), in the order of channels.yml."""
    return tuple(
        (cid, info["kind"], _alternation(info["purpose"]))
        for cid, info in knowledge.channels().items()
        if info.get("purpose")
    )


@lru_cache(maxsize=None)
def _contact_digits() -> Dict[str, str]:
    """Channel id by the digits of its number (a user may paste "400 992 2556")."""
    return {
        "".join(DIGITS.findall(info["contact"])): cid
        for cid, info in knowledge.channels().items()
        if len("".join(DIGITS.findall(str(info["contact"])))) >= 7
    }


def _mask(text: str, start: int, end: int) -> str:
    return text[:start] + " " * (end - start) + text[end:]


def _named_as(channel_id: str, kinds: Tuple[str, ...]) -> bool:
    """The channel's name has a word of one of `kinds` ("未成年人保护专线" is a line)."""
    info = knowledge.channel(channel_id)
    names = f"{info['name']} {info.get('name_en', '')}".lower()
    return any(pattern.search(names) for name, pattern in _kind_patterns() if name in kinds)


def named_channels(text: str) -> Tuple[Tuple[str, ...], str]:
    """The channels a text names (aliases, numbers, e-mails) and the text with those words blanked."""
    found: List[str] = []
    for pattern, cid in _aliases():
        for match in pattern.finditer(text):
            text = _mask(text, *match.span())
            if cid not in found:
                found.append(cid)
    digits = "".join(DIGITS.findall(text))
    for number, cid in _contact_digits().items():
        if number in digits and cid not in found:
            found.append(cid)
    for cid, info in knowledge.channels().items():
        if "@" in str(info["contact"]) and info["contact"] in text and cid not in found:
            found.append(cid)
    return tuple(found), text


def combine(
    words: Tuple[str, ...], learned: Optional[LearnedAspect], how: Optional[str] = None
) -> Tuple[str, ...]:
    """The aspects asked, strongest first (README, "Precise answers", for the measurements):

    - a sure learned aspect first, then the word lists' others; a sure "none" means no aspect;
    - but the learned "contact" and "none" are the classifier's catch-alls: a specific aspect the word
      lists find ("要钱吗" → cost) goes before them;
    - an unsure learned aspect is left out: the word lists decide, and without them the case's overview
      is given rather than a guess.
    """
    how = how or reading()
    if how == "words" or learned is None:
        return words
    asked = () if learned.name == NO_ASPECT else (learned.name,)
    if how == "learned":
        return asked
    if not learned.sure:
        return words
    specific = tuple(a for a in words if a not in CATCH_ALL and a not in AMBIGUOUS_WORDS)
    if learned.name in CATCH_ALL and specific:
        return specific + tuple(a for a in words if a not in specific)
    return asked + tuple(a for a in words if a not in asked) if asked else ()


# Clauses: a message splits at sentence ends and commas ("等了一晚上了，这种找谁"); a question mark stays
# with its clause.
CLAUSE = re.compile(r"[^。！!；;，,\n？?]+[？?]?|[？?]")
SENTENCE_END = re.compile(r"(?<=[a-z0-9])\.\s+")
# A clause that asks something: a question mark, a question word, a request ("把电话给我"), what the answer
# may be ("电话邮箱都行") or the condition of a question ("提交之后", "if I submit …").
QUESTION_CLAUSE = re.compile(
    r"[？?吗呢么嘛]|怎|哪|谁|多少|多久|多长|多快|(?<!好)几|什么|啥|能不能|可不可以|有没有|是否|如何|行不行|要不要"
    r"|会不会|是不是|请问|想问|想知道|告诉我|给我|发我|帮我|麻烦|求助|求一个|都行|都可以|也行|均可|如果|要是|假如|之后|以后|的话"
    r"|\b(?:how|what|where|which|who|why)\b"
    r"|^(?:is|are|can|could|do|does|should|will|would|any|when|if|after|once|before)\b"
)
# "除了打电话还能发邮件吗": the way the user already knows is not the one asked for.
BESIDES = re.compile(
    r"除了[^，,。？?]*?(?:以外|之外|外|还|，|,)"
    r"|(?:besides|apart from|other than) [a-z ]+?(?=,|$| is| are| can)"
)


MAX_CLAUSES = 3  # question clauses of one message answered


def clauses(text: str) -> List[str]:
    parts = (part.strip() for part in CLAUSE.findall(SENTENCE_END.sub("\n", text)))
    return [part for part in parts if part.strip("？? ")]


def question_clauses(text: str) -> List[str]:
    """The clauses of `text` that ask something ("这种找谁" after a story)."""
    return [part for part in clauses(text) if QUESTION_CLAUSE.search(part)]


def asked_part(text: str) -> str:
    """What the message asks: its question clauses when a story comes with them (the time words of
    "等了一晚上了" or the e-mail of "发邮件也石沉大海" tell the story, not the question), else all of it."""
    asked = question_clauses(text)
    return "，".join(asked) if asked and len(asked) < len(clauses(text)) else text


def _words_and_kinds(text: str) -> Tuple[Tuple[str, ...], Tuple[str, ...], Tuple[str, ...]]:
    """The word lists' aspects, the channel kinds and the channels named in `text` (lower case)."""
    channels, rest = named_channels(text)
    words = tuple(name for name, pattern in _aspect_patterns() if pattern.search(text))
    rest = BESIDES.sub(" ", rest)
    kinds = tuple(name for name, pattern in _kind_patterns() if pattern.search(rest))
    return words, kinds, channels


def read_question(text: Optional[str], learned: Optional[LearnedAspect] = None) -> Question:
    """The aspects (the learned one with the word lists, see `combine`), channel kinds and channels
    named in what `text` asks (`asked_part`); a purpose word anywhere in it ("被盗了") names its channel."""
    lowered = (text or "").lower()[:500]
    if lowered.startswith("/"):
        # A button: its payload may carry the aspect ('/account_ban{"aspect": "response"}').
        named = learned.name if learned is not None and learned.name != NO_ASPECT else None
        return Question(aspects=(named,) if named else ())
    if not lowered:
        return Question()
    everywhere, rest = named_channels(lowered)
    words, kinds, channels = _words_and_kinds(asked_part(lowered))
    told = tuple(c for c in everywhere if c not in channels)
    aspects = combine(words, learned)
    if kinds:
        # "人工客服电话": a channel of another kind than the one asked for names the case, not the
        # channel: the case's channel of the kind asked answers (the hotline, not the in-app path).
        # A channel whose name says it is of the kind asked stays ("未成年人保护专线电话").
        channels, told = (
            tuple(c for c in named if knowledge.channel(c)["kind"] in kinds or _named_as(c, kinds))
            for named in (channels, told)
        )
    if (kinds or aspects) and not (channels or told):
        # "举报用哪个邮箱", "上海的怎么预约": a purpose names the channel of the kind asked, or the
        # place asked where or how to book; a purpose word alone ("北京天气") names nothing.
        fields = {aspect_field(a) for a in aspects} & PLACE_FIELDS
        channels = tuple(
            cid
            for cid, kind, pattern in _purposes()
            if (kind in kinds or any(knowledge.channel(cid).get(f) for f in fields)) and pattern.search(rest)
        )[:1]
    no_aspect = reading() != "words" and learned is not None and learned.sure and learned.name == NO_ASPECT
    return Question(aspects, kinds, channels, no_aspect=no_aspect and not aspects, told=told)


def clause_readings(text: Optional[str]) -> List[Question]:
    """A message that asks more than one thing ("举报按钮在哪？能不能发邮件"): each question clause read
    alone by the word lists (the learned aspect reads the whole message); none when it asks one."""
    lowered = (text or "").lower()[:500]
    asked = [] if lowered.startswith("/") else question_clauses(lowered)
    return [read_question(clause) for clause in asked[:MAX_CLAUSES]] if len(asked) > 1 else []


def aspect_field(aspect: str) -> str:
    return knowledge.lexicon()["aspects"][aspect]["field"]


def kind_default_channel(kind: str) -> str:
    return knowledge.lexicon()["kinds"][kind]["channel"]
