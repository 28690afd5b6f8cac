"""Semi-supervised learning: self-training with pseudo-labels, compared with the
supervised-only model on the same labelled rows."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC

from loopml.bundle import load_model
from loopml.data.io import load
from loopml.exceptions import DataError
from loopml.learn.candidates import Candidate
from loopml.learn.semi import PseudoLabelClassifier, train_semi_supervised
from loopml.store import Store


@pytest.fixture
def store() -> Iterator[Store]:
    s = Store.in_memory()
    yield s
    s.close()


def test_pseudo_labels_beat_supervised_only_with_5_percent_of_digits_labels(
    store: Store, tmp_path: Path
) -> None:
    digits = load("builtin:digits")
    keep = np.random.default_rng(0).random(len(digits)) < 0.05
    data = digits.copy()
    data.loc[~keep, "target"] = np.nan
    result = train_semi_supervised(
        data, "target", name="digits", store=store, report=tmp_path / "semi.html"
    )
    assert result.n_labelled == keep.sum() and result.n_unlabelled == (~keep).sum()
    assert result.n_pseudo > 1000
    # the verdict on the labelled validation rows ...
    assert result.helped and result.comparison["verdict"] == "helped"
    assert result.comparison["valid"]["difference"] > 0
    assert result.stored == "self-training"
    # ... and the truth on the rows whose labels were hidden
    hidden = digits.loc[~keep]
    classes = np.asarray(result.schema.classes)
    truth = hidden["target"].to_numpy()
    X = hidden.drop(columns="target")
    semi = (classes[result.self_trained.predict(X)] == truth).mean()
    supervised = (classes[result.baseline.predict(X)] == truth).mean()
    assert semi > supervised + 0.01
    # the stored model predicts the original classes (ints, not 0.0 / 1.0)
    model = load_model(result.ref, store=store)
    assert (model.predict(X) == truth).mean() == pytest.approx(semi)
    assert model.info["semi_supervised"]["verdict"] == "helped"
    run = store.get_run(result.run_id)
    assert run.kind == "train" and run.params["semi_supervised"] is True
    assert run.info["comparison"]["verdict"] == "helped"
    board = result.leaderboard
    assert set(board["model"]) == {"logreg", "logreg + self-training"}
    html = (tmp_path / "semi.html").read_text()
    assert "Did the unlabelled data help?" in html
    assert "The unlabelled data helped" in html


def test_self_training_estimator_adds_pseudo_labels_in_rounds() -> None:
    X, y = make_classification(
        n_samples=400, n_features=6, n_informative=4, class_sep=2.0, random_state=0
    )
    y_partial = np.where(np.random.default_rng(0).random(400) < 0.1, y, -1)
    est = PseudoLabelClassifier(LogisticRegression(), threshold=0.8, max_iter=5).fit(X, y_partial)
    assert est.n_iter_ >= 1 and len(est.history_) == est.n_iter_
    assert (est.labeled_iter_[y_partial >= 0] == 0).all()
    pseudo = est.labeled_iter_ > 0
    assert pseudo.sum() == est.history_[-1]["pseudo_labelled"]
    assert (est.transduction_[pseudo] == y[pseudo]).mean() > 0.8
    assert est.termination_condition_ in ("max_iter", "no_change", "all_labeled")
    assert est.predict_proba(X).shape == (400, 2) and list(est.classes_) == [0, 1]
    # without quotas every confident row is taken at once
    plain = PseudoLabelClassifier(LogisticRegression(), threshold=0.8, balance="none")
    plain.fit(X, y_partial)
    assert plain.history_[0]["added"] >= est.history_[0]["added"]
    # threshold 1.0: nothing is confident enough
    none = PseudoLabelClassifier(LogisticRegression(), threshold=1.0).fit(X, y_partial)
    assert none.termination_condition_ == "no_change" and none.n_iter_ == 0


def test_self_training_errors_name_the_fix() -> None:
    X, y = make_classification(n_samples=50, random_state=0)
    with pytest.raises(DataError, match="needs a classifier with predict_proba"):
        PseudoLabelClassifier(LinearSVC()).fit(X, y)
    with pytest.raises(DataError, match="every y is -1"):
        PseudoLabelClassifier(LogisticRegression()).fit(X, np.full(50, -1))
    with pytest.raises(DataError, match=r"threshold must be in \[0, 1\]"):
        PseudoLabelClassifier(LogisticRegression(), threshold=2.0).fit(X, y)


def test_train_semi_supervised_on_a_small_binary_table(store: Store) -> None:
    X, y = make_classification(n_samples=600, n_features=5, n_informative=3, random_state=1)
    df = pd.DataFrame(X, columns=[f"x{i}" for i in range(5)])
    df["converted"] = np.where(y == 1, "yes", "no")
    df.loc[np.random.default_rng(1).random(600) < 0.7, "converted"] = None
    result = train_semi_supervised(
        df, "converted", store=store, name="leads", max_iter=3,
        models=["logreg", Candidate("logreg", {"C": 0.1})],
    )  # fmt: skip
    assert len(result.trials) == 4 and result.model.info["params"] in ({"C": 1.0}, {"C": 0.1})
    assert result.metric == "roc_auc" and result.comparison["verdict"] in (
        "helped",
        "hurt",
        "no_difference",
    )
    assert result.comparison["summary"].startswith("The unlabelled data")
    assert result.comparison["test"]["n_rows"] == result.split["rows"]["test"]
    assert set(load_model(result.ref, store=store).predict(df.head(5))) <= {"yes", "no"}
    assert result.split["unlabelled"] == int(df["converted"].isna().sum())
    assert len(result.history) <= 3


def test_no_unlabelled_rows_and_regression_targets(store: Store) -> None:
    result = train_semi_supervised("builtin:iris", "target", store=store, max_iter=2)
    assert result.n_unlabelled == 0 and result.n_pseudo == 0
    assert result.comparison["verdict"] == "no_difference"
    assert any("no unlabelled row" in n for n in result.notes)
    with pytest.raises(DataError, match="Semi-supervised training is for classification"):
        train_semi_supervised("builtin:diabetes", "target", store=store)
    with pytest.raises(DataError, match="No target given"):
        train_semi_supervised("builtin:iris", store=store)
