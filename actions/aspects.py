"""Reads WHAT a question asks (its aspects) and WHICH channels it names, from knowledge/lexicon.yml
and the channels' aliases. The topic (the case) comes from the NLU intent; this is the other half of
"answer = case × aspect"."""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Dict, List, Optional, Pattern, Tuple

from actions import knowledge

DIGITS = re.compile(r"\d+")
# Aspects only places have: with one, a place's name alone names it ("上海的怎么预约").
PLACE_FIELDS = {"location", "booking"}


@dataclass(frozen=True)
class Question:
    aspects: Tuple[str, ...] = ()  # aspect names, strongest first (lexicon order)
    kinds: Tuple[str, ...] = ()  # channel kinds named ("邮箱" -> email)
    channels: Tuple[str, ...] = ()  # channel ids named ("商务邮箱" -> partner_email)

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


def read_question(text: Optional[str]) -> Question:
    """The aspects, channel kinds and channels named in `text`."""
    lowered = (text or "").lower()[:500]
    if not lowered or lowered.startswith("/"):
        return Question()
    channels, rest = named_channels(lowered)
    aspects = tuple(name for name, pattern in _aspect_patterns() if pattern.search(lowered))
    kinds = tuple(name for name, pattern in _kind_patterns() if pattern.search(rest))
    if (kinds or aspects) and not channels:
        # "举报用哪个邮箱", "上海的怎么预约": a purpose names the channel of the kind asked, or the
        # place asked where or how to book; a purpose word alone ("北京天气") names nothing.
        fields = {aspect_field(a) for a in aspects} & PLACE_FIELDS
        channels = tuple(
            cid
            for cid, kind, pattern in _purposes()
            if (kind in kinds or any(knowledge.channel(cid).get(f) for f in fields)) and pattern.search(rest)
        )[:1]
    return Question(aspects=aspects, kinds=kinds, channels=channels)


def aspect_field(aspect: str) -> str:
    return knowledge.lexicon()["aspects"][aspect]["field"]


def kind_default_channel(kind: str) -> str:
    return knowledge.lexicon()["kinds"][kind]["channel"]
