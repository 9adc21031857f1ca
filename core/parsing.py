"""Reads ticket numbers, ratings, urgency and contact details out of what users type."""

from __future__ import annotations

import re
from typing import Iterable, Optional

# DY + date (8 digits) + "-" + 6-digit sequence; users also type lower case, spaces or no hyphen.
TICKET_PATTERN = re.compile(r"(?<![A-Za-z0-9])dy\s*(\d{8})\s*[-_－—]?\s*(\d{6})(?!\d)", re.IGNORECASE)

CHINESE_DIGITS = {"一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5}
RATING_WORDS = (
    ("非常满意", 5),
    ("满分", 5),
    ("很满意", 5),
    ("非常不满意", 1),
    ("很不满意", 1),
    ("很差", 1),
    ("不满意", 2),
    ("一般", 3),
    ("还行", 3),
    ("满意", 4),
    ("不错", 4),
)
PHONE_PATTERN = re.compile(r"^\+?\d[\d\s-]{5,18}\d$")
EMAIL_PATTERN = re.compile(r"^[\w.+-]+@[\w-]+(\.[\w-]+)+$")
# A Douyin ID (抖音号): letters, digits, "_" and ".", never Chinese characters.
DOUYIN_ID_PATTERN = re.compile(r"^[A-Za-z0-9_.]{2,64}$")
CONTACT_PATTERNS = {"phone": PHONE_PATTERN, "email": EMAIL_PATTERN, "app": DOUYIN_ID_PATTERN}


def format_ticket_number(prefix: str, date: str, sequence: int) -> str:
    return f"{prefix}{date}-{sequence:06d}"


def find_ticket_number(text: Optional[str]) -> Optional[str]:
    """The first ticket number in `text`, in canonical form (DY20261125-000123), or None."""
    match = TICKET_PATTERN.search(text or "")
    return f"DY{match.group(1)}-{match.group(2)}" if match else None


def find_rating(text: Optional[str]) -> Optional[int]:
    """A 1-5 satisfaction score from digits, Chinese numerals, stars or words; None if absent."""
    text = (text or "").strip()
    stars = text.count("⭐") + text.count("★")
    if 1 <= stars <= 5:
        return stars
    digit = re.search(r"(?<!\d)([1-5])(?!\d)", text)
    if digit:
        return int(digit.group(1))
    numeral = re.search(r"([一二两三四五])\s*(分|星|颗)", text)
    if numeral:
        return CHINESE_DIGITS[numeral.group(1)]
    return next((score for word, score in RATING_WORDS if word in text), None)


def is_urgent(text: Optional[str], urgent_words: Iterable[str]) -> bool:
    lowered = (text or "").lower()
    return any(word.lower() in lowered for word in urgent_words)


def normalize_contact(channel: str, value: str) -> Optional[str]:
    """The contact detail a user left for a ticket, cleaned, or None if it does not fit the channel."""
    value = value.strip()
    if channel == "phone":
        return value.replace(" ", "") if PHONE_PATTERN.match(value) else None
    if channel == "email":
        return value.lower() if EMAIL_PATTERN.match(value) else None
    return value[:64] if value else None


def looks_like_contact(text: Optional[str], channels: Iterable[str]) -> bool:
    """Whether `text` has the form of a contact of one of `channels` (phone, email, app): such a message
    is an answer to the ticket form, whatever else the NLU reads in it."""
    value = (text or "").strip()
    return any(CONTACT_PATTERNS[channel].match(value) for channel in channels)
