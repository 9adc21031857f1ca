"""Renders the smart answer for a topic from the knowledge files."""

from __future__ import annotations

from typing import Dict, List, Optional

from actions import knowledge
from actions.parsing import is_urgent


def _channels_for(topic: Dict, region: Optional[str], city: Optional[str]) -> List[str]:
    """The topic's channels, with the one for the user's region or city moved to the front."""
    ids = list(topic["channels"])
    places = knowledge.places()
    preferred = places["cities"].get(city) if city else None
    if preferred not in ids:
        preferred = None  # a city only reorders the centers a topic already lists
    if region and topic.get("regional"):
        preferred = places["regions"].get(region, places["regions"]["default"])
    if preferred:
        ids = [preferred] + [channel_id for channel_id in ids if channel_id != preferred]
    return ids


def green_channel(topic_name: str, text: Optional[str]) -> Optional[str]:
    """The channel the article routes this case straight to, if any (urgent bans and throttling too)."""
    topic = knowledge.topic(topic_name) or {}
    if topic.get("urgent_green") and is_urgent(text, knowledge.handoff_rules()["urgent_words"]):
        return topic["urgent_green"]
    return topic.get("green")


def topic_answer(
    topic_name: str,
    text: Optional[str] = None,
    region: Optional[str] = None,
    city: Optional[str] = None,
) -> str:
    """The structured answer: title and summary, a line per channel, what to prepare, an alternative."""
    topic = knowledge.topic(topic_name)
    lines = [f"【{topic['title']}】{topic['answer']}"]
    green = green_channel(topic_name, text)
    if green and green not in topic["channels"]:
        lines.append("紧急情况请直接走：")
        lines.append(knowledge.channel_line(green))
        lines.append("其他渠道：")
    lines.append(knowledge.channel_lines(_channels_for(topic, region, city)))
    if topic.get("prepare"):
        lines.append("请准备：" + "、".join(topic["prepare"]))
    if topic.get("alternative"):
        lines.append("也可以：" + knowledge.channel_line(topic["alternative"]))
    return "\n".join(lines)


def next_step_answer(topic_name: str) -> Optional[str]:
    """The one extra step for an unsolved case, with its channels; None if the article gives none."""
    topic = knowledge.topic(topic_name) or {}
    if not topic.get("next_step"):
        return None
    return "\n".join([topic["next_step"], knowledge.channel_lines(topic.get("next_channels", []))])
