"""`DialogueStateTracker.past_states` continued from the previous call instead of redone.

The policies read the conversation as states, one per action taken (`past_states`, Rasa's
`Domain.states_for_tracker_history`): for every policy prediction, several per message, Rasa 3.6
replays the applied events from the first one into a new tracker and turns it into a state before each
action. In a conversation of 200 messages that was 17 % of the Rasa server's time per message, growing
with the conversation, although the RulePolicy and MemoizationPolicy of config.yml only look at the
last few states (a rule's length, `max_history`).

The computation is a left fold over the applied events (tuning/applied_events.py): a tracker built up
event by event, a state taken before each `ActionExecuted`, and, when the policy ignores rule-only
turns, two variables carried from one state to the next; then one last state from the whole history.
So a tracker keeps, per kind of call (domain, `omit_unset_slots`, `ignore_rule_only_turns`,
`rule_only_data`), where the fold stopped: the applied events it consumed, the tracker they built, the
states and the two variables. A call whose applied events start with the same events (same objects)
carries on from there; anything else (a reverted turn, a loop's undone executions, a restart, a new
domain) starts again from the first event, as Rasa does. The last state is always computed anew.

What is kept is never changed in place: a call that carries on copies the tracker it continues and
hands out a new list. The states in that list are shared with later calls, as far as Rasa's callers
change states they do so identically every time (`_remove_user_text_if_intent` drops a user text
next to an intent) or only the last state, which is always fresh. Only the exact
`DialogueStateTracker` class is served (training's `TrackerWithCachedStates` keeps Rasa's).
`tests/test_tuning.py` compares the result with Rasa's after every event of a history with forms,
rejections, reverts, hidden rule turns and restarts, with and without Rasa's featurizer's changes.
"""

from __future__ import annotations

import copy
import operator
from itertools import islice
from typing import Any, Dict, List, NamedTuple, Optional, Tuple

from rasa.core.featurizers.tracker_featurizers import TrackerFeaturizer
from rasa.shared.core.constants import ACTION_LISTEN_NAME, PREVIOUS_ACTION, USER
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.events import ActionExecuted, Event
from rasa.shared.core.trackers import DialogueStateTracker
from rasa.shared.nlu.constants import INTENT, TEXT

from tuning import patching, tracker_copy
from tuning.tracker_copy import replica

_RASA_PAST_STATES = DialogueStateTracker.past_states
_ATTRIBUTE = "_past_states_folds"
_LAST = "_past_states_last"
_ENDS = 3  # the ends of the last calls kept
_LISTENS = 2  # and the folds before the last `action_listen`s


class Fold(NamedTuple):
    """Where the fold over the applied events stopped, for one kind of call. Never changed in place
    (the lists are shared by the folds of one call, each reading the start of them)."""

    domain: Domain
    rule_only_data: Optional[Dict[str, Any]]
    applied: List[Event]  # `applied[:consumed]`: the applied events consumed
    consumed: int
    prior: DialogueStateTracker  # the tracker they built (from `init_copy()`)
    states: List[State]  # `states[:count]`: the state before each `ActionExecuted` consumed
    count: int  # (hidden turns left out)
    last_ml_action_sub_state: Optional[Dict[str, Any]]
    turn_was_hidden: bool

    def may_start(self, applied: List[Event]) -> bool:
        """A quick look: whether `applied` has the last event consumed where the fold had it."""
        done = self.consumed
        return done <= len(applied) and (done == 0 or self.applied[done - 1] is applied[done - 1])

    def starts(self, applied: List[Event]) -> bool:
        """Whether `applied` starts with the events consumed (the same objects)."""
        done = self.consumed
        return self.may_start(applied) and all(map(operator.is_, islice(self.applied, done), applied))


def _state(
    domain: Domain,
    tracker: DialogueStateTracker,
    hide_rule_turn: bool,
    omit_unset_slots: bool,
    ignore_rule_only_turns: bool,
    rule_only_data: Optional[Dict[str, Any]],
    states: List[State],
    carried: List[Any],  # [last_ml_action_sub_state, turn_was_hidden], updated in place
) -> Optional[State]:
    """The body of Rasa's `Domain.states_for_tracker_history` loop for one prior tracker: the state
    to append, or None for a hidden turn."""
    if ignore_rule_only_turns:
        # remember previous ml action based on the last non hidden turn
        if not carried[1]:
            carried[0] = domain._get_prev_action_sub_state(tracker)
        # followup action or happy path loop prediction don't change whether the turn is hidden
        if not tracker.followup_action and not tracker.latest_action_name == tracker.active_loop_name:
            carried[1] = hide_rule_turn
        if carried[1]:
            return None
    state = domain.get_active_state(tracker, omit_unset_slots=omit_unset_slots)
    if ignore_rule_only_turns:
        domain._remove_rule_only_features(state, rule_only_data)
        if states:
            domain._substitute_rule_only_user_input(state, states[-1])
        if carried[0]:
            state[PREVIOUS_ACTION] = carried[0]
    return domain._clean_state(state)


def past_states(
    self: DialogueStateTracker,
    domain: Domain,
    omit_unset_slots: bool = False,
    ignore_rule_only_turns: bool = False,
    rule_only_data: Optional[Dict[str, Any]] = None,
) -> List[State]:
    """Generates the past states of this tracker based on the history (Rasa's result)."""
    if (
        type(self) is not DialogueStateTracker
        or type(domain) is not Domain
        or self._max_event_history is not None
    ):
        return _RASA_PAST_STATES(self, domain, omit_unset_slots, ignore_rule_only_turns, rule_only_data)
    applied = self.applied_events()
    key: Tuple[bool, bool] = (bool(omit_unset_slots), bool(ignore_rule_only_turns))
    folds: Dict[Tuple[bool, bool], Tuple[Fold, ...]] = self.__dict__.get(_ATTRIBUTE) or {}
    # The folds that may go on to these events (a quick look at each); the one that carries on, the
    # furthest of those that do start them (a full look, at that one only). The others are kept as
    # marks below, and looked at in full if ever used.
    usable = [
        fold
        for fold in folds.get(key, ())
        if fold.domain is domain
        and (not ignore_rule_only_turns or fold.rule_only_data == rule_only_data)
        and fold.may_start(applied)
    ]
    fold = next(
        (each for each in sorted(usable, key=lambda each: -each.consumed) if each.starts(applied)), None
    )
    if fold is not None and fold.consumed == len(applied):
        done, states, prior = len(applied), fold.states[: fold.count], fold.prior
        carried = [fold.last_ml_action_sub_state, fold.turn_was_hidden]
        end = fold
    else:
        if fold is not None:  # carry on from it, with copies of what it kept
            done, states, prior = fold.consumed, fold.states[: fold.count], replica(fold.prior)
            carried = [fold.last_ml_action_sub_state, fold.turn_was_hidden]
        else:
            done, states, carried, prior = 0, [], [None, False], self.init_copy()
        rule_only = copy.deepcopy(rule_only_data) if ignore_rule_only_turns else None
        args = (omit_unset_slots, ignore_rule_only_turns, rule_only_data)
        forms = frozenset(domain.form_names)
        # Kept besides this call's end, for when the applied events lose their last events (a form's
        # execution removes the actions and user messages since its previous one, Rasa's
        # `_undo_till_previous_loop_execution`; a reverted turn its last ones): the ends of the
        # previous calls, the fold right after each form's latest execution, and the folds right
        # before the last `action_listen`s (the start of a turn, which a form's execution keeps).
        ends = [each for each in folds.get(key, ())[:_ENDS] if any(each is fold for fold in usable)]
        after_form: Dict[str, Fold] = {}
        before_listen: List[Fold] = []
        for each in sorted(usable, key=lambda each: each.consumed):
            if each.consumed and _form_execution(applied[each.consumed - 1], forms):
                after_form[applied[each.consumed - 1].action_name] = each
            elif each.consumed < len(applied) and _listen(applied[each.consumed]):
                before_listen.append(each)
        for index in range(done, len(applied)):
            event = applied[index]
            if _listen(event) and index > done:
                before_listen.append(
                    Fold(domain, rule_only, applied, index, replica(prior), states, len(states), *carried)
                )
            if isinstance(event, ActionExecuted):
                state = _state(domain, prior, event.hide_rule_turn, *args, states, carried)
                if state is not None:
                    states.append(state)
            prior.update(event)
            if _form_execution(event, forms) and index + 1 < len(applied):  # (else: the end is kept)
                after_form[event.action_name] = Fold(
                    domain, rule_only, applied, index + 1, replica(prior), states, len(states), *carried
                )
        kept = dict(folds)  # a new dict: copies of this tracker share the old one
        end = Fold(domain, rule_only, applied, len(applied), prior, states, len(states), *carried)
        marks = [end, *ends[: _ENDS - 1], *after_form.values(), *before_listen[-_LISTENS:]]
        kept[key] = tuple(_unique(marks))
        self.__dict__[_ATTRIBUTE] = kept
    # The last state follows from the fold's end alone: made once per end (the policies ask again
    # until the next action's events arrive), and shared as the other kept states are.
    lasts: Dict[Tuple[bool, bool], Tuple[Fold, Optional[State]]] = self.__dict__.get(_LAST) or {}
    made = lasts.get(key)
    if made is not None and made[0] is end:
        last = made[1]
    else:
        last = _state(domain, prior, False, omit_unset_slots, ignore_rule_only_turns, rule_only_data,
                      states, list(carried))  # fmt: skip
        self.__dict__[_LAST] = {**lasts, key: (end, last)}  # a new dict: copies share the old one
    return _handed_out(states + [last] if last is not None else states)


def _unique(folds: List[Fold]) -> List[Fold]:
    seen: set = set()
    return [fold for fold in folds if not (id(fold) in seen or seen.add(id(fold)))]


def _listen(event: Event) -> bool:
    return isinstance(event, ActionExecuted) and event.action_name == ACTION_LISTEN_NAME


def _form_execution(event: Event, forms: frozenset) -> bool:
    return isinstance(event, ActionExecuted) and event.action_name in forms


def _handed_out(states: List[State]) -> List[State]:
    """The states as the caller's own where Rasa's callers change them: the last state (the
    featurizer drops its intent or text in place, `_choose_last_user_input`), with every state that
    shares its user sub-state (Rasa's states of rule-only turns share the user sub-state of the state
    before, `_substitute_rule_only_user_input`), copied keeping that sharing, so that a change reaches
    the same states as in Rasa's. The other states are the kept ones: Rasa's one change to them
    (`_remove_user_text_if_intent`) is made by replacing the states in the caller's list
    (`remove_user_text_if_intent`), and the list is always a new one."""
    if not states:
        return []
    mine = list(states)
    last_user = states[-1].get(USER)
    shared_user = dict(last_user) if last_user is not None else None
    for index, state in enumerate(states):
        if index == len(states) - 1 or (last_user is not None and state.get(USER) is last_user):
            own = dict(state)
            if last_user is not None and own.get(USER) is last_user:
                own[USER] = shared_user
            elif own.get(USER) is not None:
                own[USER] = dict(own[USER])
            mine[index] = own
    return mine


def remove_user_text_if_intent(trackers_as_states: List[List[State]]) -> None:
    """Rasa's `TrackerFeaturizer._remove_user_text_if_intent` (a user text next to an intent is left
    out), replacing each state it changes in its list with a changed copy instead of deleting the text
    from the state, which may be one `past_states` keeps."""
    for states in trackers_as_states:
        for index, state in enumerate(states):
            user = state.get(USER, {})
            if user.get(INTENT) and user.get(TEXT):
                states[index] = {**state, USER: {k: v for k, v in user.items() if k != TEXT}}


def install() -> None:
    patching.install(
        "past_states",
        [
            (DialogueStateTracker, "past_states", past_states),
            (TrackerFeaturizer, "_remove_user_text_if_intent", staticmethod(remove_user_text_if_intent)),
        ],
        # the loop reproduced (`_state`), and the tracker copies it makes (tuning/tracker_copy.py)
        relies_on=["rasa.shared.core.domain:Domain.states_for_tracker_history", *tracker_copy.RELIES_ON],
    )
