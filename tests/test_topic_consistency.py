"""Every file that holds something per FAQ topic agrees with knowledge/topics.yml (scripts/topic_checks.py),
and the new topic's scaffold (scripts/new_topic.py) leaves only placeholders to write.

A failure names the topic, the file and what to add, one line each, e.g.
    topic `offline_xr_demo` has no held-out NLU examples: add at least 5 under
    `- intent: offline_xr_demo` in tests/nlu_holdout.yml
No model is needed; the check that trains one (`new_topic.py --check`) is marked slow.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path
from typing import Callable, List

import pytest
import yaml

from scripts import new_topic, topic_checks, topic_lists
from tests.conftest import ROOT

NEW = "offline_xr_demo"
# What the checks and the scaffold read, copied for the tests that change files (not README.md: its
# figures are checked on the real file only).
PROJECT_FILES = (
    "knowledge",
    "domain.yml",
    "data",
    "tests/nlu_holdout.yml",
    "tests/data/topic_questions.yml",
    "tests/data/real_style_holdout.yml",
)


def report(found: List[str]) -> None:
    """Fails with the checks' own sentences, one a line, instead of a comparison of two lists."""
    if found:
        pytest.fail("\n".join(found), pytrace=False)


@pytest.mark.parametrize(
    "check",
    topic_checks.CHECKS,
    ids=[check.__name__ for check in topic_checks.CHECKS],
)
def test_the_project_agrees_with_its_topics(check: Callable[[Path], List[str]]) -> None:
    report(check(ROOT))


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the files that hold the topics."""
    for name in PROJECT_FILES:
        source, target = ROOT / name, tmp_path / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if source.is_dir():
            shutil.copytree(source, target)
        else:
            shutil.copy(source, target)
    return tmp_path


def about(name: str, found: List[str]) -> List[str]:
    return [problem for problem in found if f"`{name}`" in problem]


def test_a_topic_missing_from_a_list_is_named_with_its_file_and_written_back(project: Path) -> None:
    rules = project / "data" / "rules.yml"
    rules.write_text(rules.read_text("utf-8").replace("        - intent: media_interview\n", "", 1), "utf-8")
    assert topic_checks.lists(project) == [
        "topic `media_interview` of knowledge/topics.yml is missing from the list of data/rules.yml "
        "(line 11): run `make topic-lists` to add `- intent: media_interview`"
    ]
    assert topic_lists.write(project) == [Path("data") / "rules.yml"]
    assert topic_checks.lists(project) == []
    assert rules.read_text("utf-8") == (ROOT / "data" / "rules.yml").read_text("utf-8")


def test_a_topic_added_by_hand_is_named_in_every_file_it_lacks(project: Path) -> None:
    with open(project / "knowledge" / "topics.yml", "a", encoding="utf-8") as topics:
        topics.write(f"\n  {NEW}:\n    title: 线下XR体验\n")
    found = "\n".join(about(NEW, topic_checks.problems(project)))
    for where in (
        "domain.yml",
        "data/rules.yml",
        "data/form_rules.yml",
        "has no `title_en`",
        f"has no training examples: add at least 20 under `- intent: {NEW}` in data/nlu/{NEW}.yml",
        f"topic `{NEW}` has no held-out NLU examples: add at least 5 under `- intent: {NEW}` in "
        "tests/nlu_holdout.yml",
        "tests/data/topic_questions.yml",
        "topics_without_cases",
    ):
        assert where in found


def test_a_wrong_channel_and_sentences_in_two_places_are_named(project: Path) -> None:
    topics_file = project / "knowledge" / "topics.yml"
    text = topics_file.read_text("utf-8")
    topics_file.write_text(text.replace("alternative: hotline", "alternative: hotlines", 1), "utf-8")
    held_out_sentence = next(topic_checks.nlu_examples(project / topic_checks.HELD_OUT))[1]
    trained = next(t for t in topic_checks.training_examples(project) if t[0] == "phone_hotline")
    with open(project / "data" / "nlu" / "followup.yml", "a", encoding="utf-8") as extra:
        extra.write(f"- intent: account_ban\n  examples: |\n    - {held_out_sentence}\n")
        extra.write(f"- intent: greet\n  examples: |\n    - {trained[1]}\n")
    found = "\n".join(topic_checks.problems(project))
    assert (
        "topic `account_ban` in knowledge/topics.yml: `alternative` names `hotlines`, which is no channel"
        in found
    )
    assert (
        f"held-out example “{held_out_sentence}” of `account_ban` in tests/nlu_holdout.yml is also a "
        in found
    )
    assert (
        f"is a training example of `greet` (data/nlu/followup.yml) and of `phone_hotline` ({trained[2]})"
        in found
    )


def test_the_scaffold_leaves_only_placeholders_to_write(project: Path) -> None:
    before = topic_checks.problems(project)
    written = new_topic.scaffold(NEW, zh="线下XR体验", root=project)
    assert len(written) == 8  # entry, examples, held-out, question, real-style set, three lists
    found = topic_checks.problems(project)
    assert [p for p in found if p not in before and f"`{NEW}`" not in p] == []
    assert about(NEW, found) and all("placeholder" in p for p in about(NEW, found))
    # The generated lists are Rasa's YAML: both ticket forms answer the topic (the anchor *faq_topics).
    rules = yaml.safe_load((project / "data" / "form_rules.yml").read_text("utf-8"))["rules"]
    forms = {
        rule["condition"][0]["active_loop"]
        for rule in rules
        if {"intent": NEW} in rule["steps"][0].get("or", [])
    }
    assert forms == {"ticket_form", "ticket_verify_form"}
    assert NEW in yaml.safe_load((project / "domain.yml").read_text("utf-8"))["intents"]


def fill(project: Path, name: str) -> None:
    """Writes what a person writes in place of the scaffold's placeholders."""
    topics_file = project / "knowledge" / "topics.yml"
    text = topics_file.read_text("utf-8")
    start = text.index(f"\n  {name}:\n")
    topics_file.write_text(
        text[:start]
        + f"""
  {name}:
    title: 线下XR体验
    title_en: Offline XR demo
    answer: 线下体验可以在线下服务中心预约。
    answer_en: You can book a visit to an offline service center.
    channels: [center_chengdu, center_beijing, center_shanghai]
    alternative: hotline
""",
        "utf-8",
    )
    training = "\n".join(f"    - 抖音XR体验馆第{n}号展位在哪里预约" for n in range(1, 21))
    (project / "data" / "nlu" / f"{name}.yml").write_text(
        f'version: "3.1"\nnlu:\n- intent: {name}\n  examples: |\n{training}\n', "utf-8"
    )
    held_out = project / "tests" / "nlu_holdout.yml"
    lines = held_out.read_text("utf-8").splitlines()
    kept = [line for line in lines if topic_checks.PLACEHOLDER not in line]
    kept[kept.index(f"- intent: {name}") + 2 : kept.index(f"- intent: {name}") + 2] = [
        f"    - 想去线下体验XR设备要怎么约时间{n}" for n in range(5)
    ]
    held_out.write_text("\n".join(kept) + "\n", "utf-8")
    questions = project / "tests" / "data" / "topic_questions.yml"
    lines = questions.read_text("utf-8").splitlines()
    questions.write_text("\n".join([*lines[:-1], f"{name}: 线下的XR体验馆可以去吗"]) + "\n", "utf-8")


def test_the_checks_pass_once_the_placeholders_are_written(project: Path) -> None:
    before = topic_checks.problems(project)
    new_topic.scaffold(NEW, zh="线下XR体验", en="Offline XR demo", root=project)
    fill(project, NEW)
    assert topic_checks.problems(project) == before


def test_the_scaffold_refuses_a_name_taken_and_adds_nothing_twice(project: Path) -> None:
    taken = (("greet", "not a topic"), ("account_ban", "exists already"), ("Bad-Name", "lower case"))
    for name, reason in taken:
        with pytest.raises(new_topic.Refused, match=reason):
            new_topic.scaffold(name, root=project)
    new_topic.scaffold(NEW, root=project)
    files = {path: path.read_bytes() for path in project.rglob("*") if path.is_file()}
    with pytest.raises(new_topic.Refused, match="exists already"):
        new_topic.scaffold(NEW, root=project)
    assert {path: path.read_bytes() for path in project.rglob("*") if path.is_file()} == files


def test_a_topic_that_lacks_some_files_gets_only_those(project: Path) -> None:
    new_topic.scaffold(NEW, root=project)
    (project / "data" / "nlu" / f"{NEW}.yml").unlink()
    assert new_topic.scaffold(NEW, root=project) == [
        f"data/nlu/{NEW}.yml: 20 placeholder training examples",
    ]


def test_make_topic_runs_the_scaffold_from_the_command_line(project: Path) -> None:
    command = [sys.executable, str(ROOT / "scripts" / "new_topic.py"), NEW, "--zh", "线下XR体验"]
    result = subprocess.run([*command, "--root", str(project)], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert f"wrote data/nlu/{NEW}.yml" in result.stdout and "Still to write" in result.stdout
    again = subprocess.run([*command, "--root", str(project)], capture_output=True, text=True)
    assert again.returncode == 1 and "exists already" in again.stderr


def test_the_documentation_s_figures_are_read(tmp_path: Path) -> None:
    shutil.copytree(ROOT / "knowledge", tmp_path / "knowledge")
    shutil.copy(ROOT / "domain.yml", tmp_path / "domain.yml")
    topics = len(topic_checks.topics(ROOT))
    readme = f"into {topics} topic\n   intents, and 7 cases for each of the 2 intents"
    (tmp_path / "README.md").write_text(readme, "utf-8")
    assert topic_checks.counts(tmp_path) == [
        f"README.md line 2 says “each of the 2 intents”: there are {len(topic_checks.domain_intents(ROOT))} "
        f"intents of domain.yml; write {len(topic_checks.domain_intents(ROOT))}, or no number"
    ]


# ---------------------------------------------------------------- the confusion report

BEFORE = {
    "offline_center": {"precision": 1.0, "recall": 1.0, "f1-score": 1.0, "support": 7, "confused_with": {}},
    "greet": {"precision": 1.0, "recall": 1.0, "f1-score": 1.0, "support": 7, "confused_with": {}},
    "accuracy": 0.98,
}
AFTER = {
    NEW: {
        "precision": 0.8,
        "recall": 0.8,
        "f1-score": 0.8,
        "support": 5,
        "confused_with": {"offline_center": 1},
    },
    "offline_center": {
        "precision": 0.86,
        "recall": 0.86,
        "f1-score": 0.86,
        "support": 7,
        "confused_with": {NEW: 1},
    },
    "greet": {"precision": 1.0, "recall": 1.0, "f1-score": 1.0, "support": 7, "confused_with": {}},
    "accuracy": 0.97,
}
ERRORS = [
    {"text": "成都线下中心能预约吗", "intent": "offline_center", "intent_prediction": {"name": NEW}},
    {"text": "XR体验在哪", "intent": NEW, "intent_prediction": {"name": "offline_center"}},
]


def test_the_confusion_report_names_the_cases_the_new_topic_takes() -> None:
    text = new_topic.confusion_report(NEW, BEFORE, AFTER, ERRORS)
    assert text.splitlines() == [
        f"`{NEW}`: F1 0.80 on its 5 held-out examples (precision 0.80, recall 0.80)",
        f"Held-out examples of other intents now read as `{NEW}` (the new topic takes their cases):",
        "  offline_center: 1 — “成都线下中心能预约吗”",
        f"Held-out examples of `{NEW}` read as another intent (its examples are too close to theirs):",
        "  offline_center: 1 — “XR体验在哪”",
        "Intents whose held-out F1 dropped against the current model:",
        f"  offline_center: 1.00 → 0.86 (read as: {NEW} 1)",
        "Held-out accuracy: 0.980 (current model) → 0.970",
    ]
    clean = {**AFTER, "offline_center": BEFORE["offline_center"], NEW: {**AFTER[NEW], "confused_with": {}}}
    assert "no intent's F1 dropped" in new_topic.confusion_report(NEW, BEFORE, clean, [])


@pytest.mark.slow
def test_the_topic_check_trains_the_nlu_and_reports(project: Path) -> None:
    """`new_topic.py --check` on a written topic: the NLU trained with it, both models read the held-out
    file (about two minutes)."""
    for name in ("config.yml", "components", "spacy_zh", "models"):
        (project / name).symlink_to(ROOT / name)
    new_topic.scaffold(NEW, zh="线下XR体验", en="Offline XR demo", root=project)
    fill(project, NEW)
    text = new_topic.check(NEW, root=project)
    assert text.startswith(f"`{NEW}`: F1 ") and "Held-out accuracy" in text
