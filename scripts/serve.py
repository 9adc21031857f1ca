"""`make run` / `make shell`: starts the action server, then the bot.

run:   the web page with the chat widget, the agent console and the evidence upload page
       (http://localhost:8080), and the Rasa server (REST, socketio and agent-console channels on
       :5005) in the foreground. CS_AGENT_TOKEN and CS_EVIDENCE_SECRET are made up when unset.
shell: a Rasa server on a free loopback port (its log in var/rasa_shell.log) and scripts/shell.py, a
       terminal client of its REST channel (buttons are chosen by typing #1, #2 … or their title).
The action server and the web server stop when Rasa exits (Ctrl-C), or when the shell ends.
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
from pathlib import Path

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


def run_shell(model: str) -> int:
    """A Rasa server only this shell talks to, its output in var/rasa_shell.log, then the client."""
    port = free_port()
    rasa = rasa_server(Path(model), port, ROOT / "endpoints.yml", ROOT / "var" / "rasa_shell.log")
    rasa.command += ["--interface", "127.0.0.1"]
    try:
        rasa.start()
        return shell.main(["--url", f"http://127.0.0.1:{port}"])
    finally:
        rasa.stop()


def prepare_environment(args: argparse.Namespace) -> None:
    """The API token (evidence notices) and the evidence links' key, made up for this run when unset.
    In os.environ, so the action server (signs links), the Rasa server (console) and the web server
    (checks links, posts "已收到 N 个文件" with the token) all get the same; links point at this web
    server."""
    os.environ.setdefault(TOKEN_VARIABLE, secrets.token_urlsafe(18))
    os.environ.setdefault(SECRET_VARIABLE, secrets.token_urlsafe(32))
    os.environ.setdefault(URL_VARIABLE, f"http://localhost:{args.web_port}")
    os.environ.setdefault(RASA_URL_VARIABLE, f"http://localhost:{args.port}")


def run_server(args: argparse.Namespace) -> int:
    env = {**os.environ, **QUIET_ENV}
    web = start_web_server(args.web_port, args.port, bind_address())
    command = [
        RASA, "run", "-m", args.model, "--port", str(args.port), "--cors", "*",
        "--endpoints", "endpoints.yml", "--credentials", "credentials.yml", "--interface", bind_address(),
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
    try:
        return subprocess.call(command, cwd=ROOT, env=env)
    finally:
        web.shutdown()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="models/douyin-cs.tar.gz")
    parser.add_argument("--shell", action="store_true", help="chat in the terminal instead of serving")
    parser.add_argument("--port", type=int, default=5005, help="Rasa server port")
    parser.add_argument("--web-port", type=int, default=8080, help="web page and agent console port")
    parser.add_argument("--action-port", type=int, default=5055, help="must match endpoints.yml")
    args = parser.parse_args()

    (ROOT / "var").mkdir(exist_ok=True)
    if args.shell:
        print("Starting… (about 20 s; server logs in var/)", flush=True)
    if not args.shell:  # the shell has no upload page to link to: no evidence offer there
        prepare_environment(args)
    actions = action_server(
        args.action_port, ROOT / "var" / "action_server.log", {"SANIC_HOST": bind_address()}
    )
    try:
        actions.start()
        if not args.shell:
            print(f"Action server ready on :{args.action_port} (log: var/action_server.log)", flush=True)
        return run_shell(args.model) if args.shell else run_server(args)
    except KeyboardInterrupt:
        return 0
    except (RuntimeError, TimeoutError) as error:  # a server did not start
        print(error)
        return 1
    finally:
        actions.stop()


if __name__ == "__main__":
    sys.exit(main())
