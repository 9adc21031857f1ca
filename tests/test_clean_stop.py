"""Clean stops: `make run` and `make shell` (the README's commands; scripts/serve.py) stop every server
they started on SIGTERM to make (which forwards it) and on Ctrl-C (SIGINT to the terminal's process
group): no process of theirs is left, their ports are free, and a second start on the same ports works."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Dict, List

import pytest
import requests

from scripts.servers import free_port, write_endpoints
from tests.bot import MODEL, joined, rest_message
from tests.conftest import ROOT

pytestmark = [
    pytest.mark.servers,
    pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads processes from /proc"),
]
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


@pytest.fixture
def env(tmp_path: Path) -> Dict[str, str]:
    return {
        **os.environ,
        "CS_DATABASE_URL": f"sqlite:///{tmp_path / 'service.db'}",
        "CS_EVIDENCE_DIR": str(tmp_path / "evidence"),
    }


def test_make_run_then_make_shell_stop_every_server(tmp_path: Path, env: Dict[str, str]) -> None:
    """`make run` stopped by SIGTERM, then `make shell` on the same action port stopped by Ctrl-C."""
    rasa_port, web_port, action_port = free_port(), free_port(), free_port()
    endpoints = write_endpoints(tmp_path / "endpoints.yml", action_port, tmp_path / "tracker.db")
    run = ["run", f"RASA_PORT={rasa_port}", f"WEB_PORT={web_port}", f"ACTION_PORT={action_port}",
           f"ENDPOINTS={endpoints}"]  # fmt: skip
    make = start_make(run, env, tmp_path / "make-run.log")
    try:
        reply = wait_for(lambda: joined(rest_message(rasa_port, "stop-1", "客服电话多少")), "no reply")
        assert HOTLINE in reply  # the action server answered through the Rasa server
        assert requests.get(f"http://localhost:{web_port}/", timeout=10).status_code == 200
        took = {
            "make run, SIGTERM": stop_and_check(make, "SIGTERM to make", [rasa_port, web_port, action_port])
        }
    finally:
        kill_what_is_left(make)

    log = tmp_path / "make-shell.log"
    make = start_make(["shell", f"ENDPOINTS={endpoints}"], env, log, stdin=subprocess.PIPE)
    try:
        make.stdin.write("客服电话多少\n".encode())  # the pipe stays open: the shell waits for more
        make.stdin.flush()
        wait_for(lambda: HOTLINE in log.read_text("utf-8", "replace"), "the shell got no answer")
        took["make shell, Ctrl-C"] = stop_and_check(make, "Ctrl-C", [action_port])
    finally:
        kill_what_is_left(make)
    print(f"seconds to stop: {took}")
