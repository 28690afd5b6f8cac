from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.preprocessing import StandardScaler

from loopml.exceptions import DataError
from loopml.learn.anomaly import AnomalyDetector

METHODS = ["isolation_forest", "lof"]


def _injected(
    n: int = 1000, d: int = 8, k: int = 20, seed: int = 0
) -> tuple[pd.DataFrame, np.ndarray]:
    """Gaussian rows plus *k* rows drawn uniformly from a box far wider than the data."""
    rng = np.random.default_rng(seed)
    X = np.vstack([rng.normal(size=(n, d)), rng.uniform(-8, 8, size=(k, d))])
    y = np.r_[np.zeros(n, dtype=int), np.ones(k, dtype=int)]
    order = rng.permutation(n + k)
    return pd.DataFrame(X[order], columns=[f"f{i}" for i in range(d)]), y[order]


@pytest.mark.parametrize("method", METHODS)
def test_finds_injected_outliers(method: str) -> None:
    X, y = _injected()
    det = AnomalyDetector(method=method, preprocessor=StandardScaler()).fit(X)  # type: ignore[arg-type]
    assert det.scores_.shape == (len(X),)
    report = det.evaluate(X, y)
    assert report["roc_auc"] > 0.95
    assert report["pr_auc"] > 0.9
    # "auto" threshold: catches nearly all, with few false alarms
    assert report["recall"] >= 0.9
    assert report["precision"] >= 0.6
    assert set(report) == {
        "precision",
        "recall",
        "f1",
        "roc_auc",
        "pr_auc",
        "n_flagged",
        "n_anomalies",
    }


@pytest.mark.parametrize("method", METHODS)
def test_scores_rise_with_abnormality_and_generalise(method: str) -> None:
    X, _ = _injected(k=0)
    det = AnomalyDetector(method=method, preprocessor=StandardScaler()).fit(X)  # type: ignore[arg-type]
    new = pd.DataFrame(np.zeros((3, X.shape[1])), columns=X.columns)
    new.iloc[1] = 4.0
    new.iloc[2] = 9.0
    scores = det.score_samples(new)
    # Isolation Forest saturates beyond the data's range: 4 and 9 may tie.
    assert scores[0] < scores[1] <= scores[2]
    assert det.predict(new).tolist() == [0, 1, 1]
    assert ((det.decision_function(new) > 0) == det.predict(new).astype(bool)).all()


def test_auto_threshold_flags_little_on_clean_data() -> None:
    X, _ = _injected(n=2000, d=10, k=0, seed=3)
    det = AnomalyDetector(preprocessor=StandardScaler()).fit(X)
    assert det.flags_.mean() <= 0.01
    q1, q3 = np.quantile(det.scores_, [0.25, 0.75])
    assert det.threshold_ == pytest.approx(max(q3 + 3 * (q3 - q1), 0.5))


@pytest.mark.parametrize("method", METHODS)
def test_contamination_sets_the_share_flagged(method: str) -> None:
    X, _ = _injected()
    det = AnomalyDetector(method=method, contamination=0.05, preprocessor=StandardScaler())  # type: ignore[arg-type]
    flags = det.fit_predict(X)
    assert flags.mean() == pytest.approx(0.05, abs=0.002)
    assert set(np.unique(flags)) == {0, 1}


@pytest.mark.parametrize("method", METHODS)
def test_pickle_round_trip_gives_identical_scores(method: str) -> None:
    X, _ = _injected()
    det = AnomalyDetector(method=method).fit(X)  # type: ignore[arg-type]
    again = pickle.loads(pickle.dumps(det))
    assert np.array_equal(again.score_samples(X), det.score_samples(X))
    assert again.threshold_ == det.threshold_
    twin = AnomalyDetector(method=method).fit(X)  # type: ignore[arg-type]
    assert np.array_equal(twin.scores_, det.scores_)  # same seed, same result
    assert clone(det).get_params() == det.get_params()


def test_explain_names_the_out_of_range_features() -> None:
    rng = np.random.default_rng(1)
    n = 800
    X = pd.DataFrame(
        {
            "amount": rng.normal(100, 10, n),
            "items": rng.poisson(3, n).astype(float),
            "hour": rng.normal(14, 2, n),
            "country": rng.choice(["fr", "de", "it"], n),
        }
    )
    X.loc[7, "amount"] = 900.0
    X.loc[11, ["hour", "country"]] = [3.0, "zz"]
    det = AnomalyDetector(contamination=0.02).fit(X)
    exp = det.explain(X, top=2)
    assert {7, 11} <= set(exp.index)
    assert exp.loc[7, "features"][0] == "amount"
    assert exp.loc[7, "z"][0] > 10
    assert "amount = 900 is far above its usual range" in exp.loc[7, "reason"]
    assert "country = 'zz'" in exp.loc[11, "reason"]
    assert set(exp.loc[11, "features"]) == {"hour", "country"}
    assert exp["score"].min() > det.threshold_
    everyone = det.explain(X.head(5), only_flagged=False)
    assert len(everyone) == 5


def test_explain_unseen_category() -> None:
    rng = np.random.default_rng(2)
    X = pd.DataFrame({"x": rng.normal(size=300), "c": rng.choice(["a", "b"], 300)})
    det = AnomalyDetector(contamination=0.01).fit(X)
    new = pd.DataFrame({"x": [0.0], "c": ["never"]})
    reason = det.explain(new, only_flagged=False)["reason"].iloc[0]
    assert "c = 'never' was never seen in training" in reason


def test_default_preprocessor_on_mixed_frame() -> None:
    rng = np.random.default_rng(4)
    n = 600
    X = pd.DataFrame(
        {
            "id": np.arange(n),
            "x": rng.normal(size=n),
            "y": rng.normal(size=n),
            "kind": rng.choice(["a", "b", "c"], n),
            "flag": rng.choice([True, False], n),
        }
    )
    X.loc[[3, 9], ["x", "y"]] = [[12.0, -12.0], [-11.0, 13.0]]
    det = AnomalyDetector().fit(X)
    assert det.schema_ is not None and "id" not in det.schema_.feature_names
    top = np.argsort(-det.scores_)[:2]
    assert set(top) == {3, 9}


def test_errors() -> None:
    X, _ = _injected()
    for bad in (0, 0.7, "many", True):
        with pytest.raises(
            DataError, match=r"contamination must be 'auto' or a fraction in \(0, 0.5\]"
        ):
            AnomalyDetector(contamination=bad).fit(X)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="method must be one of isolation_forest, lof"):
        AnomalyDetector(method="ocsvm").fit(X)  # type: ignore[arg-type]
    with pytest.raises(DataError, match="at least 3 rows"):
        AnomalyDetector().fit(X.head(2))
    det = AnomalyDetector(preprocessor=StandardScaler()).fit(X)
    with pytest.raises(DataError, match="y_true has 3 rows but X has 1020"):
        det.evaluate(X, [0, 1, 0])
    with pytest.raises(DataError, match="y_true must be 1/True for anomalies"):
        det.evaluate(X, np.full(len(X), 2))
    one_class = det.evaluate(X, np.zeros(len(X)))
    assert np.isnan(one_class["roc_auc"])
