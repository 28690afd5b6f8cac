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

import math
import time
import weakref
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from loopml.exceptions import DataError
from loopml.learn.candidates import TrialResult
from loopml.tune.search import GridSearch, Searcher, direction, get_searcher, make_pruner
from loopml.tune.space import Choice, Param, parse_params, suggest

if TYPE_CHECKING:
    import optuna
    import pandas as pd

    from loopml.store import Store

__all__ = ["TuneResult", "study_name_for", "study_storage", "tune_model"]

EventHandler = Callable[[str, dict[str, Any]], None]

#: Trials when neither a trial count nor a time budget is given (grid: the whole grid).
DEFAULT_TRIALS = 20
#: Parameters set by early stopping: retuning lets early stopping choose them again.
_EARLY_STOPPED = {
    "lightgbm": "n_estimators",
    "xgboost": "n_estimators",
    "hgb": "max_iter",
    "mlp": "epochs",
}


@dataclass
class TuneResult:
    """What :func:`tune_model` did: the study, its trials, and the new version if any."""

    ref: str
    model: str
    metric: str
    search: str
    study_name: str
    run_id: int
    baseline: TrialResult
    trials: list[TrialResult]
    best_params: dict[str, Any] | None
    best_score: float | None
    improved: bool
    new_version: int | None = None
    name: str = ""
    n_study_trials: int = 0
    duration_s: float = 0.0
    notes: list[str] = field(default_factory=list)
    test_metrics: dict[str, float | None] = field(default_factory=dict)

    @property
    def new_ref(self) -> str | None:
        return f"{self.name}@{self.new_version}" if self.new_version is not None else None

    @property
    def leaderboard(self) -> pd.DataFrame:
        """This session's trials and the stored version ("baseline"), best first."""
        from loopml.evaluate.scoring import get_metric
        from loopml.learn.supervised import leaderboard

        return leaderboard([self.baseline, *self.trials], get_metric(self.metric))


def study_name_for(name: str, version: int) -> str:
    """The default study name of a tuning job on ``name@version``."""
    return f"loopml-tune:{name}@{version}"


_MEMORY_STUDIES: weakref.WeakKeyDictionary[Store, Any] = weakref.WeakKeyDictionary()


def study_storage(store: Store) -> Any:
    """Optuna storage on the store's database (studies of an in-memory store stay in memory)."""
    import optuna

    if store.url in ("sqlite://", "sqlite:///:memory:"):
        # Optuna cannot share the store's single in-memory connection: keep the
        # studies in memory beside the store, for as long as the store lives.
        storage = _MEMORY_STUDIES.get(store)
        if storage is None:
            storage = _MEMORY_STUDIES[store] = optuna.storages.InMemoryStorage()
        return storage
    from sqlalchemy.exc import SQLAlchemyError

    for attempt in range(4):
        try:
            return optuna.storages.RDBStorage(store.url)
        except SQLAlchemyError:
            # Two processes creating Optuna's tables at once: one loses, then finds them.
            if attempt == 3:
                raise
            time.sleep(0.2 * (attempt + 1))
    raise AssertionError("unreachable")  # pragma: no cover


def _space_and_fixed(
    spec: Any,
    stored: Mapping[str, Any],
    params: Mapping[str, Any] | Iterable[str] | None,
    searcher: Searcher,
) -> tuple[dict[str, Param], dict[str, Any]]:
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
    import optuna

    from loopml.bundle import load_model
    from loopml.evaluate.scoring import get_metric
    from loopml.learn.candidates import make_plan
    from loopml.learn.supervised import _warm_imports, fit_final, prepare_data, save_version
    from loopml.models.catalog import get_model
    from loopml.store import Store
    from loopml.tune.executor import Job, effective_jobs, make_executor

    if time_budget is not None and not (time_budget > 0 and math.isfinite(time_budget)):
        raise DataError(f"--time-budget must be a positive number of seconds; got {time_budget}.")
    if n_trials is not None and n_trials < 1:
        raise DataError(f"--trials must be at least 1; got {n_trials}.")
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
    executor = make_executor(jobs, processes=time_budget is not None, on_idle=_warm_imports)
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
        exists = name in optuna.study.get_all_study_names(storage)
        if exists and not resume:
            raise DataError(
                f"A tuning study '{name}' already exists in the store. Continue it with "
                "--resume, or start another with --study NAME."
            )
        study = optuna.load_study(study_name=name, storage=storage) if exists else None
        n_before = len(study.trials) if study is not None else 0
        if study is not None and study.direction.name.lower() != chosen.direction:
            raise DataError(
                f"Study '{name}' {study.direction.name.lower()}s, but {chosen.name} must be "
                f"{chosen.direction}d. Use --study NAME for a study with this metric."
            )
        if study is not None:
            _check_compatible(study, space, name)
        study = optuna.create_study(
            study_name=name,
            storage=storage,
            load_if_exists=True,
            direction=direction(chosen),
            sampler=searcher.sampler(space, seed + n_before),
            pruner=make_pruner(),
        )
        size = searcher.size(space)
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
            executor.submit(
                Job(-1, spec, stored, chosen, seed=seed, phase="baseline", deadline=deadline)
            )
            done: list[tuple[Job, TrialResult]] = []
            while not done:
                done = executor.wait()
            baseline = done[0][1]
            _log(store, run.id, baseline, number=0)
            emit(
                "phase",
                {"phase": "tune", "model": spec.name, "search": searcher.name, "study": name},
            )
            trials = _run_trials(
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
            return _conclude(
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
                fit_final=fit_final,
                save_version=save_version,
            )
    finally:
        executor.close()
        for storage in cleanup:  # release the RDB storage's connections
            engine = getattr(storage, "engine", None)
            if engine is not None:
                engine.dispose()


def _check_compatible(study: optuna.Study, space: Mapping[str, Param], name: str) -> None:
    """A resumed study must search each parameter the same way (values vs ranges)."""
    from optuna.distributions import check_distribution_compatibility

    for t in study.get_trials(deepcopy=False):
        for key, old in t.distributions.items():
            if key not in space:
                continue
            try:
                check_distribution_compatibility(old, space[key].distribution())
            except ValueError:
                raise DataError(
                    f"Study '{name}' searched '{key}' as {_describe(old)}; this search gives "
                    f"{_describe(space[key].distribution())}. Keep the same kind of values to "
                    "resume it, or start another with --study NAME."
                ) from None


def _describe(dist: Any) -> str:
    from optuna.distributions import CategoricalDistribution

    if isinstance(dist, CategoricalDistribution):
        return f"a list of values {list(dist.choices)}"
    kind = "an integer" if type(dist).__name__.startswith("Int") else "a float"
    return f"{kind} range {dist.low}:{dist.high}{':log' if getattr(dist, 'log', False) else ''}"


def _source(run_params: Mapping[str, Any], info: Mapping[str, Any], ref: str) -> Any:
    path = run_params.get("source_path")
    if path and Path(path).exists():
        return path
    src = run_params.get("source") or info.get("source")
    if isinstance(src, str) and (src.startswith("builtin:") or Path(src).exists()):
        return src
    raise DataError(
        f"Cannot find the data {ref} was trained on ({src or 'unknown'}). Pass it with --data FILE."
    )


def _log(store: Store, run_id: int, t: TrialResult, *, number: int) -> None:
    store.log_trial(run_id, **{**t.store_record(elapsed=None), "number": number})


def _grid_done(study: optuna.Study, space: Mapping[str, Param], size: int | None) -> bool:
    """Every grid point has been started (finished or running) in this study."""
    import optuna

    if size is None:
        return False
    states = (
        optuna.trial.TrialState.COMPLETE,
        optuna.trial.TrialState.PRUNED,
        optuna.trial.TrialState.FAIL,
        optuna.trial.TrialState.RUNNING,
    )
    seen = {
        tuple(sorted(t.params.items()))
        for t in study.get_trials(deepcopy=False, states=states)
        if set(t.params) == set(space)
    }
    return len(seen) >= size


def _run_trials(
    study: optuna.Study,
    spec: Any,
    space: dict[str, Param],
    fixed: dict[str, Any],
    metric: Any,
    executor: Any,
    *,
    searcher: Searcher,
    seed: int,
    n_trials: int | None,
    deadline: float | None,
    size: int | None,
    plan: Any,
    budget: float | None,
    store: Store,
    run_id: int,
    emit: EventHandler,
    started: float,
    baseline: TrialResult,
) -> list[TrialResult]:
    import optuna

    from loopml.learn.supervised import SAVE_OVERHEAD_S, refit_estimate
    from loopml.tune.automl import rank_key
    from loopml.tune.executor import Job

    key = rank_key(metric)
    results: list[TrialResult] = []
    asked = 0
    n_all = len(plan.X)

    def end() -> float:
        if deadline is None:
            return math.inf
        ok = sorted([t for t in [baseline, *results] if t.ok], key=key)
        need = refit_estimate(ok[0], plan, n_all) if ok else 0.0
        return deadline - need - SAVE_OVERHEAD_S

    def more() -> bool:
        if n_trials is not None and asked >= n_trials:
            return False
        if deadline is not None and time.monotonic() >= end() - 0.05:
            return False
        return not (isinstance(searcher, GridSearch) and _grid_done(study, space, size))

    while True:
        while executor.free() > 0 and more():
            trial = study.ask()
            asked += 1
            params = {**fixed, **suggest(trial, space)}

            def should_prune(step: int, value: float, trial: optuna.Trial = trial) -> bool:
                if not math.isfinite(value):
                    return False
                trial.report(value, step)
                return bool(trial.should_prune())

            cap = None
            if deadline is not None:
                cap = min(end(), time.monotonic() + max(1.0, 0.4 * (budget or 0.0)))
            executor.submit(
                Job(
                    trial.number,
                    spec,
                    params,
                    metric,
                    seed=seed,
                    phase="tune",
                    deadline=cap,
                    should_prune=should_prune,
                    context=trial,
                )
            )
        if executor.running() == 0:
            break
        left = end() - time.monotonic()
        finished = executor.wait(timeout=None if math.isinf(left) else max(left, 0.0) + 0.01)
        if time.monotonic() >= end():
            finished += executor.cancel_all()
        for job, res in sorted(finished, key=lambda p: p[0].number):
            trial = job.context
            if res.ok:
                trial.set_user_attr("effective", _plain(res.params))
                study.tell(trial, float(res.valid_score))  # type: ignore[arg-type]
            elif res.status == "pruned":
                study.tell(trial, state=optuna.trial.TrialState.PRUNED)
            else:
                study.tell(trial, state=optuna.trial.TrialState.FAIL)
            results.append(res)
            _log(store, run_id, res, number=job.number + 1)
            ok = sorted([t for t in [baseline, *results] if t.ok], key=key)
            emit(
                "trial",
                {
                    "trial": res,
                    "metric": metric,
                    "best": ok[0] if ok else None,
                    "elapsed": time.monotonic() - started,
                    "budget": budget,
                    "n_trials": n_trials,
                },
            )
    return results


def _plain(params: Mapping[str, Any]) -> dict[str, Any]:
    from loopml.learn.candidates import jsonable_params

    return jsonable_params(params)


def _conclude(
    study: optuna.Study,
    baseline: TrialResult,
    trials: list[TrialResult],
    metric: Any,
    spec: Any,
    fixed: dict[str, Any],
    plan: Any,
    prep: Any,
    store: Store,
    run: Any,
    *,
    record: Any,
    searcher: Searcher,
    name: str,
    n_before: int,
    seed: int,
    n_jobs: int,
    started: float,
    emit: EventHandler,
    fit_final: Callable[..., Any],
    save_version: Callable[..., Any],
) -> TuneResult:
    import optuna

    from loopml.learn.candidates import jsonable_params
    from loopml.learn.supervised import _evaluate, _valid_metrics

    complete = study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,))
    best_frozen = None
    if complete:
        sign = 1.0 if metric.greater_is_better else -1.0
        best_frozen = max(complete, key=lambda t: (sign * float(t.value or 0.0), -t.number))
    best_score = (
        float(best_frozen.value)
        if best_frozen is not None and best_frozen.value is not None
        else None
    )
    best_params = None
    if best_frozen is not None:
        best_params = {
            **fixed,
            **dict(best_frozen.user_attrs.get("effective") or best_frozen.params),
        }
    registered = list(study.user_attrs.get("registered_trials", []))
    improved = bool(
        best_frozen is not None
        and best_score is not None
        and best_frozen.number not in registered
        and (
            baseline.valid_score is None
            or not baseline.ok
            or metric.better(best_score, float(baseline.valid_score))
        )
    )
    result = TuneResult(
        ref=f"{record.name}@{record.version}",
        model=spec.name,
        metric=metric.name,
        search=searcher.name,
        study_name=name,
        run_id=run.id,
        baseline=baseline,
        trials=trials,
        best_params=best_params,
        best_score=best_score,
        improved=improved,
        name=record.name,
        n_study_trials=len(study.trials),
    )
    run.set(
        baseline_score=baseline.valid_score,
        best_score=best_score,
        improved=improved,
        study=name,
        study_trials=len(study.trials),
        resumed_from=n_before,
    )
    if improved and best_params is not None:
        emit("phase", {"phase": "refit", "model": spec.name})
        winner = TrialResult(
            best_frozen.number if best_frozen else 0,
            spec.name,
            best_params,
            best_score,
            None,
            0.0,
            None,
        )
        same = [t for t in trials if t.ok and t.number == winner.number]
        if same:
            winner = same[0]
        final = fit_final([(winner, 1)], plan, seed=seed, n_jobs=n_jobs)
        emit("phase", {"phase": "evaluate"})
        test_metrics = _evaluate(final, prep.split.test, prep.y_test, prep.task)
        valid_metrics = _valid_metrics(winner, plan) if winner.predictions is not None else {}
        run.log_metrics({k: v for k, v in test_metrics.items() if v is not None}, prefix="test_")
        _, rec = save_version(
            store,
            run,
            prep,
            final,
            info={
                "model": spec.name,
                "params": jsonable_params(best_params),
                "metric": metric.name,
                "refit_on": "train+valid",
                "tuned_from": result.ref,
                "study": name,
                "search": searcher.name,
                "validation": plan.describe(),
            },
            valid_metrics=valid_metrics or {metric.name: best_score},
            test_metrics=test_metrics,
        )
        result.new_version = rec.version
        result.test_metrics = test_metrics
        if best_frozen is not None:
            study.set_user_attr("registered_trials", [*registered, best_frozen.number])
    else:
        result.notes.append(
            f"No trial beat {result.ref} (validation {metric.name} "
            f"{baseline.valid_score if baseline.valid_score is not None else 'n/a'}); "
            "no new version registered."
        )
    result.duration_s = time.monotonic() - started
    emit("done", {"result": result})
    return result
