"""Retune a stored model version: ``loopml tune churn@3 --search grid --param C=0.1,1,10``.

The version's model family is tuned on the data it was trained on (its run
records the source; ``builtin:`` sources reload offline) or on ``data=``, split
the same way (same seed and fractions), with the same selection metric. The
stored configuration is re-scored under the same protocol as the trials, so the
comparison is fair; a new version is registered only if the best trial beats it.

The Optuna study lives in the store's database (``RDBStorage(store.url)``) under
a name derived from the model reference, e.g. ``loopml-tune:churn@3``:
``resume=True`` continues it, and several processes — or machines pointed at one
PostgreSQL URL — running the same command with ``resume=True`` tune it together.

This module turns the stored version into what to tune (family, space, fixed
parameters, metric, data); :mod:`~loopml.tune.study` opens the study,
:mod:`~loopml.tune.trials` runs it and :mod:`~loopml.tune.outcome` registers the winner.

Examples
--------
>>> from loopml.store import Store
>>> import loopml
>>> store = Store.in_memory()
>>> _ = loopml.train("builtin:iris", models=["svm"], store=store)
>>> result = tune_model("iris@1", search="grid", params={"C": [0.1, 1.0, 10.0]},
...                     store=store)
>>> len(result.trials)
3
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.exceptions import DataError
from loopml.tune.outcome import TuneResult, conclude
from loopml.tune.search import Searcher, get_searcher
from loopml.tune.space import Choice, Param, parse_params
from loopml.tune.study import open_study, study_name_for, study_storage
from loopml.tune.trials import log_trial, run_trials, score_baseline

if TYPE_CHECKING:
    from loopml.learn.prepare import EventHandler
    from loopml.models.catalog import ModelSpec
    from loopml.store import Store

__all__ = ["TuneResult", "study_name_for", "study_storage", "tune_model"]

#: Trials when neither a trial count nor a time budget is given (grid: the whole grid).
DEFAULT_TRIALS = 20
#: Parameters set by early stopping: retuning lets early stopping choose them again.
_EARLY_STOPPED = {
    "lightgbm": "n_estimators",
    "xgboost": "n_estimators",
    "hgb": "max_iter",
    "mlp": "epochs",
}


def tune_model(
    ref: str,
    *,
    search: str | Searcher = "bayes",
    params: Mapping[str, Any] | Iterable[str] | None = None,
    n_trials: int | None = None,
    time_budget: float | None = None,
    data: Any = None,
    store: Store | None = None,
    metric: str | None = None,
    resume: bool = False,
    study_name: str | None = None,
    model: str | None = None,
    seed: int = 0,
    n_jobs: int = 1,
    on_event: EventHandler | None = None,
) -> TuneResult:
    """Tune the model family of stored version *ref*; register a new version if it is better.

    Parameters
    ----------
    ref : str
        A stored model, e.g. ``"churn@3"`` (``"churn"`` is the latest version).
    search : {"grid", "random", "bayes"} or Searcher
    params : dict or list of "NAME=VALUES", optional
        The space: ``{"C": [0.1, 1, 10], "alpha": Float(1e-3, 10, log=True)}`` or
        ``["C=0.1,1,10", "alpha=0.001:10:log"]``. Default: the family's catalogue
        space (its grid for grid search). Parameters not searched keep their stored values.
    n_trials : int, optional
        Trials to run in this call (default: the whole grid, or 20).
    time_budget : float, optional
        Seconds for this call, the final refit included.
    data : path or DataFrame, optional
        Data to tune on (default: the data the version was trained on).
    resume : bool
        Continue (or join) the stored study of the same name instead of failing
        when it exists.
    study_name : str, optional
        Default ``loopml-tune:NAME@VERSION``.
    model : str, optional
        The family to tune when the version is an ensemble.

    Returns
    -------
    TuneResult
    """
    from loopml.bundle import load_model
    from loopml.evaluate.scoring import get_metric
    from loopml.learn.candidates import make_plan
    from loopml.learn.prepare import prepare_data
    from loopml.learn.selection import check_budgets, warm_imports
    from loopml.models.catalog import get_model
    from loopml.store import Store
    from loopml.tune.executor import effective_jobs, make_executor

    check_budgets(time_budget, n_trials)
    started = time.monotonic()
    deadline = started + time_budget if time_budget is not None else None
    emit = on_event or (lambda kind, payload: None)
    store = store or Store()
    searcher = get_searcher(search)
    record = store.resolve(ref)
    bundle = load_model(f"{record.name}@{record.version}", store=store)
    info = bundle.info
    run_params = store.get_run(int(info["run_id"])).params if info.get("run_id") else {}
    family = model or str(info.get("model", ""))
    if family == "ensemble" or not family:
        raise DataError(
            f"{record.name}@{record.version} is an ensemble; tune one of its families with "
            "--model NAME (e.g. --model lightgbm)."
        )
    task = bundle.task
    spec = get_model(family, task)
    stored = dict(info.get("params") or {}) if spec.name == info.get("model") else {}
    space, fixed = _space_and_fixed(spec, stored, params, searcher)
    chosen = (
        get_metric(metric or str(info.get("metric") or ""), str(task))
        if (metric or info.get("metric"))
        else None
    )
    if chosen is None:
        from loopml.evaluate.scoring import default_metric

        chosen = default_metric(str(task))
    source = data if data is not None else _source(run_params, info, ref)
    split_info = info.get("split") or {}
    jobs = effective_jobs(n_jobs)
    executor = make_executor(jobs, processes=time_budget is not None, on_idle=warm_imports)
    cleanup: list[Any] = []
    try:
        prep = prepare_data(
            source,
            bundle.schema.target,
            name=record.name,
            schema=bundle.schema,
            split_sizes=tuple(
                run_params.get("split") or split_info.get("sizes") or (0.7, 0.15, 0.15)
            ),  # type: ignore[arg-type]
            seed=int(run_params.get("seed", split_info.get("seed", 0))),
            time_column=run_params.get("time_column"),
            group_column=run_params.get("group_column"),
            emit=emit,
        )
        sp = prep.split
        plan = make_plan(
            prep.schema,
            sp.train,
            prep.y_train,
            sp.valid,
            prep.y_valid,
            seed=seed,
            strategy=sp.strategy,
        )
        executor.set_plan(plan)
        name = study_name or study_name_for(record.name, record.version)
        storage = study_storage(store)
        cleanup.append(storage)
        study, n_before = open_study(
            name,
            storage,
            space=space,
            searcher=searcher,
            metric=chosen,
            seed=seed,
            resume=resume,
        )
        size = searcher.size(space)
        # Not learn.selection.trial_budget (train's portfolio plus 30): there is no
        # portfolio here, and a grid's size is known up front.
        trials_budget = n_trials
        if trials_budget is None and deadline is None:
            trials_budget = size if size is not None else DEFAULT_TRIALS
        run_params_out = {
            "ref": f"{record.name}@{record.version}",
            "model": spec.name,
            "search": searcher.name,
            "study": name,
            "space": {k: repr(v) for k, v in space.items()},
            "n_trials": n_trials,
            "time_budget": time_budget,
            "metric": chosen.name,
            "source": str(source) if isinstance(source, str | Path) else "the DataFrame",
            "validation": plan.describe(),
            "resume": resume,
        }
        with store.start_run(record.name, kind="tune", params=run_params_out) as run:
            emit("phase", {"phase": "baseline", "model": spec.name})
            baseline = score_baseline(executor, spec, stored, chosen, seed=seed, deadline=deadline)
            log_trial(store, run.id, baseline, number=0)
            emit(
                "phase",
                {"phase": "tune", "model": spec.name, "search": searcher.name, "study": name},
            )
            trials = run_trials(
                study,
                spec,
                space,
                fixed,
                chosen,
                executor,
                searcher=searcher,
                seed=seed,
                n_trials=trials_budget,
                deadline=deadline,
                size=size,
                plan=plan,
                budget=time_budget,
                store=store,
                run_id=run.id,
                emit=emit,
                started=started,
                baseline=baseline,
            )
            executor.close()
            return conclude(
                study,
                baseline,
                trials,
                chosen,
                spec,
                fixed,
                plan,
                prep,
                store,
                run,
                record=record,
                searcher=searcher,
                name=name,
                n_before=n_before,
                seed=seed,
                n_jobs=jobs,
                started=started,
                emit=emit,
            )
    finally:
        executor.close()
        for storage in cleanup:  # release the RDB storage's connections
            engine = getattr(storage, "engine", None)
            if engine is not None:
                engine.dispose()


def _space_and_fixed(
    spec: ModelSpec,
    stored: Mapping[str, Any],
    params: Mapping[str, Any] | Iterable[str] | None,
    searcher: Searcher,
) -> tuple[dict[str, Param], dict[str, Any]]:
    """The space to search (*params*, else the family's) and the stored values of the
    other parameters, less the one early stopping sets."""
    from loopml.tune.automl import family_space

    user = parse_params(params)
    space = searcher.space(user) if user else family_space(spec, searcher)
    if not space:
        raise DataError(
            f"Model '{spec.name}' has no default search space; give one with "
            "--param NAME=VALUES (e.g. --param alpha=0.001:10:log)."
        )
    probe = {k: (p.values[0] if isinstance(p, Choice) else p.low) for k, p in space.items()}
    spec.check_params(probe)
    fixed = {k: v for k, v in stored.items() if k not in space}
    early = _EARLY_STOPPED.get(spec.name)
    if early and early not in space:
        fixed.pop(early, None)
    return space, fixed


def _source(run_params: Mapping[str, Any], info: Mapping[str, Any], ref: str) -> Any:
    """The data the version was trained on, from its run's record."""
    path = run_params.get("source_path")
    if path and Path(path).exists():
        return path
    src = run_params.get("source") or info.get("source")
    if isinstance(src, str) and (src.startswith("builtin:") or Path(src).exists()):
        return src
    raise DataError(
        f"Cannot find the data {ref} was trained on ({src or 'unknown'}). Pass it with --data FILE."
    )
