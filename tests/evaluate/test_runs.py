from __future__ import annotations

import json
from collections.abc import Iterator

import pandas as pd
import pytest
from sklearn.datasets import make_classification

from loopml.evaluate.evaluator import evaluate
from loopml.evaluate.runs import diagnose_bundle, load_run_data
from loopml.exceptions import DataError
from loopml.learn.supervised import TrainResult, train
from loopml.store import Store


@pytest.fixture(scope="module")
def store() -> Iterator[Store]:
    s = Store.in_memory()
    yield s
    s.close()


@pytest.fixture(scope="module")
def iris(store: Store) -> TrainResult:
    return train("builtin:iris", store=store, models=["logreg"])


def _binary_frame(n: int = 300) -> pd.DataFrame:
    X, y = make_classification(n, n_features=5, n_informative=3, class_sep=2.0, random_state=0)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(5)])
    df["churned"] = y
    return df


@pytest.fixture(scope="module")
def binary(store: Store) -> TrainResult:
    return train(_binary_frame(), "churned", name="churn", store=store, models=["logreg"])


def test_load_run_data_rebuilds_the_exact_split(iris: TrainResult, store: Store) -> None:
    rd = load_run_data(store, iris.run_id)
    assert rd.split.counts == iris.split["rows"]
    assert rd.notes == []
    assert rd.bundle is not None and rd.bundle.version == iris.version
    # The same test rows: metrics recomputed on them equal the ones logged at training.
    again = evaluate(rd.bundle, rd.split.test, importance=False)
    assert again.metrics["accuracy"] == pytest.approx(iris.metrics["accuracy"])


def test_run_trained_on_a_dataframe_needs_the_data(binary: TrainResult, store: Store) -> None:
    with pytest.raises(DataError, match="in-memory DataFrame"):
        load_run_data(store, binary.run_id)
    rd = load_run_data(store, binary.run_id, data=_binary_frame())
    assert rd.split.counts == binary.split["rows"]
    changed = load_run_data(store, binary.run_id, data=_binary_frame(280))
    assert any("has changed since training" in n for n in changed.notes)


def test_load_run_data_refuses_runs_without_training_parameters(store: Store) -> None:
    with store.start_run("odd", kind="tune", params={"x": 1}) as run:
        pass
    with pytest.raises(DataError, match="no 'source' parameter"):
        load_run_data(store, run.id)


@pytest.mark.slow
def test_diagnose_bundle_refits_on_the_training_rows(iris: TrainResult) -> None:
    report = diagnose_bundle(iris.model, bias_variance=False)
    assert report.label in ("balanced", "overfitting", "underfitting")
    assert report.diagnosis.metric == iris.metric
    assert report.diagnosis.evidence["n_train"] == iris.split["rows"]["train"]
    assert report.learning is not None and report.validation is not None
    assert report.validation.param == "C"
    assert set(report.figures()) == {"learning_curve", "validation_curve"}
    json.dumps(report.to_dict())


def test_diagnose_bundle_of_a_dataframe_run_needs_data(binary: TrainResult) -> None:
    with pytest.raises(DataError, match="in-memory DataFrame"):
        diagnose_bundle(binary.model)


def test_time_ordered_runs_are_rebuilt_and_diagnosed_without_shuffling(store: Store) -> None:
    from loopml.evaluate.runs import diagnose_split

    df = _binary_frame(240)
    df["day"] = pd.date_range("2024-01-01", periods=240, freq="D").astype(str)
    df = df.sample(frac=1.0, random_state=0).reset_index(drop=True)
    df.to_csv("events.csv", index=False)
    run = train("events.csv", "churned", store=store, models=["logreg"], time_column="day")
    rd = load_run_data(store, run.run_id)
    assert rd.split.strategy == "time-ordered by 'day'"
    assert rd.split.counts == run.split["rows"]
    assert rd.split.test["day"].min() > rd.split.train["day"].max()
    assert rd.bundle is not None
    report = diagnose_split(rd.bundle, rd.split, curves=False, bias_variance=False)
    assert report.diagnosis.evidence["cv_folds"] == 0
    assert any("time-ordered" in n for n in report.notes)
