"""Personal data out of a message before it becomes training data: each item replaced by a placeholder.

Phone numbers (mobile and landline), e-mail addresses, ID-card numbers and passwords are found with the
console's patterns (agents/masking.py); ticket numbers (DY20261125-000001, as users type them), Douyin
IDs and other account names written after 抖音号 / UID / 账号 / QQ / 微信, and any other run of seven or
more digits (orders, bank cards) are found here. Unlike masking, nothing of an item is kept:
"我的手机13812345678" becomes "我的手机<手机号>". The bot's own published contacts (knowledge/: the
hotline, feedback@douyin.com …) are not personal and stay, so a question about them still trains.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import FrozenSet, Iterable, Optional

from agents import masking
from core import knowledge
from core.parsing import TICKET_PATTERN

PLACEHOLDERS = {
    "ticket": "<工单号>",
    "email": "<邮箱>",
    "password": "<密码>",
    "id_card": "<身份证号>",
    "mobile": "<手机号>",
    "landline": "<电话>",
    "douyin_id": "<抖音号>",
    "account": "<账号>",
    "number": "<号码>",
}
# An account name after its keyword: "抖音号是 test_user_01", "UID: 123456", "QQ 10001", "微信号 wx_abc". A
# name has a digit, "_" or "." in it, or is six characters or more: "账号abc被封" names nothing.
_SEPARATOR = r"\s*(?:是|为|:|：|=|\bis\b)?\s*"
_NAME_CHARS = r"[A-Za-z0-9_.\-]"
_NAME = rf"(?P<name>(?={_NAME_CHARS}*[0-9_.]){_NAME_CHARS}{{3,64}}|{_NAME_CHARS}{{6,64}})(?!{_NAME_CHARS})"
DOUYIN_ID = re.compile(
    r"(?P<key>抖音号|抖音\s*id|抖音账号|抖音帐号|dy号|douyin\s*id|uid|账号|帐号|用户名|username|\bid\b)"
    + _SEPARATOR
    + _NAME,
    re.IGNORECASE,
)
OTHER_ACCOUNT = re.compile(r"(?P<key>qq号?|微信号?|wechat|vx|wx)" + _SEPARATOR + _NAME, re.IGNORECASE)
LONG_NUMBER = re.compile(r"(?<![0-9A-Za-z])\d{7,}(?![0-9A-Za-z])")


@lru_cache(maxsize=1)
def published_contacts() -> FrozenSet[str]:
    """The knowledge's own phone numbers and addresses (masking.published's form): kept as they are."""
    return frozenset(masking.published([json.dumps(knowledge.channels(), ensure_ascii=False)]))


def scrub(text: str, keep: Optional[Iterable[str]] = None) -> str:
    """`text` with every personal item replaced by its placeholder (PLACEHOLDERS); `keep`: contacts that
    stay (default: the published ones)."""
    if not text:
        return text
    kept = set(published_contacts() if keep is None else keep)

    def account(kind: str):
        def replace(match: re.Match) -> str:
            return match.group(0)[: match.start("name") - match.start()] + PLACEHOLDERS[kind]

        return replace

    def email(match: re.Match) -> str:
        return match.group(0) if match.group(0).lower() in kept else PLACEHOLDERS["email"]

    def phone(kind: str):
        def replace(match: re.Match) -> str:
            return match.group(0) if re.sub(r"\D", "", match.group(0)) in kept else PLACEHOLDERS[kind]

        return replace

    def password(match: re.Match) -> str:
        key = match.group("key") if match.group("key") is not None else match.group("key2")
        return key + PLACEHOLDERS["password"]

    text = TICKET_PATTERN.sub(PLACEHOLDERS["ticket"], text)
    text = masking.EMAIL.sub(email, text)
    text = masking.PASSWORD.sub(password, text)
    text = masking.ID_CARD.sub(PLACEHOLDERS["id_card"], text)
    text = masking.MOBILE.sub(phone("mobile"), text)
    text = masking.LANDLINE.sub(phone("landline"), text)
    text = DOUYIN_ID.sub(account("douyin_id"), text)
    text = OTHER_ACCOUNT.sub(account("account"), text)
    return LONG_NUMBER.sub(PLACEHOLDERS["number"], text)
