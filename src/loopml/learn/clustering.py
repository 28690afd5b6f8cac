"""Clustering: split rows into segments, choose how many, and describe each one.

:class:`Segmenter` is a scikit-learn estimator over raw DataFrames: a feature
pipeline (built from the schema unless one is given) turns mixed columns into
numbers, then k-means, mini-batch k-means, DBSCAN or HDBSCAN groups the rows.
:func:`segment_profiles` says what sets each segment apart, :func:`projection_2d`
and :func:`figures` draw it.

This module holds the estimator and the choice of k; the other parts live beside
it and are re-exported here: :mod:`~loopml.learn.unsupervised_features` (raw rows
to a dense matrix), :mod:`~loopml.learn.clustering_metrics` (scores),
:mod:`~loopml.learn.segment_profiling` (profiles) and
:mod:`~loopml.learn.segment_plots` (pictures).

Examples
--------
>>> from sklearn.datasets import make_blobs
>>> import pandas as pd
>>> X, _ = make_blobs(n_samples=300, centers=3, random_state=0)
>>> seg = Segmenter(k_range=(2, 6)).fit(pd.DataFrame(X, columns=["a", "b"]))
>>> seg.k_
3
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.utils.validation import check_is_fitted

from loopml.exceptions import DataError

# Re-exported so ``loopml.learn.clustering`` keeps offering every name it always has.
# Segmenter itself must stay defined here: saved bundles name its class by module.
from loopml.learn.clustering_metrics import clustering_scores
from loopml.learn.segment_plots import figures, projection_2d
from loopml.learn.segment_profiling import SegmentProfiles, segment_profiles
from loopml.learn.unsupervised_features import as_dense as as_dense
from loopml.learn.unsupervised_features import as_frame as as_frame
from loopml.learn.unsupervised_features import fit_feature_pipeline

__all__ = [
    "SegmentProfiles",
    "Segmenter",
    "clustering_scores",
    "figures",
    "fit_feature_pipeline",
    "projection_2d",
    "segment_profiles",
]

#: Above this many rows, "kmeans" runs as mini-batch k-means.
LARGE_N = 50_000
_METHODS = ("kmeans", "minibatch", "dbscan", "hdbscan")
#: Rows whose k-nearest-neighbour distances are used to pick DBSCAN's eps.
_KDIST_SAMPLE = 20_000


# -- the estimator -------------------------------------------------------------------


class Segmenter(ClusterMixin, BaseEstimator):  # type: ignore[misc]
    """Segment rows of a DataFrame with k-means, DBSCAN or HDBSCAN.

    Parameters
    ----------
    k : "auto" or int, default "auto"
        Number of segments (k-means only). "auto" tries every k in ``k_range`` and
        keeps the one with the best silhouette (ties: the smaller k). The elbow of
        the inertia curve is reported as ``elbow_k_`` for comparison; it is not used
        to choose, because on real data it is often ambiguous.
    method : {"kmeans", "minibatch", "dbscan", "hdbscan"}, default "kmeans"
        "kmeans" switches to mini-batch k-means above ``large_n`` rows. DBSCAN and
        HDBSCAN find non-spherical segments and label noise ``-1``.
    k_range : (int, int), default (2, 10)
        Smallest and largest k tried when ``k="auto"``.
    preprocessor : transformer, optional
        Unfitted transformer from the raw frame to numbers; default: built from
        the inferred schema (impute, one-hot, scale, date parts, TF-IDF).
    random_state : int, default 0
    eps : float, optional
        DBSCAN radius. Default: the knee of the sorted k-distance curve (each row's
        distance to its ``min_samples``-th neighbour, itself included): the point
        farthest below the chord joining the ends of the curve's upper half. (On the
        whole curve the dense interior's slight bend draws the knee too low and
        splits clusters; on two moons, circles and blobs, with or without noise,
        the upper-half knee gave ARI >= 0.95.)
    min_samples : int, optional
        DBSCAN's density (default 10: with 5 the k-distance knee is unstable) and
        HDBSCAN's (default ``min_cluster_size``).
    min_cluster_size : int, optional
        HDBSCAN's smallest segment; default ``max(5, n_rows // 100)``.
    n_init : int, default 4
        k-means restarts per k.
    silhouette_sample : int, default 10000
        Above this many rows, silhouettes are computed on a seeded sample.
    large_n : int, default 50000
        Row count above which "kmeans" runs as mini-batch k-means.
    n_jobs : int, default 1

    Attributes
    ----------
    labels_ : ndarray of shape (n_samples,)
        Segment of each training row (-1: noise).
    k_ : int
        Number of segments found (noise excluded).
    k_scores_ : DataFrame or None
        For ``k="auto"``: columns k, silhouette, inertia, calinski_harabasz,
        davies_bouldin, one row per k tried.
    elbow_k_ : int or None
        The k at the elbow (knee) of the inertia curve.
    method_ : str
        The method actually used.
    eps_ : float or None
        DBSCAN's radius.
    metrics_ : dict
        :func:`clustering_scores` of the training segmentation.
    preprocessor_, model_, schema_ : the fitted parts.

    Notes
    -----
    ``predict`` assigns new rows: k-means to the nearest centre; DBSCAN to the
    segment of the nearest core sample if it lies within ``eps`` (DBSCAN's own
    border-point rule), else -1; HDBSCAN to the segment of the nearest clustered
    training row if it lies within that row's core distance (its distance to its
    ``min_samples``-th neighbour), else -1.
    """

    def __init__(
        self,
        k: int | Literal["auto"] = "auto",
        method: Literal["kmeans", "minibatch", "dbscan", "hdbscan"] = "kmeans",
        k_range: tuple[int, int] = (2, 10),
        preprocessor: Any = None,
        random_state: int = 0,
        eps: float | None = None,
        min_samples: int | None = None,
        min_cluster_size: int | None = None,
        n_init: int = 4,
        silhouette_sample: int = 10_000,
        large_n: int = LARGE_N,
        n_jobs: int | None = 1,
    ) -> None:
        self.k = k
        self.method = method
        self.k_range = k_range
        self.preprocessor = preprocessor
        self.random_state = random_state
        self.eps = eps
        self.min_samples = min_samples
        self.min_cluster_size = min_cluster_size
        self.n_init = n_init
        self.silhouette_sample = silhouette_sample
        self.large_n = large_n
        self.n_jobs = n_jobs

    # -- fit -------------------------------------------------------------------------
    def fit(self, X: Any, y: Any = None) -> Segmenter:
        """Fit the feature pipeline and the clustering on *X* (y is ignored)."""
        self._check_params()
        frame = as_frame(X)
        self.feature_names_in_ = np.asarray([str(c) for c in frame.columns], dtype=object)
        self.n_features_in_ = frame.shape[1]
        self.preprocessor_, Xt, self.schema_ = fit_feature_pipeline(frame, self.preprocessor)
        n = len(Xt)
        if n < 3:
            raise DataError(f"Clustering needs at least 3 rows; X has {n}.")
        method = self.method
        if method == "kmeans" and n > self.large_n:
            method = "minibatch"
        self.method_ = method
        self.k_scores_: pd.DataFrame | None = None
        self.elbow_k_: int | None = None
        self.eps_: float | None = None
        if method in ("kmeans", "minibatch"):
            self._fit_kmeans(Xt)
        elif method == "dbscan":
            self._fit_dbscan(Xt)
        else:
            self._fit_hdbscan(Xt)
        self.k_ = len(np.unique(self.labels_[self.labels_ >= 0]))
        self.n_noise_ = int((self.labels_ < 0).sum())
        self.metrics_ = clustering_scores(
            Xt,
            self.labels_,
            sample_size=self.silhouette_sample,
            random_state=self.random_state,
        )
        return self

    def _check_params(self) -> None:
        if self.method not in _METHODS:
            raise DataError(f"method must be one of {', '.join(_METHODS)}; got {self.method!r}.")
        if self.k != "auto" and (
            isinstance(self.k, bool) or not isinstance(self.k, int | np.integer) or self.k < 2
        ):
            raise DataError(f"k must be 'auto' or an integer >= 2; got {self.k!r}.")
        lo_hi = tuple(self.k_range)
        if (
            len(lo_hi) != 2
            or not all(isinstance(v, int) for v in lo_hi)
            or not 2 <= lo_hi[0] <= lo_hi[1]
        ):
            raise DataError(
                f"k_range must be (low, high) integers with 2 <= low <= high; got {self.k_range!r}."
            )
        if self.eps is not None and not self.eps > 0:
            raise DataError(f"eps must be positive; got {self.eps!r}.")

    def _kmeans(self, k: int, minibatch: bool) -> Any:
        from sklearn.cluster import KMeans, MiniBatchKMeans

        if minibatch:
            return MiniBatchKMeans(
                n_clusters=k, n_init=self.n_init, random_state=self.random_state, batch_size=4096
            )
        return KMeans(n_clusters=k, n_init=self.n_init, random_state=self.random_state)

    def _fit_kmeans(self, Xt: np.ndarray) -> None:
        n = len(Xt)
        minibatch = self.method_ == "minibatch"
        if self.k != "auto":
            if self.k > n:
                raise DataError(f"k={self.k} is more than the {n} rows of X. Use a smaller k.")
            self.model_ = self._kmeans(int(self.k), minibatch).fit(Xt)
            self.labels_ = self.model_.labels_.astype(np.int64)
            return
        lo, hi = self.k_range
        hi = min(hi, n - 1)
        if lo > hi:
            raise DataError(
                f"k_range={self.k_range!r} asks for at least {lo} segments but X has only {n} "
                "rows. Lower k_range or give more rows."
            )
        rows: list[dict[str, float]] = []
        best: tuple[float, Any] | None = None
        for k in range(lo, hi + 1):
            model = self._kmeans(k, minibatch).fit(Xt)
            scores = clustering_scores(
                Xt,
                model.labels_,
                sample_size=self.silhouette_sample,
                random_state=self.random_state,
            )
            sil = scores["silhouette"]
            rows.append(
                {
                    "k": k,
                    "silhouette": sil,
                    "inertia": float(model.inertia_),
                    "calinski_harabasz": scores["calinski_harabasz"],
                    "davies_bouldin": scores["davies_bouldin"],
                }
            )
            if not math.isnan(sil) and (best is None or sil > best[0]):
                best = (sil, model)
        self.k_scores_ = pd.DataFrame(rows)
        self.elbow_k_ = _elbow(self.k_scores_["k"].to_numpy(), self.k_scores_["inertia"].to_numpy())
        if best is None:
            raise DataError(
                "No k in k_range gave two or more distinct segments (the rows may be identical "
                "after preprocessing). Check the features."
            )
        self.model_ = best[1]
        self.labels_ = self.model_.labels_.astype(np.int64)

    def _fit_dbscan(self, Xt: np.ndarray) -> None:
        from sklearn.cluster import DBSCAN

        min_samples = self.min_samples or 10
        self.eps_ = float(self.eps) if self.eps is not None else self._knee_eps(Xt, min_samples)
        self.model_ = DBSCAN(eps=self.eps_, min_samples=min_samples, n_jobs=self.n_jobs).fit(Xt)
        self.labels_ = self.model_.labels_.astype(np.int64)
        core = self.model_.core_sample_indices_
        self._set_reference(Xt[core], self.labels_[core], np.full(len(core), self.eps_))

    def _knee_eps(self, Xt: np.ndarray, min_samples: int) -> float:
        from sklearn.neighbors import NearestNeighbors

        n = len(Xt)
        k = min(min_samples, n)
        rng = np.random.default_rng(self.random_state)
        query = Xt if n <= _KDIST_SAMPLE else Xt[rng.choice(n, _KDIST_SAMPLE, replace=False)]
        dist, _ = NearestNeighbors(n_neighbors=k, n_jobs=self.n_jobs).fit(Xt).kneighbors(query)
        kdist = np.sort(dist[:, -1])
        eps = _knee_value(kdist)
        if eps <= 0:
            positive = kdist[kdist > 0]
            eps = float(positive[0]) if len(positive) else 1.0
        return eps

    def _fit_hdbscan(self, Xt: np.ndarray) -> None:
        from sklearn.cluster import HDBSCAN
        from sklearn.neighbors import NearestNeighbors

        n = len(Xt)
        size = self.min_cluster_size or max(5, n // 100)
        min_samples = self.min_samples or size
        self.model_ = HDBSCAN(
            min_cluster_size=size, min_samples=min_samples, copy=True, n_jobs=self.n_jobs
        ).fit(Xt)
        self.labels_ = self.model_.labels_.astype(np.int64)
        self.labels_[self.labels_ < 0] = -1
        clustered = np.flatnonzero(self.labels_ >= 0)
        k = min(min_samples, n)
        dist, _ = (
            NearestNeighbors(n_neighbors=k, n_jobs=self.n_jobs).fit(Xt).kneighbors(Xt[clustered])
        )
        self._set_reference(Xt[clustered], self.labels_[clustered], dist[:, -1])

    def _set_reference(self, points: np.ndarray, labels: np.ndarray, radius: np.ndarray) -> None:
        from sklearn.neighbors import NearestNeighbors

        self.reference_labels_ = labels
        self.reference_radius_ = radius
        self._reference_nn = (
            NearestNeighbors(n_neighbors=1, n_jobs=self.n_jobs).fit(points) if len(points) else None
        )

    # -- use -------------------------------------------------------------------------
    def feature_matrix(self, X: Any) -> np.ndarray:
        """The numeric matrix the clustering sees for rows *X*."""
        check_is_fitted(self, "labels_")
        return as_dense(self.preprocessor_.transform(as_frame(X)), "the feature pipeline's output")

    def predict(self, X: Any) -> np.ndarray:
        """Segment of each row of *X* (-1: noise, for DBSCAN/HDBSCAN); see Notes."""
        Xt = self.feature_matrix(X)
        if self.method_ in ("kmeans", "minibatch"):
            return np.asarray(self.model_.predict(Xt), dtype=np.int64)
        out = np.full(len(Xt), -1, dtype=np.int64)
        if self._reference_nn is None:
            return out
        dist, idx = self._reference_nn.kneighbors(Xt)
        idx = idx[:, 0]
        inside = dist[:, 0] <= self.reference_radius_[idx]
        out[inside] = self.reference_labels_[idx[inside]]
        return out

    def evaluate(self, X: Any = None, y_true: Any = None) -> dict[str, float]:
        """:func:`clustering_scores` on *X* (default: the training segmentation) and,
        with true labels, ARI and NMI."""
        check_is_fitted(self, "labels_")
        if X is None:
            if y_true is None:
                return dict(self.metrics_)
            raise DataError("Give X together with y_true (the rows the labels belong to).")
        Xt = self.feature_matrix(X)
        return clustering_scores(
            Xt,
            self.predict(X),
            y_true,
            sample_size=self.silhouette_sample,
            random_state=self.random_state,
        )


# -- choosing k and eps: the knee of a curve ----------------------------------------


def _knee_index(y: np.ndarray, decreasing: bool) -> int:
    """Index of the point farthest from the chord joining the ends of the curve *y*."""
    if len(y) < 3:
        return 0
    x = np.linspace(0.0, 1.0, len(y))
    span = float(y.max() - y.min())
    if span == 0:
        return 0
    yn = (y - y.min()) / span
    gap = (1.0 - x) - yn if decreasing else x - yn
    return int(np.argmax(gap))


def _knee_value(sorted_increasing: np.ndarray) -> float:
    upper = sorted_increasing[len(sorted_increasing) // 2 :]
    return float(upper[_knee_index(upper, decreasing=False)])


def _elbow(ks: np.ndarray, inertia: np.ndarray) -> int | None:
    if len(ks) < 3:
        return None
    return int(ks[_knee_index(inertia.astype(np.float64), decreasing=True)])
