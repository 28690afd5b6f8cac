from __future__ import annotations

import math
import threading
from datetime import UTC

import numpy as np
import pytest

from loopml.exceptions import DataError, LoopmlError, RunNotFoundError
from loopml.store import RunHandle, RunRecord, Store, TrialRecord


def test_finished_run_records_everything(store: Store) -> None:
    with store.start_run("churn", kind="tune", params={"seed": 0}) as run:
        assert isinstance(run, RunHandle)
        assert store.get_run(run.id).status == "running"
        run.log_params({"metric": "recall"})
        run.log_metrics({"recall": 0.8, "precision": 0.7}, prefix="valid_")
        run.set(split={"train": 70, "valid": 15, "test": 15})
        run.set(schema={"n_columns": 4})

    record = store.get_run(run.id)
    assert isinstance(record, RunRecord)
    assert record.project == "churn"
    assert record.kind == "tune"
    assert record.status == "finished"
    assert record.error is None
    assert record.params == {"seed": 0, "metric": "recall"}
    assert record.metrics == {"valid_precision": 0.7, "valid_recall": 0.8}
    assert record.info == {
        "split": {"train": 70, "valid": 15, "test": 15},
        "schema": {"n_columns": 4},
    }
    assert record.started_at is not None and record.ended_at is not None
    assert record.started_at.tzinfo is UTC and record.ended_at.tzinfo is UTC
    assert record.started_at <= record.ended_at
    assert record.duration_s is not None and record.duration_s >= 0


def test_exception_marks_run_failed_and_propagates(store: Store) -> None:
    with pytest.raises(ValueError, match="bad column"), store.start_run("churn") as run:
        run.log_metrics({"partial": 1.0})
        raise ValueError("bad column")

    record = store.get_run(run.id)
    assert record.status == "failed"
    assert record.error == "ValueError: bad column"
    assert record.ended_at is not None
    assert record.metrics == {"partial": 1.0}  # what was logged before the crash is kept


def test_keyboard_interrupt_marks_run_failed(store: Store) -> None:
    with pytest.raises(KeyboardInterrupt), store.start_run("churn") as run:
        raise KeyboardInterrupt

    record = store.get_run(run.id)
    assert record.status == "failed"
    assert record.error is not None and record.error.startswith("KeyboardInterrupt")
    assert record.ended_at is not None


def test_numpy_values_and_nan_round_trip(store: Store) -> None:
    params = {
        "n": np.int64(3),
        "alpha": np.float32(0.5),
        "flag": np.bool_(True),
        "grid": np.arange(3),
        "missing": np.nan,
        "nested": {"inf": float("inf"), "values": (1, np.float64(2.5))},
    }
    with store.start_run("p", params=params) as run:
        run.log_metrics({"acc": np.float32(0.25), "auc": np.float64(0.75), "n": np.int64(7)})
        run.log_metrics({"nan": np.nan, "inf": float("-inf"), "none": None})

    record = store.get_run(run.id)
    assert record.params == {
        "n": 3,
        "alpha": 0.5,
        "flag": True,
        "grid": [0, 1, 2],
        "missing": None,
        "nested": {"inf": None, "values": [1, 2.5]},
    }
    assert type(record.params["n"]) is int
    assert record.metrics["acc"] == 0.25 and type(record.metrics["acc"]) is float
    assert record.metrics["auc"] == 0.75
    assert record.metrics["n"] == 7.0
    assert all(math.isnan(record.metrics[k]) for k in ("nan", "inf", "none"))


def test_metrics_overwrite_and_prefix_rule(store: Store) -> None:
    with store.start_run("p") as run:
        run.log_metrics({"acc": 0.1})
        run.log_metrics({"acc": 0.2})
        run.log_metrics({"acc": 0.3}, prefix="test")
        run.log_metrics({"acc": 0.4}, prefix="valid/")
    assert store.get_run(run.id).metrics == {"acc": 0.2, "test_acc": 0.3, "valid/acc": 0.4}


def test_invalid_metric_and_info_values_are_rejected(store: Store) -> None:
    with store.start_run("p") as run:
        with pytest.raises(DataError, match="Metric 'acc' must be a number; got str 'high'"):
            run.log_metrics({"acc": "high"})  # type: ignore[dict-item]
        with pytest.raises(DataError, match=r"info\['obj'\] is a builtins.object"):
            run.set(obj=object())
    assert store.get_run(run.id).metrics == {}


def test_list_runs_newest_first_with_filters(store: Store) -> None:
    ids = []
    for project in ("a", "b", "a"):
        with store.start_run(project) as run:
            ids.append(run.id)
    assert [r.id for r in store.list_runs()] == ids[::-1]
    assert [r.id for r in store.list_runs("a")] == [ids[2], ids[0]]
    assert [r.id for r in store.list_runs(limit=1)] == [ids[2]]
    assert store.list_runs("nope") == []


def test_get_missing_run_names_the_newest(store: Store) -> None:
    with pytest.raises(RunNotFoundError, match="no runs yet"):
        store.get_run(1)
    with store.start_run("p") as run:
        pass
    with pytest.raises(RunNotFoundError, match=f"No run with id 999 .* newest run is {run.id}"):
        store.get_run(999)
    with pytest.raises(LookupError, match="No run with id"):
        store.get_run(999)
    with pytest.raises(RunNotFoundError, match="Run ids are integers; got str '1'"):
        store.get_run("1")  # type: ignore[arg-type]
    assert store.get_run(np.int64(run.id)).id == run.id  # type: ignore[arg-type]
    assert issubclass(RunNotFoundError, LoopmlError)


def test_bad_project_name_is_rejected(store: Store) -> None:
    with pytest.raises(DataError, match="project name must be a non-empty string"):
        with store.start_run(""):
            pass
    assert store.list_runs() == []


def test_trials_round_trip(store: Store) -> None:
    with store.start_run("p") as run:
        second = store.log_trial(
            run.id,
            number=1,
            model="rf",
            params={"depth": np.int64(4)},
            score=np.float64(0.9),
            fit_time=1.5,
            predict_time=0.01,
            info={"train_score": 0.95},
        )
        first = run.log_trial(number=0, model="logreg", params={}, score=np.nan, status="failed")
        run.log_trial(number=2, model="gbm", params={}, score=0.5, status="pruned")
        run.log_trial(number=3, model="svm", params={}, score=None, status="timeout")

    assert isinstance(second, TrialRecord)
    assert second.params == {"depth": 4} and second.score == 0.9
    assert second.fit_time == 1.5 and second.predict_time == 0.01
    assert second.info == {"train_score": 0.95}
    assert first.score is None  # NaN is stored as missing
    trials = store.list_trials(run.id)
    assert [t.number for t in trials] == [0, 1, 2, 3]
    assert [t.status for t in trials] == ["failed", "complete", "pruned", "timeout"]
    assert trials[1] == second


def test_trial_errors(store: Store) -> None:
    with store.start_run("p") as run:
        with pytest.raises(DataError, match="Trial status must be one of complete, pruned"):
            run.log_trial(number=0, model="rf", params={}, score=0.1, status="done")
    with pytest.raises(RunNotFoundError, match="No run with id 12345"):
        store.log_trial(12345, number=0, model="rf", params={}, score=0.1)
    with pytest.raises(RunNotFoundError, match="No run with id 12345"):
        store.list_trials(12345)
    assert store.list_trials(run.id) == []


def test_concurrent_runs_share_one_project(store: Store) -> None:
    barrier = threading.Barrier(2)
    errors: list[BaseException] = []

    def work() -> None:
        try:
            barrier.wait()
            for _ in range(5):
                with store.start_run("shared") as run:
                    run.log_metrics({"x": 1.0})
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    runs = store.list_runs("shared", limit=None)
    assert len(runs) == 10
    assert {r.status for r in runs} == {"finished"}
