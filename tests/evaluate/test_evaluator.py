from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.metrics import accuracy_score, root_mean_squared_error

from loopml.data.io import load
from loopml.evaluate import evaluator
from loopml.evaluate.evaluator import (
    EvaluationResult,
    evaluate,
    native_importance,
    permutation_importance,
)
from loopml.exceptions import DataError, SchemaMismatchError
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


def _binary_frame(n: int = 300, start: int = 0) -> pd.DataFrame:
    """Rows start..start+n of one fixed problem (training uses the first 300)."""
    X, y = make_classification(1000, n_features=5, n_informative=3, class_sep=2.0, random_state=0)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(5)])
    df["churned"] = y
    return df.iloc[start : start + n].reset_index(drop=True)


@pytest.fixture(scope="module")
def binary(store: Store) -> TrainResult:
    return train(_binary_frame(), "churned", name="churn", store=store, models=["logreg"])


@pytest.fixture(scope="module")
def diabetes(store: Store) -> TrainResult:
    return train("builtin:diabetes", store=store, models=["ridge"])


# -- evaluate -------------------------------------------------------------------------------------


def test_evaluate_multiclass_by_reference_on_original_labels(
    iris: TrainResult, store: Store
) -> None:
    df = load("builtin:iris")
    result = evaluate(iris.ref, df, store=store)
    assert isinstance(result, EvaluationResult)
    assert result.model == "iris@1" and result.task == "multiclass"
    assert result.n_rows == 150
    expected = accuracy_score(df["target"], iris.model.predict(df))
    assert result.metrics["accuracy"] == pytest.approx(expected)
    assert result.report.confusion.labels == ["setosa", "versicolor", "virginica"]
    assert set(result.figures()) == {
        "confusion_matrix",
        "roc",
        "pr",
        "calibration",
        "importance",
        "permutation_importance",
    }


def test_evaluate_binary_from_csv_with_text_labels(binary: TrainResult, tmp_path: Path) -> None:
    df = _binary_frame(120, start=300)
    df["churned"] = df["churned"].astype(str)  # "0"/"1" in the file, ints in the model
    df.to_csv(tmp_path / "labelled.csv", index=False)
    result = evaluate(binary.model, tmp_path / "labelled.csv")
    assert result.classes == [0, 1]
    assert result.threshold is None  # the model's own decision rule
    assert set(result.figures()) >= {"roc", "pr", "calibration", "threshold", "confusion_matrix"}
    assert result.threshold_table is not None
    assert result.metrics["roc_auc"] > 0.7
    assert result.source == str(tmp_path / "labelled.csv")


def test_threshold_override_moves_the_decision(binary: TrainResult) -> None:
    df = _binary_frame(100, start=500)
    everyone = evaluate(binary.model, df, threshold=0.0, importance=False)
    assert everyone.metrics["recall"] == 1.0
    assert everyone.threshold == 0.0
    assert set(everyone.y_pred) == {1}


def test_threshold_on_multiclass_is_refused(iris: TrainResult) -> None:
    with pytest.raises(DataError, match="binary models"):
        evaluate(iris.model, load("builtin:iris"), threshold=0.3)


def test_evaluate_regression(diabetes: TrainResult) -> None:
    df = load("builtin:diabetes")
    result = evaluate(diabetes.model, df, importance=False)
    assert result.task == "regression"
    assert result.metrics["rmse"] == pytest.approx(
        root_mean_squared_error(df["target"], diabetes.model.predict(df))
    )
    assert set(result.figures()) == {"residuals", "predicted_vs_actual"}


def test_missing_labels_are_dropped_with_a_note(iris: TrainResult) -> None:
    df = load("builtin:iris")
    df.loc[:9, "target"] = None
    result = evaluate(iris.model, df, importance=False)
    assert result.n_rows == 140
    assert any("Dropped 10 row(s)" in n for n in result.notes)


def test_evaluate_errors(iris: TrainResult, diabetes: TrainResult) -> None:
    df = load("builtin:iris")
    with pytest.raises(DataError, match="has no column 'label'"):
        evaluate(iris.model, df, target="label")
    bad = df.copy()
    bad.loc[0, "target"] = "rose"
    with pytest.raises(DataError, match="label\\(s\\) the model does not know: 'rose'"):
        evaluate(iris.model, bad)
    with pytest.raises(SchemaMismatchError, match="missing 1 column"):
        evaluate(iris.model, df.drop(columns=["petal width (cm)"]))
    reg = load("builtin:diabetes")
    reg["target"] = reg["target"].astype(object)
    reg.loc[3, "target"] = "n/a"
    with pytest.raises(DataError, match="must hold numbers"):
        evaluate(diabetes.model, reg)


def test_result_serialises_and_renders(iris: TrainResult, tmp_path: Path) -> None:
    result = evaluate(iris.model, load("builtin:iris"))
    payload = json.loads(json.dumps(result.to_dict()))
    assert payload["metrics"]["accuracy"] == pytest.approx(result.metrics["accuracy"])
    assert payload["permutation_importance"]["names"]
    html = result.to_html(tmp_path / "eval.html")
    assert (tmp_path / "eval.html").read_text() == html
    assert html.count('class="lm-plot"') == len(result.figures())
    assert "Evaluation: iris@1" in html


def test_save_png(iris: TrainResult, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from loopml.evaluate import plots

    result = evaluate(iris.model, load("builtin:iris"), importance=False)
    monkeypatch.setattr(plots, "png_backend", lambda: None)
    assert result.save_png(tmp_path / "none") == []
    monkeypatch.undo()
    pytest.importorskip("matplotlib")
    monkeypatch.setattr(plots, "png_backend", lambda: "matplotlib")
    written = result.save_png(tmp_path / "png")
    assert {p.name for p in written} == {f"{k}.png" for k in result.figures()}


def test_label_alignment_matches_text_numbers_and_booleans() -> None:
    y = pd.Series(["1", "0", "1.0", 0], name="t")
    assert evaluator._align_labels(y, [0, 1], "f.csv", "t").tolist() == [1, 0, 1, 0]
    flags = pd.Series(["True", "false"], name="t")
    assert evaluator._align_labels(flags, [False, True], "f.csv", "t").tolist() == [True, False]


# -- importance -----------------------------------------------------------------------------------


def test_permutation_importance_finds_the_informative_column(store: Store) -> None:
    rng = np.random.RandomState(0)
    df = pd.DataFrame({"signal": rng.normal(size=400), "noise": rng.normal(size=400)})
    df["y"] = (df["signal"] > 0).astype(int)
    result = train(df, "y", name="signal", store=store, models=["logreg"])
    codes = df["y"].to_numpy()
    imp = permutation_importance(result.model, df, codes, n_repeats=3)
    assert imp is not None
    ranked = dict(zip(imp["names"], imp["mean"], strict=True))
    assert ranked["signal"] > 0.2 > abs(ranked["noise"])
    assert imp["metric"] == "roc_auc" and imp["complete"]


def test_native_importance_for_linear_and_tree_models() -> None:
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.tree import DecisionTreeClassifier

    X = pd.DataFrame({"a": [0.0, 1.0, 2.0, 3.0] * 5, "b": [1.0, 0.0] * 10})
    y = [0, 0, 1, 1] * 5
    lin = native_importance(make_pipeline(StandardScaler(), LogisticRegression()).fit(X, y))
    assert lin is not None and lin["kind"] == "coefficient"
    assert lin["names"] == ["a", "b"] and len(lin["values"]) == 2
    tree = native_importance(DecisionTreeClassifier().fit(X, y))
    assert tree is not None and tree["names"] == ["feature 0", "feature 1"]
    assert native_importance(KNeighborsClassifier(3).fit(X, y)) is None
