"""Prints the real-style held-out set's figures (results/real_style.json, written by
`pytest tests/test_real_style.py`): per topic, per shape, the "did you mean" share and, with --misses,
the failing cases grouped by kind of miss.

    .venv/bin/python scripts/real_style_table.py [--misses] [--results PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Dict, List, Optional

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "results" / "real_style.json"
# The kinds of miss, in the order they are told apart (tests/test_real_style.py, kind_of_miss).
MISS_KINDS = ["other platform", "did you mean", "English", "wrong case", "wrong aspect", "other"]


def rate_table(title: str, groups: Dict[str, Dict]) -> List[str]:
    lines = [f"| {title} | correct | cases | rate |", "|---|---|---|---|"]
    for name, figures in sorted(groups.items(), key=lambda item: (item[1]["rate"], item[0])):
        lines.append(f"| {name} | {figures['correct']} | {figures['cases']} | {figures['rate']:.1%} |")
    return lines


def render(figures: Dict, misses: bool = False) -> str:
    """The figures as Markdown tables (weakest first), and the misses by kind when asked."""
    did = figures["did_you_mean"]
    lines = [
        f"Real-style held-out set: {figures['correct']}/{figures['cases']} replies correct "
        f"({figures['overall']:.1%}); \"did you mean\" in {did['replies']} replies ({did['rate']:.1%}); "
        f"{figures['seconds']:.0f} s for {figures['messages']} messages.",
        "",
        *rate_table("topic", figures["per_topic"]),
        "",
        *rate_table("shape", figures["per_shape"]),
        "",
        "| kind of miss | cases |",
        "|---|---|",
        *(f"| {kind} | {len(figures['misses'].get(kind, []))} |" for kind in MISS_KINDS),
    ]
    if misses:
        for kind in MISS_KINDS:
            group = figures["misses"].get(kind, [])
            if not group:
                continue
            lines += ["", f"## {kind} ({len(group)})"]
            for miss in group:
                reply = " / ".join(line for line in miss["reply"].splitlines() if line.strip())
                lines.append(
                    f"- {miss['id']} [{miss['topic']}, {miss['shape']}] {' → '.join(miss['turns'])}\n"
                    f"  NLU: {miss['intent']} ({miss['confidence']}); {'; '.join(miss['problems'])}\n"
                    f"  reply: {reply[:300]}"
                )
    return "\n".join(lines)


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--misses", action="store_true", help="list the failing cases by kind of miss")
    parser.add_argument("--results", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    if not args.results.exists():
        print(f"{args.results} is missing: run `pytest tests/test_real_style.py` first", file=sys.stderr)
        return 1
    print(render(json.loads(args.results.read_text("utf-8")), misses=args.misses))
    return 0


if __name__ == "__main__":
    sys.exit(main())
