"""The running bot for conversation tests: the real Rasa server and action server on free ports."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Dict, List, Optional

import requests

from scripts.agent_client import add_agent, agent_headers
from scripts.servers import action_server, free_port, rasa_server, web_server, write_endpoints
from tests.conftest import ROOT

MODEL = ROOT / "models" / "douyin-cs.tar.gz"
AGENT_PASSWORD = "correct-horse-battery"


class RunningBot:
    """Action server, Rasa server (REST, socketio, agent console) and, on request, the web page."""

    def __init__(
        self,
        workdir: Path,
        agent_token: str = "test-agent-token",
        model: Path = MODEL,
        env: Optional[Dict[str, str]] = None,
    ):
        """`model`: another trained model; `env`: more variables for every server (e.g. a clock file)."""
        if not model.exists():
            raise FileNotFoundError(f"{model} is missing: run `make train` first")
        self.workdir = workdir
        self.env = dict(env or {})
        self.agent_token = agent_token
        self.database_url = f"sqlite:///{workdir / 'service.db'}"
        self.action_port, self.rasa_port, self.web_port = free_port(), free_port(), free_port()
        self.actions = None
        self.web = None
        self.web_url = ""
        # Evidence links are offered (and point at this bot's web server, when it has one).
        self.evidence_dir = workdir / "evidence"
        self.evidence_env = {
            "CS_EVIDENCE_SECRET": "test-evidence-secret",
            "CS_EVIDENCE_URL": f"http://localhost:{self.web_port}",
        }
        endpoints = write_endpoints(workdir / "endpoints.yml", self.action_port, workdir / "tracker.db")
        # The web page, when there is one, is the only origin a browser may call the Rasa server from.
        self.rasa_env = {
            "CS_DATABASE_URL": self.database_url,
            "CS_AGENT_TOKEN": agent_token,
            "CS_WEB_ORIGIN": f"http://localhost:{self.web_port}",
            **self.env,
        }
        self.rasa = rasa_server(model, self.rasa_port, endpoints, workdir / "rasa.log", self.rasa_env)

    def start(self, sim_now: str, web: bool = False) -> RunningBot:
        self.rasa.env["CS_SIM_NOW"] = sim_now
        self.rasa.launch()  # the Rasa server loads its model while the action server starts
        try:
            self.restart_actions(sim_now)
            self.rasa.wait_ready()
        except Exception:
            self.stop()
            raise
        if web:  # its own process, as in production: it shares only the database with the servers
            env = {
                **self.evidence_env,
                "CS_DATABASE_URL": self.database_url,
                "CS_AGENT_TOKEN": self.agent_token,
                "CS_EVIDENCE_DIR": str(self.evidence_dir),
                **self.env,
            }
            log = self.workdir / "web.log"
            self.web = web_server(self.web_port, self.rasa_port, log, env).start(60)
            self.web_url = f"http://localhost:{self.web_port}"
        return self

    def restart_actions(self, sim_now: str) -> None:
        """(Re)starts the action server with the simulated clock at `sim_now` (ISO 8601)."""
        if self.actions:
            self.actions.stop()
        env = {"CS_SIM_NOW": sim_now, "CS_DATABASE_URL": self.database_url, **self.evidence_env, **self.env}
        self.actions = action_server(self.action_port, self.workdir / "actions.log", env).start()

    def stop(self) -> None:
        for server in (self.web, self.actions, self.rasa):
            if server:
                server.stop()

    def say(self, sender: str, text: str) -> List[Dict]:
        return rest_message(self.rasa_port, sender, text)

    @property
    def console_url(self) -> str:
        return f"http://localhost:{self.rasa_port}/webhooks/agent_console"

    def add_agent(
        self,
        username: str,
        display_name: str,
        password: str = AGENT_PASSWORD,
        max_chats: int = 0,
        role: str = "",
    ) -> None:
        """Creates an agent account with the project's command, as a deployment would."""
        add_agent(self.database_url, username, display_name, password, max_chats, role)

    def agent_headers(self, username: str, password: str = AGENT_PASSWORD) -> Dict[str, str]:
        """Logs the agent in through the console API; the headers carry their session."""
        return agent_headers(self.console_url, username, password)


def rest_message(port: int, sender: str, text: str, timeout: float = 60) -> List[Dict]:
    """The bot's messages in reply to `text`, through the REST channel of the Rasa server on `port`."""
    response = requests.post(
        f"http://localhost:{port}/webhooks/rest/webhook",
        json={"sender": sender, "message": text},
        timeout=timeout,
    )
    response.raise_for_status()
    return response.json()


def new_sender() -> str:
    return f"test-{uuid.uuid4().hex[:12]}"


def joined(messages: List[Dict]) -> str:
    return "\n".join(m.get("text", "") for m in messages)


def button_payloads(messages: List[Dict]) -> List[str]:
    return [b["payload"] for m in messages for b in m.get("buttons", [])]
