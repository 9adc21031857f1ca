"""Builds the project's own Chinese spaCy pipeline into spacy_zh/ (SpacyNLP in config.yml loads it).

spaCy's trained Chinese pipelines are not on PyPI, and nothing may be downloaded at run time, so the
pipeline is a blank "zh" model with the jieba segmenter plus an entity ruler whose patterns come from
knowledge/entities.yml (regions, cities) and the ticket-number format. Re-run it after editing
knowledge/entities.yml: `make spacy`.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Dict, List

import spacy
import yaml

ROOT = Path(__file__).resolve().parent.parent
ENTITIES_FILE = ROOT / "knowledge" / "entities.yml"
OUTPUT_DIR = ROOT / "spacy_zh"

# jieba splits "DY20261125-000123" into "DY20261125", "-", "000123"; users also omit the hyphen.
TICKET_PATTERNS: List[List[Dict]] = [
    [
        {"TEXT": {"REGEX": r"^(?i:dy)\d{8}$"}},
        {"TEXT": {"IN": ["-", "－", "_"]}, "OP": "?"},
        {"TEXT": {"REGEX": r"^\d{6}$"}},
    ],
    [{"TEXT": {"REGEX": r"^(?i:dy)\d{8}-?\d{6}$"}}],
]


def entity_patterns(entities_file: Path = ENTITIES_FILE) -> List[Dict]:
    """Entity-ruler patterns: one phrase pattern per word of knowledge/entities.yml, plus tickets."""
    words = yaml.safe_load(entities_file.read_text(encoding="utf-8"))
    patterns = [{"label": label, "pattern": word} for label, values in words.items() for word in values]
    patterns += [{"label": "ticket_id", "pattern": p} for p in TICKET_PATTERNS]
    return patterns


def build(output_dir: Path = OUTPUT_DIR) -> Path:
    nlp = spacy.blank("zh", config={"nlp": {"tokenizer": {"segmenter": "jieba"}}})
    ruler = nlp.add_pipe("entity_ruler", config={"phrase_matcher_attr": "LOWER"})
    ruler.add_patterns(entity_patterns())
    nlp.to_disk(output_dir)
    return output_dir


if __name__ == "__main__":
    target = Path(sys.argv[1]) if len(sys.argv) > 1 else OUTPUT_DIR
    print(f"spaCy pipeline written to {build(target)}")
