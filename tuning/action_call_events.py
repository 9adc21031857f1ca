"""Sends the action server the events of the current turn only, not the whole conversation.

Rasa 3.6 serializes every event of the tracker into each action call (`EventVerbosity.ALL`), so the
call grows with the conversation: 22 % of the server's time at message 150 of one conversation. The
project's actions read the slots, the latest message and the sender (all in the tracker's state, not
in its events), and rasa_sdk's form validation reads only the slot events after the last user message
(`Tracker.slots_to_validate`). So the call carries the events from the last user message on; the rest
of the tracker's state is Rasa's own.
"""

from __future__ import annotations

from typing import Any, Dict, List

from rasa.core.actions.action import RemoteAction
from rasa.shared.core.events import Event, UserUttered
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

from tuning import patching

_rasa_call_format = RemoteAction._action_call_format


def current_turn(events: List[Event]) -> List[Event]:
    """The events from the last user message on (all of them when there is none)."""
    for index in range(len(events) - 1, -1, -1):
        if isinstance(events[index], UserUttered):
            return events[index:]
    return events


def action_call_format(self: RemoteAction, tracker: DialogueStateTracker, domain: Any) -> Dict[str, Any]:
    """Rasa's request to the action server, with the tracker's events cut to the current turn."""
    call = _rasa_call_format(self, _StateWithoutEvents(tracker), domain)
    call["tracker"]["events"] = [event.as_dict() for event in current_turn(list(tracker.events))]
    return call


class _StateWithoutEvents:
    """The tracker as Rasa's call format reads it, whose state it asks for without any event."""

    def __init__(self, tracker: DialogueStateTracker) -> None:
        self._tracker = tracker

    def __getattr__(self, name: str) -> Any:
        return getattr(self._tracker, name)

    def current_state(self, event_verbosity: EventVerbosity = EventVerbosity.NONE) -> Dict[str, Any]:
        return self._tracker.current_state(EventVerbosity.NONE)


def install() -> None:
    patching.install("action_call_events", [(RemoteAction, "_action_call_format", action_call_format)])
