"""The candidates of a multi-label fit: each (model, strategy) fitted on the training rows,
its per-label thresholds tuned and its scores taken on the validation rows.

:func:`search` runs them all; :func:`make_pipeline` builds features + a
:class:`~loopml.learn.multilabel.MultiLabelClassifier` for one candidate (the refit uses
it too); :func:`selection_metric` is the metric they are ranked by.
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from loopml.data.schema import Schema, Task
from loopml.exceptions import DataError

if TYPE_CHECKING:
    from loopml.evaluate.scoring import Metric
    from loopml.learn.candidates import Candidate, TrialResult
    from loopml.learn.prepare import EventHandler
    from loopml.store import RunHandle

__all__ = [
    "DEFAULT_MODELS",
    "LOWER_IS_BETTER",
    "Fitted",
    "check_metric",
    "finite",
    "make_pipeline",
    "quietly",
    "search",
    "selection_metric",
]

DEFAULT_MODELS = ("logreg", "random_forest")
#: Selection metrics whose smaller values are better; every other metric of
#: :func:`~loopml.evaluate.evaluate_multilabel` is higher-is-better.
LOWER_IS_BETTER = frozenset({"hamming_loss"})


def selection_metric(name: str) -> Metric:
    """A multi-label metric's name and direction (what leaderboards and ranking read)."""
    from loopml.evaluate.scoring import Metric

    return Metric(name, _no_func, name not in LOWER_IS_BETTER, tasks=("multilabel",))


def _no_func(*_: Any) -> float:  # pragma: no cover - leaderboards only read the direction
    raise NotImplementedError


def check_metric(metric: str) -> None:
    """Raise unless *metric* is one of :func:`~loopml.evaluate.evaluate_multilabel`'s."""
    from loopml.evaluate.multilabel import evaluate_multilabel

    known = evaluate_multilabel([[1, 0], [0, 1]], [[1, 0], [0, 1]]).metrics
    if metric not in known:
        raise DataError(
            f"Unknown multi-label metric '{metric}'. Choose one of: {', '.join(known)}."
        )


def finite(v: Any) -> float | None:
    """*v* as a float, or None when it is missing or not finite."""
    if v is None:
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def quietly(fit: Callable[[], Any]) -> None:
    """Run *fit* with warnings silenced."""
    # Single-class folds inside base models and convergence chatter are expected here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit()


def make_pipeline(
    schema: Schema,
    model: str,
    params: dict[str, Any],
    strategy: str,
    seed: int,
    n_jobs: int,
    thresholds: Sequence[float] | None,
) -> Any:
    """Features (as *model* needs them) + a :class:`MultiLabelClassifier` of *model*, unfitted."""
    from sklearn.pipeline import Pipeline

    from loopml.features.build import build_features
    from loopml.learn.multilabel import MultiLabelClassifier
    from loopml.models.catalog import get_model

    spec = get_model(model, Task.BINARY)
    return Pipeline(
        [
            ("features", build_features(schema, scale=spec.scale, dense=spec.dense)),
            (
                "model",
                MultiLabelClassifier(
                    spec.build(params, seed=seed, n_jobs=n_jobs),
                    strategy=strategy,  # type: ignore[arg-type]
                    thresholds=thresholds,
                    random_state=seed,
                ),
            ),
        ]
    )


@dataclass
class Fitted:
    """What the refit of a candidate needs."""

    model: str
    strategy: str
    params: dict[str, Any]
    thresholds: list[float]
    valid_metrics: dict[str, float | None]


def search(
    parts: dict[str, tuple[pd.DataFrame, np.ndarray[Any, Any]]],
    schema: Schema,
    models: Sequence[str | Candidate] | None,
    strategies: list[str],
    metric: str,
    seed: int,
    n_jobs: int,
    run: RunHandle,
    emit: EventHandler,
) -> tuple[list[TrialResult], dict[int, Fitted]]:
    """Fit every (model, strategy) on the training rows, tune thresholds and score on
    the validation rows."""
    from loopml.learn.candidates import TrialResult
    from loopml.learn.tasks import emit_trial, model_choices
    from loopml.models.catalog import get_model

    started = time.monotonic()
    combos = [(m, p, s) for m, p in model_choices(models, DEFAULT_MODELS) for s in strategies]
    emit("phase", {"phase": "search", "models": [m for m, _, _ in combos], "total": len(combos)})
    trials: list[TrialResult] = []
    fitted: dict[int, Fitted] = {}
    for number, (model, params, strat) in enumerate(combos):
        spec = get_model(model, Task.BINARY)
        label = model if len(strategies) == 1 else f"{model} [{strat}]"
        emit("phase", {"phase": "fit", "model": label, "index": number, "total": len(combos)})
        shown = {"strategy": strat, **params}
        try:
            if not spec.proba:
                raise DataError("it has no predict_proba; per-label thresholds need probabilities")
            scores, cand = _candidate(parts, schema, model, strat, params, metric, seed, n_jobs)
            trial = TrialResult(number, label, shown, *scores)
            fitted[number] = cand
        except (ValueError, DataError) as exc:
            trial = TrialResult(number, label, shown, None, None, 0.0, None, "failed", str(exc))
        trials.append(trial)
        emit_trial(emit, trial, selection_metric(metric), trials, started)
        run.log_trial(**trial.store_record(phase=strat))
    return trials, fitted


def _candidate(
    parts: dict[str, tuple[pd.DataFrame, np.ndarray[Any, Any]]],
    schema: Schema,
    model: str,
    strategy: str,
    params: dict[str, Any],
    metric: str,
    seed: int,
    n_jobs: int,
) -> tuple[tuple[float | None, float | None, float, float], Fitted]:
    from loopml.evaluate.multilabel import evaluate_multilabel
    from loopml.learn.multilabel import tune_thresholds

    (X_tr, Y_tr), (X_va, Y_va) = parts["train"], parts["valid"]
    pipe = make_pipeline(schema, model, params, strategy, seed, n_jobs, None)
    t0 = time.perf_counter()
    quietly(lambda: pipe.fit(X_tr, Y_tr))
    fit_time = time.perf_counter() - t0
    t0 = time.perf_counter()
    p_valid = pipe.predict_proba(X_va)
    per_1k = (time.perf_counter() - t0) / max(1, len(X_va)) * 1000
    thresholds = tune_thresholds(Y_va, p_valid)
    valid = evaluate_multilabel(Y_va, (p_valid >= thresholds).astype(np.int64), p_valid).metrics
    p_train = pipe.predict_proba(X_tr)
    train = evaluate_multilabel(Y_tr, (p_train >= thresholds).astype(np.int64), p_train).metrics
    cand = Fitted(
        model,
        strategy,
        params,
        [round(float(t), 6) for t in thresholds],
        {k: finite(v) for k, v in valid.items()},
    )
    return (finite(valid.get(metric)), finite(train.get(metric)), fit_time, per_1k), cand
