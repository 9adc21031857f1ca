"""Personal data in what users type, masked for the agents who do not hold the conversation: mobile and
landline numbers, e-mail addresses, ID-card numbers and passwords written after "密码" or "password".

`mask(text, keep)` returns the text with each such item partly replaced by `*` (enough stays for an
agent to tell two numbers apart: "138****5678", "z***@qq.com"); a password is replaced whole. `keep`
holds the published contacts the bot itself gives (knowledge/), which are not personal and stay as they
are. No Rasa, no database: the console's API (channels/agent_console.py) decides who sees what.
"""

from __future__ import annotations

import re
from typing import Iterable, Set

STAR = "*"

# A password after its keyword: "密码是 Abc@123", "密码：abc123", "密码123456", "password: hunter2",
# "my password is hunter2". After 是/为/:/= everything up to a space or a Chinese punctuation mark is the
# password (a "," "." or ";" that ends it is left); right after "密码" (no such word) only printable
# ASCII, so "密码忘了" stays as it is.
_END = r"\s，。；！？、）】”“"
PASSWORD = re.compile(
    r"(?P<key>(?:密码|口令|passwords?|passwd|pwd)\s*(?:是|为|:|：|=|\bis\b|\bwas\b)\s*)"
    rf"(?P<value>[^{_END}]+?(?=[,.;]*(?:[{_END}]|$)))"
    r"|(?P<key2>(?:密码|口令)\s*)(?P<value2>[!-~]+?(?=[,.;]*(?:[^!-~]|$)))",
    re.IGNORECASE,
)
# Mainland ID cards: 18 characters (the last may be X) with a plausible birth date, or the old 15 digits.
ID_CARD = re.compile(
    r"(?<![0-9A-Za-z])(?:[1-9]\d{5}(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3}[0-9Xx]"
    r"|[1-9]\d{7}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01])\d{3})(?![0-9A-Za-z])"
)
EMAIL = re.compile(r"(?<![A-Za-z0-9._%+-])([A-Za-z0-9._%+-]+)@([A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)")
# Mobile numbers (+86 optional), written together or in groups: 13812345678, 138-1234-5678, +86 138 1234 5678.
MOBILE = re.compile(r"(?<![\d+])(?:\+?86[-\s]?)?1[3-9]\d(?:[-\s]?\d{4}){2}(?!\d)")
COUNTRY_CODE = re.compile(r"\+?86[-\s]?(?=1)")
# Landlines with an area code: 010-12345678, 0755 8888 6666, 028-6583-5566.
LANDLINE = re.compile(r"(?<![\d+])0\d{2,3}[-\s]?\d{3,4}[-\s]?\d{4}(?!\d)")


def _digits(text: str) -> str:
    return re.sub(r"\D", "", text)


def _keep_ends(text: str, head: int, tail: int) -> str:
    """The first `head` and last `tail` digits or letters kept, the others starred (separators stay)."""
    positions = [i for i, char in enumerate(text) if char.isalnum()]
    hidden = set(positions[head : len(positions) - tail]) if len(positions) > head + tail else set(positions)
    return "".join(STAR if i in hidden else char for i, char in enumerate(text))


def published(contacts: Iterable[str]) -> Set[str]:
    """The `keep` set for `mask` from text holding the published contacts (e.g. the knowledge files):
    their e-mail addresses, lower-cased, and the digits of their phone numbers."""
    kept: Set[str] = set()
    for text in contacts:
        kept.update(match.group(0).lower() for match in EMAIL.finditer(text))
        for pattern in (MOBILE, LANDLINE):
            kept.update(_digits(match.group(0)) for match in pattern.finditer(text))
    return kept


def mask(text: str, keep: Iterable[str] = ()) -> str:
    """`text` with its personal data masked (see the module's docstring); `keep` from `published`."""
    if not text:
        return text
    kept = set(keep)

    def password(match: re.Match) -> str:
        key = match.group("key") if match.group("key") is not None else match.group("key2")
        return key + STAR * 6

    def email(match: re.Match) -> str:
        if match.group(0).lower() in kept:
            return match.group(0)
        local = match.group(1)
        return f"{local[0]}{STAR * 3}@{match.group(2)}"

    def phone(match: re.Match) -> str:
        number = match.group(0)
        if _digits(number) in kept:
            return number
        prefix = COUNTRY_CODE.match(number)  # +86 stays; the number's own first three are kept
        start = prefix.end() if prefix else 0
        return number[:start] + _keep_ends(number[start:], 3, 4)

    text = PASSWORD.sub(password, text)
    text = ID_CARD.sub(lambda match: _keep_ends(match.group(0), 3, 4), text)
    text = EMAIL.sub(email, text)
    text = MOBILE.sub(phone, text)
    return LANDLINE.sub(phone, text)
