"""An agent account made with the project's command (agents/cli.py) and logged in through the console's
API, as a deployment would: for the tests and `make simulate`."""

from __future__ import annotations

import os
import subprocess
import sys
from typing import Dict

import requests

from scripts.servers import ROOT


def add_agent(
    database_url: str, username: str, display_name: str, password: str, max_chats: int = 0, role: str = ""
) -> None:
    """`python -m agents.cli add` against the database at `database_url` (role: agents/roles.py)."""
    command = [
        sys.executable,
        "-m",
        "agents.cli",
        "add",
        username,
        "--name",
        display_name,
        "--password-stdin",
    ]
    if max_chats:
        command += ["--max-chats", str(max_chats)]
    if role:
        command += ["--role", role]
    env = {**os.environ, "CS_DATABASE_URL": database_url, "PYTHONPATH": str(ROOT)}
    subprocess.run(
        command, input=password + "\n", env=env, cwd=ROOT, check=True, capture_output=True, text=True
    )


def agent_headers(console_url: str, username: str, password: str) -> Dict[str, str]:
    """Logs in at `console_url` (…/webhooks/agent_console); the headers carry the session."""
    response = requests.post(
        f"{console_url}/login", json={"username": username, "password": password}, timeout=30
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['token']}"}
