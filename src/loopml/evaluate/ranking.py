"""Ranking metrics for scores: ROC and precision-recall curves, ROC-AUC, average precision.

All of them come from one sort of the scores: :func:`binary_counts` orders the
samples by decreasing score once and counts true and false positives at every
distinct threshold; the curves, the areas and the threshold analysis
(:mod:`loopml.evaluate.threshold`) are read off those counts. The values match
scikit-learn's ``roc_curve``, ``precision_recall_curve``, ``roc_auc_score`` and
``average_precision_score``.

A sample is predicted positive when ``score >= threshold``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from loopml.evaluate._checks import (
    as_1d,
    as_2d_float,
    as_float_1d,
    check_lengths,
    encode_labels,
    fmt_values,
)
from loopml.exceptions import DataError

__all__ = [
    "BinaryCounts",
    "average_precision",
    "binary_counts",
    "downsample_curve",
    "pr_curve",
    "roc_auc",
    "roc_curve",
]

Average = Literal["macro", "weighted"]


@dataclass(frozen=True)
class BinaryCounts:
    """True/false positive counts at each distinct score, highest score first.

    ``tps[i]`` and ``fps[i]`` count the samples with ``score >= thresholds[i]``.
    """

    tps: NDArray[np.float64]
    fps: NDArray[np.float64]
    thresholds: NDArray[np.float64]

    @property
    def n_pos(self) -> float:
        return float(self.tps[-1])

    @property
    def n_neg(self) -> float:
        return float(self.fps[-1])

    def auc(self) -> float | None:
        """Area under the ROC curve; None when only one class is present."""
        if self.n_pos == 0 or self.n_neg == 0:
            return None
        # trapezoid over (0, 0) + every distinct threshold, in counts, then scaled
        fps = np.concatenate(([0.0], self.fps))
        tps = np.concatenate(([0.0], self.tps))
        area = float(np.sum(np.diff(fps) * (tps[1:] + tps[:-1])) / 2.0)
        return area / (self.n_pos * self.n_neg)

    def average_precision(self) -> float | None:
        """Step-wise area under the PR curve; None when no positive is present."""
        if self.n_pos == 0:
            return None
        precision = self.tps / (self.tps + self.fps)
        d_recall = np.diff(self.tps, prepend=0.0) / self.n_pos
        return max(0.0, float(np.sum(d_recall * precision)))

    def roc(
        self, drop_intermediate: bool = True
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """(fpr, tpr, thresholds) exactly as ``sklearn.metrics.roc_curve``."""
        tps, fps, thr = self.tps, self.fps, self.thresholds
        if drop_intermediate and fps.size > 2:
            keep = np.flatnonzero(
                np.concatenate(([True], (np.diff(fps, 2) != 0) | (np.diff(tps, 2) != 0), [True]))
            )
            tps, fps, thr = tps[keep], fps[keep], thr[keep]
        tps = np.concatenate(([0.0], tps))
        fps = np.concatenate(([0.0], fps))
        thr = np.concatenate(([np.inf], thr))
        fpr = fps / fps[-1] if fps[-1] > 0 else np.full(fps.shape, np.nan)
        tpr = tps / tps[-1] if tps[-1] > 0 else np.full(tps.shape, np.nan)
        return fpr, tpr, thr

    def pr(
        self, drop_intermediate: bool = False
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """(precision, recall, thresholds) exactly as ``sklearn.metrics.precision_recall_curve``."""
        tps, fps, thr = self.tps, self.fps, self.thresholds
        if drop_intermediate and fps.size > 2:
            keep = np.flatnonzero(
                np.concatenate(([True], (np.diff(tps[:-1]) != 0) | (np.diff(tps[1:]) != 0), [True]))
            )
            tps, fps, thr = tps[keep], fps[keep], thr[keep]
        precision = tps / (tps + fps)
        recall = tps / tps[-1] if tps[-1] > 0 else np.ones_like(tps)
        return (
            np.concatenate((precision[::-1], [1.0])),
            np.concatenate((recall[::-1], [0.0])),
            thr[::-1].copy(),
        )


def binary_counts(y_pos: NDArray[np.bool_], score: NDArray[np.float64]) -> BinaryCounts:
    """Sort *score* once (descending) and count positives at each distinct score.

    *y_pos* marks the positive samples; *score* must be finite (not checked here).
    """
    # Ties need no stable order: only the counts at the end of a run of equal
    # scores are kept, so the fast unstable sort is enough.
    order = np.argsort(score)[::-1]
    s = score[order]
    ends = np.flatnonzero(s[1:] != s[:-1])
    idx = np.concatenate((ends, [s.size - 1]))
    tps = np.cumsum(y_pos[order], dtype=np.float64)[idx]
    fps = (idx + 1.0) - tps
    return BinaryCounts(tps=tps, fps=fps, thresholds=s[idx])


def downsample_curve(
    x: NDArray[np.float64], y: NDArray[np.float64], *others: NDArray[Any], max_points: int = 500
) -> list[NDArray[Any]]:
    """At most *max_points* points of the curve (x, y), spread evenly along its length.

    The first and last points are always kept, so plotted shapes and end points
    stay right; extra arrays (thresholds) are subset the same way.
    """
    arrays = [x, y, *others]
    if x.size <= max_points:
        return arrays
    step = np.abs(np.diff(np.nan_to_num(x))) + np.abs(np.diff(np.nan_to_num(y)))
    length = np.concatenate(([0.0], np.cumsum(step)))
    if length[-1] == 0:
        idx = np.linspace(0, x.size - 1, max_points).round().astype(np.intp)
    else:
        targets = np.linspace(0.0, length[-1], max_points)
        idx = np.searchsorted(length, targets)
        idx = np.clip(idx, 0, x.size - 1)
    idx = np.unique(np.concatenate(([0], idx, [x.size - 1])))
    return [a[idx] for a in arrays]


def _positive_mask(y_true: ArrayLike, pos_label: Any, n: int) -> tuple[NDArray[np.bool_], Any]:
    """Boolean mask of the positive class of a binary target (pos_label default: later class)."""
    y = as_1d(y_true, "y_true")
    check_lengths(y_true=y, y_score=np.empty(n))
    if pos_label is None:
        enc = encode_labels(y, None)
        if enc.classes.size > 2:
            raise DataError(
                f"y_true has {enc.classes.size} classes ({fmt_values(enc.classes)}) but y_score "
                "is 1-D. Pass y_score of shape (n_samples, n_classes) for one-vs-rest, or "
                "pos_label= to score one class against the rest."
            )
        if enc.classes.size < 2:
            raise DataError(
                f"y_true holds a single class ({fmt_values(enc.classes)}), so the ROC and PR "
                "curves are undefined: they need both positive and negative samples. Evaluate "
                "on a sample that contains both classes."
            )
        pos_label = enc.classes[1]
        return enc.y_true == 1, pos_label
    return np.asarray(y == pos_label), pos_label


def _binary_input(
    y_true: ArrayLike, y_score: ArrayLike, pos_label: Any
) -> tuple[BinaryCounts, Any]:
    score = as_float_1d(y_score, "y_score")
    y_pos, pos = _positive_mask(y_true, pos_label, score.size)
    counts = binary_counts(y_pos, score)
    if counts.n_pos == 0:
        raise DataError(
            f"y_true has no sample of the positive class {pos!r}, so ROC/PR metrics are "
            "undefined. Check pos_label, or evaluate on a sample that contains it."
        )
    return counts, pos


def roc_curve(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    pos_label: Any = None,
    drop_intermediate: bool = True,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Receiver operating characteristic curve of a binary scorer.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels (two classes, or any labels with *pos_label*).
    y_score : array-like of shape (n_samples,)
        Score or probability of the positive class.
    pos_label : label, optional
        The positive class; default the later of the two sorted classes.
    drop_intermediate : bool, default True
        Drop points on straight segments (as scikit-learn does).

    Returns
    -------
    fpr, tpr, thresholds : ndarray
        ``thresholds[0]`` is ``inf`` (nothing predicted positive).

    Examples
    --------
    >>> fpr, tpr, thr = roc_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> tpr.tolist()
    [0.0, 0.5, 0.5, 1.0, 1.0]
    """
    counts, _ = _binary_input(y_true, y_score, pos_label)
    if counts.n_neg == 0:
        raise DataError(
            "y_true has no negative sample, so the false positive rate is undefined. "
            "Evaluate on a sample that contains both classes."
        )
    return counts.roc(drop_intermediate)


def pr_curve(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    pos_label: Any = None,
    drop_intermediate: bool = False,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Precision-recall curve of a binary scorer, as ``sklearn.metrics.precision_recall_curve``.

    Returns ``(precision, recall, thresholds)`` with increasing thresholds; the
    last point is ``precision=1, recall=0`` (no threshold).

    Examples
    --------
    >>> p, r, t = pr_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> r.tolist()
    [1.0, 1.0, 0.5, 0.5, 0.0]
    """
    counts, _ = _binary_input(y_true, y_score, pos_label)
    return counts.pr(drop_intermediate)


def _ovr_counts(
    y_true: ArrayLike, y_score: ArrayLike, classes: Any
) -> tuple[NDArray[Any], list[BinaryCounts], NDArray[np.float64]]:
    """One-vs-rest counts for each column of a 2-D score matrix."""
    y = as_1d(y_true, "y_true")
    scores = as_2d_float(y_score, "y_score")
    check_lengths(y_true=y, y_score=scores)
    enc = encode_labels(y, None, classes)
    if enc.classes.size != scores.shape[1]:
        raise DataError(
            f"y_score has {scores.shape[1]} columns but y_true has {enc.classes.size} classes "
            f"({fmt_values(enc.classes)}). Pass classes= listing the label of each column "
            "(e.g. model.classes_)."
        )
    counts = [binary_counts(enc.y_true == c, scores[:, c]) for c in range(scores.shape[1])]
    support = np.bincount(enc.y_true, minlength=enc.classes.size).astype(np.float64)
    return enc.classes, counts, support


def _defined(values: list[float | None], classes: NDArray[Any], what: str) -> NDArray[np.float64]:
    missing = [c for c, v in zip(classes, values, strict=True) if v is None]
    if missing:
        raise DataError(
            f"{what} is undefined for class(es) {fmt_values(missing)}: y_true has no sample "
            "of them (one-vs-rest needs positives and negatives). Evaluate on a sample with "
            "every class, or use evaluate_classification, which reports such classes as None."
        )
    return np.array(values, dtype=np.float64)


def roc_auc(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    classes: Any = None,
    pos_label: Any = None,
    average: Average = "macro",
) -> float:
    """Area under the ROC curve (binary, or one-vs-rest for multiclass).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    y_score : array-like of shape (n_samples,) or (n_samples, n_classes)
        1-D: score of the positive class. 2-D: one column per class in *classes*
        order (``predict_proba`` output); two columns are treated as binary.
    classes : list, optional
        Labels of the columns of a 2-D *y_score*; default the sorted labels of *y_true*.
    pos_label : label, optional
        Binary only; default the later of the two sorted classes.
    average : {"macro", "weighted"}
        How one-vs-rest AUCs are combined (weighted: by class prevalence).

    Raises
    ------
    DataError
        When y_true holds a single class (the AUC is undefined).

    Examples
    --------
    >>> roc_auc([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    0.75
    """
    score = np.asarray(y_score.to_numpy() if hasattr(y_score, "to_numpy") else y_score)
    if score.ndim == 2 and score.shape[1] > 2:
        cls, counts, support = _ovr_counts(y_true, score, classes)
        values = _defined([c.auc() for c in counts], cls, "ROC-AUC")
        weights = support if average == "weighted" else None
        return float(np.average(values, weights=weights))
    score_1d, pos_label = _binary_score(y_true, score, classes, pos_label)
    bc, pos = _binary_input(y_true, score_1d, pos_label)
    auc = bc.auc()
    if auc is None:
        raise DataError(
            f"ROC-AUC is undefined: y_true holds only the positive class {pos!r}. "
            "Evaluate on a sample that contains both classes."
        )
    return auc


def average_precision(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    classes: Any = None,
    pos_label: Any = None,
    average: Average = "macro",
) -> float:
    """Average precision: the step-wise area under the precision-recall curve.

    Same arguments as :func:`roc_auc`; matches ``sklearn.metrics.average_precision_score``.

    Examples
    --------
    >>> round(average_precision([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8]), 4)
    0.8333
    """
    score = np.asarray(y_score.to_numpy() if hasattr(y_score, "to_numpy") else y_score)
    if score.ndim == 2 and score.shape[1] > 2:
        cls, counts, support = _ovr_counts(y_true, score, classes)
        values = _defined([c.average_precision() for c in counts], cls, "AP")
        weights = support if average == "weighted" else None
        return float(np.average(values, weights=weights))
    score_1d, pos_label = _binary_score(y_true, score, classes, pos_label)
    bc, _ = _binary_input(y_true, score_1d, pos_label)
    ap = bc.average_precision()
    return 0.0 if ap is None else ap


def _binary_score(
    y_true: ArrayLike, score: NDArray[Any], classes: Any, pos_label: Any
) -> tuple[NDArray[Any], Any]:
    """The positive-class column of a (n, 2) score matrix, or the 1-D scores as given."""
    if score.ndim == 1:
        return score, pos_label
    if score.ndim != 2 or score.shape[1] not in (1, 2):
        raise DataError(
            f"y_score must have shape (n_samples,) or (n_samples, n_classes); got {score.shape}."
        )
    if score.shape[1] == 1:
        return score[:, 0], pos_label
    cls = (
        np.asarray(list(classes))
        if classes is not None
        else encode_labels(as_1d(y_true, "y_true"), None).classes
    )
    if cls.size != 2:
        raise DataError(
            f"y_score has 2 columns but there are {cls.size} classes ({fmt_values(cls)}). "
            "Pass classes= with the two labels in column order."
        )
    if pos_label is None:
        pos_label = cls[1]
    hits = np.flatnonzero(cls == pos_label)
    if hits.size == 0:
        raise DataError(f"pos_label={pos_label!r} is not one of classes [{fmt_values(cls)}].")
    return score[:, hits[0]], pos_label
