"""Which web pages may call the Rasa server from a browser (CORS): the chat page and the agent console on
the project's web server, named by CS_WEB_ORIGIN (default http://localhost:8080 and http://127.0.0.1:8080,
scripts/web.py's address; several separated by spaces or commas).

Rasa configures CORS with credentials allowed, so `--cors "*"` answered every origin with its own name and
`Access-Control-Allow-Credentials: true`. `install()`, run when the agent console's channel is made
(before Rasa configures CORS), makes Rasa's `configure_cors` answer these origins only: a `*` given to
`--cors` stands for them, other origins given to `--cors` are added to them.
"""

from __future__ import annotations

import logging
import os
import re
from typing import Any, Iterable, List, Optional, Union

logger = logging.getLogger(__name__)

ORIGIN_VARIABLE = "CS_WEB_ORIGIN"
DEFAULT_ORIGINS = ("http://localhost:8080", "http://127.0.0.1:8080")
ORIGIN = re.compile(r"https?://[A-Za-z0-9.-]+(?::\d{1,5})?|https?://\[[0-9A-Fa-f:.]+\](?::\d{1,5})?")


def web_origins() -> List[str]:
    """The configured origins (scheme://host[:port]); the defaults when none is usable."""
    raw = os.environ.get(ORIGIN_VARIABLE, "")
    origins = []
    for origin in (part.strip().rstrip("/") for part in re.split(r"[\s,]+", raw)):
        if not origin:
            continue
        if ORIGIN.fullmatch(origin):
            origins.append(origin)
        else:
            logger.warning("%s: %r is not an origin (scheme://host[:port]); ignored", ORIGIN_VARIABLE, origin)
    return origins or list(DEFAULT_ORIGINS)


def allowed_origins(requested: Union[str, Iterable[str], None]) -> List[str]:
    """The origins CORS answers: the configured ones and any other named origin `--cors` gave."""
    given = [requested] if isinstance(requested, str) else list(requested or [])
    origins = web_origins()
    for origin in given:
        if origin == "*":
            logger.info("CORS: '*' answered for %s only (%s)", ", ".join(origins), ORIGIN_VARIABLE)
        elif origin and origin not in origins:
            origins.append(origin)
    return origins


def install() -> None:
    """Rasa's configure_cors limited to `allowed_origins` (once per process). Imported here: the Rasa
    server has loaded it already, other importers of the channels need not."""
    import rasa.server

    if getattr(rasa.server.configure_cors, "limited_to_web_origins", False):
        return
    configure_cors = rasa.server.configure_cors

    def limited(app: Any, cors_origins: Optional[Union[str, List[str]]] = "") -> None:
        configure_cors(app, allowed_origins(cors_origins))

    limited.limited_to_web_origins = True  # type: ignore[attr-defined]
    rasa.server.configure_cors = limited
