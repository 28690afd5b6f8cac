"""`train`: the quick default, the AutoML search, budgets, reproducibility, the leaderboard."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import pytest

import loopml
from loopml.exceptions import DataError
from loopml.learn.candidates import Candidate
from loopml.learn.supervised import train
from loopml.models import register, unregister
from loopml.store import Store
from tests.tune.fakes import Sleepy


@pytest.fixture
def store() -> Store:
    s = Store.in_memory()
    yield s  # type: ignore[misc]
    s.close()


def test_quick_default_trains_a_small_set(store: Store) -> None:
    events: list[tuple[str, dict[str, Any]]] = []
    result = train("builtin:iris", store=store, on_event=lambda k, p: events.append((k, p)))
    assert [t.model for t in result.trials] == ["logreg", "svm_rbf", "random_forest", "hgb"]
    board = result.leaderboard
    assert list(board.columns[:4]) == ["rank", "trial", "model", "valid_score"]
    assert {"valid_std", "train_score", "fit_time_s", "predict_ms_per_1k"} <= set(board.columns)
    assert board.iloc[0]["model"] == result.best.model
    assert result.validation.startswith("validation split")
    kinds = [k for k, _ in events]
    assert kinds[-1] == "done" and kinds.count("trial") == 4
    trial_event = next(p for k, p in events if k == "trial")
    assert {"trial", "metric", "best", "elapsed", "budget"} <= set(trial_event)
    stored = store.list_trials(result.run_id)
    assert [t.model for t in stored] == [t.model for t in result.trials]
    assert all(t.fit_time is not None for t in stored)
    run = store.get_run(result.run_id)
    assert run.info["leaderboard"][0]["model"] == result.best.model
    pred = result.model.predict(loopml.load("builtin:iris").head(3))
    assert set(pred) <= {"setosa", "versicolor", "virginica"}


def test_models_by_alias_and_trials_budget(store: Store) -> None:
    phases: list[str] = []
    result = train(
        "builtin:wine",
        models=["lgbm", "svm", "knn"],
        tune="bayes",
        n_trials=10,
        store=store,
        on_event=lambda k, p: phases.append(str(p.get("phase"))) if k == "phase" else None,
    )
    assert len(result.trials) == 10
    assert {t.model for t in result.trials} == {"lightgbm", "svm_rbf", "knn"}
    assert "tune" in phases and "portfolio" in phases
    assert result.validation.startswith("5-fold cross-validation")
    assert all(t.valid_std is not None for t in result.trials if t.ok)


def test_same_seed_and_trials_give_the_same_leaderboard(store: Store) -> None:
    def board() -> list[tuple[Any, ...]]:
        r = train(
            "builtin:breast_cancer",
            models=["logreg", "knn", "tree"],
            n_trials=9,
            seed=1,
            store=store,
        )
        b = r.leaderboard
        return list(zip(b["model"], b["valid_score"], map(str, b["params"]), strict=True))

    assert board() == board()


def test_candidates_with_fixed_parameters_and_metric_direction(store: Store) -> None:
    result = train(
        "builtin:diabetes",
        models=[Candidate("ridge", {"alpha": 3.0}), Candidate("ridge", {"alpha": 30.0}), "knn"],
        metric="mae",
        store=store,
    )
    assert [t.model for t in result.trials] == ["ridge", "knn", "ridge"]  # round-robin
    assert sorted(t.params["alpha"] for t in result.trials if t.model == "ridge") == [3.0, 30.0]
    scores = result.leaderboard["valid_score"].dropna().tolist()
    assert scores == sorted(scores)  # MAE: lower is better, best first
    assert result.metric == "mae"


def test_ensemble_when_it_beats_the_best_model(store: Store) -> None:
    result = train(
        "builtin:wine",
        models=["logreg", "knn", "naive_bayes"],
        n_trials=6,
        ensemble=True,
        metric="log_loss",
        store=store,
    )
    if result.best.model == "ensemble":
        best_single = min(t.valid_score for t in result.trials if t.ok and t.phase != "ensemble")
        assert result.best.valid_score < best_single  # type: ignore[operator]
        assert type(result.model.pipeline).__name__ == "VotingClassifier"
    reloaded = loopml.load_model(result.ref, store=store)
    df = loopml.load("builtin:wine").head(4)
    np.testing.assert_array_equal(reloaded.predict(df), result.model.predict(df))


def test_errors(store: Store) -> None:
    with pytest.raises(DataError, match="Unknown classification model 'lightgmb'"):
        train("builtin:iris", models=["lightgmb"], store=store)
    with pytest.raises(DataError, match="--time-budget must be a positive number"):
        train("builtin:iris", time_budget=0, store=store)
    with pytest.raises(DataError, match="has no parameter 'depth'"):
        train("builtin:iris", models=[Candidate("rf", {"depth": 3})], store=store)


@pytest.mark.slow
def test_time_budget_is_kept_and_a_slow_candidate_is_stopped(store: Store) -> None:
    register("sleepy", Sleepy, task="classification", cost="medium")
    try:
        budget = 5.0
        t0 = time.monotonic()
        result = train(
            "builtin:breast_cancer",
            models=["logreg", "sleepy"],
            time_budget=budget,
            n_jobs=2,
            store=store,
        )
        elapsed = time.monotonic() - t0
    finally:
        unregister("sleepy")
    assert elapsed <= 1.1 * budget + 1.0
    statuses = {t.model: t.status for t in result.trials}
    assert statuses["sleepy"] == "timeout"
    assert result.best.model in ("logreg", "ensemble")  # logistic regressions only
    assert "sleepy" not in str(result.best.params)
    assert result.duration_s <= 1.1 * budget + 1.0


@pytest.mark.slow
@pytest.mark.parametrize("data", ["builtin:digits", "builtin:diabetes"])
def test_automl_with_a_time_budget(store: Store, data: str) -> None:
    budget = 5.0
    t0 = time.monotonic()
    result = train(data, time_budget=budget, n_jobs=2, store=store)
    elapsed = time.monotonic() - t0
    assert elapsed <= 1.1 * budget + 1.0
    assert result.best.ok
    trials = store.list_trials(result.run_id)
    assert {t.status for t in trials} <= {"complete", "pruned", "failed", "timeout"}


@pytest.mark.slow
def test_parallel_workers_give_the_same_leaderboard_for_the_same_seed(store: Store) -> None:
    def board() -> list[tuple[Any, ...]]:
        r = train(
            "builtin:wine",
            models=["logreg", "knn", "lgbm"],
            n_trials=8,
            n_jobs=2,
            seed=2,
            store=store,
        )
        b = r.leaderboard
        return list(zip(b["model"], b["valid_score"], map(str, b["params"]), strict=True))

    assert board() == board()
