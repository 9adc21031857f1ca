"""Learns WHAT a question asks — its aspect: contact, hours, response, prepare, process, location,
booking, cost, or none (no aspect: the case's overview) — from the training examples labelled with one,
and puts it on every message as an entity `aspect` with its confidence.

The label is sentence-level, so it is not an entity annotation: an example carries it in Rasa's
`metadata`, given once for a block of examples (`data/nlu/aspect_*.yml`):

    - intent: account_ban
      metadata: {aspect: response}
      examples: |
        - 申诉要几天才有结果

(an example's own `metadata: {aspect: ...}` is read too, and wins). Examples without a label train the
intent classifier only. The intent gives the case and this the aspect; the actions answer the aspect for
the case's own channel (README, "Precise answers").

The model is a multinomial logistic regression (scikit-learn) over the text's sentence features (the
count featurizers before it); its prediction is computed directly (a product and a softmax), which
costs about 0.1 ms a message (bench/aspect_cost.py). The entity's `additional_info` holds the ranking of the
aspects, best first, so the actions can tell a sure reading from a guess.
"""

from __future__ import annotations

import logging
from typing import Any, Dict, List, Optional

import numpy as np
import scipy.sparse as sp
from rasa.engine.graph import ExecutionContext, GraphComponent
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.engine.storage.resource import Resource
from rasa.engine.storage.storage import ModelStorage
from rasa.shared.nlu.constants import (
    ENTITIES,
    FEATURE_TYPE_SENTENCE,
    METADATA,
    METADATA_EXAMPLE,
    METADATA_INTENT,
    TEXT,
)
from rasa.shared.nlu.training_data.message import Message
from rasa.shared.nlu.training_data.training_data import TrainingData
from sklearn.linear_model import LogisticRegression

logger = logging.getLogger(__name__)

ASPECT_ENTITY = "aspect"
NO_ASPECT = "none"
# Rasa's own prefix for messages like "/account_ban" (buttons): their entities come from the payload.
INTENT_PREFIX = "/"


def label_of(message: Message, key: str = ASPECT_ENTITY) -> Optional[str]:
    """The aspect a training example is labelled with: its own metadata first, then its block's."""
    metadata = message.get(METADATA) or {}
    for level in (METADATA_EXAMPLE, METADATA_INTENT):
        value = (metadata.get(level) or {}).get(key) if isinstance(metadata.get(level), dict) else None
        if value:
            return str(value)
    return None


def sentence_features(messages: List[Message]) -> Optional[sp.csr_matrix]:
    """One row per message: the sparse sentence features of its text, featurizer after featurizer,
    laid side by side (the order Rasa combines them in); None if a message has none."""
    rows, columns, values, width = [], [], [], None
    for row, message in enumerate(messages):
        offset = 0
        for feature in message.features:
            if feature.attribute != TEXT or feature.type != FEATURE_TYPE_SENTENCE:
                continue
            matrix = sp.coo_matrix(feature.features)
            rows.append(np.full(matrix.nnz, row))
            columns.append(matrix.col + offset)
            values.append(matrix.data.astype(np.float64))
            offset += matrix.shape[1]
        if offset == 0 or (width is not None and offset != width):
            return None
        width = offset
    if width is None:
        return None
    shape = (len(messages), width)
    return sp.coo_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(columns))), shape
    ).tocsr()


def probabilities(classifier: LogisticRegression, weights: np.ndarray, features: sp.csr_matrix) -> np.ndarray:
    """scikit-learn's `predict_proba` of a multinomial logistic regression (a softmax of the scores),
    without its input checks: `weights` is `coef_` transposed, stored in the order the product reads."""
    scores = np.asarray(features @ weights) + classifier.intercept_
    scores -= scores.max(axis=1, keepdims=True)
    np.exp(scores, out=scores)
    return scores / scores.sum(axis=1, keepdims=True)


@DefaultV1Recipe.register([DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR], is_trainable=True)
class AspectClassifier(GraphComponent):
    """Adds the entity `aspect` (value, `confidence_entity`, ranking) to every message it can read."""

    @staticmethod
    def get_default_config() -> Dict[str, Any]:
        return {
            "label_key": ASPECT_ENTITY,  # the metadata key that holds an example's aspect
            "C": 1.0,  # inverse regularization strength of the logistic regression
            "max_iter": 500,
            "random_state": 42,
            "ranking_length": 3,  # aspects kept in the entity's additional_info
        }

    def __init__(
        self,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        classifier: Optional[LogisticRegression] = None,
    ) -> None:
        self.config = {**self.get_default_config(), **config}
        self._model_storage = model_storage
        self._resource = resource
        self.classifier = classifier
        self._weights = np.ascontiguousarray(classifier.coef_.T) if classifier is not None else None

    @classmethod
    def create(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
    ) -> AspectClassifier:
        return cls(config, model_storage, resource)

    def train(self, training_data: TrainingData) -> Resource:
        labelled = [
            (message, label)
            for message in training_data.intent_examples
            if message.get(TEXT) and (label := label_of(message, self.config["label_key"]))
        ]
        features = sentence_features([message for message, _ in labelled])
        labels = {label for _, label in labelled}
        if features is None or len(labels) < 2:
            logger.warning("AspectClassifier: fewer than two labelled aspects in the training data.")
            return self._resource
        self.classifier = LogisticRegression(
            C=self.config["C"],
            max_iter=self.config["max_iter"],
            random_state=self.config["random_state"],
            class_weight="balanced",
            solver="lbfgs",
        )
        self.classifier.fit(features, [label for _, label in labelled])
        self._weights = np.ascontiguousarray(self.classifier.coef_.T)
        self.persist()
        return self._resource

    def process(self, messages: List[Message]) -> List[Message]:
        readable = [m for m in messages if m.get(TEXT) and not m.get(TEXT).startswith(INTENT_PREFIX)]
        if self.classifier is None or not readable:
            return messages
        features = sentence_features(readable)
        if features is None:
            return messages
        names = self.classifier.classes_
        for message, row in zip(readable, probabilities(self.classifier, self._weights, features)):
            order = np.argsort(-row)
            ranking = [
                {"name": str(names[i]), "confidence": round(float(row[i]), 4)}
                for i in order[: self.config["ranking_length"]]
            ]
            entity = {
                "entity": ASPECT_ENTITY,
                "value": ranking[0]["name"],
                "start": 0,
                "end": len(message.get(TEXT)),
                "confidence_entity": ranking[0]["confidence"],
                "extractor": self.__class__.__name__,
                "additional_info": {"ranking": ranking},
            }
            message.set(ENTITIES, [*message.get(ENTITIES, []), entity], add_to_output=True)
        return messages

    def persist(self) -> None:
        import skops.io as sio

        with self._model_storage.write_to(self._resource) as directory:
            sio.dump(self.classifier, directory / "aspect_classifier.skops")

    @classmethod
    def load(
        cls,
        config: Dict[str, Any],
        model_storage: ModelStorage,
        resource: Resource,
        execution_context: ExecutionContext,
        **kwargs: Any,
    ) -> AspectClassifier:
        import skops.io as sio

        try:
            with model_storage.read_from(resource) as directory:
                path = directory / "aspect_classifier.skops"
                untrusted = sio.get_untrusted_types(file=path)
                if untrusted:
                    raise ValueError(f"untrusted types in {path}: {untrusted}")
                classifier = sio.load(path, trusted=untrusted)
        except ValueError as error:
            logger.warning(f"AspectClassifier: no trained model ({error}); messages get no aspect.")
            return cls(config, model_storage, resource)
        return cls(config, model_storage, resource, classifier)
