"""Shared plumbing of the fit diagnosis, curves and bias-variance estimate.

Estimators come in as instances (cloned per fit) or factories; targets are
encoded to class indices (or floats); scores use loopml's named metrics in their
own direction; BLAS/OpenMP threads are capped around the many small fits.
"""

from __future__ import annotations

import contextlib
import warnings
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pandas as pd
from sklearn.base import clone, is_classifier

from loopml.evaluate.scoring import Metric, default_metric, get_metric, score
from loopml.exceptions import DataError

__all__ = [
    "Estimator",
    "Factory",
    "as_factory",
    "encode_target",
    "folds",
    "infer_task",
    "nrows",
    "predict",
    "resolve_metric",
    "sample_rows",
    "score_model",
    "scorer",
    "take",
    "threads",
]

Estimator = Any
Factory = Callable[[], Any]


@contextlib.contextmanager
def threads(n_jobs: int) -> Iterator[None]:
    """Cap BLAS/OpenMP threads: many small fits on a few cores run far faster single-threaded."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=max(1, int(n_jobs))):
        yield


def as_factory(est: Any) -> Factory:
    """A zero-argument callable returning a fresh unfitted estimator."""
    if hasattr(est, "fit") and hasattr(est, "get_params"):
        return lambda: clone(est)
    if callable(est):
        return est  # type: ignore[no-any-return]
    raise DataError(
        f"Expected a scikit-learn estimator or a function returning one; got {type(est).__name__}."
    )


def infer_task(est: Any, y: np.ndarray[Any, Any], task: str | None) -> str:
    if task is not None:
        t = str(task)
        if t not in ("binary", "multiclass", "regression"):
            raise DataError(f"task must be 'binary', 'multiclass' or 'regression'; got {t!r}.")
        return t
    if is_classifier(est):
        return "binary" if len(np.unique(y)) <= 2 else "multiclass"
    return "regression"


def encode_target(
    task: str, y_train: Any, y_valid: Any
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any] | None, int]:
    """Class labels → indices 0..k-1 (of the sorted labels of both sets); targets → float."""
    yt = np.asarray(y_train)
    yv = None if y_valid is None else np.asarray(y_valid)
    if task == "regression":
        try:
            return yt.astype("float64"), None if yv is None else yv.astype("float64"), 0
        except (TypeError, ValueError):
            raise DataError(
                "A regression target must be numeric; pass task='binary' or 'multiclass' for "
                "class labels."
            ) from None
    both = yt if yv is None else np.concatenate([yt, yv])
    as_text = both.dtype.kind == "O"  # mixed Python objects: compare as text
    classes = np.unique(both.astype(str) if as_text else both)
    codes_t: np.ndarray[Any, Any] = np.searchsorted(classes, yt.astype(str) if as_text else yt)
    codes_v: np.ndarray[Any, Any] | None = None
    if yv is not None:
        codes_v = np.searchsorted(classes, yv.astype(str) if as_text else yv).astype(np.int64)
    codes_t = codes_t.astype(np.int64)
    if len(classes) < 2:
        raise DataError(
            f"Fit diagnosis needs at least two classes in the target; found {len(classes)}."
        )
    return codes_t, codes_v, len(classes)


def resolve_metric(metric: str | Metric | None, task: str, y: np.ndarray[Any, Any]) -> Metric:
    if isinstance(metric, Metric):
        return metric
    return get_metric(metric, task) if metric else default_metric(task, y)


def take(X: Any, idx: np.ndarray[Any, Any]) -> Any:
    return X.iloc[idx] if isinstance(X, pd.DataFrame | pd.Series) else X[idx]


def nrows(X: Any) -> int:
    return int(X.shape[0]) if hasattr(X, "shape") else len(X)


def sample_rows(
    n: int, limit: int, seed: int, y: np.ndarray[Any, Any] | None = None
) -> np.ndarray[Any, Any]:
    """Sorted row indices: all rows up to *limit*, else a random (stratified by *y*) sample."""
    if n <= limit:
        return np.arange(n)
    if y is not None:
        from sklearn.model_selection import train_test_split

        try:
            keep, _ = train_test_split(
                np.arange(n), train_size=limit, random_state=seed, stratify=y
            )
            return np.sort(keep)
        except ValueError:
            pass
    return np.sort(np.random.RandomState(seed).choice(n, limit, replace=False))


def predict(model: Any, X: Any, n_classes: int, proba: bool) -> Any:
    """Labels/values, or class probabilities with one column per class (absent classes 0)."""
    if n_classes and proba:
        raw = np.asarray(model.predict_proba(X), dtype="float64")
        seen = np.asarray(getattr(model, "classes_", np.arange(raw.shape[1])), dtype=np.int64)
        if raw.shape[1] == n_classes and np.array_equal(seen, np.arange(n_classes)):
            return raw
        out = np.zeros((raw.shape[0], n_classes))
        out[:, seen] = raw
        return out
    pred = np.asarray(model.predict(X))
    return pred.astype(np.int64) if n_classes else pred.astype("float64")


def score_model(
    model: Any, X: Any, y: np.ndarray[Any, Any], metric: Metric, n_classes: int
) -> float:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = predict(model, X, n_classes, metric.needs_proba)
        if metric.needs_proba:
            return float(score(metric, y, y_proba=out))
        return float(score(metric, y, y_pred=out))


def scorer(metric: Metric, n_classes: int) -> Callable[[Any, Any, Any], float]:
    """A scikit-learn scorer ``(estimator, X, y) -> float`` (raw value, not negated)."""

    def scorer(estimator: Any, X: Any, y: Any) -> float:
        return score_model(estimator, X, np.asarray(y), metric, n_classes)

    return scorer


def folds(
    y: np.ndarray[Any, Any], cv: int, classification: bool, seed: int
) -> list[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]]:
    from sklearn.model_selection import KFold, StratifiedKFold

    n = len(y)
    k = min(int(cv), n)
    if classification:
        counts = np.bincount(y)
        smallest = int(counts[counts > 0].min())
        if smallest >= 2:
            k = min(k, smallest)
            splitter: Any = StratifiedKFold(k, shuffle=True, random_state=seed)
            return [(a, b) for a, b in splitter.split(np.zeros(n), y)]
    if k < 2:
        return []
    splitter = KFold(k, shuffle=True, random_state=seed)
    return [(a, b) for a, b in splitter.split(np.zeros(n))]
