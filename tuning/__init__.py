"""Measured speed-ups of Rasa internals: replacements of Rasa's functions, each tested equal to Rasa's
own result (tests/test_tuning.py).

The package owns the replacements (one module each, installed when the channels and the tracker store
are loaded: channels/reliable.py, tracker_stores/cached_sql.py), what they were checked against (the
versions and the sources below, read by the guard in tests/test_rasa_internals.py), and how they are
put in place (tuning/patching.py: `CS_RASA_UNPATCHED=1` runs Rasa's own code; a replaced function
whose source is not the one checked stays Rasa's, with a warning). What replaces what, why, the test
of each, and how to upgrade Rasa: docs/rasa-internals.md.
"""

# The packages whose code tuning/ replaces, reproduces or relies on, at the versions it was checked
# against (tests/test_rasa_internals.py fails when an installed version differs).
CHECKED_VERSIONS = {
    "rasa": "3.6.21",  # every module: the functions replaced (CHECKED_SOURCES)
    "rasa-sdk": "3.6.2",  # action_call_events: form validation reads only the current turn's slot events
    # action_client: the action server closes idle connections after 5 s; scripts/web.py and
    # evidence/http.py: Sanic's HTTP/1.1 connection internals (docs/rasa-internals.md)
    "sanic": "21.12.2",
    "aiohttp": "3.9.5",  # action_client: a session's event loop (`ClientSession._loop`)
    "dask": "2022.10.2",  # graph_runner: dask's rules for a task's arguments (`dask.core._execute_task`)
    "scikit-learn": "1.1.3",  # logistic_regression: `predict_proba` multiplies by `coef_.T`
    "skops": "0.9.0",  # skops_import: `skops.io._utils.whichmodule`
    "structlog": "23.3.0",  # debug_copies: a level filtered out is structlog's `_nop`
}

# SHA-256 (first 16 hex digits) of the source of each function replaced, and of each function whose
# code a replacement reproduces or relies on, in the versions above (`python -m tuning.patching` prints
# the installed ones). For `module:copy`, the lines of the module that use `copy.`; for data, its JSON.
CHECKED_SOURCES = {
    # tuning/action_result_validation.py
    "rasa.core.actions.action:RemoteAction._validate_action_result": "2fd08b8cf644390e",
    "rasa.core.actions.action:RemoteAction.action_response_format_spec": "8e08f324ec7d8414",
    "rasa.shared.utils.schemas.events:EVENT_SCHEMA": "a8971434c49677a9",
    # tuning/action_call_events.py
    "rasa.core.actions.action:RemoteAction._action_call_format": "eb6b5667d432df53",
    # tuning/action_client.py
    "rasa.utils.endpoints:EndpointConfig.request": "8472a3652cf5ff4c",
    "rasa.shared.core.events:Event.resolve_by_type": "eab381cd0a9958e1",
    # tuning/applied_events.py
    "rasa.shared.core.trackers:DialogueStateTracker.applied_events": "e00ddaefc15915be",
    "rasa.shared.core.trackers:DialogueStateTracker.get_last_event_for": "7b99926bf7a22509",
    "rasa.shared.core.trackers:DialogueStateTracker._first_loop_execution_or_unhappy_path": "c071fbae6baec50f",  # noqa: E501
    "rasa.shared.core.trackers:DialogueStateTracker._undo_till_previous_loop_execution": "ea8685c127b65b5b",
    "rasa.shared.core.trackers:DialogueStateTracker._undo_till_previous": "7c314efe491af2fe",
    # tuning/past_states.py
    "rasa.shared.core.trackers:DialogueStateTracker.past_states": "81c3776891722b66",
    "rasa.core.featurizers.tracker_featurizers:TrackerFeaturizer._remove_user_text_if_intent": "13e1938e785eecee",  # noqa: E501
    "rasa.shared.core.domain:Domain.states_for_tracker_history": "5ec51a0ab4399653",
    "rasa.shared.core.trackers:DialogueStateTracker.__init__": "8d424aecbb063228",
    "rasa.shared.core.trackers:DialogueStateTracker.init_copy": "5be2ef789ecc7ecf",
    "rasa.shared.core.trackers:DialogueStateTracker.travel_back_in_time": "52569ebd74b77328",
    "rasa.shared.core.trackers:DialogueStateTracker.copy": "7d155a6c870a737b",
    # tuning/tracker_copy.py
    "rasa.core.actions.forms:FormAction._temporary_tracker": "20e0dd2566fec742",
    # tuning/logistic_regression.py
    "rasa.nlu.classifiers.logistic_regression_classifier:LogisticRegressionClassifier.load": "75aad50b8b854a9b",  # noqa: E501
    "rasa.nlu.classifiers.logistic_regression_classifier:LogisticRegressionClassifier._create_X": "c2c22dc54a02b80a",  # noqa: E501
    # tuning/skops_import.py
    "skops.io._utils:whichmodule": "30196d417084316a",
    # tuning/graph_runner.py
    "rasa.engine.runner.dask:DaskGraphRunner.run": "39c53d008746a393",
    "rasa.engine.runner.dask:DaskGraphRunner._build_dask_graph": "d9a3c5c70763c421",
    "rasa.engine.runner.dask:DaskGraphRunner._add_inputs_to_graph": "852374ac06efb3b3",
    "dask.core:_execute_task": "e19383a7ddfa88a2",
    # tuning/startup.py
    "rasa.shared.core.domain:Domain.is_empty": "5c56c715d93a6a3b",
    # tuning/debug_copies.py
    "rasa.core.policies.rule_policy:RulePolicy.format_tracker_states": "65fe60d330f81d13",
    "rasa.core.processor:copy": "8c4286bdccbfe68f",
    "rasa.core.policies.memoization:copy": "0a65d837519cfc25",
    "rasa.core.policies.rule_policy:copy": "1cd91f8e156bdaf2",
    "rasa.core.actions.forms:copy": "a0b4daa0dee98394",
    # tuning/rule_lookup.py
    "rasa.core.policies.rule_policy:RulePolicy._get_possible_keys": "2e1f2503cec2370d",
    "rasa.core.policies.rule_policy:RulePolicy._prediction_states": "0a0eaef18cd28a4e",
    "rasa.core.policies.rule_policy:RulePolicy._rule_key_to_state": "4950ac7976fc7b7c",
    "rasa.core.featurizers.tracker_featurizers:MaxHistoryTrackerFeaturizer.prediction_states": "e06bbc601ad87cac",  # noqa: E501
}
