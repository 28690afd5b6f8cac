"""A decision threshold chosen at training time is stored with the model and used by predict."""

from __future__ import annotations

import numpy as np
import pytest

import loopml
from loopml.exceptions import DataError
from loopml.store import Store


def test_kpi_threshold_is_chosen_on_validation_stored_and_used() -> None:
    store = Store()
    df = loopml.load("builtin:breast_cancer")
    result = loopml.train(df, "target", models=["logreg"], threshold="recall >= 0.99", store=store)
    cut = result.model.threshold
    assert cut is not None and 0.0 < cut < 1.0
    assert result.model.info["threshold_choice"]["constraint"] == "recall >= 0.99"
    assert result.valid_metrics["recall"] >= 0.99
    loaded = loopml.load_model(result.ref, store=store)
    X = df.drop(columns="target")
    proba = loaded.predict_proba(X)["malignant"].to_numpy()
    expected = np.where(proba >= cut, "malignant", "benign")
    np.testing.assert_array_equal(loaded.predict(X), expected)


def test_numeric_and_maximised_thresholds() -> None:
    store = Store()
    fixed = loopml.train("builtin:breast_cancer", models=["logreg"], threshold=0.3, store=store)
    assert fixed.model.threshold == 0.3
    best = loopml.train("builtin:breast_cancer", models=["logreg"], threshold="max f1", store=store)
    assert best.model.info["threshold_choice"]["objective"] == "f1"


def test_threshold_needs_a_binary_task() -> None:
    with pytest.raises(DataError, match="--threshold applies to binary tasks"):
        loopml.train("builtin:iris", models=["logreg"], threshold=0.5, store=Store())
