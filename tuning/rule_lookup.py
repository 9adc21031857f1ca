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

from typing import Dict, List, Optional, Set, Tuple

from rasa.core.policies.rule_policy import RulePolicy
from rasa.shared.core.domain import State

_RASA_GET_POSSIBLE_KEYS = RulePolicy._get_possible_keys
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


def get_possible_keys(self: RulePolicy, lookup: Dict[str, str], states: List[State]) -> Set[str]:
    """Rasa's `_get_possible_keys`: the keys of the rules applicable to `states`."""
    tables: Dict[int, _Results] = self.__dict__.setdefault(_ATTRIBUTE, {})
    results: Optional[_Results] = tables.get(id(lookup))
    if results is None or results.lookup is not lookup or len(results.lookup) != len(lookup):
        results = tables[id(lookup)] = _Results(self, lookup)
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


def install() -> None:
    RulePolicy._get_possible_keys = get_possible_keys
