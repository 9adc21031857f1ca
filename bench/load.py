"""The load every benchmark plays, and what it reads of a running server.

Synthetic conversations (held-out questions, transfers and tickets), played through the REST channel
one client at a time or many at once (latency percentiles and messages/s), the long conversation of
one sender (does a reply slow down as the conversation grows?), and a process's memory and CPU time
from /proc. Used by `make bench` (bench/laptop.py), bench/production.py, bench/ab.py and the tests
that compare tuning/ with Rasa on the trained model (tests/test_tuning.py).
"""

from __future__ import annotations

import os
import random
import statistics
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, List

import requests
import yaml

from scripts.servers import ROOT

SIM_NOW = "2026-11-25T10:00:00+08:00"
EDGE = 10  # the long conversation compares the median of its first and last EDGE replies


def conversations(count: int, seed: int) -> List[List[str]]:
    """Synthetic conversations: held-out questions, plus transfers and tickets."""
    holdout = yaml.safe_load((ROOT / "tests" / "nlu_holdout.yml").read_text("utf-8"))["nlu"]
    questions = [
        line[2:].strip() for item in holdout for line in item["examples"].splitlines() if line.strip()
    ]
    rng = random.Random(seed)
    scripts = []
    for index in range(count):
        script = [rng.choice(questions), rng.choice(questions)]
        if index % 3 == 0:
            script += ["没用", "转人工"]
        if index % 5 == 0:
            script += ["/create_ticket", "电话回访", "13800138000"]
        scripts.append(script)
    return scripts


def rss_mb(pid: int) -> float:
    """Resident memory of a process and its children, from /proc."""
    total = 0
    pids = [pid]
    children = Path(f"/proc/{pid}/task/{pid}/children")
    if children.exists():
        pids += [int(p) for p in children.read_text().split()]
    for each in pids:
        for line in Path(f"/proc/{each}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                total += int(line.split()[1])
    return round(total / 1024, 1)


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def play(url: str, scripts: List[List[str]], clients: int) -> Dict:
    latencies: List[float] = []
    lock = threading.Lock()

    def converse(script: List[str]) -> None:
        session, sender = requests.Session(), f"bench-{uuid.uuid4().hex[:10]}"
        for text in script:
            started = time.perf_counter()
            session.post(url, json={"sender": sender, "message": text}, timeout=60).raise_for_status()
            with lock:
                latencies.append((time.perf_counter() - started) * 1000)

    started = time.perf_counter()
    with ThreadPoolExecutor(clients) as pool:
        list(pool.map(converse, scripts))
    elapsed = time.perf_counter() - started
    cuts = statistics.quantiles(latencies, n=100)
    return {
        "messages": len(latencies),
        "p50_ms": round(cuts[49], 1),
        "p95_ms": round(cuts[94], 1),
        "p99_ms": round(cuts[98], 1),
        "messages_per_second": round(len(latencies) / elapsed, 1),
    }


def long_conversation(url: str, messages: int, seed: int) -> Dict:
    """One sender, `messages` held-out questions one at a time: the median reply of the first and
    of the last EDGE messages, and their ratio (1.0: no slower at the end)."""
    questions = [script[0] for script in conversations(messages, seed)]
    session, sender = requests.Session(), f"bench-long-{uuid.uuid4().hex[:10]}"
    latencies = []
    for text in questions:
        started = time.perf_counter()
        session.post(url, json={"sender": sender, "message": text}, timeout=60).raise_for_status()
        latencies.append((time.perf_counter() - started) * 1000)
    first, last = statistics.median(latencies[:EDGE]), statistics.median(latencies[-EDGE:])
    return {
        "messages": messages,
        "first_ms": round(first, 1),
        "last_ms": round(last, 1),
        "last_over_first": round(last / first, 2),
    }
