"""Metrics of predicted class labels, all derived from one confusion matrix.

The confusion matrix is counted once with :func:`numpy.bincount`; accuracy,
precision, recall (sensitivity), specificity (true negative rate), F1, balanced
accuracy and the Matthews correlation coefficient are read off it. Values match
scikit-learn's ``*_score`` functions with ``zero_division=0``.

**Positive class.** For a binary task the positive class is ``classes[1]``: by
default the classes are sorted, so it is the later one (``1`` of ``{0, 1}``,
``True``, ``'yes'`` of ``{'no', 'yes'}``); pass ``pos_label`` to choose another.
When only one of ``0/1`` (or ``False/True``, ``-1/1``) occurs, the missing
partner is assumed, so that all-negative samples still score as binary.

**Averages.** ``average="auto"`` (default) means the positive class for binary
tasks and ``"macro"`` otherwise; ``"micro"``, ``"macro"`` and ``"weighted"``
(by support) follow scikit-learn. Passing 2-D indicator matrices switches to
multi-label metrics (see :mod:`loopml.evaluate.multilabel`).
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from loopml.evaluate._checks import (
    EncodedLabels,
    as_1d,
    check_lengths,
    encode_labels,
    fmt_values,
    safe_div,
)
from loopml.exceptions import DataError

__all__ = [
    "accuracy",
    "balanced_accuracy",
    "confusion_matrix",
    "f1",
    "mcc",
    "precision",
    "recall",
    "specificity",
]

AverageName = Literal["auto", "binary", "micro", "macro", "weighted", "samples"]
Normalize = Literal["true", "pred", "all"]

# Standard binary pairs: when only one member is seen, the other is implied.
_PARTNERS: dict[Any, Any] = {0: 1, 1: 0, -1: 1}


def complete_binary(classes: NDArray[Any]) -> NDArray[Any]:
    """Add the implied partner when a single 0/1, -1/1 or boolean class is seen."""
    if classes.size != 1:
        return classes
    only = classes[0]
    if classes.dtype.kind == "b":
        return np.array([False, True])
    if classes.dtype.kind in "iuf" and float(only) in (0.0, 1.0, -1.0):
        partner = _PARTNERS[int(only)]
        return np.sort(np.array([only, partner], dtype=classes.dtype))
    return classes


def encode_pair(
    y_true: ArrayLike, y_pred: ArrayLike, classes: Any = None, pos_label: Any = None
) -> EncodedLabels:
    """Check and encode a pair of label vectors.

    Without *classes*, a lone 0/1-style class gets its partner, and a *pos_label*
    that never occurs is added, so the binary metrics stay defined.
    """
    yt = as_1d(y_true, "y_true")
    yp = as_1d(y_pred, "y_pred")
    check_lengths(y_true=yt, y_pred=yp)
    enc = encode_labels(yt, yp, classes)
    if classes is None:
        full = complete_binary(enc.classes)
        if pos_label is not None and not np.any(full == pos_label):
            full = np.sort(np.append(full, pos_label))
        if full.size != enc.classes.size:
            enc = encode_labels(yt, yp, full)
    return enc


def counts_matrix(t: NDArray[np.intp], p: NDArray[np.intp], k: int) -> NDArray[np.int64]:
    """Confusion counts (rows: true, columns: predicted) in one bincount."""
    flat = np.bincount(t * k + p, minlength=k * k)
    return flat.reshape(k, k).astype(np.int64, copy=False)


def normalize_matrix(cm: NDArray[np.int64], by: Normalize) -> NDArray[np.float64]:
    """Rows sum to 1 (``"true"``), columns (``"pred"``) or the whole matrix (``"all"``)."""
    if by == "true":
        return safe_div(cm, cm.sum(axis=1, keepdims=True))
    if by == "pred":
        return safe_div(cm, cm.sum(axis=0, keepdims=True))
    if by == "all":
        return safe_div(cm, cm.sum())
    raise DataError(f"normalize must be 'true', 'pred', 'all' or None; got {by!r}.")


def ratio_terms(
    cm: NDArray[np.int64], metric: str
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Per-class numerator and denominator of a one-vs-rest ratio metric."""
    c = cm.astype(np.float64)
    tp = np.diag(c)
    pred = c.sum(axis=0)
    true = c.sum(axis=1)
    fp = pred - tp
    fn = true - tp
    tn = c.sum() - tp - fp - fn
    if metric == "precision":
        return tp, pred
    if metric == "recall":
        return tp, true
    if metric == "specificity":
        return tn, tn + fp
    if metric == "f1":
        return 2 * tp, true + pred
    raise ValueError(metric)


def average_ratio(
    num: NDArray[np.float64],
    den: NDArray[np.float64],
    average: str,
    support: NDArray[np.float64],
    pos: int | None,
    zero_division: float,
) -> float:
    """Combine per-class ratios num/den as *average* says."""
    if average == "micro":
        return float(safe_div(num.sum(), den.sum(), zero_division))
    per_class = safe_div(num, den, zero_division)
    if average == "binary":
        if pos is None:
            raise ValueError("binary average needs a positive class")
        return float(per_class[pos])
    if average == "macro":
        return float(per_class.mean())
    if average == "weighted":
        total = support.sum()
        return float(per_class @ support / total) if total > 0 else float(zero_division)
    raise DataError(
        f"average must be one of 'auto', 'binary', 'micro', 'macro', 'weighted'; got {average!r}."
    )


def _resolve_average(average: str, enc: EncodedLabels, pos_label: Any) -> tuple[str, int | None]:
    k = enc.classes.size
    if average == "auto":
        average = "binary" if (k <= 2 or pos_label is not None) else "macro"
    if average != "binary":
        return average, None
    if k > 2 and pos_label is None:
        raise DataError(
            f"average='binary' needs two classes or a pos_label; found {k} classes "
            f"({fmt_values(enc.classes)}). Use average='macro', 'micro' or 'weighted', "
            "or pass pos_label= to score one class against the rest."
        )
    return "binary", positive_index(enc.classes, pos_label)


def positive_index(classes: NDArray[Any], pos_label: Any) -> int:
    """Column of the positive class: *pos_label*'s, else the last (``classes[1]``)."""
    if pos_label is None:
        return int(classes.size - 1)
    hits = np.flatnonzero(classes == pos_label)
    if hits.size == 0:
        raise DataError(
            f"pos_label={pos_label!r} is not one of the classes [{fmt_values(classes)}]. "
            "Pass one of them, or classes= including it."
        )
    return int(hits[0])


def _ratio_metric(
    metric: str,
    y_true: ArrayLike,
    y_pred: ArrayLike,
    average: str,
    pos_label: Any,
    classes: Any,
    zero_division: float,
) -> float:
    if np.ndim(y_true) == 2 and np.shape(y_true)[1] > 1:
        from loopml.evaluate.multilabel import multilabel_ratio

        avg = "macro" if average == "auto" else average
        return multilabel_ratio(metric, y_true, y_pred, avg, zero_division)
    enc = encode_pair(y_true, y_pred, classes, pos_label)
    if enc.y_pred is None:  # pragma: no cover - encode_pair always encodes y_pred
        raise ValueError("y_pred missing")
    avg, pos = _resolve_average(average, enc, pos_label)
    cm = counts_matrix(enc.y_true, enc.y_pred, enc.classes.size)
    num, den = ratio_terms(cm, metric)
    return average_ratio(num, den, avg, cm.sum(axis=1).astype(np.float64), pos, zero_division)


def confusion_matrix(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    classes: Any = None,
    normalize: Normalize | None = None,
) -> NDArray[Any]:
    """Confusion matrix: rows are true classes, columns predicted, in *classes* order.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,)
    classes : list, optional
        Row/column order; default the sorted labels seen in either.
    normalize : {"true", "pred", "all"}, optional
        Divide by row sums (recall per class on the diagonal), column sums, or the total.

    Examples
    --------
    >>> confusion_matrix(["a", "b", "b"], ["a", "a", "b"]).tolist()
    [[1, 0], [1, 1]]
    """
    enc = encode_pair(y_true, y_pred, classes)
    if enc.y_pred is None:  # pragma: no cover
        raise ValueError("y_pred missing")
    cm = counts_matrix(enc.y_true, enc.y_pred, enc.classes.size)
    return cm if normalize is None else normalize_matrix(cm, normalize)


def accuracy(y_true: ArrayLike, y_pred: ArrayLike) -> float:
    """Share of samples whose predicted label equals the true one (subset accuracy if 2-D).

    Examples
    --------
    >>> accuracy([0, 1, 1, 0], [0, 1, 0, 0])
    0.75
    """
    if np.ndim(y_true) == 2 and np.shape(y_true)[1] > 1:
        from loopml.evaluate.multilabel import subset_accuracy

        return subset_accuracy(y_true, y_pred)
    enc = encode_pair(y_true, y_pred)
    return float(np.mean(enc.y_true == enc.y_pred))


def precision(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    average: AverageName = "auto",
    pos_label: Any = None,
    classes: Any = None,
    zero_division: float = 0.0,
) -> float:
    """Precision: of the samples predicted in a class, the share that belong to it.

    Parameters
    ----------
    y_true, y_pred : array-like of shape (n_samples,) or indicator matrices (multi-label)
    average : {"auto", "binary", "micro", "macro", "weighted", "samples"}
        "auto": the positive class for binary tasks, "macro" otherwise.
        "samples" is for multi-label input only.
    pos_label : label, optional
        Binary positive class; default ``classes[1]`` (the later sorted class).
    classes : list, optional
        Labels to include (e.g. a class never seen in this sample).
    zero_division : float, default 0.0
        Value when a class is never predicted (the ratio is 0/0).

    Examples
    --------
    >>> precision([0, 1, 1, 0], [1, 1, 0, 0])
    0.5
    """
    return _ratio_metric("precision", y_true, y_pred, average, pos_label, classes, zero_division)


def recall(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    average: AverageName = "auto",
    pos_label: Any = None,
    classes: Any = None,
    zero_division: float = 0.0,
) -> float:
    """Recall (sensitivity, true positive rate): of a class's samples, the share found.

    Same arguments as :func:`precision`.

    Examples
    --------
    >>> recall([0, 1, 1, 0], [1, 1, 0, 0])
    0.5
    """
    return _ratio_metric("recall", y_true, y_pred, average, pos_label, classes, zero_division)


def specificity(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    average: AverageName = "auto",
    pos_label: Any = None,
    classes: Any = None,
    zero_division: float = 0.0,
) -> float:
    """Specificity (true negative rate): of the samples outside a class, the share kept out.

    Binary: TN / (TN + FP) for the positive class. Multiclass: one-vs-rest per
    class, averaged as *average* says. Same arguments as :func:`precision`.

    Examples
    --------
    >>> specificity([0, 1, 1, 0], [1, 1, 0, 0])
    0.5
    """
    return _ratio_metric("specificity", y_true, y_pred, average, pos_label, classes, zero_division)


def f1(
    y_true: ArrayLike,
    y_pred: ArrayLike,
    *,
    average: AverageName = "auto",
    pos_label: Any = None,
    classes: Any = None,
    zero_division: float = 0.0,
) -> float:
    """F1: harmonic mean of precision and recall, ``2 TP / (2 TP + FP + FN)``.

    Same arguments as :func:`precision`; *zero_division* applies when a class is
    neither present nor predicted.

    Examples
    --------
    >>> f1([0, 1, 1, 0], [1, 1, 0, 0])
    0.5
    """
    return _ratio_metric("f1", y_true, y_pred, average, pos_label, classes, zero_division)


def balanced_accuracy(y_true: ArrayLike, y_pred: ArrayLike, *, classes: Any = None) -> float:
    """Mean recall over the classes present in *y_true* (robust to class imbalance).

    Examples
    --------
    >>> balanced_accuracy([0, 0, 0, 1], [0, 0, 0, 0])
    0.5
    """
    enc = encode_pair(y_true, y_pred, classes)
    if enc.y_pred is None:  # pragma: no cover
        raise ValueError("y_pred missing")
    return balanced_from_matrix(counts_matrix(enc.y_true, enc.y_pred, enc.classes.size))


def balanced_from_matrix(cm: NDArray[np.int64]) -> float:
    """Balanced accuracy of a confusion matrix (classes absent from y_true are left out)."""
    true = cm.sum(axis=1)
    present = true > 0
    return float(np.mean(np.diag(cm)[present] / true[present]))


def mcc(y_true: ArrayLike, y_pred: ArrayLike, *, classes: Any = None) -> float:
    """Matthews correlation coefficient (multiclass: Gorodkin's R_K), in [-1, 1].

    0 when it is undefined (a constant prediction or a single true class), as in
    scikit-learn.

    Examples
    --------
    >>> mcc([0, 0, 1, 1], [0, 0, 1, 1])
    1.0
    """
    enc = encode_pair(y_true, y_pred, classes)
    if enc.y_pred is None:  # pragma: no cover
        raise ValueError("y_pred missing")
    return mcc_from_matrix(counts_matrix(enc.y_true, enc.y_pred, enc.classes.size))


def mcc_from_matrix(cm: NDArray[np.int64]) -> float:
    """MCC of a confusion matrix, in float arithmetic (no integer overflow)."""
    c = cm.astype(np.float64)
    t_sum = c.sum(axis=1)
    p_sum = c.sum(axis=0)
    n = c.sum()
    cov_tp = np.trace(c) * n - t_sum @ p_sum
    cov_pp = n * n - p_sum @ p_sum
    cov_tt = n * n - t_sum @ t_sum
    if cov_pp == 0 or cov_tt == 0:
        return 0.0
    return float(cov_tp / np.sqrt(cov_tt * cov_pp))
