"""Serves the web page with the chat widget (/), the agent console (/agent) and the supervisors' review
page (/review) from web/, and the evidence upload page with its API (/evidence/..., evidence/http.py).

Everything is local: the widget is rasa-webchat's bundle from web/vendor/node_modules (make install).
The pages talk to the Rasa server on the same host at --rasa-port (socketio and the console API).
Run on its own (`python scripts/web.py`) it reads the evidence settings from the environment
(evidence/config.py) and, before serving, cleans up what a crash left in the evidence directory.
"""

from __future__ import annotations

import argparse
import logging
import mimetypes
import signal
import sys
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Optional

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from evidence.config import Settings  # noqa: E402
from evidence.http import EvidenceHTTP  # noqa: E402
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


def config_script(rasa_port: int) -> bytes:
    return (
        "window.CS_CONFIG = { rasaUrl: `${location.protocol}//${location.hostname}:" f"{rasa_port}` }};\n"
    ).encode()


class WebHandler(BaseHTTPRequestHandler):
    timeout = 60  # seconds a client may stall (an upload that stops sending is dropped, not kept)

    def __init__(self, *args, rasa_port: int, evidence: Optional[EvidenceHTTP] = None, **kwargs):
        self.rasa_port = rasa_port
        self.evidence = evidence
        super().__init__(*args, **kwargs)

    def _file_for(self, path: str) -> Optional[Path]:
        if path in PAGES:
            return PAGES[path]
        if path.startswith("/static/"):
            candidate = (STATIC / path[len("/static/") :]).resolve()
            if candidate.parent == STATIC.resolve() and candidate.is_file():
                return candidate
        return None

    def _content_security_policy(self) -> str:
        """Only this host: the widget's stylesheet @imports a web font, which must not be fetched."""
        host = (self.headers.get("Host") or "localhost").rsplit(":", 1)[0]
        rasa = f"http://{host}:{self.rasa_port} ws://{host}:{self.rasa_port}"
        # blob: lets the console show evidence it fetched with its token (no token in any URL).
        return (
            f"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            f"img-src 'self' data: blob:; media-src 'self' blob:; font-src 'self' data:; "
            f"connect-src 'self' {rasa}; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
        )

    def _evidence(self, path: str) -> Optional[EvidenceHTTP]:
        return self.evidence if self.evidence is not None and self.evidence.handles(path) else None

    def do_POST(self) -> None:  # noqa: N802
        evidence = self._evidence(self.path.split("?", 1)[0])
        if evidence is None:
            self.close_connection = True  # the body is not read
            return self._send(404, "没有这个页面".encode(), "text/plain; charset=utf-8")
        evidence.post(self)

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = self.path.split("?", 1)[0]
        evidence = self._evidence(path)
        if evidence is not None:
            return evidence.get(self)
        if path == "/favicon.ico":
            return self._send(204, b"", "image/x-icon")
        if path == "/metrics":  # Prometheus (observability/web_server.py)
            return self._send(200, *web_metrics())
        if path == "/config.js":
            return self._send(200, config_script(self.rasa_port), "text/javascript")
        file = self._file_for(path)
        if file is None or not file.is_file():
            return self._send(404, "没有这个页面".encode(), "text/plain; charset=utf-8")
        content_type = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
        if content_type.startswith("text/") or content_type.endswith("javascript"):
            content_type += "; charset=utf-8"
        self._send(200, file.read_bytes(), content_type)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("X-Content-Type-Options", "nosniff")
        self.send_header("Content-Security-Policy", self._content_security_policy())
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args) -> None:  # quiet: the Rasa log is the interesting one
        pass


def make_web_server(
    port: int, rasa_port: int, host: str = LOOPBACK, evidence: Optional[Settings] = None
) -> ThreadingHTTPServer:
    """The server, its evidence directory recovered (settings from the environment unless given)."""
    endpoints = EvidenceHTTP(evidence or Settings.from_env(rasa_port=rasa_port))
    endpoints.start()
    handler = partial(WebHandler, rasa_port=rasa_port, evidence=endpoints)
    server = ThreadingHTTPServer((host, port), handler)
    server.daemon_threads = True
    return server


def start_web_server(
    port: int, rasa_port: int, host: str = LOOPBACK, evidence: Optional[Settings] = None
) -> ThreadingHTTPServer:
    """Starts the web server in a daemon thread and returns it (call .shutdown() to stop)."""
    server = make_web_server(port, rasa_port, host, evidence)
    Thread(target=server.serve_forever, daemon=True).start()
    return server


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--rasa-port", type=int, default=5005)
    parser.add_argument("--host", default=bind_address(), help="default: CS_BIND_ADDRESS or 127.0.0.1")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    if not PAGES["/vendor/webchat.js"].exists():  # e.g. the upload server alone (docker-compose.yml)
        print("web/vendor/node_modules is missing (make install): the chat page will not load")
    server = make_web_server(args.port, args.rasa_port, args.host)
    print(f"Web chat: http://localhost:{args.port}/   agent console: http://localhost:{args.port}/agent")
    # SIGTERM (docker stop; as a container's first process Python would otherwise ignore it) ends the
    # loop like Ctrl-C: uploads in progress are cut off, their partial files removed at the next start.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
