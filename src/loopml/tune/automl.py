"""The AutoML search: a portfolio of known-good configurations, then tuning of the best families.

1. **Portfolio.** Each family's known-good configurations, cheapest families
   first and round-robin (every family's first configuration before any second one),
   so that a short budget still sees every family once.
2. **Tuning.** The most promising families (best validation score so far, top 3)
   get an Optuna study each — grid, random or TPE — seeded with their portfolio
   results; the next trial goes to the family furthest behind its share (3:2:1
   by rank), rankings updated as results arrive. Intermediate scores feed a
   median pruner.

Budgets: a number of trials (portfolio included) and/or a deadline. With a
deadline, each candidate gets at most 40 % of the budget (once some model has been
scored) and never runs
past the end of the search (the deadline minus the time the caller reserves for
the final refit); the executor kills it when it does. Without a deadline and
with ``sync=True``, trials run in fixed batches and are recorded in order, so
the same seed gives the same leaderboard.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from loopml.learn.candidates import TrialResult
from loopml.tune.executor import Executor, Job
from loopml.tune.search import (
    GridSearch,
    Searcher,
    direction,
    make_pruner,
    pruning_callback,
    tell_result,
)
from loopml.tune.space import Choice, Param, contains, suggest

if TYPE_CHECKING:
    import optuna

    from loopml.evaluate.scoring import Metric
    from loopml.models.catalog import ModelSpec

__all__ = ["AutoSearch", "SearchSettings", "family_space", "rank_key"]

#: Keep out-of-fold predictions of at most this many of the best trials (for ensembling).
KEEP_PREDICTIONS = 25
#: Shares of tuning trials for the best, second and third family.
TUNING_SHARES = (3.0, 2.0, 1.0)


@dataclass
class SearchSettings:
    """What to search and for how long."""

    models: list[ModelSpec]
    metric: Metric
    seed: int = 0
    searcher: Searcher | None = None
    n_trials: int | None = None
    deadline: float | None = None  # time.monotonic() by which the search must end
    budget: float | None = None  # seconds, sizes the per-candidate cap
    portfolio_per_model: int | None = None
    top_k: int = 3
    prune: bool = True
    sync: bool = False
    candidate_share: float = 0.4


def rank_key(metric: Metric) -> Callable[[TrialResult], tuple[float, int]]:
    """Sort key: best validation score first, then the earlier trial."""

    def key(t: TrialResult) -> tuple[float, int]:
        s = t.valid_score if t.ok and t.valid_score is not None else None
        if s is None:
            return (math.inf, t.number)
        return (-s if metric.greater_is_better else s, t.number)

    return key


def family_space(spec: ModelSpec, searcher: Searcher) -> dict[str, Param]:
    """What *searcher* explores for *spec*: its grid for grid search, else its space."""
    if isinstance(searcher, GridSearch):
        return {k: Choice(v) for k, v in spec.grid.items()}
    return dict(spec.space)


@dataclass
class _Family:
    spec: ModelSpec
    study: optuna.Study | None = None
    space: dict[str, Param] = field(default_factory=dict)
    asked: int = 0
    size: int | None = None
    slowest: float = 0.0
    timed_out: bool = False


class AutoSearch:
    """Runs the portfolio and tuning phases on an :class:`Executor`.

    ``on_result(trial)`` is called for every finished trial (in order in sync mode);
    ``reserve(results)`` returns the seconds to keep free after the search (refit,
    test evaluation, saving).
    """

    def __init__(
        self,
        settings: SearchSettings,
        executor: Executor,
        *,
        on_result: Callable[[TrialResult], None] | None = None,
        on_phase: Callable[[str, dict[str, Any]], None] | None = None,
        reserve: Callable[[list[TrialResult]], float] | None = None,
    ) -> None:
        self.s = settings
        self.executor = executor
        self.on_result = on_result or (lambda t: None)
        self.on_phase = on_phase or (lambda p, d: None)
        self.reserve = reserve or (lambda r: 0.0)
        self.results: list[TrialResult] = []
        self.families = {spec.name: _Family(spec) for spec in settings.models}
        self._queue = self._portfolio()
        self._submitted = 0
        self._requested: dict[int, dict[str, Any]] = {}
        self._phase = ""
        self._key = rank_key(settings.metric)

    # -- budget --------------------------------------------------------------------------

    def search_end(self) -> float:
        if self.s.deadline is None:
            return math.inf
        return self.s.deadline - self.reserve(self.results)

    def _remaining(self) -> float:
        return self.search_end() - time.monotonic()

    def _trials_left(self) -> bool:
        return self.s.n_trials is None or self._submitted < self.s.n_trials

    # -- jobs ----------------------------------------------------------------------------

    def _portfolio(self) -> list[tuple[ModelSpec, dict[str, Any]]]:
        per = self.s.portfolio_per_model
        configs = [list(s.portfolio[:per] if per else s.portfolio) for s in self.s.models]
        out: list[tuple[ModelSpec, dict[str, Any]]] = []
        for i in range(max((len(c) for c in configs), default=0)):
            for spec, cfgs in zip(self.s.models, configs, strict=True):
                if i < len(cfgs):
                    out.append((spec, dict(cfgs[i])))
        return out

    def _deadline(self) -> float | None:
        if self.s.deadline is None:
            return None
        end = self.search_end()
        if self.s.budget is not None and any(t.ok for t in self.results):
            # A candidate may not take more than its share of the budget — once some
            # model has been scored; until then, the first to finish is the fallback.
            end = min(end, time.monotonic() + max(1.0, self.s.candidate_share * self.s.budget))
        return end

    def _affordable(self, fam: _Family) -> bool:
        """Skip a family that timed out, or whose slowest run would not fit in the time left."""
        if self.s.deadline is None:
            return True
        if fam.timed_out:
            return False
        return fam.slowest * 0.8 <= self._remaining()

    def _next_job(self) -> Job | None:
        if not self._trials_left():
            return None
        if self.s.deadline is not None and self._remaining() < 0.05:
            return None
        while self._queue:
            spec, params = self._queue.pop(0)
            if not self._affordable(self.families[spec.name]):
                continue
            if self._phase != "portfolio":
                self._phase = "portfolio"
                self.on_phase("portfolio", {"models": [s.name for s in self.s.models]})
            return self._job(spec, params, "portfolio")
        if self.s.searcher is None:
            return None
        fam = self._pick_family()
        if fam is None:
            return None
        return self._ask(fam)

    def _job(
        self,
        spec: ModelSpec,
        params: dict[str, Any],
        phase: str,
        context: Any = None,
        should_prune: Callable[[int, float], bool] | None = None,
    ) -> Job:
        number = self._submitted
        self._submitted += 1
        self._requested[number] = dict(params)
        return Job(
            number,
            spec,
            params,
            self.s.metric,
            seed=self.s.seed,
            phase=phase,
            deadline=self._deadline(),
            should_prune=should_prune,
            context=context,
        )

    def ranking(self) -> list[str]:
        """Families by their best validation score so far (best first)."""
        best: dict[str, TrialResult] = {}
        for t in sorted((t for t in self.results if t.ok), key=self._key):
            best.setdefault(t.model, t)
        return [name for name in best if name in self.families]

    def _pick_family(self) -> _Family | None:
        assert self.s.searcher is not None
        ranked = []
        for name in self.ranking():
            fam = self.families[name]
            if not self._affordable(fam):
                continue
            if fam.study is None and not family_space(fam.spec, self.s.searcher):
                continue  # nothing to tune
            if fam.size is not None and fam.asked >= fam.size:
                continue  # grid exhausted
            ranked.append(fam)
            if len(ranked) == self.s.top_k:
                break
        if not ranked:
            return None
        if self._phase != "tune":
            self._phase = "tune"
            self.on_phase(
                "tune", {"models": [f.spec.name for f in ranked], "search": self.s.searcher.name}
            )
        shares = TUNING_SHARES + (1.0,) * len(ranked)
        return min(enumerate(ranked), key=lambda p: (p[1].asked / shares[p[0]], p[0]))[1]

    def _study(self, fam: _Family) -> optuna.Study:
        import optuna

        assert self.s.searcher is not None
        if fam.study is None:
            fam.space = family_space(fam.spec, self.s.searcher)
            fam.size = self.s.searcher.size(fam.space)
            index = list(self.families).index(fam.spec.name)
            fam.study = optuna.create_study(
                direction=direction(self.s.metric),
                sampler=self.s.searcher.sampler(fam.space, self.s.seed + index),
                pruner=make_pruner() if self.s.prune else optuna.pruners.NopPruner(),
            )
            if not isinstance(self.s.searcher, GridSearch):
                for t in self.results:
                    if t.model == fam.spec.name and t.phase == "portfolio" and t.ok:
                        self._seed(fam, t)
        return fam.study

    def _seed(self, fam: _Family, t: TrialResult) -> None:
        import optuna

        params = contains(fam.space, self._requested.get(t.number, t.params))
        if not params or fam.study is None or t.valid_score is None:
            return
        fam.study.add_trial(
            optuna.trial.create_trial(
                params=params,
                distributions={k: fam.space[k].distribution() for k in params},
                value=float(t.valid_score),
            )
        )

    def _ask(self, fam: _Family) -> Job:
        study = self._study(fam)
        trial = study.ask()
        fam.asked += 1
        params = suggest(trial, fam.space)
        return self._job(
            fam.spec,
            params,
            "tune",
            context=(fam, trial),
            should_prune=pruning_callback(trial) if self.s.prune else None,
        )

    # -- results -------------------------------------------------------------------------

    def _record(self, job: Job, result: TrialResult) -> None:
        fam = self.families[job.spec.name]
        if result.elapsed is not None:
            fam.slowest = max(fam.slowest, result.elapsed)
        if result.status == "timeout" and time.monotonic() < self.search_end() - 0.5:
            fam.timed_out = True  # stopped by its own cap, not by the end of the search
        if job.context is not None:
            _, trial = job.context
            study = fam.study
            assert study is not None
            tell_result(study, trial, result)
        elif fam.study is not None and result.ok and self.s.searcher is not None:
            if not isinstance(self.s.searcher, GridSearch):
                self._seed(fam, result)
        self.results.append(result)
        self._trim_predictions()
        self.on_result(result)

    def _trim_predictions(self) -> None:
        kept = [t for t in self.results if t.predictions is not None]
        if len(kept) <= KEEP_PREDICTIONS:
            return
        for t in sorted(kept, key=self._key)[KEEP_PREDICTIONS:]:
            t.predictions = None

    # -- the loop ------------------------------------------------------------------------

    def run(self) -> list[TrialResult]:
        """Search until the queue, the trial budget or the time runs out."""
        if self.s.sync:
            self._run_sync()
        else:
            self._run_async()
        return self.results

    def _run_async(self) -> None:
        ex = self.executor
        while True:
            while ex.free() > 0:
                job = self._next_job()
                if job is None:
                    break
                ex.submit(job)
            if ex.running() == 0:
                return
            left = self._remaining()
            finished = ex.wait(timeout=None if math.isinf(left) else max(left, 0.0) + 0.01)
            if self._remaining() <= 0:
                finished += ex.cancel_all()
            for job, result in finished:
                self._record(job, result)

    def _run_sync(self) -> None:
        ex = self.executor
        while True:
            batch = []
            while ex.free() > 0:
                job = self._next_job()
                if job is None:
                    break
                ex.submit(job)
                batch.append(job)
            if not batch:
                return
            finished: list[tuple[Job, TrialResult]] = []
            while ex.running() > 0:
                left = self._remaining()
                finished += ex.wait(timeout=None if math.isinf(left) else max(left, 0.0) + 0.01)
                if self._remaining() <= 0:
                    finished += ex.cancel_all()
            for job, result in sorted(finished, key=lambda p: p[0].number):
                self._record(job, result)

    def best(self) -> TrialResult | None:
        ok = [t for t in self.results if t.ok]
        return min(ok, key=self._key) if ok else None
