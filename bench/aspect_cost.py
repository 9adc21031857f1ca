"""What the aspect classifier costs a message: the NLU pipeline timed on the same messages with and
without it, in the same process, interleaved round by round (so the machine's other work slows both
alike), and the component's own `process` alone.

    python bench/aspect_cost.py                       # 200 held-out questions, 5 rounds
    python bench/aspect_cost.py --before models/old.tar.gz   # also a model trained without it

Without it means the same trained model with the classifier's step skipped; `--before` adds a whole
other model (e.g. the one trained before the classifier existed) for comparison. Prints the median
time per message of each, in milliseconds, and writes results/aspect_cost.json.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import statistics
import sys
import time
from pathlib import Path
from typing import Callable, Dict, List

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import tracker_stores.cached_sql  # noqa: E402, F401  (installs the server's speed-ups of Rasa, tuning/)
from components.aspect_classifier import AspectClassifier  # noqa: E402
from tests.test_answers import BLIND, HOLDOUT, cases  # noqa: E402


def questions(count: int) -> List[str]:
    turns = [turn for path in (HOLDOUT, BLIND) for case in cases(path) for turn in case["turns"]]
    return list(dict.fromkeys(turns))[:count]


def per_message(parse: Callable[[str], Dict], texts: List[str]) -> float:
    start = time.perf_counter()
    for text in texts:
        parse(text)
    return (time.perf_counter() - start) / len(texts) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default=str(ROOT / "models" / "douyin-cs.tar.gz"))
    parser.add_argument("--before", help="a model trained without the aspect classifier")
    parser.add_argument("--messages", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=9)
    args = parser.parse_args()

    from rasa.core.agent import Agent
    from rasa.utils.log_utils import configure_structlog

    configure_structlog(logging.INFO)  # as the server logs by default: no debug line per message
    texts = questions(args.messages)
    agent = Agent.load(args.model)
    before = Agent.load(args.before) if args.before else None

    def parse_with(model_agent) -> Callable[[str], Dict]:
        return lambda text: asyncio.run(model_agent.parse_message(text))

    # The graph node calls the function it looked up when the model was loaded: swap that one.
    nodes = [
        node
        for node in agent.processor.graph_runner._instantiated_nodes.values()
        if node._component_class is AspectClassifier
    ]
    assert nodes, f"{args.model} has no AspectClassifier"
    process = nodes[0]._fn
    component_ms: List[float] = []

    def timed_process(self, messages):
        start = time.perf_counter()
        result = process(self, messages)
        component_ms.append((time.perf_counter() - start) * 1000)
        return result

    def skipped(self, messages):
        return messages

    def use(function) -> None:
        for node in nodes:
            node._fn = function

    timings: Dict[str, List[float]] = {"with": [], "without": [], **({"before": []} if before else {})}
    per_message(parse_with(agent), texts[:20])  # warm-up
    for _ in range(args.rounds):
        use(timed_process)
        timings["with"].append(per_message(parse_with(agent), texts))
        use(skipped)
        timings["without"].append(per_message(parse_with(agent), texts))
        if before:
            timings["before"].append(per_message(parse_with(before), texts))
    use(process)

    figures = {name: round(statistics.median(values), 3) for name, values in timings.items()}
    figures["added_by_the_classifier"] = round(figures["with"] - figures["without"], 3)
    figures["classifier_process_alone"] = round(statistics.median(component_ms), 3)
    figures["messages"], figures["rounds"] = len(texts), args.rounds
    (ROOT / "results").mkdir(exist_ok=True)
    (ROOT / "results" / "aspect_cost.json").write_text(json.dumps(figures, indent=1), "utf-8")
    for name, value in figures.items():
        print(f"{name:28s} {value}")


if __name__ == "__main__":
    main()
