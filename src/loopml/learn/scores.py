"""Scores of a supervised fit on encoded labels, and the binary decision threshold.

:func:`task_metrics` computes every selection metric that applies to a task;
:func:`model_metrics` scores a fitted model on rows (the test split),
:func:`held_out_metrics` the winner's own held-out predictions (the validation split, or
out-of-fold under cross-validation). :func:`threshold_choice` picks the decision
threshold asked for with ``--threshold``, on those held-out predictions only.
"""

from __future__ import annotations

import warnings
from typing import TYPE_CHECKING, Any

import numpy as np

from loopml.data.schema import Task
from loopml.evaluate.scoring import get_metric, metric_names, score
from loopml.exceptions import DataError

if TYPE_CHECKING:
    import pandas as pd

    from loopml.learn.candidates import EvalPlan, TrialResult

__all__ = ["decide", "held_out_metrics", "model_metrics", "task_metrics", "threshold_choice"]


def task_metrics(
    task: Task, y: np.ndarray[Any, Any], pred: np.ndarray[Any, Any], proba: Any = None
) -> dict[str, float | None]:
    """Every selection metric that applies to *task*, on encoded labels."""
    out: dict[str, float | None] = {}
    for name in metric_names(str(task)):
        metric = get_metric(name)
        if metric.needs_proba and proba is None:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value = score(metric, y, y_pred=pred, y_proba=proba)
            out[name] = None if value is None or not np.isfinite(value) else float(value)
        except (ValueError, DataError):
            out[name] = None  # e.g. ROC-AUC with one class present
    return out


def model_metrics(
    pipe: Any, X: pd.DataFrame, y: np.ndarray[Any, Any], task: Task, cut: float | None = None
) -> dict[str, float | None]:
    """Every metric of the fitted *pipe* on rows *X* (labels decided at *cut*, if given)."""
    if len(X) == 0:
        return {}
    pred = pipe.predict(X)
    proba = None
    if task in (Task.BINARY, Task.MULTICLASS) and hasattr(pipe, "predict_proba"):
        proba = pipe.predict_proba(X)
        if cut is not None:
            pred = decide(proba, cut)
    return task_metrics(task, y, pred, proba)


def held_out_metrics(
    best: TrialResult, plan: EvalPlan, cut: float | None = None
) -> dict[str, float | None]:
    """Every metric on the rows the winner was scored on (out-of-fold under CV)."""
    if best.predictions is None:
        return {}
    pred = np.asarray(best.predictions, dtype="float64")
    if plan.n_classes:
        if pred.ndim == 2:
            pred = pred / np.clip(pred.sum(axis=1, keepdims=True), 1e-12, None)
            labels = decide(pred, cut)
            return task_metrics(plan.task, plan.y_scored, labels, pred)
        return task_metrics(plan.task, plan.y_scored, pred.astype(np.int64), None)
    return task_metrics(plan.task, plan.y_scored, pred, None)


def decide(proba: np.ndarray[Any, Any], cut: float | None) -> np.ndarray[Any, Any]:
    """Class indices: argmax, or for binary tasks ``p(positive) >= cut``."""
    if cut is not None and proba.shape[1] == 2:
        return np.asarray(proba[:, 1] >= cut, dtype=np.int64)
    return np.asarray(np.argmax(proba, axis=1), dtype=np.int64)


def threshold_choice(
    spec: float | str | None, best: TrialResult, plan: EvalPlan, task: Task
) -> dict[str, Any] | None:
    """The decision threshold asked for, chosen on the winner's held-out predictions."""
    if spec is None:
        return None
    if task != Task.BINARY:
        raise DataError(
            f"--threshold applies to binary tasks; this one is {task}. Drop --threshold."
        )
    if isinstance(spec, int | float) or str(spec).replace(".", "", 1).isdigit():
        value = float(spec)
        if not 0.0 <= value <= 1.0:
            raise DataError(f"--threshold must be between 0 and 1; got {value}.")
        return {"threshold": value, "objective": "given", "constraint": None}
    from loopml.evaluate.threshold import choose_threshold

    pred = None if best.predictions is None else np.asarray(best.predictions, dtype="float64")
    if pred is None or pred.ndim != 2:
        raise DataError(
            f"Model '{best.model}' gives no class probabilities, so a threshold cannot be "
            "chosen; pass a number, or pick a model with probabilities."
        )
    text = str(spec).strip()
    constraint = text if any(op in text for op in ("<", ">", "=")) else None
    maximize = None if constraint else text.removeprefix("max").strip() or "f1"
    choice = choose_threshold(plan.y_scored, pred[:, 1], maximize=maximize, constraint=constraint)
    out = choice.to_dict()
    out["threshold"] = float(choice.threshold)
    return out
