"""No deep copies for debug log lines that are not written.

Rasa 3.6's processor, policies and forms pass deep copies of events, states and slots to their debug
log lines (`structlogger.debug(..., rasa_events=copy.deepcopy(events))`); Python makes the copies
before the call, so they cost the same when debug logging is off (the server's default): about
80 copies a message. In those modules `copy.deepcopy` is used for nothing else, so their `copy` is
replaced by one whose `deepcopy` copies only while structlog writes debug lines (`--debug`), and
hands the object to the log call otherwise (which then drops it). Likewise RulePolicy formats every
state of the conversation into text for one debug line per prediction (`format_tracker_states`, a
cost that grows with the conversation): only while debug lines are written.
"""

from __future__ import annotations

import copy
from types import ModuleType
from typing import Any, Dict, List, Optional

import structlog
from rasa.core.policies.policy import Policy

from tuning import patching

_RASA_FORMAT_TRACKER_STATES = Policy.format_tracker_states

# Rasa modules whose every `copy.deepcopy` is a debug log line's argument.
_MODULES = (
    "rasa.core.processor",
    "rasa.core.policies.memoization",
    "rasa.core.policies.rule_policy",
    "rasa.core.actions.forms",
)


def debug_lines_written() -> bool:
    """Whether structlog writes debug lines (Rasa configures a logger class filtering below its level,
    whose `debug` is structlog's `_nop`)."""
    debug = getattr(structlog.get_config().get("wrapper_class"), "debug", None)
    return getattr(debug, "__name__", "") != "_nop"


class _CopyForDebugLines(ModuleType):
    """The `copy` module, but `deepcopy` only copies while debug lines are written."""

    def __init__(self) -> None:
        super().__init__("copy")
        self.copy = copy.copy
        self.Error = copy.Error

    @staticmethod
    def deepcopy(value: Any, memo: Optional[dict] = None) -> Any:
        return copy.deepcopy(value, memo) if debug_lines_written() else value


def _format_tracker_states(states: List[Dict[str, Any]]) -> str:
    """RulePolicy's `format_tracker_states`, for its debug line only."""
    return _RASA_FORMAT_TRACKER_STATES(states) if debug_lines_written() else ""


_replacement = _CopyForDebugLines()


def install() -> None:
    import importlib

    from rasa.core.policies.rule_policy import RulePolicy

    patching.install(
        "debug_copies",
        [
            (RulePolicy, "format_tracker_states", staticmethod(_format_tracker_states)),
            # (checked: the lines of each module that use `copy.`, every `deepcopy` a debug line's)
            *[(importlib.import_module(name), "copy", _replacement) for name in _MODULES],
        ],
    )
