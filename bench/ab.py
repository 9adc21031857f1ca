"""A/B of Rasa servers on one action server, measured interleaved (for iterating on speed).

`make bench` takes ~13 minutes (it trains a baseline). This serves a trained model (`--model`, default
models/douyin-cs.tar.gz) with one Rasa server per tracker-store class given (the tuning is installed by
the store's module, so a copy of an older store module serves the older code), then:

- one long conversation per server (`--long` held-out questions, the servers alternating message by
  message), with the median of its first and last ten replies and of each tenth of it; whether both
  servers took the same actions and read the same intents; and the same last ten messages in new
  conversations, alone and after the first `--prefix` messages (the state the long one ends in, with
  a short history): the difference to the long conversation's last ten is what the history costs;
- the concurrent load of `make bench` (`--concurrent` conversations, `--clients` at a time), server
  after server, `--rounds` times; then 20 short conversations one message at a time, alternating.

The servers share the machine, so whatever else runs on it slows them alike. Results: results/ab/.

    git show HEAD:tracker_stores/cached_sql.py > bench/before_store.py
    python bench/ab.py --store A=bench.before_store.CachedSQLTrackerStore \
        --store B=tracker_stores.cached_sql.CachedSQLTrackerStore
    python bench/ab.py --store B=... --profile B   # py-spy of B: first and last quarter of the long run

A server can also run an older checkout's code (`--checkout A=DIR`, DIR e.g. made with
`git worktree add /tmp/before <commit>`) with the endpoints that checkout's endpoints.yml sets
(whether the domain goes only to the actions that read it), on this checkout's action server and
model. The load rounds also report the Rasa server's CPU time per message (from /proc).
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Dict, List

import requests
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench.load import EDGE, SIM_NOW, conversations, cpu_seconds, play, rss_mb  # noqa: E402
from scripts.servers import ROOT, action_server, free_port, rasa_server, write_endpoints  # noqa: E402

MODEL = ROOT / "models" / "douyin-cs.tar.gz"
OUT = ROOT / "results" / "ab"


def py_spy(pid: int, out: Path) -> subprocess.Popen:
    """py-spy (not a project requirement: `pip install py-spy` into the venv) sampling `pid` into `out`
    (raw collapsed stacks) until interrupted."""
    spy = subprocess.Popen(
        [
            str(ROOT / ".venv" / "bin" / "py-spy"),
            "record",
            "-r",
            "200",
            "-f",
            "raw",
            "-o",
            str(out),
            "-p",
            str(pid),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    time.sleep(1)
    return spy


def sends_selective_domain(root: Path) -> bool:
    """Whether the checkout's endpoints.yml sends the domain only to the actions that read it."""
    endpoints = yaml.safe_load((root / "endpoints.yml").read_text("utf-8"))
    return bool(endpoints["action_endpoint"].get("enable_selective_domain", False))


def median_ms(values: List[float]) -> float:
    return round(statistics.median(values), 1)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--store", action="append", required=True, help="NAME=tracker store class")
    parser.add_argument("--long", type=int, default=200, help="messages of each long conversation")
    parser.add_argument("--concurrent", type=int, default=60, help="conversations per load run")
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=2, help="load runs per server, alternated")
    parser.add_argument("--prefix", type=int, default=50, help="see last_messages_after_the_first")
    parser.add_argument("--model", type=Path, default=MODEL, help="the trained model to serve")
    parser.add_argument("--profile", default="", help="NAME: py-spy the server's long conversation")
    parser.add_argument("--profile-actions", action="store_true", help="py-spy the action server instead")
    parser.add_argument("--checkout", action="append", default=[], help="NAME=DIR: NAME runs DIR's code")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    stores = dict(item.split("=", 1) for item in args.store)
    checkouts = {name: Path(path).resolve() for name, path in (item.split("=", 1) for item in args.checkout)}
    env = {"CS_SIM_NOW": SIM_NOW, "CS_DATABASE_URL": f"sqlite:///{OUT / 'service.db'}"}
    action_port = free_port()
    actions = action_server(action_port, OUT / "actions.log", env).start()
    servers, urls, ready = {}, {}, {}
    try:
        for name, store in stores.items():
            db = OUT / f"{name}-tracker.db"
            for suffix in ("", "-wal", "-shm"):
                Path(f"{db}{suffix}").unlink(missing_ok=True)
            port = free_port()
            started = time.monotonic()
            root = checkouts.get(name, ROOT)
            endpoints = write_endpoints(OUT / f"{name}-endpoints.yml", action_port, db, store,
                                        selective_domain=sends_selective_domain(root))  # fmt: skip
            servers[name] = rasa_server(args.model, port, endpoints, OUT / f"{name}-rasa.log", env,
                                        root=root).start()  # fmt: skip
            ready[name] = round(time.monotonic() - started, 1)
            urls[name] = f"http://localhost:{port}/webhooks/rest/webhook"
            play(urls[name], conversations(5, seed=1), clients=1)  # warm-up
        results: Dict[str, Dict] = {name: {"ready_s": ready[name]} for name in stores}

        # Long conversations, interleaved message by message.
        questions = [script[0] for script in conversations(args.long, seed=4)]
        sessions = {name: requests.Session() for name in stores}
        senders = {name: f"ab-long-{uuid.uuid4().hex[:8]}" for name in stores}
        latencies: Dict[str, List[float]] = {name: [] for name in stores}
        spy = None
        windows = {0: "early", args.long - args.long // 4: "late"}  # py-spy: first and last quarter
        for index, text in enumerate(questions):
            if args.profile and (index in windows or index == args.long // 4):
                if spy:
                    spy.send_signal(2)
                    spy.wait(30)
                    spy = None
                if index in windows:
                    target = actions if args.profile_actions else servers[args.profile]
                    spy = py_spy(target.process.pid, OUT / f"{args.profile}-{windows[index]}.txt")
            for name in stores:
                started = time.perf_counter()
                sessions[name].post(urls[name], json={"sender": senders[name], "message": text},
                                    timeout=60).raise_for_status()  # fmt: skip
                latencies[name].append((time.perf_counter() - started) * 1000)
        if spy:
            spy.send_signal(2)
            spy.wait(30)
        # The servers took the same actions (policies, forms) and understood the same intents.
        decisions = {}
        for name in stores:
            with sqlite3.connect(OUT / f"{name}-tracker.db") as connection:
                decisions[name] = connection.execute(
                    "SELECT type_name, action_name, intent_name FROM events WHERE sender_id = ? "
                    "AND type_name IN ('action', 'user') ORDER BY id",
                    (senders[name],),
                ).fetchall()
        reference = next(iter(decisions.values()))
        for name, values in latencies.items():
            results[name]["same_decisions_as_first"] = decisions[name] == reference
            first, last = median_ms(values[:EDGE]), median_ms(values[-EDGE:])
            tenths = [median_ms(values[i : i + EDGE]) for i in range(0, len(values), len(values) // 5)]
            results[name]["long"] = {"first": first, "last": last, "ratio": round(last / first, 2),
                                     "p50_by_fifth": tenths}  # fmt: skip
            results[name]["long_ms"] = [round(value, 1) for value in values]

        # The last EDGE messages again in new conversations: alone, and after the first `--prefix`
        # messages (which bring the conversation into the state the long one ends in, e.g. queued
        # for an agent with a form asking): what they cost with a short history.
        for label, lead in (("last_messages_in_a_new_conversation", []),
                            ("last_messages_after_the_first", questions[: args.prefix])):  # fmt: skip
            for name in stores:
                sender, fresh = f"ab-tail-{uuid.uuid4().hex[:8]}", []
                for text in (lead or ["你好"] * 3) + questions[-EDGE:]:
                    started = time.perf_counter()
                    sessions[name].post(urls[name], json={"sender": sender, "message": text},
                                        timeout=60).raise_for_status()  # fmt: skip
                    fresh.append((time.perf_counter() - started) * 1000)
                results[name]["long"][label] = median_ms(fresh[-EDGE:])

        # Concurrent load, alternated between servers, `rounds` times each.
        for round_index in range(args.rounds):
            for name in stores:
                spy = None
                if name == args.profile and round_index == 0:
                    spy = py_spy(servers[name].process.pid, OUT / f"{name}-load.txt")
                cpu_before = cpu_seconds(servers[name].process.pid)
                load = play(urls[name], conversations(args.concurrent, seed=3 + round_index), args.clients)
                load["cpu_ms_per_message"] = round(
                    (cpu_seconds(servers[name].process.pid) - cpu_before) * 1000 / load["messages"], 2
                )
                if spy:
                    spy.send_signal(2)
                    spy.wait(30)
                results[name].setdefault("load", []).append(
                    {k: load[k] for k in ("messages_per_second", "p50_ms", "p95_ms", "cpu_ms_per_message")}
                )
        single = {name: [] for name in stores}
        lock = threading.Lock()
        for script in conversations(20, seed=2):  # one client, alternating servers per conversation
            for name in stores:
                sender = f"ab-one-{uuid.uuid4().hex[:8]}"
                for text in script:
                    started = time.perf_counter()
                    requests.post(urls[name], json={"sender": sender, "message": text}, timeout=60)
                    with lock:
                        single[name].append((time.perf_counter() - started) * 1000)
        for name, values in single.items():
            cuts = statistics.quantiles(values, n=100)
            results[name]["one_client"] = {"p50": round(cuts[49], 1), "p95": round(cuts[94], 1)}
            results[name]["rss_mb"] = rss_mb(servers[name].process.pid)
    finally:
        for server in servers.values():
            server.stop()
        actions.stop()
    print(json.dumps({name: {k: v for k, v in r.items() if k != "long_ms"} for name, r in results.items()}))
    (OUT / "last.json").write_text(json.dumps(results, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
