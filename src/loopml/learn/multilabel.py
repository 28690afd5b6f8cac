"""Multi-label classification: each row may carry any number of labels.

The target is either several 0/1 columns (``["urgent", "financial"]``) or one column of
labels joined by a delimiter (``"urgent|financial"``). :class:`MultiLabelClassifier`
fits one binary model per label (one-vs-rest) or a classifier chain, and decides each
label with its own threshold; :func:`train_multilabel` runs the whole lifecycle: split,
candidate models, thresholds tuned on validation to maximise each label's F1, refit,
test metrics (per label and averaged, Hamming loss, subset accuracy), bundle and store.

Examples
--------
>>> from loopml.store import Store
>>> result = train_multilabel("tickets.csv", "tags", store=Store.in_memory())  # doctest: +SKIP
>>> result.model.predict_labels(new_tickets)  # doctest: +SKIP
[['urgent'], ['financial', 'urgent'], []]
"""

from __future__ import annotations

import math
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin, clone
from sklearn.utils.validation import check_is_fitted

from loopml.bundle import ModelBundle
from loopml.data.schema import Schema, Task
from loopml.exceptions import DataError

if TYPE_CHECKING:
    from loopml.evaluate.scoring import Metric
    from loopml.learn.candidates import Candidate, TrialResult
    from loopml.store import RunHandle, Store

__all__ = [
    "MultiLabelClassifier",
    "MultilabelResult",
    "parse_targets",
    "train_multilabel",
    "tune_thresholds",
]

EventHandler = Callable[[str, dict[str, Any]], None]
DEFAULT_MODELS = ("logreg", "random_forest")
#: Selection metrics whose smaller values are better; every other metric of
#: :func:`~loopml.evaluate.evaluate_multilabel` is higher-is-better.
LOWER_IS_BETTER = frozenset({"hamming_loss"})
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


# -- targets -------------------------------------------------------------------------------------


def parse_targets(
    df: pd.DataFrame, target: str | Sequence[str], delimiter: str = "|", where: str = "the data"
) -> tuple[np.ndarray[Any, Any], list[str], list[str], str, np.ndarray[Any, Any], list[str]]:
    """Read a multi-label target from *df*.

    Returns ``(Y, labels, target_columns, format, keep, notes)``: the 0/1 matrix, the
    label names, the columns that hold the target, "columns" or "delimited", the mask of
    rows kept (rows missing a 0/1 value are dropped) and notes for the report.
    """
    cols = [str(c) for c in df.columns]
    if isinstance(target, str):
        names = [target] if target in cols else [t.strip() for t in target.split(",") if t.strip()]
    else:
        names = [str(t) for t in target]
    missing = [t for t in names if t not in cols]
    if missing or not names:
        raise DataError(
            f"Target column(s) {', '.join(map(repr, missing or names))} not in {where}. Give "
            "several 0/1 columns (--target urgent,financial) or one column of labels joined "
            f"by '{delimiter}' (--target tags). Columns: {', '.join(cols[:12])}."
        )
    notes: list[str] = []
    if len(names) == 1:
        col = df[names[0]]
        sets: list[list[str]] = []
        n_empty = 0
        for v in col.tolist():
            if v is None or v is pd.NA or (isinstance(v, float) and math.isnan(v)):
                sets.append([])
                n_empty += 1
                continue
            parts = [p.strip() for p in str(v).split(delimiter) if p.strip()]
            n_empty += not parts
            sets.append(parts)
        labels = sorted({lab for s in sets for lab in s})
        if len(labels) < 2:
            raise DataError(
                f"Target '{names[0]}' in {where} holds {len(labels)} distinct label(s) when "
                f"split on '{delimiter}'; multi-label needs at least 2. Check --delimiter, or "
                "train a binary model instead."
            )
        if n_empty:
            notes.append(f"{n_empty} row(s) of '{names[0]}' have no label (an empty label set).")
        index = {lab: j for j, lab in enumerate(labels)}
        Y = np.zeros((len(df), len(labels)), dtype=np.int64)
        for i, s in enumerate(sets):
            for lab in s:
                Y[i, index[lab]] = 1
        return Y, labels, names, "delimited", np.ones(len(df), dtype=bool), notes
    columns = []
    keep = np.ones(len(df), dtype=bool)
    for name in names:
        values = _binary_column(df[name], name, where)
        keep &= ~np.isnan(values)
        columns.append(values)
    dropped = int((~keep).sum())
    if dropped:
        notes.append(
            f"{dropped} row(s) of {where} miss a value in the target columns; they are left out."
        )
    Y = np.column_stack(columns)[keep].astype(np.int64)
    return Y, names, names, "columns", keep, notes


def _binary_column(s: pd.Series, name: str, where: str) -> np.ndarray[Any, Any]:
    if pd.api.types.is_bool_dtype(s) or pd.api.types.is_numeric_dtype(s):
        v = pd.to_numeric(s, errors="coerce").to_numpy(dtype=np.float64)
    else:
        text = s.astype("string").str.strip().str.lower()
        v = (
            text.map({"1": 1.0, "0": 0.0, "true": 1.0, "false": 0.0, "yes": 1.0, "no": 0.0})
            .astype("Float64")
            .to_numpy(dtype=np.float64, na_value=np.nan)
        )
    bad = ~np.isnan(v) & ~np.isin(v, (0.0, 1.0))
    raw_bad = s.notna().to_numpy() & np.isnan(v)
    if bad.any() or raw_bad.any():
        i = int(np.flatnonzero(bad | raw_bad)[0])
        raise DataError(
            f"Target column '{name}' in {where} must hold 0/1 (or true/false, yes/no); row {i} "
            f"has {s.iloc[i]!r}. For one column of joined labels give only that column."
        )
    return v


# -- the result ----------------------------------------------------------------------------------


@dataclass
class MultilabelResult:
    """What :func:`train_multilabel` made; shaped like
    :class:`~loopml.learn.supervised.TrainResult` so the same CLI output works."""

    name: str
    version: int
    run_id: int
    schema: Schema
    split: dict[str, Any]
    metric: str
    trials: list[TrialResult]
    best: TrialResult
    metrics: dict[str, float | None]
    valid_metrics: dict[str, float | None]
    model: ModelBundle = field(repr=False)
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
    def ref(self) -> str:
        return f"{self.name}@{self.version}"

    @property
    def task(self) -> Task:
        return Task.MULTILABEL

    @property
    def leaderboard(self) -> pd.DataFrame:
        """Candidates ranked by validation score (best first)."""
        from loopml.learn.supervised import leaderboard

        return leaderboard(self.trials, _metric(self.metric))


def _metric(name: str) -> Metric:
    from loopml.evaluate.scoring import Metric

    return Metric(name, _no_func, name not in LOWER_IS_BETTER, tasks=("multilabel",))


def _no_func(*_: Any) -> float:  # pragma: no cover - leaderboards only read the direction
    raise NotImplementedError


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
    from loopml.data.io import describe_source, load, source_name
    from loopml.data.split import split
    from loopml.evaluate.multilabel import evaluate_multilabel
    from loopml.store import Store

    started = time.monotonic()
    emit = on_event or (lambda kind, payload: None)
    strategies: list[str] = ["ovr", "chain"] if strategy == "auto" else [str(strategy)]
    if any(s not in ("ovr", "chain") for s in strategies):
        raise DataError(f"strategy must be 'ovr', 'chain' or 'auto'; got {strategy!r}.")
    where = describe_source(data)
    emit("phase", {"phase": "load", "source": where})
    df = load(data)
    name = name or source_name(data)
    Y, labels, target_cols, fmt, keep, notes = parse_targets(df, target, delimiter, where)
    df = df.loc[keep].reset_index(drop=True)
    emit("phase", {"phase": "schema"})
    schema = _schema(df, target_cols, fmt, labels, roles, notes)
    _check_metric(metric)
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
    chosen = _metric(metric)
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
        trials, fitted = _search(parts, schema, models, strategies, metric, seed, n_jobs, run, emit)
        ok = [t for t in trials if t.ok]
        if not ok:
            errors = "; ".join(f"{t.model}: {t.error}" for t in trials[:5])
            raise DataError(f"No candidate model finished training: {errors}.")
        best = sorted(
            ok,
            key=lambda t: (
                -(t.valid_score or 0.0) if chosen.greater_is_better else (t.valid_score or 0.0),
                t.number,
            ),
        )[0]
        emit("phase", {"phase": "refit", "model": best.model})
        X_all = pd.concat([parts["train"][0], parts["valid"][0]], ignore_index=True)
        Y_all = np.vstack([parts["train"][1], parts["valid"][1]])
        cand = fitted[best.number]
        thresholds = cand.thresholds
        final = _pipeline(schema, cand.model, cand.params, cand.strategy, seed, n_jobs, thresholds)
        _quiet(lambda: final.fit(X_all, Y_all))
        emit("phase", {"phase": "evaluate"})
        valid_metrics = dict(cand.valid_metrics)
        X_test, Y_test = parts["test"]
        per_label = pd.DataFrame(index=pd.Index(labels, name="label"))
        test_metrics: dict[str, float | None] = {}
        if len(X_test):
            proba = final.predict_proba(X_test)
            rep = evaluate_multilabel(Y_test, final.predict(X_test), proba, labels)
            test_metrics = {k: _finite(v) for k, v in rep.metrics.items()}
            notes.extend(n for n in rep.notes if n not in notes)
            per_label = rep.per_label.copy()
        per_label.insert(0, "threshold", thresholds)
        per_label["train_share"] = parts["train"][1].mean(axis=0)
        run.log_metrics({k: v for k, v in valid_metrics.items() if v is not None}, prefix="valid_")
        run.log_metrics({k: v for k, v in test_metrics.items() if v is not None}, prefix="test_")
        from loopml.learn.supervised import _board_records, leaderboard

        run.set(
            leaderboard=_board_records(leaderboard(trials, chosen)),
            best={"model": best.model, "trial": best.number},
        )
        from loopml.learn.tasks import save_bundle

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
    from loopml.data.schema import infer_schema

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        schema = infer_schema(df, target=target_cols, task=None, roles=roles)
    notes.extend(str(w.message) for w in caught if issubclass(w.category, UserWarning))
    notes.extend(n for n in schema.notes if n not in notes)
    schema.task = Task.MULTILABEL
    schema.classes = list(labels)
    schema.target = ",".join(target_cols) if fmt == "columns" else target_cols[0]
    if not schema.features:
        raise DataError(
            "No usable feature columns: every other column is an identifier, a constant or "
            "empty. Add feature columns or override roles (roles={...})."
        )
    return schema


def _check_metric(metric: str) -> None:
    from loopml.evaluate.multilabel import evaluate_multilabel

    known = evaluate_multilabel([[1, 0], [0, 1]], [[1, 0], [0, 1]]).metrics
    if metric not in known:
        raise DataError(
            f"Unknown multi-label metric '{metric}'. Choose one of: {', '.join(known)}."
        )


def _finite(v: Any) -> float | None:
    if v is None:
        return None
    f = float(v)
    return f if math.isfinite(f) else None


def _quiet(fit: Callable[[], Any]) -> None:
    # Single-class folds inside base models and convergence chatter are expected here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit()


def _pipeline(
    schema: Schema,
    model: str,
    params: dict[str, Any],
    strategy: str,
    seed: int,
    n_jobs: int,
    thresholds: Sequence[float] | None,
) -> Any:
    from sklearn.pipeline import Pipeline

    from loopml.features.build import build_features
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
class _Fitted:
    """What the refit of a candidate needs."""

    model: str
    strategy: str
    params: dict[str, Any]
    thresholds: list[float]
    valid_metrics: dict[str, float | None]


def _search(
    parts: dict[str, tuple[pd.DataFrame, np.ndarray[Any, Any]]],
    schema: Schema,
    models: Sequence[str | Candidate] | None,
    strategies: list[str],
    metric: str,
    seed: int,
    n_jobs: int,
    run: RunHandle,
    emit: EventHandler,
) -> tuple[list[TrialResult], dict[int, _Fitted]]:
    """Fit every (model, strategy) on the training rows, tune thresholds and score on
    the validation rows."""
    from loopml.learn.candidates import TrialResult
    from loopml.learn.tasks import emit_trial, model_choices
    from loopml.models.catalog import get_model

    started = time.monotonic()
    combos = [(m, p, s) for m, p in model_choices(models, DEFAULT_MODELS) for s in strategies]
    emit("phase", {"phase": "search", "models": [m for m, _, _ in combos], "total": len(combos)})
    trials: list[TrialResult] = []
    fitted: dict[int, _Fitted] = {}
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
        emit_trial(emit, trial, _metric(metric), trials, started)
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
) -> tuple[tuple[float | None, float | None, float, float], _Fitted]:
    from loopml.evaluate.multilabel import evaluate_multilabel

    (X_tr, Y_tr), (X_va, Y_va) = parts["train"], parts["valid"]
    pipe = _pipeline(schema, model, params, strategy, seed, n_jobs, None)
    t0 = time.perf_counter()
    _quiet(lambda: pipe.fit(X_tr, Y_tr))
    fit_time = time.perf_counter() - t0
    t0 = time.perf_counter()
    p_valid = pipe.predict_proba(X_va)
    per_1k = (time.perf_counter() - t0) / max(1, len(X_va)) * 1000
    thresholds = tune_thresholds(Y_va, p_valid)
    valid = evaluate_multilabel(Y_va, (p_valid >= thresholds).astype(np.int64), p_valid).metrics
    p_train = pipe.predict_proba(X_tr)
    train = evaluate_multilabel(Y_tr, (p_train >= thresholds).astype(np.int64), p_train).metrics
    cand = _Fitted(
        model,
        strategy,
        params,
        [round(float(t), 6) for t in thresholds],
        {k: _finite(v) for k, v in valid.items()},
    )
    return (_finite(valid.get(metric)), _finite(train.get(metric)), fit_time, per_1k), cand
