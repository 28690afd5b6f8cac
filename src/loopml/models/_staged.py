"""Early stopping on validation rows, with progress reports, for boosting and neural nets.

A *staged* fit trains round by round (boosting) or epoch by epoch (MLP), watches
the loss on the validation rows, stops when it has not improved for a while,
and reports the loss every few steps through ``report(step, loss)`` so a tuner
can prune an unpromising trial (the reporter raises to stop the fit).

It returns the fitted model and the *effective* hyperparameters (the number of
rounds or epochs early stopping chose), which a refit on more rows reuses
without a validation set.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Staged", "staged_fit"]

#: report(step, validation loss); lower is better. May raise to stop the fit.
Report = Callable[[int, float], None]

BOOSTING_PATIENCE = 50
HGB_PATIENCE = 20
MLP_PATIENCE = 12


@dataclass
class Staged:
    """A model fitted with early stopping, and the settings a refit should use."""

    model: Any
    effective: dict[str, Any] = field(default_factory=dict)


def staged_fit(
    kind: str,
    estimator: Any,
    X: Any,
    y: np.ndarray[Any, Any],
    X_valid: Any,
    y_valid: np.ndarray[Any, Any],
    *,
    n_classes: int = 0,
    report: Report | None = None,
    every: int = 10,
    seed: int = 0,
) -> Staged:
    """Fit *estimator* (a catalogue estimator of *kind*) with early stopping on the valid rows."""
    if kind == "lightgbm":
        return _lightgbm(estimator, X, y, X_valid, y_valid, report, every)
    if kind == "xgboost":
        return _xgboost(estimator, X, y, X_valid, y_valid, report, every)
    if kind == "hgb":
        estimator.set_params(early_stopping=True, n_iter_no_change=HGB_PATIENCE)
        estimator.fit(X, y, X_val=X_valid, y_val=y_valid)
        return Staged(estimator, {"max_iter": int(estimator.n_iter_)})
    if kind == "mlp":
        return _mlp(estimator, X, y, X_valid, y_valid, n_classes, report, seed)
    raise ValueError(f"No staged fit for '{kind}'.")


def _lightgbm(
    est: Any, X: Any, y: Any, Xv: Any, yv: Any, report: Report | None, every: int
) -> Staged:
    import lightgbm as lgb

    callbacks: list[Any] = [
        lgb.early_stopping(BOOSTING_PATIENCE, first_metric_only=True, verbose=False)
    ]
    if report is not None:

        def _report(env: Any) -> None:
            step = env.iteration + 1
            if step % every == 0 and env.evaluation_result_list:
                _, _, value, higher_better = env.evaluation_result_list[0][:4]
                report(step, -float(value) if higher_better else float(value))

        callbacks.append(_report)
    est.fit(X, y, eval_set=[(Xv, yv)], callbacks=callbacks)
    best = int(est.best_iteration_ or est.n_estimators)
    return Staged(est, {"n_estimators": max(best, 1)})


def _xgboost(
    est: Any, X: Any, y: Any, Xv: Any, yv: Any, report: Report | None, every: int
) -> Staged:
    from xgboost.callback import TrainingCallback

    class _Progress(TrainingCallback):  # type: ignore[misc]
        def after_iteration(self, model: Any, epoch: int, evals_log: Any) -> bool:
            step = epoch + 1
            if report is not None and step % every == 0:
                for data in evals_log.values():
                    for values in data.values():
                        report(step, float(values[-1]))
                        return False
            return False

    est.set_params(
        early_stopping_rounds=BOOSTING_PATIENCE,
        callbacks=[_Progress()] if report is not None else None,
    )
    try:
        est.fit(X, y, eval_set=[(Xv, yv)], verbose=False)
    finally:
        est.set_params(callbacks=None)
    best = getattr(est, "best_iteration", None)
    n = int(best) + 1 if best is not None else int(est.n_estimators)
    return Staged(est, {"n_estimators": max(n, 1)})


class _Rescaled:
    """Predictions of a model fitted on a standardised target, mapped back."""

    def __init__(self, model: Any, mean: float, scale: float) -> None:
        self.model, self.mean, self.scale = model, mean, scale

    def predict(self, X: Any) -> np.ndarray[Any, Any]:
        return np.asarray(self.model.predict(X)) * self.scale + self.mean


def _mlp(
    est: Any,
    X: Any,
    y: np.ndarray[Any, Any],
    Xv: Any,
    yv: np.ndarray[Any, Any],
    n_classes: int,
    report: Report | None,
    seed: int,
) -> Staged:
    """Epoch by epoch with ``partial_fit``; keep the weights of the best validation epoch."""
    from sklearn.base import clone, is_classifier

    wrapped = hasattr(est, "regressor")  # TransformedTargetRegressor: scale y ourselves
    mlp = clone(est.regressor) if wrapped else est
    classification = is_classifier(mlp)
    mean, scale = 0.0, 1.0
    y_fit, y_val = y, yv
    if wrapped:
        mean = float(np.mean(y))
        scale = float(np.std(y)) or 1.0
        y_fit, y_val = (y - mean) / scale, (yv - mean) / scale
    mlp.set_params(shuffle=False)  # we shuffle per epoch below, reproducibly
    epochs = int(mlp.max_iter)
    rng = np.random.RandomState(seed)
    classes = np.arange(max(n_classes, 2)) if classification else None
    best_loss, best_epoch, best_weights, stale = math.inf, 0, None, 0
    n = X.shape[0]
    for epoch in range(1, epochs + 1):
        order = rng.permutation(n)
        if classification:
            mlp.partial_fit(X[order], y_fit[order], classes=classes)
        else:
            mlp.partial_fit(X[order], y_fit[order])
        loss = _mlp_loss(mlp, Xv, y_val, classes)
        if report is not None:
            report(epoch, loss)
        if loss < best_loss - 1e-6:
            best_loss, best_epoch, stale = loss, epoch, 0
            best_weights = ([c.copy() for c in mlp.coefs_], [b.copy() for b in mlp.intercepts_])
        else:
            stale += 1
            if stale >= MLP_PATIENCE:
                break
    if best_weights is not None:
        mlp.coefs_, mlp.intercepts_ = best_weights
    model: Any = _Rescaled(mlp, mean, scale) if wrapped else mlp
    return Staged(model, {"epochs": max(best_epoch, 1)})


def _mlp_loss(mlp: Any, Xv: Any, yv: np.ndarray[Any, Any], classes: Any) -> float:
    if classes is not None:
        from sklearn.metrics import log_loss

        proba = mlp.predict_proba(Xv)
        if not np.all(np.isfinite(proba)):
            return math.inf
        return float(log_loss(yv, proba, labels=classes))
    pred = mlp.predict(Xv)
    value = float(np.mean((np.asarray(pred) - yv) ** 2))
    return value if math.isfinite(value) else math.inf
