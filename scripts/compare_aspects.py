"""Compares the three ways of reading the aspect a question asks (core/aspects.py, CS_ASPECT_READING):
the word lists alone (knowledge/lexicon.yml), the learned aspect alone (the AspectClassifier's entity)
and both combined (the default).

1. The aspect itself: every question of the answer sets (tests/data/answer_holdout.yml,
   answer_blind.yml, real_shape_dev.yml) carries the aspect it asks (`topic` = none); each reading's
   first aspect is scored against it, with the trained model (models/douyin-cs.tar.gz).
2. The reply a user sees: the same sets through the REST channel of the real Rasa server and action
   server, once per reading (the action server restarted with CS_ASPECT_READING), scored by
   tests/test_answers.py's rules; also how many replies list topics to choose from, ask between two
   cases, or name the case they assumed.

Writes results/compare_aspects.json and prints a table (README, "Precise answers").
    python scripts/compare_aspects.py [--no-replies]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Dict, List

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from core.aspects import NO_ASPECT, READINGS, combine, learned_aspect, read_question  # noqa: E402
from tests.bot import MODEL, RunningBot, joined, new_sender  # noqa: E402
from tests.test_answers import SETS, TOPIC_LIST, TWO_CASE_QUESTION, cases, problems  # noqa: E402

SIM_NOW = "2026-11-25T10:00:00+08:00"
ASSUMED = ("我按“", "I took this as")


def aspect_accuracy() -> Dict[str, Dict[str, float]]:
    from rasa.core.agent import Agent

    agent = Agent.load(str(MODEL))
    figures: Dict[str, Dict[str, float]] = {}
    for name, path in SETS:
        right = {how: 0 for how in READINGS}
        questions = cases(path)
        for case in questions:
            text = case["turns"][-1]
            asked = NO_ASPECT if case["aspect"] == "topic" else case["aspect"]
            learned = learned_aspect(asyncio.run(agent.parse_message(text))["entities"])
            words = read_question(text).aspects  # without a learned aspect: the word lists' alone
            for how in READINGS:
                found = combine(words, learned, how)
                right[how] += (found[0] if found else NO_ASPECT) == asked
        figures[name] = {how: round(n / len(questions), 3) for how, n in right.items()}
    return figures


def replies() -> Dict[str, Dict[str, Dict]]:
    bot = RunningBot(Path(tempfile.mkdtemp())).start(SIM_NOW)
    figures: Dict[str, Dict[str, Dict]] = {}
    try:
        for how in READINGS:
            os.environ["CS_ASPECT_READING"] = how  # the action server takes it from the environment
            bot.restart_actions(SIM_NOW)
            figures[how] = {}
            for name, path in SETS:
                outcomes: List[Dict] = []
                for case in cases(path):
                    sender = new_sender()
                    last = [bot.say(sender, turn) for turn in case["turns"]][-1]
                    outcomes.append({"id": case["id"], "ok": not problems(case, last), "reply": joined(last)})
                figures[how][name] = {
                    "correct": round(sum(o["ok"] for o in outcomes) / len(outcomes), 3),
                    "cases": len(outcomes),
                    "topic_lists": sum(any(t in o["reply"] for t in TOPIC_LIST) for o in outcomes),
                    "two_case_questions": sum(
                        any(t in o["reply"] for t in TWO_CASE_QUESTION) for o in outcomes
                    ),
                    "assumed_case_named": sum(any(t in o["reply"] for t in ASSUMED) for o in outcomes),
                    "failures": [o["id"] for o in outcomes if not o["ok"]],
                }
    finally:
        os.environ.pop("CS_ASPECT_READING", None)
        bot.stop()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--no-replies", action="store_true", help="only the aspect accuracy (no servers)")
    args = parser.parse_args()
    report = {"aspect_accuracy": aspect_accuracy()}
    print("aspect read right    " + "  ".join(f"{how:>9s}" for how in READINGS))
    for name, row in report["aspect_accuracy"].items():
        print(f"  {name:18s} " + "  ".join(f"{row[how]:9.3f}" for how in READINGS))
    if not args.no_replies:
        report["replies"] = replies()
        print("replies correct      " + "  ".join(f"{how:>9s}" for how in READINGS))
        for name, _ in SETS:
            print(
                f"  {name:18s} "
                + "  ".join(f"{report['replies'][how][name]['correct']:9.3f}" for how in READINGS)
            )
    (ROOT / "results").mkdir(exist_ok=True)
    (ROOT / "results" / "compare_aspects.json").write_text(
        json.dumps(report, ensure_ascii=False, indent=1), "utf-8"
    )


if __name__ == "__main__":
    main()
