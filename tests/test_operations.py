"""Operating the bot as `make run` serves it (the README's command, once for the module): Prometheus
metrics (observability/) scraped from its servers around a short load, what they count equal to what was
sent and to what the stores hold; then a clean stop: SIGTERM to make (which forwards it) stops every
server it started, and `make shell` on the same action port stops on Ctrl-C (SIGINT to the terminal's
process group): no process left, ports free, a second start works."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import socket
import subprocess
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Dict, Iterator, List, Set, Tuple
from urllib.parse import parse_qs, urlsplit

import pytest
import requests
import yaml
from PIL import Image
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text

from actions.handoff import ActionTransferHuman
from core import store
from observability import action_server, rasa_server, web_server
from scripts.agent_client import add_agent, agent_headers
from scripts.servers import free_port, write_endpoints
from tests.bot import AGENT_PASSWORD, MODEL, joined, rest_message
from tests.conftest import ROOT, make_tracker, run_action

pytestmark = pytest.mark.servers
SIM_NOW = "2026-11-25T10:00:00+08:00"  # agents on duty: a transfer queues
CONVERSATIONS = 8
# Each conversation: a topic, a follow-up, out of scope, a word the NLU cannot place, a human.
SCRIPT = ["我的账号被封了怎么办", "要多久", "今天天气怎么样", "呃", "转人工", "账号被封了"]
# The README's targets; -o: a test never retrains the model or reinstalls the packages.
MAKE = ["make", "-s", "-o", ".venv/bin/rasa", "-o", str(MODEL.relative_to(ROOT))]
HOTLINE = "400-992-2556"


def session_processes(session: int) -> Dict[int, str]:
    """The live processes of a session (the test starts make as a session leader), with their command."""
    found = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
            command = (stat.parent / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
        except (OSError, IndexError):
            continue  # gone meanwhile
        if int(fields[3]) == session and fields[0] != "Z":
            found[int(stat.parent.name)] = command
    return found


def port_free(port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
        try:
            sock.bind(("0.0.0.0", port))
        except OSError:
            return False
        return True


def start_make(target: List[str], env: Dict[str, str], log: Path, **kwargs) -> subprocess.Popen:
    with open(log, "ab") as out:
        return subprocess.Popen(
            [*MAKE, *target],
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            **kwargs,
        )


def wait_for(check, what: str, timeout: float = 180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            result = check()
            if result:
                return result
        except requests.RequestException:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"{what} after {timeout} s")


def stop_and_check(make: subprocess.Popen, how: str, ports: List[int]) -> float:
    """Sends the signal, waits for make to end; nothing of the session may be left, no port taken."""
    started = session_processes(make.pid)
    assert len(started) >= 4, started  # make, serve.py, the action server, the Rasa server
    begun = time.monotonic()
    if how == "SIGTERM to make":
        os.kill(make.pid, signal.SIGTERM)
    else:  # Ctrl-C in a terminal: every process of its foreground group
        os.killpg(make.pid, signal.SIGINT)
    make.wait(timeout=90)
    took = time.monotonic() - begun
    assert session_processes(make.pid) == {}, f"left after {how}"
    assert [port for port in ports if not port_free(port)] == []
    return took


def kill_what_is_left(make: subprocess.Popen) -> None:
    """After a failure: the whole group the test made, by its id (nothing else)."""
    try:
        os.killpg(make.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    make.wait()


Samples = Dict[Tuple[str, Tuple[Tuple[str, str], ...]], float]


def scrape(url: str) -> Samples:
    response = requests.get(f"{url}/metrics", timeout=30)
    assert response.status_code == 200 and response.headers["Content-Type"].startswith("text/plain")
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


def delta(after: Samples, before: Samples, name: str, **labels: str) -> float:
    return value(after, name, **labels) - value(before, name, **labels)


def by_label(samples: Samples, name: str, label: str) -> Dict[str, float]:
    return {dict(key)[label]: v for (n, key), v in samples.items() if n == name}


class Served:
    """`make run` on free ports, its own databases and evidence folder, the clock at SIM_NOW."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.rasa_port, self.web_port, self.action_port = free_port(), free_port(), free_port()
        self.endpoints = write_endpoints(workdir / "endpoints.yml", self.action_port, workdir / "tracker.db")
        self.database_url = f"sqlite:///{workdir / 'service.db'}"
        self.env = {
            **os.environ,
            "CS_DATABASE_URL": self.database_url,
            "CS_EVIDENCE_DIR": str(workdir / "evidence"),
            "CS_SIM_NOW": SIM_NOW,
        }
        self.rasa_url = f"http://localhost:{self.rasa_port}"
        self.action_url = f"http://localhost:{self.action_port}"
        self.web_url = f"http://localhost:{self.web_port}"
        target = ["run", f"RASA_PORT={self.rasa_port}", f"WEB_PORT={self.web_port}",
                  f"ACTION_PORT={self.action_port}", f"ENDPOINTS={self.endpoints}"]  # fmt: skip
        self.make = start_make(target, self.env, workdir / "make-run.log")
        wait_for(lambda: requests.get(self.rasa_url, timeout=5).ok, "the Rasa server did not start")

    def say(self, sender: str, message: str) -> List[Dict]:
        return rest_message(self.rasa_port, sender, message)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    running = Served(tmp_path_factory.mktemp("served"))
    yield running
    kill_what_is_left(running.make)  # stopped by the last test, unless a test failed before


# --- metrics ---------------------------------------------------------------------------------------


def events_of(served: Served, senders: List[str]) -> List[Tuple[str, str, str]]:
    """(type, action or intent name, data) of every event the tracker store holds for `senders`."""
    marks = ",".join(f":s{i}" for i in range(len(senders)))
    query = f"SELECT type_name, action_name, intent_name, data FROM events WHERE sender_id IN ({marks})"
    with create_engine(f"sqlite:///{served.workdir / 'tracker.db'}").connect() as connection:
        rows = connection.execute(text(query), {f"s{i}": s for i, s in enumerate(senders)}).all()
    return [tuple(row) for row in rows]


def test_counters_match_the_messages_sent_and_the_stores(served: Served) -> None:
    rasa_url, actions_url = served.rasa_url, served.action_url
    rasa_before, actions_before = scrape(rasa_url), scrape(actions_url)
    senders = [f"metrics-{i}" for i in range(CONVERSATIONS)]

    def converse(sender: str) -> float:
        spent = 0.0
        for line in SCRIPT:
            begun = time.perf_counter()
            assert joined(served.say(sender, line))
            spent += time.perf_counter() - begun
        return spent

    with ThreadPoolExecutor(CONVERSATIONS) as pool:
        client_seconds = sum(pool.map(converse, senders))
    sent = CONVERSATIONS * len(SCRIPT)
    rasa_after, actions_after = scrape(rasa_url), scrape(actions_url)

    # Messages and reply times: one per message sent, no more time than the clients waited.
    assert delta(rasa_after, rasa_before, "douyin_cs_messages_total", channel="rest") == sent
    assert delta(rasa_after, rasa_before, "douyin_cs_reply_seconds_count", channel="rest") == sent
    assert delta(rasa_after, rasa_before, "douyin_cs_reply_seconds_bucket", channel="rest", le="+Inf") == sent
    server_seconds = delta(rasa_after, rasa_before, "douyin_cs_reply_seconds_sum", channel="rest")
    assert 0 < server_seconds <= client_seconds
    assert delta(rasa_after, rasa_before, "douyin_cs_message_errors_total", channel="rest") == 0

    # What the tracker store holds for these conversations: intents, confidences, actions.
    stored = events_of(served, senders)
    users = [json.loads(data) for kind, _, _, data in stored if kind == "user"]
    assert len(users) == sent
    intents = Counter(user["parse_data"]["intent"]["name"] for user in users)
    assert delta(rasa_after, rasa_before, "douyin_cs_nlu_confidence_count") == sent
    best = [
        max(e["confidence"] for e in user["parse_data"]["intent_ranking"] if e["name"] != "nlu_fallback")
        for user in users
    ]
    assert delta(rasa_after, rasa_before, "douyin_cs_nlu_confidence_sum") == pytest.approx(sum(best))
    at_most_half = sum(1 for b in best if b <= 0.5)
    assert delta(rasa_after, rasa_before, "douyin_cs_nlu_confidence_bucket", le="0.5") == at_most_half
    for intent, reason in rasa_server.FALLBACK_INTENTS.items():
        assert delta(rasa_after, rasa_before, "douyin_cs_fallbacks_total", reason=reason) == intents[intent]
    assert intents["out_of_scope"] >= CONVERSATIONS and intents["nlu_fallback"] >= CONVERSATIONS  # 天气, 呃
    actions = Counter(name for kind, name, _, _ in stored if kind == "action" and name != "action_listen")
    counted = by_label(rasa_after, "douyin_cs_actions_total", "action")
    before = by_label(rasa_before, "douyin_cs_actions_total", "action")
    assert {
        name: n - before.get(name, 0) for name, n in counted.items() if n - before.get(name, 0)
    } == actions

    # Transfers and the queue, from the action server and the service database.
    with create_engine(served.database_url).connect() as connection:
        queued = connection.execute(
            text("SELECT COUNT(*) FROM handoff_queue WHERE status = 'waiting'")
        ).scalar()
    assert queued == CONVERSATIONS
    assert (
        delta(actions_after, actions_before, "douyin_cs_transfers_total", outcome="queued")
        == actions["action_transfer_human"]
    )
    assert value(actions_after, "douyin_cs_queue_waiting") == queued
    assert value(actions_after, "douyin_cs_service_database_up") == 1
    assert value(actions_after, "douyin_cs_queue_oldest_wait_seconds") > 0
    print(f"{sent} messages: server {server_seconds:.2f} s, clients {client_seconds:.2f} s; {dict(intents)}")


def test_agents_online_follow_the_log_ins(served: Served) -> None:
    actions_url = served.action_url
    online = value(scrape(actions_url), "douyin_cs_agents_online")
    add_agent(served.database_url, "metrics1", "小量", AGENT_PASSWORD)
    agent_headers(f"{served.rasa_url}/webhooks/agent_console", "metrics1", AGENT_PASSWORD)  # a log-in
    assert value(scrape(actions_url), "douyin_cs_agents_online") == online + 1


def png() -> bytes:
    picture = io.BytesIO()
    Image.new("RGB", (8, 8), (220, 30, 60)).save(picture, "PNG")
    return picture.getvalue()


def test_uploads_accepted_and_refused_are_counted(served: Served) -> None:
    before = scrape(served.web_url)
    replies = served.say("metrics-upload", "我的账号被封了怎么申诉")
    page = next(b["url"] for m in replies for b in m.get("buttons") or [] if b.get("url"))  # 上传证据
    ticket = urlsplit(page).path.rsplit("/", 1)[1]
    token = parse_qs(urlsplit(page).query)["t"][0]

    def upload(body: bytes, name: str, token: str = token) -> int:
        return requests.post(
            f"{served.web_url}/evidence/api/case/{ticket}/files",
            params={"t": token, "lang": "zh"},
            data=body,
            headers={"X-File-Name": name},
            timeout=30,
        ).status_code

    assert upload(png(), "a.png") == 201
    assert upload(png(), "again.png") == 200  # the same file: a duplicate
    assert upload(b"plain text", "a.txt") == 415
    assert upload(png(), "b.png", token="forged.token") == 403
    after = scrape(served.web_url)
    assert delta(after, before, "douyin_cs_uploads_total", outcome="accepted", reason="stored") == 1
    assert delta(after, before, "douyin_cs_uploads_total", outcome="accepted", reason="duplicate") == 1
    assert delta(after, before, "douyin_cs_uploads_total", outcome="refused", reason="bad_type") == 1
    assert delta(after, before, "douyin_cs_uploads_total", outcome="refused", reason="link") == 1
    with create_engine(served.database_url).connect() as connection:
        rows = connection.execute(
            text("SELECT COUNT(*) FROM evidence WHERE ticket_number = :t"), {"t": ticket}
        )
        assert rows.scalar() == 1


# --- clean stops (the last test of the served bot: it stops it) -----------------------------------


# --- where make run listens ------------------------------------------------------------------------

LISTEN = "0A"


def _address(hex_address: str) -> str:
    """/proc/net/tcp's little-endian hex IPv4 address ("0100007F" -> "127.0.0.1"); IPv6 as hex."""
    if len(hex_address) == 8:
        return ".".join(str(int(hex_address[i : i + 2], 16)) for i in (6, 4, 2, 0))
    return "::1" if hex_address == "00000000000000000000000001000000" else f"ipv6:{hex_address}"


def listening(ports: Set[int]) -> Dict[int, Set[str]]:
    """The addresses each of `ports` listens on, from /proc/net/tcp and tcp6."""
    found: Dict[int, Set[str]] = {port: set() for port in ports}
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        if not Path(table).exists():
            continue
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            address, port = fields[1].split(":")
            if fields[3] == LISTEN and int(port, 16) in ports:
                found[int(port, 16)].add(_address(address))
    return found


@pytest.mark.skipif(not Path("/proc/net/tcp").exists(), reason="reads the kernel's socket table")
def test_make_run_listens_on_loopback_only(served: Served) -> None:
    """No CS_BIND_ADDRESS: every server `make run` started listens on 127.0.0.1 and nowhere else."""
    assert "CS_BIND_ADDRESS" not in served.env
    sockets = listening({served.rasa_port, served.web_port, served.action_port})
    assert all(addresses == {"127.0.0.1"} for addresses in sockets.values()), sockets


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc")
def test_make_run_then_make_shell_stop_every_server(served: Served) -> None:
    """The `make run` above stopped by SIGTERM, then `make shell` on the same action port by Ctrl-C."""
    assert HOTLINE in joined(served.say("stop-1", "客服电话多少"))  # all three servers still up
    ports = [served.rasa_port, served.web_port, served.action_port]
    took = {"make run, SIGTERM": stop_and_check(served.make, "SIGTERM to make", ports)}

    log = served.workdir / "make-shell.log"
    make = start_make(["shell", f"ENDPOINTS={served.endpoints}"], served.env, log, stdin=subprocess.PIPE)
    try:
        make.stdin.write("客服电话多少\n".encode())  # the pipe stays open: the shell waits for more
        make.stdin.flush()
        wait_for(lambda: HOTLINE in log.read_text("utf-8", "replace"), "the shell got no answer")
        took["make shell, Ctrl-C"] = stop_and_check(make, "Ctrl-C", [served.action_port])
    finally:
        kill_what_is_left(make)
    print(f"seconds to stop: {took}")


# --- metrics without servers -------------------------------------------------------------------------


def test_the_rasa_servers_hooks_cost_microseconds_per_message() -> None:
    """What one message adds: its arrival stamp, its count and time, its NLU figures, ~4 actions."""

    class Message:
        input_channel, received_at = "rest", time.perf_counter()

    parse = {"intent": {"name": "account_ban", "confidence": 0.93}, "intent_ranking": [
        {"name": "account_ban", "confidence": 0.93}, {"name": "throttling", "confidence": 0.04}]}  # fmt: skip
    rounds = 20_000
    begun = time.perf_counter()
    for _ in range(rounds):
        rasa_server.record_reply(Message, begun, False)
        rasa_server.record_understanding("我的号被封了", parse)
        for name in ("action_session_start", "action_answer_topic", "utter_ask_resolved", "action_listen"):
            rasa_server.record_action(name)
    per_message = (time.perf_counter() - begun) / rounds * 1e6
    print(f"metrics per message: {per_message:.1f} µs")
    assert per_message < 100  # a message costs the server ~6,000 µs of CPU (README, "Benchmark")


def test_a_transfer_out_of_hours_and_one_the_database_refuses_are_counted(sim_now, monkeypatch) -> None:
    """The outcomes the load above cannot reach, through the action itself (in this process)."""

    def counted(outcome: str) -> float:
        return action_server.TRANSFERS.labels(outcome)._value.get()

    before = {outcome: counted(outcome) for outcome in action_server.OUTCOMES}
    sim_now("22:30")
    run_action(ActionTransferHuman(), make_tracker("request_human", "转人工", slots={"topic": "account_ban"}))
    sim_now("10:00")

    def refuse(*_args, **_kwargs):
        raise store.StoreError("down", None, None)

    monkeypatch.setattr(store, "enqueue_for_human", refuse)
    run_action(ActionTransferHuman(), make_tracker("request_human", "转人工", slots={"topic": "account_ban"}))
    after = {outcome: counted(outcome) - before[outcome] for outcome in action_server.OUTCOMES}
    assert after == {"queued": 0, "queued_nobody_online": 0, "after_hours": 1, "failed": 1}


def exported_names() -> set:
    """Every series name the three servers can export, counters with `_total`, histograms in parts."""
    names = set()
    metrics = [
        rasa_server.MESSAGES, rasa_server.MESSAGE_ERRORS, rasa_server.REPLY_SECONDS,
        rasa_server.NLU_CONFIDENCE, rasa_server.FALLBACKS, rasa_server.ACTIONS, action_server.TRANSFERS,
        web_server.UPLOADS,
    ]  # fmt: skip
    for metric in metrics:
        (family,) = metric.collect()
        parts = ["_total"] if family.type == "counter" else ["_bucket", "_count", "_sum"]
        names |= {family.name + part for part in parts}
    names |= {family.name for family in action_server.ServiceDatabaseCollector().collect()}
    return names


def test_the_dashboard_the_alerts_and_the_docs_name_exported_metrics() -> None:
    exported = exported_names()
    assert len(exported) == 6 + 2 * 3 + 5  # counters, histograms in parts, the database's gauges
    pattern = re.compile(r"douyin_cs_[a-z_]+")
    for path in ["docs/grafana-dashboard.json", "docs/prometheus-alerts.yml"]:
        used = set(pattern.findall((ROOT / path).read_text("utf-8")))
        assert used and used <= exported, f"{path} names {used - exported}, which no server exports"
    documented = set(pattern.findall((ROOT / "docs" / "monitoring.md").read_text("utf-8")))
    bases = {re.sub(r"_(bucket|count|sum)$", "", name) for name in exported}
    assert bases - documented == set(), "docs/monitoring.md: a metric is missing from its table"
    json.loads((ROOT / "docs" / "grafana-dashboard.json").read_text("utf-8"))
    rules = yaml.safe_load((ROOT / "docs" / "prometheus-alerts.yml").read_text("utf-8"))
    assert all(rule["expr"] and rule["alert"] for group in rules["groups"] for rule in group["rules"])
