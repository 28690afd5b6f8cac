from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn.datasets import make_classification, make_regression
from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge
from sklearn.neighbors import KNeighborsClassifier
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from loopml.evaluate.curves import (
    final_estimator,
    learning_curve,
    sweep_param,
    validation_curve,
)
from loopml.exceptions import DataError


def _noisy_classes(seed: int, n: int = 200) -> tuple[np.ndarray, np.ndarray]:
    return make_classification(n, n_features=10, n_informative=3, flip_y=0.3, random_state=seed)


def _logistic_data(seed: int, n: int = 400) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.RandomState(seed)
    X = rng.normal(size=(n, 5))
    p = 1 / (1 + np.exp(-(X @ np.array([2.0, -1.5, 1.0, 0.0, 0.5]))))
    return X, (rng.uniform(size=n) < p).astype(int)


def test_learning_curve_grows_and_shows_the_gap_of_a_deep_tree() -> None:
    X, y = _noisy_classes(0, 300)
    c = learning_curve(DecisionTreeClassifier(random_state=0), X, y, sizes=4, metric="accuracy")
    assert c.kind == "learning" and len(c.x) == 4
    assert c.x == sorted(c.x) and c.x[0] >= 10
    assert all(v == pytest.approx(1.0) for v in c.train_mean)
    assert all(v is not None and v < 0.9 for v in c.valid_mean)
    assert len(c.train_std) == len(c.valid_std) == 4
    json.dumps(c.to_dict())


def test_validation_curve_picks_the_family_parameter() -> None:
    X, y = _logistic_data(0)
    pipe = make_pipeline(StandardScaler(), LogisticRegression(C=1.0))
    assert sweep_param(pipe)[:2] == ("logisticregression__C", "C")
    c = validation_curve(pipe, X, y, metric="accuracy")
    assert c.param == "C" and c.log_x and c.current == 1.0
    assert len(c.x) == len(c.valid_mean) == 7
    assert c.best() in c.x
    # strong regularisation (C = 0.001) fits worse than C = 1
    assert c.train_mean[0] < c.train_mean[3]


@pytest.mark.parametrize(
    ("estimator", "name"),
    [
        (Ridge(), "alpha"),
        (DecisionTreeRegressor(), "max_depth"),
        (KNeighborsClassifier(), "n_neighbors"),
    ],
)
def test_sweep_param_by_family(estimator: object, name: str) -> None:
    picked = sweep_param(estimator)
    assert picked is not None and picked[1] == name


def test_validation_curve_explicit_parameter_and_errors() -> None:
    X, y = make_regression(120, 3, noise=5, random_state=0)
    c = validation_curve(
        DecisionTreeRegressor(random_state=0), X, y, param="min_samples_leaf", values=[1, 5, 20]
    )
    assert c.x == [1, 5, 20] and c.param == "min_samples_leaf"
    with pytest.raises(DataError, match="no hyperparameter loopml sweeps"):
        validation_curve(LinearRegression(), X, y)
    with pytest.raises(DataError, match="has no parameter 'nope'"):
        validation_curve(Ridge(), X, y, param="nope", values=[1])
    with pytest.raises(DataError, match="Pass values="):
        validation_curve(Ridge(), X, y, param="alpha")


def test_knn_sweep_stays_below_the_fold_size() -> None:
    X, y = _logistic_data(0, 60)
    c = validation_curve(KNeighborsClassifier(), X, y, cv=3)
    assert max(c.x) < 40


def test_final_estimator_unwraps_pipelines() -> None:
    from sklearn.compose import TransformedTargetRegressor

    pipe = make_pipeline(StandardScaler(), TransformedTargetRegressor(regressor=Ridge(alpha=3.0)))
    final, prefix = final_estimator(pipe)
    assert isinstance(final, Ridge)
    assert prefix == "transformedtargetregressor__regressor__"
    assert sweep_param(pipe)[0] == "transformedtargetregressor__regressor__alpha"
