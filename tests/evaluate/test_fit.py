from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_circles, make_classification, make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from loopml.evaluate.fit import (
    OVERFIT_GAP,
    UNDERFIT_MARGIN,
    diagnose,
)
from loopml.exceptions import DataError

SEEDS = [0, 1, 2]


def _noisy_classes(seed: int, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    X, y = make_classification(n, n_features=10, n_informative=3, flip_y=0.3, random_state=seed)
    return X, y


def _parabola(seed: int, n: int = 300) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(seed)
    X = rng.uniform(-3, 3, (n, 2))
    return X, X[:, 0] ** 2 + X[:, 1] ** 2 + rng.normal(0, 0.3, n)


def _logistic_data(seed: int, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    """Labels drawn from a logistic model: a linear classifier is the right model."""
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 5))
    p = 1 / (1 + np.exp(-(X @ np.array([2.0, -1.5, 1.0, 0.0, 0.5]))))
    return X, (rng.uniform(size=n) < p).astype(int)


# -- the three labels ---------------------------------------------------------------------------


@pytest.mark.parametrize("seed", SEEDS)
def test_deep_tree_on_small_noisy_data_is_overfitting(seed: int) -> None:
    X, y = _noisy_classes(seed)
    d = diagnose(
        DecisionTreeClassifier(random_state=seed), X[:150], y[:150], X[150:], y[150:], seed=seed
    )
    assert d.label == "overfitting"
    e = d.evidence
    assert e["train_score"] == pytest.approx(1.0)
    assert e["gap_skill"] > OVERFIT_GAP
    assert e["gap"] == pytest.approx(e["train_score"] - e["held_out_score"])
    assert any("regularis" in r.lower() for r in d.remedies)
    assert any("more training data" in r.lower() for r in d.remedies)
    assert d.summary.startswith("Overfitting.")


@pytest.mark.parametrize("seed", SEEDS)
def test_deep_regression_tree_on_few_noisy_rows_is_overfitting(seed: int) -> None:
    X, y = _parabola(seed)
    noisy = y[:60] + np.random.RandomState(seed).normal(0, 3, 60)
    d = diagnose(DecisionTreeRegressor(random_state=seed), X[:60], noisy, X[200:], y[200:])
    assert d.label == "overfitting"
    assert d.metric == "rmse" and not d.greater_is_better
    assert d.evidence["train_score"] == pytest.approx(0.0)
    assert d.evidence["gap"] > 0  # positive = training better, whatever the metric's direction


@pytest.mark.parametrize("seed", SEEDS)
def test_linear_model_on_nonlinear_target_is_underfitting(seed: int) -> None:
    X, y = _parabola(seed)
    d = diagnose(LinearRegression(), X[:200], y[:200], X[200:], y[200:], seed=seed)
    assert d.label == "underfitting"
    e = d.evidence
    assert e["reference_skill"] - e["train_skill"] > UNDERFIT_MARGIN
    assert e["reference_model"] == "HistGradientBoostingRegressor"
    assert "HistGradientBoostingRegressor reached" in d.remedies[0]
    assert any("features" in r for r in d.remedies)


@pytest.mark.parametrize("seed", SEEDS)
def test_linear_classifier_on_circles_is_underfitting(seed: int) -> None:
    X, y = make_circles(300, noise=0.1, factor=0.5, random_state=seed)
    d = diagnose(LogisticRegression(), X[:200], y[:200], X[200:], y[200:], seed=seed)
    assert d.label == "underfitting"
    assert d.metric == "roc_auc"


@pytest.mark.parametrize("seed", SEEDS)
def test_regularised_linear_model_on_linear_data_is_balanced(seed: int) -> None:
    X, y = make_regression(300, 5, noise=20, random_state=seed)
    d = diagnose(Ridge(alpha=1.0), X[:200], y[:200], X[200:], y[200:], seed=seed)
    assert d.label == "balanced"
    assert abs(d.evidence["gap_skill"]) < OVERFIT_GAP
    assert d.summary.startswith("Balanced.")


@pytest.mark.parametrize("seed", SEEDS)
def test_logistic_regression_on_logistic_data_is_balanced(seed: int) -> None:
    X, y = _logistic_data(seed)
    model = make_pipeline(StandardScaler(), LogisticRegression(C=1.0))
    d = diagnose(model, X[:300], y[:300], X[300:], y[300:], metric="accuracy", seed=seed)
    assert d.label == "balanced"
    assert d.evidence["reference_model"] == "HistGradientBoostingClassifier"


# -- evidence and options -----------------------------------------------------------------------


def test_evidence_is_complete_and_json_safe() -> None:
    X, y = _logistic_data(0)
    d = diagnose(LogisticRegression(), X[:300], y[:300], X[300:], y[300:], cv=3)
    e = d.evidence
    for key in (
        "train_score",
        "valid_score",
        "cv_mean",
        "cv_std",
        "cv_train_mean",
        "held_out_score",
        "gap",
        "baseline_score",
        "reference_score",
        "train_skill",
        "held_out_skill",
        "reference_skill",
        "thresholds",
    ):
        assert key in e
    assert e["cv_folds"] == 3
    assert e["baseline_score"] == pytest.approx(0.5)  # a prior-predicting dummy has AUC 0.5
    # held-out score: validation and CV means weighted by the rows each scores
    expected = (e["valid_score"] * 100 + e["cv_mean"] * 300) / 400
    assert e["held_out_score"] == pytest.approx(expected)
    assert e["thresholds"]["overfit_gap"] == OVERFIT_GAP
    json.dumps(d.to_dict())
    assert str(d).startswith(d.label)


def test_without_validation_rows_cross_validation_is_the_held_out_score() -> None:
    X, y = _noisy_classes(0)
    d = diagnose(DecisionTreeClassifier(random_state=0), X, y, cv=4)
    assert d.evidence["valid_score"] is None
    assert d.evidence["held_out_score"] == pytest.approx(d.evidence["cv_mean"])
    assert d.label == "overfitting"


def test_without_reference_the_dummy_floor_judges_underfitting() -> None:
    X, y = _parabola(0)
    d = diagnose(LinearRegression(), X[:200], y[:200], X[200:], y[200:], reference=False)
    assert d.label == "underfitting"
    assert d.evidence["reference_score"] is None


def test_target_without_signal_is_underfitting_with_feature_remedies() -> None:
    rng = np.random.RandomState(0)
    X, y = rng.normal(size=(300, 4)), rng.normal(size=300)
    d = diagnose(Ridge(), X[:200], y[:200], X[200:], y[200:])
    assert d.label == "underfitting"
    assert d.evidence["no_signal"] is True
    assert "informative features" in d.remedies[0]


def test_accepts_a_factory_string_labels_and_dataframes() -> None:
    X, y = _logistic_data(1)
    frame = pd.DataFrame(X, columns=list("abcde"))
    labels = np.where(y == 1, "yes", "no")
    d = diagnose(
        lambda: LogisticRegression(), frame.iloc[:300], labels[:300], frame.iloc[300:], labels[300:]
    )
    assert d.label == "balanced"


def test_large_training_sets_are_sampled() -> None:
    X, y = make_regression(600, 3, noise=5, random_state=0)
    d = diagnose(Ridge(), X, y, cv=2, max_rows=200, reference=False)
    assert d.evidence["n_train"] == 200 and d.evidence["sampled"]
    assert any("sample of 200" in n for n in d.notes)


def test_diagnose_errors() -> None:
    X = np.zeros((20, 2))
    with pytest.raises(DataError, match="at least two classes"):
        diagnose(LogisticRegression(), X, np.zeros(20, dtype=int))
    with pytest.raises(DataError, match="task must be"):
        diagnose(Ridge(), X, np.zeros(20), task="clustering")
    with pytest.raises(DataError, match="needs held-out rows"):
        diagnose(Ridge(), X, np.arange(20.0), cv=0)
    with pytest.raises(DataError, match="scikit-learn estimator"):
        diagnose(42, X, np.arange(20.0))  # type: ignore[arg-type]
