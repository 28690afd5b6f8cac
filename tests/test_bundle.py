from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.pipeline import Pipeline

from loopml.bundle import BundleIntegrityError, ModelBundle, load_model
from loopml.data.io import load
from loopml.data.schema import infer_schema
from loopml.features.build import build_features
from loopml.learn.supervised import encode_target


def make_bundle(threshold: float | None = None) -> tuple[ModelBundle, pd.DataFrame]:
    df = load("builtin:breast_cancer")
    schema = infer_schema(df, "target")
    y = encode_target(df["target"], schema)
    pipe = Pipeline(
        [
            ("features", build_features(schema, scale=False, dense=True)),
            ("model", HistGradientBoostingClassifier(max_iter=30, random_state=0)),
        ]
    ).fit(df, y)
    info = {"name": "cancer", "task": "binary"}
    if threshold is not None:
        info["threshold"] = threshold
    return ModelBundle(pipe, schema, {"test": {"roc_auc": 0.99}}, info, "# card"), df


def test_save_load_predict_identical_and_checksum_recorded(tmp_path: Path) -> None:
    bundle, df = make_bundle()
    path = bundle.save(tmp_path / "m")
    assert sorted(p.name for p in path.iterdir()) == [
        "bundle.json",
        "card.md",
        "metrics.json",
        "pipeline.skops",
        "schema.json",
    ]
    again = ModelBundle.load(path)
    assert again.sha256 == bundle.sha256
    X = df.drop(columns="target")
    np.testing.assert_array_equal(bundle.predict(X), again.predict(X))
    pd.testing.assert_frame_equal(bundle.predict_proba(X), again.predict_proba(X))
    assert set(again.predict(X)) == {"benign", "malignant"}
    assert list(again.predict_proba(X).columns) == ["benign", "malignant"]
    # column order does not matter
    np.testing.assert_array_equal(again.predict(X), again.predict(X[X.columns[::-1]]))
    assert load_model(path).schema == bundle.schema


def test_tampered_pipeline_is_refused(tmp_path: Path) -> None:
    bundle, _ = make_bundle()
    path = bundle.save(tmp_path / "m")
    with (path / "pipeline.skops").open("ab") as fh:
        fh.write(b"tampered")
    with pytest.raises(BundleIntegrityError, match="the file changed after it was saved"):
        ModelBundle.load(path)


def test_store_checksum_must_match_too(tmp_path: Path) -> None:
    bundle, _ = make_bundle()
    path = bundle.save(tmp_path / "m")
    with pytest.raises(BundleIntegrityError, match="but the store recorded"):
        ModelBundle.load(path, expected_sha256="0" * 64)


def test_never_overwrites_and_leaves_no_partial_directory(tmp_path: Path) -> None:
    bundle, _ = make_bundle()
    bundle.save(tmp_path / "m")
    with pytest.raises(FileExistsError, match="never overwritten"):
        bundle.save(tmp_path / "m")
    assert [p.name for p in tmp_path.iterdir()] == ["m"]


def test_threshold_is_used_by_predict() -> None:
    low, df = make_bundle(threshold=0.0)
    X = df.drop(columns="target")
    assert set(low.predict(X)) == {"malignant"}  # positive class = classes[1]


def test_not_a_bundle(tmp_path: Path) -> None:
    from loopml.exceptions import ModelNotFoundError

    with pytest.raises(ModelNotFoundError, match="is not a loopml model bundle"):
        ModelBundle.load(tmp_path)


def test_ref_names_the_version_when_registered() -> None:
    bundle, _ = make_bundle()
    assert bundle.ref == "cancer"
    bundle.info["version"] = 3
    assert bundle.ref == "cancer@3"
