from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import typer
from sklearn.compose import TransformedTargetRegressor
from sklearn.ensemble import (
    HistGradientBoostingClassifier,
    HistGradientBoostingRegressor,
    RandomForestClassifier,
)
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.neural_network import MLPClassifier, MLPRegressor
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from typer.testing import CliRunner

from loopml.bundle import ModelBundle
from loopml.cli import deploy
from loopml.data.schema import infer_schema
from loopml.features.build import build_features
from loopml.learn.supervised import encode_target
from loopml.serve.edge import EdgeModel
from loopml.serve.export import ExportError, export_onnx, find_blocker, to_onnx

pytest.importorskip("skl2onnx")


def mixed_frame(n: int = 1500, seed: int = 0) -> pd.DataFrame:
    """Numeric (with NaN), boolean strings, a categorical with a rare level and missing values,
    a high-cardinality categorical (target-encoded), a binary target and a regression target."""
    rng = np.random.default_rng(seed)
    df = pd.DataFrame(
        {
            "age": rng.normal(40, 10, n).round(1),
            "spend rate": rng.gamma(2.0, 30.0, n),
            "active": rng.choice(["yes", "no"], n),
            "plan": rng.choice(["basic", "pro", "team", "legacy"], n, p=[0.5, 0.3, 0.198, 0.002]),
            "city": rng.choice([f"city{i}" for i in range(30)], n),
        }
    )
    df.loc[::17, "age"] = np.nan
    df.loc[::13, "plan"] = None
    df.loc[::11, "city"] = None
    score = (df["age"].fillna(40) - 40) / 10 + (df["plan"] == "pro") - 0.5 * (df["active"] == "no")
    df["churn"] = np.where(score + rng.normal(0, 1, n) > 0.3, "yes", "no")
    df["amount"] = 3.0 * df["age"].fillna(40) + 20 * (df["plan"] == "team") + rng.normal(0, 2, n)
    return df


def fit_bundle(
    estimator: Any, target: str = "churn", *, dense: bool = True, n: int = 1500, **features: Any
) -> tuple[ModelBundle, pd.DataFrame]:
    df = mixed_frame(n)
    df = df.drop(columns="amount" if target == "churn" else "churn")
    schema = infer_schema(df, target)
    y = encode_target(df[target], schema)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        pipe = Pipeline(
            [("features", build_features(schema, dense=dense, **features)), ("model", estimator)]
        ).fit(df, y)
    info = {"name": f"m-{type(estimator).__name__.lower()}", "task": str(schema.task)}
    return ModelBundle(pipe, schema, {"test": {}}, info), df


def _lgbm() -> Any:
    lgb = pytest.importorskip("lightgbm")
    return lgb.LGBMClassifier(n_estimators=30, verbosity=-1, n_jobs=1)


def _xgb(classifier: bool = True) -> Any:
    xgb = pytest.importorskip("xgboost")
    cls = xgb.XGBClassifier if classifier else xgb.XGBRegressor
    return cls(n_estimators=30, n_jobs=1)


CLASSIFIERS = {
    "logistic": (lambda: LogisticRegression(max_iter=500), False),
    "hgb": (lambda: HistGradientBoostingClassifier(max_iter=20, random_state=0), True),
    "random_forest": (lambda: RandomForestClassifier(20, max_depth=6, random_state=0), True),
    "lightgbm": (_lgbm, False),
    "xgboost": (_xgb, False),
    "mlp": (lambda: MLPClassifier(hidden_layer_sizes=(16,), max_iter=300, random_state=0), True),
}
REGRESSORS = {
    "ridge": lambda: Ridge(),
    "hgb": lambda: HistGradientBoostingRegressor(max_iter=20, random_state=0),
    "xgboost": lambda: _xgb(classifier=False),
    "scaled_mlp": lambda: TransformedTargetRegressor(
        regressor=MLPRegressor(hidden_layer_sizes=(8,), max_iter=300, random_state=0),
        transformer=StandardScaler(),
    ),
}


@pytest.mark.parametrize("family", list(CLASSIFIERS))
def test_classifiers_export_and_predict_like_the_original(tmp_path: Path, family: str) -> None:
    make, dense = CLASSIFIERS[family]
    bundle, df = fit_bundle(make(), dense=dense)
    X = df.drop(columns="churn")
    result = export_onnx(bundle, tmp_path / "m.onnx", data=df.head(400))
    check = result.check
    assert check is not None and check.passed and check.rows == 400
    assert check.max_abs_diff < 1e-5, check.summary()
    assert check.label_agreement == 1.0
    assert check.metric == "accuracy" and check.original_score == check.onnx_score
    edge = EdgeModel(result.path)
    got = edge.predict(X)
    np.testing.assert_array_equal(got.labels, bundle.predict(X))
    np.testing.assert_allclose(got.proba, bundle.predict_proba(X).to_numpy(), atol=1e-5)
    assert edge.columns == ["age", "spend rate", "active", "plan", "city"]
    assert [i["input"] for i in edge.inputs][1] == "spend_rate"  # ONNX names are sanitised


@pytest.mark.parametrize("family", list(REGRESSORS))
def test_regressors_export_and_predict_like_the_original(tmp_path: Path, family: str) -> None:
    bundle, df = fit_bundle(REGRESSORS[family](), target="amount")
    result = export_onnx(bundle, tmp_path / "r.onnx", data=df.head(300))
    assert result.check is not None and result.check.passed
    assert result.check.compared == "values" and result.check.metric == "rmse"
    got = EdgeModel(result.path).predict(df.drop(columns="amount"))
    np.testing.assert_allclose(got.labels, bundle.predict(df.drop(columns="amount")), rtol=1e-4)


def test_threshold_and_feature_selection_travel(tmp_path: Path) -> None:
    bundle, df = fit_bundle(LogisticRegression(max_iter=500), select_k=4)
    bundle.info["threshold"] = 0.2
    result = export_onnx(bundle, tmp_path / "t.onnx", data=df)
    edge = EdgeModel(result.path)
    assert edge.threshold == 0.2
    X = df.drop(columns="churn")
    np.testing.assert_array_equal(edge.predict(X).labels, bundle.predict(X))


def test_package_directory_runs_without_loopml(tmp_path: Path) -> None:
    bundle, df = fit_bundle(HistGradientBoostingClassifier(max_iter=10, random_state=0))
    result = export_onnx(bundle, tmp_path / "churn-edge", data=df)
    pkg = Path(result.path)
    assert result.package
    assert sorted(p.name for p in pkg.iterdir()) == [
        "README.md", "edge.json", "model.onnx", "predict.py", "requirements.txt", "schema.json",
    ]  # fmt: skip
    meta = json.loads((pkg / "edge.json").read_text())
    assert meta["classes"] == ["no", "yes"] and meta["check"]["passed"] is True
    assert "| `spend rate` | numeric | `spend_rate` |" in (pkg / "README.md").read_text()
    X = df.drop(columns="churn").head(50)
    X.to_csv(tmp_path / "rows.csv", index=False)
    blocker = "import sys\nfor m in ('loopml', 'pandas', 'sklearn', 'scipy', 'pyarrow'):\n    sys.modules[m] = None\n"  # fmt: skip
    code = (
        blocker
        + "import runpy\nsys.argv = sys.argv[1:]\nrunpy.run_path(sys.argv[0], run_name='__main__')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, str(pkg / "predict.py"), str(tmp_path / "rows.csv"),
         "-o", str(tmp_path / "p.csv")],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    got = pd.read_csv(tmp_path / "p.csv")
    assert list(got.columns) == ["prediction", "proba_no", "proba_yes"]
    np.testing.assert_array_equal(got["prediction"].to_numpy(), bundle.predict(X))
    # exporting again replaces the package
    again = export_onnx(bundle, pkg, data=df.head(100))
    assert again.check is not None and again.check.rows == 100
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_quantize_reports_its_cost(tmp_path: Path) -> None:
    bundle, df = fit_bundle(MLPClassifier(hidden_layer_sizes=(32,), max_iter=300, random_state=0))
    result = export_onnx(bundle, tmp_path / "mlp.onnx", data=df, quantize=True)
    q = result.quantized
    assert q is not None and q.path == str(tmp_path / "mlp.int8.onnx")
    assert Path(q.path).exists() and q.quantized_nodes >= 1
    assert q.max_abs_diff is not None and q.max_abs_diff < 0.2
    assert q.metric == "accuracy" and q.score_before is not None and q.score_after is not None
    assert q.cost == pytest.approx(q.score_before - q.score_after)
    small = EdgeModel(q.path)
    assert small.meta["precision"] == "float32" and "quantized" in small.meta
    assert len(small.predict(df.head(5))) == 5


def test_quantize_of_trees_writes_nothing_and_says_why(tmp_path: Path) -> None:
    bundle, df = fit_bundle(HistGradientBoostingClassifier(max_iter=5, random_state=0))
    result = export_onnx(bundle, tmp_path / "pkg", data=df.head(200), quantize=True)
    assert result.quantized is not None and result.quantized.path is None
    assert "nothing to quantise" in result.notes[0]
    assert not (tmp_path / "pkg" / "model.int8.onnx").exists()


def test_datetime_step_blocks_export_by_name(tmp_path: Path) -> None:
    df = mixed_frame(200).drop(columns="amount")
    df["signup"] = pd.date_range("2021-01-01", periods=len(df), freq="D").astype(str)
    schema = infer_schema(df, "churn")
    pipe = Pipeline([("features", build_features(schema)), ("model", LogisticRegression())])
    pipe.fit(df, encode_target(df["churn"], schema))
    bundle = ModelBundle(pipe, schema, {}, {"name": "dated", "task": "binary"})
    assert find_blocker(pipe) is not None
    with pytest.raises(
        ExportError, match=r"step 'features/columns/datetime/parts' \(DateTimeFeatures\)"
    ):
        export_onnx(bundle, tmp_path / "d.onnx", data=df)
    assert list(tmp_path.iterdir()) == []


def test_foreign_pipeline_and_estimator_are_refused() -> None:
    bundle, _ = fit_bundle(LogisticRegression(max_iter=200), n=200)
    odd = ModelBundle(bundle.pipeline.named_steps["model"], bundle.schema, {}, {"name": "raw"})
    with pytest.raises(ExportError, match=r"not loopml's Pipeline"):
        to_onnx(odd)

    class Custom(LogisticRegression):  # type: ignore[misc]
        pass

    bundle.pipeline.steps[-1] = ("model", Custom().fit(np.eye(2), [0, 1]))
    with pytest.raises(ExportError, match=r"step 'model' \(Custom\) has no ONNX converter"):
        to_onnx(bundle)


def test_a_mismatch_beyond_tolerance_fails_and_leaves_nothing(tmp_path: Path) -> None:
    bundle, df = fit_bundle(RandomForestClassifier(10, random_state=0))
    with pytest.raises(ExportError, match=r"does not predict like the original.*tolerance 1e-12"):
        export_onnx(bundle, tmp_path / "m.onnx", data=df, tolerance=1e-12)
    assert list(tmp_path.iterdir()) == []


def test_export_needs_rows_to_check(tmp_path: Path) -> None:
    bundle, _ = fit_bundle(LogisticRegression(max_iter=200), n=200)
    with pytest.raises(ExportError, match=r"Cannot check the export.*--data"):
        export_onnx(bundle, tmp_path / "m.onnx")
    result = export_onnx(bundle, tmp_path / "m.onnx", check=False)
    assert result.check is None and "not checked" in result.notes[0]
    existing = tmp_path / "taken"
    existing.mkdir()
    (existing / "x.txt").write_text("mine")
    with pytest.raises(ExportError, match=r"exists and is not an edge package"):
        export_onnx(bundle, existing, check=False)


def _cli() -> typer.Typer:
    app = typer.Typer()
    app.command("export")(deploy.export_command)
    app.command("edge-predict")(deploy.edge_predict_command)
    return app


@pytest.mark.slow
def test_cli_export_from_the_store_and_edge_predict(tmp_path: Path) -> None:
    from loopml.learn.supervised import train
    from loopml.store import Store

    url = f"sqlite:///{tmp_path / 'store.db'}"
    with Store(url, root=tmp_path) as st:
        train("builtin:breast_cancer", store=st)
    runner = CliRunner()
    res = runner.invoke(
        _cli(), ["export", "breast_cancer@1", "--format", "onnx", "-o", "bc.onnx", "--store", url]
    )
    assert res.exit_code == 0, res.output
    assert "test split of builtin:breast_cancer" in res.output
    assert "max |diff| of probabilities" in res.output
    res = runner.invoke(_cli(), ["export", "breast_cancer", "--format", "pmml", "--store", url])
    assert res.exit_code == 1 and "use --format onnx" in res.output
    from loopml.data.io import load

    load("builtin:breast_cancer").drop(columns="target").head(7).to_csv("x.csv", index=False)
    res = runner.invoke(_cli(), ["edge-predict", "bc.onnx", "x.csv"])
    assert res.exit_code == 0, res.output
    lines = res.output.strip().splitlines()
    assert lines[0] == "prediction,proba_benign,proba_malignant" and len(lines) == 8
    res = runner.invoke(_cli(), ["edge-predict", "bc.onnx", "x.csv", "-o", "p.csv"])
    assert res.exit_code == 0 and len(pd.read_csv("p.csv")) == 7
    res = runner.invoke(_cli(), ["edge-predict", "nope.onnx", "x.csv"])
    assert res.exit_code == 1 and "does not exist" in res.output
