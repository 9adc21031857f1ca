"""The web server (scripts/web.py, Sanic) under concurrent uploads and slow clients: twenty uploads at
once, a client that trickles its upload or stops sending, an upload over the limit and a large one
that must not be held in memory. The real server in its own process, real HTTP over sockets, the
real database and evidence directory; nothing mocked."""

from __future__ import annotations

import io
import json
import os
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timezone
from pathlib import Path
from typing import Dict, Iterator, List, Optional, Tuple

import pytest
import requests
from PIL import Image
from sqlalchemy import func, select

from core import store
from evidence import links
from evidence.http import DRAIN_SECONDS
from scripts.servers import Server, free_port, web_server

SECRET = "test-evidence-secret"
CONVERSATION = "conv-web-server"
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=timezone.utc)
STALL = 2.0  # CS_WEB_STALL_SECONDS for these servers
UPLOAD = 8.0  # CS_WEB_UPLOAD_SECONDS
PROMPT = 3.0  # what "answers at once" means here, on a busy two-core machine


class Web:
    """scripts/web.py in its own process, with short timeouts, on the test's database."""

    def __init__(self, directory: Path, database: str, log: Path, **limits: str) -> None:
        self.directory = directory
        self.port = free_port()
        env = {
            "CS_DATABASE_URL": database,
            "CS_EVIDENCE_DIR": str(directory),
            "CS_EVIDENCE_SECRET": SECRET,
            "CS_WEB_STALL_SECONDS": str(STALL),
            "CS_WEB_UPLOAD_SECONDS": str(UPLOAD),
            **{f"CS_EVIDENCE_{name.upper()}": value for name, value in limits.items()},
        }
        self.server: Server = web_server(self.port, free_port(), log, env).start(60)
        self.url = f"http://127.0.0.1:{self.port}"

    def ticket(self) -> Tuple[str, str]:
        """A new ticket of the conversation and its upload link's token."""
        number = store.create_ticket(CONVERSATION, "account_ban", "被封了", "app", CONVERSATION, NOW).number
        return number, links.sign(SECRET, number, CONVERSATION, int(time.time() + 3600))

    def upload(self, ticket: str, token: str, body: bytes, name: str) -> requests.Response:
        return requests.post(
            f"{self.url}/evidence/api/case/{ticket}/files",
            params={"t": token, "lang": "zh"},
            data=body,
            headers={"X-File-Name": requests.utils.quote(name)},
            timeout=60,
        )

    def open_upload(self, ticket: str, token: str, declared: int) -> socket.socket:
        """An upload's request head sent by hand; the body is the caller's to send (or not)."""
        head = (
            f"POST /evidence/api/case/{ticket}/files?t={token}&lang=zh HTTP/1.1\r\n"
            f"Host: 127.0.0.1\r\nX-File-Name: slow.png\r\nContent-Length: {declared}\r\n\r\n"
        )
        connection = socket.create_connection(("127.0.0.1", self.port), timeout=30)
        connection.sendall(head.encode())
        return connection

    def rows(self) -> int:
        with store.engine().connect() as connection:
            return connection.execute(select(func.count()).select_from(store.evidence)).scalar_one()

    def temporary_files(self) -> List[str]:
        return sorted(path.name for path in (self.directory / ".tmp").iterdir())

    def peak_memory(self) -> int:
        """The server process's peak resident memory so far (VmHWM), in bytes."""
        status = Path(f"/proc/{self.server.process.pid}/status").read_text()
        line = next(line for line in status.splitlines() if line.startswith("VmHWM:"))
        return int(line.split()[1]) * 1024

    def stop(self) -> None:
        self.server.stop()


@pytest.fixture
def web(tmp_path: Path, database: str) -> Iterator[Web]:
    running = Web(tmp_path / "evidence", database, tmp_path / "web.log", max_files="25", max_file_mb="1")
    yield running
    running.stop()


def noise_png(side: int = 300) -> bytes:
    """A PNG of random pixels (about side² × 3 bytes: noise does not compress)."""
    buffer = io.BytesIO()
    Image.frombytes("RGB", (side, side), os.urandom(side * side * 3)).save(buffer, "PNG")
    return buffer.getvalue()


def answer_of(connection: socket.socket, timeout: float) -> Tuple[int, Dict, float]:
    """The status and JSON body of the answer on a raw connection, and how long it took to come."""
    begun = time.monotonic()
    connection.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = connection.recv(65536)
        if not chunk:
            raise ConnectionError(f"closed without an answer after {data!r}")
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        int(line.split(b":", 1)[1])
        for line in head.split(b"\r\n")
        if line.lower().startswith(b"content-length")
    )
    while len(body) < length:
        body += connection.recv(65536)
    return int(head.split()[1]), json.loads(body), time.monotonic() - begun


def closed_within(connection: socket.socket, timeout: float) -> bool:
    """Whether the server closes the connection within `timeout` seconds (what it sends is dropped)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        connection.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            if not connection.recv(65536):
                return True
        except socket.timeout:
            return False
        except ConnectionError:
            return True
    return False


def test_twenty_uploads_at_once_are_all_received_and_recorded(web: Web) -> None:
    ticket, token = web.ticket()
    files = [noise_png() for _ in range(20)]
    assert all(200_000 < len(body) < 400_000 for body in files)
    begun = time.monotonic()
    with ThreadPoolExecutor(max_workers=20) as pool:
        answers = list(pool.map(lambda n: web.upload(ticket, token, files[n], f"图{n}.png"), range(20)))
    took = time.monotonic() - begun
    assert [a.status_code for a in answers] == [201] * 20, [a.text for a in answers if a.status_code != 201]
    assert {a.json()["file"]["name"] for a in answers} == {f"图{n}.png" for n in range(20)}
    assert web.rows() == 20 and web.temporary_files() == []
    listed = requests.get(f"{web.url}/evidence/api/case/{ticket}", params={"t": token}, timeout=10).json()
    assert len(listed["files"]) == 20
    print(f"20 uploads of {sum(map(len, files)) / 20 / 1024:.0f} KB at once: {took:.2f} s")


def trickle(connection: socket.socket, stop: threading.Event, sent: List[int]) -> None:
    """A few bytes every 0.3 s (about 13 bytes a second) until told to stop or the server hangs up."""
    piece = b"\x89PNG\r\n\x1a\n"[:4]
    while not stop.is_set():
        try:
            connection.sendall(piece)
        except OSError:
            return
        sent[0] += len(piece)
        stop.wait(0.3)


def test_a_client_trickling_its_upload_holds_up_nobody_and_is_dropped_at_the_deadline(web: Web) -> None:
    ticket, token = web.ticket()
    slow = web.open_upload(ticket, token, declared=500_000)
    stop, sent = threading.Event(), [0]
    sender = threading.Thread(target=trickle, args=(slow, stop, sent), daemon=True)
    begun = time.monotonic()
    sender.start()
    try:
        time.sleep(1.0)  # the slow upload is under way
        timings = {}
        pages = {
            "/": "/",
            "/agent": "/agent",
            "/config.js": "/config.js",
            "case": f"/evidence/api/case/{ticket}",
        }
        for what, path in pages.items():
            asked = time.monotonic()
            got = requests.get(web.url + path, params={"t": token}, timeout=PROMPT)
            timings[what] = time.monotonic() - asked
            assert got.status_code == 200, path
        asked = time.monotonic()
        other = web.upload(ticket, token, noise_png(200), "other.png")
        timings["another upload"] = time.monotonic() - asked
        assert other.status_code == 201, other.text
        assert max(timings.values()) < PROMPT, timings
        assert sender.is_alive(), "the slow client must still be sending"
        # It never pauses for STALL seconds, but its body cannot take longer than UPLOAD seconds.
        status, answer, _ = answer_of(slow, timeout=UPLOAD + 5)
        dropped = time.monotonic() - begun
    finally:
        stop.set()
        sender.join(5)
    assert (status, answer["error"]) == (400, "truncated")
    assert UPLOAD - 1 < dropped < UPLOAD + 4, dropped
    assert closed_within(slow, 8), "the connection stays open"
    slow.close()
    assert web.rows() == 1 and web.temporary_files() == []
    print(
        f"while a client sent {sent[0]} bytes in {dropped:.1f} s: "
        + ", ".join(f"{what} {seconds * 1000:.0f} ms" for what, seconds in timings.items())
    )


def test_a_client_that_stops_sending_is_dropped_after_the_stall_timeout(web: Web) -> None:
    ticket, token = web.ticket()
    stalled = web.open_upload(ticket, token, declared=300_000)
    stalled.sendall(noise_png(100)[:20_000])  # a fifth of the body, then nothing
    status, answer, waited = answer_of(stalled, timeout=STALL + 10)
    assert (status, answer["error"]) == (400, "truncated") and "没有传完" in answer["message"]
    assert STALL - 0.5 < waited < STALL + 4, waited
    assert closed_within(stalled, 8), "the connection stays open"
    stalled.close()
    assert web.rows() == 0 and web.temporary_files() == []
    # A client that connects and sends nothing at all is not kept either.
    idle = socket.create_connection(("127.0.0.1", web.port), timeout=30)
    assert closed_within(idle, 15)
    idle.close()


def send_until_closed(connection: socket.socket, total: int, sent: List[int]) -> None:
    block = os.urandom(64 * 1024)
    connection.settimeout(15)
    try:
        while sent[0] < total:
            connection.sendall(block)
            sent[0] += len(block)
    except OSError:
        pass


def test_an_upload_over_the_limit_is_refused_before_its_body_arrives_and_is_not_kept(web: Web) -> None:
    ticket, token = web.ticket()
    declared = 20 * 1024**3  # 20 GB; the limit is 1 MB
    before = web.peak_memory()
    connection = web.open_upload(ticket, token, declared=declared)
    connection.sendall(b"\x89PNG\r\n\x1a\n" + os.urandom(64 * 1024))
    status, answer, waited = answer_of(connection, timeout=PROMPT)
    assert (status, answer["error"]) == (413, "too_large"), answer
    assert answer["message"] == "“slow.png”超过单个文件 1 MB 的上限，没有保存。"
    # The rest is read and dropped for a few seconds at most (so that the client sees the answer), then
    # the connection is closed: the server does not take the whole body.
    sent = [0]
    sender = threading.Thread(target=send_until_closed, args=(connection, declared, sent), daemon=True)
    begun = time.monotonic()
    sender.start()
    sender.join(20)
    assert not sender.is_alive() and sent[0] < declared, "the whole body was taken"
    took = time.monotonic() - begun
    connection.close()
    assert took < DRAIN_SECONDS + 4, took
    grown = web.peak_memory() - before
    assert grown < 8 * 1024 * 1024, grown
    assert web.rows() == 0 and web.temporary_files() == []
    print(
        f"over the limit: refused in {waited * 1000:.0f} ms, cut off after {sent[0] >> 20} MB in {took:.1f} s"
    )


def test_a_large_upload_goes_to_disk_as_it_arrives_not_into_memory(tmp_path: Path, database: str) -> None:
    big = Web(tmp_path / "evidence", database, tmp_path / "web.log", max_file_mb="50")
    try:
        ticket, token = big.ticket()
        size = 30 * 1024 * 1024
        before = big.peak_memory()
        connection = big.open_upload(ticket, token, declared=size)
        connection.sendall(noise_png(64)[:4096])  # a PNG's first bytes: the type check passes
        sent = 4096
        partial: Optional[int] = None
        block = os.urandom(256 * 1024)
        while sent < size:
            piece = block[: size - sent]
            connection.sendall(piece)
            sent += len(piece)
            if partial is None and sent > size // 2:
                time.sleep(0.5)  # half-way: what has arrived is on disk already
                parts = list((big.directory / ".tmp").glob("*.part"))
                partial = max((p.stat().st_size for p in parts), default=0)
        status, answer, _ = answer_of(connection, timeout=60)
        connection.close()
        assert (status, answer["error"]) == (422, "damaged_image")  # noise after a PNG's signature
        assert partial is not None and partial > size // 3, partial
        grown = big.peak_memory() - before
        assert grown < 12 * 1024 * 1024, grown
        assert big.rows() == 0 and big.temporary_files() == []
        print(f"30 MB upload: {partial >> 20} MB on disk half-way, peak memory grew {grown >> 20} MB")
    finally:
        big.stop()
