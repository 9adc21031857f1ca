"""Whether every file that holds something per FAQ topic agrees with knowledge/topics.yml.

A topic (a case) is an entry of knowledge/topics.yml and an intent of the same name. Besides the lists
scripts/topic_lists.py writes (domain.yml, data/rules.yml, data/form_rules.yml), these hold something
written by hand for each topic, and each check below names the topic, the file and what to add:

- knowledge/topics.yml: the entry's fields (title, answer, channels … with their English labels);
- data/nlu.yml and data/nlu/*.yml: at least MIN_TRAINING examples of the intent (of every intent);
- tests/nlu_holdout.yml: at least MIN_HELD_OUT held-out examples, none of them a training example;
- tests/data/topic_questions.yml: one question, for the conversation tests;
- tests/data/real_style_holdout.yml: cases, or the topic named in its `topics_without_cases`;
- README.md and docs/*.md: the number of topics and intents where they state it.

A value that holds PLACEHOLDER (what scripts/new_topic.py writes) is named as still to be written.
tests/test_topic_consistency.py runs every check; `python scripts/topic_checks.py` prints what they find.
"""

from __future__ import annotations

import re
import sys
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any, Callable, Dict, Iterator, List, Tuple

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts import topic_lists  # noqa: E402

ROOT = topic_lists.ROOT
PLACEHOLDER = "FILL IN"
MIN_TRAINING = 20
MIN_HELD_OUT = 5

TOPICS = Path("knowledge") / "topics.yml"
CHANNELS = Path("knowledge") / "channels.yml"
DOMAIN = Path("domain.yml")
HELD_OUT = Path("tests") / "nlu_holdout.yml"
TOPIC_QUESTIONS = Path("tests") / "data" / "topic_questions.yml"
REAL_STYLE = Path("tests") / "data" / "real_style_holdout.yml"
# Fields every topic has, and those that need an English label beside them.
REQUIRED_FIELDS = ("title", "title_en", "answer", "answer_en", "channels", "alternative")
ENGLISH_FIELDS = ("title", "answer", "prepare", "next_step")
CHANNEL_FIELDS = ("channels", "next_channels", "alternative", "green", "urgent_green")


LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def load(path: Path) -> Any:
    return yaml.load(path.read_text("utf-8"), Loader=LOADER) or {}


def _yaml(root: Path, relative: Path) -> Any:
    return load(root / relative)


def topics(root: Path = ROOT) -> Dict[str, Dict[str, Any]]:
    return _yaml(root, TOPICS).get("topics") or {}


def domain_intents(root: Path = ROOT) -> List[str]:
    return [i if isinstance(i, str) else next(iter(i)) for i in _yaml(root, DOMAIN).get("intents") or []]


def nlu_examples(path: Path) -> Iterator[Tuple[str, str]]:
    """(intent, text) of every example of a Rasa NLU file (examples as a block or as a list)."""
    document = load(path)
    for item in document.get("nlu") or []:
        if not isinstance(item, dict) or "intent" not in item:
            continue
        examples = item.get("examples") or ""
        if isinstance(examples, str):
            for line in examples.splitlines():
                if line.strip().startswith("- "):
                    yield item["intent"], line.strip()[2:].strip()
        else:
            for example in examples:
                text = example.get("text") if isinstance(example, dict) else example
                if text:
                    yield item["intent"], str(text).strip()


def training_files(root: Path = ROOT) -> List[Path]:
    return [root / "data" / "nlu.yml", *sorted((root / "data" / "nlu").rglob("*.yml"))]


def training_examples(root: Path = ROOT) -> List[Tuple[str, str, Path]]:
    """(intent, text, file relative to root) of every training example."""
    return [
        (intent, text, path.relative_to(root))
        for path in training_files(root)
        for intent, text in nlu_examples(path)
    ]


def comparable(text: str) -> str:
    """A sentence without case, spaces and punctuation, to tell two examples are the same."""
    return re.sub(r"[\s,.!?;:，。！？；：、~]+", "", text.lower())


def is_placeholder(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return any(is_placeholder(v) for v in value)
    if isinstance(value, dict):
        return any(is_placeholder(v) for v in value.values())
    return PLACEHOLDER in str(value)


def lists(root: Path = ROOT) -> List[str]:
    """The lists Rasa reads literally agree with knowledge/topics.yml (scripts/topic_lists.py)."""
    return topic_lists.problems(root)


def entries(root: Path = ROOT) -> List[str]:
    """Every entry of knowledge/topics.yml has its fields, written, naming channels that exist."""
    channel_ids = set(_yaml(root, CHANNELS).get("channels") or {})
    found = []
    for name, entry in topics(root).items():
        entry = entry or {}
        where = f"topic `{name}` in {TOPICS}"
        for field in REQUIRED_FIELDS:
            if field not in entry or entry[field] in (None, "", []):
                found.append(
                    f"{where} has no `{field}`: add it (the fields are described at the top of the file)"
                )
        for field, value in entry.items():
            if is_placeholder(value):
                found.append(f"{where}: `{field}` is still a placeholder ({PLACEHOLDER} …): write it")
        for field in ENGLISH_FIELDS:
            if field in entry and f"{field}_en" not in entry:
                found.append(f"{where} has `{field}` but no `{field}_en`: add its English label")
        for field in CHANNEL_FIELDS:
            value = entry.get(field)
            named = value if isinstance(value, list) else [value] if value else []
            for channel in named:
                if not is_placeholder(channel) and channel not in channel_ids:
                    found.append(
                        f"{where}: `{field}` names `{channel}`, which is no channel of {CHANNELS}: "
                        f"use one of its ids ({', '.join(sorted(channel_ids))})"
                    )
    return found


def _too_few(
    who: str, kind: str, intent: str, written: int, placeholders: int, needed: int, where: str
) -> List[str]:
    """The sentence for an intent with fewer than `needed` written examples of a kind, or placeholders left:
    "topic `x` has no held-out NLU examples: add at least 5 under `- intent: x` in tests/nlu_holdout.yml"."""
    left = f" ({placeholders} placeholders, {PLACEHOLDER} …)" if placeholders else ""
    if written < needed:
        has = (
            f"{written} {kind}{left}: add {needed - written} more"
            if written
            else f"no {kind}{left}: add at least {needed}"
        )
        return [f"{who} has {has} under `- intent: {intent}` in {where}"]
    if placeholders:
        return [
            f"{who} still has {placeholders} placeholder {kind} ({PLACEHOLDER} …) in {where}: "
            "write or delete them"
        ]
    return []


def training(root: Path = ROOT) -> List[str]:
    """Every intent of the domain has at least MIN_TRAINING written training examples, and no sentence
    is trained under two intents."""
    intents = domain_intents(root)
    names = topics(root)
    examples = training_examples(root)
    real = Counter(intent for intent, text, _ in examples if not is_placeholder(text))
    placeholders: Dict[str, Counter] = defaultdict(Counter)
    for intent, text, path in examples:
        if is_placeholder(text):
            placeholders[intent][path] += 1
    found = []
    for intent in dict.fromkeys([*names, *intents]):
        files = placeholders[intent]
        where = (
            " and ".join(map(str, files))
            if files
            else f"data/nlu/{intent}.yml (or another file of data/nlu/)"
        )
        who = f"{'topic' if intent in names else 'intent'} `{intent}`"
        written, left = real[intent], sum(files.values())
        found += _too_few(who, "training examples", intent, written, left, MIN_TRAINING, where)
    for intent in sorted({intent for intent, _, _ in examples} - set(intents)):
        files = sorted({str(path) for i, _, path in examples if i == intent})
        found.append(
            f"`{intent}` has training examples ({', '.join(files)}) but is no intent of {DOMAIN}: "
            f"add it to {TOPICS} (a topic, then `make topic-lists`) or to the domain's intents"
        )
    seen: Dict[str, Tuple[str, Path]] = {}
    for intent, text, path in examples:
        key = comparable(text)
        if key in seen and seen[key][0] != intent and not is_placeholder(text):
            other, other_path = seen[key]
            found.append(
                f"“{text}” is a training example of `{intent}` ({path}) and of `{other}` ({other_path}): "
                "keep it under one intent"
            )
        seen.setdefault(key, (intent, path))
    return found


def held_out(root: Path = ROOT) -> List[str]:
    """Every intent has at least MIN_HELD_OUT written held-out examples, none of them trained."""
    intents = domain_intents(root)
    names = topics(root)
    examples = list(nlu_examples(root / HELD_OUT))
    real = Counter(intent for intent, text in examples if not is_placeholder(text))
    placeholders = Counter(intent for intent, text in examples if is_placeholder(text))
    found = []
    for intent in dict.fromkeys([*names, *intents]):
        who = f"{'topic' if intent in names else 'intent'} `{intent}`"
        found += _too_few(
            who,
            "held-out NLU examples",
            intent,
            real[intent],
            placeholders[intent],
            MIN_HELD_OUT,
            str(HELD_OUT),
        )
    for intent in sorted(set(real) - set(intents)):
        found.append(
            f"`{intent}` has held-out examples in {HELD_OUT} but is no intent of {DOMAIN}: remove them"
        )
    trained = {comparable(text): (intent, path) for intent, text, path in training_examples(root)}
    for intent, text in examples:
        if comparable(text) in trained and not is_placeholder(text):
            found.append(
                f"held-out example “{text}” of `{intent}` in {HELD_OUT} is also a training example "
                f"({trained[comparable(text)][1]}): reword one of them"
            )
    return found


def topic_questions(root: Path = ROOT) -> List[str]:
    """tests/data/topic_questions.yml asks one written question per topic, and only for topics."""
    questions = _yaml(root, TOPIC_QUESTIONS)
    names = topics(root)
    found = []
    for name in names:
        if name not in questions:
            found.append(
                f"topic `{name}` has no question in {TOPIC_QUESTIONS}: add a line "
                f"`{name}: <a question about it>` (worded unlike the training and held-out examples)"
            )
        elif is_placeholder(questions[name]):
            found.append(
                f"topic `{name}`: its question in {TOPIC_QUESTIONS} is still a placeholder: write it"
            )
    for name in questions:
        if name not in names:
            found.append(f"`{name}` in {TOPIC_QUESTIONS} is no topic of {TOPICS}: remove its line")
    return found


def real_style(root: Path = ROOT) -> List[str]:
    """Every topic has cases in the real-style set, or is one of the topics it names as without cases."""
    document = _yaml(root, REAL_STYLE)
    without = list(document.get("topics_without_cases") or [])
    covered = {case.get("topic") for case in document.get("cases") or []}
    names = topics(root)
    found = []
    for name in names:
        if name not in covered and name not in without:
            found.append(
                f"topic `{name}` has no case in {REAL_STYLE}: add `{name}` to its `topics_without_cases` "
                "(the set is collected, not written with the training data)"
            )
        if name in covered and name in without:
            found.append(f"topic `{name}` has cases in {REAL_STYLE}: take it out of `topics_without_cases`")
    for name in without:
        if name not in names:
            found.append(
                f"`{name}` in `topics_without_cases` of {REAL_STYLE} is no topic of {TOPICS}: remove it"
            )
    return found


# Sentences of the documentation that state a number of topics or intents (spaces and line breaks
# between the words allowed), and what the number must be.
STATED_COUNTS: Tuple[Tuple[str, str], ...] = (
    (r"(\d+)\s+topic\s+intents", "topics"),
    (r"(\d+)\s+FAQ\s+topics", "topics"),
    (r"each\s+of\s+the\s+(\d+)\s+intents", "intents"),
    (r"(\d+)\s+intents\s+in\s+all", "intents"),
)


def counts(root: Path = ROOT) -> List[str]:
    """The numbers of topics and intents README.md and docs/*.md state are the real ones."""
    actual = {"topics": len(topics(root)), "intents": len(domain_intents(root))}
    source = {"topics": f"entries of {TOPICS}", "intents": f"intents of {DOMAIN}"}
    found = []
    for path in [root / "README.md", *sorted((root / "docs").glob("*.md"))]:
        if not path.exists():
            continue
        text = path.read_text("utf-8")
        for pattern, what in STATED_COUNTS:
            for match in re.finditer(pattern, text):
                if int(match.group(1)) != actual[what]:
                    line = text.count("\n", 0, match.start()) + 1
                    phrase = " ".join(match.group(0).split())
                    found.append(
                        f"{path.relative_to(root)} line {line} says “{phrase}”: there are {actual[what]} "
                        f"{source[what]}; write {actual[what]}, or no number"
                    )
    return found


CHECKS: Tuple[Callable[[Path], List[str]], ...] = (
    lists,
    entries,
    training,
    held_out,
    topic_questions,
    real_style,
    counts,
)


def problems(root: Path = ROOT) -> List[str]:
    """What every check finds."""
    return [problem for check in CHECKS for problem in check(root)]


def main() -> int:
    found = problems(ROOT)
    for problem in found:
        print(problem)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
