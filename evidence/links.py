"""The upload link: `<public url>/evidence/<ticket>?lang=zh&t=<token>`.

The token carries the ticket, the conversation and an expiry time, signed with HMAC-SHA256 under
CS_EVIDENCE_SECRET, so the web server can trust it without asking the action server. The language is
not signed: it only picks the page's wording. Expiry uses the real clock (time.time), not the
simulated service clock (CS_SIM_NOW), because it is a security property.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
import time
from dataclasses import dataclass
from typing import Optional
from urllib.parse import quote, urlencode

from evidence.config import Settings

TICKET_NUMBER = re.compile(r"^[A-Z]{2}\d{8}-\d{6,12}$")  # core/parsing.py's format
_CONTEXT = b"douyin-cs evidence link v1."  # the key signs nothing else with this prefix


class LinkError(Exception):
    """A link that must not be used; `code` is a key of evidence/messages.py."""

    def __init__(self, code: str) -> None:
        super().__init__(code)
        self.code = code


@dataclass(frozen=True)
class Claims:
    ticket: str
    conversation_id: str
    expires_at: int  # Unix time


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _signature(secret: str, payload: str) -> str:
    return _b64(hmac.new(secret.encode(), _CONTEXT + payload.encode("ascii"), hashlib.sha256).digest())


def sign(secret: str, ticket: str, conversation_id: str, expires_at: int) -> str:
    if not secret:
        raise ValueError("no secret to sign with")
    payload = _b64(json.dumps({"t": ticket, "c": conversation_id, "e": int(expires_at)}).encode())
    return f"{payload}.{_signature(secret, payload)}"


def verify(secret: str, token: Optional[str], ticket: str, now: Optional[float] = None) -> Claims:
    """The token's claims if it is genuine, unexpired and for `ticket` (the case in the URL)."""
    if not secret or not token or token.count(".") != 1 or len(token) > 2048:
        raise LinkError("link_invalid")
    payload, signature = token.split(".")
    if not hmac.compare_digest(signature.encode(), _signature(secret, payload).encode()):
        raise LinkError("link_invalid")
    try:
        data = json.loads(_unb64(payload))
        claims = Claims(str(data["t"]), str(data["c"]), int(data["e"]))
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise LinkError("link_invalid") from None
    if claims.expires_at <= (time.time() if now is None else now):
        raise LinkError("link_expired")
    if not hmac.compare_digest(claims.ticket.encode(), ticket.encode()):
        raise LinkError("link_other_case")
    return claims


def upload_url(
    settings: Settings, ticket: str, conversation_id: str, language: str, now: Optional[float] = None
) -> str:
    expires_at = int((time.time() if now is None else now) + settings.link_hours * 3600)
    token = sign(settings.secret, ticket, conversation_id, expires_at)
    query = urlencode({"lang": "en" if language == "en" else "zh", "t": token})
    return f"{settings.public_url}/evidence/{quote(ticket)}?{query}"
