"""Rasa's temporary copies of a tracker, made by copying its state instead of replaying its events.

Rasa 3.6 copies the conversation's tracker several times per message by replaying every event into a
new one: `DialogueStateTracker.copy()` for each action the processor runs (so that a rejected action
leaves no trace) and for a form's activation, and `FormAction._temporary_tracker` (all events after the
last restart plus the form's new ones) for each validation and each request of a form's next slot. In
a conversation of 200 messages these replays were 15 % of the Rasa server's time per message, growing
with the conversation.

A tracker's state is, by Rasa's design, what replaying its events gives (`DialogueStateTracker`:
"current state of the tracker - MUST be re-creatable by processing all the events"), and the events
themselves are shared, not copied, by Rasa's replay. So the same tracker is built by copying that
state: the event list, the slots (each its own object), the active loop and the latest action (their
own objects), the latest messages (the same event objects, as replaying gives). Attributes a replay
does not carry over are left as a replay leaves them (`model_id`, `assistant_id`, `sender_source`).
Rasa's replay is kept where the state may not be the replay of the events the tracker holds: a
tracker with a bounded history (its first events dropped), a subclass, and for the form's tracker a
conversation that was restarted or whose slots are not the domain's.
`tests/test_tuning.py` checks every attribute against Rasa's copy after every event of a history with
forms, rejections, reverts and restarts.
"""

from __future__ import annotations

import copy
from typing import Any, List, Optional

from rasa.core.actions.forms import FormAction
from rasa.shared.core.constants import REQUESTED_SLOT
from rasa.shared.core.events import ActionExecuted, Event, Restarted, SlotSet
from rasa.shared.core.trackers import DialogueStateTracker

from tuning import patching

_RASA_COPY = DialogueStateTracker.copy
_RASA_TEMPORARY_TRACKER = FormAction._temporary_tracker
DEFAULT_SENDER_ID = "default"  # rasa.shared.core.constants.DEFAULT_SENDER_ID


def _fast_path(tracker: DialogueStateTracker) -> bool:
    return type(tracker) is DialogueStateTracker and tracker._max_event_history is None


def _state_of(tracker: DialogueStateTracker, sender_id: str, slots: Any) -> DialogueStateTracker:
    """A tracker with `tracker`'s events and state, built as `DialogueStateTracker(sender_id, ...)`
    then fed the events would be (no history bound, source, model or assistant id)."""
    new = DialogueStateTracker.__new__(DialogueStateTracker)
    own = new.__dict__
    own.update(tracker.__dict__)  # the tracker's own caches (e.g. applied events) stay valid: same events
    own["_max_event_history"] = None
    own["events"] = new._create_events(list(tracker.events))
    own["sender_id"] = sender_id
    own["slots"] = slots
    own["sender_source"] = None
    own["is_rule_tracker"] = tracker.is_rule_tracker
    own["active_loop"] = copy.copy(tracker.active_loop)
    own["latest_action"] = dict(tracker.latest_action) if tracker.latest_action is not None else None
    own["model_id"] = None
    own["assistant_id"] = None
    return new


def replica(tracker: DialogueStateTracker) -> DialogueStateTracker:
    """`tracker.copy()` as Rasa's (`travel_back_in_time(inf)`: `init_copy()` and every event replayed)."""
    if not _fast_path(tracker):
        return _RASA_COPY(tracker)
    slots = copy.copy(tracker.slots)  # keeps AnySlotDict's type for trackers without a domain
    for name, slot in tracker.slots.items():
        slots[name] = copy_slot(slot)
    return _state_of(tracker, tracker.sender_id or DEFAULT_SENDER_ID, slots)


def copy_slot(slot: Any) -> Any:
    """`copy.copy(slot)`: Rasa's slots are plain objects (attributes in `__dict__`, no `__slots__`
    but `ABC`'s empty ones, no copy hooks), whose copy is a new object of the class with the same
    attributes; made so without `copy`'s generic protocol (a fifth of the time). Other objects get
    `copy.copy`."""
    cls = type(slot)
    if cls not in _PLAIN:
        _PLAIN[cls] = not any(
            vars(base).get("__slots__") or "__copy__" in vars(base) or "__reduce_ex__" in vars(base)
            or "__reduce__" in vars(base) or "__getstate__" in vars(base) or "__setstate__" in vars(base)
            for base in cls.__mro__[:-1]
        )  # fmt: skip
    if not _PLAIN[cls]:
        return copy.copy(slot)
    new = cls.__new__(cls)
    new.__dict__.update(slot.__dict__)
    return new


_PLAIN: dict = {}


def temporary_tracker(
    self: FormAction, current_tracker: DialogueStateTracker, additional_events: List[Event], domain: Any
) -> DialogueStateTracker:
    """Rasa's `FormAction._temporary_tracker`: a tracker of the events after the latest restart, with
    the domain's slots, then the form's execution and `additional_events`."""
    extra: List[Event] = [
        # Insert SlotSet event to make sure REQUESTED_SLOT belongs to active form.
        SlotSet(REQUESTED_SLOT, self.get_slot_to_fill(current_tracker)),
        # Insert form execution event so that it's clearly distinguishable which events were newly added.
        ActionExecuted(self.name()),
        *additional_events,
    ]
    slots = _domain_slots_with_values(current_tracker, domain)
    if slots is None or not _fast_path(current_tracker) or _restarted(current_tracker):
        return DialogueStateTracker.from_events(
            current_tracker.sender_id,
            current_tracker.events_after_latest_restart() + extra,
            slots=domain.slots,
        )
    tracker = _state_of(current_tracker, current_tracker.sender_id, slots)
    for event in extra:
        tracker.update(event)
    return tracker


def _restarted(tracker: DialogueStateTracker) -> bool:
    return any(type(event) is Restarted for event in tracker.events)


def _domain_slots_with_values(tracker: DialogueStateTracker, domain: Any) -> Optional[dict]:
    """The domain's slots (their own objects) holding the tracker's values, or None when the tracker's
    slots are not the domain's (same names in the same order, same types)."""
    slots = {}
    names = list(tracker.slots)
    if len(names) != len(domain.slots):
        return None
    for name, domain_slot in zip(names, domain.slots):
        current = tracker.slots[name]
        if domain_slot.name != name or type(current) is not type(domain_slot):
            return None
        slot = copy_slot(domain_slot)
        slot.__dict__["_value"] = current._value
        slot.__dict__["_has_been_set"] = current._has_been_set
        slots[name] = slot
    return slots


# What a tracker's state is made of, and Rasa's copy that `replica` reproduces.
RELIES_ON = [
    "rasa.shared.core.trackers:DialogueStateTracker.__init__",
    "rasa.shared.core.trackers:DialogueStateTracker.init_copy",
    "rasa.shared.core.trackers:DialogueStateTracker.travel_back_in_time",
    "rasa.shared.core.trackers:DialogueStateTracker.copy",
]


def install() -> None:
    patching.install(
        "tracker_copy",
        [(DialogueStateTracker, "copy", replica), (FormAction, "_temporary_tracker", temporary_tracker)],
        relies_on=RELIES_ON,
    )
