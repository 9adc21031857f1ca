"""Rasa's model graph run in order by the server, without dask's scheduler, its plan made once.

For every message the Rasa server runs its model graph twice (the NLU pipeline, then the policies,
twice or more: once per action it predicts), through `DaskGraphRunner.run`: it prunes the graph to the
targets' ancestors (`minimal_graph_schema`, a recursive walk that visits shared ancestors once per
path), builds a dask graph and hands it to dask's synchronous scheduler, whose bookkeeping (ordering,
state dictionaries, callbacks) is a tenth of the server's time per message on a graph of a dozen nodes
run one after the other anyway. Here the pruned graph is built once per set of targets, and the
nodes are called depth first, each once, with dask's rules for a task's arguments: a node's name is
replaced by that node's result, a list element by element, anything else (the inputs' values) is
passed as it is. The results, and the exceptions a node raises, are dask's;
`tests/test_tuning.py` compares both runners on the trained model.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional, Tuple

from rasa.engine.exceptions import GraphRunError
from rasa.engine.runner.dask import DaskGraphRunner

from tuning import patching

logger = logging.getLogger("rasa.engine.runner.dask")  # Rasa's debug line, from Rasa's logger

_RASA_RUN = DaskGraphRunner.run
_PLANS = "_tuning_plans"


def _execute(argument: Any, graph: Dict[str, Any], results: Dict[str, Any]) -> Any:
    """dask's `_execute_task`, computing a key the first time it is asked for."""
    if isinstance(argument, list):
        return [_execute(each, graph, results) for each in argument]
    if type(argument) is tuple and argument and callable(argument[0]):
        function, *arguments = argument
        return function(*[_execute(each, graph, results) for each in arguments])
    try:
        is_key = argument in graph
    except TypeError:  # unhashable: a value
        return argument
    if not is_key:
        return argument
    if argument not in results:
        results[argument] = _execute(graph[argument], graph, results)
    return results[argument]


def run(
    self: DaskGraphRunner, inputs: Optional[Dict[str, Any]] = None, targets: Optional[List[str]] = None
) -> Dict[str, Any]:
    """Runs the graph (Rasa's `DaskGraphRunner.run`)."""
    run_targets = targets if targets else self._graph_schema.target_names
    plans: Dict[Tuple[str, ...], Dict[str, Any]] = self.__dict__.setdefault(_PLANS, {})
    key = tuple(run_targets)
    plan = plans.get(key)
    if plan is None:
        plan = plans[key] = self._build_dask_graph(self._graph_schema.minimal_graph_schema(run_targets))
    run_graph = dict(plan)
    if inputs:
        self._add_inputs_to_graph(inputs, run_graph)
    if logger.isEnabledFor(logging.DEBUG):
        logger.debug(
            f"Running graph with inputs: {inputs}, targets: {targets} and {self._execution_context}."
        )
    try:
        results: Dict[str, Any] = {}
        return dict(_execute(target, run_graph, results) for target in run_targets)
    except RuntimeError as e:
        raise GraphRunError("Error running runner.") from e


def install() -> None:
    patching.install(
        "graph_runner",
        [(DaskGraphRunner, "run", run)],
        relies_on=[  # the plan made once, and dask's rules for a task's arguments (`_execute`)
            "rasa.engine.runner.dask:DaskGraphRunner._build_dask_graph",
            "rasa.engine.runner.dask:DaskGraphRunner._add_inputs_to_graph",
            "dask.core:_execute_task",
        ],
    )
