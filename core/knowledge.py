"""Reads the article's facts from knowledge/*.yml. Actions ask this module; they hold no facts."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional, Tuple

import yaml

KNOWLEDGE_DIR = Path(os.environ.get("CS_KNOWLEDGE_DIR", Path(__file__).resolve().parent.parent / "knowledge"))

# Names of Douyin (and of its international app) in a message: a question that names one is about Douyin.
DOUYIN_NAMES = ("抖音", "douyin", "tiktok")
# Symbols every font the widget and terminals use has (DejaVu, Noto CJK); picture emoji such as a
# globe or a phone need an emoji font many machines lack, and show as empty boxes there.
KIND_ICONS = {"phone": "☎", "email": "✉", "web": "▸", "app": "▸", "social": "▸", "offline": "▸"}


@lru_cache(maxsize=None)
def _load(name: str) -> Dict[str, Any]:
    with open(KNOWLEDGE_DIR / f"{name}.yml", encoding="utf-8") as handle:
        return yaml.safe_load(handle)


def channels() -> Dict[str, Dict[str, Any]]:
    return _load("channels")["channels"]


def topics() -> Dict[str, Dict[str, Any]]:
    return _load("topics")["topics"]


def handoff_rules() -> Dict[str, Any]:
    return _load("handoff")


def places() -> Dict[str, Dict[str, str]]:
    return _load("places")


def lexicon() -> Dict[str, Any]:
    return _load("lexicon")


def platforms() -> Dict[str, Any]:
    return _load("platforms")


def platform_named(text: str, language: str = "zh") -> Tuple[str, str]:
    """The other company's platform a message names (knowledge/platforms.yml), or "the other platform",
    and the message without the platforms' names (so "微信视频号" does not name Douyin's WeChat account)."""
    rest = (text or "").lower()
    known = platforms()
    named = None
    for info in known["platforms"].values():
        for alias in sorted((str(a).lower() for a in info["aliases"]), key=len, reverse=True):
            if alias in rest:
                named = named or localized(info, "name", language)
                rest = rest.replace(alias, " " * len(alias))
    return named or localized(known["other"], "name", language), rest


def only_other_platform(text: Optional[str]) -> bool:
    """The message names another company's platform and not Douyin ("B站的up主" but not "从快手搬到
    抖音")."""
    lowered = (text or "").lower()
    if lowered.startswith("/") or any(word in lowered for word in DOUYIN_NAMES):
        return False
    return platform_named(lowered)[1] != lowered


def localized(entry: Dict[str, Any], field: str, language: str = "zh") -> Any:
    """`entry[field]` in the user's language: the `<field>_en` label for English when there is one."""
    if language == "en" and f"{field}_en" in entry:
        return entry[f"{field}_en"]
    return entry.get(field)


def channel(channel_id: str) -> Dict[str, Any]:
    return channels()[channel_id]


def topic(name: Optional[str]) -> Optional[Dict[str, Any]]:
    return topics().get(name) if name else None


OTHER_TOPIC = {"zh": "其他问题", "en": "Other question"}


def topic_title(name: Optional[str], language: str = "zh") -> str:
    found = topic(name)
    return localized(found, "title", language) if found else OTHER_TOPIC[language]


def channel_line(channel_id: str, language: str = "zh") -> str:
    """One line of an answer: icon, channel name, contact, then hours and response time."""
    info = channel(channel_id)
    details = [localized(info, key, language) for key in ("hours", "response") if info.get(key)]
    colon, separator = (": ", "; ") if language == "en" else ("：", "；")
    name, contact = localized(info, "name", language), localized(info, "contact", language)
    line = f"{KIND_ICONS[info['kind']]} {name}{colon}{contact}"
    if not details:
        return line
    return (
        f"{line} ({separator.join(details)})" if language == "en" else f"{line}（{separator.join(details)}）"
    )


def channel_lines(channel_ids: List[str], language: str = "zh") -> str:
    return "\n".join(channel_line(channel_id, language) for channel_id in channel_ids)


def store_failure_channels(language: str = "zh") -> str:
    """The channel lines offered when the ticket/queue database cannot be reached."""
    return channel_lines(handoff_rules()["when_store_fails"], language)
