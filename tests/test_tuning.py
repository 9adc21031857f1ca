"""Each replacement of tuning/ gives Rasa's own result (docs/rasa-internals.md maps them)."""

from __future__ import annotations

import pytest
from jsonschema import ValidationError, validate
from rasa.core.actions.action import RemoteAction

from scripts.servers import ROOT, free_port
from tuning import patching
from tuning.action_result_validation import validate_action_result


@pytest.fixture(autouse=True)
def _tuning_installs(monkeypatch: pytest.MonkeyPatch) -> None:
    """These tests compare tuning's code with Rasa's, also in a run with CS_RASA_UNPATCHED=1."""
    monkeypatch.delenv(patching.UNPATCHED_VARIABLE, raising=False)


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


# Trackers: the states the policies read (tuning/past_states.py) and the copies Rasa replays
# (tuning/tracker_copy.py) equal Rasa's own after every event of a history with forms, rejections,
# reverts, hidden rule turns, text-only messages and restarts.

STATES_DOMAIN_YAML = """
version: "3.1"
intents: [greet, ask, create_ticket, deny]
entities: [region, city]
slots:
  topic:
    type: categorical
    values: [account_ban, refund]
    mappings: [{type: custom}]
  region:
    type: text
    influence_conversation: true
    mappings: [{type: from_entity, entity: region}]
  phone:
    type: text
    influence_conversation: false
    mappings: [{type: custom}]
  done:
    type: bool
    influence_conversation: true
    mappings: [{type: custom}]
forms:
  ticket_form:
    required_slots: [phone]
actions: [action_answer, validate_ticket_form]
responses:
  utter_x: [{text: x}]
  utter_y: [{text: y}]
  utter_ask_phone: [{text: "phone"}]
"""
RULE_ONLY_DATA = {"rule_only_slots": ["done"], "rule_only_loops": ["ticket_form"]}


def _states_history():
    from rasa.shared.core.events import (
        ActionExecuted,
        ActionExecutionRejected,
        ActionReverted,
        ActiveLoop,
        BotUttered,
        DefinePrevUserUtteredFeaturization,
        FollowupAction,
        LoopInterrupted,
        Restarted,
        SessionStarted,
        SlotSet,
        UserUtteranceReverted,
        UserUttered,
    )

    def user(text, intent="ask", entities=()):
        return UserUttered(text, {"name": intent, "confidence": 1.0}, list(entities))

    def listen():
        return ActionExecuted("action_listen")

    return [
        ActionExecuted("action_session_start"),
        SessionStarted(),
        listen(),
        user("hi", "greet"),
        ActionExecuted("utter_x", hide_rule_turn=True),
        BotUttered("x"),
        listen(),
        user("ban", entities=[{"entity": "region", "value": "北京", "start": 0, "end": 2}]),
        SlotSet("region", "北京"),
        SlotSet("topic", "account_ban"),
        ActionExecuted("action_answer"),
        BotUttered("answer"),
        listen(),
        UserUttered("free text only"),
        DefinePrevUserUtteredFeaturization(True),
        ActionExecuted("utter_y", hide_rule_turn=True),
        listen(),
        user("/create_ticket", "create_ticket"),
        ActionExecuted("ticket_form"),
        ActiveLoop("ticket_form"),
        SlotSet("requested_slot", "phone"),
        BotUttered("phone?"),
        listen(),
        user("no", "deny"),
        ActionExecutionRejected("ticket_form"),
        ActionExecuted("utter_x", hide_rule_turn=True),
        LoopInterrupted(True),
        ActionExecuted("ticket_form"),
        listen(),
        user("13800138000"),
        ActionExecuted("ticket_form"),
        SlotSet("phone", "13800138000"),
        SlotSet("done", True),
        ActiveLoop(None),
        SlotSet("requested_slot", None),
        FollowupAction("utter_y"),
        ActionExecuted("utter_y"),
        listen(),
        user("d"),
        ActionExecuted("utter_x"),
        listen(),
        UserUtteranceReverted(),
        listen(),
        user("e"),
        ActionExecuted("utter_y"),
        ActionReverted(),
        ActionExecuted("utter_x", hide_rule_turn=True),
        listen(),
        Restarted(),
        listen(),
        user("f", "greet"),
        ActionExecuted("utter_x"),
        listen(),
        user("/create_ticket", "create_ticket"),
        ActionExecuted("ticket_form"),
        ActiveLoop("ticket_form"),
        listen(),
        user("g"),
        ActionExecuted("ticket_form"),
        listen(),
    ]


def _with_rasas_methods(names, call):
    """Runs `call` with Rasa's own `DialogueStateTracker` methods `names` (the tuning's undone)."""
    from rasa.shared.core.trackers import DialogueStateTracker

    from tuning import past_states, tracker_copy

    originals = {"past_states": past_states._RASA_PAST_STATES, "copy": tracker_copy._RASA_COPY}
    installed = {name: DialogueStateTracker.__dict__[name] for name in names}
    try:
        for name in names:
            setattr(DialogueStateTracker, name, originals[name])
        return call()
    finally:
        for name, method in installed.items():
            setattr(DialogueStateTracker, name, method)


def test_past_states_continued_equal_rasas_after_every_event() -> None:
    from functools import partial

    from rasa.core.featurizers.single_state_featurizer import SingleStateFeaturizer
    from rasa.core.featurizers.tracker_featurizers import MaxHistoryTrackerFeaturizer
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.trackers import DialogueStateTracker

    from tuning import applied_events, past_states

    applied_events.install()
    past_states.install()
    domain = Domain.from_yaml(STATES_DOMAIN_YAML)
    featurizers = [MaxHistoryTrackerFeaturizer(SingleStateFeaturizer(), max_history=h) for h in (None, 3)]
    tracker = DialogueStateTracker("s", domain.slots)
    calls = 0
    for event in _states_history():
        tracker.update(event, domain)
        for omit in (False, True):
            for ignore in (False, True):
                for rule_only in (None, RULE_ONLY_DATA):
                    ours = tracker.past_states(domain, omit, ignore, rule_only)
                    rasas = domain.states_for_tracker_history(tracker, omit, ignore, rule_only)
                    assert ours == rasas
                    calls += 1
        # What the policies do with them: Rasa's featurizer changes states in place (drops the user
        # text next to an intent, the last state's intent or text), alternately with text and intent.
        for featurizer in featurizers:
            for use_text in (False, True):
                for ignore in (False, True):
                    kwargs = dict(
                        use_text_for_last_user_input=use_text,
                        ignore_rule_only_turns=ignore,
                        rule_only_data=RULE_ONLY_DATA,
                    )
                    ours = featurizer.prediction_states([tracker], domain, **kwargs)
                    rasas = _with_rasas_methods(
                        ["past_states"], partial(featurizer.prediction_states, [tracker], domain, **kwargs)
                    )
                    assert ours == rasas
    assert calls and tracker.__dict__.get(past_states._ATTRIBUTE)  # the folds were kept and continued
    # A tracker with a bounded history is served by Rasa's.
    bounded = DialogueStateTracker("s", domain.slots, max_event_history=6)
    for event in _states_history():
        bounded.update(event, domain)
        assert bounded.past_states(domain) == domain.states_for_tracker_history(bounded)
    assert past_states._ATTRIBUTE not in bounded.__dict__


def _tracker_state(tracker):
    """Every attribute of a tracker, the caches of the tuning left out; events by identity."""
    import dataclasses

    state = {k: v for k, v in vars(tracker).items() if not k.startswith(("_applied_events", "_past_states"))}
    state["events"] = [id(event) for event in tracker.events]
    state["slots"] = {name: (type(s), vars(s)) for name, s in tracker.slots.items()}
    state["active_loop"] = dataclasses.asdict(tracker.active_loop) if tracker.active_loop else None
    return state


def test_tracker_copies_equal_rasas_replay_after_every_event() -> None:
    import asyncio
    from unittest import mock

    from rasa.core.actions.forms import FormAction
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import SlotSet
    from rasa.shared.core.trackers import DialogueStateTracker

    from tuning import tracker_copy

    tracker_copy.install()
    domain = Domain.from_yaml(STATES_DOMAIN_YAML)
    form = FormAction("ticket_form", None)
    tracker = DialogueStateTracker("s", domain.slots)
    tracker.model_id, tracker.assistant_id = "model", "assistant"  # set by Rasa's processor, not replayed
    for event in _states_history():
        tracker.update(event, domain)
        ours = tracker.copy()
        rasas = _with_rasas_methods(["copy"], tracker.copy)
        assert _tracker_state(ours) == _tracker_state(rasas)
        assert ours.slots is not tracker.slots and ours.events is not tracker.events
        assert all(a is not b for a, b in zip(ours.slots.values(), tracker.slots.values()))
        if tracker.active_loop:
            assert ours.active_loop is not tracker.active_loop
        extra = [SlotSet("phone", "1380000")]
        with mock.patch.object(FormAction, "get_slot_to_fill", return_value="phone"):
            ours = form._temporary_tracker(tracker, list(extra), domain)
            rasas = tracker_copy._RASA_TEMPORARY_TRACKER(form, tracker, list(extra), domain)
        assert _tracker_state(ours) == {**_tracker_state(rasas), "events": _tracker_state(ours)["events"]}
        assert [type(e) for e in ours.events] == [type(e) for e in rasas.events]
        assert ours.events[-1] == rasas.events[-1] and ours.current_state() == rasas.current_state()
    asyncio.run(asyncio.sleep(0))


def test_past_states_carry_on_across_a_forms_executions() -> None:
    """A form's next execution cuts the applied events back to its previous one: the fold carries on
    from there, and starts from the first event only at a session start or a restart."""
    from unittest import mock

    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import Restarted, SessionStarted
    from rasa.shared.core.trackers import DialogueStateTracker

    from tuning import applied_events, past_states

    applied_events.install()
    past_states.install()
    domain = Domain.from_yaml(STATES_DOMAIN_YAML)
    tracker = DialogueStateTracker("s", domain.slots)
    starts = 0
    with mock.patch.object(
        DialogueStateTracker, "init_copy", autospec=True, side_effect=DialogueStateTracker.init_copy
    ) as init_copy:
        for event in _states_history():
            tracker.update(event, domain)
            calls = init_copy.call_count
            assert tracker.past_states(domain, False, True, RULE_ONLY_DATA) == (
                domain.states_for_tracker_history(tracker, False, True, RULE_ONLY_DATA)
            )
            starts += init_copy.call_count - calls - 1  # Rasa's own makes one
    assert starts == sum(isinstance(e, (SessionStarted, Restarted)) for e in _states_history()) + 1


def test_the_quick_check_of_action_replies_agrees_with_the_whole_schema() -> None:
    """Valid replies of every kind of event pass the quick check; whatever it passes, the whole schema
    passes (what it does not pass is checked against the whole schema, with Rasa's error)."""
    import itertools

    from rasa.shared.utils.schemas.events import EVENT_SCHEMA

    from tuning.action_result_validation import _validator, quickly_valid

    kinds = [branch["properties"]["event"]["const"] for branch in EVENT_SCHEMA["oneOf"]]
    valid_events = [{"event": kind, "timestamp": 1.0} for kind in kinds if kind not in ("slot", "entities")]
    valid_events += [
        {"event": "slot", "name": "topic", "value": None},
        {"event": "slot", "name": "topic", "value": {"any": ["thing"]}, "metadata": None},
        {"event": "entities", "entities": [{"entity": "city", "value": "北京", "start": 0, "end": 2}]},
        {"event": "user", "text": "hi", "parse_data": {"intent": {"name": "greet", "confidence": 0.9}}},
        {"event": "action", "name": "utter_x", "policy": None, "confidence": 1.0, "hide_rule_turn": False},
        {"event": "bot", "text": "hi", "data": {"buttons": []}, "metadata": {}},
    ]
    invalid_events = [
        {},
        {"event": "nope"},
        {"event": 3},
        {"event": ["slot"]},
        {"event": "slot", "name": "topic"},
        {"event": "slot", "name": 3, "value": 1},
        {"event": "entities"},
        {"event": "entities", "entities": [{"entity": "city"}]},
        {"event": "user", "text": 3},
        {"event": "user", "parse_data": {"intent": {"name": 3}}},
        {"event": "user", "parse_data": {"entities": [{"value": 1}]}},
        {"event": "action", "hide_rule_turn": "no"},
        {"event": "bot", "timestamp": "now"},
        {"event": "bot", "metadata": []},
        "slot",
        None,
    ]
    replies = [{"events": [event]} for event in valid_events + invalid_events]
    replies += [{"events": list(pair)} for pair in itertools.product(valid_events[:6], invalid_events[:6])]
    replies += [
        {},
        {"events": [], "responses": []},
        {"events": None},
        {"events": {}},
        {"responses": [{"text": "x"}, "text"]},
        {"responses": {"text": "x"}},
        {"other": 1, "events": valid_events, "responses": [{"text": "x", "buttons": []}]},
        [],
        "reply",
    ]
    for reply in replies:
        whole = _validator().is_valid(reply)
        quick = quickly_valid(reply)
        assert not quick or whole, reply
    for event in valid_events:
        assert quickly_valid({"events": [event], "responses": [{"text": "x"}]}), event
        assert _validator().is_valid({"events": [event]}), event


def test_domain_is_empty_is_rasas() -> None:
    """tuning/startup.py: the empty domain's contents made once give Rasa's answer."""
    from rasa.shared.core.domain import Domain

    from tuning import startup

    rasas = patching.ORIGINALS.get("rasa.shared.core.domain:Domain.is_empty")
    rasas_is_empty = rasas.raw if rasas else Domain.is_empty
    assert not patching.ours(rasas_is_empty)
    domains = [Domain.empty(), Domain.from_path(ROOT / "domain.yml"), Domain.from_yaml("version: '3.1'")]
    domains.append(Domain.from_yaml("version: '3.1'\nintents: [greet]"))
    for domain in domains:
        assert startup.domain_is_empty(domain) == rasas_is_empty(domain)
    assert [startup.domain_is_empty(domain) for domain in domains] == [True, False, True, False]


def test_the_intent_classifiers_weights_in_column_order_give_the_same_probabilities() -> None:
    import numpy as np
    import scipy.sparse as sp
    from sklearn.linear_model import LogisticRegression

    from tuning import logistic_regression

    rng = np.random.default_rng(0)
    X = sp.random(300, 2000, density=0.01, format="csr", random_state=1)
    y = rng.integers(0, 7, 300)
    classifier = LogisticRegression(max_iter=200).fit(X, y)
    messages = sp.random(40, 2000, density=0.01, format="csr", random_state=2)
    before = classifier.predict_proba(messages)
    logistic_regression.prepare(classifier)
    assert classifier.coef_.T.flags["C_CONTIGUOUS"]
    assert np.array_equal(classifier.predict_proba(messages), before)
    assert [classifier.predict_proba(messages[i]).tolist() for i in range(3)] == [
        before[i : i + 1].tolist() for i in range(3)
    ]


def test_the_last_event_of_a_kind_is_rasas_after_every_event() -> None:
    from rasa.shared.core.domain import Domain
    from rasa.shared.core.events import ActionExecuted, ActiveLoop, BotUttered, SlotSet, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker, EventVerbosity

    from tuning import applied_events

    applied_events.install()
    domain = Domain.from_yaml(STATES_DOMAIN_YAML)
    tracker = DialogueStateTracker("s", domain.slots)
    kinds = [UserUttered, ActionExecuted, SlotSet, (BotUttered, ActiveLoop)]
    for event in _states_history():
        tracker.update(event, domain)
        for kind in kinds:
            for exclude in (None, ["action_listen"], ["action_listen", "ticket_form"]):
                for skip in (0, 1, 3):
                    for verbosity in (EventVerbosity.APPLIED, EventVerbosity.ALL):
                        args = (kind, exclude, skip, verbosity)
                        ours = tracker.get_last_event_for(*args)
                        assert ours is applied_events._RASA_GET_LAST_EVENT_FOR(tracker, *args)


def test_the_model_graph_run_in_order_gives_dasks_results() -> None:
    """The trained model's NLU and policies give the same results with the sequential runner."""
    import asyncio

    from rasa.core.agent import Agent
    from rasa.core.channels.channel import UserMessage
    from rasa.engine.runner.dask import DaskGraphRunner
    from rasa.shared.core.events import ActionExecuted, UserUttered
    from rasa.shared.core.trackers import DialogueStateTracker

    from bench.load import conversations
    from tests.bot import MODEL
    from tuning import graph_runner

    if not MODEL.exists():
        pytest.skip("run `make train` first")
    processor = Agent.load(str(MODEL)).processor
    texts = [text for script in conversations(12, seed=5) for text in script]

    async def play():
        parsed, predictions = [], []
        tracker = DialogueStateTracker("graph", processor.domain.slots)
        tracker.update(ActionExecuted("action_listen"))
        for text in texts:
            parse = await processor.parse_message(UserMessage(text, sender_id="graph"))
            parsed.append(parse)
            tracker.update(UserUttered(parse["text"], parse["intent"], parse["entities"], parse))
            prediction = processor._predict_next_with_tracker(tracker)
            predictions.append((prediction.max_confidence_index, prediction.policy_name, prediction.events))
            tracker.update(ActionExecuted("action_listen"))
        return parsed, predictions

    results, installed = {}, DaskGraphRunner.run
    for name, method in (("rasa", graph_runner._RASA_RUN), ("ours", graph_runner.run)):
        DaskGraphRunner.run = method
        try:
            results[name] = asyncio.run(play())
        finally:
            DaskGraphRunner.run = installed
    assert results["ours"] == results["rasa"]


def test_the_classifiers_input_row_is_rasas() -> None:
    """The sentence features laid side by side (tuning/logistic_regression.py) are the matrix Rasa's
    `_create_X` makes, and the trained model reads the same intents with the same confidences."""
    import asyncio

    import numpy as np
    import scipy.sparse as sp
    from rasa.core.agent import Agent
    from rasa.core.channels.channel import UserMessage
    from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
    from rasa.shared.nlu.training_data.features import Features
    from rasa.shared.nlu.training_data.message import Message

    from bench.load import conversations
    from tests.bot import MODEL
    from tuning import logistic_regression

    messages = []
    for seed in range(3):
        message = Message({"text": "x"})
        for origin, width in (("chars", 7), ("words", 5)):
            for kind in ("sequence", "sentence"):
                rows = 3 if kind == "sequence" else 1
                matrix = sp.random(rows, width, density=0.5, format="coo", random_state=seed)
                message.add_features(Features(matrix, kind, "text", origin))
        messages.append(message)
    ours = logistic_regression.create_x(None, messages)
    rasas = logistic_regression._RASA_CREATE_X(None, messages)
    assert ours.dtype == rasas.dtype and ours.shape == rasas.shape == (3, 12)
    assert np.array_equal(ours.toarray(), rasas.toarray())

    if not MODEL.exists():
        pytest.skip("run `make train` first")
    processor = Agent.load(str(MODEL)).processor
    texts = [text for script in conversations(30, seed=6) for text in script]

    def parse_all():
        return [asyncio.run(processor.parse_message(UserMessage(text, sender_id="x"))) for text in texts]

    installed = LogisticRegressionClassifier._create_X
    try:
        LogisticRegressionClassifier._create_X = logistic_regression._RASA_CREATE_X
        reference = parse_all()
    finally:
        LogisticRegressionClassifier._create_X = installed
    LogisticRegressionClassifier._create_X = logistic_regression.create_x
    try:
        assert parse_all() == reference
    finally:
        LogisticRegressionClassifier._create_X = installed


def test_event_classes_are_looked_up_as_rasa_does() -> None:
    import rasa.shared.utils.common
    from rasa.shared.core.events import Event

    from tuning import action_client

    for cls in rasa.shared.utils.common.all_subclasses(Event):
        rasas = next(
            c for c in rasa.shared.utils.common.all_subclasses(Event) if c.type_name == cls.type_name
        )
        assert action_client.resolve_by_type(cls.type_name) is rasas
    assert action_client.resolve_by_type("topic") is None
    assert action_client.resolve_by_type("no such event", default=Event) is Event
    with pytest.raises(ValueError):
        action_client.resolve_by_type("no such event")


def test_action_calls_go_over_one_kept_connection() -> None:
    """Rasa's request (same body, errors) on a session kept per endpoint: three calls, one connection."""
    import asyncio

    from aiohttp import web
    from rasa.utils.endpoints import ClientResponseError, EndpointConfig

    from tuning import action_client

    async def scenario():
        peers = []

        async def webhook(request):
            peers.append(request.transport.get_extra_info("peername"))
            body = await request.json()
            if body.get("fail"):
                return web.json_response({"error": "no"}, status=400)
            return web.json_response({"echo": body, "token": request.query.get("token")})

        app = web.Application()
        app.router.add_post("/webhook", webhook)
        runner = web.AppRunner(app)
        await runner.setup()
        port = free_port()
        await web.TCPSite(runner, "127.0.0.1", port).start()
        endpoint = EndpointConfig(f"http://127.0.0.1:{port}/webhook", token="t")
        try:
            replies = [await action_client.request(endpoint, json={"n": n}) for n in range(3)]
            with pytest.raises(ClientResponseError) as refused:
                await action_client.request(endpoint, json={"fail": True})
        finally:
            await action_client.close_sessions()
            await runner.cleanup()
        return replies, refused.value.status, peers

    replies, status, peers = asyncio.run(scenario())
    assert replies == [{"echo": {"n": n}, "token": "t"} for n in range(3)]
    assert status == 400
    assert len(peers) == 4 and len(set(peers)) == 1  # every call on the same client port


def _trained_rule_policy_and_story_trackers():
    """The trained model's RulePolicy, its domain, and the trackers of the stories, rules and test
    stories (skips without a trained model)."""
    from rasa.core.agent import Agent
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.shared.core.generator import TrainingDataGenerator
    from rasa.shared.core.training_data.story_reader.yaml_story_reader import YAMLStoryReader
    from rasa.shared.core.training_data.structures import StoryGraph

    from tests.bot import MODEL

    if not MODEL.exists():
        pytest.skip("run `make train` first")
    processor = Agent.load(str(MODEL)).processor
    policy = next(
        node._component
        for node in processor.graph_runner._instantiated_nodes.values()
        if isinstance(getattr(node, "_component", None), RulePolicy)
    )
    domain = processor.domain
    steps = []
    for path in ("data/stories.yml", "data/rules.yml", "tests/test_stories.yml"):
        steps += YAMLStoryReader(domain).read_from_file(path)
    return policy, domain, TrainingDataGenerator(StoryGraph(steps), domain, augmentation_factor=0).generate()


def test_the_rules_found_for_a_conversation_end_are_rasas() -> None:
    """The trained RulePolicy finds the same rules with the remembered results (tuning/rule_lookup.py)
    for every state of the test stories (forms, rejections, slots), in both of its rule tables."""
    import random

    from rasa.core.policies.rule_policy import RULES, RULES_FOR_LOOP_UNHAPPY_PATH

    from tuning import rule_lookup

    policy, domain, trackers = _trained_rule_policy_and_story_trackers()
    histories = [tracker.past_states(domain) for tracker in trackers]
    rng, calls = random.Random(3), 0
    for states in histories:
        for end in range(1, len(states) + 1):
            for table in (RULES, RULES_FOR_LOOP_UNHAPPY_PATH):
                lookup = policy.lookup[table]
                prefix = states[:end]
                if rng.random() < 0.3:  # a longer conversation before it
                    prefix = rng.choice(histories) + prefix
                expected = rule_lookup._RASA_GET_POSSIBLE_KEYS(policy, lookup, prefix)
                assert rule_lookup.get_possible_keys(policy, lookup, prefix) == expected
                assert rule_lookup.get_possible_keys(policy, lookup, prefix) == expected  # remembered
                calls += 1
    assert calls > 500 and policy.__dict__[rule_lookup._ATTRIBUTE]


def test_deep_copies_only_for_debug_lines_that_are_written() -> None:
    import logging

    import rasa.core.processor
    from rasa.utils.log_utils import configure_structlog

    from tuning import debug_copies

    debug_copies.install()
    events = [{"event": "slot", "value": [1]}]
    try:
        configure_structlog(logging.INFO)
        assert rasa.core.processor.copy.deepcopy(events) is events
        configure_structlog(logging.DEBUG)
        copied = rasa.core.processor.copy.deepcopy(events)
        assert copied == events and copied is not events and copied[0]["value"] is not events[0]["value"]
    finally:
        configure_structlog(logging.INFO)
    import copy

    assert copy.deepcopy(events) is not events  # the module itself is untouched


def test_skops_imported_quickly_lists_the_same_types() -> None:
    """skops imported with the quicker module search (tuning/skops_import.py) trusts the same types; a
    `whichmodule` that is not the one checked is left in place and skops imported as usual."""
    import json
    import subprocess
    import sys

    script = (
        "import sys, json, scipy.special, tuning\n"
        "if sys.argv[1] == 'changed':\n"
        "    tuning.CHECKED_SOURCES['skops.io._utils:whichmodule'] = '0' * 16\n"
        "if sys.argv[1] != 'usual':\n"
        "    from tuning import skops_import; skops_import.import_skops()\n"
        "    assert (skops_import._SKOPS_WHICHMODULE is None) == (sys.argv[1] == 'changed')\n"
        "from skops.io import _trusted_types as t, _utils\n"
        "assert (_utils.whichmodule.__module__ == 'skops.io._utils') == (sys.argv[1] != 'quick')\n"
        "names = [t.SCIPY_UFUNC_TYPE_NAMES, t.NUMPY_UFUNC_TYPE_NAMES, t.SKLEARN_ESTIMATOR_TYPE_NAMES]\n"
        "print(json.dumps(names))\n"
    )
    runs = {
        mode: subprocess.run(
            [sys.executable, "-c", script, mode], capture_output=True, check=True, text=True, cwd=ROOT
        )
        for mode in ("quick", "usual", "changed")
    }
    lists = [json.loads(run.stdout) for run in runs.values()]
    assert lists[0] == lists[1] == lists[2] and len(lists[0][0]) > 100
    assert "tuning/skops_import.py not installed" in runs["changed"].stderr


def test_messages_are_admitted_a_few_at_a_time_in_arrival_order(monkeypatch) -> None:
    """channels/admission.py: never more than CS_MESSAGES_AT_ONCE messages in progress; the others
    start in the order they arrived; 0 admits all at once; a bad value keeps the default."""
    import asyncio

    from channels import admission

    async def handle_all(count: int):
        running, most, started = [0], [0], []

        async def one(index: int) -> None:
            async with admission.admitted():
                started.append(index)
                running[0] += 1
                most[0] = max(most[0], running[0])
                await asyncio.sleep(0.01)  # waiting for the action server
                running[0] -= 1

        await asyncio.gather(*(one(index) for index in range(count)))
        return most[0], started

    monkeypatch.setenv(admission.AT_ONCE_VARIABLE, "3")
    most, started = asyncio.run(handle_all(12))
    assert most == 3 and started == list(range(12))
    monkeypatch.setenv(admission.AT_ONCE_VARIABLE, "0")
    assert asyncio.run(handle_all(12))[0] == 12
    monkeypatch.setenv(admission.AT_ONCE_VARIABLE, "many")
    assert admission.messages_at_once() == admission.DEFAULT_AT_ONCE


def test_rulepolicys_states_formatted_only_for_written_debug_lines() -> None:
    import logging

    from rasa.core.policies.policy import Policy
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.utils.log_utils import configure_structlog

    from tuning import debug_copies

    debug_copies.install()
    states = [{"user": {"intent": "greet"}, "prev_action": {"action_name": "action_listen"}}]
    try:
        configure_structlog(logging.INFO)
        assert RulePolicy.format_tracker_states(states) == ""
        configure_structlog(logging.DEBUG)
        assert RulePolicy.format_tracker_states(states) == Policy.format_tracker_states(states) != ""
    finally:
        configure_structlog(logging.INFO)


def test_rulepolicys_predictions_with_its_states_cut_to_its_rules_reach_are_rasas() -> None:
    """The trained RulePolicy predicts the same with its states cut to the last ones its rules reach
    (tuning/rule_lookup.py) as with Rasa's full list, before every action of the stories, rules and
    test stories (text and intent of the last message, forms and their rejections, slots)."""
    from rasa.core.policies.rule_policy import RulePolicy
    from rasa.shared.core.events import ActionExecuted
    from rasa.shared.core.trackers import DialogueStateTracker

    from tuning import rule_lookup

    policy, domain, generated = _trained_rule_policy_and_story_trackers()

    def predictions(tracker):
        prediction = policy.predict_action_probabilities(tracker, domain)
        return prediction.probabilities, prediction.events, prediction.is_no_user_prediction

    compared = 0
    for story in generated:
        events = list(story.events)
        for end, event in enumerate(events):
            if not isinstance(event, ActionExecuted) or end == 0:
                continue
            tracker = DialogueStateTracker.from_events("s", events[:end], domain.slots)
            try:
                RulePolicy._prediction_states = rule_lookup._RASA_PREDICTION_STATES
                RulePolicy._get_possible_keys = rule_lookup._RASA_GET_POSSIBLE_KEYS
                rasas = predictions(tracker)
            finally:
                rule_lookup.install()
            assert predictions(tracker) == rasas, (end, event)
            compared += 1
    assert compared > 300
