"""The lists of FAQ topics Rasa reads literally, written from knowledge/topics.yml.

The domain's topic intents, the rule that answers any topic (data/rules.yml) and the topics the ticket
forms answer (data/form_rules.yml) each hold one line per entry of knowledge/topics.yml, between two
comment lines:

    # topics: begin (scripts/topic_lists.py writes these lines from knowledge/topics.yml)
    - account_ban
    # topics: end

`python scripts/topic_lists.py` (make topic-lists) rewrites those lines; `--check` (make validate, and
tests/test_topic_consistency.py) says which file lacks or has extra topics, and changes nothing.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Dict, List, Optional

import yaml

ROOT = Path(__file__).resolve().parent.parent
TOPICS_FILE = Path("knowledge") / "topics.yml"
BEGIN = "# topics: begin"
BEGIN_LINE = f"{BEGIN} (scripts/topic_lists.py writes these lines from knowledge/topics.yml)"
END = "# topics: end"

# Each file with a list and the form of one of its lines ({name}: the topic).
LISTS: Dict[Path, str] = {
    Path("domain.yml"): "- {name}",
    Path("data") / "rules.yml": "- intent: {name}",
    Path("data") / "form_rules.yml": "- intent: {name}",
}
ITEM = re.compile(r"^-\s+(?:intent:\s*)?(\S+)\s*$")


def topic_names(root: Path = ROOT) -> List[str]:
    """The topics of knowledge/topics.yml, in its order."""
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    document = yaml.load((root / TOPICS_FILE).read_text("utf-8"), Loader=loader) or {}
    return list(document.get("topics") or {})


@dataclass
class Block:
    """One generated list: the lines between its begin and end comments."""

    start: int  # index of the begin line
    end: int  # index of the end line
    indent: str
    names: List[str]


def blocks(text: str) -> List[Block]:
    lines = text.split("\n")
    found: List[Block] = []
    start: Optional[int] = None
    for index, line in enumerate(lines):
        stripped = line.strip()
        if stripped.startswith(BEGIN):
            start = index
        elif stripped.startswith(END) and start is not None:
            items = [ITEM.match(lines[i].strip()) for i in range(start + 1, index)]
            indent = lines[start][: len(lines[start]) - len(lines[start].lstrip())]
            found.append(Block(start, index, indent, [m.group(1) for m in items if m]))
            start = None
    return found


def render(text: str, names: List[str], item: str) -> str:
    """`text` with every block's lines replaced by one line per name."""
    lines = text.split("\n")
    for block in reversed(blocks(text)):
        body = [block.indent + item.format(name=name) for name in names]
        lines[block.start : block.end + 1] = [block.indent + BEGIN_LINE, *body, block.indent + END]
    return "\n".join(lines)


def problems(root: Path = ROOT) -> List[str]:
    """What differs between knowledge/topics.yml and each generated list, one sentence a difference."""
    names = topic_names(root)
    found: List[str] = []
    for relative, item in LISTS.items():
        text = (root / relative).read_text("utf-8")
        listed = blocks(text)
        if not listed:
            found.append(
                f"{relative} has no list of topics between `{BEGIN}` and `{END}`: put those two comment "
                f"lines where the topics' `{item.format(name='…')}` lines go, then run `make topic-lists`"
            )
        for block in listed:
            where = f"{relative} (line {block.start + 2})"
            for name in names:
                if name not in block.names:
                    found.append(
                        f"topic `{name}` of {TOPICS_FILE} is missing from the list of {where}: run "
                        f"`make topic-lists` to add `{item.format(name=name)}`"
                    )
            for name in block.names:
                if name not in names:
                    found.append(
                        f"`{name}` in the list of {where} is no topic of {TOPICS_FILE}: add its entry there, "
                        f"or run `make topic-lists` to take it out"
                    )
            if set(block.names) == set(names) and block.names != names:
                found.append(
                    f"the list of {where} is not in the order of {TOPICS_FILE}: run `make topic-lists`"
                )
    return found


def write(root: Path = ROOT) -> List[Path]:
    """Rewrites every list from knowledge/topics.yml; returns the files that changed."""
    names = topic_names(root)
    changed = []
    for relative, item in LISTS.items():
        path = root / relative
        text = path.read_text("utf-8")
        new = render(text, names, item)
        if new != text:
            path.write_text(new, "utf-8")
            changed.append(relative)
    return changed


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="only say what differs; exit 1 if anything does")
    parser.add_argument("--root", type=Path, default=ROOT, help="the project's directory")
    args = parser.parse_args(argv)
    if args.check:
        found = problems(args.root)
        for problem in found:
            print(problem)
        return 1 if found else 0
    missing = [p for p in problems(args.root) if "has no list of topics" in p]
    for problem in missing:
        print(problem)
    for relative in write(args.root):
        print(f"wrote the topics of {relative}")
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
