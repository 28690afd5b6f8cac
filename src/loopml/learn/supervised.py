"""Supervised training: data → schema → split → search → best model → refit → test → store.

:func:`train` is the entry point behind ``loopml train`` and ``loopml.train``.

Three modes, by what is given:

- nothing (no ``time_budget``, ``n_trials`` or ``tune``): a quick default — one
  known-good configuration of a few strong families, scored on the validation split;
- ``time_budget`` and/or ``n_trials`` (or ``tune``): the AutoML search of
  :mod:`loopml.tune.automl` — the portfolio of every family, then tuning of the
  best, cross-validated on small data;
- ``models``: the same, restricted to those families.

The time budget covers the whole call: loading, the search, the final refit on
train + validation rows, the test evaluation and saving. The search stops early
enough to leave the estimated refit time free, and candidates run in worker
processes that are killed at their deadline (see :mod:`loopml.tune.executor`).
"""

from __future__ import annotations

import math
import shutil
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

import numpy as np
import pandas as pd

from loopml.bundle import ModelBundle
from loopml.card import render_card
from loopml.data.io import describe_source, load, source_name
from loopml.data.schema import Role, Schema, Task, infer_schema
from loopml.data.split import Split, split
from loopml.data.validate import check_target, drop_missing_target
from loopml.evaluate.scoring import Metric, default_metric, get_metric, metric_names, score
from loopml.exceptions import DataError
from loopml.learn.candidates import (
    Candidate,
    EvalPlan,
    TrialResult,
    build_pipeline,
    jsonable_params,
    make_plan,
)

if TYPE_CHECKING:
    from loopml.evaluate.runs import FitReport
    from loopml.learn.multilabel import MultilabelResult
    from loopml.learn.semi import SemiSupervisedResult
    from loopml.models.catalog import ModelSpec
    from loopml.store import RunHandle, Store
    from loopml.tune.search import Searcher

__all__ = ["TrainResult", "encode_target", "task_metrics", "train"]

EventHandler = Callable[[str, dict[str, Any]], None]

#: Seconds kept free after the search for the test evaluation, saving and registering.
SAVE_OVERHEAD_S = 0.8
#: Seconds a refit needs beyond the estimator's fit (features, pipeline, thread setup).
REFIT_OVERHEAD_S = 0.3
#: Trials of the search when ``tune`` is given without a trial or time budget.
DEFAULT_TUNE_TRIALS = 30


@dataclass
class TrainResult:
    """What :func:`train` made: the stored model, its scores and how it was chosen."""

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
    notes: list[str] = field(default_factory=list)
    duration_s: float = 0.0
    validation: str = ""
    data_split: Split | None = field(default=None, repr=False)
    _diagnosis: Any = field(default=None, repr=False)

    @property
    def diagnosis(self) -> FitReport:
        """Fit diagnosis of the chosen model (over/underfitting, curves, bias-variance).

        Computed on first access, on this run's own train/validation rows.
        """
        if self._diagnosis is None:
            from loopml.evaluate.runs import diagnose_bundle, diagnose_split

            if self.data_split is not None:
                self._diagnosis = diagnose_split(self.model, self.data_split)
            else:
                self._diagnosis = diagnose_bundle(self.model)
        return cast("FitReport", self._diagnosis)

    @property
    def ref(self) -> str:
        """The model reference, e.g. ``"churn@3"``."""
        return f"{self.name}@{self.version}"

    @property
    def task(self) -> Task:
        return self.schema.task or Task.REGRESSION

    @property
    def leaderboard(self) -> pd.DataFrame:
        """Candidates ranked by validation score (best first); failed/pruned ones last."""
        return leaderboard(self.trials, get_metric(self.metric))


def leaderboard(trials: Sequence[TrialResult], metric: Metric) -> pd.DataFrame:
    """Rank, model, validation score ± std, train score, fit time, predict time per 1k rows."""
    board = pd.DataFrame([t.row() for t in trials])
    if board.empty:
        return board
    board.insert(0, "trial", [t.number for t in trials])
    ok = board["valid_score"].notna() & (board["status"] == "complete")
    board = pd.concat(
        [
            board[ok].sort_values(
                ["valid_score", "trial"], ascending=[not metric.greater_is_better, True]
            ),
            board[~ok],
        ]
    ).reset_index(drop=True)
    board.insert(0, "rank", range(1, len(board) + 1))
    return board


def encode_target(y: pd.Series, schema: Schema) -> np.ndarray[Any, Any]:
    """Class labels → indices into ``schema.classes``; regression targets → float64."""
    if schema.task in (Task.BINARY, Task.MULTICLASS):
        classes = schema.classes or []
        codes = pd.Categorical(y, categories=classes).codes
        return np.asarray(codes, dtype=np.int64)
    values = pd.to_numeric(y, errors="coerce")
    if values.isna().any():
        bad = y[values.isna()]
        raise DataError(
            f"Target '{schema.target}' is treated as a number (regression) but "
            f"{len(bad)} rows are not numbers (first: row {bad.index[0]}, value {bad.iloc[0]!r}). "
            "Fix those values, or pass --task multiclass."
        )
    return values.to_numpy(dtype="float64")


def task_metrics(
    task: Task, y: np.ndarray[Any, Any], pred: np.ndarray[Any, Any], proba: Any = None
) -> dict[str, float | None]:
    """Every selection metric that applies to *task*, on encoded labels."""
    out: dict[str, float | None] = {}
    for name in metric_names(str(task)):
        metric = get_metric(name)
        if metric.needs_proba and proba is None:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                value = score(metric, y, y_pred=pred, y_proba=proba)
            out[name] = None if value is None or not np.isfinite(value) else float(value)
        except (ValueError, DataError):
            out[name] = None  # e.g. ROC-AUC with one class present
    return out


# -- data -------------------------------------------------------------------------------------


@dataclass
class Prepared:
    """Loaded, validated and split data, with encoded targets."""

    where: str
    name: str
    target: str
    schema: Schema
    split: Split
    y_train: np.ndarray[Any, Any]
    y_valid: np.ndarray[Any, Any]
    y_test: np.ndarray[Any, Any]
    notes: list[str]

    @property
    def task(self) -> Task:
        return self.schema.task or Task.REGRESSION


def prepare_data(
    data: Any,
    target: str | None,
    *,
    name: str | None = None,
    task: Task | str | None = None,
    roles: dict[str, str] | None = None,
    split_sizes: tuple[float, float, float] | str = (0.7, 0.15, 0.15),
    seed: int = 0,
    time_column: str | None = None,
    group_column: str | None = None,
    schema: Schema | None = None,
    emit: EventHandler | None = None,
) -> Prepared:
    """Load *data*, infer (or reuse) the schema, check the target, split and encode it."""
    emit = emit or (lambda kind, payload: None)
    where = describe_source(data)
    emit("phase", {"phase": "load", "source": where})
    df = load(data)
    name = name or source_name(data)
    if target is None:
        if isinstance(data, str) and data.startswith("builtin:"):
            target = "target"
        else:
            raise DataError(
                f"No target given for {where}. Pass the column to predict with --target "
                f"(columns: {', '.join(map(str, list(df.columns)[:12]))})."
            )
    forced_task = Task(task) if task else None
    check_target(df, target, where, task=forced_task)
    df, note = drop_missing_target(df, target, where)
    notes = [note] if note else []

    emit("phase", {"phase": "schema"})
    if schema is None:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            schema = infer_schema(df, target, task=forced_task, roles=roles)
        notes.extend(str(w.message) for w in caught if issubclass(w.category, UserWarning))
        notes.extend(n for n in schema.notes if n not in notes)
    check_target(df, target, where, task=schema.task)
    _check_task(schema, df[target], where)

    emit("phase", {"phase": "split"})
    sp = split(
        df,
        target,
        sizes=split_sizes,
        seed=seed,
        time_column=time_column,
        group_column=group_column,
        where=where,
    )
    notes.extend(sp.notes)
    return Prepared(
        where,
        name,
        target,
        schema,
        sp,
        encode_target(sp.train[target], schema),
        encode_target(sp.valid[target], schema),
        encode_target(sp.test[target], schema),
        notes,
    )


def source_params(data: Any) -> dict[str, Any]:
    """How to find the training data again (``loopml tune`` reloads it from here)."""
    if isinstance(data, str) and data.startswith("builtin:"):
        return {"source": data}
    if isinstance(data, str | Path):
        return {"source": str(data), "source_path": str(Path(data).resolve())}
    return {"source": describe_source(data)}


# -- training ---------------------------------------------------------------------------------


def train(
    data: Any,
    target: str | list[str] | None = None,
    *,
    name: str | None = None,
    task: Task | str | None = None,
    models: Sequence[str | Candidate] | None = None,
    metric: str | None = None,
    split_sizes: tuple[float, float, float] | str = (0.7, 0.15, 0.15),
    seed: int = 0,
    time_column: str | None = None,
    group_column: str | None = None,
    roles: dict[str, str] | None = None,
    store: Store | None = None,
    n_jobs: int = 1,
    on_event: EventHandler | None = None,
    time_budget: float | None = None,
    n_trials: int | None = None,
    tune: str | Searcher | None = None,
    ensemble: bool | None = None,
    cv: int | str | None = "auto",
    semi_supervised: bool = False,
    delimiter: str = "|",
    threshold: float | str | None = None,
) -> TrainResult | MultilabelResult | SemiSupervisedResult:
    """Train, compare and store a model for *target*.

    Parameters
    ----------
    data : path, DataFrame or "builtin:NAME"
        Training data, target included.
    target : str
        Column to predict (default ``"target"`` for builtin datasets).
    name : str, optional
        Model name in the store (default: the file's stem or builtin's name). Each
        call adds a version.
    task : {"binary", "multiclass", "regression"}, optional
        Override the task inferred from the target.
    models : list, optional
        Families from the catalogue by name or alias (``["lgbm", "svm", "knn"]``; see
        :func:`loopml.models.model_names`), or :class:`Candidate` s with fixed
        parameters. Default: every family for the task with a budget, else a small
        quick set (a linear model, an RBF SVM on small data, a forest, gradient boosting).
    metric : str, optional
        Selection metric (default: ROC-AUC for binary, accuracy or macro-F1 for
        multiclass, RMSE for regression). Its direction is the metric's own.
    split_sizes : (train, valid, test) fractions or "0.7,0.15,0.15"
    seed : int
        Makes the split, the folds, the models and the search reproducible.
    time_column, group_column : str, optional
        Split by time order, or keep groups together (candidates are then scored on
        the validation split, never on shuffled folds).
    roles : dict, optional
        Override inferred column roles, e.g. ``{"zip": "categorical"}``.
    store : Store, optional
        Where runs, trials and models are recorded (default: ``.loopml/`` here).
    n_jobs : int
        Cores to use (-1: all). Candidates run in that many single-threaded workers.
    threshold : float or str, optional
        Binary tasks: the decision threshold stored with the model and used by
        ``predict`` — a number, ``"max f1"`` (or another metric to maximise), or a KPI
        such as ``"recall >= 0.9"`` (the best precision that meets it). Chosen on the
        validation (out-of-fold) predictions, never on the test split.
    on_event : callable, optional
        ``on_event(kind, payload)`` for progress: "phase" ({"phase": ...}), "trial"
        ({"trial", "metric", "best", "elapsed", "budget"}), "done" ({"result"}).
    time_budget : float, optional
        Seconds for the whole call (AutoML search). It ends within about 10 %.
    n_trials : int, optional
        Candidates to evaluate (portfolio included). Without a time budget, the same
        seed and trials give the same leaderboard.
    tune : {"grid", "random", "bayes"} or Searcher, optional
        How the best families are tuned after the portfolio (default with a budget:
        Bayesian optimisation).
    ensemble : bool, optional
        Also try a weighted (soft-)voting ensemble of the top models, kept only if it
        beats the best single model on validation. Default: on with a time budget
        or a trial budget, off for the quick default.
    cv : "auto", int or None
        "auto": k-fold cross-validation up to 10,000 rows, the validation split above.

    Returns
    -------
    TrainResult
        ``.leaderboard`` (a DataFrame), ``.best``, ``.trials``, ``.metrics`` (test).

    Examples
    --------
    >>> from loopml.store import Store
    >>> result = train("builtin:iris", store=Store.in_memory())
    >>> result.task, result.ref
    (<Task.MULTICLASS: 'multiclass'>, 'iris@1')
    """
    if str(task) == "multilabel" or isinstance(target, list | tuple):
        from loopml.learn.multilabel import train_multilabel

        if target is None:
            raise DataError(
                "Multi-label training needs --target: several 0/1 columns "
                "(--target urgent,financial) or one column of joined labels."
            )
        return train_multilabel(
            data,
            target,
            delimiter=delimiter,
            models=models,
            metric=metric or "f1_micro",
            name=name,
            split_sizes=split_sizes,
            seed=seed,
            roles=roles,
            store=store,
            n_jobs=n_jobs,
            on_event=on_event,
        )
    if semi_supervised:
        from loopml.learn.semi import train_semi_supervised

        return train_semi_supervised(
            data,
            target,
            models=models,
            metric=metric,
            name=name,
            task=task,
            split_sizes=split_sizes,
            seed=seed,
            roles=roles,
            store=store,
            n_jobs=n_jobs,
            on_event=on_event,
        )
    if isinstance(target, list | tuple):  # narrowed above; keeps the type checker informed
        raise DataError("Several target columns mean a multi-label task.")
    from loopml.store import Store
    from loopml.tune.executor import effective_jobs, make_executor

    if time_budget is not None and not (time_budget > 0 and math.isfinite(time_budget)):
        raise DataError(f"--time-budget must be a positive number of seconds; got {time_budget}.")
    if n_trials is not None and n_trials < 1:
        raise DataError(f"--trials must be at least 1; got {n_trials}.")
    started = time.monotonic()
    deadline = started + time_budget if time_budget is not None else None
    emit = on_event or (lambda kind, payload: None)
    jobs = effective_jobs(n_jobs)
    quick = time_budget is None and n_trials is None and tune is None
    if ensemble is None:
        ensemble = not quick
    # Start worker processes first: the fork server boots while the data loads.
    executor = make_executor(jobs, processes=time_budget is not None, on_idle=_warm_imports)
    try:
        prep = prepare_data(
            data,
            target,
            name=name,
            task=task,
            roles=roles,
            split_sizes=split_sizes,
            seed=seed,
            time_column=time_column,
            group_column=group_column,
            emit=emit,
        )
        task_ = prep.task
        sp = prep.split
        chosen = (
            get_metric(metric, str(task_)) if metric else default_metric(str(task_), prep.y_train)
        )
        specs = _specs(models, task_, len(sp.train) + len(sp.valid), quick)
        for s in specs:
            if chosen.needs_proba and task_ != Task.REGRESSION and not s.proba:
                prep.notes.append(
                    f"Model '{s.name}' has no probabilities; it cannot be scored with "
                    f"{chosen.name} and is skipped."
                )
        specs = [s for s in specs if s.proba or not chosen.needs_proba or task_ == Task.REGRESSION]
        if not specs:
            raise DataError(
                f"No candidate model can be scored with {chosen.name}. Choose models with "
                "probabilities, or another --metric."
            )
        searcher = _searcher(tune, time_budget, n_trials)
        trials_budget = n_trials
        if trials_budget is None and time_budget is None and searcher is not None:
            if searcher.name != "grid":
                trials_budget = sum(len(s.portfolio) for s in specs) + DEFAULT_TUNE_TRIALS
        plan = make_plan(
            prep.schema,
            sp.train,
            prep.y_train,
            sp.valid,
            prep.y_valid,
            seed=seed,
            cv=None if quick and len(sp.valid) else cv,
            strategy=sp.strategy,
        )
        executor.set_plan(plan)
        store = store or Store()
        params = {
            **source_params(data),
            "target": prep.target,
            "task": str(task_),
            "metric": chosen.name,
            "seed": seed,
            "split": list(sp.sizes),
            "time_column": time_column,
            "group_column": group_column,
            "models": [s.name for s in specs],
            "time_budget": time_budget,
            "n_trials": n_trials,
            "tune": searcher.name if searcher else None,
            "ensemble": ensemble,
            "validation": plan.describe(),
            "n_jobs": jobs,
        }
        with store.start_run(prep.name, kind="train", params=params) as run:
            run.set(split=sp.info(), notes=prep.notes, schema=_schema_summary(prep.schema))
            trials = _search(
                plan,
                specs,
                chosen,
                seed=seed,
                searcher=searcher,
                n_trials=trials_budget,
                deadline=deadline,
                budget=time_budget,
                quick=quick,
                ensemble=ensemble,
                executor=executor,
                store=store,
                run=run,
                emit=emit,
                started=started,
            )
            executor.close()
            result = _finish(
                prep,
                plan,
                trials,
                chosen,
                specs,
                ensemble=ensemble,
                seed=seed,
                n_jobs=jobs,
                store=store,
                run=run,
                emit=emit,
                started=started,
                deadline=deadline,
                info_extra={"validation": plan.describe(), "source_params": source_params(data)},
                threshold=threshold,
            )
    finally:
        executor.close()
    emit("done", {"result": result})
    return result


def _warm_imports() -> None:
    """Import what saving a bundle needs, in a thread, while workers search: skops alone
    takes a second or two to import, which the time budget would otherwise pay at the end."""
    import threading

    def work() -> None:
        try:
            import skops.io  # noqa: F401
        except ImportError:  # pragma: no cover - a missing skops fails later, clearly
            pass

    threading.Thread(target=work, name="loopml-warm-imports", daemon=True).start()


def _specs(
    models: Sequence[str | Candidate] | None, task: Task, n_rows: int, quick: bool
) -> list[ModelSpec]:
    from dataclasses import replace

    from loopml.models.catalog import default_models, get_model

    if not models:
        names: list[str | Candidate] = list(default_models(task, n_rows, quick=quick))
    else:
        names = list(models)
    out: dict[str, ModelSpec] = {}
    fixed: set[str] = set()  # families given as Candidates: only their configurations run
    for m in names:
        if isinstance(m, Candidate):
            spec = get_model(m.model, task)
            spec.check_params(m.params)
            configs = out[spec.name].portfolio if spec.name in fixed else ()
            out[spec.name] = replace(spec, portfolio=(*configs, dict(m.params)))
            fixed.add(spec.name)
        else:
            spec = get_model(str(m), task)
            out.setdefault(
                spec.name, replace(spec, portfolio=spec.portfolio[:1]) if quick else spec
            )
    return list(out.values())


def _searcher(
    tune: str | Searcher | None, budget: float | None, trials: int | None
) -> Searcher | None:
    from loopml.tune.search import BayesSearch, get_searcher

    if tune is not None:
        return get_searcher(tune)
    if budget is not None or trials is not None:
        return BayesSearch()
    return None


def _search(
    plan: EvalPlan,
    specs: list[ModelSpec],
    metric: Metric,
    *,
    seed: int,
    searcher: Searcher | None,
    n_trials: int | None,
    deadline: float | None,
    budget: float | None,
    quick: bool,
    ensemble: bool,
    executor: Any,
    store: Store,
    run: RunHandle,
    emit: EventHandler,
    started: float,
) -> list[TrialResult]:
    from loopml.tune.automl import AutoSearch, SearchSettings

    n_all = len(plan.X)
    search: AutoSearch

    def on_result(trial: TrialResult) -> None:
        store.log_trial(run.id, **trial.store_record())
        emit(
            "trial",
            {
                "trial": trial,
                "metric": metric,
                "best": search.best(),
                "elapsed": time.monotonic() - started,
                "budget": budget,
                "n_trials": n_trials,
            },
        )

    def on_phase(phase: str, payload: dict[str, Any]) -> None:
        emit("phase", {"phase": phase, **payload, "validation": plan.describe()})

    def reserve(results: list[TrialResult]) -> float:
        ok = sorted((t for t in results if t.ok), key=_key(metric))
        if not ok:
            return SAVE_OVERHEAD_S
        need = refit_estimate(ok[0], plan, n_all)
        if ensemble:
            need += sum(refit_estimate(t, plan, n_all) for t in ok[1:4])
        return need + SAVE_OVERHEAD_S + (0.02 * budget if budget else 0.0)

    settings = SearchSettings(
        models=specs,
        metric=metric,
        seed=seed,
        searcher=searcher,
        n_trials=n_trials,
        deadline=deadline,
        budget=budget,
        sync=deadline is None,
    )
    search = AutoSearch(settings, executor, on_result=on_result, on_phase=on_phase, reserve=reserve)
    emit(
        "phase",
        {
            "phase": "search",
            "models": [s.name for s in specs],
            "total": n_trials,
            "budget": budget,
            "validation": plan.describe(),
        },
    )
    return search.run()


def _key(metric: Metric) -> Callable[[TrialResult], tuple[float, int]]:
    from loopml.tune.automl import rank_key

    return rank_key(metric)


def refit_estimate(trial: TrialResult, plan: EvalPlan, n_rows: int) -> float:
    """Seconds a refit of *trial* on *n_rows* rows should take (a generous estimate)."""
    ratio = max(1.0, n_rows / max(plan.n_fit_rows, 1))
    predict = (trial.predict_time_per_1k or 0.0) * n_rows / 1000
    return float(1.5 * trial.fit_time * ratio**1.3 + predict + REFIT_OVERHEAD_S)


def _choose(
    trials: list[TrialResult],
    plan: EvalPlan,
    metric: Metric,
    *,
    ensemble: bool,
    deadline: float | None,
) -> tuple[TrialResult, list[tuple[TrialResult, int]]]:
    """The winner — the best single model, or an ensemble that beats it — as a
    (leaderboard row, members with weights) pair; only what can be refit in time."""
    ok = sorted((t for t in trials if t.ok), key=_key(metric))
    if not ok:
        errors = "; ".join(f"{t.model}: {t.status} ({t.error})" for t in trials[:8])
        raise DataError(
            "No candidate model finished training"
            + (f": {errors}." if errors else ".")
            + (" Give a larger --time-budget." if deadline is not None else "")
        )
    n_all = len(plan.X)
    left = (deadline - time.monotonic() - SAVE_OVERHEAD_S) if deadline is not None else math.inf
    if ensemble:
        from loopml.tune.ensemble import select_ensemble

        choice = select_ensemble(ok, plan, metric)
        if choice is not None:
            cost = sum(refit_estimate(t, plan, n_all) for t, _ in choice.members)
            if cost <= left:
                row = choice.as_trial(max(t.number for t in trials) + 1)
                return row, choice.members
    for t in ok:
        if refit_estimate(t, plan, n_all) <= left:
            return t, [(t, 1)]
    return ok[0], [(ok[0], 1)]  # nothing fits: keep the promise as well as we can


def fit_final(
    members: list[tuple[TrialResult, int]],
    plan: EvalPlan,
    *,
    seed: int,
    n_jobs: int,
) -> Any:
    """Refit the winner (or the ensemble's members) on every row of *plan*."""
    from threadpoolctl import threadpool_limits

    from loopml.models.catalog import get_model

    task = plan.task
    pipes = [
        (
            f"{t.model}_{t.number}",
            build_pipeline(
                get_model(t.model, task), plan.schema, t.params, seed=seed, n_jobs=n_jobs
            ),
            w,
        )
        for t, w in members
    ]
    if len(pipes) == 1:
        model: Any = pipes[0][1]
    else:
        from loopml.tune.ensemble import make_voting

        model = make_voting(pipes, classification=plan.n_classes > 0)
    with warnings.catch_warnings(), threadpool_limits(limits=n_jobs):
        warnings.simplefilter("ignore")
        model.fit(plan.X, plan.y)
    return model


def _finish(
    prep: Prepared,
    plan: EvalPlan,
    trials: list[TrialResult],
    metric: Metric,
    specs: list[ModelSpec],
    *,
    ensemble: bool,
    seed: int,
    n_jobs: int,
    store: Store,
    run: RunHandle,
    emit: EventHandler,
    started: float,
    deadline: float | None,
    info_extra: dict[str, Any],
    threshold: float | str | None = None,
) -> TrainResult:
    if ensemble:
        emit("phase", {"phase": "ensemble"})
    best, members = _choose(trials, plan, metric, ensemble=ensemble, deadline=deadline)
    if best.phase == "ensemble":
        trials = [*trials, best]
        store.log_trial(run.id, **best.store_record(phase="ensemble"))
    emit("phase", {"phase": "refit", "model": best.model})
    final = fit_final(members, plan, seed=seed, n_jobs=n_jobs)
    emit("phase", {"phase": "evaluate"})
    choice = _threshold(threshold, best, plan, prep)
    cut = choice["threshold"] if choice else None
    valid_metrics = _valid_metrics(best, plan, cut)
    test_metrics = _evaluate(final, prep.split.test, prep.y_test, prep.task, cut)
    run.log_metrics({k: v for k, v in valid_metrics.items() if v is not None}, prefix="valid_")
    run.log_metrics({k: v for k, v in test_metrics.items() if v is not None}, prefix="test_")
    board = leaderboard(trials, metric)
    run.set(leaderboard=_board_records(board), best={"model": best.model, "trial": best.number})
    info = {
        "model": best.model,
        "params": jsonable_params(best.params),
        "metric": metric.name,
        "refit_on": "train+valid",
        **info_extra,
    }
    if choice:
        info["threshold"] = choice["threshold"]
        info["threshold_choice"] = choice
    bundle, record = save_version(
        store,
        run,
        prep,
        final,
        info=info,
        valid_metrics=valid_metrics,
        test_metrics=test_metrics,
    )
    return TrainResult(
        name=prep.name,
        version=record.version,
        run_id=run.id,
        schema=prep.schema,
        split=prep.split.info(),
        metric=metric.name,
        trials=trials,
        best=best,
        metrics=test_metrics,
        valid_metrics=valid_metrics,
        model=bundle,
        notes=prep.notes,
        duration_s=time.monotonic() - started,
        validation=plan.describe(),
        data_split=prep.split,
    )


def _valid_metrics(
    best: TrialResult, plan: EvalPlan, cut: float | None = None
) -> dict[str, float | None]:
    """Every metric on the rows the winner was scored on (out-of-fold under CV)."""
    if best.predictions is None:
        return {}
    pred = np.asarray(best.predictions, dtype="float64")
    if plan.n_classes:
        if pred.ndim == 2:
            pred = pred / np.clip(pred.sum(axis=1, keepdims=True), 1e-12, None)
            labels = _decide(pred, cut)
            return task_metrics(plan.task, plan.y_scored, labels, pred)
        return task_metrics(plan.task, plan.y_scored, pred.astype(np.int64), None)
    return task_metrics(plan.task, plan.y_scored, pred, None)


def _board_records(board: pd.DataFrame) -> list[dict[str, Any]]:
    rows = []
    for rec in board.to_dict(orient="records"):
        rec["params"] = jsonable_params(dict(rec.get("params") or {}))
        rows.append(
            {
                str(k): (None if isinstance(v, float) and not math.isfinite(v) else v)
                for k, v in rec.items()
            }
        )
    return rows


def save_version(
    store: Store,
    run: RunHandle,
    prep: Prepared,
    final: Any,
    *,
    info: dict[str, Any],
    valid_metrics: dict[str, float | None],
    test_metrics: dict[str, float | None],
) -> tuple[ModelBundle, Any]:
    """Save the bundle under the store's artifact root and register the next version."""
    name = prep.name
    full_info = {
        "name": name,
        "task": str(prep.task),
        "target": prep.target,
        "run_id": run.id,
        "source": prep.where,
        "split": prep.split.info(),
        "trained_at": pd.Timestamp.now(tz="UTC").isoformat(),
        **info,
    }
    bundle = ModelBundle(
        final, prep.schema, metrics={"valid": valid_metrics, "test": test_metrics}, info=full_info
    )
    bundle.card = render_card(bundle, notes=prep.notes)
    path = Path(store.artifact_root) / name / f"run-{run.id}"
    bundle.save(path)
    try:
        record = store.register_model(
            name,
            run_id=run.id,
            path=str(path.resolve()),
            sha256=bundle.sha256 or "",
            task=str(prep.task),
            metrics=test_metrics,
            info={"model": info.get("model"), "metric": info.get("metric"), "target": prep.target},
        )
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise
    bundle.info["version"] = record.version
    run.set(model={"name": name, "version": record.version, "path": str(path)})
    return bundle, record


def _check_task(schema: Schema, y: pd.Series, where: str) -> None:
    if schema.task == Task.REGRESSION and not pd.api.types.is_numeric_dtype(y):
        parsed = pd.to_numeric(y, errors="coerce")
        if parsed.isna().mean() > 0.5:
            raise DataError(
                f"Target '{schema.target}' in {where} is text, so it cannot be a regression "
                "target. Drop --task regression, or use --task multiclass."
            )
    if schema.task in (Task.CLUSTERING, Task.ANOMALY, Task.RULES, Task.MULTILABEL):
        raise DataError(
            f"Task '{schema.task}' is not trained with `train`; use the matching command "
            "(cluster, anomalies, rules)."
        )


def _evaluate(
    pipe: Any, X: pd.DataFrame, y: np.ndarray[Any, Any], task: Task, cut: float | None = None
) -> dict[str, float | None]:
    if len(X) == 0:
        return {}
    pred = pipe.predict(X)
    proba = None
    if task in (Task.BINARY, Task.MULTICLASS) and hasattr(pipe, "predict_proba"):
        proba = pipe.predict_proba(X)
        if cut is not None:
            pred = _decide(proba, cut)
    return task_metrics(task, y, pred, proba)


def _decide(proba: np.ndarray[Any, Any], cut: float | None) -> np.ndarray[Any, Any]:
    """Class indices: argmax, or for binary tasks ``p(positive) >= cut``."""
    if cut is not None and proba.shape[1] == 2:
        return np.asarray(proba[:, 1] >= cut, dtype=np.int64)
    return np.asarray(np.argmax(proba, axis=1), dtype=np.int64)


def _threshold(
    spec: float | str | None, best: TrialResult, plan: EvalPlan, prep: Prepared
) -> dict[str, Any] | None:
    """The decision threshold asked for, chosen on the winner's held-out predictions."""
    if spec is None:
        return None
    if prep.task != Task.BINARY:
        raise DataError(
            f"--threshold applies to binary tasks; this one is {prep.task}. Drop --threshold."
        )
    if isinstance(spec, int | float) or str(spec).replace(".", "", 1).isdigit():
        value = float(spec)
        if not 0.0 <= value <= 1.0:
            raise DataError(f"--threshold must be between 0 and 1; got {value}.")
        return {"threshold": value, "objective": "given", "constraint": None}
    from loopml.evaluate.threshold import choose_threshold

    pred = None if best.predictions is None else np.asarray(best.predictions, dtype="float64")
    if pred is None or pred.ndim != 2:
        raise DataError(
            f"Model '{best.model}' gives no class probabilities, so a threshold cannot be "
            "chosen; pass a number, or pick a model with probabilities."
        )
    text = str(spec).strip()
    constraint = text if any(op in text for op in ("<", ">", "=")) else None
    maximize = None if constraint else text.removeprefix("max").strip() or "f1"
    choice = choose_threshold(plan.y_scored, pred[:, 1], maximize=maximize, constraint=constraint)
    out = choice.to_dict()
    out["threshold"] = float(choice.threshold)
    return out


def _schema_summary(schema: Schema) -> dict[str, Any]:
    roles: dict[str, int] = {}
    for c in schema.columns:
        roles[str(c.role)] = roles.get(str(c.role), 0) + 1
    return {
        "task": str(schema.task),
        "target": schema.target,
        "classes": schema.classes,
        "roles": roles,
        "n_features": len(schema.features),
        "excluded": [c.name for c in schema.columns if not c.role.is_feature],
        "datetime": schema.by_role(Role.DATETIME),
    }
