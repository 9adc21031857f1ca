"""RulePolicy's search for the rules that fit the conversation, remembered per conversation end.

For every prediction (several per message) Rasa's `RulePolicy._get_possible_keys` checks each of the
~100 learned rules against the conversation's states, from the last state backwards, by decoding and
comparing dictionaries: 5 % of the server's time per message. A rule only reaches back as many states
as it has, so the result depends only on the conversation's last L states, L the longest rule's
length (or all of them when there are fewer): that tail, frozen into a hashable key, indexes a table
of results (bounded, cleared when full). The first time a tail is seen Rasa's search runs on it (on
the whole conversation it went on walking every state, re-checking the rules still possible: a cost
that grew with the conversation); the rules found are handed out as a new set each time. States that
cannot be frozen (a value that is not hashable) go Rasa's way.
"""

from __future__ import annotations

from typing import Any, Dict, List, Optional, Set, Tuple

from rasa.core.featurizers.tracker_featurizers import MaxHistoryTrackerFeaturizer
from rasa.core.policies.rule_policy import RULES, RULES_FOR_LOOP_UNHAPPY_PATH, RulePolicy
from rasa.shared.core.domain import Domain, State
from rasa.shared.core.trackers import DialogueStateTracker

from tuning import patching

_RASA_GET_POSSIBLE_KEYS = RulePolicy._get_possible_keys
_RASA_PREDICTION_STATES = RulePolicy._prediction_states
_ATTRIBUTE = "_rule_lookup_results"
MAX_REMEMBERED = 5_000


def _frozen(state: State) -> Tuple:
    return tuple(sorted((kind, tuple(sorted(sub_state.items()))) for kind, sub_state in state.items()))


class _Results:
    """The results for one lookup table of one policy."""

    def __init__(self, policy: RulePolicy, lookup: Dict[str, str]) -> None:
        self.lookup = lookup
        self.reach = max((len(policy._rule_key_to_state(key)) for key in lookup), default=0)
        self.found: Dict[Tuple, Set[str]] = {}


def _results(policy: RulePolicy, lookup: Dict[str, str]) -> _Results:
    tables: Dict[int, _Results] = policy.__dict__.setdefault(_ATTRIBUTE, {})
    results: Optional[_Results] = tables.get(id(lookup))
    if results is None or results.lookup is not lookup or len(results.lookup) != len(lookup):
        results = tables[id(lookup)] = _Results(policy, lookup)
    return results


def get_possible_keys(self: RulePolicy, lookup: Dict[str, str], states: List[State]) -> Set[str]:
    """Rasa's `_get_possible_keys`: the keys of the rules applicable to `states`."""
    results = _results(self, lookup)
    tail = states[-results.reach :] if results.reach else []
    try:
        key = tuple(_frozen(state) for state in tail)
        hash(key)
    except TypeError:  # a value that cannot be a key
        return _RASA_GET_POSSIBLE_KEYS(self, lookup, states)
    found = results.found.get(key)
    if found is None:
        # Rasa's search on the tail gives its result on all states: beyond a rule's length every rule
        # stays possible (Rasa went on walking the whole conversation, checking them again per state).
        found = _RASA_GET_POSSIBLE_KEYS(self, lookup, tail)
        if len(results.found) >= MAX_REMEMBERED:
            results.found.clear()
        results.found[key] = frozenset(found)
    return set(found)


def prediction_states(
    self: RulePolicy,
    tracker: DialogueStateTracker,
    domain: Domain,
    use_text_for_last_user_input: bool = False,
    rule_only_data: Optional[Dict[str, Any]] = None,
) -> List[State]:
    """Rasa's `Policy._prediction_states` for RulePolicy, cut to the last states its rules reach.

    RulePolicy's featurizer keeps every state (no `max_history`), and prepares each of them (drops a
    user text next to an intent) for every prediction, though all RulePolicy reads of them is the
    rule search's (`_get_possible_keys`, above: the states its rules reach) and a debug line. With
    the featurizer's `max_history` set to that reach for the call, the states are cut before they are
    prepared: the same last states, prepared alike."""
    featurizer = self.featurizer
    tables = [self.lookup[name] for name in (RULES, RULES_FOR_LOOP_UNHAPPY_PATH) if self.lookup.get(name)]
    reach = max((_results(self, lookup).reach for lookup in tables), default=0)
    if type(featurizer) is not MaxHistoryTrackerFeaturizer or featurizer.max_history is not None or not reach:
        return _RASA_PREDICTION_STATES(self, tracker, domain, use_text_for_last_user_input, rule_only_data)
    featurizer.max_history = reach
    try:
        return _RASA_PREDICTION_STATES(self, tracker, domain, use_text_for_last_user_input, rule_only_data)
    finally:
        featurizer.max_history = None


def install() -> None:
    patching.install(
        "rule_lookup",
        [
            (RulePolicy, "_get_possible_keys", get_possible_keys),
            (RulePolicy, "_prediction_states", prediction_states),
        ],
        relies_on=[  # a rule's length (its reach), and the featurizer's cut to `max_history`
            "rasa.core.policies.rule_policy:RulePolicy._rule_key_to_state",
            "rasa.core.featurizers.tracker_featurizers:MaxHistoryTrackerFeaturizer.prediction_states",
        ],
    )
