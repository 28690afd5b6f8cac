"""The outcome of a tuning job: the study's best trial against the stored version.

:func:`conclude` takes the best trial of the whole study (this call's trials and those of
earlier or concurrent sessions), compares it with the re-scored stored configuration and,
if it wins and no session registered it already, refits it on train + validation rows,
evaluates it on the test split and registers it as a new version. :class:`TuneResult`
says what happened.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loopml.learn.candidates import TrialResult
from loopml.tune.search import Searcher

if TYPE_CHECKING:
    import optuna
    import pandas as pd

    from loopml.evaluate.scoring import Metric
    from loopml.learn.candidates import EvalPlan
    from loopml.learn.prepare import EventHandler, Prepared
    from loopml.models.catalog import ModelSpec
    from loopml.store import RunHandle, Store
    from loopml.store.records import ModelVersionRecord

__all__ = ["TuneResult", "conclude"]


@dataclass
class TuneResult:
    """What :func:`~loopml.tune.model.tune_model` did: the study, its trials, and the new
    version if any."""

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
        from loopml.learn.result import leaderboard

        return leaderboard([self.baseline, *self.trials], get_metric(self.metric))


def conclude(
    study: optuna.Study,
    baseline: TrialResult,
    trials: list[TrialResult],
    metric: Metric,
    spec: ModelSpec,
    fixed: dict[str, Any],
    plan: EvalPlan,
    prep: Prepared,
    store: Store,
    run: RunHandle,
    *,
    record: ModelVersionRecord,
    searcher: Searcher,
    name: str,
    n_before: int,
    seed: int,
    n_jobs: int,
    started: float,
    emit: EventHandler,
) -> TuneResult:
    """Compare the study's best trial with *baseline*; register it if it is better."""
    import optuna

    from loopml.learn.candidates import jsonable_params
    from loopml.learn.final import fit_final, save_version
    from loopml.learn.scores import held_out_metrics, model_metrics

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
        test_metrics = model_metrics(final, prep.split.test, prep.y_test, prep.task)
        # A winner not run in this call has no predictions: {}, then only its study score.
        valid_metrics = held_out_metrics(winner, plan)
        # Test metrics only: not learn.result.record_outcome, which also logs train's
        # validation metrics and leaderboard on the run.
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
