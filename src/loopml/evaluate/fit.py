"""Fit diagnosis: is a model overfitting, underfitting or balanced, and what would help.

:func:`diagnose` compares the model's score on its training rows with its score
on held-out rows (the validation rows and k-fold cross-validation), against two
yardsticks fitted on the same rows: a dummy model (the floor: predicting the
prior or the mean) and a flexible reference model (histogram gradient boosting:
what is achievable). :func:`learning_curve` and :func:`validation_curve` show
score against training size and against one hyperparameter;
:func:`bias_variance` splits the expected error by bootstrap.

Scores are compared in *skill* units, so that one set of thresholds works for
every metric::

    skill = (score - dummy score) / (perfect score - dummy score)

0 is the dummy's level, 1 a perfect score (1 for accuracy, ROC-AUC, F1, R²; 0
for RMSE, MAE, log loss). The label is decided by these rules, in skill units:

- **underfitting** when the reference model's held-out skill exceeds this
  model's *training* skill by more than :data:`UNDERFIT_MARGIN` (the model
  cannot even fit its training rows as well as a flexible model predicts unseen
  ones), or, without a reference, when both training and held-out skill are
  within :data:`UNDERFIT_FLOOR` of the dummy;
- **overfitting** when training skill exceeds held-out skill by more than
  :data:`OVERFIT_GAP`;
- **balanced** otherwise. When both rules fire, the larger excess wins and the
  summary mentions the other.

Examples
--------
>>> from sklearn.datasets import make_classification
>>> from sklearn.tree import DecisionTreeClassifier
>>> X, y = make_classification(200, n_features=10, flip_y=0.3, random_state=0)
>>> d = diagnose(DecisionTreeClassifier(random_state=0), X[:150], y[:150], X[150:], y[150:])
>>> d.label
'overfitting'
"""

from __future__ import annotations

import math
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from sklearn.base import clone

from loopml.evaluate._fitting import (
    Estimator,
    Factory,
    as_factory,
    encode_target,
    folds,
    infer_task,
    nrows,
    resolve_metric,
    sample_rows,
    score_model,
    take,
    threads,
)
from loopml.evaluate.curves import (
    Curve,
    final_estimator,
    learning_curve,
    sweep_param,
    validation_curve,
)
from loopml.evaluate.decomposition import BiasVariance, bias_variance
from loopml.evaluate.scoring import Metric
from loopml.exceptions import DataError

__all__ = [
    "HIGH_SPREAD",
    "OVERFIT_GAP",
    "UNDERFIT_FLOOR",
    "UNDERFIT_MARGIN",
    "BiasVariance",
    "Curve",
    "Diagnosis",
    "bias_variance",
    "diagnose",
    "final_estimator",
    "learning_curve",
    "sweep_param",
    "validation_curve",
]

#: Training skill above held-out skill by more than this: overfitting.
OVERFIT_GAP = 0.10
#: Reference model's held-out skill above this model's training skill by more: underfitting.
UNDERFIT_MARGIN = 0.15
#: Without a reference: training and held-out skill both within this of the dummy: underfitting.
UNDERFIT_FLOOR = 0.10
#: Cross-validation standard deviation (skill units) above this is called out as unstable.
HIGH_SPREAD = 0.10
#: Training rows a diagnosis uses (a random sample above this).
MAX_ROWS = 5_000


def _perfect(metric: Metric) -> float:
    return 1.0 if metric.greater_is_better else 0.0


def _skill(value: float | None, baseline: float, metric: Metric) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    span = _perfect(metric) - baseline
    if abs(span) < 1e-12:
        return 1.0 if abs(value - baseline) < 1e-12 else 0.0
    return (value - baseline) / span


# -- diagnosis ----------------------------------------------------------------------------------


@dataclass
class _Scores:
    train: float | None = None
    valid: float | None = None
    cv_mean: float | None = None
    cv_std: float | None = None
    cv_train_mean: float | None = None
    cv_scores: list[float] = field(default_factory=list)
    held_out: float | None = None  # what the label uses (see diagnose)
    error: str | None = None


def _measure(
    make: Factory,
    X: Any,
    y: np.ndarray[Any, Any],
    Xv: Any,
    yv: np.ndarray[Any, Any] | None,
    folds: list[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]],
    metric: Metric,
    n_classes: int,
) -> _Scores:
    """Train score, validation score and cross-validated scores of one model."""
    s = _Scores()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        model = make().fit(X, y)
        s.train = score_model(model, X, y, metric, n_classes)
        if Xv is not None and yv is not None and len(yv):
            s.valid = score_model(model, Xv, yv, metric, n_classes)
        cv, cv_train = [], []
        for fit_idx, score_idx in folds:
            m = make().fit(take(X, fit_idx), y[fit_idx])
            cv.append(score_model(m, take(X, score_idx), y[score_idx], metric, n_classes))
            cv_train.append(score_model(m, take(X, fit_idx), y[fit_idx], metric, n_classes))
    finite = [v for v in cv if math.isfinite(v)]
    if finite:
        s.cv_scores = finite
        s.cv_mean = float(np.mean(finite))
        s.cv_std = float(np.std(finite))
        s.cv_train_mean = float(np.nanmean(cv_train))
    # Weighted by the rows each scores: cross-validation scores every training row once.
    candidates = [(s.valid, len(yv) if yv is not None else 0), (s.cv_mean, len(y) if folds else 0)]
    parts = [(v, w) for v, w in candidates if v is not None and math.isfinite(v) and w > 0]
    if parts:
        s.held_out = float(sum(v * w for v, w in parts) / sum(w for _, w in parts))
    return s


def _reference_factory(make: Factory, task: str, seed: int, sparse: bool) -> Factory:
    """A flexible model behind the same preprocessing as *make*'s pipeline (if any)."""
    from sklearn.pipeline import Pipeline

    def final() -> Any:
        if sparse:
            from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

            cls: Any = RandomForestRegressor if task == "regression" else RandomForestClassifier
            return cls(n_estimators=100, min_samples_leaf=2, random_state=seed, n_jobs=1)
        from sklearn.ensemble import HistGradientBoostingClassifier, HistGradientBoostingRegressor

        cls = (
            HistGradientBoostingRegressor
            if task == "regression"
            else HistGradientBoostingClassifier
        )
        return cls(max_iter=100, early_stopping=False, random_state=seed)

    def build() -> Any:
        est = make()
        if isinstance(est, Pipeline) and len(est.steps) > 1:
            return Pipeline([*clone(est).steps[:-1], ("reference", final())])
        return final()

    return build


def _reference_name(make: Factory) -> str:
    est = make()
    return type(getattr(est, "steps", [[None, est]])[-1][1]).__name__


@dataclass
class Diagnosis:
    """How well a model fits: the label, the numbers behind it, and what to do.

    Attributes
    ----------
    label : {"overfitting", "underfitting", "balanced"}
    metric : str
        The metric every score is in; ``greater_is_better`` gives its direction.
    evidence : dict
        ``train_score``, ``valid_score``, ``cv_mean``, ``cv_std``, ``cv_train_mean``,
        ``held_out_score`` (the validation and cross-validation scores, weighted by
        rows), ``gap`` (train minus held-out, in the metric's units, positive when
        training is better), ``baseline_score`` (dummy model), ``reference_score`` and
        ``reference_model``, the same in skill units (``train_skill``,
        ``held_out_skill``, ``gap_skill``, ``reference_skill``, ``cv_std_skill``),
        ``n_train``, ``n_valid``, ``sampled`` and the ``thresholds`` used.
    remedies : list of str
        What would help, most useful first.
    summary : str
        The diagnosis in plain language.
    """

    label: str
    metric: str
    greater_is_better: bool
    evidence: dict[str, Any]
    remedies: list[str]
    summary: str
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        from loopml.evaluate._checks import jsonable

        out: dict[str, Any] = jsonable(asdict(self))
        return out

    def __str__(self) -> str:
        return f"{self.label}: {self.summary}"


def diagnose(
    estimator: Estimator | Factory,
    X_train: Any,
    y_train: Any,
    X_valid: Any = None,
    y_valid: Any = None,
    *,
    metric: str | Metric | None = None,
    task: str | None = None,
    cv: int = 5,
    seed: int = 0,
    reference: bool = True,
    max_rows: int = MAX_ROWS,
    n_jobs: int = 1,
) -> Diagnosis:
    """Label a model overfitting, underfitting or balanced, with evidence and remedies.

    Parameters
    ----------
    estimator : estimator or callable
        An unfitted (or fitted: it is cloned) scikit-learn estimator or pipeline, or a
        function returning a fresh one.
    X_train, y_train : array-like or DataFrame
        Training rows; what the pipeline takes (raw columns for a loopml pipeline).
    X_valid, y_valid : optional
        Validation rows. Without them the held-out score is the cross-validated one.
    metric : str or Metric, optional
        Default: ROC-AUC (binary), accuracy or macro-F1 (multiclass), RMSE (regression).
    task : {"binary", "multiclass", "regression"}, optional
        Inferred from the estimator and the target when not given.
    cv : int, default 5
        Folds of cross-validation on the training rows (0 or 1: none).
    reference : bool, default True
        Fit a flexible reference model (histogram gradient boosting, or a random
        forest on sparse features) to judge underfitting against what is achievable.
    max_rows : int
        Training rows used (a stratified random sample above this).
    n_jobs : int, default 1
        Threads for BLAS/OpenMP inside each fit.

    Returns
    -------
    Diagnosis
    """
    with threads(n_jobs):
        return _diagnose(
            estimator,
            X_train,
            y_train,
            X_valid,
            y_valid,
            metric,
            task,
            cv,
            seed,
            reference,
            max_rows,
        )


def _diagnose(
    estimator: Estimator | Factory,
    X_train: Any,
    y_train: Any,
    X_valid: Any,
    y_valid: Any,
    metric: str | Metric | None,
    task: str | None,
    cv: int,
    seed: int,
    reference: bool,
    max_rows: int,
) -> Diagnosis:
    make = as_factory(estimator)
    probe = make()
    y_arr = np.asarray(y_train)
    task = infer_task(probe, y_arr, task)
    classification = task != "regression"
    if X_valid is None or y_valid is None:
        X_valid = y_valid = None
    y, yv, n_classes = encode_target(task, y_train, y_valid)
    m = resolve_metric(metric, task, y)
    notes: list[str] = []
    n_all = nrows(X_train)
    idx = sample_rows(n_all, max_rows, seed, y if classification else None)
    if len(idx) < n_all:
        X_train, y = take(X_train, idx), y[idx]
        notes.append(f"Diagnosed on a random sample of {len(idx):,} of {n_all:,} training rows.")
    if X_valid is not None and yv is not None and len(yv) > max_rows:
        vidx = sample_rows(len(yv), max_rows, seed, yv if classification else None)
        X_valid, yv = take(X_valid, vidx), yv[vidx]
    splits = folds(y, cv, classification, seed) if cv and cv > 1 else []
    if not splits and yv is None:
        raise DataError(
            "Fit diagnosis needs held-out rows: pass X_valid/y_valid, or cv >= 2 with at least "
            "2 rows per class."
        )

    from sklearn.dummy import DummyClassifier, DummyRegressor

    dummy: Factory = (
        (lambda: DummyClassifier(strategy="prior"))
        if classification
        else (lambda: DummyRegressor(strategy="mean"))
    )
    base = _measure(dummy, _dummy_X(X_train), y, _dummy_X(X_valid), yv, splits, m, n_classes)
    baseline = base.held_out if base.held_out is not None else float("nan")
    ours = _measure(make, X_train, y, X_valid, yv, splits, m, n_classes)
    ref: _Scores | None = None
    ref_name = None
    if reference:
        ref, ref_name, note = _run_reference(
            make, task, seed, X_train, y, X_valid, yv, splits, m, n_classes
        )
        if note:
            notes.append(note)
    return _decide(
        m,
        task,
        ours,
        baseline,
        ref,
        ref_name,
        len(y),
        0 if yv is None else len(yv),
        len(idx) < n_all,
        notes,
    )


def _dummy_X(X: Any) -> Any:
    """Dummies ignore features: a column of zeros avoids validating text/categorical data."""
    return None if X is None else np.zeros((nrows(X), 1))


def _run_reference(
    make: Factory,
    task: str,
    seed: int,
    X: Any,
    y: np.ndarray[Any, Any],
    Xv: Any,
    yv: np.ndarray[Any, Any] | None,
    folds: list[tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]],
    metric: Metric,
    n_classes: int,
) -> tuple[_Scores | None, str | None, str | None]:
    errors = []
    for sparse in (False, True):
        ref_make = _reference_factory(make, task, seed, sparse)
        try:
            return (
                _measure(ref_make, X, y, Xv, yv, folds, metric, n_classes),
                _reference_name(ref_make),
                None,
            )
        except Exception as exc:  # e.g. sparse features for HGB, raw text columns
            errors.append(f"{type(exc).__name__}: {exc}")
    return (
        None,
        None,
        f"No reference model could be fitted ({errors[-1][:160]}); underfitting is judged "
        "against the dummy only.",
    )


def _decide(
    m: Metric,
    task: str,
    ours: _Scores,
    baseline: float,
    ref: _Scores | None,
    ref_name: str | None,
    n_train: int,
    n_valid: int,
    sampled: bool,
    notes: list[str],
) -> Diagnosis:
    sign = 1.0 if m.greater_is_better else -1.0
    train_s = _skill(ours.train, baseline, m)
    held_s = _skill(ours.held_out, baseline, m)
    ref_s = _skill(ref.held_out, baseline, m) if ref is not None else None
    if train_s is None or held_s is None:
        raise DataError(
            f"The model's {m.name} could not be computed on the training or held-out rows "
            f"(train: {ours.train}, held-out: {ours.held_out}); choose another metric."
        )
    gap_s = train_s - held_s
    span = abs(_perfect(m) - baseline) if math.isfinite(baseline) else 1.0
    cv_std_s = ours.cv_std / span if ours.cv_std is not None and span > 1e-12 else None

    over_by = gap_s - OVERFIT_GAP
    no_signal = False
    if ref_s is not None:
        under_by = (ref_s - train_s) - UNDERFIT_MARGIN
        no_signal = (
            ref_s < UNDERFIT_FLOOR
            and held_s < UNDERFIT_FLOOR
            and train_s < UNDERFIT_FLOOR + OVERFIT_GAP
        )
    else:
        under_by = -1.0
    if ref_s is None or no_signal:
        floor = held_s < UNDERFIT_FLOOR and train_s < UNDERFIT_FLOOR + OVERFIT_GAP
        under_by = max(under_by, (UNDERFIT_FLOOR + OVERFIT_GAP - train_s) if floor else -1.0)
    if over_by > 0 and (under_by <= 0 or over_by >= under_by):
        label = "overfitting"
    elif under_by > 0:
        label = "underfitting"
    else:
        label = "balanced"

    evidence: dict[str, Any] = {
        "train_score": ours.train,
        "valid_score": ours.valid,
        "cv_mean": ours.cv_mean,
        "cv_std": ours.cv_std,
        "cv_train_mean": ours.cv_train_mean,
        "cv_folds": len(ours.cv_scores),
        "held_out_score": ours.held_out,
        "gap": None
        if ours.train is None or ours.held_out is None
        else sign * (ours.train - ours.held_out),
        "baseline_score": baseline if math.isfinite(baseline) else None,
        "reference_model": ref_name,
        "reference_score": ref.held_out if ref is not None else None,
        "reference_train_score": ref.train if ref is not None else None,
        "train_skill": train_s,
        "held_out_skill": held_s,
        "gap_skill": gap_s,
        "reference_skill": ref_s,
        "cv_std_skill": cv_std_s,
        "no_signal": no_signal,
        "n_train": n_train,
        "n_valid": n_valid,
        "sampled": sampled,
        "thresholds": {
            "overfit_gap": OVERFIT_GAP,
            "underfit_margin": UNDERFIT_MARGIN,
            "underfit_floor": UNDERFIT_FLOOR,
            "high_spread": HIGH_SPREAD,
            "units": "skill = (score - dummy) / (perfect - dummy)",
        },
    }
    unstable = cv_std_s is not None and cv_std_s > HIGH_SPREAD
    return Diagnosis(
        label=label,
        metric=m.name,
        greater_is_better=m.greater_is_better,
        evidence=evidence,
        remedies=_remedies(label, unstable, no_signal, ref_name, ref.held_out if ref else None, m),
        summary=_summary(label, m, evidence, over_by > 0, under_by > 0, unstable),
        notes=notes,
    )


def _f(v: float | None) -> str:
    return "n/a" if v is None else f"{v:.3g}"


def _summary(
    label: str, m: Metric, e: dict[str, Any], over: bool, under: bool, unstable: bool
) -> str:
    name = m.name
    base = (
        f"It scores {_f(e['train_score'])} {name} on its training rows and "
        f"{_f(e['held_out_score'])} on held-out rows (a dummy model: {_f(e['baseline_score'])}"
    )
    if e["reference_score"] is not None:
        base += f"; a flexible {e['reference_model']}: {_f(e['reference_score'])}"
    base += ")."
    if label == "overfitting":
        text = (
            f"Overfitting. {base} The gap of {_f(e['gap'])} means the model has learnt details "
            "of its training rows that do not carry over to new data (high variance)."
        )
        if under:
            text += " It also fits its training rows worse than the reference predicts new ones."
    elif label == "underfitting":
        if e["no_signal"]:
            text = (
                f"Underfitting, with little signal to find. {base} Neither this model nor a "
                "flexible one beats the dummy by much: the features may not carry information "
                "about the target."
            )
        else:
            text = (
                f"Underfitting. {base} The model cannot capture the patterns in its own training "
                "data (high bias): it is too simple or too constrained for this problem."
            )
        if over:
            text += f" It also shows a train/held-out gap of {_f(e['gap'])}."
    else:
        text = (
            f"Balanced. {base} Training and held-out scores are close and no flexible model does "
            "clearly better, so the model's complexity suits the data."
        )
    if unstable:
        text += (
            f" Scores vary a lot between cross-validation folds (std {_f(e['cv_std'])}), so "
            "treat them as rough."
        )
    return text


_REMEDIES = {
    "overfitting": [
        "Get more training data, or more diverse data that covers the cases the model gets wrong.",
        "Augment the data (noise, resampling, synthetic examples) where more real data is costly.",
        "Regularise more: lower C, raise alpha, limit tree depth / raise min_samples_leaf, "
        "raise n_neighbors.",
        "Use early stopping for boosting and neural networks (fewer rounds, lower learning rate, "
        "subsampling).",
        "Choose a simpler model, or average many (bagging, random forest) to reduce variance.",
        "Select fewer features: drop noisy or redundant columns (feature selection).",
    ],
    "underfitting": [
        "Use a more complex, flexible model (gradient boosting, random forest, kernel SVM).",
        "Regularise less: raise C, lower alpha, allow deeper trees or more boosting rounds.",
        "Add more informative features, or feature interactions and non-linear transforms.",
        "Train longer if early stopping or an iteration limit cut training short.",
        "More rows of the same data will not help much: the model cannot fit the rows it has.",
    ],
    "balanced": [
        "The fit is sound. To improve further, add informative features or more data, or tune "
        "hyperparameters around the current ones.",
    ],
}


def _remedies(
    label: str,
    unstable: bool,
    no_signal: bool,
    ref_name: str | None,
    ref_score: float | None,
    m: Metric,
) -> list[str]:
    out = list(_REMEDIES[label])
    if label == "underfitting" and no_signal:
        out = [
            "Add more informative features: the current ones barely predict the target.",
            "Check the target and the joins that built the table for errors.",
            "More data or a more complex model will not help much until there is signal.",
        ]
    elif label == "underfitting" and ref_name and ref_score is not None:
        out[0] = (
            f"Use a more complex, flexible model: {ref_name} reached {ref_score:.3g} {m.name} on "
            "the same held-out rows."
        )
    if unstable:
        out.append(
            "Scores vary between folds: more data, or repeated cross-validation, gives a firmer "
            "estimate before acting on small differences."
        )
    return out
