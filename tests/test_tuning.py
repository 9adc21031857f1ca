"""The compiled action-reply validation accepts and refuses exactly what Rasa's own does."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError, validate
from rasa.core.actions.action import RemoteAction

from tuning.action_result_validation import validate_action_result

SPEC = RemoteAction.action_response_format_spec()
GOOD = [
    {"events": [], "responses": []},
    {
        "events": [{"event": "slot", "name": "topic", "value": "x"}],
        "responses": [{"text": "hi", "buttons": []}],
    },
    {"responses": [{"response": "utter_greet"}]},
]
BAD = [
    {"events": "not a list"},
    {"events": [{"name": "no event key"}]},
    {"responses": "nope"},
]


@pytest.mark.parametrize("result", GOOD)
def test_valid_replies_pass_both(result) -> None:
    validate(result, SPEC)
    assert validate_action_result(None, result) is True


@pytest.mark.parametrize("result", BAD)
def test_invalid_replies_fail_both(result) -> None:
    with pytest.raises(ValidationError):
        validate(result, SPEC)
    with pytest.raises(ValidationError, match="Failed to validate Action server response"):
        validate_action_result(None, result)
