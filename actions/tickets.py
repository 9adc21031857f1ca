"""Tickets (工单): the form that collects one, its creation, and the status look-up."""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

from rasa_sdk import Action, FormValidationAction, Tracker
from rasa_sdk.events import EventType, FollowupAction, SlotSet
from rasa_sdk.executor import CollectingDispatcher
from rasa_sdk.types import DomainDict

from actions import form_escape
from actions.language import conversation_language
from core import clock, knowledge, store
from core.parsing import find_ticket_number, looks_like_contact, normalize_contact
from evidence import offer

logger = logging.getLogger(__name__)

GENERAL_TOPIC = "contact_general"
# Words that pick a reply channel, checked in this order.
CHANNEL_WORDS = (
    ("email", ("邮", "mail", "e-mail")),
    ("app", ("站内", "app", "私信", "消息", "抖音号")),
    ("phone", ("电话", "手机", "回访", "phone", "call")),
)


def contact_channel_from(text: str) -> Optional[str]:
    lowered = text.lower()
    return next((key for key, words in CHANNEL_WORDS if any(w in lowered for w in words)), None)


def _labels(kind: str, language: str) -> Dict[str, str]:
    """Ticket statuses or contact channels (kind) in the user's language."""
    return knowledge.localized(knowledge.handoff_rules()["ticket"], kind, language)


def leaves_ticket_form(tracker: Tracker, slot: Optional[str]) -> bool:
    """Whether the latest message leaves the ticket form instead of answering `slot`. The problem is
    free text, left only by a cancel ("我的账号被盗了" is the problem, not a question); a channel's name,
    a phone number or an e-mail is always an answer."""
    text = str(tracker.latest_message.get("text") or "")
    if slot == "problem_text":
        return form_escape.cancels(tracker)
    if slot == "contact_channel":
        named = contact_channel_from(text) is not None
        return form_escape.leaves_form(tracker, is_answer=named, strict_answer=named)
    if slot == "contact_detail":
        channel = tracker.get_slot("contact_channel") or "app"
        return form_escape.leaves_form(
            tracker,
            is_answer=looks_like_contact(text, (channel,)),
            strict_answer=looks_like_contact(text, ("phone", "email")),
        )
    return False


class ValidateTicketForm(FormValidationAction):
    def name(self) -> str:
        return "validate_ticket_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        # A cancel or another question is not refused as an invalid answer: the form steps back and
        # the rules of data/form_rules.yml answer it.
        slot = tracker.get_slot("requested_slot")
        if form_escape.answered(tracker, slot) and leaves_ticket_form(tracker, slot):
            return form_escape.reject(self.form_name(), slot)
        return await super().run(dispatcher, tracker, domain)

    def validate_problem_text(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        text = str(value or "").strip()
        if not text:
            dispatcher.utter_message(response="utter_ask_problem_text")
            return {"problem_text": None}
        intent = tracker.latest_message.get("intent", {}).get("name")
        slots: Dict[str, Any] = {"problem_text": text[:2000]}
        if knowledge.topic(intent) is not None and not tracker.get_slot("topic"):
            slots["topic"] = intent
        return slots

    def validate_contact_channel(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        channel = contact_channel_from(str(value or ""))
        if channel is None:
            dispatcher.utter_message(response="utter_invalid_contact_channel")
        return {"contact_channel": channel}

    def validate_contact_detail(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        detail = normalize_contact(tracker.get_slot("contact_channel") or "app", str(value or ""))
        if detail is None:
            dispatcher.utter_message(response="utter_invalid_contact_detail")
        return {"contact_detail": detail}


class ActionCreateTicket(Action):
    def name(self) -> str:
        return "action_create_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        topic = tracker.get_slot("topic") or GENERAL_TOPIC
        channel = tracker.get_slot("contact_channel")
        description = tracker.get_slot("problem_text") or knowledge.topic_title(topic)
        try:
            opened = _opened_for_evidence(tracker, topic)
            if opened:  # the case's ticket, opened for its evidence: the form completes it
                ticket = store.complete_ticket(
                    opened, description, channel, tracker.get_slot("contact_detail")
                )
            else:
                ticket = store.create_ticket(
                    conversation_id=tracker.sender_id,
                    topic=topic,
                    description=description,
                    contact_channel=channel,
                    contact_detail=tracker.get_slot("contact_detail"),
                    now=clock.now(),
                )
        except store.StoreError:
            # Nothing was written (one transaction); the form's answers stay, so asking again retries.
            logger.exception("Could not save a ticket for %s", tracker.sender_id)
            dispatcher.utter_message(
                response="utter_ticket_not_saved",
                channels=knowledge.store_failure_channels(conversation_language(tracker)),
            )
            return []
        language = conversation_language(tracker)
        dispatcher.utter_message(
            response="utter_ticket_created",
            ticket_number=ticket.number,
            topic_title=knowledge.topic_title(topic, language),
            contact_label=_labels("contact_channels", language)[channel],
            status=_labels("statuses", language)[ticket.status],
            buttons=offer.upload_buttons(ticket.number, tracker.sender_id, language),
        )
        return [
            SlotSet("ticket_number", ticket.number),
            SlotSet("contact_channel", None),
            SlotSet("contact_detail", None),
        ]


def _opened_for_evidence(tracker: Tracker, topic: str) -> Optional[str]:
    """The conversation's ticket for this topic if it was opened only for evidence (no form yet)."""
    number = tracker.get_slot("ticket_number")
    ticket = store.find_ticket(number) if number else None
    if ticket is None or ticket.topic != topic or not offer.opened_for_evidence(ticket, tracker.sender_id):
        return None
    return ticket.number


EVIDENCE_NAMES_SHOWN = 5
EVIDENCE_WORDS = {
    "zh": {"none": "无", "files": "{count} 个文件（{names}）", "more": "等", "separator": "、"},
    "en": {"none": "none", "files": "{count} file(s) ({names})", "more": ", …", "separator": ", "},
}


def evidence_summary(names: List[str], language: str) -> str:
    """ "2 个文件（a.png、b.mp4）": the files uploaded for a ticket, the first few by name."""
    words = EVIDENCE_WORDS["en" if language == "en" else "zh"]
    if not names:
        return words["none"]
    shown = words["separator"].join(names[:EVIDENCE_NAMES_SHOWN])
    if len(names) > EVIDENCE_NAMES_SHOWN:
        shown += words["more"]
    return words["files"].format(count=len(names), names=shown)


def _ticket_status(dispatcher: CollectingDispatcher, ticket: store.Ticket, language: str) -> None:
    dispatcher.utter_message(
        response="utter_ticket_status",
        ticket_number=ticket.number,
        topic_title=knowledge.topic_title(ticket.topic, language),
        status=_labels("statuses", language).get(ticket.status, ticket.status),
        created_at=ticket.created_at.strftime("%Y-%m-%d %H:%M"),
        description=ticket.description,
        evidence=evidence_summary(store.ticket_evidence_names(ticket.number), language),
    )


class ActionQueryTicket(Action):
    """Shows a ticket to the conversation that created it; anyone else must give the contact left on it."""

    def name(self) -> str:
        return "action_query_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        entity = next(tracker.get_latest_entity_values("ticket_id"), None)
        number = (
            find_ticket_number(entity)
            or find_ticket_number(tracker.latest_message.get("text"))
            or tracker.get_slot("ticket_number")
        )
        if not number:
            dispatcher.utter_message(response="utter_ask_ticket_number")
            return []
        try:
            ticket = store.find_ticket(number)
        except store.StoreError:
            logger.exception("Could not look up ticket %s", number)
            dispatcher.utter_message(
                response="utter_store_unavailable",
                channels=knowledge.store_failure_channels(conversation_language(tracker)),
            )
            return []
        if (
            ticket is not None
            and ticket.status == store.DRAFT
            and ticket.conversation_id == tracker.sender_id
        ):
            # Only an evidence link so far: how to make it a ticket.
            dispatcher.utter_message(response="utter_no_ticket_yet")
            return []
        if ticket is None or ticket.status == store.DRAFT:  # another conversation's draft: no ticket
            dispatcher.utter_message(response="utter_ticket_not_found", ticket_number=number)
            return []
        if ticket.conversation_id == tracker.sender_id or tracker.get_slot("verified_ticket") == number:
            _ticket_status(dispatcher, ticket, conversation_language(tracker))
            return []
        return [SlotSet("ticket_to_verify", number), FollowupAction("ticket_verify_form")]


class ValidateTicketVerifyForm(FormValidationAction):
    def name(self) -> str:
        return "validate_ticket_verify_form"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> List[EventType]:
        # A cancel, or another question rather than a contact: the rules answer it.
        text = str(tracker.latest_message.get("text") or "")
        leaves = form_escape.leaves_form(
            tracker,
            is_answer=looks_like_contact(text, ("phone", "email", "app")),
            strict_answer=looks_like_contact(text, ("phone", "email")),
        )
        if form_escape.answered(tracker, "verify_contact") and leaves:
            return form_escape.reject(self.form_name(), "verify_contact")
        return await super().run(dispatcher, tracker, domain)

    def validate_verify_contact(
        self, value: Any, dispatcher: CollectingDispatcher, tracker: Tracker, domain: DomainDict
    ) -> Dict[str, Any]:
        """Always ends the form; only a matching contact marks the ticket as verified."""
        number = tracker.get_slot("ticket_to_verify")
        ticket = store.find_ticket(number) if number else None
        given = normalize_contact(ticket.contact_channel, str(value or "")) if ticket else None
        matches = ticket is not None and given is not None and given == ticket.contact_detail
        return {"verify_contact": "given", "verified_ticket": number if matches else None}


class ActionShowVerifiedTicket(Action):
    def name(self) -> str:
        return "action_show_verified_ticket"

    async def run(
        self, dispatcher: CollectingDispatcher, tracker: Tracker, domain: Dict[str, Any]
    ) -> List[EventType]:
        number = tracker.get_slot("ticket_to_verify")
        ticket = store.find_ticket(number) if number else None
        if ticket is not None and tracker.get_slot("verified_ticket") == number:
            _ticket_status(dispatcher, ticket, conversation_language(tracker))
        else:
            dispatcher.utter_message(response="utter_ticket_contact_mismatch")
        return [SlotSet("verify_contact", None), SlotSet("ticket_to_verify", None)]
