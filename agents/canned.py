"""Canned facts: a channel's contact, hours or response time from knowledge/channels.yml, worded for
the agent's reply box, so that an agent never retypes a number or an address."""

from __future__ import annotations

from typing import Any, Dict, List

from core import knowledge

# (aspect, field, Chinese label and template, English label and template)
FACTS = (
    ("contact", "contact", ("联系方式", "{name}：{value}"), ("Contact", "{name}: {value}")),
    ("hours", "hours", ("服务时间", "{name}服务时间：{value}"), ("Hours", "{name} hours: {value}")),
    ("response", "response", ("响应时间", "{name}：{value}"), ("Response time", "{name}: {value}")),
)


def canned_facts(language: str = "zh") -> List[Dict[str, Any]]:
    """Every channel with the facts the article gives for it, in the conversation's language."""
    english = language == "en"
    groups = []
    for channel_id, info in knowledge.channels().items():
        name = knowledge.localized(info, "name", language)
        facts = []
        for aspect, field, chinese, in_english in FACTS:
            if not info.get(field):
                continue  # the article does not say: nothing to insert
            label, template = in_english if english else chinese
            value = knowledge.localized(info, field, language)
            facts.append({"aspect": aspect, "label": label, "text": template.format(name=name, value=value)})
        groups.append({"channel": channel_id, "name": name, "facts": facts})
    return groups
