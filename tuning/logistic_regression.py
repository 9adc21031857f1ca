"""The LogisticRegressionClassifier's weights kept in the memory order its prediction reads them in.

Rasa's `LogisticRegressionClassifier` predicts with scikit-learn's `predict_proba`, which multiplies
the message's sparse features by the transposed weight matrix (`X @ coef_.T`). scikit-learn stores
`coef_` row by row (intents x features), so its transpose is not contiguous and SciPy copies the
whole matrix (48 x 12,000 numbers, 4.6 MB) for every message: 0.3 ms of a message's time, more under
load. Stored column by column once when the model is loaded, the transpose is read as it is; the
multiplication is the same, in the same order (the probabilities are bit for bit the same,
`tests/test_tuning.py`).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from rasa.nlu.classifiers.logistic_regression_classifier import LogisticRegressionClassifier

_RASA_LOAD = LogisticRegressionClassifier.load.__func__


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


def install() -> None:
    LogisticRegressionClassifier.load = load
