"""The action server's metrics on GET /metrics: human transfers by outcome (actions/handoff.py counts
them), and, read from the service database at each scrape, the queue and the agents online.

rasa_sdk has no hook for routes: `attach()` adds /metrics to its Sanic app while the app loads the
actions (actions/metrics.py calls it), before the server starts; anywhere else it does nothing. The
database's figures are the same seen from every action server sharing it: aggregate them with max().
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime, timezone
from typing import Any, Iterator

from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, Counter, generate_latest
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select

from agents.accounts import online_agents
from core import store

logger = logging.getLogger(__name__)

TRANSFERS = Counter(
    "douyin_cs_transfers",
    "Requests for a human agent by outcome: queued, queued_nobody_online (in service hours with no "
    "agent logged in), after_hours (the open channels and a ticket offered instead), failed (the "
    "database refused the queue entry)",
    ["outcome"],
)
OUTCOMES = ("queued", "queued_nobody_online", "after_hours", "failed")


def count_transfer(outcome: str) -> None:
    TRANSFERS.labels(outcome).inc()


class ServiceDatabaseCollector:
    """Gauges read from the service database when Prometheus scrapes (a few milliseconds)."""

    def collect(self) -> Iterator[GaugeMetricFamily]:
        up = GaugeMetricFamily(
            "douyin_cs_service_database_up", "1 if the service database answered this scrape"
        )
        try:
            queue = store.handoff_queue
            with store.engine().connect() as connection:
                counts = dict(
                    connection.execute(
                        select(queue.c.status, func.count())
                        .where(queue.c.status.in_(store.OPEN_QUEUE_STATUSES))
                        .group_by(queue.c.status)
                    ).all()
                )
                oldest = connection.execute(
                    select(func.min(queue.c.enqueued_at)).where(queue.c.status == "waiting")
                ).scalar()
            online = len(online_agents())
        except store.StoreError:
            logger.exception("Metrics: the service database did not answer")
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield GaugeMetricFamily(
            "douyin_cs_queue_waiting",
            "Conversations waiting for a human agent",
            value=counts.get("waiting", 0),
        )
        yield GaugeMetricFamily(
            "douyin_cs_chats_open",
            "Conversations an agent has taken and not closed",
            value=counts.get("taken", 0),
        )
        now = datetime.now(timezone.utc).replace(tzinfo=None)
        waited = max((now - oldest).total_seconds(), 0.0) if oldest is not None else 0.0
        yield GaugeMetricFamily(
            "douyin_cs_queue_oldest_wait_seconds",
            "How long the longest-waiting conversation has waited (0: nobody waits)",
            value=waited,
        )
        yield GaugeMetricFamily(
            "douyin_cs_agents_online",
            "Agents logged in and seen in the last 90 s (agents/accounts.py)",
            value=online,
        )


async def metrics(_request: Any) -> Any:
    from sanic import response

    # The collector queries the database: off the event loop that runs the actions.
    body = await asyncio.get_running_loop().run_in_executor(None, generate_latest, REGISTRY)
    return response.raw(body, content_type=CONTENT_TYPE_LATEST)


_attached = False


def attach() -> bool:
    """Adds /metrics to rasa_sdk's app and the database's gauges to the registry, once; False where
    there is no action server being set up (tests that run actions directly, the Rasa server)."""
    global _attached
    if _attached:
        return True
    try:
        from sanic import Sanic

        app = Sanic.get_app("rasa_sdk")
    except Exception:  # no such app in this process
        return False
    app.add_route(metrics, "/metrics", methods=["GET"], name="douyin_cs_metrics")
    REGISTRY.register(ServiceDatabaseCollector())
    for outcome in OUTCOMES:  # every outcome shows, at 0, from the start
        TRANSFERS.labels(outcome)
    _attached = True
    return True
