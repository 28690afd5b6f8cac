"""Decision-threshold analysis for binary classifiers.

A sample is predicted positive when its score is ``>= threshold``. Every
candidate threshold is a distinct score seen in the data; the metrics at all of
them come from one sort (:func:`~loopml.evaluate.ranking.binary_counts`) and a
few vectorised array operations, with no Python loop over thresholds.

:func:`choose_threshold` picks the threshold that maximises a metric, or that
meets a KPI constraint such as ``"recall >= 0.9"`` (maximising a second
metric, ties going to the highest threshold), and returns a
:class:`ThresholdChoice` to store with the model.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from loopml.evaluate._checks import as_1d, as_float_1d, check_lengths, encode_labels, jsonable
from loopml.evaluate.labels import complete_binary, positive_index
from loopml.evaluate.ranking import BinaryCounts, binary_counts
from loopml.exceptions import DataError

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["THRESHOLD_METRICS", "ThresholdChoice", "choose_threshold", "threshold_curve"]

THRESHOLD_METRICS = (
    "precision",
    "recall",
    "specificity",
    "f1",
    "accuracy",
    "balanced_accuracy",
    "predicted_positive_rate",
    "fpr",
    "mcc",
)
_ALIASES = {
    "sensitivity": "recall",
    "tpr": "recall",
    "true_positive_rate": "recall",
    "tnr": "specificity",
    "true_negative_rate": "specificity",
    "false_positive_rate": "fpr",
    "ppr": "predicted_positive_rate",
    "positive_rate": "predicted_positive_rate",
    "f1_score": "f1",
    "precision_score": "precision",
    "recall_score": "recall",
}
# What to maximise, by default, while a constraint on the key holds.
_COMPLEMENT = {
    "recall": "precision",
    "precision": "recall",
    "specificity": "recall",
    "fpr": "recall",
}
_CONSTRAINT = re.compile(r"^\s*([A-Za-z_]+)\s*(>=|<=|>|<)\s*([-+0-9.eE]+)\s*$")


def _metric_name(name: str) -> str:
    key = _ALIASES.get(name.lower(), name.lower())
    if key not in THRESHOLD_METRICS:
        raise DataError(
            f"Unknown threshold metric {name!r}. Choose one of: {', '.join(THRESHOLD_METRICS)} "
            f"(aliases: {', '.join(_ALIASES)})."
        )
    return key


def _arrays(c: BinaryCounts) -> dict[str, NDArray[np.float64]]:
    """All metrics at every distinct threshold (highest first)."""
    tp, fp = c.tps, c.fps
    pos, neg = c.n_pos, c.n_neg
    n = pos + neg
    fn = pos - tp
    tn = neg - fp
    recall = tp / pos
    specificity = tn / neg
    den = np.sqrt((tp + fp) * (tp + fn) * (tn + fp) * (tn + fn))
    mcc = np.divide(tp * tn - fp * fn, den, out=np.zeros_like(den), where=den > 0)
    return {
        "threshold": c.thresholds,
        "tp": tp,
        "fp": fp,
        "tn": tn,
        "fn": fn,
        "precision": tp / (tp + fp),  # tp + fp >= 1: the top score is always predicted positive
        "recall": recall,
        "specificity": specificity,
        "f1": 2 * tp / (2 * tp + fp + fn),
        "accuracy": (tp + tn) / n,
        "balanced_accuracy": (recall + specificity) / 2,
        "predicted_positive_rate": (tp + fp) / n,
        "fpr": fp / neg,
        "mcc": mcc,
    }


def _prepare(
    y_true: ArrayLike, y_score: ArrayLike, pos_label: Any, classes: Any
) -> tuple[BinaryCounts, Any, Any, int]:
    y = as_1d(y_true, "y_true")
    score_arr = np.asarray(y_score.to_numpy() if hasattr(y_score, "to_numpy") else y_score)
    enc = encode_labels(y, None, classes)
    cls = enc.classes
    if classes is None:
        full = complete_binary(cls)
        if full.size != cls.size:
            enc = encode_labels(y, None, full)
            cls = enc.classes
    if cls.size != 2:
        raise DataError(
            f"Threshold analysis is for binary tasks; y_true has {cls.size} class(es) "
            f"({', '.join(map(repr, cls.tolist()[:5]))}). Pass classes= with the two labels."
        )
    pos = positive_index(cls, pos_label)
    if score_arr.ndim == 2 and score_arr.shape[1] == 2:
        score_arr = score_arr[:, pos]
    elif pos == 0:
        raise DataError(
            "With pos_label=classes[0], pass y_score as predict_proba output of shape "
            "(n_samples, 2), or pass the score of that class and classes= in the other order."
        )
    score = as_float_1d(score_arr, "y_score")
    check_lengths(y_true=y, y_score=score)
    counts = binary_counts(enc.y_true == pos, score)
    if counts.n_pos == 0 or counts.n_neg == 0:
        raise DataError(
            f"Threshold analysis needs both classes in y_true; only {cls[enc.y_true[0]]!r} "
            "occurs. Use a validation sample that contains positives and negatives."
        )
    return counts, cls[pos], cls[1 - pos], int(y.size)


def threshold_curve(
    y_true: ArrayLike, y_score: ArrayLike, *, pos_label: Any = None, classes: Any = None
) -> pd.DataFrame:
    """Metrics as a function of the threshold, one row per distinct score (highest first).

    Columns: threshold, tp, fp, tn, fn, precision, recall, specificity, f1,
    accuracy, balanced_accuracy, predicted_positive_rate, fpr, mcc.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    y_score : array-like of shape (n_samples,) or (n_samples, 2)
        Score of the positive class (or ``predict_proba`` output).
    pos_label : label, optional
        Default ``classes[1]``, the later of the two sorted classes.

    Examples
    --------
    >>> df = threshold_curve([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8])
    >>> df["recall"].tolist()
    [0.5, 0.5, 1.0, 1.0]
    """
    import pandas as pd

    counts, _, _, _ = _prepare(y_true, y_score, pos_label, classes)
    return pd.DataFrame(_arrays(counts))


@dataclass(frozen=True)
class ThresholdChoice:
    """A chosen decision threshold and the metrics it gives on the data it was chosen on.

    Attributes
    ----------
    threshold : float
        Predict ``pos_label`` when the positive-class score is ``>= threshold``.
    objective : str
        The metric that was maximised.
    value : float
        The objective's value at *threshold*.
    constraint : str or None
        The KPI constraint that had to hold, e.g. ``"recall >= 0.9"``.
    metrics : dict
        Every threshold metric at *threshold*.
    pos_label, neg_label :
        The two classes.
    n_samples : int
        Size of the sample it was chosen on.
    """

    threshold: float
    objective: str
    value: float
    constraint: str | None
    metrics: dict[str, float] = field(default_factory=dict)
    pos_label: Any = 1
    neg_label: Any = 0
    n_samples: int = 0

    def predict(self, y_score: ArrayLike) -> NDArray[Any]:
        """Labels for positive-class scores (or ``predict_proba`` output with 2 columns)."""
        score = np.asarray(y_score)
        if score.ndim == 2 and score.shape[1] == 2:
            raise DataError(
                "Pass the positive-class column (e.g. proba[:, 1]) to ThresholdChoice.predict."
            )
        s = as_float_1d(score, "y_score")
        out: NDArray[Any] = np.where(s >= self.threshold, self.pos_label, self.neg_label)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe dict; :meth:`from_dict` restores it."""
        out: dict[str, Any] = jsonable(asdict(self))
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ThresholdChoice:
        return cls(**data)


def _parse_constraint(constraint: str) -> tuple[str, str, float]:
    m = _CONSTRAINT.match(constraint)
    if m is None:
        raise DataError(
            f"Cannot read the constraint {constraint!r}. Write it as 'METRIC OP VALUE', "
            "e.g. 'recall >= 0.9' (OP one of >=, >, <=, <)."
        )
    try:
        value = float(m.group(3))
    except ValueError as exc:
        raise DataError(
            f"The constraint {constraint!r} needs a number after the operator."
        ) from exc
    return _metric_name(m.group(1)), m.group(2), value


def choose_threshold(
    y_true: ArrayLike,
    y_score: ArrayLike,
    *,
    maximize: str | None = None,
    constraint: str | None = None,
    pos_label: Any = None,
    classes: Any = None,
) -> ThresholdChoice:
    """Choose the decision threshold that maximises a metric, optionally under a KPI constraint.

    Parameters
    ----------
    y_true : array-like of shape (n_samples,)
    y_score : array-like of shape (n_samples,) or (n_samples, 2)
        Positive-class score (validation data, not the test set).
    maximize : str, optional
        Metric to maximise (one of :data:`THRESHOLD_METRICS`; aliases such as
        ``sensitivity`` work). Default: ``"f1"``; with a constraint on recall,
        ``"precision"`` (and vice versa); with one on specificity/fpr, ``"recall"``.
    constraint : str, optional
        ``"METRIC OP VALUE"``, e.g. ``"recall >= 0.9"``: only thresholds meeting
        it are considered. Ties in the objective go to the highest threshold.
    pos_label, classes :
        As in :func:`threshold_curve`.

    Raises
    ------
    DataError
        When no threshold meets the constraint (the message gives the best reachable value).

    Examples
    --------
    >>> c = choose_threshold([0, 0, 1, 1], [0.1, 0.4, 0.35, 0.8], constraint="recall >= 0.9")
    >>> c.threshold, c.metrics["precision"]
    (0.35, 0.6666666666666666)
    """
    counts, pos, neg, n = _prepare(y_true, y_score, pos_label, classes)
    arrays = _arrays(counts)
    feasible = np.ones(counts.thresholds.size, dtype=bool)
    key: str | None = None
    if constraint is not None:
        key, op, bound = _parse_constraint(constraint)
        vals = arrays[key]
        feasible = {
            ">=": vals >= bound - 1e-12,
            ">": vals > bound,
            "<=": vals <= bound + 1e-12,
            "<": vals < bound,
        }[op]
        if not feasible.any():
            best = vals.max() if op in (">=", ">") else vals.min()
            raise DataError(
                f"No threshold meets {constraint!r} on these {n} samples: the best reachable "
                f"{key} is {best:.4g}. Relax the KPI, or improve the model."
            )
    objective = _metric_name(maximize) if maximize else _COMPLEMENT.get(key or "", "f1")
    obj = np.where(feasible, arrays[objective], -np.inf)
    top = obj.max()
    # thresholds are in decreasing order, so the first maximum is the highest threshold
    i = int(np.flatnonzero(obj >= top - 1e-12)[0])
    at = {m: float(arrays[m][i]) for m in THRESHOLD_METRICS}
    return ThresholdChoice(
        threshold=float(counts.thresholds[i]),
        objective=objective,
        value=at[objective],
        constraint=constraint,
        metrics=at,
        pos_label=pos.item() if isinstance(pos, np.generic) else pos,
        neg_label=neg.item() if isinstance(neg, np.generic) else neg,
        n_samples=n,
    )
