from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier

from loopml.features.transformers import coerce_column
from loopml.serve.edge import EdgeError, EdgeModel, coerce_values, predict_file
from tests.serve.test_export import fit_bundle

pytest.importorskip("onnxruntime")


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, object, pd.DataFrame]:
    from loopml.serve.export import export_onnx

    bundle, df = fit_bundle(HistGradientBoostingClassifier(max_iter=15, random_state=0))
    path = tmp_path_factory.mktemp("edge") / "churn.onnx"
    export_onnx(bundle, path, data=df.head(200))
    return path, bundle, df.drop(columns="churn")


def test_coercion_matches_the_schema_coercer() -> None:
    raw = pd.Series(["1.5", "", "x", "inf", None, " 7 ", "-2e3"], dtype=object)
    expected = coerce_column(raw, "numeric").to_numpy()
    np.testing.assert_array_equal(coerce_values(raw.to_numpy(), "numeric"), expected)
    assert coerce_values(np.array([1, 2]), "numeric").dtype == np.float64
    flags = pd.Series(["yes", "No", "t", "0", "maybe", None], dtype=object)
    np.testing.assert_array_equal(
        coerce_values(flags.to_numpy(), "boolean"), coerce_column(flags, "boolean").to_numpy()
    )
    np.testing.assert_array_equal(coerce_values([True, False, 1.0], "boolean"), [1.0, 0.0, 1.0])
    cats = coerce_values(["a", None, float("nan"), "NA", 3, np.nan], "categorical")
    assert cats.tolist() == ["a", "", "", "", "3", ""]
    nullable = np.array(["b", pd.NA, pd.NaT], dtype=object)
    assert coerce_values(nullable, "categorical").tolist() == ["b", "", ""]
    assert np.isnan(coerce_values(np.array([pd.NA, 1.0], dtype=object), "boolean")[0])
    with pytest.raises(EdgeError, match=r"role 'datetime' are not supported"):
        coerce_values(["2020-01-01"], "datetime")


def test_records_columns_and_frames_agree(exported: tuple[Path, object, pd.DataFrame]) -> None:
    path, bundle, X = exported
    edge = EdgeModel(path)
    expected = bundle.predict(X.head(20))  # type: ignore[attr-defined]
    records = X.head(20).to_dict("records")
    np.testing.assert_array_equal(edge.predict_records(records).labels, expected)
    columns = {c: X[c].head(20).tolist() for c in X.columns}
    pred = edge.predict(columns)
    np.testing.assert_array_equal(pred.labels, expected)
    assert pred.proba is not None and pred.proba.shape == (20, 2)
    assert list(pred.columns()) == ["prediction", "proba_no", "proba_yes"]
    assert len(edge.predict_records([])) == 0
    assert "churn" not in repr(edge) or "EdgeModel(" in repr(edge)


def test_missing_column_is_named(exported: tuple[Path, object, pd.DataFrame]) -> None:
    path, _, X = exported
    with pytest.raises(EdgeError, match=r"missing 1 column\(s\) the model needs: 'plan'"):
        EdgeModel(path).predict(X.drop(columns="plan"))


def test_csv_and_jsonl_files_in_chunks(
    tmp_path: Path, exported: tuple[Path, object, pd.DataFrame]
) -> None:
    path, bundle, X = exported
    rows = X.head(95).assign(customer=[f"c{i}" for i in range(95)])
    rows.to_csv(tmp_path / "in.csv", index=False)
    n = predict_file(
        path, tmp_path / "in.csv", tmp_path / "out.csv", chunk_rows=20, keep=["customer"]
    )
    assert n == 95
    got = pd.read_csv(tmp_path / "out.csv")
    assert list(got.columns) == ["customer", "prediction", "proba_no", "proba_yes"]
    np.testing.assert_array_equal(got["prediction"], bundle.predict(X.head(95)))  # type: ignore[attr-defined]
    assert got["customer"].iloc[-1] == "c94"
    with (tmp_path / "in.jsonl").open("w") as fh:
        for rec in X.head(30).to_dict("records"):
            fh.write(json.dumps({k: (None if v != v else v) for k, v in rec.items()}) + "\n")
    assert predict_file(path, tmp_path / "in.jsonl", tmp_path / "j.csv", chunk_rows=7) == 30
    got = pd.read_csv(tmp_path / "j.csv")
    np.testing.assert_array_equal(got["prediction"], bundle.predict(X.head(30)))  # type: ignore[attr-defined]
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "in.csv", "in.jsonl", "j.csv", "out.csv",
    ]  # fmt: skip


def test_bad_files_fail_cleanly(
    tmp_path: Path, exported: tuple[Path, object, pd.DataFrame]
) -> None:
    path, _, X = exported
    X.head(3).to_parquet(tmp_path / "x.parquet")
    with pytest.raises(EdgeError, match=r"reads CSV and JSON Lines only"):
        predict_file(path, tmp_path / "x.parquet", tmp_path / "o.csv")
    (tmp_path / "ragged.csv").write_text("age,plan\n1,2,3\n")
    with pytest.raises(EdgeError, match=r"a row has 3 fields but the header has 2"):
        predict_file(path, tmp_path / "ragged.csv", tmp_path / "o.csv")
    (tmp_path / "head.csv").write_text(",".join(X.columns) + "\n")
    with pytest.raises(EdgeError, match=r"has no rows to predict"):
        predict_file(path, tmp_path / "head.csv", tmp_path / "o.csv")
    with pytest.raises(EdgeError, match=r"--keep column\(s\) \['id'\]"):
        X.head(3).to_csv(tmp_path / "ok.csv", index=False)
        predict_file(path, tmp_path / "ok.csv", tmp_path / "o.csv", keep=["id"])
    assert not (tmp_path / "o.csv").exists()
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith(".")] == []


def test_models_without_loopml_metadata_are_refused(tmp_path: Path) -> None:
    from skl2onnx import to_onnx
    from sklearn.linear_model import LogisticRegression

    plain = to_onnx(LogisticRegression().fit(np.eye(2), [0, 1]), np.eye(2, dtype=np.float32))
    (tmp_path / "plain.onnx").write_bytes(plain.SerializeToString())
    with pytest.raises(EdgeError, match=r"carries no loopml metadata"):
        EdgeModel(tmp_path / "plain.onnx")
    (tmp_path / "junk.onnx").write_bytes(b"not a model")
    with pytest.raises(EdgeError, match=r"onnxruntime cannot load"):
        EdgeModel(tmp_path / "junk.onnx")
    with pytest.raises(EdgeError, match=r"holds no model.onnx"):
        EdgeModel(tmp_path)
    with pytest.raises(EdgeError, match=r"does not exist"):
        EdgeModel(tmp_path / "absent.onnx")


def test_the_edge_module_imports_no_heavy_library() -> None:
    code = (
        "import sys\n"
        "import loopml.serve.edge\n"
        "heavy = [m for m in ('pandas', 'sklearn', 'scipy', 'pyarrow', 'skl2onnx', 'onnx') "
        "if m in sys.modules]\n"
        "print(heavy)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_standalone_main(tmp_path: Path, exported: tuple[Path, object, pd.DataFrame]) -> None:
    from loopml.serve.edge import main

    path, _, X = exported
    X.head(4).to_csv(tmp_path / "in.csv", index=False)
    assert main([str(path), str(tmp_path / "in.csv"), "-o", str(tmp_path / "o.csv")]) == 0
    assert len(pd.read_csv(tmp_path / "o.csv")) == 4
    assert main([str(tmp_path / "nope.onnx"), str(tmp_path / "in.csv")]) == 1
