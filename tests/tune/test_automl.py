"""The AutoML search loop, the executors and ensemble selection."""

from __future__ import annotations

import time

import numpy as np
import pytest

from loopml.data.io import load
from loopml.data.schema import Task, infer_schema
from loopml.data.split import split
from loopml.evaluate.scoring import get_metric
from loopml.learn.candidates import EvalPlan, TrialResult, make_plan
from loopml.learn.supervised import encode_target
from loopml.models import get_model, register, unregister
from loopml.tune.automl import AutoSearch, SearchSettings
from loopml.tune.ensemble import make_voting, select_ensemble
from loopml.tune.executor import InlineExecutor, Job, ProcessExecutor, effective_jobs
from loopml.tune.search import BayesSearch, GridSearch
from tests.tune.fakes import Sleepy


@pytest.fixture(scope="module")
def plan() -> EvalPlan:
    df = load("builtin:wine")
    schema = infer_schema(df, "target")
    sp = split(df, "target", seed=0)
    yt, yv = encode_target(sp.train["target"], schema), encode_target(sp.valid["target"], schema)
    return make_plan(schema, sp.train, yt, sp.valid, yv, seed=0)


def _search(plan: EvalPlan, **settings: object) -> AutoSearch:
    models = [get_model(n, Task.MULTICLASS) for n in ("logreg", "knn", "tree")]
    s = SearchSettings(models=models, metric=get_metric("accuracy"), **settings)  # type: ignore[arg-type]
    ex = InlineExecutor()
    ex.set_plan(plan)
    return AutoSearch(s, ex)


def test_portfolio_round_robin_then_tuning_of_the_best(plan: EvalPlan) -> None:
    search = _search(plan, searcher=BayesSearch(), n_trials=12, sync=True)
    results = search.run()
    assert len(results) == 12
    portfolio = [t for t in results if t.phase == "portfolio"]
    # every family's first configuration comes before any second one
    assert [t.model for t in portfolio[:3]] == ["logreg", "knn", "tree"]
    assert len(portfolio) == 3 + 3 + 2  # logreg 3, knn 3, tree 2 configurations
    tuned = [t for t in results if t.phase == "tune"]
    assert len(tuned) == 4 and {t.model for t in tuned} <= {"logreg", "knn", "tree"}
    assert search.best() is not None and search.best().ok  # type: ignore[union-attr]


def test_same_seed_and_trials_give_the_same_results(plan: EvalPlan) -> None:
    a = _search(plan, searcher=BayesSearch(), n_trials=11, sync=True, seed=3).run()
    b = _search(plan, searcher=BayesSearch(), n_trials=11, sync=True, seed=3).run()
    assert [(t.model, t.params, t.valid_score) for t in a] == [
        (t.model, t.params, t.valid_score) for t in b
    ]


def test_grid_tuning_stops_when_grids_are_exhausted(plan: EvalPlan) -> None:
    search = _search(plan, searcher=GridSearch(), portfolio_per_model=1, sync=True)
    results = search.run()
    tuned = [t for t in results if t.phase == "tune"]
    for name in ("logreg", "knn", "tree"):
        spec = get_model(name, Task.MULTICLASS)
        size = int(np.prod([len(v) for v in spec.grid.values()]))
        grid = [tuple(sorted(t.params.items())) for t in tuned if t.model == name]
        assert len(grid) == len(set(grid)) == size


def test_a_slow_candidate_is_stopped_at_its_deadline(plan: EvalPlan) -> None:
    spec = register("sleepy", Sleepy, task="classification", cost="expensive")
    ex = ProcessExecutor(1)
    try:
        ex.set_plan(plan)
        ex.submit(Job(0, get_model("svm", "binary"), {}, get_metric("accuracy")))
        done: list[tuple[Job, TrialResult]] = []
        while not done:  # the worker is up once it has scored something
            done = ex.wait()
        assert done[0][1].status == "complete"
        t0 = time.monotonic()
        ex.submit(Job(1, spec, {"seconds": 60.0}, get_metric("accuracy"), deadline=t0 + 1.0))
        done = []
        while not done:
            done = ex.wait()
        elapsed = time.monotonic() - t0
        assert done[0][1].status == "timeout" and "time limit" in (done[0][1].error or "")
        assert elapsed < 5  # stopped at its deadline, not waited for
        # the pool replaces the killed worker and keeps working
        ex.submit(Job(2, get_model("logreg", "binary"), {}, get_metric("accuracy")))
        done = []
        while not done:
            done = ex.wait()
        assert done[0][1].status == "complete"
    finally:
        ex.close()
        unregister("sleepy")


def test_effective_jobs() -> None:
    import os

    assert effective_jobs(1) == 1
    assert effective_jobs(-1) == (os.cpu_count() or 1)
    assert effective_jobs(None) == (os.cpu_count() or 1)


def _trial(n: int, score: float, pred: np.ndarray) -> TrialResult:
    return TrialResult(n, f"m{n}", {}, score, None, 0.1, None, predictions=pred)


def test_select_ensemble_keeps_only_a_better_blend(plan: EvalPlan) -> None:
    y = plan.y_scored
    k = plan.n_classes
    rng = np.random.RandomState(0)
    onehot = np.eye(k)[y]
    # two models, each right on a different half of the rows, unsure elsewhere
    half = np.arange(len(y)) < len(y) // 2
    a = np.where(half[:, None], onehot * 0.9 + 0.1 / k, 1.0 / k + rng.uniform(0, 0.01, (len(y), k)))
    b = np.where(
        ~half[:, None], onehot * 0.9 + 0.1 / k, 1.0 / k + rng.uniform(0, 0.01, (len(y), k))
    )
    metric = get_metric("log_loss")
    from loopml.tune.ensemble import _fold_scores

    trials = [
        _trial(0, float(np.mean(_fold_scores(plan, metric, a, True))), a),
        _trial(1, float(np.mean(_fold_scores(plan, metric, b, True))), b),
    ]
    choice = select_ensemble(trials, plan, metric)
    assert choice is not None
    assert {t.number for t, _ in choice.members} == {0, 1}
    assert choice.score < min(t.valid_score for t in trials)  # type: ignore[type-var]
    row = choice.as_trial(7)
    assert row.model == "ensemble" and row.phase == "ensemble" and row.number == 7
    # a single model cannot be improved on by blending it with itself
    assert select_ensemble(trials[:1], plan, metric) is None


def test_voting_ensembles_save_and_load_as_trusted_types(plan: EvalPlan, tmp_path) -> None:  # type: ignore[no-untyped-def]
    from loopml.bundle import ModelBundle
    from loopml.learn.candidates import build_pipeline

    pipes = [
        (n, build_pipeline(get_model(n, Task.MULTICLASS), plan.schema, {}), w)
        for n, w in (("logreg", 2), ("lightgbm", 1))
    ]
    model = make_voting(pipes, classification=True).fit(plan.X, plan.y)
    bundle = ModelBundle(model, plan.schema, info={"name": "wine"})
    bundle.save(tmp_path / "b")
    loaded = ModelBundle.load(tmp_path / "b")
    np.testing.assert_allclose(
        loaded.pipeline.predict_proba(plan.X.head(5)), model.predict_proba(plan.X.head(5))
    )
