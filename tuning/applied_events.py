"""`DialogueStateTracker.applied_events` continued from where it last stopped instead of redone.

Rasa 3.6 recomputes the applied events (the history without reverted events) from the first event on
every call, several times per message (the session check, every policy prediction), and for a form's
executions walks back through, and copies, the whole list: in a conversation of 200 messages this was
80 % of the Rasa server's time per message and grew with every message. The computation is a left
fold over the events (plus the names of the loops found anywhere in them), so a tracker that only
appended events since the last call can carry on from the stored result. The stored result is used
only if the events it was computed from are still the first events of the tracker (same objects) and
the loop names are the same; anything else recomputes it Rasa's way.

A form's execution walks back to its previous execution (Rasa's `_first_loop_execution_or_unhappy_path`
and `_undo_till_previous_loop_execution`), and so does the session check for the last user message
(`get_last_event_for`): while a form keeps asking, every slot and bot message since it started stays
in the applied events and the walks grow with them (a form left unanswered for 150 messages of the
benchmark's long conversation). They are Rasa's walks with each event's class looked at once per
class instead of through `isinstance` on abstract base classes (several times faster).
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Tuple

from rasa.shared.core.events import (
    ActionExecuted,
    ActionExecutionRejected,
    ActionReverted,
    ActiveLoop,
    DefinePrevUserUtteredFeaturization,
    Event,
    Restarted,
    SessionStarted,
    UserUtteranceReverted,
    UserUttered,
)
from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

from tuning import patching

_ORIGINAL = DialogueStateTracker.applied_events
_ATTRIBUTE = "_applied_events_state"

# (events consumed, first event, last consumed event, loop names, applied events)
State = Tuple[int, Optional[Event], Optional[Event], frozenset, List[Event]]


# What Rasa's walks back through the applied events look at, by the event's class (the classes are
# abstract base classes, whose isinstance is slow; the walks are long while a form runs long: every
# slot and bot message since the form's previous execution stays in the applied events).
ACTION, USER, FEATURIZATION, LOOP, REJECTED = 1, 2, 4, 8, 16
_KINDS: Dict[type, int] = {}


def _kind(event: Event) -> int:
    kind = _KINDS.get(type(event))
    if kind is None:
        kind = _KINDS[type(event)] = (
            (ACTION if isinstance(event, ActionExecuted) else 0)
            | (USER if isinstance(event, UserUttered) else 0)
            | (FEATURIZATION if isinstance(event, DefinePrevUserUtteredFeaturization) else 0)
            | (LOOP if isinstance(event, ActiveLoop) else 0)
            | (REJECTED if isinstance(event, ActionExecutionRejected) else 0)
        )
    return kind


def _first_loop_execution_or_unhappy_path(loop_name: str, applied: List[Event]) -> bool:
    """Rasa's `DialogueStateTracker._first_loop_execution_or_unhappy_path`."""
    next_action: Optional[str] = None
    for event in reversed(applied):
        kind = _KINDS.get(type(event))
        if kind is None:
            kind = _kind(event)
        if not kind:
            continue
        # a loop's deactivation: this loop runs for the first time
        if kind & LOOP and event.name is None:
            return True
        # within an unhappy path (`_is_within_unhappy_path`)
        if kind & REJECTED and event.action_name == loop_name:
            return True
        if kind & USER and next_action is not None and next_action != loop_name:
            return True
        if kind & ACTION:
            if event.action_name == loop_name:
                return False  # a previous execution of the loop, not within an unhappy path
            next_action = event.action_name
    return True


def _undo_till_previous_loop_execution(loop_name: str, applied: List[Event]) -> None:
    """Rasa's `DialogueStateTracker._undo_till_previous_loop_execution` (changes `applied`)."""
    for index in range(len(applied) - 1, -1, -1):
        event = applied[index]
        kind = _KINDS.get(type(event))
        if kind is None:
            kind = _kind(event)
        if kind & ACTION and event.action_name == loop_name:
            break
        if kind & (ACTION | USER | FEATURIZATION):
            del applied[index]


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
            and not _first_loop_execution_or_unhappy_path(event.action_name, applied)
        ):
            _undo_till_previous_loop_execution(event.action_name, applied)
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


_RASA_GET_LAST_EVENT_FOR = DialogueStateTracker.get_last_event_for
_MATCHES: Dict[Tuple[type, Any], bool] = {}


def get_last_event_for(
    self: DialogueStateTracker,
    event_type: Any,
    action_names_to_exclude: Optional[List[str]] = None,
    skip: int = 0,
    event_verbosity: EventVerbosity = EventVerbosity.APPLIED,
) -> Optional[Event]:
    """Rasa's `DialogueStateTracker.get_last_event_for` (the last applied event of a type, e.g. the
    last user message for the session check on every message), with the type test made once per
    class of event: the walk back is long while a form runs long (see `_kind`)."""
    to_exclude = action_names_to_exclude or []
    for event in reversed(self._events_for_verbosity(event_verbosity) or []):
        key = (type(event), event_type)
        matches = _MATCHES.get(key)
        if matches is None:
            matches = _MATCHES[key] = isinstance(event, event_type)
        if not matches or (isinstance(event, ActionExecuted) and event.action_name in to_exclude):
            continue
        if skip > 0:
            skip -= 1
            continue
        return event
    return None


def install() -> None:
    patching.install(
        "applied_events",
        [
            (DialogueStateTracker, "applied_events", applied_events),
            (DialogueStateTracker, "get_last_event_for", get_last_event_for),
        ],
        relies_on=[  # the walks reproduced, and the one called
            "rasa.shared.core.trackers:DialogueStateTracker._first_loop_execution_or_unhappy_path",
            "rasa.shared.core.trackers:DialogueStateTracker._undo_till_previous_loop_execution",
            "rasa.shared.core.trackers:DialogueStateTracker._undo_till_previous",
        ],
    )
