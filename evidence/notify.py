"""Tells the conversation that files arrived ("已收到 N 个文件"), through the Rasa server.

It posts to the agent console's API (channels/agent_console.py, `.../conversations/<id>/evidence`),
which says `utter_evidence_received` in the user's own channel the same way an agent's reply is
said, under the same token. The upload server holds that token like the console page does.
"""

from __future__ import annotations

import logging
from urllib.parse import quote

import requests

from evidence.config import Settings

logger = logging.getLogger(__name__)
TIMEOUT_SECONDS = 15


def tell_conversation(settings: Settings, conversation_id: str, ticket: str, count: int) -> bool:
    """True when the Rasa server said it; False (logged) when it could not be reached or refused."""
    if not settings.agent_token:
        logger.warning(
            "No %s: cannot tell conversation %s about its files", "CS_AGENT_TOKEN", conversation_id
        )
        return False
    url = (
        f"{settings.rasa_url}/webhooks/agent_console/conversations/{quote(conversation_id, safe='')}/evidence"
    )
    try:
        response = requests.post(
            url,
            json={"ticket": ticket, "count": count},
            headers={"Authorization": f"Bearer {settings.agent_token}"},
            timeout=TIMEOUT_SECONDS,
        )
    except requests.RequestException as error:
        logger.warning("Could not reach the Rasa server at %s: %s", settings.rasa_url, error)
        return False
    if response.status_code != 200:
        logger.warning("The Rasa server answered %s to the evidence notice", response.status_code)
        return False
    return True
