"""Bias-variance decomposition of a model's expected error, by bootstrap.

Examples
--------
>>> from sklearn.datasets import make_regression
>>> from sklearn.tree import DecisionTreeRegressor
>>> X, y = make_regression(200, 3, noise=10, random_state=0)
>>> bv = bias_variance(DecisionTreeRegressor(random_state=0), X, y, rounds=10)
>>> bv.variance > 0
True
"""

from __future__ import annotations

import time
import warnings
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
    predict,
    sample_rows,
    take,
    threads,
)
from loopml.exceptions import DataError

__all__ = ["BiasVariance", "bias_variance"]


@dataclass
class BiasVariance:
    """Bootstrap estimate of how the expected error splits.

    Regression (squared error): ``expected_loss = bias_squared + variance + noise``,
    where ``noise`` is estimated by the nearest-neighbour Delta test (half the mean
    squared difference between the targets of nearest neighbours in feature space;
    an overestimate when rows are sparse in that space) and capped at the squared
    bias it is taken out of.

    Classification (0-1 loss, Domingos 2000): the *main prediction* of a row is
    the mode of its bootstrap predictions; ``bias`` is the share of rows whose main
    prediction is wrong; ``variance`` the mean disagreement with the main
    prediction; variance on correctly-predicted rows adds to the loss and on wrong
    ones subtracts from it, so ``expected_loss = bias + net_variance``. Noise is
    not separable from single-label data and is taken as 0.
    """

    task: str
    loss: str
    expected_loss: float
    bias: float
    variance: float
    noise: float | None
    rounds: int
    n_train: int
    n_test: int
    net_variance: float | None = None
    variance_unbiased: float | None = None
    variance_biased: float | None = None
    bias_with_noise: float | None = None
    reading: str = ""
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        from loopml.evaluate._checks import jsonable

        out: dict[str, Any] = jsonable(asdict(self))
        return out

    def shares(self) -> dict[str, float]:
        """Each part's share of the expected loss (regression: bias², variance, noise)."""
        total = self.expected_loss
        if total <= 0:
            return {}
        if self.task == "regression":
            parts = {"bias²": self.bias, "variance": self.variance, "noise": self.noise or 0.0}
        else:
            parts = {"bias": self.bias, "net variance": self.net_variance or 0.0}
        return {k: v / total for k, v in parts.items()}


def bias_variance(
    estimator: Estimator | Factory,
    X_train: Any,
    y_train: Any,
    X_test: Any = None,
    y_test: Any = None,
    *,
    task: str | None = None,
    rounds: int = 30,
    seed: int = 0,
    max_train_rows: int = 2_000,
    max_test_rows: int = 1_000,
    time_limit: float = 30.0,
    n_jobs: int = 1,
) -> BiasVariance:
    """Decompose the expected error into bias, variance (and noise) by bootstrap.

    The model is refitted on *rounds* bootstrap samples of the training rows and
    predicts the test rows (a held-out 30 % of the training rows when none are
    given). Rounds stop early, after at least 5, once *time_limit* seconds pass.

    Examples
    --------
    >>> from sklearn.datasets import make_regression
    >>> from sklearn.tree import DecisionTreeRegressor
    >>> X, y = make_regression(200, 3, noise=10, random_state=0)
    >>> bv = bias_variance(DecisionTreeRegressor(random_state=0), X, y, rounds=10)
    >>> bv.variance > 0
    True
    """
    make = as_factory(estimator)
    y_arr = np.asarray(y_train)
    task = infer_task(make(), y_arr, task)
    classification = task != "regression"
    if X_test is None or y_test is None:
        from sklearn.model_selection import train_test_split

        idx = np.arange(nrows(X_train))
        strat = (
            y_arr if classification and np.unique(y_arr, return_counts=True)[1].min() >= 2 else None
        )
        tr, te = train_test_split(idx, test_size=0.3, random_state=seed, stratify=strat)
        X_test, y_test = take(X_train, te), y_arr[te]
        X_train, y_train = take(X_train, tr), y_arr[tr]
    y, yt, n_classes = encode_target(task, y_train, y_test)
    if yt is None:  # pragma: no cover - y_test always set above
        raise DataError("bias_variance needs test rows.")
    notes: list[str] = []
    tr_idx = sample_rows(len(y), max_train_rows, seed, y if classification else None)
    te_idx = sample_rows(len(yt), max_test_rows, seed + 1, yt if classification else None)
    if len(tr_idx) < len(y) or len(te_idx) < len(yt):
        notes.append(
            f"Bootstrap on {len(tr_idx):,} training and {len(te_idx):,} test rows (random samples)."
        )
    X_train, y = take(X_train, tr_idx), y[tr_idx]
    X_test, yt = take(X_test, te_idx), yt[te_idx]

    rng = np.random.RandomState(seed)
    preds = []
    started = time.perf_counter()
    with threads(n_jobs), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for r in range(max(2, rounds)):
            boot = rng.randint(0, len(y), len(y))
            if classification and len(np.unique(y[boot])) < 2:
                continue
            model = make().fit(take(X_train, boot), y[boot])
            preds.append(predict(model, X_test, n_classes, proba=False))
            if r + 1 >= 5 and time.perf_counter() - started > time_limit:
                notes.append(f"Stopped after {r + 1} rounds ({time_limit:g} s time limit).")
                break
    P = np.vstack(preds)
    if classification:
        return _bv_classification(P, yt, n_classes, len(y), notes)
    with threads(n_jobs):
        noise = _delta_noise(make, X_train, y)
    return _bv_regression(P, yt, noise, len(y), notes)


def _bv_regression(
    P: np.ndarray[Any, Any],
    y: np.ndarray[Any, Any],
    noise: float | None,
    n_train: int,
    notes: list[str],
) -> BiasVariance:
    main = P.mean(axis=0)
    expected = float(np.mean((P - y) ** 2))
    bias_incl = float(np.mean((main - y) ** 2))
    variance = float(np.mean(P.var(axis=0)))
    if noise is not None:
        noise = min(noise, bias_incl)
    bias2 = bias_incl - (noise or 0.0)
    parts = {"bias²": bias2, "variance": variance, "noise": noise or 0.0}
    total = sum(parts.values()) or 1.0
    top = max(parts, key=lambda k: parts[k])
    share = ", ".join(f"{k} {v / total:.0%}" for k, v in parts.items())
    meaning = {
        "bias²": "the model is systematically off: it is too simple or lacks features; a more "
        "flexible model or better features would reduce the error.",
        "variance": "predictions change with the training sample: more data, stronger "
        "regularisation or averaging (bagging) would reduce the error.",
        "noise": "the error is mostly irreducible with these features: a better model will not "
        "help much; better features or cleaner targets would.",
    }[top]
    reading = (
        f"Expected squared error {expected:.4g} splits into {share}. Most of it is {top}: {meaning}"
    )
    if noise is None:
        reading += " (Noise could not be estimated; it is included in bias².)"
    return BiasVariance(
        task="regression",
        loss="squared error",
        expected_loss=expected,
        bias=bias2,
        variance=variance,
        noise=noise,
        rounds=P.shape[0],
        n_train=n_train,
        n_test=P.shape[1],
        bias_with_noise=bias_incl,
        reading=reading,
        notes=notes,
    )


def _bv_classification(
    P: np.ndarray[Any, Any], y: np.ndarray[Any, Any], n_classes: int, n_train: int, notes: list[str]
) -> BiasVariance:
    counts = np.stack([(P == c).sum(axis=0) for c in range(n_classes)])
    main = counts.argmax(axis=0)
    wrong = main != y
    expected = float(np.mean(P != y))
    bias = float(np.mean(wrong))
    var_i = np.mean(P != main, axis=0)
    variance = float(var_i.mean())
    n = len(y)
    v_unb = float(var_i[~wrong].sum() / n)
    v_b = float(var_i[wrong].sum() / n)
    net = expected - bias
    if bias >= abs(net):
        meaning = (
            "most errors are systematic (the typical prediction is wrong): a more flexible model "
            "or better features would help more than more data."
        )
    else:
        meaning = (
            "most errors come from variance (predictions change with the training sample): more "
            "data, stronger regularisation or averaging (bagging) would help."
        )
    reading = (
        f"Expected 0-1 loss {expected:.3f}: bias {bias:.3f} (rows whose typical prediction is "
        f"wrong) and net variance {net:+.3f} (variance {v_unb:.3f} adds errors on rows the model "
        f"usually gets right; {v_b:.3f} removes some on rows it usually gets wrong). "
        f"{meaning[0].upper()}{meaning[1:]}"
    )
    return BiasVariance(
        task="classification",
        loss="0-1 loss",
        expected_loss=expected,
        bias=bias,
        variance=variance,
        noise=0.0,
        rounds=P.shape[0],
        n_train=n_train,
        n_test=n,
        net_variance=net,
        variance_unbiased=v_unb,
        variance_biased=v_b,
        reading=reading,
        notes=notes,
    )


def _delta_noise(make: Factory, X: Any, y: np.ndarray[Any, Any]) -> float | None:
    """Delta test: half the mean squared target difference between nearest neighbours."""
    from sklearn.neighbors import NearestNeighbors
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    try:
        est = make()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if isinstance(est, Pipeline) and len(est.steps) > 1:
                Z = Pipeline(est.steps[:-1]).fit_transform(X, y)
            else:
                Z = StandardScaler(with_mean=not hasattr(X, "tocsr")).fit_transform(X)
            nn = NearestNeighbors(n_neighbors=2).fit(Z)
            _, ind = nn.kneighbors(Z)
    except Exception:
        return None
    return float(np.mean((y - y[ind[:, 1]]) ** 2) / 2)
