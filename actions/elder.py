"""长辈模式, the web chat's elder mode (the page sends `{"mode": "elder"}` with each message): one fact a
reply, the first channel's, and the others one button away; the facts are the same as in the full
answer, never reworded."""

from __future__ import annotations

from rasa_sdk import Tracker

from core import knowledge
from core.answers import Answer
from core.wording import words

ELDER = "elder"


def is_elder(tracker: Tracker) -> bool:
    """The latest message was written in the elder mode."""
    metadata = tracker.latest_message.get("metadata") or {}
    return isinstance(metadata, dict) and metadata.get("mode") == ELDER


def one_fact(answer: Answer, language: str) -> Answer:
    """The answer's first channel line only (the first fact asked), then where the rest is; an answer
    with no channel line (a refusal, "the article does not say") stays whole."""
    icons = tuple(knowledge.KIND_ICONS.values())
    lines = answer.text.splitlines()
    first = next((line for line in lines if line.lstrip().startswith(icons)), None)
    if first is None or len(answer.shown) <= 1 and len([line for line in lines if line.strip()]) <= 2:
        return answer
    return Answer(text=f"{first}\n{words(language)['elder_more']}", shown=answer.shown[:1], more=True)
