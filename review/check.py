"""How a trained model reads every reviewed example of data/nlu/reviewed.yml.

`make review-check` prints it, before and after a retraining, and tests/test_nlu.py fails when one is
read wrongly.

A reading is right when the intent is the label's (a fallback is wrong: the user would still get "did
you mean" buttons) and, where the model puts an `aspect` entity on messages, the aspect is the label's
too; a model without one (no aspect classifier in the pipeline) is checked on the intent alone.
Each run is written to results/review-check.json; the next run on another model shows it as "before".
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable, Dict, List, Optional

from review.export import Entry
from review.misses import ASPECT_ENTITY, NO_ASPECT

RESULTS = Path(__file__).resolve().parent.parent / "results" / "review-check.json"


@dataclass
class Reading:
    text: str
    label_intent: str
    label_aspect: Optional[str]
    intent: Optional[str]
    confidence: float
    aspect: Optional[str]  # None: the model reads no aspect
    aspect_confidence: Optional[float]

    @property
    def intent_right(self) -> bool:
        return self.intent == self.label_intent

    @property
    def aspect_right(self) -> Optional[bool]:
        """None when there is nothing to compare (no aspect in the label or in the model)."""
        if self.aspect is None or self.label_aspect is None:
            return None
        return self.aspect == self.label_aspect

    @property
    def right(self) -> bool:
        return self.intent_right and self.aspect_right is not False


def reading(entry: Entry, parsed: Dict[str, Any]) -> Reading:
    intent = parsed.get("intent") or {}
    aspect = next((e for e in parsed.get("entities") or [] if e.get("entity") == ASPECT_ENTITY), None)
    return Reading(
        text=entry.text,
        label_intent=entry.intent,
        label_aspect=entry.aspect,
        intent=intent.get("name"),
        confidence=round(float(intent.get("confidence") or 0), 3),
        aspect=str(aspect["value"]) if aspect else None,
        aspect_confidence=aspect.get("confidence_entity") if aspect else None,
    )


def read_all(entries: List[Entry], parse: Callable[[str], Dict[str, Any]]) -> List[Reading]:
    return [reading(entry, parse(entry.text)) for entry in entries]


def describe(found: Reading) -> str:
    aspect = "" if found.aspect is None else f" / {found.aspect or NO_ASPECT}"
    return f"{found.intent} {found.confidence:.2f}{aspect}"


def table(readings: List[Reading], before: Optional[Dict[str, str]] = None) -> str:
    """One line per example: ✓ or ✗, the label, how the model reads it (and read it before)."""
    lines = []
    for found in readings:
        label = found.label_intent + (f" / {found.label_aspect}" if found.label_aspect else "")
        earlier = f"   before: {before[found.text]}" if before and found.text in before else ""
        mark = "✓" if found.right else "✗"
        lines.append(f"{mark} {found.text}\n    label: {label}   read: {describe(found)}{earlier}")
    right = sum(found.right for found in readings)
    lines.append(f"{right} of {len(readings)} reviewed examples read as labelled.")
    return "\n".join(lines)


def previous(model: str, path: Path = RESULTS) -> Optional[Dict[str, str]]:
    """The readings of the last run on another model (text → reading), if any."""
    if not path.exists():
        return None
    earlier = json.loads(path.read_text("utf-8"))
    runs = earlier.get("runs") or []
    other = next((run for run in reversed(runs) if run["model"] != model), None)
    return {item["text"]: item["read"] for item in other["readings"]} if other else None


def save(model: str, readings: List[Reading], path: Path = RESULTS) -> None:
    """Keeps this run and the last run on another model (the "before" of the next comparison)."""
    runs = json.loads(path.read_text("utf-8")).get("runs", []) if path.exists() else []
    runs = [run for run in runs if run["model"] != model][-1:]
    runs.append(
        {
            "model": model,
            "readings": [
                {**asdict(found), "read": describe(found), "right": found.right} for found in readings
            ],
        }
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"runs": runs}, ensure_ascii=False, indent=1), encoding="utf-8")
