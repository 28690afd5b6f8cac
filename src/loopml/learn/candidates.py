"""Fitting and scoring candidate models.

A candidate is a model family from the catalogue (:mod:`loopml.models`) plus
hyperparameters. It is fitted as one pipeline (features + estimator) and scored
with the selection metric under an :class:`EvalPlan`: k-fold cross-validation on
small data, the validation split on large data (see :func:`make_plan`). The
scores make the leaderboard; the out-of-fold predictions feed ensembling.

Boosting models and the MLP stop early: on the validation split (large data),
or under cross-validation on 15 % of each fold's training rows — never on the
rows the fold is scored on, which would flatter them against other families.
On the validation split they report their progress, so a tuner can prune them;
the number of rounds/epochs they chose becomes part of their effective
parameters, which the final refit reuses.
"""

from __future__ import annotations

import time
import warnings
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
from sklearn.pipeline import Pipeline

from loopml.data.schema import Schema, Task
from loopml.evaluate.scoring import Metric, score
from loopml.features.build import build_features

if TYPE_CHECKING:
    from loopml.models.catalog import ModelSpec

__all__ = [
    "Candidate",
    "EvalPlan",
    "Pruned",
    "Reporter",
    "TrialResult",
    "baseline_candidates",
    "build_pipeline",
    "evaluate_candidate",
    "fit_candidate",
    "make_estimator",
    "make_plan",
    "predict_scores",
]

#: Up to this many rows (train + validation), candidates are cross-validated.
CV_MAX_ROWS = 10_000
#: Train scores are computed on at most this many training rows.
TRAIN_SCORE_ROWS = 2_000
#: Under cross-validation, boosting and MLPs stop early on this share of a fold's fit rows.
EARLY_STOPPING_FRACTION = 0.15
#: Transformed feature matrices cached per plan, at most this many bytes.
CACHE_BYTES = 512 * 2**20

#: ``report(step, value)``: an intermediate score (in the metric's direction) at *step*.
Reporter = Callable[[int, float], None]


class Pruned(Exception):
    """Raised by a reporter to stop an unpromising trial."""


@dataclass
class Candidate:
    """A model family and its hyperparameters."""

    model: str
    params: dict[str, Any] = field(default_factory=dict)


def jsonable_params(params: Mapping[str, Any]) -> dict[str, Any]:
    """Hyperparameters as JSON values (numpy scalars unwrapped, tuples as lists, the rest as text)."""
    out: dict[str, Any] = {}
    for k, v in params.items():
        if isinstance(v, np.generic):
            v = v.item()
        elif isinstance(v, tuple):
            v = list(v)
        elif not isinstance(v, str | int | float | bool | list | dict) and v is not None:
            v = str(v)
        out[k] = v
    return out


@dataclass
class TrialResult:
    """One fitted and scored candidate.

    ``valid_score`` is the mean over cross-validation folds (``valid_std`` their
    spread) or the validation-split score; ``fit_time`` is one fit's seconds;
    ``predict_time_per_1k`` seconds per 1,000 rows. ``params`` are the effective
    hyperparameters (rounds/epochs chosen by early stopping included).
    """

    number: int
    model: str
    params: dict[str, Any]
    valid_score: float | None
    train_score: float | None
    fit_time: float
    predict_time_per_1k: float | None
    status: str = "complete"
    error: str | None = None
    valid_std: float | None = None
    pipeline: Pipeline | None = field(default=None, repr=False)
    predictions: np.ndarray[Any, Any] | None = field(default=None, repr=False)
    phase: str = ""
    elapsed: float | None = None

    def store_record(self, **info: Any) -> dict[str, Any]:
        """Keyword arguments for ``store.log_trial`` / ``run.log_trial``; *info* adds to or
        overrides the recorded extras (train score, spread, error, phase, elapsed)."""
        extras = {
            "train_score": self.train_score,
            "valid_std": self.valid_std,
            "error": self.error,
            "phase": self.phase,
            "elapsed": self.elapsed,
        }
        extras.update(info)
        return {
            "number": self.number,
            "model": self.model,
            "params": jsonable_params(self.params),
            "score": self.valid_score,
            "status": self.status,
            "fit_time": self.fit_time,
            "predict_time": self.predict_time_per_1k,
            "info": {k: v for k, v in extras.items() if v is not None},
        }

    @property
    def ok(self) -> bool:
        """Completed with a finite validation score."""
        return (
            self.status == "complete"
            and self.valid_score is not None
            and bool(np.isfinite(self.valid_score))
        )

    def row(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "valid_score": self.valid_score,
            "valid_std": self.valid_std,
            "train_score": self.train_score,
            "fit_time_s": round(self.fit_time, 4),
            "predict_ms_per_1k": (
                round(self.predict_time_per_1k * 1000, 3) if self.predict_time_per_1k else None
            ),
            "status": self.status,
            "phase": self.phase,
            "params": self.params,
        }


# -- estimators -----------------------------------------------------------------------------


def make_estimator(model: str, task: Task, params: dict[str, Any], seed: int, n_jobs: int) -> Any:
    """The catalogue's estimator for *model* (name or alias) on *task*."""
    from loopml.models.catalog import get_model

    return get_model(model, task).build(params, seed=seed, n_jobs=n_jobs)


def build_pipeline(
    spec: ModelSpec, schema: Schema, params: Mapping[str, Any], *, seed: int = 0, n_jobs: int = 1
) -> Pipeline:
    """Features (as the family needs them) + the family's estimator, unfitted."""
    return Pipeline(
        [
            ("features", build_features(schema, scale=spec.scale, dense=spec.dense)),
            ("model", spec.build(params, seed=seed, n_jobs=n_jobs)),
        ]
    )


def baseline_candidates(task: Task, n_rows: int = 0) -> list[Candidate]:
    """The quick default: a regularised linear model, an RBF SVM (small data), a forest
    and gradient boosting, each with its first portfolio configuration."""
    from loopml.models.catalog import default_models, get_model

    return [
        Candidate(n, dict(get_model(n, task).portfolio[0]))
        for n in default_models(task, n_rows, quick=True)
    ]


# -- evaluation plans -------------------------------------------------------------------------


@dataclass
class EvalPlan:
    """Rows and folds candidates are scored on.

    ``folds`` are ``(fit_rows, scored_rows)`` index pairs into ``X``/``y``: k folds
    for cross-validation, one for the validation split.
    """

    schema: Schema
    X: pd.DataFrame
    y: np.ndarray[Any, Any]
    folds: list[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]]
    method: str
    n_classes: int = 0
    seed: int = 0
    repeats: int = 1
    cache: dict[Any, Any] = field(default_factory=dict, repr=False, compare=False)

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["cache"] = {}
        return state

    @property
    def task(self) -> Task:
        return self.schema.task or Task.REGRESSION

    @property
    def scored_rows(self) -> np.ndarray[Any, Any]:
        """Every row some fold scores, in order (all rows under CV, the validation rows else)."""
        return np.unique(np.concatenate([s for _, s in self.folds]))

    @property
    def y_scored(self) -> np.ndarray[Any, Any]:
        return np.asarray(self.y[self.scored_rows])

    @property
    def n_fit_rows(self) -> int:
        """Rows one fit sees (for estimating the cost of a refit on all rows)."""
        return int(np.mean([len(f) for f, _ in self.folds]))

    def describe(self) -> str:
        if self.method == "cv":
            k = len(self.folds) // self.repeats
            times = f", repeated {self.repeats} times" if self.repeats > 1 else ""
            return f"{k}-fold cross-validation on {len(self.X)} rows{times}"
        return f"validation split ({len(self.folds[0][1])} rows)"

    def features(self, fold: int, scale: bool, dense: bool) -> tuple[Any, Any]:
        """The fold's feature matrices (fit rows, scored rows), cached per plan."""
        key = (fold, scale, dense)
        hit = self.cache.get(key)
        if hit is not None:
            return hit  # type: ignore[no-any-return]
        fit_idx, score_idx = self.folds[fold]
        feats = build_features(self.schema, scale=scale, dense=dense)
        Xf = feats.fit_transform(self.X.iloc[fit_idx], self.y[fit_idx])
        Xs = feats.transform(self.X.iloc[score_idx])
        size = _nbytes(Xf) + _nbytes(Xs)
        used = sum(_nbytes(a) + _nbytes(b) for a, b in self.cache.values())
        if used + size <= CACHE_BYTES:
            self.cache[key] = (Xf, Xs)
        return Xf, Xs


def _nbytes(a: Any) -> int:
    if hasattr(a, "data") and hasattr(a, "indices"):  # scipy sparse
        return int(a.data.nbytes + a.indices.nbytes)
    return int(getattr(a, "nbytes", 0))


def make_plan(
    schema: Schema,
    X_train: pd.DataFrame,
    y_train: np.ndarray[Any, Any],
    X_valid: pd.DataFrame,
    y_valid: np.ndarray[Any, Any],
    *,
    seed: int = 0,
    cv: int | str | None = "auto",
    strategy: str = "random",
    repeats: int | None = None,
) -> EvalPlan:
    """Choose how candidates are scored.

    ``cv="auto"``: up to :data:`CV_MAX_ROWS` rows (train + validation), k-fold
    cross-validation on them (k = 5 up to 5,000 rows, else 3; stratified for
    classes); more rows, or a time-ordered/grouped split (where shuffled folds would
    leak), use the validation split. ``cv=k`` forces k folds, ``cv=None`` the split.
    On small data the folds are repeated with other shuffles (``repeats``; default 3
    up to 300 rows, 2 up to 1,000): with so few rows a single k-fold estimate is noisy
    enough that the search would pick the luckiest candidate, not the best.
    """
    from sklearn.model_selection import KFold, StratifiedKFold

    task = schema.task or Task.REGRESSION
    classification = task in (Task.BINARY, Task.MULTICLASS)
    n_classes = len(schema.classes or []) if classification else 0
    n = len(X_train) + len(X_valid)
    ordered = "time" in strategy or "group" in strategy
    k: int | None
    if cv == "auto":
        k = None if (n > CV_MAX_ROWS or ordered) else (5 if n <= 5_000 else 3)
    else:
        k = int(cv) if cv is not None else None
    if len(X_valid) == 0 and k is None:
        k = 3  # no validation rows: cross-validate whatever the size
    X = pd.concat([X_train, X_valid], ignore_index=True)
    y = np.concatenate([y_train, y_valid])
    if k is not None and classification:
        counts = np.bincount(y.astype(np.int64), minlength=max(n_classes, 1))
        smallest = int(counts[counts > 0].min()) if counts.any() else 0
        if smallest < k:
            k = smallest if smallest >= 2 else None
    if k is None or k < 2:
        if len(X_valid) == 0:
            from loopml.exceptions import DataError

            raise DataError(
                "Cannot score candidates: there are no validation rows and too few rows "
                "per class for cross-validation. Add rows or give a validation split."
            )
        fit_idx = np.arange(len(X_train))
        score_idx = np.arange(len(X_train), n)
        return EvalPlan(
            schema, X, y, [(fit_idx, score_idx)], "holdout", n_classes=n_classes, seed=seed
        )
    if repeats is None:
        repeats = 3 if n <= 300 else 2 if n <= 1_000 else 1
    folds = []
    for r in range(max(1, repeats)):
        splitter = (
            StratifiedKFold(k, shuffle=True, random_state=seed + r)
            if classification
            else KFold(k, shuffle=True, random_state=seed + r)
        )
        folds += [(np.asarray(a), np.asarray(b)) for a, b in splitter.split(np.zeros(n), y)]
    return EvalPlan(
        schema, X, y, folds, "cv", n_classes=n_classes, seed=seed, repeats=max(1, repeats)
    )


# -- one candidate ----------------------------------------------------------------------------


def predict_scores(model: Any, X: Any, n_classes: int) -> tuple[Any, Any]:
    """``(labels or values, probabilities or None)``; probabilities have one column per class."""
    if n_classes and hasattr(model, "predict_proba"):
        raw = np.asarray(model.predict_proba(X), dtype="float64")
        classes = getattr(model, "classes_", None)
        if classes is not None and (len(classes) != n_classes or raw.shape[1] != n_classes):
            proba = np.zeros((raw.shape[0], n_classes))
            proba[:, np.asarray(classes, dtype=np.int64)] = raw
        else:
            proba = raw
        return np.argmax(proba, axis=1), proba
    pred = np.asarray(model.predict(X))
    if n_classes:
        return pred.astype(np.int64), None
    return pred.astype("float64"), None


def _score(metric: Metric, y: Any, labels: Any, proba: Any) -> float:
    if metric.needs_proba:
        if proba is None:
            raise ValueError(
                f"the metric '{metric.name}' needs class probabilities and this model has "
                "no predict_proba; choose another --metric (accuracy, f1) or model"
            )
        return float(score(metric, y, y_proba=proba))
    return float(score(metric, y, y_pred=labels))


def evaluate_candidate(
    plan: EvalPlan,
    spec: ModelSpec,
    params: Mapping[str, Any],
    metric: Metric,
    *,
    number: int = 0,
    seed: int = 0,
    n_jobs: int = 1,
    report: Reporter | None = None,
    phase: str = "",
) -> TrialResult:
    """Fit and score one candidate on every fold of *plan*.

    *report*, when given, receives the running mean score after each fold (under
    cross-validation) or the negated validation loss every 10 boosting rounds / each
    MLP epoch (on the validation split); it raises :class:`Pruned` to stop the trial.
    A failing candidate is returned with ``status="failed"``, not raised.
    """
    started = time.perf_counter()
    params = dict(params)
    fold_scores: list[float] = []
    train_scores: list[float] = []
    fit_times: list[float] = []
    effective: list[dict[str, Any]] = []
    predict_s, predicted = 0.0, 0
    rows = plan.scored_rows
    position = np.empty(len(plan.X), dtype=np.int64)
    position[rows] = np.arange(len(rows))
    preds: np.ndarray[Any, Any] | None = None
    seen = np.zeros(0, dtype=np.int64)
    rng = np.random.RandomState(seed)

    def result(status: str, error: str | None = None) -> TrialResult:
        valid = float(np.mean(fold_scores)) if fold_scores else None
        return TrialResult(
            number,
            spec.name,
            {**params, **_average(effective)},
            valid,
            float(np.mean(train_scores)) if train_scores else None,
            float(np.mean(fit_times)) if fit_times else 0.0,
            predict_s / predicted * 1000 if predicted else None,
            status=status,
            error=error,
            valid_std=float(np.std(fold_scores)) if len(fold_scores) > 1 else None,
            predictions=preds if status == "complete" else None,
            phase=phase,
            elapsed=time.perf_counter() - started,
        )

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for i, (fit_idx, score_idx) in enumerate(plan.folds):
                Xf, Xs = plan.features(i, spec.scale, spec.dense)
                y_fit, y_score = plan.y[fit_idx], plan.y[score_idx]
                estimator = spec.build(params, seed=seed, n_jobs=n_jobs)
                t0 = time.perf_counter()
                if spec.staged:
                    from loopml.models._staged import staged_fit

                    round_report = None
                    if plan.method == "holdout":
                        # large data: stop early on the validation split
                        Xt, yt, Xe, ye = Xf, y_fit, Xs, y_score
                        if report is not None:
                            round_report = _loss_reporter(report, metric)
                    else:
                        # cross-validation: stop early on rows carved out of the fold's
                        # training rows, so the fold's score stays honest
                        Xt, yt, Xe, ye = _early_stopping_split(Xf, y_fit, plan, seed)
                    staged = staged_fit(
                        spec.staged,
                        estimator,
                        Xt,
                        yt,
                        Xe,
                        ye,
                        n_classes=plan.n_classes,
                        report=round_report,
                        seed=seed,
                    )
                    model, eff = staged.model, staged.effective
                else:
                    model, eff = estimator.fit(Xf, y_fit), {}
                fit_times.append(time.perf_counter() - t0)
                effective.append(eff)
                t0 = time.perf_counter()
                labels, proba = predict_scores(model, Xs, plan.n_classes)
                predict_s += time.perf_counter() - t0
                predicted += len(score_idx)
                fold_scores.append(_score(metric, y_score, labels, proba))
                out = proba if proba is not None else labels
                if preds is None:
                    shape = (len(rows), *np.shape(out)[1:])
                    preds = np.zeros(shape, dtype="float64" if proba is not None else out.dtype)
                    seen = np.zeros(len(rows), dtype=np.int64)
                if proba is not None or not plan.n_classes:  # average over repeated folds
                    preds[position[score_idx]] += out
                    seen[position[score_idx]] += 1
                else:
                    preds[position[score_idx]] = out
                sample = np.arange(len(fit_idx))
                if len(sample) > TRAIN_SCORE_ROWS:
                    sample = np.sort(rng.choice(len(sample), TRAIN_SCORE_ROWS, replace=False))
                t_labels, t_proba = predict_scores(model, Xf[sample], plan.n_classes)
                train_scores.append(_score(metric, y_fit[sample], t_labels, t_proba))
                if report is not None and plan.method == "cv":
                    report(i, float(np.mean(fold_scores)))
    except Pruned:
        return result("pruned")
    except Exception as exc:  # a failing candidate is recorded, not fatal
        return result("failed", f"{type(exc).__name__}: {exc}")
    if preds is not None and seen.max(initial=0) > 1:
        shape = (-1,) + (1,) * (preds.ndim - 1)
        preds = preds / np.maximum(seen, 1).reshape(shape)
    if preds is not None and preds.dtype == np.float64 and plan.n_classes:
        preds = preds.astype("float32")  # kept for ensembling: half the memory
    return result("complete")


def _early_stopping_split(
    X: Any, y: np.ndarray[Any, Any], plan: EvalPlan, seed: int
) -> tuple[Any, np.ndarray[Any, Any], Any, np.ndarray[Any, Any]]:
    """Hold out :data:`EARLY_STOPPING_FRACTION` of *X*'s rows (stratified for classes)."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    n_stop = max(2, round(EARLY_STOPPING_FRACTION * len(y)))
    strat = None
    if plan.n_classes:
        counts = np.bincount(y.astype(np.int64))
        if counts[counts > 0].min() >= 2 and n_stop >= np.count_nonzero(counts):
            strat = y
    fit, stop = train_test_split(idx, test_size=n_stop, random_state=seed, stratify=strat)
    fit, stop = np.sort(fit), np.sort(stop)
    return X[fit], y[fit], X[stop], y[stop]


def _loss_reporter(report: Reporter, metric: Metric) -> Callable[[int, float], None]:
    """Report a validation loss (lower is better) in the metric's direction."""
    sign = -1.0 if metric.greater_is_better else 1.0

    def report_loss(step: int, loss: float) -> None:
        report(step, sign * loss)

    return report_loss


def _average(effective: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean of each effective setting over folds (integers stay integers)."""
    out: dict[str, Any] = {}
    for key in {k for e in effective for k in e}:
        values = [e[key] for e in effective if key in e]
        mean = float(np.mean(values))
        out[key] = max(1, round(mean)) if all(isinstance(v, int) for v in values) else mean
    return out


# -- compatibility: one candidate on the validation split, pipeline kept -------------------------


def fit_candidate(
    number: int,
    candidate: Candidate,
    schema: Schema,
    X_train: pd.DataFrame,
    y_train: np.ndarray[Any, Any],
    X_valid: pd.DataFrame,
    y_valid: np.ndarray[Any, Any],
    metric: Metric,
    *,
    seed: int = 0,
    n_jobs: int = 1,
    estimator_factory: Callable[..., Any] = make_estimator,
) -> TrialResult:
    """Fit one candidate on the training rows and score it on train and validation rows.

    The fitted pipeline is kept on the result (``result.pipeline``).
    """
    from loopml.models.catalog import get_model

    task = schema.task or Task.REGRESSION
    n_classes = len(schema.classes or []) if task in (Task.BINARY, Task.MULTICLASS) else 0
    try:
        try:
            spec = get_model(candidate.model, task)
            scale, dense = spec.scale, spec.dense
        except ValueError:
            scale, dense = True, True
        estimator = estimator_factory(candidate.model, task, candidate.params, seed, n_jobs)
        pipe = Pipeline(
            [("features", build_features(schema, scale=scale, dense=dense)), ("model", estimator)]
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            pipe.fit(X_train, y_train)
            fit_time = time.perf_counter() - t0
            t0 = time.perf_counter()
            valid = None
            if len(X_valid):
                labels, proba = predict_scores(pipe, X_valid, n_classes)
                valid = _score(metric, y_valid, labels, proba)
            predict_time = (time.perf_counter() - t0) / max(len(X_valid), 1) * 1000
            labels, proba = predict_scores(pipe, X_train, n_classes)
            train = _score(metric, y_train, labels, proba)
    except Exception as exc:  # a failing candidate is recorded, not fatal
        return TrialResult(
            number,
            candidate.model,
            candidate.params,
            None,
            None,
            0.0,
            None,
            status="failed",
            error=f"{type(exc).__name__}: {exc}",
        )
    return TrialResult(
        number,
        candidate.model,
        candidate.params,
        valid,
        train,
        fit_time,
        predict_time,
        pipeline=pipe,
    )


def score_pipeline(pipe: Any, X: pd.DataFrame, y: np.ndarray[Any, Any], metric: Metric) -> float:
    """Score a fitted pipeline with *metric* (probabilities when the metric needs them)."""
    if metric.needs_proba:
        return score(metric, y, y_proba=pipe.predict_proba(X))
    return score(metric, y, y_pred=pipe.predict(X))
