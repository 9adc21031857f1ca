"""`make run` / `make shell`: starts the action server, then the bot.

run:   the web page with the chat widget and the agent console (http://localhost:8080), and the Rasa
       server (REST, socketio and agent-console channels on :5005) in the foreground.
shell: the Rasa shell in the terminal.
The action server and the web server stop when Rasa exits (Ctrl-C).
"""

from __future__ import annotations

import argparse
import os
import secrets
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from channels.agent_console import TOKEN_VARIABLE  # noqa: E402
from scripts.servers import QUIET_ENV, RASA, ROOT, action_server  # noqa: E402
from scripts.web import start_web_server  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="models/douyin-cs.tar.gz")
    parser.add_argument("--shell", action="store_true", help="chat in the terminal instead of serving")
    parser.add_argument("--port", type=int, default=5005, help="Rasa server port")
    parser.add_argument("--web-port", type=int, default=8080, help="web page and agent console port")
    parser.add_argument("--action-port", type=int, default=5055, help="must match endpoints.yml")
    args = parser.parse_args()

    (ROOT / "var").mkdir(exist_ok=True)
    env = {**os.environ, **QUIET_ENV}
    actions = action_server(args.action_port, ROOT / "var" / "action_server.log").start()
    print(f"Action server ready on :{args.action_port} (log: var/action_server.log)", flush=True)
    web = None
    if args.shell:
        command = [RASA, "shell", "-m", args.model, "--endpoints", "endpoints.yml"]
    else:
        env.setdefault(TOKEN_VARIABLE, secrets.token_urlsafe(18))
        web = start_web_server(args.web_port, args.port)
        command = [
            RASA, "run", "-m", args.model, "--port", str(args.port), "--cors", "*",
            "--endpoints", "endpoints.yml", "--credentials", "credentials.yml",
        ]  # fmt: skip
        print(
            f"Web chat:        http://localhost:{args.web_port}/\n"
            f"Agent console:   http://localhost:{args.web_port}/agent   token: {env[TOKEN_VARIABLE]}\n"
            f"REST channel:    POST http://localhost:{args.port}/webhooks/rest/webhook\n"
            "Starting the Rasa server (about 20 s) …",
            flush=True,
        )
    try:
        return subprocess.call(command, cwd=ROOT, env=env)
    except KeyboardInterrupt:
        return 0
    finally:
        if web:
            web.shutdown()
        actions.stop()


if __name__ == "__main__":
    sys.exit(main())
