"""A new FAQ topic (a case): its files with placeholders, then which existing topics its examples confuse.

    python scripts/new_topic.py offline_xr_demo --zh "线下XR体验" --en "Offline XR demo"   (make topic)
    python scripts/new_topic.py --check offline_xr_demo                                     (make topic-check)

The first writes what a topic needs and nothing else (docs/adding-a-topic.md): its entry in
knowledge/topics.yml, data/nlu/<name>.yml with placeholder training examples, placeholder held-out
examples in tests/nlu_holdout.yml, a placeholder question in tests/data/topic_questions.yml, the name in
the real-style set's `topics_without_cases`, and the lists of domain.yml, data/rules.yml and
data/form_rules.yml (scripts/topic_lists.py). Each placeholder holds "FILL IN";
tests/test_topic_consistency.py names those left. A name that is already an intent is refused; a topic
of knowledge/topics.yml that lacks some of these gets only what it lacks.

`--check` trains the NLU alone on data/ into a temporary directory, runs `rasa test nlu` on the held-out
file with it and with the current model (models/douyin-cs.tar.gz), and prints which held-out examples of
other topics the new one takes, which of its own go elsewhere, and the intents whose F1 dropped.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any, Dict, List, Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts import topic_checks, topic_lists  # noqa: E402

ROOT = topic_lists.ROOT
MODEL = Path("models") / "douyin-cs.tar.gz"
NAME = re.compile(r"^[a-z][a-z0-9_]{2,48}$")
HELD_OUT_PLACEHOLDERS = 7  # as many as every other intent has
FILL = topic_checks.PLACEHOLDER


class Refused(Exception):
    """The name cannot be a new topic."""


def _quoted(text: str) -> str:
    """A YAML double-quoted scalar (JSON's string syntax is YAML's)."""
    return json.dumps(text, ensure_ascii=False)


def entry_text(name: str, zh: Optional[str], en: Optional[str]) -> str:
    """The topic's entry in knowledge/topics.yml, placeholders where the caller gave nothing."""
    title = _quoted(zh) if zh else _quoted(f"{FILL}: 简短的中文名（答案的标题、按钮上的字）")
    title_en = _quoted(en) if en else _quoted(f"{FILL}: short English name")
    return f"""
  {name}:
    title: {title}
    title_en: {title_en}
    answer: {_quoted(f"{FILL}: 一句话引出答案（联系方式只写在 knowledge/channels.yml）")}
    answer_en: {_quoted(f"{FILL}: the same line in English")}
    # channel ids of knowledge/channels.yml, best first; each becomes a line of the answer
    channels: [{_quoted(f"{FILL}: channel id")}]
    prepare: [{_quoted(f"{FILL}: 用户要准备的材料")}]
    prepare_en: [{_quoted(f"{FILL}: the same in English")}]
    # the nearest other channel (id in knowledge/channels.yml); next_step, green, follow_up …: see the top
    alternative: {_quoted(f"{FILL}: channel id")}
"""


def training_text(name: str, title: str) -> str:
    examples = "\n".join(
        f"    - {FILL} {n}: a question users ask about {title}"
        for n in range(1, topic_checks.MIN_TRAINING + 1)
    )
    minimum = topic_checks.MIN_TRAINING
    return f"""version: "3.1"

# Training examples of the topic `{name}` ({title}, knowledge/topics.yml): at least {minimum},
# in the shapes people write them (question titles, a story first, English, pinyin, typos), none of them a
# sentence of tests/. Examples that ask one aspect of the case may be labelled as data/nlu/aspect_*.yml
# labels them:
#   - intent: {name}
#     metadata: {{aspect: response}}
#     examples: |
#       - …
nlu:
- intent: {name}
  examples: |
{examples}
"""


def held_out_text(name: str, title: str) -> str:
    examples = "\n".join(
        f"    - {FILL} {n}: a question about {title}, worded unlike data/nlu/{name}.yml"
        for n in range(1, HELD_OUT_PLACEHOLDERS + 1)
    )
    return f"- intent: {name}\n  examples: |\n{examples}\n"


def _append(path: Path, text: str) -> None:
    current = path.read_text("utf-8")
    path.write_text(current + ("" if current.endswith("\n") else "\n") + text, "utf-8")


def _add_without_cases(path: Path, name: str) -> None:
    text = path.read_text("utf-8")
    line = re.search(r"^topics_without_cases:\s*\[(.*)\]\s*$", text, re.MULTILINE)
    if not line:
        raise Refused(f"{path} has no line `topics_without_cases: [...]`: add it before the cases")
    names = [n.strip() for n in line.group(1).split(",") if n.strip()]
    new = f"topics_without_cases: [{', '.join([*names, name])}]"
    path.write_text(text[: line.start()] + new + text[line.end() :], "utf-8")


def scaffold(name: str, zh: Optional[str] = None, en: Optional[str] = None, root: Path = ROOT) -> List[str]:
    """Writes what the topic `name` lacks; returns what was written. Raises Refused for a name that is
    taken or malformed, or a topic that lacks nothing."""
    if not NAME.match(name):
        raise Refused(
            f"`{name}`: a topic's name is lower case letters, digits and _ (3-49), like offline_center"
        )
    topics = topic_checks.topics(root)
    intents = topic_checks.domain_intents(root)
    trained = {intent for intent, _, _ in topic_checks.training_examples(root)}
    if name not in topics and (name in intents or name in trained):
        raise Refused(
            f"`{name}` is an intent of domain.yml or data/ already, not a topic: choose another name"
        )
    title = zh or en or name
    written: List[str] = []
    if name not in topics:
        _append(root / topic_checks.TOPICS, entry_text(name, zh, en))
        written.append(f"{topic_checks.TOPICS}: the entry `{name}`")
    nlu_file = root / "data" / "nlu" / f"{name}.yml"
    if name not in trained and not nlu_file.exists():
        nlu_file.parent.mkdir(parents=True, exist_ok=True)
        nlu_file.write_text(training_text(name, title), "utf-8")
        written.append(f"data/nlu/{name}.yml: {topic_checks.MIN_TRAINING} placeholder training examples")
    held = {intent for intent, _ in topic_checks.nlu_examples(root / topic_checks.HELD_OUT)}
    if name not in held:
        _append(root / topic_checks.HELD_OUT, held_out_text(name, title))
        written.append(f"{topic_checks.HELD_OUT}: {HELD_OUT_PLACEHOLDERS} placeholder held-out examples")
    questions = topic_checks.load(root / topic_checks.TOPIC_QUESTIONS)
    if name not in questions:
        question = f"{FILL}: one question about {title}, worded unlike the examples"
        _append(root / topic_checks.TOPIC_QUESTIONS, f"{name}: {_quoted(question)}\n")
        written.append(f"{topic_checks.TOPIC_QUESTIONS}: a placeholder question")
    real_style = topic_checks.load(root / topic_checks.REAL_STYLE)
    covered = {case.get("topic") for case in real_style.get("cases") or []}
    if name not in covered and name not in (real_style.get("topics_without_cases") or []):
        _add_without_cases(root / topic_checks.REAL_STYLE, name)
        written.append(f"{topic_checks.REAL_STYLE}: `{name}` in `topics_without_cases`")
    written.extend(f"{path}: the topic in its list of topics" for path in topic_lists.write(root))
    if not written:
        raise Refused(f"topic `{name}` exists already, with everything a topic needs: nothing to add")
    return written


# ---------------------------------------------------------------- which topics the new one confuses

ReportDict = Dict[str, Dict[str, Any]]
SUMMARY_KEYS = {"accuracy", "macro avg", "weighted avg", "micro avg"}


def _f1(report: ReportDict, intent: str) -> Optional[float]:
    entry = report.get(intent)
    return entry.get("f1-score") if isinstance(entry, dict) else None


def confusion_report(name: str, before: ReportDict, after: ReportDict, errors: List[Dict[str, Any]]) -> str:
    """What the new topic's examples do to the held-out reading, from `rasa test nlu`'s intent_report.json
    of the current model (`before`) and of the model trained with the topic (`after`), and the new
    model's intent_errors.json."""
    lines: List[str] = []
    own = after.get(name) or {}
    if own:
        lines.append(
            f"`{name}`: F1 {own['f1-score']:.2f} on its {own['support']} held-out examples "
            f"(precision {own['precision']:.2f}, recall {own['recall']:.2f})"
        )
    else:
        lines.append(f"`{name}`: no held-out examples in tests/nlu_holdout.yml")

    def sentences(true: Optional[str], predicted: Optional[str]) -> List[str]:
        return [
            f"“{e['text']}”"
            for e in errors
            if (true is None or e["intent"] == true)
            and (predicted is None or e["intent_prediction"]["name"] == predicted)
        ]

    taken = {
        intent: entry["confused_with"][name]
        for intent, entry in after.items()
        if intent not in SUMMARY_KEYS and intent != name and name in (entry.get("confused_with") or {})
    }
    if taken:
        lines.append(
            f"Held-out examples of other intents now read as `{name}` (the new topic takes their cases):"
        )
        for intent, n in sorted(taken.items(), key=lambda item: -item[1]):
            lines.append(f"  {intent}: {n} — {', '.join(sentences(intent, name))}")
    lost = own.get("confused_with") or {}
    if lost:
        lines.append(
            f"Held-out examples of `{name}` read as another intent (its examples are too close to theirs):"
        )
        for intent, n in sorted(lost.items(), key=lambda item: -item[1]):
            lines.append(f"  {intent}: {n} — {', '.join(sentences(name, intent))}")
    dropped = []
    for intent in after:
        if intent in SUMMARY_KEYS or intent == name:
            continue
        old, new = _f1(before, intent), _f1(after, intent)
        if old is not None and new is not None and new < old - 1e-9:
            dropped.append((old - new, intent, old, new))
    if dropped:
        lines.append("Intents whose held-out F1 dropped against the current model:")
        for _, intent, old, new in sorted(dropped, reverse=True):
            confused = (after[intent].get("confused_with") or {}) if isinstance(after[intent], dict) else {}
            with_ = ", ".join(f"{other} {n}" for other, n in confused.items())
            lines.append(f"  {intent}: {old:.2f} → {new:.2f}" + (f" (read as: {with_})" if with_ else ""))
    if not taken and not lost and not dropped:
        lines.append(f"No other intent's held-out examples read as `{name}`, and no intent's F1 dropped.")
    if _f1(before, name):
        lines.append(
            f"The current model already reads `{name}` (trained after the topic was added): the figures "
            "above compare the new model with one that knows the topic too."
        )
    if "accuracy" in before and "accuracy" in after:
        lines.append(f"Held-out accuracy: {before['accuracy']:.3f} (current model) → {after['accuracy']:.3f}")
    return "\n".join(lines)


def _rasa(*args: str, root: Path) -> None:
    rasa = Path(sys.executable).parent / "rasa"
    env = {**os.environ, "PYTHONPATH": str(root), "RASA_TELEMETRY_ENABLED": "false"}
    done = subprocess.run([str(rasa), *args], cwd=root, env=env, capture_output=True, text=True)
    if done.returncode:
        raise Refused(
            f"rasa {' '.join(args)} failed:\n" + "\n".join((done.stdout + done.stderr).splitlines()[-30:])
        )


def _load_json(path: Path) -> Any:
    return json.loads(path.read_text("utf-8"))


def check(name: str, root: Path = ROOT, model: Path = MODEL) -> str:
    """Trains the NLU with the topic and compares its held-out reading with the current model's."""
    held_out = topic_checks.HELD_OUT
    unwritten = [p for p in topic_checks.training(root) + topic_checks.held_out(root) if f"`{name}`" in p]
    if name not in topic_checks.topics(root):
        raise Refused(f"`{name}` is no topic of knowledge/topics.yml: make topic NAME={name} first")
    if unwritten:
        raise Refused("write the examples first:\n" + "\n".join(unwritten))
    if not (root / model).exists():
        raise Refused(
            f"{model} is missing: `make train` (the current model is what the new one is compared with)"
        )
    with tempfile.TemporaryDirectory(prefix=f"topic-{name}-") as work:
        out = Path(work)
        print(f"training the NLU with `{name}` (about a minute) …", file=sys.stderr)
        _rasa("train", "nlu", "--config", "config.yml", "--nlu", "data", "--domain", "domain.yml",
              "--out", str(out), "--fixed-model-name", "nlu", root=root)  # fmt: skip
        print("reading the held-out examples with both models …", file=sys.stderr)
        for label, tested in (("before", root / model), ("after", out / "nlu.tar.gz")):
            _rasa(
                "test", "nlu", "-m", str(tested), "--nlu", str(held_out), "--out", str(out / label), root=root
            )
        before = _load_json(out / "before" / "intent_report.json")
        after = _load_json(out / "after" / "intent_report.json")
        errors_file = out / "after" / "intent_errors.json"
        errors = _load_json(errors_file) if errors_file.exists() else []
    return confusion_report(name, before, after, errors)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("name", help="the topic's intent, e.g. offline_xr_demo")
    parser.add_argument("--zh", help="its Chinese title (answers, buttons)")
    parser.add_argument("--en", help="its English title")
    parser.add_argument(
        "--check", action="store_true", help="train the NLU and report the topics it confuses"
    )
    parser.add_argument("--root", type=Path, default=ROOT, help="the project's directory")
    args = parser.parse_args(argv)
    try:
        if args.check:
            print(check(args.name, args.root))
            return 0
        for line in scaffold(args.name, args.zh, args.en, args.root):
            print(f"wrote {line}")
    except Refused as refused:
        print(refused, file=sys.stderr)
        return 1
    left = [p for p in topic_checks.problems(args.root) if f"`{args.name}`" in p]
    print(f"\nStill to write for `{args.name}` (pytest tests/test_topic_consistency.py says the same):")
    print("\n".join(f"  {p}" for p in left) or "  nothing")
    print(f"Then: make topic-check NAME={args.name} (which topics its examples confuse), make train.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
