"""Writes the supervisors' labels to data/nlu/reviewed.yml (`make review-export`).

`make train` reads the file with the rest of data/nlu/.

One block per message, in the format of the aspect-labelled data (`metadata: {aspect: …}` for topics
and follow-ups, so that components/aspect_classifier.py learns the aspect once it is in the pipeline),
under a comment saying who labelled it, when, why it was a miss and what the bot had read:

    # lin 2026-12-06 14:03 UTC · 答复后说没解决 · correct (bot: account_ban 0.62, aspect none)
    - intent: account_ban
      metadata: {aspect: response}
      examples: |
        - 申诉要几天才有结果

The file's earlier blocks are kept as they are (hand edits too); a label is added once (texts compared
without spaces, punctuation or case). Skipped messages write nothing; out of scope writes an
`out_of_scope` example. Never written, and listed instead: a held-out test sentence, a text that
another training file gives another intent, and one already trained with the same intent.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Dict, List, Optional, Tuple

import yaml

from review import datasets
from review.labels import Label, decided
from review.misses import REASON_TITLES, comparable
from review.scrub import scrub

HEADER = """\
# Reviewed examples: messages the bot missed (review/misses.py), labelled by a supervisor on the review
# page (/review) and written by `make review-export` (review/export.py). Personal data was replaced by
# placeholders (<手机号>, <邮箱>, <身份证号>, <抖音号>, <工单号> …) before it was stored. Each block is one
# message, under who labelled it, when (UTC), why it was a miss and what the bot had read.
# `make review-check` shows how the model reads each; tests/test_nlu.py fails if one is read wrongly.
version: "3.1"
nlu:
"""
_ENTRY = re.compile(r"^- intent:")


@dataclass
class Entry:
    intent: str
    aspect: Optional[str]
    text: str
    comments: List[str] = field(default_factory=list)

    def render(self) -> str:
        lines = [*self.comments, f"- intent: {self.intent}"]
        if self.aspect:
            lines.append(f"  metadata: {{aspect: {self.aspect}}}")
        lines += ["  examples: |", f"    - {self.text}"]
        return "\n".join(lines) + "\n"


@dataclass
class Outcome:
    added: List[Entry] = field(default_factory=list)
    kept: int = 0  # blocks already in the file
    refused: List[Tuple[str, str]] = field(default_factory=list)  # (text, why not written)


def read_entries(path: Path) -> List[Entry]:
    """The file's blocks with the comments just above each (one example a block, as written here; a
    hand-written block of several examples becomes one entry per example)."""
    if not path.exists():
        return []
    entries: List[Entry] = []
    comments: List[str] = []
    block: List[str] = []

    def close() -> None:
        if not block:
            return
        for item in yaml.safe_load("\n".join(block)) or []:
            aspect = (item.get("metadata") or {}).get("aspect")
            examples = item.get("examples") or ""
            for line in examples.splitlines():
                if line.strip().startswith("- "):
                    entries.append(Entry(item["intent"], aspect, line.strip()[2:].strip(), list(comments)))
        block.clear()

    in_nlu = False
    for line in path.read_text("utf-8").splitlines():
        if not in_nlu:
            in_nlu = line.startswith("nlu:")
            continue
        if line.startswith("#") or _ENTRY.match(line):
            if block:
                close()
                comments = []
            if line.startswith("#"):
                comments.append(line)
            else:
                block.append(line)
        elif line.strip():
            block.append(line)
    close()
    return entries


def comment(label: Label) -> str:
    when = label.decided_at.strftime("%Y-%m-%d %H:%M") if label.decided_at else "?"
    confidence = f" {label.bot_confidence:.2f}" if label.bot_confidence is not None else ""
    reason = REASON_TITLES.get(label.reason, label.reason)
    return (
        f"# {label.decided_by} {when} UTC · {reason} · {label.decision} "
        f"(bot: {label.bot_intent}{confidence}, aspect {label.bot_aspect})"
    )


def merge(
    labels: List[Label], path: Path = datasets.REVIEWED, data: Path = datasets.DATA
) -> Tuple[str, Outcome]:
    """The file's new text and what changed: its blocks, then each label not yet in it."""
    entries = read_entries(path)
    outcome = Outcome(kept=len(entries))
    present = {comparable(entry.text): entry for entry in entries}
    others = datasets.training_texts(data, skip=path)
    for label in labels:
        if label.intent is None:  # skipped
            continue
        text = scrub(label.text)  # stored scrubbed; scrubbed again in case the rules grew since
        key = comparable(text)
        held = datasets.held_out_in(text)
        known = others.get(key)
        if held:
            outcome.refused.append((text, f"held-out sentence ({held})"))
        elif known is not None:
            why = "already trained" if known.intent == label.intent else f"{known.path} says {known.intent}"
            outcome.refused.append((text, why))
        elif key in present:
            if present[key].intent != label.intent:
                outcome.refused.append((text, f"{path.name} already says {present[key].intent}"))
        elif key:
            entry = Entry(label.intent, label.aspect, text, [comment(label)])
            present[key] = entry
            entries.append(entry)
            outcome.added.append(entry)
    return HEADER + "".join(entry.render() for entry in entries), outcome


def export(url: Optional[str] = None, path: Path = datasets.REVIEWED, data: Path = datasets.DATA) -> Outcome:
    """Writes the labels of the service database at `url` (default: the bot's) to `path`."""
    text, outcome = merge(decided(url=url), path, data)
    if outcome.added or not path.exists():
        path.write_text(text, encoding="utf-8")
    return outcome


def summary(outcome: Outcome) -> Dict[str, int]:
    return {"added": len(outcome.added), "kept": outcome.kept, "refused": len(outcome.refused)}
