from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline

from loopml.data.schema import infer_schema
from loopml.exceptions import DataError, SchemaMismatchError
from loopml.features.build import build_features


def _df(n: int = 300) -> pd.DataFrame:
    rng = np.random.default_rng(0)
    x = rng.normal(size=n)
    return pd.DataFrame(
        {
            "x": x,
            "plan": rng.choice(["a", "b", "c"], n),
            "city": [f"city{i % 60}" for i in range(n)],
            "when": pd.date_range("2020-01-01", periods=n, freq="6h").strftime("%Y-%m-%d %H:%M"),
            "note": [f"words about item {i % 90} and thing {i % 7} here" for i in range(n)],
            "flag": rng.choice([True, False], n),
            "y": (x > 0).astype(int),
        }
    )


def test_all_roles_become_finite_numbers() -> None:
    df = _df()
    df.loc[0, "x"] = np.inf
    df.loc[1, "x"] = np.nan
    df.loc[2, "plan"] = None
    schema = infer_schema(df, "y")
    X = build_features(schema, dense=True).fit_transform(df, df["y"])
    assert isinstance(X, np.ndarray)
    assert np.isfinite(X).all()
    names = build_features(schema, dense=True).fit(df, df["y"]).get_feature_names_out()
    assert any(n.startswith("datetime__when_") for n in names)
    assert any(n.startswith("text_note__") for n in names)
    assert "numeric__missingindicator_x" in names


def test_sparse_output_when_allowed() -> None:
    df = _df()
    X = build_features(infer_schema(df, "y"), dense=False).fit_transform(df, df["y"])
    assert sp.issparse(X)


def test_fitted_on_train_only_and_column_order_does_not_matter() -> None:
    df = _df()
    schema = infer_schema(df, "y")
    pipe = Pipeline([("f", build_features(schema)), ("m", LogisticRegression(max_iter=500))])
    pipe.fit(df.iloc[:200], df["y"].iloc[:200])
    shuffled = df.iloc[200:][list(reversed(df.columns))]
    np.testing.assert_array_equal(pipe.predict(df.iloc[200:]), pipe.predict(shuffled))


def test_unseen_categories_and_extra_columns_are_handled() -> None:
    df = _df()
    schema = infer_schema(df, "y")
    pipe = build_features(schema).fit(df, df["y"])
    new = df.head(5).copy()
    new["plan"] = "zzz"
    new["city"] = "nowhere"
    new["extra"] = 1
    assert pipe.transform(new).shape[0] == 5


def test_missing_column_at_transform() -> None:
    df = _df()
    pipe = build_features(infer_schema(df, "y")).fit(df, df["y"])
    with pytest.raises(SchemaMismatchError, match=r"missing 1 column\(s\) the model needs: 'plan'"):
        pipe.transform(df.drop(columns="plan"))


def test_no_usable_features() -> None:
    df = pd.DataFrame({"id": range(30), "c": [1] * 30, "y": [0, 1] * 15})
    with pytest.raises(DataError, match="No usable feature columns"):
        build_features(infer_schema(df, "y"))


def test_feature_selection_keeps_k() -> None:
    df = _df()
    X = build_features(infer_schema(df, "y"), dense=True, select_k=3).fit_transform(df, df["y"])
    assert X.shape[1] == 3
