"""`make run` / `make shell`: starts the action server, then the Rasa server or the Rasa shell.

The action server is stopped when Rasa exits (Ctrl-C).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from scripts.servers import QUIET_ENV, RASA, ROOT, action_server  # noqa: E402


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--model", default="models/douyin-cs.tar.gz")
    parser.add_argument("--shell", action="store_true", help="chat in the terminal instead of serving HTTP")
    parser.add_argument("--port", type=int, default=5005, help="Rasa server port")
    parser.add_argument("--action-port", type=int, default=5055, help="must match endpoints.yml")
    args = parser.parse_args()

    (ROOT / "var").mkdir(exist_ok=True)
    actions = action_server(args.action_port, ROOT / "var" / "action_server.log").start()
    print(f"Action server ready on :{args.action_port} (log: var/action_server.log)", flush=True)
    mode = ["shell"] if args.shell else ["run", "--port", str(args.port)]
    command = [RASA, *mode, "-m", args.model, "--endpoints", "endpoints.yml"]
    if not args.shell:
        command += ["--credentials", "credentials.yml"]
        print(f"Rasa REST channel: POST http://localhost:{args.port}/webhooks/rest/webhook", flush=True)
    try:
        return subprocess.call(command, cwd=ROOT, env={**os.environ, **QUIET_ENV})
    except KeyboardInterrupt:
        return 0
    finally:
        actions.stop()


if __name__ == "__main__":
    sys.exit(main())
