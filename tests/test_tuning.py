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


def test_action_calls_carry_the_current_turn_with_rasas_state() -> None:
    from rasa.core.actions.action import RemoteAction as Remote
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker
    from rasa_sdk import Tracker

    from tuning import action_call_events

    domain = Domain.from_yaml(
        "version: '3.1'\nslots:\n  topic:\n    type: text\n    mappings: [{type: custom}]\n"
        "  problem_text:\n    type: text\n    mappings: [{type: custom}]\n"
    )
    events = [
        ActionExecuted("action_listen"),
        UserUttered("号被封了", {"name": "account_ban", "confidence": 0.9}),
        SlotSet("topic", "account_ban"),
        ActionExecuted("action_answer_topic"),
        ActionExecuted("action_listen"),
        UserUttered("提交工单", {"name": "create_ticket", "confidence": 0.9}),
        SlotSet("problem_text", "号被封了三天"),
    ]
    tracker = DialogueStateTracker.from_events("u", events, domain.slots)
    action = Remote("validate_ticket_form", None)
    full = action_call_events._rasa_call_format(action, tracker, domain)  # Rasa's own, even once installed
    trimmed = action_call_events.action_call_format(action, tracker, domain)
    assert [e["event"] for e in trimmed["tracker"]["events"]] == ["user", "slot"]
    assert {k: v for k, v in trimmed["tracker"].items() if k != "events"} == {
        k: v for k, v in full["tracker"].items() if k != "events"
    }
    as_sdk = [Tracker.from_dict(call["tracker"]) for call in (full, trimmed)]
    assert as_sdk[0].slots_to_validate() == as_sdk[1].slots_to_validate() == {"problem_text": "号被封了三天"}
    assert as_sdk[0].latest_message == as_sdk[1].latest_message and as_sdk[0].slots == as_sdk[1].slots
