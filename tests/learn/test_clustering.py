from __future__ import annotations

import pickle

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.compose import ColumnTransformer
from sklearn.datasets import make_blobs, make_moons
from sklearn.metrics import adjusted_rand_score
from sklearn.preprocessing import StandardScaler

from loopml.exceptions import DataError
from loopml.learn.clustering import (
    Segmenter,
    clustering_scores,
    figures,
    projection_2d,
    segment_profiles,
)


def _blobs(centers: int, n: int = 600, seed: int = 1) -> tuple[pd.DataFrame, np.ndarray]:
    X, y = make_blobs(n_samples=n, centers=centers, cluster_std=0.6, random_state=seed)
    return pd.DataFrame(X, columns=["a", "b"]), y


def _moons(n: int = 500, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    X, y = make_moons(n_samples=n, noise=0.05, random_state=seed)
    return pd.DataFrame(X, columns=["a", "b"]), y


def _scaler() -> ColumnTransformer:
    return ColumnTransformer([("num", StandardScaler(), ["a", "b"])])


def _customers(n: int = 900, seed: int = 0) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    seg = rng.integers(0, 3, n)
    return (
        pd.DataFrame(
            {
                "customer_id": np.arange(n),
                "income": np.array([30.0, 60.0, 90.0])[seg] + rng.normal(0, 4, n),
                "age": np.array([25.0, 45.0, 65.0])[seg] + rng.normal(0, 3, n),
                "plan": np.array(["basic", "plus", "premium"])[seg],
            }
        ),
        seg,
    )


@pytest.mark.parametrize("centers", [3, 5])
def test_auto_k_recovers_blobs(centers: int) -> None:
    X, y = _blobs(centers)
    seg = Segmenter(preprocessor=_scaler()).fit(X)
    assert seg.k_ == centers
    assert adjusted_rand_score(y, seg.labels_) > 0.95
    scores = seg.k_scores_
    assert scores is not None
    assert list(scores.columns) == [
        "k",
        "silhouette",
        "inertia",
        "calinski_harabasz",
        "davies_bouldin",
    ]
    assert scores["k"].tolist() == list(range(2, 11))
    assert scores.loc[scores["silhouette"].idxmax(), "k"] == centers
    assert scores["inertia"].is_monotonic_decreasing
    assert seg.elbow_k_ == centers
    assert seg.metrics_["silhouette"] == pytest.approx(scores["silhouette"].max())


def test_predict_assigns_new_points_to_their_blob() -> None:
    X, y = _blobs(4, n=800)
    seg = Segmenter(preprocessor=_scaler()).fit(X.iloc[:600])
    pred = seg.predict(X.iloc[600:])
    assert adjusted_rand_score(y[600:], pred) > 0.95
    # the same segment numbers as training rows of the same blob
    train_of = {c: np.bincount(seg.labels_[y[:600] == c]).argmax() for c in range(4)}
    assert all(p == train_of[c] for p, c in zip(pred, y[600:], strict=True))


def test_fixed_k_and_minibatch_for_large_n() -> None:
    X, y = _blobs(3)
    seg = Segmenter(k=3, preprocessor=_scaler()).fit(X)
    assert seg.k_ == 3 and seg.k_scores_ is None and seg.method_ == "kmeans"
    big = Segmenter(k="auto", k_range=(2, 5), preprocessor=_scaler(), large_n=500).fit(X)
    assert big.method_ == "minibatch"
    assert big.k_ == 3
    assert adjusted_rand_score(y, big.labels_) > 0.95


@pytest.mark.parametrize("method", ["dbscan", "hdbscan"])
def test_density_methods_find_two_moons(method: str) -> None:
    X, y = _moons()
    seg = Segmenter(method=method, preprocessor=_scaler()).fit(X)  # type: ignore[arg-type]
    assert seg.k_ == 2
    assert adjusted_rand_score(y, seg.labels_) > 0.95
    if method == "dbscan":
        assert seg.eps_ is not None and seg.eps_ > 0
    new, y_new = _moons(200, seed=1)
    pred = seg.predict(new)
    assigned = pred >= 0
    assert assigned.mean() > 0.9
    assert adjusted_rand_score(y_new[assigned], pred[assigned]) > 0.95
    far = pd.DataFrame({"a": [10.0], "b": [10.0]})
    assert seg.predict(far).tolist() == [-1]


def test_dbscan_marks_scattered_points_as_noise() -> None:
    X, _ = _blobs(3)
    rng = np.random.default_rng(0)
    noise = pd.DataFrame(rng.uniform(-15, 15, (20, 2)), columns=["a", "b"])
    seg = Segmenter(method="dbscan", preprocessor=_scaler()).fit(pd.concat([X, noise]))
    assert seg.k_ == 3
    assert seg.n_noise_ >= 10
    assert (seg.labels_[-20:] == -1).mean() > 0.5
    assert 0 < seg.metrics_["noise_fraction"] < 0.1


def test_default_preprocessor_handles_mixed_columns() -> None:
    X, truth = _customers()
    seg = Segmenter(k_range=(2, 6)).fit(X)
    assert seg.schema_ is not None
    assert "customer_id" not in seg.schema_.feature_names  # an id is not a feature
    assert seg.k_ == 3
    assert adjusted_rand_score(truth, seg.labels_) > 0.95
    assert (seg.predict(X.iloc[:50]) == seg.labels_[:50]).all()


def test_sklearn_contract_clone_and_pickle() -> None:
    X, _ = _blobs(3)
    seg = Segmenter(k=3, preprocessor=_scaler(), random_state=3)
    assert clone(seg).get_params()["random_state"] == 3
    seg.fit(X)
    again = pickle.loads(pickle.dumps(seg))
    assert (again.predict(X) == seg.predict(X)).all()
    twin = Segmenter(k=3, preprocessor=_scaler(), random_state=3).fit(X)
    assert (twin.labels_ == seg.labels_).all()
    moons, _ = _moons()
    dens = Segmenter(method="dbscan", preprocessor=_scaler()).fit(moons)
    assert (pickle.loads(pickle.dumps(dens)).predict(moons) == dens.predict(moons)).all()


def test_segment_profiles_name_what_sets_segments_apart() -> None:
    X, truth = _customers()
    profiles = segment_profiles(X, truth)
    summary = profiles.summary.set_index("segment")
    assert summary["size"].sum() == len(X)
    assert summary["share"].sum() == pytest.approx(1.0)
    assert all(len(t) == 3 for t in summary["top_features"])
    feats = profiles.features.set_index(["segment", "feature"])
    rich = feats.loc[(2, "income")]
    assert rich["kind"] == "numeric"
    assert rich["effect"] > 1  # well above the overall mean, in standard deviations
    assert rich["segment_value"] == pytest.approx(X["income"][truth == 2].mean())
    plan = feats.loc[(2, "plan")]
    assert plan["segment_value"] == "premium"
    assert plan["lift"] == pytest.approx(1 / (truth == 2).mean())
    assert "high income" in summary.loc[2, "description"]
    assert "plan = 'premium'" in summary.loc[2, "description"]
    assert "customer_id" not in set(profiles.features["feature"])
    assert set(profiles.to_dict()) == {"summary", "features"}


def test_projection_and_figures() -> None:
    X, _ = _blobs(3)
    seg = Segmenter(k_range=(2, 4), preprocessor=_scaler()).fit(X)
    proj = projection_2d(seg.feature_matrix(X), seg.labels_, max_points=100)
    assert list(proj.columns) == ["pc1", "pc2", "segment"]
    assert len(proj) == 100
    assert sum(proj.attrs["explained_variance_ratio"]) == pytest.approx(1.0)
    figs = figures(seg, X)
    assert set(figs) == {"k_selection", "projection", "sizes"}
    assert len(figs["projection"].data) == 3
    assert list(figs["sizes"].data[0].y) == np.bincount(seg.labels_).tolist()


def test_clustering_scores_with_truth_and_noise() -> None:
    X, y = _blobs(3)
    Xt = X.to_numpy()
    s = clustering_scores(Xt, y, y)
    assert s["adjusted_rand"] == 1.0 and s["normalized_mutual_info"] == pytest.approx(1.0)
    assert s["silhouette"] > 0.7 and s["davies_bouldin"] < 0.5 and s["calinski_harabasz"] > 1000
    one = clustering_scores(Xt, np.where(y == 0, 0, -1))
    assert np.isnan(one["silhouette"])
    assert one["n_segments"] == 1
    sampled = clustering_scores(Xt, y, sample_size=100)
    assert sampled["silhouette"] == pytest.approx(s["silhouette"], abs=0.05)
    with pytest.raises(DataError, match="X has 600 rows but labels has 3"):
        clustering_scores(Xt, [0, 1, 2])


def test_evaluate_against_true_labels() -> None:
    X, y = _blobs(3)
    seg = Segmenter(k=3, preprocessor=_scaler()).fit(X)
    assert seg.evaluate(X, y)["adjusted_rand"] > 0.95
    assert seg.evaluate() == seg.metrics_
    with pytest.raises(DataError, match="Give X together with y_true"):
        seg.evaluate(y_true=y)


@pytest.mark.parametrize(
    ("params", "match"),
    [
        ({"method": "spectral"}, "method must be one of"),
        ({"k": 1}, "k must be 'auto' or an integer >= 2"),
        ({"k_range": (5, 2)}, "k_range must be"),
        ({"k_range": (1, 4)}, "k_range must be"),
        ({"eps": 0.0}, "eps must be positive"),
    ],
)
def test_bad_parameters(params: dict[str, object], match: str) -> None:
    X, _ = _blobs(3)
    with pytest.raises(DataError, match=match):
        Segmenter(preprocessor=_scaler(), **params).fit(X)  # type: ignore[arg-type]


def test_bad_data() -> None:
    with pytest.raises(DataError, match="at least 3 rows"):
        Segmenter(preprocessor=_scaler()).fit(pd.DataFrame({"a": [1.0, 2.0], "b": [1.0, 2.0]}))
    with pytest.raises(DataError, match="X is empty"):
        Segmenter().fit(pd.DataFrame({"a": []}))
    X, _ = _blobs(3)
    X.loc[5, "a"] = np.nan
    with pytest.raises(DataError, match=r"missing or infinite values .* Impute them"):
        Segmenter(preprocessor=_scaler()).fit(X)
    small = pd.DataFrame({"a": [1.0, 2.0, 3.0, 4.0], "b": [0.0, 1.0, 0.0, 1.0]})
    with pytest.raises(DataError, match="k=9 is more than the 4 rows"):
        Segmenter(k=9, preprocessor=_scaler()).fit(small)
    with pytest.raises(DataError, match=r"k_range=\(5, 8\) asks for at least 5 segments"):
        Segmenter(k_range=(5, 8), preprocessor=_scaler()).fit(small)
