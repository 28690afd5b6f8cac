"""Clustering metrics against scikit-learn."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as skm
from sklearn.datasets import make_blobs

from loopml.evaluate.clustering import (
    ari,
    calinski_harabasz,
    davies_bouldin,
    evaluate_clustering,
    nmi,
    silhouette,
)
from loopml.exceptions import DataError


@pytest.mark.parametrize("seed", range(3))
def test_metrics_match_sklearn(seed: int) -> None:
    X, truth = make_blobs(300, centers=3, random_state=seed)
    rng = np.random.default_rng(seed)
    labels = np.where(rng.random(300) < 0.1, (truth + 1) % 3, truth)
    assert silhouette(X, labels) == pytest.approx(skm.silhouette_score(X, labels))
    assert calinski_harabasz(X, labels) == pytest.approx(skm.calinski_harabasz_score(X, labels))
    assert davies_bouldin(X, labels) == pytest.approx(skm.davies_bouldin_score(X, labels))
    assert ari(truth, labels) == pytest.approx(skm.adjusted_rand_score(truth, labels))
    assert nmi(truth, labels) == pytest.approx(skm.normalized_mutual_info_score(truth, labels))
    r = evaluate_clustering(X, labels, truth)
    assert r.metrics["silhouette"] == pytest.approx(skm.silhouette_score(X, labels))
    assert r.metrics["ari"] == pytest.approx(skm.adjusted_rand_score(truth, labels))
    assert r.metrics["v_measure"] == pytest.approx(skm.v_measure_score(truth, labels))
    assert r.n_clusters == 3 and sum(r.cluster_sizes.values()) == 300
    json.dumps(r.to_dict(), allow_nan=False)


def test_silhouette_is_sampled_with_seed() -> None:
    X, labels = make_blobs(3000, centers=4, random_state=0)
    a = evaluate_clustering(X, labels, sample_size=500, seed=1)
    b = evaluate_clustering(X, labels, sample_size=500, seed=1)
    assert a.metrics["silhouette"] == b.metrics["silhouette"]
    assert a.silhouette_sample_size == 500
    assert a.metrics["silhouette"] == pytest.approx(skm.silhouette_score(X, labels), abs=0.03)
    assert silhouette(X, labels, sample_size=500, seed=1) == a.metrics["silhouette"]
    assert evaluate_clustering(X, labels, sample_size=None).silhouette_sample_size is None


def test_noise_and_single_cluster() -> None:
    X, labels = make_blobs(200, centers=2, random_state=0)
    noisy = labels.copy()
    noisy[:10] = -1
    r = evaluate_clustering(X, noisy, noise_label=-1)
    keep = noisy != -1
    assert r.n_noise == 10
    assert r.metrics["silhouette"] == pytest.approx(skm.silhouette_score(X[keep], noisy[keep]))
    one = evaluate_clustering(X, np.zeros(200, dtype=int))
    assert one.metrics["silhouette"] is None and one.n_clusters == 1
    assert any("found 1" in n for n in one.notes)
    with pytest.raises(DataError, match="1 cluster"):
        silhouette(X, np.zeros(200, dtype=int))


def test_errors() -> None:
    with pytest.raises(DataError, match="Length mismatch: X has 3, labels has 2"):
        evaluate_clustering(np.zeros((3, 2)), [0, 1])
    with pytest.raises(DataError, match="X contains 1 NaN"):
        davies_bouldin([[0.0, np.nan], [1.0, 1.0], [2.0, 2.0]], [0, 1, 1])
    with pytest.raises(DataError, match="X must be 2-D"):
        calinski_harabasz([1.0, 2.0], [0, 1])
    with pytest.raises(DataError, match="labels contains 1 missing"):
        ari([0, 1], [0, None])
