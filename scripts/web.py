"""Serves the web page with the chat widget (/), the agent console (/agent) and the supervisors' review
page (/review) from web/, the evidence upload page with its API (/evidence/..., evidence/http.py) and
the upload metrics (/metrics), with Sanic in one process.

Everything is local: the widget is rasa-webchat's bundle from web/vendor/node_modules (make install).
The pages talk to the Rasa server on the same host at --rasa-port (socketio and the console API).
Run on its own (`python scripts/web.py`) it reads the evidence settings from the environment
(evidence/config.py) and, before serving, cleans up what a crash left in the evidence directory;
SIGTERM or Ctrl-C stops it (requests in progress get STOP_GRACE_SECONDS to finish).

Timeouts: a client may send nothing for CS_WEB_STALL_SECONDS (60) while a request or an upload's body
is expected, and an upload's body must be complete within CS_WEB_UPLOAD_SECONDS (1800); an idle
kept-alive connection is closed after KEEP_ALIVE_SECONDS.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import mimetypes
import os
import signal
import sys
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Optional

from sanic import Sanic
from sanic.config import Config
from sanic.exceptions import MethodNotSupported, NotFound
from sanic.request import Request
from sanic.response import HTTPResponse
from sanic.server.socket import bind_socket

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evidence.config import Settings  # noqa: E402
from evidence.http import (  # noqa: E402
    STALL_SECONDS,
    UPLOAD_SECONDS,
    EvidenceHTTP,
    HalfClosedProtocol,
    in_thread,
    json_reply,
)
from observability.web_server import metrics as web_metrics  # noqa: E402
from scripts.servers import LOOPBACK, bind_address  # noqa: E402

WEB = Path(__file__).resolve().parent.parent / "web"
PAGES = {
    "/": WEB / "index.html",
    "/index.html": WEB / "index.html",
    "/agent": WEB / "agent.html",
    "/review": WEB / "review.html",
    "/vendor/webchat.js": WEB / "vendor" / "node_modules" / "rasa-webchat" / "lib" / "index.js",
}
STATIC = WEB / "static"
NOT_FOUND = "没有这个页面".encode()

STALL_VARIABLE = "CS_WEB_STALL_SECONDS"
UPLOAD_VARIABLE = "CS_WEB_UPLOAD_SECONDS"
KEEP_ALIVE_SECONDS = 5
# What answering may take with no byte moving: storing an upload re-encodes a picture or runs ffprobe
# and ffmpeg (60 s each at most, evidence/media.py).
HANDLING_SECONDS = 300
STOP_GRACE_SECONDS = 5.0
THREADS = 16  # database, disk and media work of the requests in progress


class WebApp(Sanic):
    """Sanic rewrites some of its own methods at start-up (TouchUp), from their source: test_mode has
    it start again from the originals each time, so that several servers may start in one process
    (the tests, `make run`). It changes nothing else for an application that is not registered."""

    test_mode = True


def config_script(rasa_port: int) -> bytes:
    return (
        "window.CS_CONFIG = { rasaUrl: `${location.protocol}//${location.hostname}:" f"{rasa_port}` }};\n"
    ).encode()


def content_security_policy(request: Request, rasa_port: int) -> str:
    """Only this host: the widget's stylesheet @imports a web font, which must not be fetched."""
    host = (request.headers.get("Host") or "localhost").rsplit(":", 1)[0]
    rasa = f"http://{host}:{rasa_port} ws://{host}:{rasa_port}"
    # blob: lets the console show evidence it fetched with its token (no token in any URL).
    return (
        f"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
        f"img-src 'self' data: blob:; media-src 'self' blob:; font-src 'self' data:; "
        f"connect-src 'self' {rasa}; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def _file_for(path: str) -> Optional[Path]:
    if path in PAGES:
        return PAGES[path]
    if path.startswith("/static/"):
        candidate = (STATIC / path[len("/static/") :]).resolve()
        if candidate.parent == STATIC.resolve() and candidate.is_file():
            return candidate
    return None


def _seconds(name: str, default: float) -> float:
    raw = (os.environ.get(name) or "").strip()
    if not raw:
        return default
    value = float(raw)
    if value <= 0:
        raise ValueError(f"{name} must be positive, not {raw!r}")
    return value


def build_app(
    rasa_port: int, evidence: EvidenceHTTP, stall_seconds: float = STALL_SECONDS, name: str = "douyin_cs_web"
) -> Sanic:
    """The pages, /config.js, /metrics and the evidence endpoints. A page's answer carries the pages'
    Content-Security-Policy and `nosniff`; a missing one is 404 "没有这个页面" (JSON under /evidence/),
    and other methods than GET and POST are 501."""
    config = Config(defaults={"REGISTER": False})  # several servers may run in one process (tests)
    config.update(
        ACCESS_LOG=False,  # quiet: the Rasa log is the interesting one
        MOTD=False,
        REQUEST_TIMEOUT=stall_seconds,
        RESPONSE_TIMEOUT=stall_seconds + HANDLING_SECONDS,
        KEEP_ALIVE_TIMEOUT=KEEP_ALIVE_SECONDS,
        GRACEFUL_SHUTDOWN_TIMEOUT=STOP_GRACE_SECONDS,
    )
    app = WebApp(name, config=config, configure_logging=False, strict_slashes=True)

    def plain(request: Request, status: int, body: bytes, content_type: str) -> HTTPResponse:
        headers = {
            "X-Content-Type-Options": "nosniff",
            "Content-Security-Policy": content_security_policy(request, rasa_port),
        }
        if status == 204:  # Sanic adds no type to a response without a body
            headers["Content-Type"] = content_type
        return HTTPResponse(body, status, headers, content_type)

    async def page(request: Request, name: str = "") -> HTTPResponse:
        file = await in_thread(_file_for, request.path)
        if file is None or not file.is_file():
            return plain(request, 404, NOT_FOUND, "text/plain; charset=utf-8")
        content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type.endswith("javascript"):
            content_type += "; charset=utf-8"
        return plain(request, 200, await in_thread(file.read_bytes), content_type)

    async def favicon(request: Request) -> HTTPResponse:
        return plain(request, 204, b"", "image/x-icon")

    async def metrics(request: Request) -> HTTPResponse:  # Prometheus (observability/web_server.py)
        return plain(request, 200, *web_metrics())

    async def config_js(request: Request) -> HTTPResponse:
        return plain(request, 200, config_script(rasa_port), "text/javascript")

    async def evidence_get(request: Request, rest: str = "") -> None:
        await evidence.get(request, content_security_policy(request, rasa_port))

    async def evidence_post(request: Request, rest: str = "") -> None:
        await evidence.post(request)

    async def not_found(request: Request, exception: Exception) -> HTTPResponse:
        if request.method not in ("GET", "POST"):
            return plain(request, 501, b"Unsupported method", "text/plain; charset=utf-8")
        if evidence.handles(request.path):
            reply = json_reply(404, {"error": "not found"})
            return HTTPResponse(reply.body, reply.status, reply.headers, reply.content_type)
        if request.stream is not None and request.stream.request_body:
            # The body is not read: the connection closes after the answer.
            request.stream.keep_alive, request.stream.request_body = False, None
        return plain(request, 404, NOT_FOUND, "text/plain; charset=utf-8")

    for number, path in enumerate(PAGES):
        app.add_route(page, path, methods=["GET"], name=f"page{number}")
    app.add_route(page, "/static/<name>", methods=["GET"], name="static")
    app.add_route(favicon, "/favicon.ico", methods=["GET"])
    app.add_route(metrics, "/metrics", methods=["GET"])
    app.add_route(config_js, "/config.js", methods=["GET"])
    for path in ("/evidence", "/evidence/<rest:path>"):
        app.add_route(evidence_get, path, methods=["GET"], name=f"evidence_get{path.count('/')}")
        # A stream route: the handler reads the body itself, as it arrives.
        app.add_route(
            evidence_post, path, methods=["POST"], stream=True, name=f"evidence_post{path.count('/')}"
        )
    app.error_handler.add(NotFound, not_found)
    app.error_handler.add(MethodNotSupported, not_found)
    return app


class WebServer:
    """The Sanic application on its own event loop, in one process: `serve_forever()` runs it in the
    calling thread until `shutdown()` (from another thread), or SIGINT/SIGTERM when asked to listen
    for them. The port is bound when this is made, so that a port in use fails at once."""

    def __init__(self, app: Sanic, host: str, port: int) -> None:
        self.app = app
        self.socket = bind_socket(host, port)
        self.server_address = self.socket.getsockname()[:2]
        self._loop: Optional[asyncio.AbstractEventLoop] = None
        self._stop: Optional[asyncio.Event] = None
        self._ready = threading.Event()
        self._done = threading.Event()
        self._error: Optional[BaseException] = None

    def serve_forever(self, stop_signals: bool = False) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        executor = ThreadPoolExecutor(max_workers=THREADS, thread_name_prefix="web")
        loop.set_default_executor(executor)
        try:
            loop.run_until_complete(self._serve(loop, stop_signals))
        except BaseException as error:
            self._error = error
            raise
        finally:
            self._ready.set()
            executor.shutdown(wait=False, cancel_futures=True)
            loop.close()
            self._done.set()

    async def _serve(self, loop: asyncio.AbstractEventLoop, stop_signals: bool) -> None:
        server = await self.app.create_server(
            sock=self.socket,
            protocol=HalfClosedProtocol,
            return_asyncio_server=True,
            asyncio_server_kwargs={"start_serving": False},  # not before the routes are ready
        )
        await server.startup()
        await server.before_start()
        await server.start_serving()
        await server.after_start()
        self._stop, self._loop = asyncio.Event(), loop
        if stop_signals:
            for signum in (signal.SIGINT, signal.SIGTERM):
                loop.add_signal_handler(signum, self._stop.set)
        self._ready.set()
        await self._stop.wait()
        await server.before_stop()
        server.server.close()  # no new connections
        await server.wait_closed()
        for connection in list(server.connections):
            connection.close_if_idle()
        deadline = loop.time() + STOP_GRACE_SECONDS
        while server.connections and loop.time() < deadline:
            await asyncio.sleep(0.1)
        # Requests still in progress are cut off: Sanic answers 503 where it still can, an upload's
        # handler removes its temporary file.
        for connection in list(server.connections):
            if connection._task is not None:
                connection._task.cancel()
        deadline = loop.time() + 1.0
        while server.connections and loop.time() < deadline:
            await asyncio.sleep(0.05)
        for connection in list(server.connections):
            connection.abort()
        await server.after_stop()
        others = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
        for task in others:
            task.cancel()
        await asyncio.wait(others or [asyncio.sleep(0)], timeout=2)

    def wait_ready(self, timeout: float = 30) -> None:
        """Returns once requests are served; raises what stopped the server from starting."""
        if not self._ready.wait(timeout):
            raise TimeoutError(f"the web server did not start in {timeout} s")
        if self._error is not None:
            raise RuntimeError("the web server failed to start") from self._error

    def shutdown(self) -> None:
        """Stops serve_forever() and waits for it to return (from another thread)."""
        self._ready.wait(30)
        if self._loop is not None and self._stop is not None and not self._done.is_set():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._done.wait(STOP_GRACE_SECONDS + 10)

    def server_close(self) -> None:
        self.socket.close()


def make_web_server(
    port: int,
    rasa_port: int,
    host: str = LOOPBACK,
    evidence: Optional[Settings] = None,
    stall_seconds: Optional[float] = None,
    upload_seconds: Optional[float] = None,
) -> WebServer:
    """The server, its evidence directory recovered (settings and timeouts from the environment unless
    given)."""
    stall = stall_seconds or _seconds(STALL_VARIABLE, STALL_SECONDS)
    upload = upload_seconds or _seconds(UPLOAD_VARIABLE, UPLOAD_SECONDS)
    endpoints = EvidenceHTTP(evidence or Settings.from_env(rasa_port=rasa_port), stall, upload)
    endpoints.start()
    return WebServer(build_app(rasa_port, endpoints, stall), host, port)


def start_web_server(
    port: int,
    rasa_port: int,
    host: str = LOOPBACK,
    evidence: Optional[Settings] = None,
    stall_seconds: Optional[float] = None,
    upload_seconds: Optional[float] = None,
) -> WebServer:
    """Starts the web server in a daemon thread and returns it once it serves (.shutdown() stops it)."""
    server = make_web_server(port, rasa_port, host, evidence, stall_seconds, upload_seconds)
    threading.Thread(target=server.serve_forever, name=f"web-{port}", daemon=True).start()
    server.wait_ready()
    return server


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--rasa-port", type=int, default=5005)
    parser.add_argument("--host", default=bind_address(), help="default: CS_BIND_ADDRESS or 127.0.0.1")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not PAGES["/vendor/webchat.js"].exists():  # e.g. the upload server alone (docker-compose.yml)
        print("web/vendor/node_modules is missing (make install): the chat page will not load")
    server = make_web_server(args.port, args.rasa_port, args.host)
    print(f"Web chat: http://localhost:{args.port}/   agent console: http://localhost:{args.port}/agent")
    sys.stdout.flush()
    # SIGTERM (docker stop; as a container's first process Python would otherwise ignore it) and Ctrl-C
    # stop the loop; uploads still in progress after the grace period are cut off and their partial
    # files removed (or, after a kill, at the next start).
    try:
        server.serve_forever(stop_signals=True)
    finally:
        server.server_close()
