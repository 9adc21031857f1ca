"""The LogisticRegressionClassifier's weights kept in the memory order its prediction reads them in.

Rasa's `LogisticRegressionClassifier` predicts with scikit-learn's `predict_proba`, which multiplies
the message's sparse features by the transposed weight matrix (`X @ coef_.T`). scikit-learn stores
`coef_` row by row (intents x features), so its transpose is not contiguous and SciPy copies the
whole matrix (48 x 12,000 numbers, 4.6 MB) for every message: 0.3 ms of a message's time, more under
load. Stored column by column once when the model is loaded, the transpose is read as it is; the
multiplication is the same, in the same order (the probabilities are bit for bit the same,
`tests/test_tuning.py`).

Its input row (`_create_X`) was made by combining every featurizer's sequence and sentence features
(a deep copy and a SciPy `hstack` each) and stacking them with the (absent) dense ones, 1 ms of a
message's time under load; the classifier reads only the sentence features. Here the sentence
features of each featurizer are laid side by side into one sparse matrix, in the order Rasa combines
them: the same matrix (`tests/test_tuning.py`). Messages with dense features go Rasa's way.
"""

from __future__ import annotations

from typing import Any, List

import numpy as np
import scipy.sparse as sp
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.message import Message

from tuning import patching

_RASA_LOAD = LogisticRegressionClassifier.load.__func__
_RASA_CREATE_X = LogisticRegressionClassifier._create_X


def prepare(classifier: Any) -> Any:
    """`classifier` (a fitted scikit-learn LogisticRegression) with `coef_` in column order."""
    coef = getattr(classifier, "coef_", None)
    if isinstance(coef, np.ndarray) and coef.ndim == 2:
        classifier.coef_ = np.asfortranarray(coef)
    return classifier


@classmethod  # type: ignore[misc]
def load(cls: Any, *args: Any, **kwargs: Any) -> LogisticRegressionClassifier:
    component = _RASA_LOAD(cls, *args, **kwargs)
    prepare(component.clf)
    return component


def create_x(self: Any, messages: List[Message]) -> sp.csr_matrix:
    """Rasa's `_create_X`: one row per message, its text's sparse sentence features side by side."""
    rows, columns, values, width = [], [], [], None
    for row, message in enumerate(messages):
        features = [f for f in message.features if f.attribute == TEXT and f.type == FEATURE_TYPE_SENTENCE]
        if not features or any(not f.is_sparse() or f.features.shape[0] != 1 for f in features):
            return _RASA_CREATE_X(self, messages)  # dense or unusual features: Rasa's way
        offset = 0
        for feature in features:
            matrix = feature.features.tocoo()
            rows.append(np.full(matrix.nnz, row))
            columns.append(matrix.col + offset)
            values.append(matrix.data.astype(np.float64))
            offset += matrix.shape[1]
        if width is not None and offset != width:
            return _RASA_CREATE_X(self, messages)
        width = offset
    if not messages:
        return _RASA_CREATE_X(self, messages)
    shape = (len(messages), width)
    return sp.coo_matrix(
        (np.concatenate(values), (np.concatenate(rows), np.concatenate(columns))), shape
    ).tocsr()


def install() -> None:
    patching.install(
        "logistic_regression",
        [(LogisticRegressionClassifier, "load", load), (LogisticRegressionClassifier, "_create_X", create_x)],
    )
