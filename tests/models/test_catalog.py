"""The model catalogue: every entry fits and predicts, spaces are valid for Optuna, registry."""

from __future__ import annotations

import warnings

import numpy as np
import optuna
import pandas as pd
import pytest
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import RidgeClassifier

from loopml.data.schema import Task, infer_schema
from loopml.exceptions import DataError
from loopml.learn.candidates import build_pipeline, evaluate_candidate, make_plan
from loopml.learn.supervised import encode_target
from loopml.models import (
    ModelSpec,
    default_models,
    get_model,
    list_models,
    model_names,
    register,
    unregister,
)
from loopml.tune.search import GridSearch, RandomSearch
from loopml.tune.space import Choice, Float, Int, contains, suggest

SPECS = [pytest.param(s, id=f"{s.task}-{s.name}") for s in list_models()]


def _frame(kind: str, n: int = 90) -> tuple[pd.DataFrame, str]:
    rng = np.random.RandomState(0)
    X = rng.normal(size=(n, 4))
    df = pd.DataFrame(X, columns=["a", "b", "c", "d"])
    df["colour"] = rng.choice(["red", "green", "blue"], size=n)
    if kind == "classification":
        score = X[:, 0] + 0.5 * X[:, 1]
        df["y"] = np.where(score > 0.5, "high", np.where(score < -0.5, "low", "mid"))
    else:
        df["y"] = 3 * X[:, 0] - X[:, 1] + rng.normal(scale=0.1, size=n)
    return df, "y"


@pytest.mark.parametrize("spec", SPECS)
def test_every_entry_trains_and_predicts(spec: ModelSpec) -> None:
    df, target = _frame(spec.task)
    schema = infer_schema(df, target)
    y = encode_target(df[target], schema)
    pipe = build_pipeline(spec, schema, spec.portfolio[0], seed=0, n_jobs=1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)  # tiny data, default iterations
        pipe.fit(df, y)
    pred = pipe.predict(df.head(7))
    assert pred.shape == (7,)
    if spec.task == "classification" and spec.proba:
        proba = pipe.predict_proba(df.head(7))
        assert proba.shape == (7, 3)
        np.testing.assert_allclose(proba.sum(axis=1), 1.0, atol=1e-6)


@pytest.mark.parametrize("spec", SPECS)
def test_search_space_is_valid_for_optuna(spec: ModelSpec) -> None:
    study = optuna.create_study(sampler=RandomSearch().sampler(spec.space, seed=0))
    for _ in range(3):
        trial = study.ask()
        params = suggest(trial, spec.space)
        for name, value in params.items():
            assert spec.space[name].contains(value), (name, value)
        spec.build(params)  # every sampled configuration builds
        study.tell(trial, 0.0)
    # the grid: finite, Optuna-compatible values that build
    grid = GridSearch().space({k: Choice(v) for k, v in spec.grid.items()})
    spec.build({k: p.values[0] for k, p in grid.items()})
    # portfolio configurations build, and those inside the space can seed a study
    for cfg in spec.portfolio:
        spec.build(cfg)
        inside = contains(spec.space, cfg)
        if inside:
            optuna.trial.create_trial(
                params=inside,
                distributions={k: spec.space[k].distribution() for k in inside},
                value=0.5,
            )


@pytest.mark.parametrize("name", ["lightgbm", "xgboost", "hgb", "mlp"])
def test_staged_families_stop_early_and_report_progress(name: str) -> None:
    df, target = _frame("classification", n=120)
    schema = infer_schema(df, target)
    y = encode_target(df[target], schema)
    plan = make_plan(schema, df.iloc[:90], y[:90], df.iloc[90:], y[90:], cv=None)
    spec = get_model(name, Task.MULTICLASS)
    steps: list[int] = []
    from loopml.evaluate.scoring import get_metric

    result = evaluate_candidate(
        plan, spec, spec.portfolio[0], get_metric("accuracy"), report=lambda s, v: steps.append(s)
    )
    assert result.status == "complete", result.error
    effective = {"lightgbm": "n_estimators", "xgboost": "n_estimators", "hgb": "max_iter"}.get(
        name, "epochs"
    )
    assert result.params[effective] >= 1
    if name != "hgb":  # HistGradientBoosting has no per-iteration callback
        assert steps and steps == sorted(steps)


def test_needs_and_catalogue_contents() -> None:
    clf = set(model_names("binary"))
    assert {
        "logreg",
        "knn",
        "svm_linear",
        "svm_rbf",
        "tree",
        "random_forest",
        "extra_trees",
        "hgb",
        "lightgbm",
        "xgboost",
        "mlp",
        "naive_bayes",
    } <= clf
    reg = set(model_names("regression"))
    assert {
        "linear",
        "ridge",
        "lasso",
        "elastic_net",
        "knn",
        "svm_rbf",
        "tree",
        "random_forest",
        "extra_trees",
        "hgb",
        "lightgbm",
        "xgboost",
        "mlp",
    } <= reg
    assert get_model("knn", "binary").scale and not get_model("rf", "binary").scale
    assert get_model("hgb", "regression").dense
    assert get_model("svm", "regression").scale_target
    mlp = get_model("nn", "multiclass").space
    assert {"learning_rate_init", "batch_size", "epochs", "layers", "width", "alpha"} <= set(mlp)
    costs = [s.cost for s in list_models("binary")]
    assert costs == sorted(costs, key=["cheap", "medium", "expensive"].index)


@pytest.mark.parametrize(
    ("alias", "task", "name"),
    [
        ("lgbm", "binary", "lightgbm"),
        ("XGB", "multiclass", "xgboost"),
        ("svm", "binary", "svm_rbf"),
        ("svr", "regression", "svm_rbf"),
        ("rf", "regression", "random_forest"),
        ("logreg", "binary", "logreg"),
        ("linear", "binary", "logreg"),
        ("linear", "regression", "linear"),
        ("enet", "regression", "elastic_net"),
        ("mlp", "regression", "mlp"),
    ],
)
def test_aliases(alias: str, task: str, name: str) -> None:
    assert get_model(alias, task).name == name


def test_unknown_model_names_close_matches() -> None:
    with pytest.raises(DataError, match=r"Unknown classification model 'lightgmb'.*lightgbm"):
        get_model("lightgmb", "binary")
    with pytest.raises(DataError, match="catalogue covers classification and regression"):
        get_model("knn", "clustering")


def test_default_models_skip_families_too_costly_for_the_rows() -> None:
    assert "svm_rbf" in default_models("binary", 1_000)
    assert "svm_rbf" not in default_models("binary", 500_000)
    assert default_models("regression", 100, quick=True) == [
        "ridge",
        "svm_rbf",
        "random_forest",
        "hgb",
    ]


def test_register_a_custom_estimator() -> None:
    spec = register(
        "ridge_clf",
        RidgeClassifier,
        task="classification",
        space={"alpha": Float(1e-3, 1e3, log=True), "fit_intercept": Choice([True, False])},
        portfolio=[{"alpha": 1.0}],
        aliases=["rc"],
    )
    try:
        assert get_model("rc", "binary") is spec
        assert spec.proba is False
        assert spec.grid == {"fit_intercept": [True, False]}
        assert spec.build({"alpha": 2.0}).alpha == 2.0
        with pytest.raises(DataError, match="already registered"):
            register("ridge_clf", RidgeClassifier, task="classification")
        with pytest.raises(DataError, match="has no parameter 'nope'"):
            spec.check_params({"nope": 1})
    finally:
        unregister("ridge_clf")
    with pytest.raises(DataError, match="Unknown classification model 'ridge_clf'"):
        get_model("ridge_clf", "binary")


def test_register_rejects_bad_input() -> None:
    with pytest.raises(DataError, match="must map names to Float, Int or Choice"):
        register("bad", RidgeClassifier, task="classification", space={"alpha": [1, 2]})  # type: ignore[dict-item]
    with pytest.raises(DataError, match="needs a scikit-learn estimator"):
        register("bad", 42, task="classification")
    with pytest.raises(DataError, match="built-in model"):
        unregister("knn")
    with pytest.raises(DataError, match="cost must be one of"):
        register("bad", RidgeClassifier, task="classification", cost="free")


def test_int_space_suggestions_are_ints() -> None:
    study = optuna.create_study()
    trial = study.ask()
    value = suggest(trial, {"k": Int(1, 5)})["k"]
    assert isinstance(value, int) and 1 <= value <= 5
