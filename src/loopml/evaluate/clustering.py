"""Clustering metrics: internal (silhouette, Calinski-Harabasz, Davies-Bouldin) and,
with ground-truth labels, external (adjusted Rand index, normalised mutual information).

Computation is delegated to scikit-learn; this module adds input checks, a seeded
sample for the O(n²) silhouette, handling of a noise label (DBSCAN's ``-1``) and
None-with-a-note where a metric is undefined (a single cluster).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from loopml.evaluate._checks import (
    as_1d,
    as_2d_float,
    check_lengths,
    check_no_missing,
    encode_labels,
    jsonable,
)
from loopml.exceptions import DataError

__all__ = [
    "ClusteringReport",
    "ari",
    "calinski_harabasz",
    "davies_bouldin",
    "evaluate_clustering",
    "nmi",
    "silhouette",
]


def _xy(X: ArrayLike, labels: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    x = as_2d_float(X, "X")
    lab = as_1d(labels, "labels")
    check_lengths(X=x, labels=lab)
    codes = encode_labels(lab, None).y_true
    return x, codes


def _need_clusters(codes: NDArray[np.intp], n: int, what: str) -> None:
    k = int(np.unique(codes).size)
    if not 2 <= k <= n - 1:
        raise DataError(
            f"{what} needs between 2 and n_samples - 1 clusters; labels has {k} cluster(s) "
            f"for {n} samples. Check the clustering (a single cluster, or one per sample, "
            "has no structure to score)."
        )


def silhouette(
    X: ArrayLike, labels: ArrayLike, *, sample_size: int | None = 10_000, seed: int = 0
) -> float:
    """Mean silhouette coefficient in [-1, 1] (higher: tighter, better separated clusters).

    It costs O(n²) distances, so above *sample_size* samples it is estimated on a
    random sample drawn with *seed* (None: use every sample).

    Examples
    --------
    >>> X = [[0.0], [0.1], [5.0], [5.1]]
    >>> round(silhouette(X, [0, 0, 1, 1]), 3)
    0.98
    """
    x, codes = _xy(X, labels)
    x, codes = _sample(x, codes, sample_size, seed)
    _need_clusters(codes, codes.size, "The silhouette")
    from sklearn.metrics import silhouette_score

    return float(silhouette_score(x, codes))


def _sample(
    x: NDArray[np.float64], codes: NDArray[np.intp], sample_size: int | None, seed: int
) -> tuple[NDArray[np.float64], NDArray[np.intp]]:
    if sample_size is None or codes.size <= sample_size:
        return x, codes
    if sample_size < 2:
        raise DataError(f"sample_size must be at least 2 (or None); got {sample_size}.")
    idx = np.sort(np.random.default_rng(seed).choice(codes.size, sample_size, replace=False))
    return x[idx], codes[idx]


def calinski_harabasz(X: ArrayLike, labels: ArrayLike) -> float:
    """Calinski-Harabasz index: between- over within-cluster dispersion (higher is better).

    Examples
    --------
    >>> calinski_harabasz([[0.0], [0.1], [5.0], [5.1]], [0, 0, 1, 1]) > 100
    True
    """
    x, codes = _xy(X, labels)
    _need_clusters(codes, codes.size, "The Calinski-Harabasz index")
    from sklearn.metrics import calinski_harabasz_score

    return float(calinski_harabasz_score(x, codes))


def davies_bouldin(X: ArrayLike, labels: ArrayLike) -> float:
    """Davies-Bouldin index: mean similarity of each cluster to its closest one (lower is better).

    Examples
    --------
    >>> davies_bouldin([[0.0], [0.1], [5.0], [5.1]], [0, 0, 1, 1]) < 0.1
    True
    """
    x, codes = _xy(X, labels)
    _need_clusters(codes, codes.size, "The Davies-Bouldin index")
    from sklearn.metrics import davies_bouldin_score

    return float(davies_bouldin_score(x, codes))


def _label_pair(true_labels: ArrayLike, labels: ArrayLike) -> tuple[NDArray[Any], NDArray[Any]]:
    t = as_1d(true_labels, "true_labels")
    p = as_1d(labels, "labels")
    check_lengths(true_labels=t, labels=p)
    check_no_missing(t, "true_labels")
    check_no_missing(p, "labels")
    return encode_labels(t, None).y_true, encode_labels(p, None).y_true


def ari(true_labels: ArrayLike, labels: ArrayLike) -> float:
    """Adjusted Rand index: agreement with the true grouping, 0 for chance, 1 perfect.

    Cluster ids need not match class names: only the grouping counts.

    Examples
    --------
    >>> ari([0, 0, 1, 1], [5, 5, 7, 7])
    1.0
    """
    from sklearn.metrics import adjusted_rand_score

    return float(adjusted_rand_score(*_label_pair(true_labels, labels)))


def nmi(true_labels: ArrayLike, labels: ArrayLike) -> float:
    """Normalised mutual information (arithmetic mean normalisation), in [0, 1].

    Examples
    --------
    >>> nmi([0, 0, 1, 1], [1, 1, 0, 0])
    1.0
    """
    from sklearn.metrics import normalized_mutual_info_score

    return float(normalized_mutual_info_score(*_label_pair(true_labels, labels)))


@dataclass
class ClusteringReport:
    """Everything :func:`evaluate_clustering` measured.

    ``metrics``: silhouette, calinski_harabasz, davies_bouldin (None with fewer
    than 2 clusters), and with true labels ari, nmi, ami, homogeneity,
    completeness, v_measure. ``cluster_sizes`` maps cluster label to size.
    """

    n_samples: int
    n_clusters: int
    metrics: dict[str, float | None]
    cluster_sizes: dict[Any, int]
    n_noise: int = 0
    silhouette_sample_size: int | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict."""
        out: dict[str, Any] = jsonable({"task": "clustering", **self.__dict__})
        return out


def evaluate_clustering(
    X: ArrayLike,
    labels: ArrayLike,
    true_labels: ArrayLike | None = None,
    *,
    sample_size: int | None = 10_000,
    seed: int = 0,
    noise_label: Any = None,
) -> ClusteringReport:
    """Internal and (with *true_labels*) external clustering metrics in one call.

    Parameters
    ----------
    X : array-like of shape (n_samples, n_features)
        The (preprocessed) features the clustering saw.
    labels : array-like of shape (n_samples,)
        Cluster assignments.
    true_labels : array-like of shape (n_samples,), optional
        Known classes; enables ARI, NMI, AMI, homogeneity, completeness, V-measure.
    sample_size, seed :
        The silhouette is computed on a random sample of this size (None: all).
    noise_label : label, optional
        Label of noise points (``-1`` for DBSCAN/HDBSCAN): they are left out of the
        internal metrics (but kept, as their own group, in the external ones).

    Examples
    --------
    >>> r = evaluate_clustering([[0.0], [0.1], [5.0], [5.1]], [0, 0, 1, 1], [0, 0, 1, 1])
    >>> r.metrics["ari"]
    1.0
    """
    from sklearn import metrics as skm

    notes: list[str] = []
    x = as_2d_float(X, "X")
    lab = as_1d(labels, "labels")
    check_lengths(X=x, labels=lab)
    check_no_missing(lab, "labels")
    keep = np.ones(lab.size, dtype=bool) if noise_label is None else np.asarray(lab != noise_label)
    n_noise = int((~keep).sum())
    enc = encode_labels(lab[keep], None) if keep.any() else None
    k = int(enc.classes.size) if enc is not None else 0
    sizes: dict[Any, int] = {}
    if enc is not None:
        sizes = dict(zip(enc.classes.tolist(), np.bincount(enc.y_true).tolist(), strict=True))
    metrics: dict[str, float | None] = {
        "silhouette": None,
        "calinski_harabasz": None,
        "davies_bouldin": None,
    }
    used_sample: int | None = None
    if n_noise:
        notes.append(
            f"{n_noise} noise point(s) (label {noise_label!r}) left out of internal metrics."
        )
    if enc is not None and 2 <= k <= enc.y_true.size - 1:
        xk, codes = x[keep], enc.y_true
        xs, cs = _sample(xk, codes, sample_size, seed)
        if xs.shape[0] < codes.size:
            used_sample = int(xs.shape[0])
            notes.append(f"Silhouette estimated on a random sample of {used_sample} (seed {seed}).")
        if 2 <= np.unique(cs).size <= cs.size - 1:
            metrics["silhouette"] = float(skm.silhouette_score(xs, cs))
        else:
            notes.append("The silhouette sample held a single cluster; silhouette is None.")
        metrics["calinski_harabasz"] = float(skm.calinski_harabasz_score(xk, codes))
        metrics["davies_bouldin"] = float(skm.davies_bouldin_score(xk, codes))
    else:
        notes.append(
            f"Internal metrics need 2 to n_samples - 1 clusters; found {k}: reported as None."
        )
    if true_labels is not None:
        t, p = _label_pair(true_labels, lab)
        metrics["ari"] = float(skm.adjusted_rand_score(t, p))
        metrics["nmi"] = float(skm.normalized_mutual_info_score(t, p))
        metrics["ami"] = float(skm.adjusted_mutual_info_score(t, p))
        h, c, v = skm.homogeneity_completeness_v_measure(t, p)
        metrics.update(homogeneity=float(h), completeness=float(c), v_measure=float(v))
    return ClusteringReport(
        n_samples=int(lab.size),
        n_clusters=k,
        metrics=metrics,
        cluster_sizes=sizes,
        n_noise=n_noise,
        silhouette_sample_size=used_sample,
        notes=notes,
    )
