"""The review loop's figures for the report: the bot's misses per day and reason, and how many were reviewed.

The misses come from the tracker store (review/misses.py), the decisions from the service database's
review_labels (review/labels.py; a database from before that table counts none)."""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any, Dict

from sqlalchemy import create_engine, inspect, select

from review.labels import DECIDED, DECISIONS, text_key
from review.misses import REASONS, find_misses
from review.schema import review_labels
from review.scrub import scrub


def review_figures(tracker_url: str, service_url: str) -> Dict[str, Any]:
    """`total` misses (`texts`: distinct texts, what a supervisor reviews), `by_reason` and `by_day`
    (the primary reason; days in Beijing time), `reviewed` texts (`by_decision`) and `pending` ones."""
    misses = find_misses(tracker_url)
    keys = {miss.event_id: text_key(scrub(miss.text)) for miss in misses}
    by_day: Dict[str, Counter] = defaultdict(Counter)
    for miss in misses:
        by_day[miss.at.strftime("%Y-%m-%d")][miss.reason] += 1
    decisions: Dict[str, str] = {}
    engine = create_engine(service_url)
    if inspect(engine).has_table(review_labels.name):
        with engine.connect() as connection:
            rows = connection.execute(
                select(review_labels.c.text_key, review_labels.c.decision).where(
                    review_labels.c.status == DECIDED, review_labels.c.text_key.in_(set(keys.values()))
                )
            )
            decisions = {row.text_key: row.decision for row in rows}
    engine.dispose()
    texts = set(keys.values())
    reviewed = Counter(decisions.values())
    reasons = Counter(miss.reason for miss in misses)
    return {
        "total": len(misses),
        "texts": len(texts),
        "by_reason": {reason: reasons.get(reason, 0) for reason in REASONS},
        "by_day": {
            day: {**{reason: counts.get(reason, 0) for reason in REASONS}, "total": sum(counts.values())}
            for day, counts in sorted(by_day.items())
        },
        "reviewed": len(decisions),
        "by_decision": {decision: reviewed.get(decision, 0) for decision in DECISIONS},
        "pending": len(texts) - len(decisions),
    }
