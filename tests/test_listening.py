"""`make run` (scripts/serve.py) listens on loopback only unless CS_BIND_ADDRESS says otherwise:
checked from the kernel's table of listening sockets, for every server it starts."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Dict, Set

import pytest

from scripts.servers import QUIET_ENV, free_port
from tests.conftest import ROOT

pytestmark = pytest.mark.servers

MODEL = ROOT / "models" / "douyin-cs.tar.gz"
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


def test_make_run_listens_on_loopback_only(tmp_path: Path) -> None:
    if not MODEL.exists():
        pytest.skip("no trained model: run `make train`")
    ports = {"--port": free_port(), "--web-port": free_port(), "--action-port": free_port()}
    env = {**os.environ, **QUIET_ENV}
    env.pop("CS_BIND_ADDRESS", None)
    command = [sys.executable, str(ROOT / "scripts" / "serve.py"), "--model", str(MODEL)]
    for flag, port in ports.items():
        command += [flag, str(port)]
    log = open(tmp_path / "serve.log", "wb")
    server = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        wanted = set(ports.values())
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not all(listening(wanted).values()):
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            time.sleep(0.5)
        sockets = listening(wanted)
        assert all(sockets.values()), f"not every server listens: {sockets}"
        assert all(addresses == {"127.0.0.1"} for addresses in sockets.values()), sockets
    finally:
        server.send_signal(signal.SIGINT)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
