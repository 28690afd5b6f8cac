"""Scoring candidates: evaluation plans, cross-validation, failures, pruning, compatibility."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from loopml.data.io import load
from loopml.data.schema import Task, infer_schema
from loopml.data.split import split
from loopml.evaluate.scoring import get_metric
from loopml.learn.candidates import (
    CV_MAX_ROWS,
    Candidate,
    Pruned,
    baseline_candidates,
    evaluate_candidate,
    fit_candidate,
    make_estimator,
    make_plan,
)
from loopml.learn.supervised import encode_target
from loopml.models import get_model


def _iris_plan(cv: int | str | None = "auto"):  # type: ignore[no-untyped-def]
    df = load("builtin:iris")
    schema = infer_schema(df, "target")
    sp = split(df, "target", seed=0)
    yt, yv = encode_target(sp.train["target"], schema), encode_target(sp.valid["target"], schema)
    return make_plan(schema, sp.train, yt, sp.valid, yv, seed=0, cv=cv)


def test_small_data_is_cross_validated() -> None:
    plan = _iris_plan()
    # 128 rows: 5 folds, repeated 3 times with other shuffles
    assert plan.method == "cv" and len(plan.folds) == 15 and plan.repeats == 3
    assert plan.scored_rows.tolist() == list(range(len(plan.X)))
    for r in range(3):
        rows = np.concatenate([s for _, s in plan.folds[5 * r : 5 * r + 5]])
        assert sorted(rows.tolist()) == list(range(len(plan.X)))  # each repeat covers all rows
    for fit_idx, score_idx in plan.folds:
        assert not set(fit_idx) & set(score_idx)
    assert plan.describe() == "5-fold cross-validation on 128 rows, repeated 3 times"
    single = _iris_plan(cv=5)
    assert single.repeats == 3 and len(single.folds) == 15
    from loopml.data.schema import infer_schema as _infer

    df = load("builtin:iris")
    once = make_plan(
        _infer(df, "target"), single.X, single.y, single.X.iloc[:0], single.y[:0], repeats=1
    )
    assert len(once.folds) == 5 and once.describe() == "5-fold cross-validation on 128 rows"


def test_large_or_ordered_data_uses_the_validation_split() -> None:
    n = CV_MAX_ROWS + 100
    rng = np.random.RandomState(0)
    df = pd.DataFrame({"x": rng.normal(size=n), "y": rng.normal(size=n)})
    schema = infer_schema(df, "y")
    y = df["y"].to_numpy()
    cut = int(n * 0.8)
    plan = make_plan(schema, df.iloc[:cut], y[:cut], df.iloc[cut:], y[cut:])
    assert plan.method == "holdout" and plan.describe().startswith("validation split")
    small = df.iloc[:200]
    ordered = make_plan(
        schema, small.iloc[:150], y[:150], small.iloc[150:], y[150:], strategy="time-ordered by 't'"
    )
    assert ordered.method == "holdout"  # shuffled folds would leak the future


def test_folds_shrink_to_the_smallest_class() -> None:
    df = pd.DataFrame({"x": np.arange(40.0), "y": ["a"] * 37 + ["b"] * 3})
    schema = infer_schema(df, "y")
    y = encode_target(df["y"], schema)
    plan = make_plan(schema, df.iloc[:30], y[:30], df.iloc[30:], y[30:], repeats=1)
    assert plan.method == "cv" and len(plan.folds) == 3


def test_evaluate_candidate_scores_every_fold() -> None:
    plan = _iris_plan()
    spec = get_model("logreg", Task.MULTICLASS)
    result = evaluate_candidate(plan, spec, {"C": 1.0}, get_metric("accuracy"), number=3)
    assert result.status == "complete" and result.ok
    assert result.number == 3 and result.model == "logreg"
    assert 0.8 < result.valid_score <= 1.0  # type: ignore[operator]
    assert result.valid_std is not None and result.train_score is not None
    assert result.fit_time > 0 and result.predict_time_per_1k is not None
    assert result.predictions is not None and result.predictions.shape == (len(plan.X), 3)
    np.testing.assert_allclose(result.predictions.sum(axis=1), 1.0, atol=1e-5)


def test_a_failing_candidate_is_recorded_not_raised() -> None:
    plan = _iris_plan()
    spec = get_model("knn", Task.MULTICLASS)
    result = evaluate_candidate(plan, spec, {"n_neighbors": 10_000}, get_metric("accuracy"))
    assert result.status == "failed" and not result.ok
    assert result.error is not None and "n_neighbors" in result.error


def test_a_reporter_can_prune() -> None:
    plan = _iris_plan()
    spec = get_model("logreg", Task.MULTICLASS)
    steps: list[int] = []

    def report(step: int, value: float) -> None:
        steps.append(step)
        if step == 1:
            raise Pruned()

    result = evaluate_candidate(plan, spec, {}, get_metric("accuracy"), report=report)
    assert result.status == "pruned" and steps == [0, 1]
    assert result.valid_score is not None  # the mean of the folds scored before pruning
    assert result.predictions is None


def test_proba_metrics_need_probabilities() -> None:
    plan = _iris_plan()
    from sklearn.linear_model import RidgeClassifier

    from loopml.models import register, unregister

    spec = register("ridge_cls", RidgeClassifier, task="classification")
    try:
        result = evaluate_candidate(plan, spec, {}, get_metric("log_loss"))
    finally:
        unregister("ridge_cls")
    assert result.status == "failed"
    assert "needs class probabilities" in (result.error or "")


def test_baseline_candidates_and_make_estimator() -> None:
    names = [c.model for c in baseline_candidates(Task.BINARY, 500)]
    assert names == ["logreg", "svm_rbf", "random_forest", "hgb"]
    assert type(make_estimator("lgbm", Task.REGRESSION, {}, 0, 1)).__name__ == "LGBMRegressor"


def test_fit_candidate_keeps_the_fitted_pipeline() -> None:
    df = load("builtin:wine")
    schema = infer_schema(df, "target")
    sp = split(df, "target", seed=0)
    yt, yv = encode_target(sp.train["target"], schema), encode_target(sp.valid["target"], schema)
    result = fit_candidate(
        0,
        Candidate("rf", {"n_estimators": 20}),
        schema,
        sp.train,
        yt,
        sp.valid,
        yv,
        get_metric("accuracy"),
    )
    assert result.status == "complete" and result.pipeline is not None
    assert result.pipeline.predict(sp.valid).shape == (len(sp.valid),)
    bad = fit_candidate(
        1, Candidate("nope"), schema, sp.train, yt, sp.valid, yv, get_metric("accuracy")
    )
    assert bad.status == "failed" and "Unknown classification model 'nope'" in (bad.error or "")


@pytest.mark.parametrize("name", ["mlp", "lasso", "svm_rbf"])
def test_regression_families_with_a_standardised_target(name: str) -> None:
    df = load("builtin:diabetes")
    schema = infer_schema(df, "target")
    sp = split(df, "target", seed=0)
    yt, yv = encode_target(sp.train["target"], schema), encode_target(sp.valid["target"], schema)
    plan = make_plan(schema, sp.train, yt, sp.valid, yv, cv=None)
    spec = get_model(name, Task.REGRESSION)
    result = evaluate_candidate(plan, spec, spec.portfolio[0], get_metric("rmse"))
    assert result.status == "complete", result.error
    assert result.valid_score is not None and result.valid_score < 70  # target std is ~77
