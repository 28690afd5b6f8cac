from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LinearRegression, Ridge
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from loopml.evaluate.decomposition import bias_variance


def _noisy_classes(seed: int, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    return make_classification(n, n_features=10, n_informative=3, flip_y=0.3, random_state=seed)


def _logistic_data(seed: int, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 5))
    p = 1 / (1 + np.exp(-(X @ np.array([2.0, -1.5, 1.0, 0.0, 0.5]))))
    return X, (rng.uniform(size=n) < p).astype(int)


def test_regression_decomposition_adds_up_and_estimates_noise() -> None:
    rng = np.random.RandomState(0)
    X = rng.uniform(0, 10, (1500, 1))
    y = 2 * X[:, 0] + rng.normal(0, 1.0, 1500)  # noise variance 1
    bv = bias_variance(LinearRegression(), X[:1000], y[:1000], X[1000:], y[1000:], rounds=10)
    assert bv.task == "regression" and bv.rounds == 10
    assert bv.expected_loss == pytest.approx(bv.bias + bv.variance + bv.noise)
    assert bv.bias_with_noise == pytest.approx(bv.bias + bv.noise)
    assert bv.noise == pytest.approx(1.0, rel=0.25)
    assert bv.shares()["noise"] > 0.8
    assert "noise" in bv.reading


def test_deep_tree_has_more_variance_than_a_linear_model() -> None:
    X, y = make_regression(300, 3, noise=10, random_state=0)
    tree = bias_variance(DecisionTreeRegressor(random_state=0), X, y, rounds=12)
    line = bias_variance(LinearRegression(), X, y, rounds=12)
    assert tree.variance > 5 * line.variance
    json.dumps(tree.to_dict())


def test_classification_decomposition_follows_domingos() -> None:
    X, y = _noisy_classes(0, 300)
    bv = bias_variance(DecisionTreeClassifier(random_state=0), X, y, rounds=15)
    assert bv.loss == "0-1 loss" and bv.noise == 0.0
    assert bv.expected_loss == pytest.approx(bv.bias + bv.net_variance)
    assert bv.net_variance == pytest.approx(bv.variance_unbiased - bv.variance_biased)
    assert 0 < bv.variance < 1
    assert "bias" in bv.reading and "variance" in bv.reading


def test_bias_variance_respects_the_time_limit() -> None:
    X, y = make_regression(200, 3, noise=5, random_state=0)
    bv = bias_variance(Ridge(), X, y, rounds=50, time_limit=0.0)
    assert bv.rounds == 5
    assert any("time limit" in n for n in bv.notes)
