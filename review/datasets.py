"""What the training data and the held-out test sets already hold, for the review loop's two guards.

A reviewed example must not contradict a training example (the same text under another intent), and no
sentence of a held-out set (tests/nlu_holdout.yml, tests/data/*.yml) may ever become training data, or
the figures measured on it would mean nothing.

Texts are compared as review/misses.py's `comparable` (and tests/test_nlu.py) does: lower case, without
spaces and punctuation.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import yaml

from review.misses import comparable

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data"
REVIEWED = DATA / "nlu" / "reviewed.yml"
HELD_OUT = (ROOT / "tests" / "nlu_holdout.yml", ROOT / "tests" / "data")


@dataclass(frozen=True)
class Known:
    intent: str
    path: str  # relative to the project


def _relative(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


def nlu_examples(path: Path) -> Iterator[Tuple[str, str]]:
    """(intent, text) of every example of a Rasa NLU file (examples as a block or as a list)."""
    document = yaml.safe_load(path.read_text("utf-8")) or {}
    for item in document.get("nlu") or []:
        if not isinstance(item, dict) or "intent" not in item:
            continue
        examples = item.get("examples") or ""
        if isinstance(examples, str):
            for line in examples.splitlines():
                line = line.strip()
                if line.startswith("- "):
                    yield item["intent"], line[2:].strip()
        else:
            for example in examples:
                text = example.get("text") if isinstance(example, dict) else example
                if text:
                    yield item["intent"], str(text).strip()


def training_texts(data: Path = DATA, skip: Optional[Path] = None) -> Dict[str, Known]:
    """Every training example under `data` (comparable text → its intent and file), `skip` aside; read
    again only when a file changed."""
    files = [p for p in sorted(data.rglob("*.yml")) if skip is None or p.resolve() != skip.resolve()]
    return _training_texts(tuple((p, p.stat().st_mtime_ns) for p in files))


@lru_cache(maxsize=4)
def _training_texts(files: Tuple[Tuple[Path, int], ...]) -> Dict[str, Known]:
    known: Dict[str, Known] = {}
    for path, _ in files:
        for intent, text in nlu_examples(path):
            known.setdefault(comparable(text), Known(intent, _relative(path)))
    return known


def _sentences(path: Path) -> Iterator[str]:
    """The sentences of a held-out set: NLU examples, cases' turns, or a mapping's texts
    (topic → question); a corpus of other things (bad_inputs.yml's messages) has none."""
    document = yaml.safe_load(path.read_text("utf-8")) or {}
    if not isinstance(document, dict):
        return
    if "nlu" in document:
        yield from (text for _, text in nlu_examples(path))
    elif "cases" in document:
        for case in document["cases"] or []:
            yield from (str(turn) for turn in case.get("turns") or [])
    elif all(isinstance(value, str) for value in document.values()):
        yield from document.values()


@lru_cache(maxsize=4)
def held_out_texts(roots: Tuple[Path, ...] = HELD_OUT) -> Dict[str, str]:
    """Every sentence of the held-out sets (comparable text → the set's file); {} where they are absent
    (a deployment without tests/)."""
    files: List[Path] = []
    for root in roots:
        files.extend(sorted(root.glob("*.yml")) if root.is_dir() else [root] if root.exists() else [])
    found: Dict[str, str] = {}
    for path in files:
        for text in _sentences(path):
            key = comparable(text)
            if len(key) >= 2:  # "5", "ok": not sentences
                found.setdefault(key, _relative(path))
    return found


def held_out_in(text: str) -> Optional[str]:
    """The held-out set that holds `text`, or None."""
    return held_out_texts().get(comparable(text))
