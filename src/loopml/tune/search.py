"""Tuning methods, all on Optuna: grid search, random search, Bayesian optimisation (TPE).

A searcher turns a search space into an Optuna sampler; the pruner stops
unpromising trials on their intermediate scores (cross-validation folds,
boosting rounds, MLP epochs).

Examples
--------
>>> from loopml.tune.space import Choice, Float
>>> searcher = get_searcher("grid")
>>> space = searcher.space({"C": Choice([0.1, 1.0]), "kernel": Choice(["rbf", "linear"])})
>>> searcher.size(space)
4
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from loopml.exceptions import DataError
from loopml.tune.space import Choice, Param, grid_of

if TYPE_CHECKING:
    import optuna

    from loopml.evaluate.scoring import Metric
    from loopml.learn.candidates import TrialResult

__all__ = [
    "BayesSearch",
    "GridSearch",
    "RandomSearch",
    "Searcher",
    "direction",
    "get_searcher",
    "make_pruner",
    "pruning_callback",
    "quiet_optuna",
    "tell_result",
]


@dataclass(frozen=True)
class Searcher:
    """Base class: how trials pick their hyperparameters."""

    name: str = "searcher"

    def space(self, space: Mapping[str, Param]) -> dict[str, Param]:
        """The space this searcher explores (grid search turns it into finite choices)."""
        return dict(space)

    def sampler(self, space: Mapping[str, Param], seed: int) -> optuna.samplers.BaseSampler:
        raise NotImplementedError

    def size(self, space: Mapping[str, Param]) -> int | None:
        """How many distinct trials the space holds (None: unbounded)."""
        return None


@dataclass(frozen=True)
class GridSearch(Searcher):
    """Every combination of the listed values, each exactly once."""

    name: str = "grid"

    def space(self, space: Mapping[str, Param]) -> dict[str, Param]:
        return {k: Choice(v) for k, v in grid_of(space).items()}

    def sampler(self, space: Mapping[str, Param], seed: int) -> optuna.samplers.BaseSampler:
        import optuna

        class AskTellGridSampler(optuna.samplers.GridSampler):
            # GridSampler stops the study from inside optimize(); loopml drives studies
            # with ask/tell and stops when every grid point has been started.
            def after_trial(self, *args: Any, **kwargs: Any) -> None:
                return None

        quiet_optuna()
        return AskTellGridSampler(grid_of(space), seed=seed)

    def size(self, space: Mapping[str, Param]) -> int | None:
        return math.prod(len(v) for v in grid_of(space).values())


@dataclass(frozen=True)
class RandomSearch(Searcher):
    """Independent uniform (or log-uniform) samples inside the bounds."""

    name: str = "random"

    def sampler(self, space: Mapping[str, Param], seed: int) -> optuna.samplers.BaseSampler:
        import optuna

        quiet_optuna()
        return optuna.samplers.RandomSampler(seed=seed)


@dataclass(frozen=True)
class BayesSearch(Searcher):
    """Bayesian optimisation with the Tree-structured Parzen Estimator.

    The first ``n_startup_trials`` trials (portfolio configurations count) are
    random; later ones are drawn where good trials were dense.
    """

    name: str = "bayes"
    n_startup_trials: int = 5

    def sampler(self, space: Mapping[str, Param], seed: int) -> optuna.samplers.BaseSampler:
        import optuna

        quiet_optuna()
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=self.n_startup_trials)


_SEARCHERS: dict[str, type[Searcher]] = {
    "grid": GridSearch,
    "random": RandomSearch,
    "bayes": BayesSearch,
    "bayesian": BayesSearch,
    "tpe": BayesSearch,
}


def quiet_optuna() -> None:
    """Optuna logs every trial at INFO; loopml reports progress through its own events."""
    import optuna

    if optuna.logging.get_verbosity() < optuna.logging.WARNING:
        optuna.logging.set_verbosity(optuna.logging.WARNING)


def direction(metric: Metric) -> Literal["maximize", "minimize"]:
    """The Optuna study direction of *metric*."""
    return "maximize" if metric.greater_is_better else "minimize"


def get_searcher(search: str | Searcher) -> Searcher:
    """A searcher from its name (``grid``, ``random``, ``bayes``) or an instance."""
    if isinstance(search, Searcher):
        return search
    cls = _SEARCHERS.get(str(search).strip().lower())
    if cls is None:
        raise DataError(
            f"Unknown search method '{search}'. Choose grid, random or bayes "
            "(Bayesian optimisation with TPE)."
        )
    return cls()


def make_pruner(n_startup_trials: int = 3, n_warmup_steps: int = 0) -> optuna.pruners.BasePruner:
    """Median pruning: stop a trial whose intermediate score is worse than the median
    of earlier trials at the same step (fold, boosting round or epoch)."""
    import optuna

    return optuna.pruners.MedianPruner(
        n_startup_trials=n_startup_trials, n_warmup_steps=n_warmup_steps, interval_steps=1
    )


def pruning_callback(trial: optuna.Trial) -> Callable[[int, float], bool]:
    """``should_prune(step, value)`` for a job: report the finite intermediate *value* of
    *trial* at *step*, and whether the study's pruner stops the trial there."""

    def should_prune(step: int, value: float) -> bool:
        if not math.isfinite(value):
            return False
        trial.report(value, step)
        return bool(trial.should_prune())

    return should_prune


def tell_result(study: optuna.Study, trial: optuna.Trial, result: TrialResult) -> None:
    """Finish *trial* in *study* with *result*: its validation score, or pruned, or failed."""
    import optuna

    if result.ok:
        study.tell(trial, float(result.valid_score))  # type: ignore[arg-type]
    elif result.status == "pruned":
        study.tell(trial, state=optuna.trial.TrialState.PRUNED)
    else:
        study.tell(trial, state=optuna.trial.TrialState.FAIL)
