"""The aspect classifier (components/aspect_classifier.py): its labels, its prediction, its model."""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader
from sklearn.linear_model import LogisticRegression

from components.aspect_classifier import label_of, probabilities

LABELLED = """
version: "3.1"
nlu:
- intent: account_ban
  metadata: {aspect: response}
  examples: |
    - 申诉要几天才有结果
- intent: account_ban
  examples:
    - text: 申诉要准备什么
      metadata: {aspect: prepare}
    - text: 号被封了
"""


def test_labels_come_from_the_blocks_or_the_examples_metadata() -> None:
    data = RasaYAMLReader().reads(LABELLED)
    labels = {m.get("text"): label_of(m) for m in data.intent_examples}
    assert labels == {"申诉要几天才有结果": "response", "申诉要准备什么": "prepare", "号被封了": None}


def test_the_direct_prediction_is_scikit_learns() -> None:
    rng = np.random.default_rng(7)
    features = sp.random(60, 40, density=0.2, format="csr", random_state=7)
    labels = rng.choice(["contact", "hours", "none", "cost"], size=60)
    classifier = LogisticRegression(class_weight="balanced", max_iter=500).fit(features, labels)
    weights = np.ascontiguousarray(classifier.coef_.T)
    assert np.allclose(probabilities(classifier, weights, features), classifier.predict_proba(features))
