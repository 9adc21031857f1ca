"""The "上传证据" / "Upload evidence" button that the actions add to their replies, and the ticket the
upload is for: a case gets a draft before its first link, so that the link can name it; the draft
becomes a ticket when its first file arrives or the user asks for one (core/store.py, DRAFT).

Without CS_EVIDENCE_SECRET there is no upload server to point at (`make shell`, bare action servers):
no button, and no ticket is opened for it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Dict, List, Optional

from core import store
from evidence import links
from evidence.config import Settings

# Where the article asks for evidence: appeals (ban, throttling: "上传过程录屏提升申诉可信度"),
# reports ("证据链（截图/链接/录屏）") and copyright complaints ("权属证明+侵权链接").
EVIDENCE_TOPICS = ("account_ban", "throttling", "report_content", "copyright_complaint")
BUTTON_TITLE = {"zh": "上传证据", "en": "Upload evidence"}
CONTACT_CHANNEL = "app"  # a ticket opened for evidence answers in the app, like the console's


def settings() -> Settings:
    return Settings.from_env()


def enabled(current: Optional[Settings] = None) -> bool:
    return (current or settings()).enabled


def upload_buttons(
    ticket: str, conversation_id: str, language: str, current: Optional[Settings] = None
) -> List[Dict[str, str]]:
    """A link button (empty without a secret). `url` and `type` make it a link in the web widget
    (channels/reliable.py) and in the shell; the payload is the same address for other clients."""
    current = current or settings()
    if not current.enabled:
        return []
    url = links.upload_url(current, ticket, conversation_id, language)
    title = BUTTON_TITLE["en" if language == "en" else "zh"]
    return [{"title": title, "payload": url, "url": url, "type": "web_url"}]


def evidence_contact(conversation_id: str) -> str:
    """The contact detail of a ticket opened for evidence: the conversation (as the console does)."""
    return conversation_id[:64]


def opened_for_evidence(ticket: store.Ticket, conversation_id: str) -> bool:
    """A ticket this conversation opened only to attach evidence, which the ticket form may complete."""
    return (
        ticket.status in ("open", store.DRAFT)
        and ticket.conversation_id == conversation_id
        and ticket.contact_channel == CONTACT_CHANNEL
        and ticket.contact_detail == evidence_contact(conversation_id)
    )


def case_ticket(
    conversation_id: str, current_number: Optional[str], topic: str, description: str, now: datetime
) -> store.Ticket:
    """The conversation's ticket (or draft) for this topic, or a new draft. Raises store.StoreError."""
    ticket = store.find_ticket(current_number) if current_number else None
    if (
        ticket is not None
        and ticket.conversation_id == conversation_id
        and ticket.status != "closed"
        and ticket.topic == topic
    ):
        return ticket
    return store.create_ticket(
        conversation_id=conversation_id,
        topic=topic,
        description=description,
        contact_channel=CONTACT_CHANNEL,
        contact_detail=evidence_contact(conversation_id),
        now=now,
        status=store.DRAFT,
    )
