"""The evidence offer in the conversation (evidence/offer.py): after the answer for a case where the
article asks for evidence, a short message with the "上传证据" link for the case's ticket."""

from __future__ import annotations

import logging
from typing import List

from rasa_sdk import Tracker
from rasa_sdk.events import EventType, SlotSet
from rasa_sdk.executor import CollectingDispatcher

from core import clock, store
from evidence import offer

logger = logging.getLogger(__name__)


def offer_evidence(
    dispatcher: CollectingDispatcher, tracker: Tracker, topic: str, description: str, language: str
) -> List[EventType]:
    """The offer for the four topics; nothing elsewhere, without a secret, or when the database is
    down (the answer itself has gone out already)."""
    if topic not in offer.EVIDENCE_TOPICS or not offer.enabled():
        return []
    try:
        ticket = offer.case_ticket(
            tracker.sender_id, tracker.get_slot("ticket_number"), topic, description, clock.now()
        )
    except store.StoreError:
        logger.exception("No ticket for evidence in %s", tracker.sender_id)
        return []
    buttons = offer.upload_buttons(ticket.number, tracker.sender_id, language)
    dispatcher.utter_message(response="utter_evidence_offer", buttons=buttons)
    return [SlotSet("ticket_number", ticket.number)]
