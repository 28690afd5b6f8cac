"""The last steps of a supervised fit: refit the winner, evaluate it, save and register it.

:func:`finish_training` takes the searched trials to a :class:`TrainResult`: it picks the
winner (:func:`~loopml.learn.selection.choose_winner`), refits it on the train +
validation rows (:func:`fit_final`), chooses the decision threshold, scores it on
validation and test, records the leaderboard on the run and stores the model
(:func:`save_version`).
"""

from __future__ import annotations

import time
import warnings
from typing import TYPE_CHECKING, Any

from loopml.bundle import ModelBundle
from loopml.learn.candidates import EvalPlan, TrialResult, build_pipeline, jsonable_params
from loopml.learn.prepare import Prepared
from loopml.learn.result import TrainResult, record_outcome
from loopml.learn.saving import save_bundle
from loopml.learn.scores import held_out_metrics, model_metrics, threshold_choice
from loopml.learn.selection import choose_winner

if TYPE_CHECKING:
    from loopml.evaluate.scoring import Metric
    from loopml.learn.prepare import EventHandler
    from loopml.store import RunHandle, Store

__all__ = ["finish_training", "fit_final", "save_version"]


def finish_training(
    prep: Prepared,
    plan: EvalPlan,
    trials: list[TrialResult],
    metric: Metric,
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
    """Choose, refit, evaluate and store the winner of *trials*."""
    if ensemble:
        emit("phase", {"phase": "ensemble"})
    best, members = choose_winner(trials, plan, metric, ensemble=ensemble, deadline=deadline)
    if best.phase == "ensemble":
        trials = [*trials, best]
        store.log_trial(run.id, **best.store_record(phase="ensemble"))
    emit("phase", {"phase": "refit", "model": best.model})
    final = fit_final(members, plan, seed=seed, n_jobs=n_jobs)
    emit("phase", {"phase": "evaluate"})
    choice = threshold_choice(threshold, best, plan, prep.task)
    cut = choice["threshold"] if choice else None
    valid_metrics = held_out_metrics(best, plan, cut)
    test_metrics = model_metrics(final, prep.split.test, prep.y_test, prep.task, cut)
    record_outcome(run, trials, metric, best, valid_metrics, test_metrics)
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
    return save_bundle(
        store,
        run,
        name=prep.name,
        pipeline=final,
        schema=prep.schema,
        metrics={"valid": valid_metrics, "test": test_metrics},
        info={"source": prep.where, "split": prep.split.info(), **info},
        notes=prep.notes,
        registry_metrics=test_metrics,
    )
