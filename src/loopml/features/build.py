"""Build the feature pipeline from a :class:`~loopml.data.schema.Schema`.

One scikit-learn ``Pipeline`` takes the raw columns a user has and produces the
numeric matrix a model needs, so a saved model needs nothing else at predict
time. It is always fitted on training rows only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np
from sklearn.compose import ColumnTransformer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.impute import SimpleImputer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import (
    FunctionTransformer,
    OneHotEncoder,
    OrdinalEncoder,
    StandardScaler,
    TargetEncoder,
)

from loopml.data.schema import Role, Schema, Task
from loopml.features.transformers import DateTimeFeatures, SchemaCoercer

if TYPE_CHECKING:
    from sklearn.base import BaseEstimator

__all__ = ["build_features", "feature_columns"]

#: Categorical columns with more distinct values than this are target-encoded.
MAX_ONEHOT = 15


def feature_columns(schema: Schema) -> list[list[str]]:
    """The ``[name, role]`` pairs the model consumes, in schema order."""
    return [[c.name, str(c.role)] for c in schema.features]


def build_features(
    schema: Schema,
    *,
    scale: bool = True,
    dense: bool = False,
    max_onehot: int = MAX_ONEHOT,
    text_max_features: int | None = None,
    select_k: int | None = None,
) -> Pipeline:
    """Return an unfitted pipeline: raw DataFrame → numeric feature matrix.

    Parameters
    ----------
    schema : Schema
        Column roles; only feature roles are used (ids, constants, empty columns are dropped).
    scale : bool, default True
        Standardise numeric features (models based on distances or gradients need it).
    dense : bool, default False
        Produce a dense array (for models that cannot take sparse input).
    max_onehot : int, default 15
        One-hot encode categorical columns with at most this many categories;
        target-encode the others (ordinal-encode them when there is no target).
    text_max_features : int, optional
        Vocabulary size of each text column's TF-IDF (default 2000, or 300 when dense).
    select_k : int, optional
        Keep the *k* features most associated with the target (univariate F-test).

    Examples
    --------
    >>> import pandas as pd
    >>> from loopml.data.schema import infer_schema
    >>> df = pd.DataFrame({"x": [1.0, 2.0, None, 4.0], "c": ["a", "b", "a", None], "y": [0, 1, 0, 1]})
    >>> pipe = build_features(infer_schema(df, "y"))
    >>> pipe.fit_transform(df, df["y"]).shape
    (4, 5)
    """
    by_role: dict[Role, list[str]] = {}
    for col in schema.features:
        by_role.setdefault(col.role, []).append(col.name)
    supervised = schema.task in (Task.BINARY, Task.MULTICLASS, Task.REGRESSION)
    transformers: list[tuple[str, Any, Any]] = []

    numeric = by_role.get(Role.NUMERIC, []) + by_role.get(Role.BOOLEAN, [])
    if numeric:
        transformers.append(("numeric", _numeric(scale), numeric))
    if by_role.get(Role.DATETIME):
        steps: list[tuple[str, Any]] = [
            ("parts", DateTimeFeatures()),
            ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
        ]
        if scale:
            steps.append(("scale", StandardScaler()))
        transformers.append(("datetime", Pipeline(steps), by_role[Role.DATETIME]))

    low: list[str] = []
    high: list[str] = []
    for name in by_role.get(Role.CATEGORICAL, []):
        (low if schema[name].n_unique <= max_onehot else high).append(name)
    if low:
        transformers.append(("onehot", _onehot(dense), low))
    if high:
        transformers.append(("high_card", _high_cardinality(schema, supervised, scale), high))

    vocab = text_max_features or (300 if dense else 2000)
    for name in by_role.get(Role.TEXT, []):
        tfidf = TfidfVectorizer(max_features=vocab, sublinear_tf=True, min_df=2, dtype=np.float32)
        transformers.append((f"text_{name}", tfidf, name))

    if not transformers:
        from loopml.exceptions import DataError

        raise DataError(
            "No usable feature columns: every column is an identifier, a constant, "
            "empty, or the target. Add feature columns or override roles (roles={...})."
        )
    columns = ColumnTransformer(
        transformers,
        sparse_threshold=0.0 if dense else 0.3,
        verbose_feature_names_out=True,
    )
    steps = [("coerce", SchemaCoercer(feature_columns(schema))), ("columns", columns)]
    if select_k is not None and supervised:
        steps.append(("select", _selector(schema, select_k)))
    return Pipeline(steps)


def _numeric(scale: bool) -> Pipeline:
    steps: list[tuple[str, Any]] = [
        ("impute", SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True))
    ]
    if scale:
        steps.append(("scale", StandardScaler()))
    return Pipeline(steps)


def _onehot(dense: bool) -> Pipeline:
    return Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value="__missing__")),
            (
                "encode",
                OneHotEncoder(
                    handle_unknown="infrequent_if_exist",
                    min_frequency=5,
                    sparse_output=not dense,
                    dtype=np.float32,
                ),
            ),
        ]
    )


def _high_cardinality(schema: Schema, supervised: bool, scale: bool) -> Pipeline:
    encoder: BaseEstimator
    if supervised:
        target_type = {"binary": "binary", "multiclass": "multiclass"}.get(
            str(schema.task), "continuous"
        )
        encoder = _target_encoder(target_type)
    else:
        encoder = OrdinalEncoder(
            handle_unknown="use_encoded_value", unknown_value=-1, encoded_missing_value=-1
        )
    steps: list[tuple[str, Any]] = [
        ("impute", SimpleImputer(strategy="constant", fill_value="__missing__")),
        ("encode", encoder),
    ]
    if scale and not supervised:
        steps.append(("scale", StandardScaler()))
    return Pipeline(steps)


def _target_encoder(target_type: str) -> TargetEncoder:
    import inspect

    from sklearn.model_selection import KFold, StratifiedKFold

    # scikit-learn 1.9 moved the shuffling seed into `cv`; older versions take random_state.
    if "cv" in inspect.signature(TargetEncoder).parameters:
        splitter = KFold if target_type == "continuous" else StratifiedKFold
        return TargetEncoder(target_type=target_type, cv=splitter(5, shuffle=True, random_state=0))
    return TargetEncoder(target_type=target_type, random_state=0)


def _selector(schema: Schema, k: int) -> Any:
    from sklearn.feature_selection import SelectKBest, f_classif, f_regression

    score = f_regression if schema.task == Task.REGRESSION else f_classif
    return Pipeline(
        [
            ("finite", FunctionTransformer(_nan_to_num, accept_sparse=True)),
            ("kbest", SelectKBest(score, k=k)),
        ]
    )


def _nan_to_num(X: Any) -> Any:
    import numpy as np
    import scipy.sparse as sp

    if sp.issparse(X):
        return X
    return np.nan_to_num(np.asarray(X, dtype="float64"))
