"""`DialogueStateTracker.applied_events` continued from where it last stopped instead of redone.

Rasa 3.6 recomputes the applied events (the history without reverted events) from the first event on
every call, several times per message (the session check, every policy prediction), and for a form's
executions walks back through, and copies, the whole list: in a conversation of 200 messages this was
80 % of the Rasa server's time per message and grew with every message. The computation is a left
fold over the events (plus the names of the loops found anywhere in them), so a tracker that only
appended events since the last call can carry on from the stored result. The stored result is used
only if the events it was computed from are still the first events of the tracker (same objects) and
the loop names are the same; anything else recomputes it Rasa's way.
"""

from __future__ import annotations

from typing import Any, List, Optional, Tuple

from rasa.shared.core.events import (
    ActionExecuted,
    ActionReverted,
    ActiveLoop,
    Event,
    Restarted,
    SessionStarted,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker

_ORIGINAL = DialogueStateTracker.applied_events
_ATTRIBUTE = "_applied_events_state"

# (events consumed, first event, last consumed event, loop names, applied events)
State = Tuple[int, Optional[Event], Optional[Event], frozenset, List[Event]]


def _fold(tracker: DialogueStateTracker, events: Any, loop_names: frozenset, applied: List[Event]) -> None:
    """Rasa's `applied_events` loop, over `events`, continuing `applied` (changed in place)."""
    for event in events:
        if isinstance(event, (Restarted, SessionStarted)):
            applied.clear()
        elif isinstance(event, ActionReverted):
            tracker._undo_till_previous(ActionExecuted, applied)
        elif isinstance(event, UserUtteranceReverted):
            tracker._undo_till_previous(UserUttered, applied)
            tracker._undo_till_previous(ActionExecuted, applied)
        elif (
            isinstance(event, ActionExecuted)
            and event.action_name in loop_names
            and not tracker._first_loop_execution_or_unhappy_path(event.action_name, applied)
        ):
            tracker._undo_till_previous_loop_execution(event.action_name, applied)
        else:
            applied.append(event)


def _loop_names(events: Any) -> frozenset:
    return frozenset(event.name for event in events if isinstance(event, ActiveLoop) and event.name)


def applied_events(self: DialogueStateTracker) -> List[Event]:
    """Returns all actions that should be applied - w/o reverted events (Rasa's result)."""
    events = self.events
    count = len(events)
    state: Optional[State] = self.__dict__.get(_ATTRIBUTE)
    if state is not None:
        done, first, last, loop_names, applied = state
        if 0 < done <= count and events[0] is first and events[done - 1] is last:
            if done == count:
                return list(applied)
            new_events = [events[index] for index in range(done, count)]
            if _loop_names(new_events) <= loop_names:  # else: a loop's first appearance, recompute
                applied = list(applied)
                _fold(self, new_events, loop_names, applied)
                self.__dict__[_ATTRIBUTE] = (count, events[0], events[-1], loop_names, applied)
                return list(applied)
    applied = _ORIGINAL(self)
    if count:
        self.__dict__[_ATTRIBUTE] = (count, events[0], events[-1], _loop_names(events), list(applied))
    return applied


def install() -> None:
    DialogueStateTracker.applied_events = applied_events
