"""Reads the article's facts from knowledge/*.yml. Actions ask this module; they hold no facts."""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Dict, List, Optional

import yaml

KNOWLEDGE_DIR = Path(os.environ.get("CS_KNOWLEDGE_DIR", Path(__file__).resolve().parent.parent / "knowledge"))

KIND_ICONS = {"phone": "☎", "email": "✉", "web": "🌐", "app": "📱", "social": "💬", "offline": "🏢"}


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


def channel(channel_id: str) -> Dict[str, Any]:
    return channels()[channel_id]


def topic(name: Optional[str]) -> Optional[Dict[str, Any]]:
    return topics().get(name) if name else None


def topic_title(name: Optional[str]) -> str:
    found = topic(name)
    return found["title"] if found else "其他问题"


def channel_line(channel_id: str) -> str:
    """One line of an answer: icon, channel name, contact, then hours and response time."""
    info = channel(channel_id)
    details = [info[key] for key in ("hours", "response") if info.get(key)]
    line = f"{KIND_ICONS[info['kind']]} {info['name']}：{info['contact']}"
    return f"{line}（{'；'.join(details)}）" if details else line


def channel_lines(channel_ids: List[str]) -> str:
    return "\n".join(channel_line(channel_id) for channel_id in channel_ids)


def store_failure_channels() -> str:
    """The channel lines offered when the ticket/queue database cannot be reached."""
    return channel_lines(handoff_rules()["when_store_fails"])
