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

The steps live in their own modules: :mod:`~loopml.learn.prepare` (load, schema, split),
:mod:`~loopml.learn.selection` (candidates, search, winner), :mod:`~loopml.learn.final`
(refit, evaluation, save), :mod:`~loopml.learn.scores` and :mod:`~loopml.learn.result`.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from loopml.data.schema import Task
from loopml.evaluate.scoring import default_metric, get_metric
from loopml.exceptions import DataError
from loopml.learn.candidates import Candidate, make_plan
from loopml.learn.final import finish_training
from loopml.learn.final import fit_final as fit_final
from loopml.learn.final import save_version as save_version
from loopml.learn.prepare import encode_target as encode_target
from loopml.learn.prepare import prepare_data as prepare_data
from loopml.learn.prepare import schema_summary, source_params
from loopml.learn.result import TrainResult as TrainResult
from loopml.learn.result import leaderboard as leaderboard
from loopml.learn.scores import task_metrics as task_metrics
from loopml.learn.selection import SAVE_OVERHEAD_S as SAVE_OVERHEAD_S
from loopml.learn.selection import (
    check_budgets,
    model_specs,
    pick_searcher,
    run_search,
    scoreable,
    trial_budget,
    warm_imports,
)
from loopml.learn.selection import refit_estimate as refit_estimate

if TYPE_CHECKING:
    from loopml.learn.multilabel import MultilabelResult
    from loopml.learn.prepare import EventHandler
    from loopml.learn.semi import SemiSupervisedResult
    from loopml.store import Store
    from loopml.tune.search import Searcher

__all__ = ["TrainResult", "encode_target", "task_metrics", "train"]

# The ``import x as x`` names above stay importable from here, as before the steps moved
# to their own modules (loopml.retrain, loopml.phases, the CLI and tests import some).


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

    check_budgets(time_budget, n_trials)
    started = time.monotonic()
    deadline = started + time_budget if time_budget is not None else None
    emit = on_event or (lambda kind, payload: None)
    jobs = effective_jobs(n_jobs)
    quick = time_budget is None and n_trials is None and tune is None
    if ensemble is None:
        ensemble = not quick
    # Start worker processes first: the fork server boots while the data loads.
    executor = make_executor(jobs, processes=time_budget is not None, on_idle=warm_imports)
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
        n_rows = len(sp.train) + len(sp.valid)
        specs = scoreable(model_specs(models, task_, n_rows, quick), chosen, task_, prep.notes)
        searcher = pick_searcher(tune, time_budget, n_trials)
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
            run.set(split=sp.info(), notes=prep.notes, schema=schema_summary(prep.schema))
            trials = run_search(
                plan,
                specs,
                chosen,
                seed=seed,
                searcher=searcher,
                n_trials=trial_budget(searcher, specs, n_trials, time_budget),
                deadline=deadline,
                budget=time_budget,
                ensemble=ensemble,
                executor=executor,
                store=store,
                run=run,
                emit=emit,
                started=started,
            )
            executor.close()
            result = finish_training(
                prep,
                plan,
                trials,
                chosen,
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
