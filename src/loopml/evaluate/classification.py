"""Classification evaluation in one call, plus log loss and the probability checks.

:func:`evaluate_classification` computes every classification metric from one
confusion matrix (one :func:`numpy.bincount`) and one sort of the scores per
class, so a million predictions take a fraction of the time that calling the
scikit-learn functions one by one does, with the same values.

For binary tasks, precision, recall, specificity, F1 and average precision
refer to the positive class ``classes[1]`` (the later in sorted order: ``1``,
``True``, ``'yes'`` of ``'no'/'yes'``) unless ``pos_label`` says otherwise. For
multiclass tasks they are macro averages (one-vs-rest for specificity, ROC-AUC
and average precision).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from loopml.evaluate._checks import (
    as_1d,
    check_finite,
    check_lengths,
    encode_labels,
    fmt_values,
    jsonable,
    safe_div,
)
from loopml.evaluate.labels import (
    average_ratio,
    balanced_from_matrix,
    complete_binary,
    counts_matrix,
    mcc_from_matrix,
    normalize_matrix,
    positive_index,
    ratio_terms,
)
from loopml.evaluate.ranking import BinaryCounts, binary_counts, downsample_curve
from loopml.exceptions import DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = [
    "ClassificationReport",
    "ConfusionMatrix",
    "check_proba",
    "evaluate_classification",
    "log_loss",
]

# Rows of predict_proba must sum to 1 within this (probabilities rounded to 3
# decimals in a CSV still pass; logits or unnormalised scores do not).
PROBA_SUM_TOL = 1e-3


def check_proba(y_proba: Any, n_samples: int, n_classes: int) -> NDArray[np.float64]:
    """Validate class probabilities: finite, within [0, 1], shape (n, k) rows summing to 1.

    A 1-D array (or one column) is the probability of ``classes[1]`` of a binary task.
    """
    arr = np.asarray(y_proba.to_numpy() if hasattr(y_proba, "to_numpy") else y_proba)
    if arr.dtype.kind not in "biuf":
        raise DataError(f"y_proba must be numeric probabilities; got dtype {arr.dtype}.")
    arr = arr.astype(np.float64, copy=False)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.shape[0] != n_samples:
        raise DataError(
            f"Length mismatch: y_true has {n_samples} samples but y_proba has {arr.shape[0]} "
            "rows. Pass one row of probabilities per sample, in the same order."
        )
    if arr.ndim == 1:
        if n_classes > 2:
            raise DataError(
                f"y_proba is 1-D but there are {n_classes} classes; pass predict_proba output "
                f"of shape ({n_samples}, {n_classes}), one column per class."
            )
    elif arr.ndim != 2 or arr.shape[1] != n_classes:
        raise DataError(
            f"y_proba must have shape ({n_samples}, {n_classes}), one column per class in "
            f"classes order; got {arr.shape}. If the model knows classes the sample lacks, "
            "pass classes=model.classes_."
        )
    check_finite(arr, "y_proba")
    lo, hi = float(arr.min()), float(arr.max())
    if lo < 0.0 or hi > 1.0:
        raise DataError(
            f"y_proba must hold probabilities in [0, 1]; found values from {lo:g} to {hi:g}. "
            "Pass predict_proba output (apply a softmax/sigmoid to raw scores)."
        )
    if arr.ndim == 2:
        sums = arr.sum(axis=1)
        bad = np.flatnonzero(np.abs(sums - 1.0) > PROBA_SUM_TOL)
        if bad.size:
            raise DataError(
                f"Each row of y_proba must sum to 1; {bad.size} row(s) do not (first: row "
                f"{bad[0]}, sum {sums[bad[0]]:.6g}). Pass predict_proba output, or "
                "renormalise with y_proba / y_proba.sum(axis=1, keepdims=True)."
            )
    return arr


def _log_loss_codes(t: NDArray[np.intp], proba: NDArray[np.float64], pos: int = 1) -> float:
    eps = np.finfo(np.float64).eps
    if proba.ndim == 1:
        p_pos = proba if pos == 1 else 1.0 - proba
        p_true = np.where(t == pos, p_pos, 1.0 - p_pos)
    else:
        p_true = proba[np.arange(t.size), t]
    return float(-np.mean(np.log(np.clip(p_true, eps, 1.0 - eps))))


def log_loss(y_true: ArrayLike, y_proba: ArrayLike, *, classes: Any = None) -> float:
    """Cross-entropy of the true classes under the predicted probabilities (natural log).

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    y_proba : array-like of shape (n_samples, n_classes) or (n_samples,)
        ``predict_proba`` output, columns in *classes* order; 1-D means the
        probability of ``classes[1]`` of a binary task. Rows must sum to 1.
    classes : list, optional
        Column labels; default the sorted labels of *y_true*.

    Examples
    --------
    >>> round(log_loss([0, 1], [[0.9, 0.1], [0.2, 0.8]]), 4)
    0.1643
    """
    yt = as_1d(y_true, "y_true")
    enc = encode_labels(yt, None, classes)
    cls = enc.classes if classes is not None else complete_binary(enc.classes)
    if cls.size != enc.classes.size:
        enc = encode_labels(yt, None, cls)
    proba = check_proba(y_proba, yt.size, max(cls.size, 2) if np.ndim(y_proba) == 1 else cls.size)
    return _log_loss_codes(enc.y_true, proba)


@dataclass(frozen=True)
class ConfusionMatrix:
    """Confusion counts (rows: true class, columns: predicted) and their normalisations."""

    labels: list[Any]
    counts: NDArray[np.int64]

    @property
    def normalized(self) -> NDArray[np.float64]:
        """Rows divided by their sums: each row shows where a true class went (recall on the diagonal)."""
        return normalize_matrix(self.counts, "true")

    def normalize(self, by: str = "true") -> NDArray[np.float64]:
        """Normalise by ``"true"`` (rows), ``"pred"`` (columns) or ``"all"``."""
        if by not in ("true", "pred", "all"):
            raise DataError(f"normalize by must be 'true', 'pred' or 'all'; got {by!r}.")
        return normalize_matrix(self.counts, by)  # type: ignore[arg-type]

    def to_frame(self, normalize: str | None = None) -> pd.DataFrame:
        """As a DataFrame with true classes as rows and predicted classes as columns."""
        import pandas as pd

        data = self.counts if normalize is None else self.normalize(normalize)
        return pd.DataFrame(
            data,
            index=pd.Index(self.labels, name="true"),
            columns=pd.Index(self.labels, name="predicted"),
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "labels": jsonable(self.labels),
            "counts": self.counts.tolist(),
            "normalized": jsonable(self.normalized),
        }


@dataclass
class ClassificationReport:
    """Everything :func:`evaluate_classification` measured.

    Attributes
    ----------
    task : "binary" or "multiclass"
    classes : list
        Class labels, in the column order of ``y_proba``.
    pos_label : label or None
        The positive class of a binary task.
    metrics : dict
        Flat ``name -> float or None``: accuracy, balanced_accuracy, precision,
        recall, specificity, f1 (positive class if binary, macro otherwise),
        f1_macro, f1_micro, f1_weighted, mcc, roc_auc, average_precision,
        log_loss. None means undefined or not computable (see ``notes``).
    confusion : ConfusionMatrix
    per_class : DataFrame
        One row per class: precision, recall, specificity, f1, support,
        predicted, roc_auc, average_precision (one-vs-rest).
    curves : dict
        ``{"roc": {label: {"fpr", "tpr", "thresholds"}}, "pr": {label: {"precision",
        "recall", "thresholds"}}}`` with at most ``max_curve_points`` points each;
        binary tasks hold the positive class only.
    threshold : float or None
        Threshold on the positive-class probability used to derive labels, if any.
    notes : list of str
        Why a value is None or was set by ``zero_division``.
    """

    task: str
    classes: list[Any]
    pos_label: Any
    n_samples: int
    metrics: dict[str, float | None]
    confusion: ConfusionMatrix
    per_class: pd.DataFrame
    curves: dict[str, dict[str, dict[str, NDArray[np.float64]]]] = field(default_factory=dict)
    threshold: float | None = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict (numpy values become Python ones; NaN/inf become None)."""
        per = self.per_class.reset_index().to_dict(orient="records")
        out: dict[str, Any] = jsonable(
            {
                "task": self.task,
                "classes": self.classes,
                "pos_label": self.pos_label,
                "n_samples": self.n_samples,
                "threshold": self.threshold,
                "metrics": self.metrics,
                "confusion": self.confusion.to_dict(),
                "per_class": per,
                "curves": self.curves,
                "notes": self.notes,
            }
        )
        return out


def _score_columns(
    proba: NDArray[np.float64], k: int, pos: int
) -> tuple[list[NDArray[np.float64]], NDArray[np.float64] | None]:
    """Per-class ranking scores (multiclass) or the positive-class score (binary)."""
    if proba.ndim == 1:
        s = proba if pos == 1 or k == 1 else 1.0 - proba
        return [s], s
    if k <= 2:
        return [proba[:, pos]], proba[:, pos]
    return [proba[:, c] for c in range(k)], None


def _flip(c: BinaryCounts) -> BinaryCounts:
    """Counts for the other class of a binary task, scored by the negated score, without a sort."""
    prev_tps = np.concatenate(([0.0], c.tps[:-1]))
    prev_fps = np.concatenate(([0.0], c.fps[:-1]))
    return BinaryCounts(
        tps=(c.n_neg - prev_fps)[::-1],
        fps=(c.n_pos - prev_tps)[::-1],
        thresholds=-c.thresholds[::-1],
    )


def _curves(c: BinaryCounts, max_points: int) -> tuple[dict[str, Any], dict[str, Any]]:
    fpr, tpr, thr = c.roc(drop_intermediate=True)
    fpr, tpr, thr = downsample_curve(fpr, tpr, thr, max_points=max_points)
    prec, rec, pthr = c.pr()
    pthr = np.concatenate((pthr, [np.nan]))  # the (recall 0, precision 1) end has no threshold
    prec, rec, pthr = downsample_curve(prec, rec, pthr, max_points=max_points)
    return (
        {"fpr": fpr, "tpr": tpr, "thresholds": thr},
        {"precision": prec, "recall": rec, "thresholds": pthr},
    )


def evaluate_classification(
    y_true: ArrayLike,
    y_pred: ArrayLike | None = None,
    y_proba: ArrayLike | None = None,
    *,
    classes: list[Any] | None = None,
    threshold: float | None = None,
    pos_label: Any = None,
    zero_division: float = 0.0,
    max_curve_points: int = 500,
) -> ClassificationReport:
    """Every classification metric, the confusion matrix, per-class table and curves.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
        True labels.
    y_pred : array-like of shape (n_samples,), optional
        Predicted labels. May be None when *y_proba* is given: labels are then the
        argmax (multiclass) or ``proba(classes[1]) >= threshold`` (binary; 0.5 by default).
    y_proba : array-like of shape (n_samples, n_classes) or (n_samples,), optional
        ``predict_proba`` output, columns in *classes* order (1-D: probability of
        ``classes[1]``). Enables ROC-AUC, average precision, log loss and curves.
    classes : list, optional
        All class labels in column order (``model.classes_``); default the sorted
        labels seen. Needed when the sample lacks a class the model knows.
    threshold : float, optional
        Binary only: derive labels from ``y_proba`` at this threshold on the
        positive-class probability; *y_pred* is then ignored.
    pos_label : label, optional
        Binary positive class; default ``classes[1]``.
    zero_division : float, default 0.0
        Value of a ratio whose denominator is 0 (e.g. precision of a class never
        predicted); every such case is listed in ``notes``.
    max_curve_points : int, default 500
        Curves are downsampled to at most this many points.

    Examples
    --------
    >>> r = evaluate_classification([0, 1, 1, 0], [0, 1, 0, 0], [0.2, 0.9, 0.4, 0.1])
    >>> r.metrics["accuracy"], r.metrics["roc_auc"]
    (0.75, 1.0)
    """
    import pandas as pd

    notes: list[str] = []
    yt = as_1d(y_true, "y_true")
    n = yt.size
    if y_pred is None and y_proba is None:
        raise DataError("Pass y_pred (labels) or y_proba (probabilities) to evaluate.")
    if threshold is not None and y_proba is None:
        raise DataError("threshold= needs y_proba: labels are derived from the probabilities.")
    yp = as_1d(y_pred, "y_pred") if y_pred is not None and threshold is None else None
    check_lengths(y_true=yt, y_pred=yp)

    enc = encode_labels(yt, yp, classes)
    cls = enc.classes
    if classes is None:
        full = complete_binary(cls)
        if pos_label is not None and not np.any(full == pos_label):
            full = np.sort(np.append(full, pos_label))
        if full.size != cls.size:
            notes.append(
                f"Only class {fmt_values(cls)} occurs; assumed classes [{fmt_values(full)}]. "
                "Pass classes= to set them explicitly."
            )
            enc = encode_labels(yt, yp, full)
            cls = enc.classes
    k = int(cls.size)
    binary = k <= 2
    pos = positive_index(cls, pos_label) if binary else None
    proba = (
        check_proba(y_proba, n, max(k, 2) if np.ndim(y_proba) == 1 else k)
        if y_proba is not None
        else None
    )
    if threshold is not None and not binary:
        raise DataError(
            f"threshold= applies to binary tasks only; there are {k} classes. "
            "Drop threshold= (labels are the argmax of y_proba)."
        )

    t = enc.y_true
    if enc.y_pred is not None:
        p = enc.y_pred
    else:
        if proba is None:  # pragma: no cover - guarded above
            raise ValueError("no proba")
        if binary:
            pos_i = pos if pos is not None else k - 1
            threshold = 0.5 if threshold is None else float(threshold)
            s_pos = _score_columns(proba, k, pos_i)[1]
            if s_pos is None:  # pragma: no cover
                raise ValueError("no positive score")
            p = np.where(s_pos >= threshold, pos_i, 1 - pos_i).astype(np.intp)
        else:
            p = np.argmax(proba, axis=1).astype(np.intp)

    cm = counts_matrix(t, p, k)
    support = cm.sum(axis=1).astype(np.float64)
    per: dict[str, Any] = {}
    metrics: dict[str, float | None] = {"accuracy": float(np.trace(cm) / n)}
    metrics["balanced_accuracy"] = balanced_from_matrix(cm)
    head_avg = "binary" if binary else "macro"
    for name in ("precision", "recall", "specificity", "f1"):
        num, den = ratio_terms(cm, name)
        per[name] = safe_div(num, den, zero_division)
        metrics[name] = average_ratio(num, den, head_avg, support, pos, zero_division)
        if name == "f1":
            for avg in ("macro", "micro", "weighted"):
                metrics[f"f1_{avg}"] = average_ratio(num, den, avg, support, pos, zero_division)
    metrics["mcc"] = mcc_from_matrix(cm)
    per["support"] = cm.sum(axis=1)
    per["predicted"] = cm.sum(axis=0)
    _label_notes(cls, per["support"], per["predicted"], zero_division, notes)

    curves: dict[str, dict[str, dict[str, NDArray[np.float64]]]] = {}
    metrics["roc_auc"] = metrics["average_precision"] = metrics["log_loss"] = None
    per["roc_auc"] = np.full(k, np.nan)
    per["average_precision"] = np.full(k, np.nan)
    if proba is None:
        notes.append("No y_proba given: roc_auc, average_precision and log_loss are None.")
    else:
        metrics["log_loss"] = _log_loss_codes(
            t, proba, pos if proba.ndim == 1 and pos is not None else 1
        )
        _ranking(t, proba, cls, pos, metrics, per, curves, notes, max_curve_points)

    frame = pd.DataFrame(per, index=pd.Index(list(cls), name="class"))
    return ClassificationReport(
        task="binary" if binary else "multiclass",
        classes=cls.tolist(),
        pos_label=cls.tolist()[pos] if pos is not None else None,
        n_samples=n,
        metrics=metrics,
        confusion=ConfusionMatrix(labels=cls.tolist(), counts=cm),
        per_class=frame,
        curves=curves,
        threshold=threshold,
        notes=notes,
    )


def _label_notes(
    cls: NDArray[Any],
    support: NDArray[np.int64],
    predicted: NDArray[np.int64],
    zero_division: float,
    notes: list[str],
) -> None:
    never = cls[predicted == 0]
    if never.size:
        notes.append(
            f"Class(es) {fmt_values(never)} were never predicted: their precision is "
            f"undefined and set to {zero_division} (zero_division)."
        )
    absent = cls[support == 0]
    if absent.size:
        notes.append(
            f"Class(es) {fmt_values(absent)} do not occur in y_true: their recall is set to "
            f"{zero_division}, they are left out of balanced_accuracy, and their ROC-AUC "
            "is undefined (None)."
        )


def _ranking(
    t: NDArray[np.intp],
    proba: NDArray[np.float64],
    cls: NDArray[Any],
    pos: int | None,
    metrics: dict[str, float | None],
    per: dict[str, Any],
    curves: dict[str, dict[str, dict[str, NDArray[np.float64]]]],
    notes: list[str],
    max_points: int,
) -> None:
    """ROC-AUC, average precision and curves: one sort per scored class."""
    k = int(cls.size)
    curves["roc"] = {}
    curves["pr"] = {}
    if pos is not None:  # binary: one sort; the other class's counts come from flipping
        score = proba if proba.ndim == 1 else proba[:, pos]
        if proba.ndim == 1 and pos == 0:
            score = 1.0 - proba
        counts = binary_counts(t == pos, score)
        auc, ap = counts.auc(), counts.average_precision()
        metrics["roc_auc"], metrics["average_precision"] = auc, ap
        by_class = {pos: (auc, ap)}
        if k == 2:  # the other class ranks by the negated score: same AUC, its own AP
            by_class[1 - pos] = (auc, _flip(counts).average_precision())
        for c, (c_auc, c_ap) in by_class.items():
            per["roc_auc"][c] = np.nan if c_auc is None else c_auc
            per["average_precision"][c] = np.nan if c_ap is None else c_ap
        if metrics["roc_auc"] is None:
            notes.append(
                f"y_true holds a single class ({fmt_values(np.unique(cls[t]))}): ROC-AUC is "
                "undefined and reported as None."
            )
        if counts.n_pos and counts.n_neg:
            roc, pr = _curves(counts, max_points)
            curves["roc"][str(cls[pos])] = roc
            curves["pr"][str(cls[pos])] = pr
        return
    aucs: list[float] = []
    aps: list[float] = []
    for c in range(k):
        counts = binary_counts(t == c, proba[:, c])
        auc, ap = counts.auc(), counts.average_precision()
        per["roc_auc"][c] = np.nan if auc is None else auc
        per["average_precision"][c] = np.nan if ap is None else ap
        if auc is not None and ap is not None:
            aucs.append(auc)
            aps.append(ap)
            roc, pr = _curves(counts, max_points)
            curves["roc"][str(cls[c])] = roc
            curves["pr"][str(cls[c])] = pr
    metrics["roc_auc"] = float(np.mean(aucs)) if aucs else None
    metrics["average_precision"] = float(np.mean(aps)) if aps else None
    if len(aucs) < k:
        notes.append(
            "roc_auc and average_precision are one-vs-rest macro averages over the "
            f"{len(aucs)} of {k} classes that occur in y_true."
        )
