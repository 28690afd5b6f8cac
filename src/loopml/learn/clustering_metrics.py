"""Internal (and, with true labels, external) scores of one segmentation."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from loopml.exceptions import DataError

__all__ = ["clustering_scores"]


def clustering_scores(
    Xt: Any,
    labels: Any,
    y_true: Any = None,
    *,
    sample_size: int = 10_000,
    random_state: int = 0,
) -> dict[str, float]:
    """Silhouette, Calinski-Harabasz and Davies-Bouldin of a segmentation; ARI and NMI
    against *y_true* when given.

    Internal metrics leave noise rows (label -1) out and are NaN when fewer than two
    segments remain. Silhouette (O(n²)) is computed on a seeded sample of
    *sample_size* rows when there are more. ARI/NMI count noise as one more label.
    """
    from sklearn import metrics

    X = np.asarray(Xt, dtype=np.float64)
    lab = np.asarray(labels)
    if len(X) != len(lab):
        raise DataError(f"X has {len(X)} rows but labels has {len(lab)}.")
    keep = lab >= 0
    Xk, lk = X[keep], lab[keep]
    n_seg = len(np.unique(lk))
    out: dict[str, float] = {
        "n_segments": float(n_seg),
        "noise_fraction": float(1 - keep.mean()) if len(lab) else 0.0,
        "silhouette": math.nan,
        "calinski_harabasz": math.nan,
        "davies_bouldin": math.nan,
    }
    if 2 <= n_seg <= len(lk) - 1:
        size = sample_size if len(lk) > sample_size else None
        out["silhouette"] = float(
            metrics.silhouette_score(Xk, lk, sample_size=size, random_state=random_state)
        )
        out["calinski_harabasz"] = float(metrics.calinski_harabasz_score(Xk, lk))
        out["davies_bouldin"] = float(metrics.davies_bouldin_score(Xk, lk))
    if y_true is not None:
        truth = np.asarray(y_true)
        if len(truth) != len(lab):
            raise DataError(f"y_true has {len(truth)} rows but labels has {len(lab)}.")
        out["adjusted_rand"] = float(metrics.adjusted_rand_score(truth, lab))
        out["normalized_mutual_info"] = float(metrics.normalized_mutual_info_score(truth, lab))
    return out
