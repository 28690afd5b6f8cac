"""Multi-label classification: each row may carry any number of labels.

The target is either several 0/1 columns (``["urgent", "financial"]``) or one column of
labels joined by a delimiter (``"urgent|financial"``). :class:`MultiLabelClassifier`
fits one binary model per label (one-vs-rest) or a classifier chain, and decides each
label with its own threshold; :func:`train_multilabel` runs the whole lifecycle: split,
candidate models, thresholds tuned on validation to maximise each label's F1, refit,
test metrics (per label and averaged, Hamming loss, subset accuracy), bundle and store.
The target is read by :mod:`loopml.learn.multilabel_targets`, the candidates fitted
and scored by :mod:`loopml.learn.multilabel_search`.

Examples
--------
>>> from loopml.store import Store
>>> result = train_multilabel("tickets.csv", "tags", store=Store.in_memory())  # doctest: +SKIP
>>> result.model.predict_labels(new_tickets)  # doctest: +SKIP
[['urgent'], ['financial', 'urgent'], []]
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import check_is_fitted

from loopml.data.schema import Schema, Task
from loopml.exceptions import DataError
from loopml.learn.multilabel_search import (
    DEFAULT_MODELS,
    check_metric,
    finite,
    make_pipeline,
    quietly,
    search,
    selection_metric,
)
from loopml.learn.multilabel_targets import parse_targets as parse_targets
from loopml.learn.result import FitResult

if TYPE_CHECKING:
    from loopml.evaluate.scoring import Metric
    from loopml.learn.candidates import Candidate
    from loopml.learn.prepare import EventHandler
    from loopml.store import Store

__all__ = [
    "MultiLabelClassifier",
    "MultilabelResult",
    "parse_targets",
    "train_multilabel",
    "tune_thresholds",
]

_ROW = "__loopml_row__"


# -- the estimator -----------------------------------------------------------------------------


class MultiLabelClassifier(ClassifierMixin, BaseEstimator):  # type: ignore[misc]
    """One-vs-rest or classifier-chain multi-label classifier with per-label thresholds.

    Parameters
    ----------
    estimator : classifier with ``predict_proba``, default LogisticRegression
        The binary model fitted for each label.
    strategy : {"ovr", "chain"}, default "ovr"
        "ovr": one independent model per label. "chain": scikit-learn's
        ``ClassifierChain`` — each label's model also sees the labels before it in
        *order*, so correlated labels inform each other.
    thresholds : float or sequence of float, optional
        Decision threshold per label on its probability (default 0.5).
    order : sequence of int, optional
        Chain order (default: the label order).
    random_state : int, default 0

    Attributes
    ----------
    n_labels_ : int
    thresholds_ : ndarray of shape (n_labels,)
    constant_ : ndarray of shape (n_labels,)
        -1 for labels that vary in training, else the constant value (0 or 1) they had;
        constant labels are predicted as that value without a model.
    estimators_ : list (ovr) or chain_ : ClassifierChain
    """

    def __init__(
        self,
        estimator: Any = None,
        strategy: Literal["ovr", "chain"] = "ovr",
        thresholds: float | Sequence[float] | None = None,
        order: Sequence[int] | None = None,
        random_state: int = 0,
    ) -> None:
        self.estimator = estimator
        self.strategy = strategy
        self.thresholds = thresholds
        self.order = order
        self.random_state = random_state

    def fit(self, X: Any, Y: Any) -> MultiLabelClassifier:
        """Fit on features *X* and a 0/1 indicator matrix *Y* of shape (n_rows, n_labels)."""
        from sklearn.linear_model import LogisticRegression

        if self.strategy not in ("ovr", "chain"):
            raise DataError(f"strategy must be 'ovr' or 'chain'; got {self.strategy!r}.")
        Y = _indicator(Y)
        n_labels = Y.shape[1]
        self.n_labels_ = n_labels
        self.classes_ = [np.array([0, 1]) for _ in range(n_labels)]
        self.thresholds_ = self._thresholds(n_labels)
        counts = Y.sum(axis=0)
        self.constant_ = np.where(counts == 0, 0, np.where(counts == len(Y), 1, -1))
        active = np.flatnonzero(self.constant_ < 0)
        self.active_ = active
        base = self.estimator if self.estimator is not None else LogisticRegression(max_iter=2000)
        self.estimators_: list[Any] = []
        self.chain_: Any = None
        if not len(active):
            return self
        if self.strategy == "ovr":
            self.estimators_ = [clone(base).fit(X, Y[:, j]) for j in active]
        else:
            from sklearn.multioutput import ClassifierChain

            order = self._chain_order(active)
            self.chain_ = ClassifierChain(
                clone(base), order=order, random_state=self.random_state
            ).fit(X, Y[:, active])
        return self

    def _thresholds(self, n_labels: int) -> np.ndarray[Any, Any]:
        t = self.thresholds
        if t is None:
            return np.full(n_labels, 0.5)
        arr = (
            np.full(n_labels, float(t))
            if isinstance(t, int | float)
            else np.asarray(t, dtype=np.float64)
        )
        if arr.shape != (n_labels,) or not np.all((arr >= 0) & (arr <= 1)):
            raise DataError(
                f"thresholds must be one number in [0, 1] or one per label ({n_labels}); got {t!r}."
            )
        return arr

    def _chain_order(self, active: np.ndarray[Any, Any]) -> list[int] | None:
        if self.order is None:
            return None
        pos = {int(j): i for i, j in enumerate(active)}
        return [pos[int(j)] for j in self.order if int(j) in pos]

    def predict_proba(self, X: Any) -> np.ndarray[Any, Any]:
        """Probability of each label, shape (n_rows, n_labels)."""
        check_is_fitted(self, "constant_")
        n = X.shape[0]
        out = np.tile(self.constant_.clip(0, 1).astype(np.float64), (n, 1))
        if self.strategy == "ovr":
            for j, est in zip(self.active_, self.estimators_, strict=True):
                out[:, j] = est.predict_proba(X)[:, 1]
        elif self.chain_ is not None:
            out[:, self.active_] = self.chain_.predict_proba(X)
        return out

    def predict(self, X: Any) -> np.ndarray[Any, Any]:
        """0/1 label matrix: each label's probability against its threshold."""
        return (self.predict_proba(X) >= self.thresholds_).astype(np.int64)


def _indicator(Y: Any) -> np.ndarray[Any, Any]:
    arr = np.asarray(Y.to_numpy() if hasattr(Y, "to_numpy") else Y)
    if arr.ndim != 2 or arr.shape[1] < 1:
        raise DataError(f"Y must be a 0/1 matrix of shape (n_rows, n_labels); got {arr.shape}.")
    if not np.isin(arr, (0, 1)).all():
        raise DataError("Y must hold only 0/1 (or True/False).")
    return arr.astype(np.int64)


def tune_thresholds(Y: Any, P: Any) -> np.ndarray[Any, Any]:
    """Per label, the threshold on *P* that maximises F1 on (validation) labels *Y*.

    The threshold is placed halfway between the lowest score still predicted positive
    and the next lower score, so that it does not sit on a training value. Labels
    without both classes in *Y* keep 0.5.
    """
    from loopml.evaluate.threshold import choose_threshold

    Y = _indicator(Y)
    P = np.asarray(P, dtype=np.float64)
    out = np.full(Y.shape[1], 0.5)
    for j in range(Y.shape[1]):
        y, p = Y[:, j], P[:, j]
        if y.min() == y.max():
            continue
        t = float(choose_threshold(y, p, maximize="f1").threshold)
        lower = p[p < t]
        out[j] = (t + float(lower.max())) / 2 if len(lower) else t
    return out


# -- the result ----------------------------------------------------------------------------------


@dataclass
class MultilabelResult(FitResult):
    """What :func:`train_multilabel` made; shaped like
    :class:`~loopml.learn.supervised.TrainResult` so the same CLI output works."""

    labels: list[str] = field(default_factory=list)
    strategy: str = "ovr"
    thresholds: list[float] = field(default_factory=list)
    per_label: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)
    notes: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    validation: str = "validation split"
    source: str = ""
    report_path: Path | None = None

    @property
    def task(self) -> Task:
        return Task.MULTILABEL

    def _selection_metric(self) -> Metric:
        return selection_metric(self.metric)


# -- training ------------------------------------------------------------------------------------


def train_multilabel(
    data: Any,
    target: str | Sequence[str],
    *,
    delimiter: str = "|",
    strategy: Literal["ovr", "chain", "auto"] = "ovr",
    models: Sequence[str | Candidate] | None = None,
    metric: str = "f1_micro",
    name: str | None = None,
    split_sizes: tuple[float, float, float] | str = (0.7, 0.15, 0.15),
    seed: int = 0,
    roles: dict[str, str] | None = None,
    store: Store | None = None,
    n_jobs: int = 1,
    on_event: EventHandler | None = None,
    report: str | Path | None = None,
) -> MultilabelResult:
    """Train, compare and store a multi-label classifier.

    Parameters
    ----------
    data : path, DataFrame
        Training rows, target included.
    target : str or list of str
        Several 0/1 columns (a list, or ``"urgent,financial"``), or one column of labels
        joined by *delimiter* (``"tags"`` holding ``"urgent|financial"``).
    delimiter : str, default "|"
    strategy : {"ovr", "chain", "auto"}
        One-vs-rest, classifier chain, or both compared on validation.
    models : list of str or Candidate, optional
        Base binary classifiers from the catalogue (default: logreg, random_forest), by
        name (their first portfolio configuration) or as Candidates with parameters.
    metric : str, default "f1_micro"
        Selection metric: any metric of :func:`~loopml.evaluate.evaluate_multilabel`
        (f1_micro, f1_macro, f1_samples, jaccard_samples, subset_accuracy,
        hamming_loss, ...).
    name, split_sizes, seed, roles, store, n_jobs, on_event
        As in :func:`loopml.learn.supervised.train`.
    report : path, optional
        Write the HTML report there.

    Returns
    -------
    MultilabelResult
        ``.model.predict(rows)`` is a 0/1 matrix (``.model.classes`` names the columns),
        ``.model.predict_labels(rows)`` the label lists; ``.per_label`` the test metrics.
    """
    from loopml.data.split import split
    from loopml.evaluate.multilabel import evaluate_multilabel
    from loopml.learn.prepare import load_data
    from loopml.learn.result import best_trial, record_outcome
    from loopml.store import Store

    started = time.monotonic()
    emit = on_event or (lambda kind, payload: None)
    strategies: list[str] = ["ovr", "chain"] if strategy == "auto" else [str(strategy)]
    if any(s not in ("ovr", "chain") for s in strategies):
        raise DataError(f"strategy must be 'ovr', 'chain' or 'auto'; got {strategy!r}.")
    df, where, name = load_data(data, name, emit)
    Y, labels, target_cols, fmt, keep, notes = parse_targets(df, target, delimiter, where)
    df = df.loc[keep].reset_index(drop=True)
    emit("phase", {"phase": "schema"})
    schema = _schema(df, target_cols, fmt, labels, roles, notes)
    check_metric(metric)
    emit("phase", {"phase": "split"})
    frame = df.assign(**{_ROW: np.arange(len(df))})
    sp = split(frame, None, sizes=split_sizes, seed=seed, where=where)
    notes.extend(sp.notes)
    if not len(sp.valid):
        raise DataError(
            "Multi-label training tunes each label's threshold on validation rows; the split "
            f"{list(sp.sizes)} leaves none. Give a validation fraction, e.g. --split 0.7,0.15,0.15."
        )
    rows = {
        k: v[_ROW].to_numpy()
        for k, v in (("train", sp.train), ("valid", sp.valid), ("test", sp.test))
    }
    parts = {k: (getattr(sp, k).drop(columns=[_ROW]), Y[idx]) for k, idx in rows.items()}
    for lab, count in zip(labels, parts["train"][1].sum(axis=0), strict=True):
        if count < 2:
            notes.append(
                f"Label '{lab}' is on {int(count)} training row(s): too few to learn; its "
                "predictions and metrics are unreliable."
            )
    store = store or Store()
    chosen = selection_metric(metric)
    params = {
        "source": where,
        "target": target_cols if fmt == "columns" else target_cols[0],
        "task": "multilabel",
        "labels": labels,
        "format": fmt,
        "delimiter": delimiter,
        "strategy": strategy,
        "metric": metric,
        "models": [str(getattr(m, "model", m)) for m in models or DEFAULT_MODELS],
        "seed": seed,
        "split": list(sp.sizes),
    }
    with store.start_run(name, kind="train", params=params) as run:
        run.set(split=sp.info(), notes=notes)
        trials, fitted = search(parts, schema, models, strategies, metric, seed, n_jobs, run, emit)
        ok = [t for t in trials if t.ok]
        if not ok:
            errors = "; ".join(f"{t.model}: {t.error}" for t in trials[:5])
            raise DataError(f"No candidate model finished training: {errors}.")
        best = best_trial(ok, chosen)
        emit("phase", {"phase": "refit", "model": best.model})
        X_all = pd.concat([parts["train"][0], parts["valid"][0]], ignore_index=True)
        Y_all = np.vstack([parts["train"][1], parts["valid"][1]])
        cand = fitted[best.number]
        thresholds = cand.thresholds
        final = make_pipeline(
            schema, cand.model, cand.params, cand.strategy, seed, n_jobs, thresholds
        )
        quietly(lambda: final.fit(X_all, Y_all))
        emit("phase", {"phase": "evaluate"})
        valid_metrics = dict(cand.valid_metrics)
        X_test, Y_test = parts["test"]
        per_label = pd.DataFrame(index=pd.Index(labels, name="label"))
        test_metrics: dict[str, float | None] = {}
        if len(X_test):
            proba = final.predict_proba(X_test)
            rep = evaluate_multilabel(Y_test, final.predict(X_test), proba, labels)
            test_metrics = {k: finite(v) for k, v in rep.metrics.items()}
            notes.extend(n for n in rep.notes if n not in notes)
            per_label = rep.per_label.copy()
        per_label.insert(0, "threshold", thresholds)
        per_label["train_share"] = parts["train"][1].mean(axis=0)
        record_outcome(run, trials, chosen, best, valid_metrics, test_metrics)
        from loopml.learn.saving import save_bundle

        info = {
            "model": cand.model,
            "params": {"strategy": cand.strategy, **cand.params},
            "metric": metric,
            "refit_on": "train+valid",
            "source": where,
            "split": sp.info(),
            "multilabel": {
                "format": fmt,
                "delimiter": delimiter,
                "labels": labels,
                "targets": target_cols,
                "strategy": cand.strategy,
                "thresholds": thresholds,
            },
        }
        bundle, record = save_bundle(
            store,
            run,
            name=name,
            pipeline=final,
            schema=schema,
            metrics={"valid": valid_metrics, "test": test_metrics},
            info=info,
            notes=notes,
            registry_metrics=test_metrics,
        )
    result = MultilabelResult(
        name=name,
        version=record.version,
        run_id=run.id,
        schema=schema,
        split=sp.info(),
        metric=metric,
        trials=trials,
        best=best,
        metrics=test_metrics,
        valid_metrics=valid_metrics,
        model=bundle,
        labels=labels,
        strategy=cand.strategy,
        thresholds=thresholds,
        per_label=per_label,
        notes=notes,
        source=where,
    )
    from loopml.learn.tasks import finish

    finish(result, report, started, emit)
    return result


def _schema(
    df: pd.DataFrame,
    target_cols: list[str],
    fmt: str,
    labels: list[str],
    roles: dict[str, str] | None,
    notes: list[str],
) -> Schema:
    from loopml.learn.prepare import infer_noting

    schema = infer_noting(df, target_cols, task=None, roles=roles, notes=notes)
    schema.task = Task.MULTILABEL
    schema.classes = list(labels)
    schema.target = ",".join(target_cols) if fmt == "columns" else target_cols[0]
    if not schema.features:
        raise DataError(
            "No usable feature columns: every other column is an identifier, a constant or "
            "empty. Add feature columns or override roles (roles={...})."
        )
    return schema
