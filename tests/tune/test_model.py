"""`tune_model`: grid, random and Bayesian search on a stored version; pruning; resuming."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest

from loopml.exceptions import DataError, ModelNotFoundError
from loopml.learn.supervised import train
from loopml.store import Store
from loopml.tune import tune_model
from loopml.tune.model import study_storage
from tests.tune.fakes import SequenceSearch


@pytest.fixture(scope="module")
def store() -> Store:
    """A store holding iris@1 (an RBF SVM) and iris@2 (logistic regression)."""
    s = Store.in_memory()
    train("builtin:iris", models=["svm"], store=s)
    train("builtin:iris", models=["logreg"], store=s)
    return s


def test_grid_search_visits_every_combination_exactly_once(store: Store) -> None:
    result = tune_model(
        "iris@1",
        search="grid",
        params=["C=0.1,1,10", "kernel=rbf,linear"],
        store=store,
        study_name="grid-once",
    )
    seen = [(t.params["C"], t.params["kernel"]) for t in result.trials]
    assert sorted(seen) == sorted(itertools.product([0.1, 1, 10], ["rbf", "linear"]))
    assert len(set(seen)) == len(seen) == 6
    assert result.n_study_trials == 6
    if result.improved:  # the best trial beat the stored version: a new version holds it
        assert result.new_ref is not None
        assert store.resolve(result.new_ref).version == result.new_version
    board = result.leaderboard
    assert list(board["rank"]) == list(range(1, 8))  # 6 trials + the stored version
    assert -1 in set(board["trial"])
    # a second grid run on the finished study tries nothing more
    again = tune_model(
        "iris@1",
        search="grid",
        params=["C=0.1,1,10", "kernel=rbf,linear"],
        store=store,
        study_name="grid-once",
        resume=True,
    )
    assert again.trials == [] and again.n_study_trials == 6


def test_random_search_respects_bounds(store: Store) -> None:
    result = tune_model(
        "iris@1",
        search="random",
        params={"C": "0.01:100:log", "gamma": "0.001:1:log"},
        n_trials=8,
        store=store,
        study_name="random-bounds",
    )
    assert len(result.trials) == 8
    for t in result.trials:
        assert 0.01 <= t.params["C"] <= 100
        assert 0.001 <= t.params["gamma"] <= 1


def test_bayes_search_and_a_new_version_only_when_better(store: Store) -> None:
    latest = store.resolve("iris").version
    result = tune_model(
        "iris@2",
        search="bayes",
        params=["C=0.0001:0.001:log"],
        n_trials=4,
        store=store,
        study_name="bayes-worse",
    )
    # tiny C underfits: no trial beats the stored logistic regression
    assert not result.improved and result.new_ref is None
    assert "no new version registered" in result.notes[0]
    assert store.resolve("iris").version == latest


def test_a_pruned_trial_is_recorded_as_pruned(store: Store) -> None:
    # three good trials, then one that predicts a single class: its first fold's
    # score is far below the median of the completed trials at that step.
    search = SequenceSearch(values=(("C", (1.0, 2.0, 5.0, 1e-7)),))
    result = tune_model(
        "iris@2",
        search=search,
        params={"C": "0.00000001:100:log"},
        n_trials=4,
        store=store,
        study_name="pruning",
    )
    statuses = [t.status for t in result.trials]
    assert statuses == ["complete", "complete", "complete", "pruned"]
    stored = [t.status for t in store.list_trials(result.run_id)]
    assert stored.count("pruned") == 1
    study = study_storage(store)
    import optuna

    trials = optuna.load_study(study_name="pruning", storage=study).trials
    assert trials[-1].state == optuna.trial.TrialState.PRUNED


def test_resuming_a_stored_study_continues_it(tmp_path: Path) -> None:
    store = Store(root=tmp_path / "store")  # SQLite file: Optuna's RDB storage shares it
    try:
        train("builtin:wine", models=["logreg"], store=store)
        first = tune_model(
            "wine@1", search="random", params=["C=0.01:10:log"], n_trials=3, store=store
        )
        assert first.study_name == "loopml-tune:wine@1"
        with pytest.raises(DataError, match=r"already exists in the store.*--resume"):
            tune_model("wine@1", search="random", params=["C=0.01:10:log"], n_trials=2, store=store)
        again = tune_model(
            "wine@1",
            search="random",
            params=["C=0.01:10:log"],
            n_trials=2,
            store=store,
            resume=True,
        )
        assert [t.number for t in again.trials] == [3, 4]
        assert again.n_study_trials == 5
        with pytest.raises(DataError, match="searched 'C' as a float range"):
            tune_model("wine@1", search="grid", params=["C=0.1,1"], store=store, resume=True)
    finally:
        store.close()


def test_tune_errors(store: Store) -> None:
    with pytest.raises(ModelNotFoundError, match="nope"):
        tune_model("nope@1", store=store)
    with pytest.raises(DataError, match="has no parameter 'bogus'"):
        tune_model("iris@1", params=["bogus=1,2"], store=store)
    with pytest.raises(DataError, match="Grid search needs a list of values for 'C'"):
        tune_model("iris@1", search="grid", params=["C=0.1:10"], store=store)
    with pytest.raises(DataError, match="--trials must be at least 1"):
        tune_model("iris@1", n_trials=0, store=store)


def test_tune_needs_data_it_cannot_find() -> None:
    import loopml

    store = Store.in_memory()
    try:
        df = loopml.load("builtin:iris")
        train(df, target="target", name="frame", models=["logreg"], store=store)
        with pytest.raises(DataError, match="Pass it with --data FILE"):
            tune_model("frame@1", store=store)
        result = tune_model("frame@1", data=df, params=["C=0.5,5"], search="grid", store=store)
        assert len(result.trials) == 2
    finally:
        store.close()


@pytest.mark.slow
def test_tune_time_budget_is_kept(store: Store) -> None:
    budget = 5.0
    t0 = time.monotonic()
    result = tune_model(
        "iris@2", search="bayes", time_budget=budget, store=store, study_name="budget", n_jobs=2
    )
    elapsed = time.monotonic() - t0
    assert elapsed <= 1.1 * budget + 1.0
    # logistic regression is cheap: it is scored even while the workers start
    assert result.baseline.status == "complete"
    assert all(t.status in ("complete", "pruned", "timeout") for t in result.trials)


_WORKER = """
import sys
from loopml.store import Store
from loopml.tune import tune_model
store = Store(sys.argv[1], root=sys.argv[2])
result = tune_model("wine@1", search="random", params=["C=0.01:10:log"], n_trials=3,
                    store=store, resume=True, seed=int(sys.argv[3]))
print(",".join(str(t.number) for t in result.trials))
"""


def _tuning_processes(url: str, root: Path, n: int, *, together: bool) -> list[list[int]]:
    import subprocess
    import sys

    cmd = [sys.executable, "-c", _WORKER, url, str(root)]
    if together:
        procs = [
            subprocess.Popen([*cmd, str(i)], stdout=subprocess.PIPE, text=True) for i in range(n)
        ]
        outs = [p.communicate(timeout=300)[0] for p in procs]
        assert all(p.returncode == 0 for p in procs)
    else:
        outs = [
            subprocess.run(
                [*cmd, str(i)], capture_output=True, text=True, check=True, timeout=300
            ).stdout
            for i in range(n)
        ]
    return [[int(x) for x in o.strip().split(",")] for o in outs]


@pytest.mark.slow
def test_another_process_resumes_the_study(tmp_path: Path) -> None:
    store = Store(root=tmp_path)
    train("builtin:wine", models=["logreg"], store=store)
    url = store.url
    store.close()
    numbers = _tuning_processes(url, tmp_path, 2, together=False)
    assert numbers == [[0, 1, 2], [3, 4, 5]]


@pytest.mark.slow
@pytest.mark.postgres
def test_processes_tune_one_study_together_on_postgresql(tmp_path: Path) -> None:
    from tests.store.conftest import PG_URL, pg_schema

    if not PG_URL:
        pytest.skip(
            "PostgreSQL tests need LOOPML_TEST_PG_URL; run: "
            'export LOOPML_TEST_PG_URL="$(scripts/postgres.sh)"'
        )
    with pg_schema() as url:
        store = Store(url, root=tmp_path)
        train("builtin:wine", models=["logreg"], store=store)
        store.close()
        numbers = _tuning_processes(url, tmp_path, 2, together=True)
        import optuna

        check = Store(url, root=tmp_path)
        storage = optuna.storages.RDBStorage(check.url)
        try:
            study = optuna.load_study(study_name="loopml-tune:wine@1", storage=storage)
            assert sorted(n for ns in numbers for n in ns) == list(range(6))
            assert len(study.trials) == 6
        finally:
            storage.engine.dispose()
            check.close()
