"""Multi-label metrics: each sample may carry any number of labels.

Inputs are indicator matrices of shape (n_samples, n_labels) (0/1 or bool, or a
DataFrame whose columns name the labels), or a list of label collections per
sample (``[["a", "b"], [], ["c"]]``), which is binarised.

Averages follow scikit-learn: ``micro`` pools every (sample, label) decision,
``macro`` is the unweighted mean over labels, ``weighted`` weighs labels by
support, ``samples`` averages the per-sample scores.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from loopml.evaluate._checks import check_finite, check_lengths, fmt_values, jsonable, safe_div
from loopml.evaluate.ranking import binary_counts
from loopml.exceptions import DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "MultilabelReport",
    "evaluate_multilabel",
    "hamming_loss",
    "multilabel_ratio",
    "subset_accuracy",
]

_METRICS = ("precision", "recall", "specificity", "f1")


def _is_collections(y: Any) -> bool:
    """True for label sets per sample; False for indicator matrices.

    A rectangular numeric nested list is an indicator matrix; sets, ragged lists
    and lists of strings are label sets.
    """
    if hasattr(y, "to_numpy") or isinstance(y, np.ndarray):
        return bool(getattr(y, "dtype", None) == np.dtype(object) and np.ndim(y) == 1)
    if not isinstance(y, list | tuple):
        return False
    if any(isinstance(row, set | frozenset) for row in y):
        return True
    if not any(isinstance(row, list | tuple) for row in y):
        return False
    try:
        arr = np.asarray(y)
    except ValueError:  # ragged
        return True
    return not (arr.ndim == 2 and arr.dtype.kind in "biuf")


def as_indicator(
    y: Any, name: str, labels: list[Any] | None = None
) -> tuple[NDArray[np.bool_], list[Any]]:
    """*y* as a boolean indicator matrix and the label of each column."""
    if y is None:
        raise DataError(f"{name} is None; pass an indicator matrix (n_samples, n_labels).")
    if _is_collections(y):
        rows = [set(r) if isinstance(r, Iterable) and not isinstance(r, str) else {r} for r in y]
        if labels is None:
            try:
                labels = sorted(set().union(*rows))
            except TypeError as exc:
                raise DataError(
                    f"{name} mixes label types that cannot be sorted ({exc}); pass labels=."
                ) from exc
        index = {lab: j for j, lab in enumerate(labels)}
        out = np.zeros((len(rows), len(labels)), dtype=bool)
        for i, row in enumerate(rows):
            for lab in row:
                j = index.get(lab)
                if j is None:
                    raise DataError(
                        f"{name} row {i} has label {lab!r}, which is not in labels "
                        f"[{fmt_values(labels, 20)}]. Add it to labels=."
                    )
                out[i, j] = True
        if out.shape[0] == 0:
            raise DataError(f"{name} is empty; metrics need at least one sample.")
        return out, list(labels)
    cols = list(y.columns) if hasattr(y, "columns") else None
    arr = np.asarray(y.to_numpy() if hasattr(y, "to_numpy") else y)
    if arr.ndim != 2:
        raise DataError(
            f"{name} must be an indicator matrix of shape (n_samples, n_labels); got shape "
            f"{arr.shape}. For one label per sample use evaluate_classification."
        )
    if arr.shape[0] == 0:
        raise DataError(f"{name} is empty; metrics need at least one sample.")
    if arr.dtype.kind == "f":
        check_finite(arr, name)
    if arr.dtype.kind not in "biuf" or not np.isin(arr, (0, 1)).all():
        bad = np.asarray(arr).ravel()
        raise DataError(
            f"{name} must hold only 0/1 (or booleans); found values such as "
            f"{fmt_values(np.unique(bad[~np.isin(bad, (0, 1))])[:5])}. Threshold scores "
            "first (or pass them as Y_proba); for label sets pass sets, e.g. [{1, 2}, {3}]."
        )
    out_labels = (
        labels if labels is not None else cols if cols is not None else list(range(arr.shape[1]))
    )
    if len(out_labels) != arr.shape[1]:
        raise DataError(
            f"labels has {len(out_labels)} names but {name} has {arr.shape[1]} columns."
        )
    return arr.astype(bool), list(out_labels)


def _pair(
    Y_true: Any, Y_pred: Any, labels: list[Any] | None = None
) -> tuple[NDArray[np.bool_], NDArray[np.bool_], list[Any]]:
    yt, labs = as_indicator(Y_true, "Y_true", labels)
    yp, _ = as_indicator(Y_pred, "Y_pred", labs)
    check_lengths(Y_true=yt, Y_pred=yp)
    if yt.shape[1] != yp.shape[1]:
        raise DataError(
            f"Y_true has {yt.shape[1]} label columns but Y_pred has {yp.shape[1]}; "
            "both need one column per label, in the same order."
        )
    return yt, yp, labs


def _terms(
    yt: NDArray[np.bool_], yp: NDArray[np.bool_], metric: str, axis: int
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    tp: NDArray[np.float64] = np.sum(yt & yp, axis=axis, dtype=np.float64)
    true: NDArray[np.float64] = np.sum(yt, axis=axis, dtype=np.float64)
    pred: NDArray[np.float64] = np.sum(yp, axis=axis, dtype=np.float64)
    if metric == "precision":
        return tp, pred
    if metric == "recall":
        return tp, true
    if metric == "f1":
        return 2 * tp, true + pred
    if metric == "specificity":
        tn: NDArray[np.float64] = np.sum(~yt & ~yp, axis=axis, dtype=np.float64)
        return tn, tn + pred - tp
    raise ValueError(metric)


def multilabel_ratio(
    metric: str, Y_true: Any, Y_pred: Any, average: str, zero_division: float = 0.0
) -> float:
    """Precision, recall, specificity or F1 of indicator matrices, averaged as *average* says."""
    yt, yp, _ = _pair(Y_true, Y_pred)
    if average == "samples":
        num, den = _terms(yt, yp, metric, axis=1)
        return float(safe_div(num, den, zero_division).mean())
    num, den = _terms(yt, yp, metric, axis=0)
    if average == "micro":
        return float(safe_div(num.sum(), den.sum(), zero_division))
    per_label = safe_div(num, den, zero_division)
    if average == "macro":
        return float(per_label.mean())
    if average == "weighted":
        support = yt.sum(axis=0)
        return float(per_label @ support / support.sum()) if support.sum() else float(zero_division)
    raise DataError(
        f"average for multi-label input must be 'micro', 'macro', 'weighted' or 'samples'; "
        f"got {average!r}."
    )


def hamming_loss(Y_true: Any, Y_pred: Any) -> float:
    """Share of (sample, label) decisions that are wrong.

    Examples
    --------
    >>> hamming_loss([[1, 0], [1, 1]], [[1, 1], [1, 1]])
    0.25
    """
    yt, yp, _ = _pair(Y_true, Y_pred)
    return float(np.mean(yt != yp))


def subset_accuracy(Y_true: Any, Y_pred: Any) -> float:
    """Exact-match ratio: share of samples whose whole label set is right.

    Examples
    --------
    >>> subset_accuracy([[1, 0], [1, 1]], [[1, 1], [1, 1]])
    0.5
    """
    yt, yp, _ = _pair(Y_true, Y_pred)
    return float(np.mean(np.all(yt == yp, axis=1)))


@dataclass
class MultilabelReport:
    """Everything :func:`evaluate_multilabel` measured.

    ``metrics`` is flat: ``hamming_loss``, ``subset_accuracy``, ``jaccard_samples``,
    ``{precision,recall,specificity,f1}_{micro,macro,weighted,samples}`` and, with
    probabilities, ``roc_auc_{micro,macro}`` and ``average_precision_{micro,macro}``
    (None when undefined). ``per_label`` has one row per label.
    """

    labels: list[Any]
    n_samples: int
    metrics: dict[str, float | None]
    per_label: pd.DataFrame
    threshold: float | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (NaN/inf become None)."""
        per = self.per_label.reset_index().to_dict(orient="records")
        out: dict[str, Any] = jsonable(
            {
                "task": "multilabel",
                "labels": self.labels,
                "n_samples": self.n_samples,
                "threshold": self.threshold,
                "metrics": self.metrics,
                "per_label": per,
                "notes": self.notes,
            }
        )
        return out


def _proba_matrix(Y_proba: Any, shape: tuple[int, int]) -> NDArray[np.float64]:
    arr = np.asarray(
        Y_proba.to_numpy() if hasattr(Y_proba, "to_numpy") else Y_proba, dtype=np.float64
    )
    if arr.shape != shape:
        raise DataError(
            f"Y_proba must have shape {shape} (one score per sample and label); got {arr.shape}."
        )
    check_finite(arr, "Y_proba")
    return arr


def evaluate_multilabel(
    Y_true: Any,
    Y_pred: Any = None,
    Y_proba: Any = None,
    labels: list[Any] | None = None,
    *,
    threshold: float = 0.5,
    zero_division: float = 0.0,
) -> MultilabelReport:
    """Per-label and averaged metrics of a multi-label classifier in one call.

    Parameters
    ----------
    Y_true, Y_pred : indicator matrices (n_samples, n_labels) or lists of label sets
        When *Y_pred* is None it is ``Y_proba >= threshold``.
    Y_proba : array-like of shape (n_samples, n_labels), optional
        Score per label (e.g. stacked positive-class probabilities); enables ROC-AUC
        and average precision.
    labels : list, optional
        Name of each column (default: DataFrame columns, sorted label names, or 0..L-1).

    Examples
    --------
    >>> r = evaluate_multilabel([[1, 0], [0, 1]], [[1, 0], [1, 1]])
    >>> r.metrics["hamming_loss"]
    0.25
    """
    import pandas as pd

    notes: list[str] = []
    yt, labs = as_indicator(Y_true, "Y_true", labels)
    if Y_pred is None:
        if Y_proba is None:
            raise DataError("Pass Y_pred (label indicators) or Y_proba (scores) to evaluate.")
        yp = _proba_matrix(Y_proba, yt.shape) >= threshold
    else:
        yp, _ = as_indicator(Y_pred, "Y_pred", labs)
    yt, yp, labs = _pair(yt, yp, labs)
    metrics: dict[str, float | None] = {
        "hamming_loss": float(np.mean(yt != yp)),
        "subset_accuracy": float(np.mean(np.all(yt == yp, axis=1))),
    }
    inter = np.sum(yt & yp, axis=1, dtype=np.float64)
    union = np.sum(yt | yp, axis=1, dtype=np.float64)
    metrics["jaccard_samples"] = float(safe_div(inter, union, zero_division).mean())
    per: dict[str, Any] = {}
    for m in _METRICS:
        num, den = _terms(yt, yp, m, axis=0)
        per_label = safe_div(num, den, zero_division)
        per[m] = per_label
        support = yt.sum(axis=0)
        metrics[f"{m}_micro"] = float(safe_div(num.sum(), den.sum(), zero_division))
        metrics[f"{m}_macro"] = float(per_label.mean())
        metrics[f"{m}_weighted"] = (
            float(per_label @ support / support.sum()) if support.sum() else float(zero_division)
        )
        s_num, s_den = _terms(yt, yp, m, axis=1)
        metrics[f"{m}_samples"] = float(safe_div(s_num, s_den, zero_division).mean())
    per["support"] = yt.sum(axis=0)
    per["predicted"] = yp.sum(axis=0)
    never = [lab for lab, c in zip(labs, per["predicted"], strict=True) if c == 0]
    if never:
        notes.append(
            f"Label(s) {fmt_values(never)} were never predicted: their precision is set to "
            f"{zero_division} (zero_division)."
        )
    if Y_proba is not None:
        proba = _proba_matrix(Y_proba, yt.shape)
        aucs: list[float | None] = []
        aps: list[float | None] = []
        for j in range(yt.shape[1]):
            counts = binary_counts(yt[:, j], proba[:, j])
            aucs.append(counts.auc())
            aps.append(counts.average_precision())
        per["roc_auc"] = np.array([np.nan if a is None else a for a in aucs])
        per["average_precision"] = np.array([np.nan if a is None else a for a in aps])
        undefined = [lab for lab, a in zip(labs, aucs, strict=True) if a is None]
        if undefined:
            notes.append(
                f"ROC-AUC is undefined for label(s) {fmt_values(undefined)} (all samples have "
                "or all lack them): left out of roc_auc_macro and reported as None."
            )
        defined_auc = [a for a in aucs if a is not None]
        defined_ap = [a for a in aps if a is not None]
        metrics["roc_auc_macro"] = float(np.mean(defined_auc)) if defined_auc else None
        metrics["average_precision_macro"] = float(np.mean(defined_ap)) if defined_ap else None
        pooled = binary_counts(yt.ravel(), proba.ravel())
        metrics["roc_auc_micro"] = pooled.auc()
        metrics["average_precision_micro"] = pooled.average_precision()
    frame = pd.DataFrame(per, index=pd.Index(labs, name="label"))
    return MultilabelReport(
        labels=labs,
        n_samples=int(yt.shape[0]),
        metrics=metrics,
        per_label=frame,
        threshold=threshold if Y_pred is None else None,
        notes=notes,
    )
