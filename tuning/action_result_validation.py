"""Validates action server replies with a JSON-schema validator built once instead of per call.

Rasa 3.6 checks every reply of the action server with `jsonschema.validate(result, schema)`, which
first re-validates the (constant) schema itself: about 17 ms of CPU per custom action on these
machines, half of the server's time per message in the profile of `make bench`. The same schema and
the same checks with the validator compiled once cost about 0.25 ms. A reply that does not match still
raises the same ValidationError with Rasa's message.

The schema checks each event against the schemas of all 23 kinds of event (`oneOf`), of which only one
can match: each kind's schema fixes `event` to its own name (`const`), and `event` is required. So a
reply is valid exactly when its structure is and each event is valid against the schema of the kind
its `event` names; that is checked first (a validator per kind, built once), and only a reply that
fails it goes through the whole schema, for Rasa's error. `tests/test_tuning.py` compares the two on
valid and invalid replies of every kind.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any, Dict

from jsonschema import ValidationError
from jsonschema.exceptions import best_match
from jsonschema.validators import validator_for
from rasa.core.actions.action import RemoteAction
from rasa.shared.constants import DOCS_BASE_URL

from tuning import patching


@lru_cache(maxsize=1)
def _validator() -> Any:
    schema = RemoteAction.action_response_format_spec()
    validator_class = validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema)


@lru_cache(maxsize=1)
def _validators_by_kind() -> Dict[str, Any]:
    """For each kind of event, a validator of the event schema with only that kind's `oneOf` branch."""
    events = RemoteAction.action_response_format_spec()["properties"]["events"]["items"]
    common = {key: value for key, value in events.items() if key != "oneOf"}
    validators = {}
    for branch in events["oneOf"]:
        kind = branch["properties"]["event"]["const"]
        schema = {**common, "allOf": [branch]}
        validator_class = validator_for(schema)
        validators[kind] = validator_class(schema)
    return validators


def quickly_valid(result: Any) -> bool:
    """True only if `result` is valid against Rasa's schema (False: it may or may not be)."""
    if not isinstance(result, dict):
        return False
    events, responses = result.get("events", []), result.get("responses", [])
    if not isinstance(events, list) or not isinstance(responses, list):
        return False
    if not all(isinstance(response, dict) for response in responses):
        return False
    validators = _validators_by_kind()
    for event in events:
        kind = event.get("event") if isinstance(event, dict) else None
        validator = validators.get(kind) if isinstance(kind, str) else None
        if validator is None or not validator.is_valid(event):
            return False
    return True


def validate_action_result(self: RemoteAction, result: Dict[str, Any]) -> bool:
    if quickly_valid(result):
        return True
    error: ValidationError = best_match(_validator().iter_errors(result))
    if error is not None:
        error.message += (
            ". Failed to validate Action server response from API, make sure your response from the "
            "Action endpoint is valid. For more information about the format visit "
            f"{DOCS_BASE_URL}/custom-actions"
        )
        raise error
    return True


def install() -> None:
    patching.install(
        "action_result_validation",
        [(RemoteAction, "_validate_action_result", validate_action_result)],
        relies_on=[
            "rasa.core.actions.action:RemoteAction.action_response_format_spec",
            "rasa.shared.utils.schemas.events:EVENT_SCHEMA",
        ],
    )
