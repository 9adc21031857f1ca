"""`make run` / `make shell`: starts the action server, then the bot.

run:   the web page with the chat widget, the agent console and the evidence upload page
       (http://localhost:8080), and the Rasa server (REST, socketio and agent-console channels on
       :5005), its log in the terminal. CS_AGENT_TOKEN and CS_EVIDENCE_SECRET are made up when unset.
shell: a Rasa server on a free loopback port (its log in var/rasa_shell.log) and scripts/shell.py, a
       terminal client of its REST channel (buttons are chosen by typing #1, #2 … or their title).

Stopping: Ctrl-C, SIGTERM (make forwards it to this process) or SIGHUP stops every server this started
(the Rasa server, the web server, the action server: each is asked with SIGTERM, killed after 20 s),
as does the Rasa server exiting or the shell ending. Ports: --port, --web-port; the action server's
is the one in the endpoints file (--endpoints), or --action-port, which then writes a copy of that file
pointing at it (var/endpoints-actions-<port>.yml).
"""

from __future__ import annotations

import argparse
import os
import secrets
import signal
import subprocess
import sys
from contextlib import ExitStack
from pathlib import Path
from typing import Optional, Tuple
from urllib.parse import urlsplit, urlunsplit

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agents.accounts import list_agents  # noqa: E402
from channels.agent_console import TOKEN_VARIABLE  # noqa: E402
from evidence.config import RASA_URL_VARIABLE, SECRET_VARIABLE, URL_VARIABLE  # noqa: E402
from scripts import shell  # noqa: E402
from scripts.servers import (  # noqa: E402
    QUIET_ENV,
    RASA,
    ROOT,
    action_server,
    bind_address,
    free_port,
    rasa_server,
)
from scripts.web import start_web_server  # noqa: E402

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)
STOP_TIMEOUT = 20  # seconds a server has to exit after SIGTERM before it is killed


def stop_on_signals() -> None:
    """The first of SIGINT, SIGTERM, SIGHUP raises SystemExit(128 + signal) wherever the main thread
    is, so that every `finally` stops its server; later ones are ignored while they do."""

    def stop(signum: int, _frame) -> None:
        for other in STOP_SIGNALS:
            signal.signal(other, signal.SIG_IGN)
        raise SystemExit(128 + signum)

    for signum in STOP_SIGNALS:
        signal.signal(signum, stop)


def stopped_gently(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def endpoints_for(endpoints: Path, action_port: Optional[int]) -> Tuple[Path, int]:
    """The endpoints file to serve with and the action server's port: the file's own, or a copy of the
    file pointing at `action_port`."""
    config = yaml.safe_load(endpoints.read_text(encoding="utf-8")) or {}
    url = urlsplit(config["action_endpoint"]["url"])
    if action_port is None or action_port == url.port:
        return endpoints, url.port
    config["action_endpoint"]["url"] = urlunsplit(url._replace(netloc=f"{url.hostname}:{action_port}"))
    copy = ROOT / "var" / f"endpoints-actions-{action_port}.yml"
    copy.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return copy, action_port


def run_shell(model: str, endpoints: Path, stack: ExitStack) -> int:
    """A Rasa server only this shell talks to, its output in var/rasa_shell.log, then the client."""
    port = free_port()
    rasa = rasa_server(Path(model), port, endpoints, ROOT / "var" / "rasa_shell.log")
    rasa.command += ["--interface", "127.0.0.1"]
    stack.callback(rasa.stop)
    rasa.start()
    return shell.main(["--url", f"http://127.0.0.1:{port}"])


def prepare_environment(args: argparse.Namespace) -> None:
    """The API token (evidence notices) and the evidence links' key, made up for this run when unset.
    In os.environ, so the action server (signs links), the Rasa server (console) and the web server
    (checks links, posts "已收到 N 个文件" with the token) all get the same; links point at this web
    server."""
    os.environ.setdefault(TOKEN_VARIABLE, secrets.token_urlsafe(18))
    os.environ.setdefault(SECRET_VARIABLE, secrets.token_urlsafe(32))
    os.environ.setdefault(URL_VARIABLE, f"http://localhost:{args.web_port}")
    os.environ.setdefault(RASA_URL_VARIABLE, f"http://localhost:{args.port}")


def run_server(args: argparse.Namespace, endpoints: Path, stack: ExitStack) -> int:
    env = {**os.environ, **QUIET_ENV}
    web = start_web_server(args.web_port, args.port, bind_address())
    stack.callback(web.server_close)
    stack.callback(web.shutdown)
    command = [
        RASA, "run", "-m", args.model, "--port", str(args.port), "--cors", "*",
        "--endpoints", str(endpoints), "--credentials", "credentials.yml", "--interface", bind_address(),
    ]  # fmt: skip
    accounts = ", ".join(agent.username for agent in list_agents() if agent.active)
    print(
        f"Web chat:        http://localhost:{args.web_port}/\n"
        f"Agent console:   http://localhost:{args.web_port}/agent   "
        + (
            f"agents: {accounts}\n"
            if accounts
            else "no agent accounts yet: make agent-add NAME=xiaodou DISPLAY=小抖\n"
        )
        + f"REST channel:    POST http://localhost:{args.port}/webhooks/rest/webhook\n"
        "Starting the Rasa server (about 20 s) …",
        flush=True,
    )
    rasa = subprocess.Popen(command, cwd=ROOT, env=env)
    stack.callback(stopped_gently, rasa)
    return rasa.wait()


def main() -> int:
    stop_on_signals()
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    parser.add_argument("--model", default="models/douyin-cs.tar.gz")
    parser.add_argument("--shell", action="store_true", help="chat in the terminal instead of serving")
    parser.add_argument("--port", type=int, default=5005, help="Rasa server port")
    parser.add_argument("--web-port", type=int, default=8080, help="web page and agent console port")
    parser.add_argument("--endpoints", type=Path, default=ROOT / "endpoints.yml", help="Rasa's endpoints")
    parser.add_argument("--action-port", type=int, help="default: the endpoints file's")
    args = parser.parse_args()

    (ROOT / "var").mkdir(exist_ok=True)
    endpoints, action_port = endpoints_for(args.endpoints, args.action_port)
    if args.shell:
        print("Starting… (about 20 s; server logs in var/)", flush=True)
    if not args.shell:  # the shell has no upload page to link to: no evidence offer there
        prepare_environment(args)
    actions = action_server(action_port, ROOT / "var" / "action_server.log", {"SANIC_HOST": bind_address()})
    # Stopped in the reverse order of their start, whatever ends the run: the Rasa server first.
    with ExitStack() as stack:
        stack.callback(actions.stop)
        try:
            actions.start()
            if not args.shell:
                print(f"Action server ready on :{action_port} (log: var/action_server.log)", flush=True)
            return (
                run_shell(args.model, endpoints, stack) if args.shell else run_server(args, endpoints, stack)
            )
        except (RuntimeError, TimeoutError) as error:  # a server did not start
            print(error)
            return 1


if __name__ == "__main__":
    sys.exit(main())
