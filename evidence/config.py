"""Settings of the evidence feature, read from environment variables (README, "Evidence").

The action server (which signs links) and the web server (which checks them and stores files) read the
same variables, so `make run` and docker-compose.yml set them once for both.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Optional

ROOT = Path(__file__).resolve().parent.parent

SECRET_VARIABLE = "CS_EVIDENCE_SECRET"  # HMAC key of the upload links; unset = no upload offer
DIRECTORY_VARIABLE = "CS_EVIDENCE_DIR"  # where files go (a shared volume in production)
URL_VARIABLE = "CS_EVIDENCE_URL"  # the web server's address as users reach it (links point there)
LINK_HOURS_VARIABLE = "CS_EVIDENCE_LINK_HOURS"
MAX_FILES_VARIABLE = "CS_EVIDENCE_MAX_FILES"
MAX_FILE_MB_VARIABLE = "CS_EVIDENCE_MAX_FILE_MB"
MAX_CASE_MB_VARIABLE = "CS_EVIDENCE_MAX_CASE_MB"
RASA_URL_VARIABLE = "CS_EVIDENCE_RASA_URL"  # where "已收到 N 个文件" is posted (a Rasa server)
AGENT_TOKEN_VARIABLE = "CS_AGENT_TOKEN"  # the agent console's token (channels/agent_console.py)

DEFAULT_DIRECTORY = ROOT / "var" / "evidence"
DEFAULT_URL = "http://localhost:8080"
MB = 1024 * 1024


def _number(environ: Mapping[str, str], name: str, default: float) -> float:
    raw = (environ.get(name) or "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError as error:
        raise ValueError(f"{name} must be a number, not {raw!r}") from error
    if value <= 0:
        raise ValueError(f"{name} must be positive, not {raw!r}")
    return value


@dataclass(frozen=True)
class Settings:
    secret: str
    directory: Path
    public_url: str
    link_hours: float = 24.0
    max_files: int = 10
    max_file_bytes: int = 50 * MB
    max_case_bytes: int = 200 * MB
    rasa_url: str = "http://localhost:5005"
    agent_token: str = ""

    @property
    def enabled(self) -> bool:
        return bool(self.secret)

    @classmethod
    def from_env(cls, environ: Optional[Mapping[str, str]] = None, rasa_port: int = 5005) -> Settings:
        env = os.environ if environ is None else environ
        return cls(
            secret=env.get(SECRET_VARIABLE, ""),
            directory=Path(env.get(DIRECTORY_VARIABLE) or DEFAULT_DIRECTORY),
            public_url=(env.get(URL_VARIABLE) or DEFAULT_URL).rstrip("/"),
            link_hours=_number(env, LINK_HOURS_VARIABLE, 24),
            max_files=int(_number(env, MAX_FILES_VARIABLE, 10)),
            # Megabytes may be fractions (tests use small limits).
            max_file_bytes=int(_number(env, MAX_FILE_MB_VARIABLE, 50) * MB),
            max_case_bytes=int(_number(env, MAX_CASE_MB_VARIABLE, 200) * MB),
            rasa_url=(env.get(RASA_URL_VARIABLE) or f"http://localhost:{rasa_port}").rstrip("/"),
            agent_token=env.get(AGENT_TOKEN_VARIABLE, ""),
        )
