"""The review loop's commands: `python -m review misses | export | check`.

make review-misses, make review-export and make review-check run them."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import io
import logging
import sys
import warnings
from collections import Counter
from pathlib import Path
from typing import List, Optional

from review import check, datasets, export
from review.misses import REASON_TITLES, find_misses, since_days
from review.scrub import scrub

ROOT = datasets.ROOT
MODEL = ROOT / "models" / "douyin-cs.tar.gz"
TRACKER = f"sqlite:///{ROOT / 'var' / 'rasa_tracker.db'}"


def show_misses(args: argparse.Namespace) -> int:
    since = since_days(args.days) if args.days else None
    found = find_misses(args.tracker_db, since)
    print(
        f"{len(found)} misses: "
        + ", ".join(f"{REASON_TITLES[r]} {n}" for r, n in Counter(m.reason for m in found).items())
    )
    for miss in found[: args.limit]:
        read = f"{miss.intent} {miss.confidence or 0:.2f} / {miss.aspect}"
        print(f"{miss.at:%m-%d %H:%M} {REASON_TITLES[miss.reason]:<10} {read:<32} {scrub(miss.text)}")
    return 0


def run_export(args: argparse.Namespace) -> int:
    outcome = export.export(args.service_db, args.out)
    for entry in outcome.added:
        print(f"+ {entry.intent}{' / ' + entry.aspect if entry.aspect else ''}: {entry.text}")
    for text, why in outcome.refused:
        print(f"  not written ({why}): {text}")
    print(
        f"{args.out}: {len(outcome.added)} added, {outcome.kept} already there, "
        f"{len(outcome.refused)} not written."
    )
    if outcome.added:
        print("Next: make review-check (how the current model reads them), make train, make review-check.")
    return 0


def load_quietly(model: Path):
    """Rasa's agent for `model`, without the libraries' import warnings and debug lines (an error still
    shows: it is raised once the output is back)."""
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        import jieba
        from rasa.core.agent import Agent  # slow to import: only for this command
        from rasa.utils.log_utils import configure_structlog

        configure_structlog(logging.WARNING)  # no debug line per parsed message
        jieba.setLogLevel(logging.WARNING)
        return Agent.load(str(model))


def run_check(args: argparse.Namespace) -> int:
    entries = export.read_entries(args.data)
    if not entries:
        print(f"{args.data} holds no reviewed examples yet.")
        return 0
    agent = load_quietly(args.model)
    readings = check.read_all(entries, lambda text: asyncio.run(agent.parse_message(text)))
    model = hashlib.sha256(args.model.read_bytes()).hexdigest()[:16]
    print(check.table(readings, check.previous(model)))
    check.save(model, readings)
    return 1 if args.strict and not all(found.right for found in readings) else 0


def main(argv: Optional[List[str]] = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m review", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    misses = commands.add_parser("misses", help="list the bot's misses, newest first")
    misses.add_argument("--tracker-db", default=TRACKER, help="SQLAlchemy URL of the tracker store")
    misses.add_argument("--days", type=float, default=0, help="only conversations of the last N days")
    misses.add_argument("--limit", type=int, default=50)
    misses.set_defaults(run=show_misses)
    written = commands.add_parser("export", help="write the labels to data/nlu/reviewed.yml")
    written.add_argument("--service-db", help="SQLAlchemy URL (default: CS_DATABASE_URL or var/service.db)")
    written.add_argument("--out", type=Path, default=datasets.REVIEWED)
    written.set_defaults(run=run_export)
    checked = commands.add_parser("check", help="how the trained model reads every reviewed example")
    checked.add_argument("--model", type=Path, default=MODEL)
    checked.add_argument("--data", type=Path, default=datasets.REVIEWED)
    checked.add_argument("--strict", action="store_true", help="exit 1 if one is read wrongly")
    checked.set_defaults(run=run_check)
    args = parser.parse_args(argv)
    return args.run(args)


if __name__ == "__main__":
    sys.exit(main())
