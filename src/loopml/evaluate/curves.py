"""Learning curves (score against training rows) and validation curves (score
against one hyperparameter), with cross-validation spread.

Examples
--------
>>> from sklearn.datasets import make_regression
>>> from sklearn.linear_model import Ridge
>>> X, y = make_regression(120, 4, noise=5, random_state=0)
>>> validation_curve(Ridge(), X, y).param
'alpha'
"""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from loopml.evaluate._fitting import (
    Estimator,
    Factory,
    as_factory,
    encode_target,
    infer_task,
    nrows,
    resolve_metric,
    sample_rows,
    scorer,
    take,
    threads,
)
from loopml.evaluate.scoring import Metric
from loopml.exceptions import DataError

__all__ = ["Curve", "final_estimator", "learning_curve", "sweep_param", "validation_curve"]


@dataclass
class Curve:
    """Scores against training size (learning curve) or one hyperparameter (validation curve).

    ``x`` holds the training sizes or parameter values; ``*_mean``/``*_std`` the
    mean and standard deviation over cross-validation folds.
    """

    kind: str
    param: str
    x: list[Any]
    train_mean: list[float | None]
    train_std: list[float | None]
    valid_mean: list[float | None]
    valid_std: list[float | None]
    metric: str
    greater_is_better: bool
    log_x: bool = False
    current: Any = None
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        from loopml.evaluate._checks import jsonable

        out: dict[str, Any] = jsonable(asdict(self))
        return out

    def best(self) -> Any:
        """The x with the best mean validation score."""
        vals = [(v if self.greater_is_better else -v) for v in self.valid_mean if v is not None]
        if not vals:
            return None
        pairs = [(x, v) for x, v in zip(self.x, self.valid_mean, strict=True) if v is not None]
        key = max if self.greater_is_better else min
        return key(pairs, key=lambda p: p[1])[0]


def _stats(a: np.ndarray[Any, Any]) -> tuple[list[float | None], list[float | None]]:
    means, stds = [], []
    for row in np.asarray(a, dtype="float64"):
        ok = row[np.isfinite(row)]
        means.append(float(ok.mean()) if ok.size else None)
        stds.append(float(ok.std()) if ok.size else None)
    return means, stds


def _prepare_xy(
    estimator: Any, X: Any, y: Any, metric: Any, task: str | None, seed: int, max_rows: int
) -> tuple[Factory, Any, np.ndarray[Any, Any], Metric, str, int, list[str]]:
    make = as_factory(estimator)
    y_arr = np.asarray(y)
    task = infer_task(make(), y_arr, task)
    yc, _, n_classes = encode_target(task, y, None)
    m = resolve_metric(metric, task, yc)
    notes = []
    idx = sample_rows(nrows(X), max_rows, seed, yc if n_classes else None)
    if len(idx) < nrows(X):
        notes.append(f"Computed on a random sample of {len(idx):,} of {nrows(X):,} rows.")
        X, yc = take(X, idx), yc[idx]
    return make, X, yc, m, task, n_classes, notes


def _cv_splitter(y: np.ndarray[Any, Any], cv: int, n_classes: int, seed: int) -> Any:
    from sklearn.model_selection import KFold, StratifiedKFold

    if n_classes:
        smallest = int(np.bincount(y)[np.bincount(y) > 0].min())
        if smallest >= 2:
            return StratifiedKFold(min(cv, smallest), shuffle=True, random_state=seed)
    return KFold(min(cv, len(y)), shuffle=True, random_state=seed)


def learning_curve(
    estimator: Estimator | Factory,
    X: Any,
    y: Any,
    *,
    metric: str | Metric | None = None,
    task: str | None = None,
    sizes: int | Sequence[float] = 5,
    cv: int = 3,
    seed: int = 0,
    max_rows: int = 2_000,
    n_jobs: int = 1,
) -> Curve:
    """Train and cross-validated scores as the training set grows.

    A gap that closes as rows are added says more data would help; two curves that
    meet early at a poor score say a more flexible model or better features would.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.linear_model import Ridge
    >>> X, y = make_regression(120, 4, noise=5, random_state=0)
    >>> c = learning_curve(Ridge(), X, y, sizes=3)
    >>> c.x
    [10, 45, 80]
    """
    from sklearn.model_selection import learning_curve as sk_learning_curve

    make, X, y, m, _task, n_classes, notes = _prepare_xy(
        estimator, X, y, metric, task, seed, max_rows
    )
    splitter = _cv_splitter(y, cv, n_classes, seed)
    n_fit = len(y) - len(y) // splitter.get_n_splits()
    low = max(10, 5 * n_classes, int(0.1 * n_fit))
    if isinstance(sizes, int):
        frac = np.linspace(min(1.0, low / max(n_fit, 1)), 1.0, max(2, sizes))
    else:
        frac = np.asarray(list(sizes), dtype="float64")
    with threads(n_jobs), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        n_used, train_scores, valid_scores = sk_learning_curve(
            make(),
            X,
            y,
            train_sizes=frac,
            cv=splitter,
            scoring=scorer(m, n_classes),
            n_jobs=1,
            shuffle=True,
            random_state=seed,
            error_score=np.nan,
        )[:3]
    tm, ts = _stats(train_scores)
    vm, vs = _stats(valid_scores)
    return Curve(
        "learning",
        "training rows",
        [int(v) for v in n_used],
        tm,
        ts,
        vm,
        vs,
        m.name,
        m.greater_is_better,
        notes=notes,
    )


#: Hyperparameters a validation curve sweeps, in order of preference, with their values.
_SWEEPS: list[tuple[str, list[Any], bool]] = [
    ("C", [1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0, 1000.0], True),
    ("alpha", [1e-4, 1e-3, 1e-2, 1e-1, 1.0, 10.0, 100.0], True),
    ("n_neighbors", [1, 2, 4, 8, 16, 32, 64], True),
    ("num_leaves", [4, 8, 16, 31, 64, 128], True),
    ("max_depth", [1, 2, 3, 4, 6, 8, 12, 16], False),
    ("learning_rate", [0.01, 0.03, 0.1, 0.3, 1.0], True),
    ("min_samples_leaf", [1, 2, 5, 10, 20, 50, 100], True),
    ("var_smoothing", [1e-12, 1e-10, 1e-8, 1e-6, 1e-4, 1e-2], True),
]


def final_estimator(est: Any) -> tuple[Any, str]:
    """The innermost estimator of pipelines / target transformers, and its parameter prefix."""
    from sklearn.compose import TransformedTargetRegressor
    from sklearn.pipeline import Pipeline

    prefix = ""
    while True:
        if isinstance(est, Pipeline):
            name, est = est.steps[-1]
            prefix += f"{name}__"
        elif isinstance(est, TransformedTargetRegressor) and est.regressor is not None:
            est = est.regressor
            prefix += "regressor__"
        else:
            return est, prefix


def sweep_param(estimator: Any) -> tuple[str, str, list[Any], bool, Any] | None:
    """``(full name, short name, values, log scale, current value)`` of the hyperparameter a
    validation curve sweeps for *estimator*, or None when loopml knows none for it."""
    final, prefix = final_estimator(estimator)
    params = final.get_params(deep=False) if hasattr(final, "get_params") else {}
    for name, values, log in _SWEEPS:
        if name in params:
            current = params[name]
            return f"{prefix}{name}", name, list(values), log, current
    return None


def validation_curve(
    estimator: Estimator | Factory,
    X: Any,
    y: Any,
    *,
    param: str | None = None,
    values: Sequence[Any] | None = None,
    metric: str | Metric | None = None,
    task: str | None = None,
    cv: int = 3,
    seed: int = 0,
    max_rows: int = 2_000,
    n_jobs: int = 1,
) -> Curve:
    """Train and cross-validated scores over one hyperparameter.

    By default the parameter is picked from the model family (``C``, ``alpha``,
    ``n_neighbors``, ``num_leaves``, ``max_depth``, ``learning_rate``,
    ``min_samples_leaf``, ``var_smoothing``: the first the estimator has).

    Raises
    ------
    DataError
        When no parameter is given and the estimator has none of those.
    """
    from sklearn.model_selection import validation_curve as sk_validation_curve

    make, X, y, m, _task, n_classes, notes = _prepare_xy(
        estimator, X, y, metric, task, seed, max_rows
    )
    est = make()
    current = None
    log = False
    if param is None:
        picked = sweep_param(est)
        if picked is None:
            final, _ = final_estimator(est)
            raise DataError(
                f"{type(final).__name__} has no hyperparameter loopml sweeps by default "
                f"({', '.join(n for n, _, _ in _SWEEPS)}); pass param= and values=."
            )
        full, short, default_values, log, current = picked
    else:
        _, prefix = final_estimator(est)
        full = param if "__" in param or prefix == "" else f"{prefix}{param}"
        short = param.rsplit("__", 1)[-1]
        if full not in est.get_params(deep=True):
            raise DataError(
                f"{type(est).__name__} has no parameter {param!r}; try one of: "
                f"{', '.join(sorted(est.get_params(deep=True))[:12])}."
            )
        current = est.get_params(deep=True)[full]
        default_values = []
    vals = list(values) if values is not None else default_values
    if not vals:
        raise DataError(f"Pass values= to sweep {param!r}.")
    splitter = _cv_splitter(y, cv, n_classes, seed)
    if short == "n_neighbors":
        n_fit = len(y) - len(y) // splitter.get_n_splits()
        vals = [v for v in vals if v < n_fit] or [1]
    if log:
        log = all(isinstance(v, int | float) and v > 0 for v in vals)
    with threads(n_jobs), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        train_scores, valid_scores = sk_validation_curve(
            est,
            X,
            y,
            param_name=full,
            param_range=vals,
            cv=splitter,
            scoring=scorer(m, n_classes),
            n_jobs=1,
            error_score=np.nan,
        )
    tm, ts = _stats(train_scores)
    vm, vs = _stats(valid_scores)
    return Curve(
        "validation",
        short,
        vals,
        tm,
        ts,
        vm,
        vs,
        m.name,
        m.greater_is_better,
        log_x=log,
        current=current
        if isinstance(current, int | float) and not isinstance(current, bool)
        else None,
        notes=notes,
    )
