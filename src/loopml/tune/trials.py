"""Running a tuning job: re-score the stored configuration, then the study's trials.

:func:`score_baseline` scores the stored version's parameters under the trials' own
protocol (so the comparison is fair); :func:`run_trials` asks the study for trials, runs
them on the executor (intermediate scores feed its pruner) and tells it the results,
until the trial budget, the time (less the estimated refit of the best so far) or the
grid runs out. Each result is logged to the tuning run as it arrives.
"""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING, Any

from loopml.learn.candidates import EvalPlan, TrialResult
from loopml.tune.search import GridSearch, Searcher, pruning_callback, tell_result
from loopml.tune.space import Param, suggest
from loopml.tune.study import grid_done

if TYPE_CHECKING:
    import optuna

    from loopml.evaluate.scoring import Metric
    from loopml.learn.prepare import EventHandler
    from loopml.models.catalog import ModelSpec
    from loopml.store import Store
    from loopml.tune.executor import Executor

__all__ = ["log_trial", "run_trials", "score_baseline"]


def log_trial(store: Store, run_id: int, t: TrialResult, *, number: int) -> None:
    """Record *t* on the tuning run as trial *number* (0: the stored configuration)."""
    store.log_trial(run_id, **{**t.store_record(elapsed=None), "number": number})


def score_baseline(
    executor: Executor,
    spec: ModelSpec,
    params: dict[str, Any],
    metric: Metric,
    *,
    seed: int,
    deadline: float | None,
) -> TrialResult:
    """The stored configuration *params*, scored like a trial (as trial -1)."""
    from loopml.tune.executor import Job

    executor.submit(Job(-1, spec, params, metric, seed=seed, phase="baseline", deadline=deadline))
    done: list[tuple[Job, TrialResult]] = []
    while not done:
        done = executor.wait()
    return done[0][1]


def run_trials(
    study: optuna.Study,
    spec: ModelSpec,
    space: dict[str, Param],
    fixed: dict[str, Any],
    metric: Metric,
    executor: Executor,
    *,
    searcher: Searcher,
    seed: int,
    n_trials: int | None,
    deadline: float | None,
    size: int | None,
    plan: EvalPlan,
    budget: float | None,
    store: Store,
    run_id: int,
    emit: EventHandler,
    started: float,
    baseline: TrialResult,
) -> list[TrialResult]:
    """Run trials of *study* (the searched *space* over the *fixed* parameters) and return
    this call's results, in the order they finished."""
    from loopml.learn.candidates import jsonable_params
    from loopml.learn.selection import SAVE_OVERHEAD_S, refit_estimate
    from loopml.tune.automl import rank_key
    from loopml.tune.executor import Job

    key = rank_key(metric)
    results: list[TrialResult] = []
    asked = 0
    n_all = len(plan.X)

    def best() -> TrialResult | None:
        ok = sorted([t for t in [baseline, *results] if t.ok], key=key)
        return ok[0] if ok else None

    def end() -> float:
        # Less than train's search keeps free (learn.selection.run_search): only the best
        # trial is refit (no ensemble members), with no extra margin on the budget.
        if deadline is None:
            return math.inf
        top = best()
        need = refit_estimate(top, plan, n_all) if top else 0.0
        return deadline - need - SAVE_OVERHEAD_S

    def more() -> bool:
        if n_trials is not None and asked >= n_trials:
            return False
        if deadline is not None and time.monotonic() >= end() - 0.05:
            return False
        return not (isinstance(searcher, GridSearch) and grid_done(study, space, size))

    while True:
        while executor.free() > 0 and more():
            trial = study.ask()
            asked += 1
            params = {**fixed, **suggest(trial, space)}
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
                    should_prune=pruning_callback(trial),
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
                trial.set_user_attr("effective", jsonable_params(res.params))
            tell_result(study, trial, res)
            results.append(res)
            log_trial(store, run_id, res, number=job.number + 1)
            emit(
                "trial",
                {
                    "trial": res,
                    "metric": metric,
                    "best": best(),
                    "elapsed": time.monotonic() - started,
                    "budget": budget,
                    "n_trials": n_trials,
                },
            )
    return results
