"""The two candidates of a semi-supervised fit, side by side: supervised only and
self-training.

:class:`PairFitter` fits both from one base model on the same labelled rows (the
self-trained one also sees the unlabelled rows); :func:`score_trial` makes each a
leaderboard row; :func:`compare` scores both on the same labelled rows with the paired
right/wrong counts (exact McNemar test); :func:`verdict_of` and :func:`sentences` say
whether the unlabelled data helped.
"""

from __future__ import annotations

import math
import time
import warnings
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.base import clone

from loopml.data.schema import Schema, Task
from loopml.exceptions import DataError
from loopml.learn.pseudo_label import PseudoLabelClassifier

if TYPE_CHECKING:
    from loopml.evaluate.scoring import Metric
    from loopml.learn.candidates import TrialResult

__all__ = [
    "VERDICTS",
    "PairFitter",
    "compare",
    "metrics_of",
    "score_trial",
    "sentences",
    "verdict_of",
]

#: Verdicts of the comparison with the supervised-only model.
VERDICTS = ("helped", "hurt", "no_difference")


class PairFitter:
    """Fits the supervised-only and the self-training candidate of one base model."""

    def __init__(
        self, schema: Schema, seed: int, n_jobs: int, settings: dict[str, Any], X_unl: pd.DataFrame
    ) -> None:
        self.schema, self.seed, self.n_jobs = schema, seed, n_jobs
        self.settings, self.X_unl = settings, X_unl

    def both(
        self, model: str, params: dict[str, Any], X: pd.DataFrame, y: np.ndarray[Any, Any]
    ) -> tuple[Any, PseudoLabelClassifier, str, tuple[float, float]]:
        from loopml.learn.candidates import build_pipeline
        from loopml.models.catalog import get_model

        spec = get_model(model, self.schema.task or Task.BINARY)
        if not spec.proba:
            raise DataError(
                f"Model '{spec.name}' has no predict_proba; self-training needs probabilities "
                "to choose its pseudo-labels. Pick another model (e.g. logreg)."
            )
        base = build_pipeline(spec, self.schema, params, seed=self.seed, n_jobs=self.n_jobs)
        X_all = pd.concat([X, self.X_unl], ignore_index=True)
        y_all = np.concatenate([y, np.full(len(self.X_unl), -1, dtype=np.int64)])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # convergence chatter of small labelled sets
            t0 = time.perf_counter()
            sup = clone(base).fit(X, y)
            sup_time = time.perf_counter() - t0
            t0 = time.perf_counter()
            semi = PseudoLabelClassifier(clone(base), **self.settings).fit(X_all, y_all)
            semi_time = time.perf_counter() - t0
        return sup, semi, spec.name, (sup_time, semi_time)


def _predict(
    est: Any, X: pd.DataFrame, task: Task
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None]:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        proba = np.asarray(est.predict_proba(X), dtype=np.float64)
    return np.asarray(est.classes_)[proba.argmax(axis=1)], proba


def metrics_of(
    est: Any, X: pd.DataFrame, y: np.ndarray[Any, Any], task: Task
) -> dict[str, float | None]:
    """Every metric of classifier *est* on rows *X* with class codes *y* ({} without rows)."""
    from loopml.learn.scores import task_metrics

    if not len(X):
        return {}
    pred, proba = _predict(est, X, task)
    return task_metrics(task, y, pred, proba)


def score_trial(
    number: int,
    model: str,
    kind: str,
    est: Any,
    fit_time: float,
    train_rows: tuple[pd.DataFrame, np.ndarray[Any, Any]],
    valid_rows: tuple[pd.DataFrame, np.ndarray[Any, Any]],
    metric: Metric,
    task: Task,
) -> TrialResult:
    """A leaderboard row for one of the pair: validation and train scores, fit time, and
    predict time per 1k rows."""
    from loopml.learn.candidates import TrialResult

    (X_tr, y_tr), (X_va, y_va) = train_rows, valid_rows
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        est.predict_proba(X_va)
    per_1k = (time.perf_counter() - t0) / max(1, len(X_va)) * 1000
    valid = metrics_of(est, X_va, y_va, task)
    train = metrics_of(est, X_tr, y_tr, task)
    label = model if kind == "supervised only" else f"{model} + self-training"
    params: dict[str, Any] = {"semi_supervised": kind == "self-training"}
    if isinstance(est, PseudoLabelClassifier):
        params.update(
            threshold=est.threshold,
            max_iter=est.max_iter,
            pseudo_labelled=int((est.labeled_iter_ > 0).sum()),
        )
    return TrialResult(
        number,
        label,
        params,
        valid.get(metric.name),
        train.get(metric.name),
        fit_time,
        per_1k,
        phase=kind,
    )


def compare(
    sup: Any, semi: Any, X: pd.DataFrame, y: np.ndarray[Any, Any], metric: Metric, task: Task
) -> dict[str, Any]:
    """Both models on the same labelled rows: scores and the paired right/wrong counts."""
    from scipy.stats import binomtest

    from loopml.learn.scores import task_metrics

    p_sup, proba_sup = _predict(sup, X, task)
    p_semi, proba_semi = _predict(semi, X, task)
    s_sup = task_metrics(task, y, p_sup, proba_sup).get(metric.name)
    s_semi = task_metrics(task, y, p_semi, proba_semi).get(metric.name)
    semi_only = int(((p_semi == y) & (p_sup != y)).sum())
    sup_only = int(((p_sup == y) & (p_semi != y)).sum())
    pairs = semi_only + sup_only
    p_value = float(binomtest(semi_only, pairs, 0.5).pvalue) if pairs else 1.0
    diff = None if s_sup is None or s_semi is None else float(s_semi - s_sup)
    return {
        "n_rows": len(X),
        "supervised": s_sup,
        "self_training": s_semi,
        "difference": diff,
        "only_self_training_right": semi_only,
        "only_supervised_right": sup_only,
        "p_value": p_value,
    }


def verdict_of(scores: dict[str, Any], metric: Metric) -> str:
    """The verdict: "helped", "hurt" or "no_difference" (self-training vs supervised only)."""
    diff = scores.get("difference")
    if diff is None or math.isclose(diff, 0.0, abs_tol=1e-12):
        return "no_difference"
    better = diff > 0 if metric.greater_is_better else diff < 0
    return "helped" if better else "hurt"


def sentences(
    verdict: str,
    comparison: dict[str, Any],
    metric: str,
    history: list[dict[str, Any]],
    keep_semi: bool,
) -> dict[str, str]:
    """The comparison in plain words: a summary for the notes and a short headline."""
    v = comparison["valid"]
    n_pseudo = history[-1]["pseudo_labelled"] if history else 0
    sup, semi, n = _f(v["supervised"]), _f(v["self_training"]), v["n_rows"]
    diff = v["difference"] or 0.0
    if verdict == "helped":
        summary = (
            f"The unlabelled data helped: with {n_pseudo:,} pseudo-labelled rows, {metric} on "
            f"the {n} labelled validation rows rose from {sup} (supervised only) to {semi} "
            f"({diff:+.4g})."
        )
    elif verdict == "hurt":
        summary = (
            f"The unlabelled data did not help: with {n_pseudo:,} pseudo-labelled rows, {metric} "
            f"on the {n} labelled validation rows fell from {sup} (supervised only) to {semi} "
            f"({diff:+.4g})."
        )
    else:
        summary = (
            f"The unlabelled data made no difference: {metric} on the {n} labelled validation "
            f"rows is {semi} with self-training ({n_pseudo:,} pseudo-labelled rows) and {sup} "
            "with the labelled rows only."
        )
    if verdict != "no_difference" and v["p_value"] > 0.05:
        summary += (
            f" On so few rows the difference may be chance: {v['only_self_training_right']} "
            f"row(s) were right only with self-training and {v['only_supervised_right']} only "
            f"without (exact McNemar test p = {v['p_value']:.2f})."
        )
    test = comparison.get("test")
    if test and test.get("supervised") is not None:
        summary += (
            f" On the {test['n_rows']} test rows (models refitted on train + validation): "
            f"{_f(test['supervised'])} supervised only vs {_f(test['self_training'])} with "
            "self-training."
        )
    summary += (
        " The self-trained model is stored."
        if keep_semi
        else " The supervised-only model is stored."
    )
    headline = f"{diff:+.4g} {metric} on {n} validation rows"
    return {"summary": summary, "headline": headline}


def _f(value: Any) -> str:
    return "n/a" if value is None else f"{float(value):.4g}"
