"""Which candidates a supervised fit compares, the search over them, and the winner.

:func:`model_specs` turns ``models=`` (or the defaults) into catalogue families and
:func:`scoreable` keeps those the metric can score; :func:`pick_searcher` and
:func:`trial_budget` say how the search tunes; :func:`run_search` runs the AutoML search
of :mod:`loopml.tune.automl`, leaving time for the refit; :func:`choose_winner` picks the
best single model, or an ensemble that beats it, among those that can be refit in time.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from loopml.data.schema import Task
from loopml.exceptions import DataError
from loopml.learn.candidates import Candidate, EvalPlan, TrialResult

if TYPE_CHECKING:
    from loopml.evaluate.scoring import Metric
    from loopml.learn.prepare import EventHandler
    from loopml.models.catalog import ModelSpec
    from loopml.store import RunHandle, Store
    from loopml.tune.search import Searcher

__all__ = [
    "DEFAULT_TUNE_TRIALS",
    "REFIT_OVERHEAD_S",
    "SAVE_OVERHEAD_S",
    "check_budgets",
    "choose_winner",
    "model_specs",
    "pick_searcher",
    "refit_estimate",
    "run_search",
    "scoreable",
    "trial_budget",
    "warm_imports",
]


#: Seconds kept free after the search for the test evaluation, saving and registering.
SAVE_OVERHEAD_S = 0.8
#: Seconds a refit needs beyond the estimator's fit (features, pipeline, thread setup).
REFIT_OVERHEAD_S = 0.3
#: Trials of the search when ``tune`` is given without a trial or time budget.
DEFAULT_TUNE_TRIALS = 30


# -- the candidates ------------------------------------------------------------------------------


def model_specs(
    models: Sequence[str | Candidate] | None, task: Task, n_rows: int, quick: bool
) -> list[ModelSpec]:
    """The families to search: *models* by name (all their portfolio, or its first
    configuration when *quick*) or as Candidates (only those configurations run)."""
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


def scoreable(
    specs: list[ModelSpec], metric: Metric, task: Task, notes: list[str]
) -> list[ModelSpec]:
    """The families *metric* can score (one without probabilities cannot be scored with a
    probability metric); a note for each one left out."""
    if metric.needs_proba and task != Task.REGRESSION:
        for s in specs:
            if not s.proba:
                notes.append(
                    f"Model '{s.name}' has no probabilities; it cannot be scored with "
                    f"{metric.name} and is skipped."
                )
        specs = [s for s in specs if s.proba]
    if not specs:
        raise DataError(
            f"No candidate model can be scored with {metric.name}. Choose models with "
            "probabilities, or another --metric."
        )
    return specs


def check_budgets(time_budget: float | None, n_trials: int | None) -> None:
    """Raise if a time budget is not a positive number of seconds or *n_trials* is below 1."""
    if time_budget is not None and not (time_budget > 0 and math.isfinite(time_budget)):
        raise DataError(f"--time-budget must be a positive number of seconds; got {time_budget}.")
    if n_trials is not None and n_trials < 1:
        raise DataError(f"--trials must be at least 1; got {n_trials}.")


def pick_searcher(
    tune: str | Searcher | None, budget: float | None, trials: int | None
) -> Searcher | None:
    """The searcher asked for; Bayesian optimisation under a budget; none for the quick default."""
    from loopml.tune.search import BayesSearch, get_searcher

    if tune is not None:
        return get_searcher(tune)
    if budget is not None or trials is not None:
        return BayesSearch()
    return None


def trial_budget(
    searcher: Searcher | None,
    specs: Sequence[ModelSpec],
    n_trials: int | None,
    time_budget: float | None,
) -> int | None:
    """Trials to run: *n_trials*; with only a searcher given (no budget), the portfolio plus
    :data:`DEFAULT_TUNE_TRIALS` (a grid runs to its end)."""
    if n_trials is None and time_budget is None and searcher is not None:
        if searcher.name != "grid":
            return sum(len(s.portfolio) for s in specs) + DEFAULT_TUNE_TRIALS
    return n_trials


def warm_imports() -> None:
    """Import what saving a bundle needs, in a thread, while workers search: skops alone
    takes a second or two to import, which the time budget would otherwise pay at the end."""
    import threading

    def work() -> None:
        try:
            import skops.io  # noqa: F401
        except ImportError:  # pragma: no cover - a missing skops fails later, clearly
            pass

    threading.Thread(target=work, name="loopml-warm-imports", daemon=True).start()


# -- the search ----------------------------------------------------------------------------------


def run_search(
    plan: EvalPlan,
    specs: list[ModelSpec],
    metric: Metric,
    *,
    seed: int,
    searcher: Searcher | None,
    n_trials: int | None,
    deadline: float | None,
    budget: float | None,
    ensemble: bool,
    executor: Any,
    store: Store,
    run: RunHandle,
    emit: EventHandler,
    started: float,
) -> list[TrialResult]:
    """Search *specs* on *plan*, logging each trial to *run*; stops early enough to leave
    the estimated refit (of the ensemble's members too) free."""
    from loopml.tune.automl import AutoSearch, SearchSettings, rank_key

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
        ok = sorted((t for t in results if t.ok), key=rank_key(metric))
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


def refit_estimate(trial: TrialResult, plan: EvalPlan, n_rows: int) -> float:
    """Seconds a refit of *trial* on *n_rows* rows should take (a generous estimate)."""
    ratio = max(1.0, n_rows / max(plan.n_fit_rows, 1))
    predict = (trial.predict_time_per_1k or 0.0) * n_rows / 1000
    return float(1.5 * trial.fit_time * ratio**1.3 + predict + REFIT_OVERHEAD_S)


# -- the winner ----------------------------------------------------------------------------------


def choose_winner(
    trials: list[TrialResult],
    plan: EvalPlan,
    metric: Metric,
    *,
    ensemble: bool,
    deadline: float | None,
) -> tuple[TrialResult, list[tuple[TrialResult, int]]]:
    """The winner — the best single model, or an ensemble that beats it — as a
    (leaderboard row, members with weights) pair; only what can be refit in time."""
    from loopml.tune.automl import rank_key

    ok = sorted((t for t in trials if t.ok), key=rank_key(metric))
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
