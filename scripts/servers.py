"""Starts and stops the real Rasa server, action server and web server as child processes.

Used by `make run` / `make shell` (scripts/serve.py) and by the tests that talk to the running bot.
"""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, List, Optional

import requests

ROOT = Path(__file__).resolve().parent.parent
RASA = str(Path(sys.executable).with_name("rasa"))
QUIET_ENV = {
    "RASA_TELEMETRY_ENABLED": "false",
    "SQLALCHEMY_SILENCE_UBER_WARNING": "1",
    "TF_CPP_MIN_LOG_LEVEL": "2",
    "PYTHONPATH": str(ROOT),
    "PYTHONWARNINGS": "ignore",
}


BIND_VARIABLE = "CS_BIND_ADDRESS"
LOOPBACK = "127.0.0.1"


def bind_address() -> str:
    """Where `make run` listens: loopback unless told otherwise (CS_BIND_ADDRESS=0.0.0.0 serves the
    network; the action server has no authentication, docs/deployment.md)."""
    return os.environ.get(BIND_VARIABLE, "").strip() or LOOPBACK


_handed_out: set = set()


def free_port() -> int:
    """A loopback port nobody listens on, below the kernel's range for outgoing connections (32768
    and up), so that no connection takes it before the server binds it. Each pytest-xdist worker draws
    from its own block, and a process never hands out a port twice: servers started in parallel by the
    test workers cannot be given the same port."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    block = int(worker[2:]) + 1 if worker.startswith("gw") and worker[2:].isdigit() else 0
    low = 10000 + 2000 * (block % 11)
    for _ in range(200):
        port = random.randrange(low, low + 2000)
        if port in _handed_out:
            continue
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port between {low} and {low + 2000}")


TRACKER_STORE = "tracker_stores.cached_sql.CachedSQLTrackerStore"
# The servers started here serve the shell, the tests, the simulation and the benchmark, whose load
# comes from one address and few senders on purpose: no rate limits unless a caller sets them
# (channels/door.py; `make run` keeps them).
NO_RATE_LIMITS = {
    "CS_SENDER_MESSAGES_PER_MINUTE": "0",
    "CS_ADDRESS_MESSAGES_PER_MINUTE": "0",
    "CS_CONSOLE_REQUESTS_PER_MINUTE": "0",
    "CS_LOGINS_PER_MINUTE": "0",
}


def write_endpoints(
    path: Path, action_port: int, tracker_db: Path, store: str = TRACKER_STORE, selective_domain: bool = True
) -> Path:
    """An endpoints file for a given action-server port and SQLite tracker-store file, as endpoints.yml
    (the project's tracker store, tracker_stores/cached_sql.py; the domain sent only to the actions that
    read it); Rasa's defaults with store="SQL", selective_domain=False."""
    action = f'action_endpoint:\n  url: "http://localhost:{action_port}/webhook"\n'
    if selective_domain:
        action += "  enable_selective_domain: true\n"
    path.write_text(
        action + f'tracker_store:\n  type: {store}\n  dialect: "sqlite"\n  db: "{tracker_db}"\n',
        encoding="utf-8",
    )
    return path


class Server:
    """A child process that serves HTTP once `ready_url` answers 200."""

    def __init__(
        self, name: str, command: List[str], ready_url: str, env: Dict[str, str], log: Path, root: Path = ROOT
    ):
        self.name, self.command, self.ready_url, self.log, self.root = name, command, ready_url, log, root
        self.env = {**os.environ, **QUIET_ENV, "PYTHONPATH": str(root), **env}
        self.process: Optional[subprocess.Popen] = None

    def start(self, timeout: float = 180) -> Server:
        return self.launch().wait_ready(timeout)

    def launch(self) -> Server:
        """Starts the process without waiting: several servers can start at once (wait_ready)."""
        self.log.parent.mkdir(parents=True, exist_ok=True)
        with open(self.log, "ab") as log:
            self.process = subprocess.Popen(
                self.command, cwd=self.root, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        return self

    def wait_ready(self, timeout: float = 180) -> Server:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited with {self.process.returncode}: see {self.log}")
            try:
                if requests.get(self.ready_url, timeout=2).status_code == 200:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.25)
        self.stop()
        raise TimeoutError(f"{self.name} not ready after {timeout}s: see {self.log}")

    def stop(self, sig: int = signal.SIGTERM) -> None:
        if self.process and self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def action_server(port: int, log: Path, env: Optional[Dict[str, str]] = None) -> Server:
    command = [RASA, "run", "actions", "--actions", "actions", "--port", str(port)]
    return Server("action server", command, f"http://localhost:{port}/health", env or {}, log)


def rasa_server(
    model: Path,
    port: int,
    endpoints: Path,
    log: Path,
    env: Optional[Dict[str, str]] = None,
    credentials: Optional[Path] = None,
    root: Path = ROOT,
) -> Server:
    """The Rasa server with the channels of credentials.yml; the widget's page may be on another port:
    browsers may call it from CS_WEB_ORIGIN's pages only (channels/web_origin.py, in `env` or the
    environment). `root`: the checkout whose code it runs (bench/ab.py serves an older one beside this
    one)."""
    command = [
        RASA, "run", "-m", str(model), "--port", str(port),
        "--endpoints", str(endpoints), "--credentials", str(credentials or root / "credentials.yml"),
    ]  # fmt: skip
    return Server(
        "Rasa server", command, f"http://localhost:{port}/", {**NO_RATE_LIMITS, **(env or {})}, log, root
    )


def web_server(port: int, rasa_port: int, log: Path, env: Optional[Dict[str, str]] = None) -> Server:
    """scripts/web.py on its own (pages, evidence uploads), on loopback."""
    command = [
        sys.executable, str(ROOT / "scripts" / "web.py"), "--port", str(port),
        "--rasa-port", str(rasa_port), "--host", "127.0.0.1",
    ]  # fmt: skip
    return Server("web server", command, f"http://127.0.0.1:{port}/", env or {}, log)
