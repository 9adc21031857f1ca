"""Speed of the production profile: PostgreSQL, Redis, the real action server, one and two Rasa servers.

`make bench` (bench/laptop.py) measures the laptop profile: SQLite, one Rasa server. This starts what
docs/deployment.md and endpoints.production.yml describe, on loopback: a throwaway PostgreSQL (tracker
store and service database, CS_DATABASE_URL) and Redis (lock store, socket.io rooms) as the tests start
them (tests/postgres.py, tests/redis_server.py), the action server, and two Rasa servers run with
endpoints.production.yml. Then, with the load of bench/load.py:

1. one long conversation (one sender, `long_messages` messages one at a time) on one Rasa server: the
   median reply of messages 1-10 and of the last 10, and their ratio (target: at most 1.3);
2. `concurrent` conversations, `clients` at a time, through one Rasa server, then the same conversations
   through both, each conversation's messages alternating between the servers (the case the shared
   tracker store and the lock store are for): messages/s and latency percentiles;
3. each server's resident memory after the load.

The requests pass through a small round-robin balancer in this process (where production has nginx)
that checks every reply: a status other than 200, no answer, an empty reply or the channel's "service
unavailable" fallback counts against the run. After each step, PostgreSQL's `events` must hold every
message sent, each followed by a bot utterance. `ok` is true when all of it holds and no server logged
an error.

    .venv/bin/python -m bench.production [--long 200] [--concurrent 50] [--clients 50]
"""

from __future__ import annotations

import argparse
import json
import re
import signal
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable, Collection, Dict, List, Optional, Sequence, Set

import requests
import yaml
from sqlalchemy import create_engine, text

from bench.load import SIM_NOW, conversations, long_conversation, play, rss_mb
from scripts.servers import ROOT, Server, action_server, free_port, rasa_server
from tests import postgres, redis_server

MODEL = ROOT / "models" / "douyin-cs.tar.gz"
OUT = ROOT / "results" / "bench" / "production"
ENDPOINTS = ROOT / "endpoints.production.yml"
LONG_TARGET = 1.3  # the last replies of the long conversation at most 1.3x the first (as `make bench`)
SENDERS = "bench-%"  # bench/load.py's senders: bench-<hex> and bench-long-<hex>
LOAD_FIGURES = ("messages", "p50_ms", "p95_ms", "p99_ms", "messages_per_second")
LONG_FIGURES = ("messages", "first_ms", "last_ms", "last_over_first")


class Balancer:
    """Round-robin HTTP balancer on loopback in front of the Rasa servers' REST channel. A
    conversation's messages take the servers in turn (its first one the next server in line), and
    every reply is checked; `take()` returns the counts since the last call."""

    def __init__(self, backends: Sequence[str], fallbacks: Collection[str]) -> None:
        self.backends, self.fallbacks = list(backends), set(fallbacks)
        self.lock = threading.Lock()
        self.turns: Dict[str, int] = {}
        self.local = threading.local()
        self.counts = self._zero()
        balancer = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the clients' sessions expect
            disable_nagle_algorithm = True  # else headers and body wait for the client's delayed ACK: +40 ms

            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                balancer.forward(self)

            def log_message(self, *args: Any) -> None:
                pass

        class Listener(ThreadingHTTPServer):
            daemon_threads = True
            request_queue_size = 256  # all clients connect at once (the default backlog is 5)

        self.server = Listener(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}/webhooks/rest/webhook"

    def _zero(self) -> Dict[str, Any]:
        return {
            "sent": 0,
            "replies": 0,
            "http_errors": 0,
            "empty": 0,
            "fallbacks": 0,
            "per_server": [0] * len(self.backends),
        }

    def start(self) -> Balancer:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def take(self) -> Dict[str, Any]:
        with self.lock:
            counts, self.counts = self.counts, self._zero()
        return counts

    def forward(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        try:
            sender = str(json.loads(body).get("sender"))
        except (ValueError, AttributeError):
            sender = ""
        with self.lock:
            turn = self.turns.get(sender, len(self.turns))
            self.turns[sender] = turn + 1
        index = turn % len(self.backends)
        session = getattr(self.local, "session", None)
        if session is None:
            session = self.local.session = requests.Session()
        status, payload = 502, b'{"error": "no answer from the Rasa server"}'
        try:
            reply = session.post(
                self.backends[index] + handler.path,
                data=body,
                timeout=60,
                headers={"Content-Type": "application/json"},
            )
            status, payload = reply.status_code, reply.content
        except requests.RequestException:
            pass
        self._count(index, status, payload)
        handler.send_response(status)
        handler.send_header("Content-Type", "application/json")
        handler.send_header("Content-Length", str(len(payload)))
        handler.end_headers()
        handler.wfile.write(payload)

    def _count(self, index: int, status: int, payload: bytes) -> None:
        kind = "http_errors"
        if status == 200:
            try:
                messages = json.loads(payload)
            except ValueError:
                messages = None
            if not isinstance(messages, list) or not messages:
                kind = "empty"
            elif any(isinstance(m, dict) and m.get("text") in self.fallbacks for m in messages):
                kind = "fallbacks"
            else:
                kind = "replies"
        with self.lock:
            self.counts["sent"] += 1
            self.counts[kind] += 1
            self.counts["per_server"][index] += 1


def fallback_texts() -> Set[str]:
    """The texts of the REST channel's "service unavailable" answer (channels/reliable.py), every language."""
    domain = yaml.safe_load((ROOT / "domain.yml").read_text("utf-8"))
    return {variant["text"] for variant in domain["responses"]["utter_service_unavailable"]}


class StoreCheck:
    """Reads the conversations bench/load.py's senders left in PostgreSQL; each call looks only at
    the senders the previous calls have not seen."""

    def __init__(self, database_url: str) -> None:
        self.engine = create_engine(database_url)
        self.seen: Set[str] = set()

    def __call__(self) -> Dict[str, int]:
        with self.engine.connect() as connection:
            rows = connection.execute(
                text("SELECT sender_id, type_name FROM events WHERE sender_id LIKE :s ORDER BY id"),
                {"s": SENDERS},
            ).fetchall()
        waiting: Dict[str, bool] = {}  # sender -> its last user message has no bot utterance yet
        stored = unanswered = 0
        for sender, type_name in rows:
            if sender in self.seen:
                continue
            if type_name == "user":
                stored += 1
                unanswered += waiting.get(sender, False)
                waiting[sender] = True
            elif type_name == "bot":
                waiting[sender] = False
        self.seen.update(waiting)
        return {"stored": stored, "stored_unanswered": unanswered + sum(waiting.values())}

    def close(self) -> None:
        self.engine.dispose()


def checked(
    measure: Callable[[], Dict[str, Any]],
    figures: Sequence[str],
    expected: int,
    balancer: Balancer,
    store: StoreCheck,
) -> Dict[str, Any]:
    """`measure()`'s figures with the checks of its messages. bench/load.py's functions stop at a
    failed request; the figures are then None and the counts say what happened."""
    result: Dict[str, Any] = dict.fromkeys(figures)
    failure = None
    try:
        result.update(measure())
    except requests.RequestException as error:
        failure = f"{type(error).__name__}: {error}"
    counts = balancer.take()
    result.update(store())
    result.update(
        expected=expected,
        replies=counts["replies"],
        errors=counts["http_errors"] + counts["fallbacks"],
        http_errors=counts["http_errors"],
        fallbacks=counts["fallbacks"],
        empty=counts["empty"],
        unanswered=expected - counts["replies"],
        per_server=counts["per_server"],
        failure=failure,
    )
    result["ok"] = (
        failure is None
        and result["errors"] == 0
        and result["unanswered"] == 0
        and result["stored"] == expected
        and result["stored_unanswered"] == 0
    )
    return result


def production_env(
    pg: postgres.TempPostgres, redis: redis_server.TempRedis, action_port: int
) -> Dict[str, str]:
    """endpoints.production.yml's variables and the service database (tests/test_scale_out.py too)."""
    return {
        "CS_SIM_NOW": SIM_NOW,
        "CS_DATABASE_URL": pg.url,
        "ACTION_ENDPOINT_URL": f"http://localhost:{action_port}/webhook",
        "DB_HOST": "127.0.0.1",
        "DB_PORT": str(pg.port),
        "DB_NAME": "postgres",
        "DB_USER": "postgres",
        "DB_PASSWORD": "unused",
        "REDIS_HOST": "127.0.0.1",
        "REDIS_PORT": str(redis.port),
        "CS_SOCKETIO_REDIS_URL": f"redis://127.0.0.1:{redis.port}/2",
        "CS_AGENT_TOKEN": "bench-agent-token",
    }


def logged_errors(log: Path) -> int:
    if not log.exists():
        return 0
    return len(re.findall(r"^\S+ \S+ (?:ERROR|CRITICAL) ", log.read_text("utf-8", "replace"), re.MULTILINE))


def measure_production(
    model: Path = MODEL,
    workdir: Path = OUT,
    long_messages: int = 200,
    concurrent: int = 50,
    clients: int = 50,
    seed: int = 4,
) -> Dict[str, Any]:
    """Starts the production profile, measures it (see the module's docstring) and stops it again.

    `concurrent` conversations are played, `clients` at a time (`make bench`'s --concurrent and
    --clients); the logs are written to `workdir`. Raises RuntimeError where PostgreSQL or Redis is
    missing."""
    if not (postgres.available() and redis_server.available()):
        raise RuntimeError("the production profile needs PostgreSQL and Redis (make system)")
    started = time.monotonic()
    workdir.mkdir(parents=True, exist_ok=True)
    for old in workdir.glob("*.log"):
        old.unlink()
    pg, redis = postgres.TempPostgres(), redis_server.TempRedis()
    servers: List[Server] = []
    balancers: List[Balancer] = []
    store: Optional[StoreCheck] = None
    try:
        pg.init()
        redis.start()
        action_port = free_port()
        env = production_env(pg, redis, action_port)
        actions = action_server(action_port, workdir / "actions.log", env)
        servers.append(actions)
        actions.start()
        ports = [free_port(), free_port()]
        rasas = [
            rasa_server(model, port, ENDPOINTS, workdir / f"rasa{n}.log", env)
            for n, port in enumerate(ports, 1)
        ]
        servers.extend(rasas)
        ready = time.monotonic()
        with ThreadPoolExecutor(len(rasas)) as pool:
            list(pool.map(Server.start, rasas))
        ready_seconds = round(time.monotonic() - ready, 1)

        backends = [f"http://localhost:{port}" for port in ports]
        fallbacks = fallback_texts()
        one = Balancer(backends[:1], fallbacks).start()
        balancers.append(one)
        two = Balancer(backends, fallbacks).start()
        balancers.append(two)
        store = StoreCheck(pg.url)

        warm_up = conversations(5, seed=1)  # alternating: both servers warm
        checked(lambda: play(two.url, warm_up, clients=1), LOAD_FIGURES, sum(map(len, warm_up)), two, store)

        long = checked(
            lambda: long_conversation(one.url, long_messages, seed), LONG_FIGURES, long_messages, one, store
        )
        ratio = long["last_over_first"]
        long.update(target_max=LONG_TARGET, target_met=None if ratio is None else ratio <= LONG_TARGET)
        scripts = conversations(concurrent, seed=seed + 1)
        expected = sum(map(len, scripts))
        one_server = checked(lambda: play(one.url, scripts, clients), LOAD_FIGURES, expected, one, store)
        two_servers = checked(lambda: play(two.url, scripts, clients), LOAD_FIGURES, expected, two, store)
        rss = {f"rasa{n}": rss_mb(server.process.pid) for n, server in enumerate(rasas, 1)}
        rss["action_server"] = rss_mb(actions.process.pid)
        log_errors = {log.stem: logged_errors(log) for log in sorted(workdir.glob("*.log"))}
    finally:
        for balancer in balancers:
            balancer.stop()
        if store is not None:
            store.close()
        for server in reversed(servers):
            server.stop()
        redis.stop()
        pg.destroy()

    speeds = (one_server["messages_per_second"], two_servers["messages_per_second"])
    return {
        "settings": {
            "long_messages": long_messages,
            "concurrent": concurrent,
            "clients": clients,
            "seed": seed,
            "model": str(model),
        },
        "ready_seconds": ready_seconds,
        "long_conversation": long,
        "one_server": one_server,
        "two_servers": two_servers,
        "two_over_one": round(speeds[1] / speeds[0], 2) if all(speeds) else None,
        "rss_mb": rss,
        "log_errors": log_errors,
        "ok": long["ok"] and one_server["ok"] and two_servers["ok"] and not any(log_errors.values()),
        "seconds": round(time.monotonic() - started, 1),
    }


def print_figures(result: Dict[str, Any]) -> None:
    long, one, two = result["long_conversation"], result["one_server"], result["two_servers"]
    target = ""
    if long.get("target_met") is not None:
        target = f"  (target <= {LONG_TARGET}: {'ok' if long['target_met'] else 'MISSED'})"
    print(f"Production profile: PostgreSQL + Redis, Rasa servers ready in {result['ready_seconds']} s")
    print(f"long conversation, 1 server, {long['messages']} messages of one sender:")
    print(
        f"  p50 msgs 1-10 {long['first_ms']} ms, last 10 {long['last_ms']} ms, "
        f"last / first {long['last_over_first']}{target}"
    )
    settings = result["settings"]
    print(
        f"{settings['concurrent']} conversations, {settings['clients']} at a time:"
        f" {'1 server':>12} {'2 servers':>12}"
    )
    rows = [
        ("messages", "messages"),
        ("messages/s", "messages_per_second"),
        ("p50 latency, ms", "p50_ms"),
        ("p95 latency, ms", "p95_ms"),
        ("p99 latency, ms", "p99_ms"),
        ("errors", "errors"),
        ("without a reply", "unanswered"),
        ("messages per server", "per_server"),
    ]
    width = len(f"{settings['concurrent']} conversations, {settings['clients']} at a time:")
    for label, key in rows:
        print(f"  {label:{width - 2}} {one[key]!s:>12} {two[key]!s:>12}")
    print(f"2 servers / 1 server, messages/s: {result['two_over_one']}")
    print("RSS after the load, MB: " + ", ".join(f"{name} {mb}" for name, mb in result["rss_mb"].items()))
    errors = ", ".join(f"{name} {count}" for name, count in result["log_errors"].items())
    print(f"errors in the logs: {errors}")
    failures = [
        f"{name}: {part['failure']}"
        for name, part in (("long", long), ("1", one), ("2", two))
        if part["failure"]
    ]
    for failure in failures:
        print(f"  stopped early, {failure}")
    print(
        f"checks (no error, every message answered and stored): {'ok' if result['ok'] else 'FAILED'}; "
        f"{result['seconds']} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", type=Path, default=MODEL)
    parser.add_argument("--long", type=int, default=200, help="messages of the long conversation")
    parser.add_argument("--concurrent", type=int, default=50, help="conversations of each load")
    parser.add_argument("--clients", type=int, default=50, help="conversations at a time")
    parser.add_argument("--seed", type=int, default=4)
    args = parser.parse_args()
    # A SIGTERM stops the run as Ctrl-C does: the servers are stopped on the way out.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        result = measure_production(args.model, OUT, args.long, args.concurrent, args.clients, args.seed)
    except KeyboardInterrupt:
        print("interrupted: every process started was stopped", file=sys.stderr)
        return 130
    (OUT / "production.json").write_text(json.dumps(result, indent=2, ensure_ascii=False))
    print_figures(result)
    return 0 if result["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
