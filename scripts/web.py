"""Serves the web page with the chat widget (/) and the agent console (/agent) from web/.

Everything is local: the widget is rasa-webchat's bundle from web/vendor/node_modules (make install).
The pages talk to the Rasa server on the same host at --rasa-port (socketio and the console API).
"""

from __future__ import annotations

import argparse
import mimetypes
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from threading import Thread
from typing import Optional

WEB = Path(__file__).resolve().parent.parent / "web"
PAGES = {
    "/": WEB / "index.html",
    "/index.html": WEB / "index.html",
    "/agent": WEB / "agent.html",
    "/vendor/webchat.js": WEB / "vendor" / "node_modules" / "rasa-webchat" / "lib" / "index.js",
}
STATIC = WEB / "static"


def config_script(rasa_port: int) -> bytes:
    return (
        "window.CS_CONFIG = { rasaUrl: `${location.protocol}//${location.hostname}:" f"{rasa_port}` }};\n"
    ).encode()


class WebHandler(BaseHTTPRequestHandler):
    def __init__(self, *args, rasa_port: int, **kwargs):
        self.rasa_port = rasa_port
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
        return (
            f"default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            f"img-src 'self' data:; font-src 'self' data:; connect-src 'self' {rasa}"
        )

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = self.path.split("?", 1)[0]
        if path == "/favicon.ico":
            return self._send(204, b"", "image/x-icon")
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


def start_web_server(port: int, rasa_port: int, host: str = "0.0.0.0") -> ThreadingHTTPServer:
    """Starts the web server in a daemon thread and returns it (call .shutdown() to stop)."""
    server = ThreadingHTTPServer((host, port), partial(WebHandler, rasa_port=rasa_port))
    Thread(target=server.serve_forever, daemon=True).start()
    return server


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--port", type=int, default=8080)
    parser.add_argument("--rasa-port", type=int, default=5005)
    args = parser.parse_args()
    if not PAGES["/vendor/webchat.js"].exists():
        raise SystemExit("web/vendor/node_modules is missing: run `make install` first")
    server = ThreadingHTTPServer(("0.0.0.0", args.port), partial(WebHandler, rasa_port=args.rasa_port))
    print(f"Web chat: http://localhost:{args.port}/   agent console: http://localhost:{args.port}/agent")
    server.serve_forever()
