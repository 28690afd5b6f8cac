"""Named metrics that know their direction, used for model selection and tuning.

Names follow scikit-learn: ``*_score`` and plain names (accuracy, f1, roc_auc,
r2) are higher-is-better; ``*_error`` and ``*_loss`` (rmse, mae, log_loss) are
lower-is-better. :func:`get_metric` accepts the short names users type on the
command line (``--metric recall``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from loopml.exceptions import DataError

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray

__all__ = ["Metric", "default_metric", "get_metric", "metric_names", "score"]


@dataclass(frozen=True)
class Metric:
    """A metric with its direction.

    ``needs_proba`` metrics take class probabilities of shape (n_samples, n_classes)
    (the positive-class column is taken for binary tasks); others take labels.
    """

    name: str
    func: Callable[..., float]
    greater_is_better: bool
    needs_proba: bool = False
    tasks: tuple[str, ...] = ("binary", "multiclass")

    @property
    def direction(self) -> str:
        """'maximize' or 'minimize', as Optuna spells it."""
        return "maximize" if self.greater_is_better else "minimize"

    def better(self, a: float, b: float) -> bool:
        """True when score *a* is strictly better than *b*."""
        return a > b if self.greater_is_better else a < b


def _accuracy(y: Any, p: Any) -> float:
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(y, p))


def _balanced_accuracy(y: Any, p: Any) -> float:
    from sklearn.metrics import balanced_accuracy_score

    return float(balanced_accuracy_score(y, p))


def _f1(y: Any, p: Any) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, p, average="binary" if _n_labels(y, p) <= 2 else "macro"))


def _f1_macro(y: Any, p: Any) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(y, p, average="macro"))


def _precision(y: Any, p: Any) -> float:
    from sklearn.metrics import precision_score

    avg = "binary" if _n_labels(y, p) <= 2 else "macro"
    return float(precision_score(y, p, average=avg, zero_division=0))


def _recall(y: Any, p: Any) -> float:
    from sklearn.metrics import recall_score

    avg = "binary" if _n_labels(y, p) <= 2 else "macro"
    return float(recall_score(y, p, average=avg, zero_division=0))


def _roc_auc(y: Any, proba: Any) -> float:
    import numpy as np
    from sklearn.metrics import roc_auc_score

    proba = np.asarray(proba)
    if proba.ndim == 2 and proba.shape[1] == 2:
        return float(roc_auc_score(y, proba[:, 1]))
    if proba.ndim == 1:
        return float(roc_auc_score(y, proba))
    return float(
        roc_auc_score(y, proba, multi_class="ovr", average="macro", labels=range(proba.shape[1]))
    )


def _log_loss(y: Any, proba: Any) -> float:
    import numpy as np
    from sklearn.metrics import log_loss

    proba = np.asarray(proba)
    labels = list(range(proba.shape[1])) if proba.ndim == 2 else [0, 1]
    return float(log_loss(y, proba, labels=labels))


def _rmse(y: Any, p: Any) -> float:
    from sklearn.metrics import root_mean_squared_error

    return float(root_mean_squared_error(y, p))


def _mse(y: Any, p: Any) -> float:
    from sklearn.metrics import mean_squared_error

    return float(mean_squared_error(y, p))


def _mae(y: Any, p: Any) -> float:
    from sklearn.metrics import mean_absolute_error

    return float(mean_absolute_error(y, p))


def _mape(y: Any, p: Any) -> float:
    import numpy as np
    from sklearn.metrics import mean_absolute_percentage_error

    if np.any(np.asarray(y) == 0):
        return float("nan")
    return float(mean_absolute_percentage_error(y, p))


def _r2(y: Any, p: Any) -> float:
    from sklearn.metrics import r2_score

    return float(r2_score(y, p))


def _median_ae(y: Any, p: Any) -> float:
    from sklearn.metrics import median_absolute_error

    return float(median_absolute_error(y, p))


def _n_labels(y: Any, p: Any) -> int:
    import numpy as np

    return len(np.union1d(np.unique(y), np.unique(p)))


_REG = ("regression",)
_METRICS: dict[str, Metric] = {
    m.name: m
    for m in [
        Metric("accuracy", _accuracy, True),
        Metric("balanced_accuracy", _balanced_accuracy, True),
        Metric("f1", _f1, True),
        Metric("f1_macro", _f1_macro, True),
        Metric("precision", _precision, True),
        Metric("recall", _recall, True),
        Metric("roc_auc", _roc_auc, True, needs_proba=True),
        Metric("log_loss", _log_loss, False, needs_proba=True),
        Metric("rmse", _rmse, False, tasks=_REG),
        Metric("mse", _mse, False, tasks=_REG),
        Metric("mae", _mae, False, tasks=_REG),
        Metric("mape", _mape, False, tasks=_REG),
        Metric("r2", _r2, True, tasks=_REG),
        Metric("median_ae", _median_ae, False, tasks=_REG),
    ]
}
_ALIASES = {
    "auc": "roc_auc",
    "roc-auc": "roc_auc",
    "f1_score": "f1",
    "macro_f1": "f1_macro",
    "sensitivity": "recall",
    "root_mean_squared_error": "rmse",
    "mean_squared_error": "mse",
    "mean_absolute_error": "mae",
    "mean_absolute_percentage_error": "mape",
    "r2_score": "r2",
    "logloss": "log_loss",
    "accuracy_score": "accuracy",
}


def metric_names(task: str | None = None) -> list[str]:
    """Names of the metrics usable for *task* (all when None)."""
    return [n for n, m in _METRICS.items() if task is None or task in m.tasks]


def get_metric(name: str, task: str | None = None) -> Metric:
    """Look a metric up by name or alias; check it suits *task*."""
    key = _ALIASES.get(name.lower(), name.lower())
    metric = _METRICS.get(key)
    if metric is None:
        import difflib

        close = difflib.get_close_matches(key, list(_METRICS) + list(_ALIASES), n=1)
        hint = f" Did you mean '{close[0]}'?" if close else ""
        raise DataError(
            f"Unknown metric '{name}'. Choose one of: {', '.join(metric_names(task))}.{hint}"
        )
    if task is not None and task not in metric.tasks:
        raise DataError(
            f"Metric '{metric.name}' does not apply to a {task} task. "
            f"Choose one of: {', '.join(metric_names(task))}."
        )
    return metric


def default_metric(task: str, y: Any = None) -> Metric:
    """The selection metric practitioners would pick for *task*.

    Binary: ROC-AUC (threshold-free, robust to imbalance). Multiclass: accuracy,
    or macro-F1 when the smallest class is under a third of the largest.
    Regression: RMSE.
    """
    if task == "binary":
        return _METRICS["roc_auc"]
    if task == "multiclass":
        if y is not None:
            import pandas as pd

            counts = pd.Series(y).value_counts()
            if len(counts) and counts.min() < counts.max() / 3:
                return _METRICS["f1_macro"]
        return _METRICS["accuracy"]
    if task == "regression":
        return _METRICS["rmse"]
    raise DataError(f"No default selection metric for a {task} task.")


def score(
    metric: Metric,
    y_true: Any,
    y_pred: NDArray[Any] | None = None,
    y_proba: NDArray[np.floating[Any]] | None = None,
) -> float:
    """Apply *metric* to labels or probabilities, whichever it needs."""
    if metric.needs_proba:
        if y_proba is None:
            raise DataError(f"Metric '{metric.name}' needs class probabilities.")
        return metric.func(y_true, y_proba)
    if y_pred is None:
        raise DataError(f"Metric '{metric.name}' needs predictions.")
    return metric.func(y_true, y_pred)
